"""Scoring: an hour keeps its score and aggregates only; days are rescored from hours when due.

At 10,000 devices the scoring job's minute took twice its 5 s budget: every run composed and
wrote each changed hour's full breakdown (which nothing reads: a breakdown is composed from the
aggregates when asked) and read, summed and wrote back each changed day's map of hour
aggregates. Now an hour row keeps its aggregates in a column of their own, a changed day is
marked in ``score_days_stale`` and rescored from its hour rows within a few runs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("score_hours", sa.Column("aggregates", Json, nullable=True))
    hours = sa.table(
        "score_hours",
        sa.column("device_id", sa.Uuid()),
        sa.column("hour", Ts),
        sa.column("document", Json),
        sa.column("aggregates", Json),
    )
    bind = op.get_bind()
    found = bind.execute(sa.select(hours.c.device_id, hours.c.hour, hours.c.document)).all()
    for start in range(0, len(found), 1000):
        bind.execute(
            hours.update()
            .where(hours.c.device_id == sa.bindparam("d"), hours.c.hour == sa.bindparam("h"))
            .values(aggregates=sa.bindparam("a")),
            [{"d": d, "h": h, "a": doc["aggregates"]} for d, h, doc in found[start : start + 1000]],
        )
    with op.batch_alter_table("score_hours") as batch:
        batch.alter_column("aggregates", existing_type=Json, nullable=False)
        batch.drop_column("document")
    with op.batch_alter_table("score_days") as batch:
        batch.drop_column("hours")
    op.create_table(
        "score_days_stale",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("since", Ts, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_score_days_stale_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("device_id", "day", name=op.f("pk_score_days_stale")),
    )


def downgrade() -> None:
    """Back to 0004's columns, with the scores emptied and the job's cursor reset: its next
    runs score every hour again from the stored samples."""
    op.drop_table("score_days_stale")
    op.execute("DELETE FROM score_days")
    op.execute("DELETE FROM score_hours")
    op.execute("DELETE FROM scoring_state")
    with op.batch_alter_table("score_days") as batch:
        batch.add_column(sa.Column("hours", Json, nullable=False, server_default="{}"))
    with op.batch_alter_table("score_hours") as batch:
        batch.add_column(sa.Column("document", Json, nullable=False, server_default="{}"))
        batch.drop_column("aggregates")
