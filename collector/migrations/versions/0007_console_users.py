"""Console users: people who sign in to the IT console, with argon2id password hashes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(500), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("password_changed_at", Ts, nullable=False),
        sa.Column("last_sign_in_at", Ts, nullable=True),
        sa.Column("disabled_at", Ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("name_key", name=op.f("uq_console_users_name_key")),
    )


def downgrade() -> None:
    op.drop_table("console_users")
