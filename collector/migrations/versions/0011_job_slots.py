"""Job slots: which minute (or hour) each scheduled job last ran for, so that of several
collector replicas firing for the same slot exactly one runs it (``db.claim_slot``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_slots",
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("runner", sa.String(200), nullable=False),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_job_slots")),
    )


def downgrade() -> None:
    op.drop_table("job_slots")
