"""Console: server-side sessions, the sign-in log, outage acknowledgement, score rollups.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("last_seen_at", Ts, nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_users.id"],
            name=op.f("fk_console_sessions_user_id_console_users"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index("ix_console_sessions_user", "console_sessions", ["user_id"])
    op.create_table(
        "console_sign_ins",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sign_ins")),
    )
    op.create_index("ix_console_sign_ins_name_at", "console_sign_ins", ["name_key", "at"])
    op.create_index("ix_console_sign_ins_address_at", "console_sign_ins", ["address", "at"])
    op.create_table(
        "score_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(64), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        sa.Column("at_target", sa.Integer(), nullable=False),
        sa.Column("losses", Json, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("day", "dimension", "value", name=op.f("pk_score_rollups")),
    )
    with op.batch_alter_table("outages") as batch:
        batch.add_column(sa.Column("acknowledged_at", Ts, nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outages") as batch:
        batch.drop_column("closed_by")
        batch.drop_column("acknowledged_by")
        batch.drop_column("acknowledged_at")
    op.drop_table("score_rollups")
    op.drop_index("ix_console_sign_ins_address_at", table_name="console_sign_ins")
    op.drop_index("ix_console_sign_ins_name_at", table_name="console_sign_ins")
    op.drop_table("console_sign_ins")
    op.drop_index("ix_console_sessions_user", table_name="console_sessions")
    op.drop_table("console_sessions")
