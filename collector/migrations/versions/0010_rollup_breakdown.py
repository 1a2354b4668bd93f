"""Score rollups carry the whole breakdown: component sums and a histogram of the day scores.

The scores API answers from the rollups (a few rows per day and group) instead of rolling
every device's days up on each request; for that a rollup also keeps, per component, the sum
of the device-days' component scores and how many had it, and how many device-days scored in
each tenth of a point (so the share at or above any target is a sum). Rollups are derived
data: the rows are emptied here and the scoring job rolls the days up again, newest first.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.execute("DELETE FROM score_rollups")
    with op.batch_alter_table("score_rollups") as batch:
        batch.add_column(sa.Column("components", Json, nullable=False))
        batch.add_column(sa.Column("histogram", Json, nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("score_rollups") as batch:
        batch.drop_column("histogram")
        batch.drop_column("components")
