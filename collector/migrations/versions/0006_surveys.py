"""Pulse surveys: campaigns, the surveys put to each device, and the answers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Ts = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "survey_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("question", sa.String(500), nullable=False),
        sa.Column("answer", sa.String(16), nullable=False),
        sa.Column("comment", sa.Boolean(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("target", Json, nullable=False),
        sa.Column("sample_rate", sa.Float(), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("trigger_signals", Json, nullable=False),
        sa.Column("starts_at", Ts, nullable=False),
        sa.Column("ends_at", Ts, nullable=True),
        sa.Column("repeat_days", sa.Integer(), nullable=True),
        sa.Column("respond_within_h", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_campaigns")),
    )
    op.create_table(
        "survey_offers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.String(100), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("outage_id", sa.String(64), nullable=True),
        sa.Column("not_before", Ts, nullable=False),
        sa.Column("expires_at", Ts, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["survey_campaigns.id"],
            name=op.f("fk_survey_offers_campaign_id_survey_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_survey_offers_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_offers")),
        sa.UniqueConstraint("device_id", "survey_id", name=op.f("uq_survey_offers_device_id")),
    )
    op.create_index("ix_survey_offers_campaign_status", "survey_offers", ["campaign_id", "status"])
    op.create_table(
        "survey_answers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.String(100), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("answered_on", Ts, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("yes_no", sa.Boolean(), nullable=True),
        sa.Column("comment", sa.String(4096), nullable=True),
        sa.Column("groups", Json, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["survey_campaigns.id"],
            name=op.f("fk_survey_answers_campaign_id_survey_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_survey_answers_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
    )
    op.create_index("ix_survey_answers_campaign", "survey_answers", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_survey_answers_campaign", table_name="survey_answers")
    op.drop_table("survey_answers")
    op.drop_index("ix_survey_offers_campaign_status", table_name="survey_offers")
    op.drop_table("survey_offers")
    op.drop_table("survey_campaigns")
