"""The durable spool: samples wait here on disk until the collector has acknowledged them.

SQLite in WAL mode with ``synchronous=FULL``, so a sample is on disk once :meth:`Spool.put`
returns and survives ``kill -9`` or a power cut. Samples are grouped into batches by
:meth:`Spool.form_batches`; a batch's ``batch_id`` and ``seq`` are fixed and stored when it is
formed, so a resend after a crash carries the same id and the collector stores it once. The
uploader then :meth:`lease`\\s a batch, sends it, and :meth:`ack`\\s it (deleted) or
:meth:`release`\\s it for a later attempt.

Bounds: total bytes and age. Past either, the oldest data is dropped and counted; the count is
reported upstream as ``agent_health.spool_dropped_samples``. A spool that SQLite cannot read is
renamed aside (kept for support) and a new one created, never a crash loop.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dexpulse.schema import SampleBase

log = logging.getLogger(__name__)

MiB = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    sample_count INTEGER NOT NULL,
    samples TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    leased_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class SpooledBatch:
    batch_id: str
    seq: int
    samples_json: str
    """The batch's samples as a JSON array, exactly as formed."""
    sample_count: int
    attempts: int


@dataclass(frozen=True)
class SpoolStats:
    pending_samples: int
    batches: int
    bytes: int
    dropped_samples: int
    oldest_age_s: float | None


def _private(path: Path) -> None:
    """The spool holds what users answered in surveys: readable by the agent's account only
    (the state directory stays traversable, so the tray reaches its own files). SQLite gives
    the -wal and -shm files the database's mode. Windows: the directory's ACL decides."""
    if sys.platform == "win32":
        return
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            os.chmod(name, 0o600)
        except FileNotFoundError:
            pass


