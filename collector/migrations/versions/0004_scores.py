"""Experience scores per device-hour and device-day, and the scoring job's state.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scoring_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("above", Json, nullable=False),
        sa.Column("gap_since", Ts, nullable=True),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_state")),
    )
    op.create_table(
        "score_hours",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("hour", Ts, nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("tally", Json, nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_score_hours_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("device_id", "hour", name=op.f("pk_score_hours")),
    )
    op.create_index("ix_score_hours_hour", "score_hours", ["hour"])
    op.create_table(
        "score_days",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("hours", Json, nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_score_days_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("device_id", "day", name=op.f("pk_score_days")),
    )
    op.create_index("ix_score_days_day", "score_days", ["day"])


def downgrade() -> None:
    op.drop_index("ix_score_days_day", table_name="score_days")
    op.drop_table("score_days")
    op.drop_index("ix_score_hours_hour", table_name="score_hours")
    op.drop_table("score_hours")
    op.drop_table("scoring_state")
