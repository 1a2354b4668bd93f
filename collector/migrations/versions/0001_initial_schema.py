"""Initial schema: credentials, devices, batches and samples.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Ts = sa.DateTime(timezone=True)  # timestamptz on PostgreSQL; naive UTC text on SQLite


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("last_used_at", Ts, nullable=True),
        sa.Column("revoked_at", Ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "enrollment_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("expires_at", Ts, nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("revoked_at", Ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_secrets")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_enrollment_secrets_secret_hash")),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=256), nullable=False),
        sa.Column("os", sa.String(length=16), nullable=False),
        sa.Column("os_version", sa.String(length=256), nullable=True),
        sa.Column("os_build", sa.String(length=256), nullable=True),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("manufacturer", sa.String(length=256), nullable=True),
        sa.Column("agent_version", sa.String(length=256), nullable=True),
        sa.Column("tags", Json, nullable=False),
        sa.Column("enrolled_at", Ts, nullable=False),
        sa.Column("enrollment_secret_id", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", Ts, nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", Ts, nullable=True),
        sa.ForeignKeyConstraint(
            ["enrollment_secret_id"],
            ["enrollment_secrets.id"],
            name=op.f("fk_devices_enrollment_secret_id_enrollment_secrets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_devices_token_hash")),
    )
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("sent_at", Ts, nullable=False),
        sa.Column("received_at", Ts, nullable=False),
        sa.Column("clock_offset_s", sa.Double(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("dropped_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_batches_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_batches")),
    )
    op.create_index("ix_batches_device_received", "batches", ["device_id", "received_at"])
    op.create_table(
        "samples",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ts", Ts, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.batch_id"], name=op.f("fk_samples_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_samples_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
    )
    op.create_index("ix_samples_device_kind_ts", "samples", ["device_id", "kind", "ts"])
    op.create_index("ix_samples_kind_ts", "samples", ["kind", "ts"])


def downgrade() -> None:
    op.drop_index("ix_samples_kind_ts", table_name="samples")
    op.drop_index("ix_samples_device_kind_ts", table_name="samples")
    op.drop_table("samples")
    op.drop_index("ix_batches_device_received", table_name="batches")
    op.drop_table("batches")
    op.drop_table("devices")
    op.drop_table("enrollment_secrets")
    op.drop_table("api_keys")
