"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL in production.

Only this module knows which backend is in use; everything else speaks SQLAlchemy 2.0.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, DateTime, Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no timezone type, so values are stored as
    naive UTC (which sorts correctly as text) and given back their UTC zone on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson (several times faster than ``json``, which the
    scoring job's minute at 10,000 devices needs); what orjson refuses (an integer beyond
    64 bits, say) is written by ``json`` as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    """JSON columns are read with orjson; text it refuses but ``json`` reads (a NaN written
    by an older release) is read by ``json``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    codec: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": json_loads}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **codec)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **codec)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits as one transaction, or rolls back whole on any error."""
    with factory() as session, session.begin():
        yield session


def try_job_lock(session: Session, key: int) -> bool:
    """Whether this transaction may run the job ``key``: on PostgreSQL, a transaction-level
    advisory lock (another replica holding it: False); elsewhere always True (SQLite
    serialises writers, so a job's first statement being a write is its lock)."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return True
    locked = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
    return bool(locked.scalar())


def claim_slot(db: Session | Connection, job: str, slot: datetime) -> bool:
    """Whether this transaction is the first to run ``job`` for ``slot`` (the minute or hour
    its schedule fired for): it records the slot, this process as its runner and one more
    run, unless the recorded slot is this one or a later one. Taken after the job's lock, so
    a replica whose scheduler fires just after another's run committed skips the slot rather
    than running it twice. Commits with the job's work: a run that fails leaves the slot to
    the next replica that fires for it."""
    from .models import JobSlot  # the models import this module

    bind = db.get_bind() if isinstance(db, Session) else db
    insert = postgresql_insert if bind.dialect.name == "postgresql" else sqlite_insert
    runner = f"{socket.gethostname()}:{os.getpid()}"[:200]
    stmt = insert(JobSlot).values(job=job, slot=slot, runner=runner, runs=1)
    claim = stmt.on_conflict_do_update(
        index_elements=["job"],
        set_={"slot": stmt.excluded.slot, "runner": stmt.excluded.runner,
              "runs": JobSlot.runs + 1},
        where=JobSlot.slot < stmt.excluded.slot,
    ).returning(JobSlot.job)  # fmt: skip
    return db.execute(claim).first() is not None


def upsert(
    session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (column -> value) into the table of ``model`` in one executemany; a row
    whose ``keys`` exist already updates the columns ``update`` (none: the stored row is
    kept). PostgreSQL and SQLite; Core, not the unit of work, so nothing is loaded back."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(model)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    session.connection().execute(stmt, list(rows))


_T = TypeVar("_T")


def chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """``items`` in lists of ``size`` (the last one shorter): for IN clauses of bounded size."""
    chunk: list[_T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