class Spool:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 50 * MiB,
        max_age_s: float = 7 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.clock = clock
        self._lock = threading.RLock()  # one connection, shared by sampler and uploader threads
        self.recovered_from: Path | None = None
        """Where a corrupt spool was moved when this one was opened, if that happened."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            self.recovered_from = self._set_aside(exc)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        _private(self.path)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA secure_delete=ON")  # sent answers leave no readable trace
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            db.executescript(_SCHEMA)
            db.execute("UPDATE batches SET leased_until = 0")  # leases die with their process
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _set_aside(self, exc: Exception) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self.clock()))
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        log.error("spool %s is unreadable (%s); moved to %s, starting empty", self.path, exc, aside)
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.path) + suffix)
            if part.exists():
                part.replace(Path(str(aside) + suffix))
        return aside

    def close(self) -> None:
        self._db.close()

    # -- writing ---------------------------------------------------------------------------

    def put(self, samples: Sequence[SampleBase]) -> None:
        """Store samples durably (one transaction), then enforce the bounds."""
        now = self.clock()
        rows = []
        for sample in samples:
            body = sample.model_dump_json(exclude_none=True)
            rows.append((now, len(body.encode()), body))
        with self._tx():
            self._db.executemany("INSERT INTO samples (created, size, body) VALUES (?, ?, ?)", rows)
        self.enforce_bounds()

    def form_batches(self, max_bytes: int = MiB) -> int:
        """Group waiting samples, oldest first, into batches of at most ``max_bytes`` of JSON.

        A single sample larger than that becomes a batch of its own. Returns batches formed.
        """
        formed = 0
        with self._tx():
            rows = self._db.execute("SELECT id, size, body FROM samples ORDER BY id").fetchall()
            start = 0
            while start < len(rows):
                end, size = start, 2  # the brackets of the JSON array
                while end < len(rows) and (end == start or size + rows[end][1] + 1 <= max_bytes):
                    size += rows[end][1] + 1
                    end += 1
                chunk = rows[start:end]
                seq = self._next_seq()
                self._db.execute(
                    "INSERT INTO batches (batch_id, seq, created, size, sample_count, samples)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        str(uuid.uuid4()),
                        seq,
                        self.clock(),
                        size,
                        len(chunk),
                        "[" + ",".join(r[2] for r in chunk) + "]",
                    ),
                )
                self._db.execute(
                    "DELETE FROM samples WHERE id BETWEEN ? AND ?", (chunk[0][0], chunk[-1][0])
                )
                formed += 1
                start = end
        return formed

    def _next_seq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        seq = row[0] if row else 1
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('next_seq', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (seq + 1,),
        )
        return int(seq)

    # -- sending ---------------------------------------------------------------------------

    def lease(self, lease_s: float = 120.0) -> SpooledBatch | None:
        """The oldest batch that is due and not leased, leased for ``lease_s`` seconds."""
        now = self.clock()
        with self._tx():
            row = self._db.execute(
                "SELECT id, batch_id, seq, samples, sample_count, attempts FROM batches"
                " WHERE not_before <= ? AND leased_until <= ? ORDER BY id LIMIT 1",
                (now, now),
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE batches SET leased_until = ? WHERE id = ?", (now + lease_s, row[0])
            )
        return SpooledBatch(row[1], row[2], row[3], row[4], row[5])

    def ack(self, batch_id: str) -> None:
        """The collector has the batch: forget it."""
        with self._tx():
            self._db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))

    def release(self, batch_id: str, retry_at: float) -> None:
        """Sending failed: try again no earlier than ``retry_at`` (epoch seconds)."""
        with self._tx():
            self._db.execute(
                "UPDATE batches SET attempts = attempts + 1, not_before = ?, leased_until = 0"
                " WHERE batch_id = ?",
                (retry_at, batch_id),
            )

    def discard(self, batch_id: str, reason: str) -> int:
        """Drop a batch the collector will never accept; counted as dropped. Its sample count."""
        with self._tx():
            row = self._db.execute(
                "SELECT sample_count FROM batches WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                return 0
            self._db.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            self._add_dropped(row[0])
        log.warning("dropped batch %s (%d samples): %s", batch_id, row[0], reason)
        return int(row[0])

    # -- bounds and state ------------------------------------------------------------------

    def enforce_bounds(self) -> int:
        """Drop the oldest data beyond the byte and age bounds; the number of samples dropped."""
        dropped = 0
        cutoff = self.clock() - self.max_age_s
        with self._tx():
            old = self._db.execute(
                "SELECT (SELECT count(*) FROM samples WHERE created < ?)"
                " + (SELECT coalesce(sum(sample_count), 0) FROM batches WHERE created < ?)",
                (cutoff, cutoff),
            ).fetchone()[0]
            if old:
                self._db.execute("DELETE FROM samples WHERE created < ?", (cutoff,))
                self._db.execute("DELETE FROM batches WHERE created < ?", (cutoff,))
                dropped += old
            while self._bytes() > self.max_bytes:
                dropped += self._drop_oldest()
            if dropped:
                self._add_dropped(dropped)
        if dropped:
            log.warning("spool over its bounds: dropped the %d oldest samples", dropped)
        return dropped

    def _drop_oldest(self) -> int:
        batch = self._db.execute(
            "SELECT id, sample_count FROM batches ORDER BY id LIMIT 1"
        ).fetchone()
        if batch is not None:
            self._db.execute("DELETE FROM batches WHERE id = ?", (batch[0],))
            return int(batch[1])
        # No batches: drop the oldest tenth of the waiting samples (at least one).
        count = int(self._db.execute("SELECT count(*) FROM samples").fetchone()[0])
        victims = max(1, count // 10)
        self._db.execute(
            "DELETE FROM samples WHERE id IN (SELECT id FROM samples ORDER BY id LIMIT ?)",
            (victims,),
        )
        return min(victims, count)

    def _bytes(self) -> int:
        return int(
            self._db.execute(
                "SELECT (SELECT coalesce(sum(size), 0) FROM samples)"
                " + (SELECT coalesce(sum(size), 0) FROM batches)"
            ).fetchone()[0]
        )

    def _add_dropped(self, count: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('dropped', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            (count,),
        )

    def stats(self) -> SpoolStats:
        with self._lock:
            return self._stats()

    def _stats(self) -> SpoolStats:
        db = self._db
        pending = db.execute("SELECT count(*) FROM samples").fetchone()[0]
        batches = db.execute("SELECT count(*) FROM batches").fetchone()[0]
        dropped = db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        oldest = db.execute(
            "SELECT min(c) FROM (SELECT min(created) AS c FROM samples"
            " UNION ALL SELECT min(created) FROM batches)"
        ).fetchone()[0]
        return SpoolStats(
            pending_samples=int(pending),
            batches=int(batches),
            bytes=self._bytes(),
            dropped_samples=int(dropped[0]) if dropped else 0,
            oldest_age_s=None if oldest is None else self.clock() - float(oldest),
        )

    def pending_samples(self) -> list[dict[str, object]]:
        """Waiting samples as dicts (for ``agent status`` and tests)."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM samples ORDER BY id").fetchall()
        return [json.loads(r[0]) for r in rows]

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error, under the spool's lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
