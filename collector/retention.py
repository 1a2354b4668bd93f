"""Keeping samples for the long run: time partitions on PostgreSQL, retention on both backends.

At 100,000 laptops posting a batch of ~30 samples a minute the collector writes 144 M batch
rows and ~4 G sample rows a day: no DELETE keeps up with that. On PostgreSQL (migration 0009)
``samples`` and ``batches`` are therefore partitioned by UTC day (on ``ts`` and
``received_at``) and ``score_hours`` by UTC month (on ``hour``), each with a DEFAULT partition
as a safety net for a row whose day has no partition. This module's job keeps them: it creates
the partitions from the retention horizon up to ``partition_days_ahead`` days ahead, and drops a
partition once every row it can hold is past retention (a DROP is instant whatever the size).
Rows in a DEFAULT partition are moved into their partition when it is created, and deleted in
chunks once past retention. ``score_days`` (one row per device-day: small) and
``score_rollups`` (a few rows per day) are pruned in chunks.

SQLite (small fleets) has no partitions: expired rows are deleted in chunks of :data:`CHUNK`,
each chunk its own short transaction, so ingest never waits long for the write lock.

Retention counts whole UTC days: with ``retention_raw_days`` N, today and the N days before it
are kept, i.e. every sample with ``ts`` from midnight of today - N on. Batches are kept
``batch_grace_days`` longer: a sample may be placed up to ``max_future_s`` after its batch's
arrival, and must never outlive its batch (the detection reader finds arrivals by batch). On
PostgreSQL score hours go by whole months, so up to a month more than ``retention_hourly_days``
stays; SQLite deletes them to the day.

The decisions (which partitions should exist, which are wholly past retention) are pure
functions of today, the policy and the partition names found; the database work is a thin
edge around them. Only names that parse as this module's partitions are ever touched.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Table,
    bindparam,
    delete,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnClause, ColumnElement, TextClause

from .db import UtcDateTime, chunks, claim_slot
from .models import Device, IngestedBatch, SampleRow, ScoreDay, ScoreHour, ScoreRollup
from .settings import CollectorSettings

log = logging.getLogger(__name__)

LOCK_KEY = 0x6465_7872  # "dexr"
CHUNK = 10_000
"""Rows deleted per statement (and per transaction)."""
DDL_LOCK_TIMEOUT_MS = 2_000
"""How long a partition's CREATE/DROP may wait for its locks. Attaching a partition blocks the
DEFAULT partition's readers, dropping one the parent's readers and writers, while it waits:
better to give up and try again next hour (partitions are made days ahead) than to queue
ingest behind a long query."""
STARTUP_BUDGET_S = 15.0
"""The run at startup stops pruning after this long (the app waits for it); the hourly runs
carry on with the rest."""
DEVICE_GROUP = 500
"""Devices per statement when SQLite deletes batches by (device_id, received_at)."""


# -- the pure core -------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionPolicy:
    raw_days: int = 30
    """Samples are kept from midnight (UTC) of today - ``raw_days``."""
    hourly_days: int = 396
    """Score hours and days are kept from midnight of today - ``hourly_days``."""
    days_ahead: int = 7
    """Partitions are made up to today + ``days_ahead``."""
    batch_grace_days: int = 1
    """Batches are kept this many days longer than samples."""

    @classmethod
    def from_settings(cls, settings: CollectorSettings) -> RetentionPolicy:
        return cls(
            raw_days=settings.retention_raw_days,
            hourly_days=settings.retention_hourly_days,
            days_ahead=settings.partition_days_ahead,
            # ingest places a sample at most max_future_s after its batch's arrival
            batch_grace_days=max(1, math.ceil(settings.max_future_s / 86400)),
        )

    def horizon(self, table: str, today: date) -> date:
        """The first UTC day of ``table`` still kept: its rows before that day are expired."""
        days = {
            "samples": self.raw_days,
            "batches": self.raw_days + self.batch_grace_days,
            "score_hours": self.hourly_days,
            "score_days": self.hourly_days,
            "score_rollups": self.hourly_days,
        }
        return today - timedelta(days=days[table])


@dataclass(frozen=True)
class Series:
    """A time-partitioned table: partitioned by range of ``column``, a partition per UTC day
    (``<table>_pYYYYMMDD``) or per UTC month (``<table>_pYYYYMM``), and ``<table>_default``."""

    table: str
    column: str
    monthly: bool = False

    @property
    def default(self) -> str:
        return f"{self.table}_default"


SAMPLES = Series("samples", "ts")
BATCHES = Series("batches", "received_at")
SCORE_HOURS = Series("score_hours", "hour", monthly=True)
PARTITIONED = (SAMPLES, BATCHES, SCORE_HOURS)


@dataclass(frozen=True, order=True)
class Partition:
    start: date
    end: date
    series: Series = field(compare=False)

    @property
    def name(self) -> str:
        stamp = f"{self.start:%Y%m}" if self.series.monthly else f"{self.start:%Y%m%d}"
        return f"{self.series.table}_p{stamp}"

    @property
    def start_at(self) -> datetime:
        return midnight(self.start)

    @property
    def end_at(self) -> datetime:
        return midnight(self.end)


@dataclass(frozen=True)
class PartitionPlan:
    create: tuple[Partition, ...]
    """Missing partitions: today's first, then the days ahead, then the past back to the
    horizon (so a run cut short has made the ones ingest needs most)."""
    drop: tuple[Partition, ...]
    """Existing partitions wholly before the horizon, oldest first."""


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def partition_of(series: Series, day: date) -> Partition:
    """The partition that holds the rows of UTC day ``day``."""
    if not series.monthly:
        return Partition(day, day + timedelta(days=1), series)
    start = day.replace(day=1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return Partition(start, end, series)


def parse_partition(series: Series, name: str) -> Partition | None:
    """The partition ``name`` stands for, or None if it is not one of ``series``'s names."""
    digits = 6 if series.monthly else 8
    found = re.fullmatch(rf"{re.escape(series.table)}_p(\d{{{digits}}})", name)
    if found is None:
        return None
    stamp = found.group(1)
    try:
        day = date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]) if digits == 8 else 1)
    except ValueError:
        return None
    partition = partition_of(series, day)
    return partition if partition.name == name else None


