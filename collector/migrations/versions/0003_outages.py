"""Outages, their events, the notification outbox and the detection job's state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Ts = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("signal", sa.String(length=32), nullable=False),
        sa.Column("cohort", Json, nullable=False),
        sa.Column("started_at", Ts, nullable=False),
        sa.Column("detected_at", Ts, nullable=False),
        sa.Column("resolved_at", Ts, nullable=True),
        sa.Column("affected_devices", sa.Integer(), nullable=False),
        sa.Column("exposed_devices", sa.Integer(), nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("devices", Json, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
    )
    op.create_index("ix_outages_status_started", "outages", ["status", "started_at"])
    op.create_table(
        "outage_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("outage_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("minute", Ts, nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.Column("outage", Json, nullable=False),
        sa.ForeignKeyConstraint(
            ["outage_id"], ["outages.id"], name=op.f("fk_outage_events_outage_id_outages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_events")),
        sa.UniqueConstraint(
            "outage_id", "event", "minute", name=op.f("uq_outage_events_outage_id")
        ),
    )
    op.create_index(
        op.f("ix_outage_events_outage_id"), "outage_events", ["outage_id"], unique=False
    )
    op.create_table(
        "notifications",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Ts, nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("sent_at", Ts, nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["outage_events.id"], name=op.f("fk_notifications_event_id_outage_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("event_id", "destination", name=op.f("uq_notifications_event_id")),
    )
    op.create_index("ix_notifications_state_due", "notifications", ["state", "next_attempt_at"])
    op.create_table(
        "detection_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("clock", Ts, nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("lease_until", Ts, nullable=True),
        sa.Column("snapshot", sa.LargeBinary(), nullable=True),
        sa.Column("snapshot_version", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_state")),
    )


def downgrade() -> None:
    op.drop_table("detection_state")
    op.drop_index("ix_notifications_state_due", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_outage_events_outage_id"), table_name="outage_events")
    op.drop_table("outage_events")
    op.drop_index("ix_outages_status_started", table_name="outages")
    op.drop_table("outages")
