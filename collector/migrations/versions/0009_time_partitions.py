"""PostgreSQL: samples and batches partitioned by UTC day, score hours by UTC month.

At 100,000 laptops the collector writes ~4 G sample rows and 144 M batch rows a day; no DELETE
keeps up with that, so retention drops whole partitions (``collector/retention.py`` keeps
them: it makes the coming days' and drops the expired ones). Here the three tables become
``PARTITION BY RANGE`` tables with their rows kept:

* ``samples`` by ``ts``, a partition ``samples_pYYYYMMDD`` per day; the primary key becomes
  (id, ts) (PostgreSQL wants the partition key in it) and ids keep coming from the same
  sequence, so they keep increasing (the jobs read new rows by id); the foreign key to
  ``batches`` goes (it would need batch_id unique on its own).
* ``batches`` by ``received_at``, ``batches_pYYYYMMDD``; primary key (batch_id, received_at),
  whose leading column serves the lookups by batch_id.
* ``score_hours`` by ``hour``, ``score_hours_pYYYYMM``; its key (device_id, hour) already
  holds the partition key, so ON CONFLICT (device_id, hour) works as before.

Each gets a DEFAULT partition, so a row whose day has no partition (yet) is never refused.
Partitions are made for every day (month) from the oldest row to the newest, and from today to
a week ahead. The copy is one INSERT ... SELECT per table, in the migration's transaction: on a
large database this takes as long as reading and writing the tables once.

The ORM models are unchanged (they also describe SQLite, where nothing changes here).
The downgrade makes them plain tables again with their rows (a batch id stored twice, which
the old primary key forbids, keeps its first arrival; samples whose batch is gone keep the
foreign key NOT VALID rather than being deleted).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DAYS_AHEAD = 7  # the retention job's default (partition_days_ahead); it makes the rest

# table: (partition column, monthly, primary key, indexes, foreign keys (name, column, target))
TABLES: dict[str, tuple[str, bool, list[str], dict[str, list[str]], list[tuple[str, str, str]]]] = {
    "batches": (
        "received_at",
        False,
        ["batch_id", "received_at"],
        {"ix_batches_device_received": ["device_id", "received_at"]},
        [("fk_batches_device_id_devices", "device_id", "devices(id)")],
    ),
    "samples": (
        "ts",
        False,
        ["id", "ts"],
        {
            "ix_samples_device_kind_ts": ["device_id", "kind", "ts"],
            "ix_samples_kind_ts": ["kind", "ts"],
        },
        [("fk_samples_device_id_devices", "device_id", "devices(id)")],
    ),
    "score_hours": (
        "hour",
        True,
        ["device_id", "hour"],
        {"ix_score_hours_hour": ["hour"]},
        [("fk_score_hours_device_id_devices", "device_id", "devices(id)")],
    ),
}
PLAIN_KEYS = {"batches": ["batch_id"], "samples": ["id"], "score_hours": ["device_id", "hour"]}
SAMPLES_BATCH_FK = "fk_samples_batch_id_batches"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE samples DROP CONSTRAINT {SAMPLES_BATCH_FK}")
    for table in ("batches", "samples", "score_hours"):
        _rebuild(table, partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("batches", "samples", "score_hours"):
        _rebuild(table, partitioned=False)
    orphans = op.get_bind().execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM samples s WHERE NOT EXISTS "
            "(SELECT 1 FROM batches b WHERE b.batch_id = s.batch_id))"
        )
    )
    valid = "" if not orphans.scalar() else " NOT VALID"
    op.execute(
        f"ALTER TABLE samples ADD CONSTRAINT {SAMPLES_BATCH_FK} FOREIGN KEY (batch_id) "
        f"REFERENCES batches(batch_id){valid}"
    )


def _rebuild(table: str, *, partitioned: bool) -> None:
    """Replace ``table`` by a partitioned (or plain) table of the same columns and rows."""
    column, monthly, key, indexes, foreign_keys = TABLES[table]
    old = f"{table}_old"
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    # free the names of its constraints and indexes (the old table goes at the end)
    for name, _, _ in foreign_keys:
        op.execute(f"ALTER TABLE {old} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE {old} DROP CONSTRAINT pk_{table}")
    for name in indexes:
        op.execute(f"DROP INDEX {name}")
    by = f" PARTITION BY RANGE ({column})" if partitioned else ""
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS){by}")
    if partitioned:
        for name, start, end in _partitions(table, old, column, monthly):
            op.execute(
                f"CREATE TABLE {name} PARTITION OF {table} "
                f"FOR VALUES FROM ('{start} 00:00:00+00') TO ('{end} 00:00:00+00')"
            )
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    columns = ", ".join(
        f'"{name}"'
        for (name,) in op.get_bind().execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"t": old},
        )
    )
    if table == "batches" and not partitioned:  # (batch_id) alone must be unique again
        op.execute(
            f"INSERT INTO {table} ({columns}) SELECT DISTINCT ON (batch_id) {columns} "
            f"FROM {old} ORDER BY batch_id, received_at"
        )
    else:
        op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {old}")
    primary_key = key if partitioned else PLAIN_KEYS[table]
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(primary_key)})"
    )
    for name, indexed in indexes.items():
        op.execute(f"CREATE INDEX {name} ON {table} ({', '.join(indexed)})")
    for name, constrained, target in foreign_keys:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({constrained}) "
            f"REFERENCES {target}"
        )
    if table == "samples":  # the id sequence goes to the new table, before the old is dropped
        serial = text("SELECT pg_get_serial_sequence(:t, 'id')")
        sequence = op.get_bind().execute(serial, {"t": old}).scalar()
        if sequence is not None:
            op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
    op.execute(f"DROP TABLE {old}")


def _partitions(table: str, old: str, column: str, monthly: bool) -> list[tuple[str, str, str]]:
    """(name, first day, day after) of each partition: every day (month) from the oldest row
    of ``old`` to its newest, and from today to ``DAYS_AHEAD`` days ahead."""
    today = datetime.now(UTC).date()
    first, last = today, today + timedelta(days=DAYS_AHEAD)
    utc_day = f"({column} AT TIME ZONE 'UTC')::date"
    span = op.get_bind().execute(text(f"SELECT min({utc_day}), max({utc_day}) FROM {old}"))
    oldest, newest = span.one()
    if oldest is not None:
        first, last = min(first, oldest), max(last, newest)
    found: list[tuple[str, str, str]] = []
    day = first.replace(day=1) if monthly else first
    while day <= last:
        if monthly:
            end = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            name = f"{table}_p{day:%Y%m}"
        else:
            end = day + timedelta(days=1)
            name = f"{table}_p{day:%Y%m%d}"
        found.append((name, day.isoformat(), end.isoformat()))
        day = end
    return found