def plan_partitions(
    series: Series, today: date, policy: RetentionPolicy, existing: Iterable[str]
) -> PartitionPlan:
    """Which partitions of ``series`` to create and which to drop, given the names that
    exist (names that do not parse are left alone)."""
    horizon = policy.horizon(series.table, today)
    found = {p.start: p for name in existing if (p := parse_partition(series, name))}
    wanted: list[Partition] = []
    day = horizon
    last = today + timedelta(days=policy.days_ahead)
    while day <= last:
        wanted.append(partition_of(series, day))
        day = wanted[-1].end
    current = partition_of(series, today).start
    create = sorted(
        (p for p in wanted if p.start not in found),
        key=lambda p: (p.start < current, abs((p.start - current).days)),
    )
    drop = sorted(p for p in found.values() if p.end <= horizon)
    return PartitionPlan(tuple(create), tuple(drop))


@dataclass
class RetentionRun:
    """What one run did."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    moved: dict[str, int] = field(default_factory=dict)
    """Partition created -> rows moved into it from its DEFAULT partition."""
    deleted: dict[str, int] = field(default_factory=dict)
    """Table -> expired rows deleted."""
    failed: list[str] = field(default_factory=list)
    """Steps that failed (a lock not granted in time): the next run tries again."""
    finished: bool = True
    """False when the run stopped early (its time budget, or the collector stopping)."""

    @property
    def idle(self) -> bool:
        return not (self.created or self.dropped or self.deleted or self.failed)

    def summary(self) -> str:
        parts = []
        if self.created:
            parts.append(f"created {', '.join(self.created)}")
        if self.moved:
            parts.append("moved from default " + _counts(self.moved))
        if self.dropped:
            parts.append(f"dropped {', '.join(self.dropped)}")
        if self.deleted:
            parts.append("deleted " + _counts(self.deleted))
        if self.failed:
            parts.append(f"failed: {'; '.join(self.failed)}")
        if not self.finished:
            parts.append("unfinished (the next run carries on)")
        return "retention: " + ("; ".join(parts) or "nothing to do")

    def _count(self, table: str, rows: int) -> None:
        if rows:
            self.deleted[table] = self.deleted.get(table, 0) + rows


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items())


# -- the database edge ---------------------------------------------------------------------


class _Stop(Exception):
    """The run's time is up, or the collector is stopping."""


class RetentionJob:
    """The retention and partition upkeep job (see the module's docstring).

    One replica at a time on PostgreSQL: a session-level advisory lock, held on the job's
    connection for the whole run, since the run is many short transactions (each DDL commits at
    once, to hold the parent's locks briefly; each chunk of deletes too) that one transaction's
    lock could not span. On SQLite every chunk is idempotent, so runs need no lock.
    """

    def __init__(
        self,
        engine: Engine,
        policy: RetentionPolicy,
        *,
        chunk: int = CHUNK,
        lock_timeout_ms: int = DDL_LOCK_TIMEOUT_MS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.chunk = chunk
        self.lock_timeout_ms = lock_timeout_ms
        self.monotonic = monotonic
        self.stopping = threading.Event()
        """Set when the collector stops: a run in progress ends after its current step."""

    def run(
        self, now: datetime, budget_s: float | None = None, slot: datetime | None = None
    ) -> RetentionRun | None:
        """One run as of clock ``now``; None when another replica is running it, or has run
        the scheduled ``slot`` already (``db.claim_slot``; claimed in a transaction of its
        own, as the run is many: one that fails leaves the rest to the next slot's). With
        ``budget_s`` the run stops between two steps once that many seconds have passed
        (``finished`` False); partitions come first, today's and the coming days' first."""
        today = now.astimezone(UTC).date()
        deadline = None if budget_s is None else self.monotonic() + budget_s
        result = RetentionRun()

        def check() -> None:
            if self.stopping.is_set() or (deadline is not None and self.monotonic() > deadline):
                raise _Stop

        with self.engine.connect() as conn:
            try:
                if conn.dialect.name == "postgresql":
                    if not self._postgresql(conn, today, result, check, slot):
                        return None
                else:
                    if not _claim(conn, slot):
                        return None
                    self._sqlite(conn, today, result, check)
            except _Stop:
                result.finished = False
        return result

    # -- PostgreSQL ------------------------------------------------------------------------

    def _postgresql(
        self,
        conn: Connection,
        today: date,
        result: RetentionRun,
        check: Callable[[], None],
        slot: datetime | None,
    ) -> bool:
        locked = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        conn.commit()
        if not locked:
            return False
        try:
            if not _claim(conn, slot):
                return False
            plans: dict[Series, tuple[PartitionPlan, bool]] = {}
            for series in PARTITIONED:
                names = _partitions(conn, series.table)
                conn.commit()
                if names is None:
                    log.warning("retention: %s is not partitioned; migrate first", series.table)
                    continue
                plan = plan_partitions(series, today, self.policy, names)
                plans[series] = (plan, series.default in names)
            for series, (plan, has_default) in plans.items():
                self._create(conn, series, plan.create, has_default, result, check)
            for series, (plan, has_default) in plans.items():
                for partition in plan.drop:
                    check()
                    if self._ddl(conn, result, f"drop {partition.name}",
                                 f"DROP TABLE {partition.name}"):  # fmt: skip
                        result.dropped.append(partition.name)
                if has_default:
                    cutoff = midnight(self.policy.horizon(series.table, today))
                    self._delete_default(conn, series, cutoff, result, check)
            self._prune_score_days(conn, today, result, check, ctid=True)
        finally:
            _unlock(conn)
        return True

    def _create(
        self,
        conn: Connection,
        series: Series,
        partitions: Sequence[Partition],
        has_default: bool,
        result: RetentionRun,
        check: Callable[[], None],
    ) -> None:
        """Make each partition as a table of its own, move the DEFAULT partition's rows of its
        range into it, and attach it: one transaction per partition.

        Attaching (rather than CREATE TABLE ... PARTITION OF, which locks the parent against
        everything) takes only a SHARE UPDATE EXCLUSIVE lock on the parent, so ingest into the
        other partitions goes on. The DEFAULT partition is locked, as attaching would lock it
        anyway to prove it holds nothing of the new range: no row can slip into it between
        the move and the attach."""
        if not partitions:
            return
        columns = ", ".join(_columns(conn, series.table))
        conn.commit()
        in_range = f"{series.column} >= :start AND {series.column} < :end"
        remove = _timestamps(f"DELETE FROM {series.default} WHERE {in_range}", "start", "end")
        for partition in partitions:
            check()
            name = partition.name
            params = {"start": partition.start_at, "end": partition.end_at}
            bounds = (
                f"FROM ('{partition.start:%Y-%m-%d} 00:00:00+00') "
                f"TO ('{partition.end:%Y-%m-%d} 00:00:00+00')"
            )
            copy = _timestamps(
                f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {series.default} "
                f"WHERE {in_range}",
                "start", "end",
            )  # fmt: skip
            moved = 0
            try:
                with conn.begin():
                    conn.execute(text(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}"))
                    conn.execute(
                        text(f"CREATE TABLE {name} (LIKE {series.table} INCLUDING DEFAULTS)")
                    )
                    if has_default:
                        conn.execute(text(f"LOCK TABLE {series.default} IN ACCESS EXCLUSIVE MODE"))
                        moved = _rowcount(conn.execute(copy, params))
                        if moved:
                            conn.execute(remove, params)
                    attach = f"ALTER TABLE {series.table} ATTACH PARTITION {name} FOR VALUES"
                    conn.execute(text(f"{attach} {bounds}"))
            except DBAPIError as exc:
                _failed(result, f"create {name}", exc)
                if _busy(exc):
                    return  # its locks are busy: the rest waits for the next run
                continue  # say, a range someone covered by hand: the next ones still matter
            result.created.append(name)
            if moved:
                result.moved[name] = moved

    def _ddl(self, conn: Connection, result: RetentionRun, step: str, statement: str) -> bool:
        try:
            with conn.begin():
                conn.execute(text(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}"))
                conn.execute(text(statement))
        except DBAPIError as exc:
            _failed(result, step, exc)
            return False
        return True

    def _delete_default(
        self,
        conn: Connection,
        series: Series,
        cutoff: datetime,
        result: RetentionRun,
        check: Callable[[], None],
    ) -> None:
        """Expired rows that landed in the DEFAULT partition (older than the horizon when they
        arrived, so no partition was made for them), in chunks by ``ctid``."""
        statement = _timestamps(
            f"DELETE FROM {series.default} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {series.default} WHERE {series.column} < :cutoff LIMIT :n))",
            "cutoff",
        )
        self._chunked(conn, series.table, statement, {"cutoff": cutoff}, result, check)

    # -- SQLite ----------------------------------------------------------------------------

    def _sqlite(
        self, conn: Connection, today: date, result: RetentionRun, check: Callable[[], None]
    ) -> None:
        samples = _table(SampleRow)
        cutoff = midnight(self.policy.horizon("samples", today))
        for kind in _kinds(conn, samples):
            # (kind, ts) is the index samples have on ts: a range per kind, never a table scan
            where = (samples.c.kind == kind) & (samples.c.ts < cutoff)
            self._chunked(conn, "samples", _rowid_delete(samples, where), {}, result, check)
        self._prune_batches(conn, today, result, check)
        hours = _table(ScoreHour)
        cutoff = midnight(self.policy.horizon("score_hours", today))
        statement = _rowid_delete(hours, hours.c.hour < cutoff)
        self._chunked(conn, "score_hours", statement, {}, result, check)
        self._prune_score_days(conn, today, result, check, ctid=False)

    def _prune_batches(
        self, conn: Connection, today: date, result: RetentionRun, check: Callable[[], None]
    ) -> None:
        """Expired batches, a group of devices at a time (``ix_batches_device_received``).

        With foreign keys on, SQLite checks each deleted batch against ``samples.batch_id``,
        which has no index: a scan of every sample per batch (12 s per 1,000 batches against
        240,000 samples). Checks are off on this connection meanwhile; the horizon (a grace
        period after the samples') ensures no sample still refers to a batch deleted here."""
        batches = _table(IngestedBatch)
        cutoff = midnight(self.policy.horizon("batches", today))
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            if conn.exec_driver_sql("PRAGMA foreign_keys").scalar() != 0:
                result.failed.append("batches: foreign key checks could not be turned off")
                return
            devices = conn.execute(select(Device.id).order_by(Device.id)).scalars().all()
            conn.commit()
            for group in chunks(devices, DEVICE_GROUP):
                where = batches.c.device_id.in_(group) & (batches.c.received_at < cutoff)
                self._chunked(conn, "batches", _rowid_delete(batches, where), {}, result, check)
        finally:
            conn.rollback()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()

    # -- both ------------------------------------------------------------------------------

    def _prune_score_days(
        self,
        conn: Connection,
        today: date,
        result: RetentionRun,
        check: Callable[[], None],
        *,
        ctid: bool,
    ) -> None:
        """Expired device-day scores and the per-day rollups summed from them."""
        for model in (ScoreDay, ScoreRollup):
            table = _table(model)
            name = table.name
            horizon = self.policy.horizon(name, today)
            if ctid:
                statement: Any = text(
                    f"DELETE FROM {name} WHERE ctid = ANY(ARRAY("
                    f"SELECT ctid FROM {name} WHERE day < :cutoff LIMIT :n))"
                ).bindparams(bindparam("cutoff", type_=Date()))
                params: dict[str, Any] = {"cutoff": horizon}
            else:
                statement, params = _rowid_delete(table, table.c.day < horizon), {}
            self._chunked(conn, name, statement, params, result, check)

    def _chunked(
        self,
        conn: Connection,
        table: str,
        statement: Any,
        params: dict[str, Any],
        result: RetentionRun,
        check: Callable[[], None],
    ) -> None:
        """Run the chunk ``statement`` (which deletes at most ``:n`` rows) until it deletes
        fewer, one transaction each."""
        while True:
            check()
            with conn.begin():
                deleted = _rowcount(conn.execute(statement, {**params, "n": self.chunk}))
            result._count(table, deleted)
            if deleted < self.chunk:
                return


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _rowid_delete(table: Table, where: ColumnElement[bool]) -> Any:
    rowid: ColumnClause[Any] = literal_column("rowid")
    chosen = select(rowid).select_from(table).where(where).limit(bindparam("n"))
    return delete(table).where(rowid.in_(chosen))


def _kinds(conn: Connection, samples: Table) -> list[str]:
    """The distinct sample kinds stored, one index seek each."""
    kinds: list[str] = []
    while True:
        query = select(samples.c.kind).order_by(samples.c.kind).limit(1)
        if kinds:
            query = query.where(samples.c.kind > kinds[-1])
        kind = conn.execute(query).scalar()
        if kind is None:
            conn.commit()
            return kinds
        kinds.append(kind)


def _timestamps(sql: str, *names: str) -> TextClause:
    """``sql`` with its parameters ``names`` bound as the models' UTC timestamps."""
    return text(sql).bindparams(*(bindparam(name, type_=UtcDateTime()) for name in names))


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _partitions(conn: Connection, table: str) -> set[str] | None:
    """The names of ``table``'s partitions, or None if it is not a partitioned table."""
    partitioned = conn.execute(
        text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)"),
        {"t": table},
    ).first()
    if partitioned is None:
        return None
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    )
    return {name for (name,) in rows}


def _columns(conn: Connection, table: str) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": table},
    )
    quote = conn.dialect.identifier_preparer.quote
    return [quote(name) for (name,) in rows]


def _failed(result: RetentionRun, step: str, exc: DBAPIError) -> None:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    log.warning("retention: could not %s (%s); the next run tries again", step, reason)
    result.failed.append(f"{step}: {reason}")


def _busy(exc: DBAPIError) -> bool:
    """A lock not granted in time (55P03) or a deadlock (40P01)."""
    return getattr(exc.orig, "sqlstate", None) in {"55P03", "40P01"}


def _claim(conn: Connection, slot: datetime | None) -> bool:
    if slot is None:
        return True
    claimed = claim_slot(conn, "retention", slot)
    conn.commit()
    return claimed


def _unlock(conn: Connection) -> None:
    """Give the job lock back; if the connection is broken, close it (the lock goes with it)."""
    try:
        conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
        conn.commit()
    except DBAPIError:
        log.warning("retention: could not release the job lock; closing the connection")
        conn.invalidate()
