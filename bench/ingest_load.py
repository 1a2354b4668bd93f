"""The load side of ``bench/ingest.py``: cheap gzip bodies, a minimal HTTP/1.1 client, the
simulated agents' processes and the ceiling's writer processes.

Why a hand-made client: on the 2-core development machine the generator shares the CPU with
the collector (and PostgreSQL), so every microsecond it spends per request is taken from what
it measures. Client CPU per sequential POST on loopback, measured against an answer-at-once
server: httpx 580 us, ``http.client`` 200 us, :class:`Connection` 57 us (81 us with four
threads). Against the real collector it costs 150-250 us a request on this VM: what is left
is the wake-up when the answer comes, which a single-threaded ``selectors`` loop over the
same connections saved only a tenth of, so each connection keeps its own thread. Likewise a
body is not gzip'd whole per post (60 us for 7 KB at level 1 or 6): see :class:`BodyTemplate`.

Every process here is started with the ``spawn`` method and gets plain, picklable plans; it
reports back through a pipe and keeps live counters in a shared array (for the progress lines
of a soak). Phases are given as ``time.monotonic()`` instants, which on Linux are one clock
for every process of the machine.
"""

from __future__ import annotations

import json
import random
import socket
import sqlite3
import struct
import threading
import time
import traceback
import uuid
import zlib
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from typing import Any

VARIABLE_KEYS = ("device_id", "batch_id", "seq", "sent_at")
"""The envelope fields that change with every post; they go last in the body."""
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""A gzip member header: deflate, no flags, no mtime, unknown OS (RFC 1952)."""
IDLE_RECONNECT_S = 2.0
"""A connection idle this long is replaced before use: uvicorn closes idle keep-alive
connections after 5 s, and a request racing that close would count as an error."""
COUNTERS = 3
"""Live counters per process in the shared array: batches acknowledged, errors, samples."""
INGEST_PATH = "/api/v1/ingest"


# -- bodies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyTemplate:
    """A batch body with its envelope's per-post fields left out, compressed once.

    The body posted is ``fixed + tail`` where ``fixed`` is the batch's JSON object up to (not
    including) its closing brace without :data:`VARIABLE_KEYS`, and ``tail`` adds those four
    fields and the brace. ``deflated`` is ``fixed`` as raw deflate ending in a sync flush
    (byte-aligned, not final), so a post only appends ``tail`` as a final *stored* deflate
    block and the gzip trailer: the collector inflates and parses exactly the bytes an agent's
    body would give (keys in another order), at a few microseconds per post instead of tens.
    """

    deflated: bytes
    crc: int
    """CRC-32 of ``fixed``; the tail's CRC continues it (so only the tail is hashed)."""
    length: int
    samples: int
    wire_bytes: int
    """Size of a whole body as posted (for the report)."""


def body_template(line: str, level: int = 6) -> BodyTemplate:
    """The template of a batch as the simulator writes it (one JSON object)."""
    batch = json.loads(line)
    for key in VARIABLE_KEYS:
        batch.pop(key, None)
    fixed = json.dumps(batch, separators=(",", ":"))[:-1].encode()
    squeezer = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = squeezer.compress(fixed) + squeezer.flush(zlib.Z_SYNC_FLUSH)
    template = BodyTemplate(deflated, zlib.crc32(fixed), len(fixed), len(batch["samples"]), 0)
    tail = envelope_tail(str(uuid.uuid4()), str(uuid.uuid4()), 1, now_iso())
    return replace(template, wire_bytes=len(gzip_body(template, tail)))


def envelope_tail(device_id: str, batch_id: str, seq: int, sent_at: str) -> bytes:
    """The per-post end of a body: the variable envelope fields and the closing brace."""
    return (
        f',"device_id":"{device_id}","batch_id":"{batch_id}","seq":{seq},"sent_at":"{sent_at}"}}'
    ).encode()


def gzip_body(template: BodyTemplate, tail: bytes) -> bytes:
    """One gzip member holding the template's fixed part then ``tail`` (under 64 KiB)."""
    size = len(tail)
    return b"".join((
        GZIP_HEADER, template.deflated,
        b"\x01", struct.pack("<HH", size, size ^ 0xFFFF), tail,  # final stored block
        struct.pack("<II", zlib.crc32(tail, template.crc), (template.length + size) & 0xFFFFFFFF),
    ))  # fmt: skip


def now_iso() -> str:
    """The real clock as an agent stamps ``sent_at``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- HTTP -----------------------------------------------------------------------------------


class HttpFailure(Exception):
    """No HTTP answer: the connection failed, timed out or spoke something else. ``kind`` is
    what the report counts."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Connection:
    """One keep-alive HTTP/1.1 connection for POSTs answered with a ``Content-Length`` body
    (as uvicorn answers every JSON response). Any failure closes it; the next post opens a
    new one. Not thread-safe: one per thread."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.sock: socket.socket | None = None
        self.last_used = 0.0
        self.opened = 0

    def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        """Send ``head`` (request line and headers, blank line included) and ``body``; the
        status and the response body."""
        if self.sock is None or time.monotonic() - self.last_used > IDLE_RECONNECT_S:
            self.close()
            self._open()
        sock = self.sock
        assert sock is not None
        try:
            sock.sendall(head + body)
            status, payload, keep = self._read(sock)
        except HttpFailure:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise HttpFailure("timeout") from None
        except OSError as exc:
            self.close()
            raise HttpFailure(type(exc).__name__) from None
        self.last_used = time.monotonic()
        if not keep:
            self.close()
        return status, payload

    def _open(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except TimeoutError:
            raise HttpFailure("connect timeout") from None
        except OSError as exc:
            raise HttpFailure(f"connect: {type(exc).__name__}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.opened += 1

    @staticmethod
    def _read(sock: socket.socket) -> tuple[int, bytes, bool]:
        data = b""
        while (end := data.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise HttpFailure("closed by server" if not data else "truncated answer")
            data += chunk
            if len(data) > 65536:
                raise HttpFailure("protocol: headers too long")
        lines = data[:end].split(b"\r\n")
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpFailure("protocol: bad status line") from None
        length: int | None = None
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                if not value.strip().isdigit():
                    raise HttpFailure("protocol: bad Content-Length")
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        if length is None:
            raise HttpFailure("protocol: no Content-Length")
        body = data[end + 4 :]
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise HttpFailure("truncated answer")
            body += chunk
        return status, body[:length], keep

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def request_head(host: str, port: int, token: str) -> bytes:
    """The request's headers up to the ``Content-Length`` value (added per post)."""
    return (
        f"POST {INGEST_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"User-Agent: dexpulse-ingest-bench\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: "
    ).encode()


# -- the processes: common --------------------------------------------------------------------


@dataclass(frozen=True)
class Phases:
    """When to start, when the measurement window opens and closes (``time.monotonic()``)."""

    go: float
    window_start: float
    window_end: float

    def in_window(self, at: float) -> bool:
        return self.window_start <= at < self.window_end


def _serve(
    pipe: Pipe, work: Callable[[Phases, Callable[[int, float], None]], object], slot: Any
) -> None:
    """A child's life: say ready, wait for the phases, work, send the report (or the
    traceback). ``work`` is given a setter for its live counters."""
    try:
        pipe.send("ready")
        phases: Phases = pipe.recv()

        def count(index: int, value: float) -> None:
            slot[index] = value

        pipe.send(work(phases, count))
    except BaseException:
        pipe.send(traceback.format_exc())
    finally:
        pipe.close()


# -- the simulated agents -----------------------------------------------------------------------


@dataclass
class AgentPlan:
    """What one agent process does: post as ``devices`` (id, token) over ``connections``
    connections, each connection taking the devices in turn (device ``i`` on connection
    ``i % connections``), with bodies from ``templates``. ``rate`` (batches/s for the whole
    process) makes it open loop; None posts as fast as answers come (closed loop)."""

    index: int
    host: str
    port: int
    devices: list[tuple[str, str]]
    templates: list[BodyTemplate]
    connections: int
    rate: float | None
    timeout_s: float
    seed: int
    posts_per_connection: int = 0
    """Reconnect after this many posts (0: never)."""


@dataclass
class AgentReport:
    index: int
    window_batches: int = 0
    """Acknowledged (200, not duplicate) batches whose answer came within the window."""
    window_samples: int = 0
    window_errors: int = 0
    window_answers: int = 0
    """Requests finished within the window, whatever their outcome."""
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    """Per acknowledged batch in the window, the POST's wall time."""
    posted: int = 0
    acked: bytearray = field(default_factory=bytearray)
    """Every acknowledged batch_id (16 bytes each), warm-up included: the lost-batch check."""
    accepted: int = 0
    """Samples the collector said it accepted, over every acknowledged batch."""
    duplicates: int = 0
    """Answered as duplicates: wrong, since every post has a fresh batch_id."""
    dropped: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)
    connections_opened: int = 0
    max_lag_s: float = 0.0
    """Open loop: how far the latest post started behind its schedule."""

    def merge(self, other: AgentReport) -> None:
        self.window_batches += other.window_batches
        self.window_samples += other.window_samples
        self.window_errors += other.window_errors
        self.window_answers += other.window_answers
        self.latencies_ms.extend(other.latencies_ms)
        self.posted += other.posted
        self.acked += other.acked
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.dropped.update(other.dropped)
        self.errors.update(other.errors)
        for kind, text in other.error_examples.items():
            self.error_examples.setdefault(kind, text)
        self.connections_opened += other.connections_opened
        self.max_lag_s = max(self.max_lag_s, other.max_lag_s)


class _Lane:
    """One connection of an agent process, posting as its devices in turn."""

    def __init__(self, plan: AgentPlan, lane: int, lanes: int, phases: Phases) -> None:
        self.plan = plan
        self.phases = phases
        self.devices = plan.devices[lane::lanes]
        self.heads = [request_head(plan.host, plan.port, token) for _, token in self.devices]
        self.seqs = [0] * len(self.devices)
        self.conn = Connection(plan.host, plan.port, plan.timeout_s)
        self.report = AgentReport(plan.index)
        rng = random.Random(f"{plan.seed}:{plan.index}:{lane}")
        self.next_template = rng.randrange(len(plan.templates))
        self.interval = None if plan.rate is None else lanes / plan.rate
        self.phase = 0.0 if self.interval is None else rng.uniform(0.0, self.interval)

    def run(self) -> None:
        phases, report, templates = self.phases, self.report, self.plan.templates
        if (wait := phases.go - time.monotonic()) > 0:
            time.sleep(wait)
        due = phases.go + self.phase
        turn = 0
        while True:
            now = time.monotonic()
            if self.interval is not None:
                if due > now:
                    time.sleep(due - now)
                    now = time.monotonic()
                else:
                    report.max_lag_s = max(report.max_lag_s, now - due)
                due += self.interval
            if now >= phases.window_end:
                break
            device = turn % len(self.devices)
            turn += 1
            self.seqs[device] += 1
            template = templates[self.next_template]
            self.next_template = (self.next_template + 1) % len(templates)
            batch_id = uuid.uuid4()
            tail = envelope_tail(
                self.devices[device][0], str(batch_id), self.seqs[device], now_iso()
            )
            body = gzip_body(template, tail)
            head = self.heads[device] + b"%d\r\n\r\n" % len(body)
            report.posted += 1
            started = time.perf_counter()
            try:
                status, answer = self.conn.post(head, body)
            except HttpFailure as exc:
                self._error(exc.kind, "")
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            if self.plan.posts_per_connection and turn % self.plan.posts_per_connection == 0:
                self.conn.close()  # the next post connects anew, maybe to another worker
            if status != 200:
                self._error(f"HTTP {status}", answer[:300].decode(errors="replace"))
                continue
            self._acknowledged(batch_id, answer, elapsed_ms)
        self.report.connections_opened = self.conn.opened
        self.conn.close()

    def _acknowledged(self, batch_id: uuid.UUID, answer: bytes, elapsed_ms: float) -> None:
        report = self.report
        try:
            result = json.loads(answer)
        except ValueError:
            self._error("unreadable 200 answer", answer[:300].decode(errors="replace"))
            return
        in_window = self.phases.in_window(time.monotonic())
        report.window_answers += in_window
        if result.get("duplicate"):
            report.duplicates += 1
            return
        accepted = int(result.get("accepted", 0))
        report.acked += batch_id.bytes
        report.accepted += accepted
        for reason, n in (result.get("dropped") or {}).items():
            report.dropped[reason] += int(n)
        if in_window:
            report.window_batches += 1
            report.window_samples += accepted
            report.latencies_ms.append(elapsed_ms)

    def _error(self, kind: str, detail: str) -> None:
        self.report.errors[kind] += 1
        self.report.error_examples.setdefault(kind, detail)
        if self.phases.in_window(time.monotonic()):
            self.report.window_errors += 1
            self.report.window_answers += 1


def _agent_work(plan: AgentPlan, phases: Phases, count: Callable[[int, float], None]) -> object:
    count_lanes = min(plan.connections, len(plan.devices))
    lanes = [_Lane(plan, i, count_lanes, phases) for i in range(count_lanes)]
    threads = [threading.Thread(target=lane.run, daemon=True) for lane in lanes]
    for thread in threads:
        thread.start()
    while alive := [t for t in threads if t.is_alive()]:
        alive[0].join(0.5)
        count(0, sum(len(lane.report.acked) // 16 for lane in lanes))
        count(1, sum(lane.report.errors.total() for lane in lanes))
        count(2, sum(lane.report.accepted for lane in lanes))
    report = AgentReport(plan.index)
    for lane in lanes:
        report.merge(lane.report)
    return report


def agent_process(plan: AgentPlan, pipe: Pipe, counters: Any) -> None:
    """Entry point of an agent process (``multiprocessing``, spawn)."""
    slot = _Slot(counters, plan.index)
    _serve(pipe, lambda phases, count: _agent_work(plan, phases, count), slot)


class _Slot:
    """This process's part of the shared counters array."""

    def __init__(self, counters: Any, index: int) -> None:
        self.counters = counters
        self.base = index * COUNTERS

    def __setitem__(self, index: int, value: float) -> None:
        self.counters[self.base + index] = value


# -- the ceiling's writers ----------------------------------------------------------------------


@dataclass(frozen=True)
class RowsTemplate:
    """A batch as the collector stores it, for the ceiling: its samples as ``(kind, ts, data
    JSON)`` with ``ts`` in UTC, and the device facts its envelope carries."""

    samples: list[tuple[str, datetime, str]]
    agent_version: str
    tags: str | None
    """The envelope's tags as JSON, or None when the batch has none."""
    facts: tuple[str | None, str | None, str | None, str | None, str | None]
    """os_version, os_build, model, manufacturer, hostname (None: not in the batch)."""


@dataclass
class WriterPlan:
    """One ceiling writer process: ``connections`` threads, each with its own database
    connection, writing ``per_transaction`` batches a transaction, each batch as the next of
    its devices (device ``i`` on thread ``i % connections``). ``target`` is the SQLite file or
    a libpq URL."""

    index: int
    backend: str
    target: str
    devices: list[str]
    templates: list[RowsTemplate]
    per_transaction: int
    connections: int
    seed: int


@dataclass
class WriterReport:
    index: int
    window_batches: int = 0
    window_samples: int = 0
    batches: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, str] = field(default_factory=dict)

    def merge(self, other: WriterReport) -> None:
        self.window_batches += other.window_batches
        self.window_samples += other.window_samples
        self.batches += other.batches
        self.errors.update(other.errors)
        for kind, text in other.error_examples.items():
            self.error_examples.setdefault(kind, text)


_FACTS = ("os_version", "os_build", "model", "manufacturer", "hostname")
BATCH_COLUMNS = (
    "batch_id, device_id, seq, schema_version, sent_at, received_at, clock_offset_s, "
    "sample_count, dropped_count"
)
SAMPLE_COLUMNS = "device_id, batch_id, kind, ts, data"


def _marks(mark: str, count: int) -> str:
    return ", ".join([mark] * count)


class _Writer:
    """Rows straight into the database, as ``collector.ingest.store_batch`` writes them (the
    batch row, its samples, the device's last-seen UPDATE), in the cheapest plain way."""

    def __init__(self, plan: WriterPlan, lane: int) -> None:
        self.plan = plan
        self.devices = plan.devices[lane :: plan.connections]
        rng = random.Random(f"{plan.seed}:writer:{plan.index}:{lane}")
        self.next_template = rng.randrange(len(plan.templates))
        self.next_device = 0
        self.seqs = [0] * len(self.devices)
        self.report = WriterReport(plan.index)

    def run(self, phases: Phases) -> None:
        """Transactions until the window closes, each counted when committed in it; a failed
        one is counted by its exception's type (as the collector's 500s are) and rolled back."""
        report = self.report
        try:
            while (now := time.monotonic()) < phases.window_end:
                if now < phases.go:
                    time.sleep(phases.go - now)
                try:
                    samples = self.write()
                except Exception as exc:
                    kind = type(exc).__name__
                    report.errors[kind] += 1
                    report.error_examples.setdefault(kind, str(exc)[:300])
                    continue
                report.batches += self.plan.per_transaction
                if phases.in_window(time.monotonic()):
                    report.window_batches += self.plan.per_transaction
                    report.window_samples += samples
        finally:
            self.close()

    def batches(self) -> list[tuple[int, int, int]]:
        """The next transaction's batches: (device index, its seq, template index)."""
        out = []
        for _ in range(self.plan.per_transaction):
            device = self.next_device
            self.next_device = (device + 1) % len(self.devices)
            self.seqs[device] += 1
            out.append((device, self.seqs[device], self.next_template))
            self.next_template = (self.next_template + 1) % len(self.plan.templates)
        return out

    def write(self) -> int:
        """One transaction; the samples written."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _device_update(placeholder: str, cast: str) -> str:
    """The collector's last-seen UPDATE (``ingest._update_device``): facts the batch does not
    carry (None) keep their stored value."""
    facts = ", ".join(f"{name} = coalesce({placeholder}, {name})" for name in _FACTS)
    p = placeholder
    return (
        f"UPDATE devices SET last_seen_at = {p}, last_seq = CASE WHEN last_seq IS NULL OR "
        f"last_seq < {p} THEN {p} ELSE last_seq END, agent_version = {p}, "
        f"tags = coalesce({p}{cast}, tags), {facts} WHERE id = {p}"
    )


class _SqliteWriter(_Writer):
    """``sqlite3`` with the collector's pragmas; ``executemany`` for the samples. Values as
    SQLAlchemy stores them on SQLite: UUIDs as 32 hex digits, times as naive UTC text."""

    def __init__(self, plan: WriterPlan, lane: int) -> None:
        super().__init__(plan, lane)
        self.con = sqlite3.connect(
            plan.target, isolation_level=None, timeout=10.0, check_same_thread=False
        )  # used by one thread, not the one that made it
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.con.execute(f"PRAGMA {pragma}")
        self.ids = [uuid.UUID(d).hex for d in self.devices]
        self.rows = [
            [(kind, _sqlite_time(ts), data) for kind, ts, data in t.samples] for t in plan.templates
        ]
        self.insert_batch = f"INSERT INTO batches ({BATCH_COLUMNS}) VALUES ({_marks('?', 9)})"
        self.insert_samples = f"INSERT INTO samples ({SAMPLE_COLUMNS}) VALUES ({_marks('?', 5)})"
        self.update = _device_update("?", "")

    def write(self) -> int:
        now = _sqlite_time(datetime.now(UTC))
        batch_rows: list[tuple[object, ...]] = []
        sample_rows: list[tuple[str, str, str, str, str]] = []
        updates: list[tuple[object, ...]] = []
        for device, seq, index in self.batches():
            device_id, batch_id = self.ids[device], uuid.uuid4().hex
            t, samples = self.plan.templates[index], self.rows[index]
            batch_rows.append((batch_id, device_id, seq, 1, now, now, 0.0, len(samples), 0))
            sample_rows.extend((device_id, batch_id, k, ts, data) for k, ts, data in samples)
            updates.append((now, seq, seq, t.agent_version, t.tags, *t.facts, device_id))
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany(self.insert_batch, batch_rows)
            con.executemany(self.insert_samples, sample_rows)
            con.executemany(self.update, updates)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return len(sample_rows)

    def close(self) -> None:
        self.con.close()


def _sqlite_time(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class _PostgresWriter(_Writer):
    """Raw psycopg: the samples by ``COPY ... FROM STDIN`` (text format, lines made ahead but
    for the two ids), the batch row and the device UPDATE as (auto-)prepared statements; in
    bulk the batch rows by COPY too and the UPDATEs pipelined (``executemany``)."""

    def __init__(self, plan: WriterPlan, lane: int) -> None:
        super().__init__(plan, lane)
        import psycopg  # only the writers of a PostgreSQL run need it

        self.conn = psycopg.connect(plan.target)
        self.lines = [
            [
                f"\t{kind}\t{ts.isoformat()}\t{_copy_text(data)}\n".encode()
                for kind, ts, data in t.samples
            ]
            for t in plan.templates
        ]
        self.insert_batch = f"INSERT INTO batches ({BATCH_COLUMNS}) VALUES ({_marks('%s', 9)})"
        self.update = _device_update("%s", "::jsonb")

    def write(self) -> int:
        now = datetime.now(UTC)
        batch_rows: list[tuple[object, ...]] = []
        sample_blobs: list[bytes] = []
        updates: list[tuple[object, ...]] = []
        samples = 0
        for device, seq, index in self.batches():
            device_id, batch_id = self.devices[device], str(uuid.uuid4())
            t, lines = self.plan.templates[index], self.lines[index]
            samples += len(lines)
            batch_rows.append((batch_id, device_id, seq, 1, now, now, 0.0, len(lines), 0))
            sample_blobs.append(f"{device_id}\t{batch_id}".encode().join([b"", *lines]))
            updates.append((now, seq, seq, t.agent_version, t.tags, *t.facts, device_id))
        with self.conn.transaction(), self.conn.cursor() as cur:
            if len(batch_rows) == 1:
                cur.execute(self.insert_batch, batch_rows[0])
            else:
                with cur.copy(f"COPY batches ({BATCH_COLUMNS}) FROM STDIN") as copy:
                    for row in batch_rows:
                        copy.write_row(row)
            with cur.copy(f"COPY samples ({SAMPLE_COLUMNS}) FROM STDIN") as copy:
                copy.write(b"".join(sample_blobs))
            if len(updates) == 1:
                cur.execute(self.update, updates[0])
            else:
                cur.executemany(self.update, updates)
        return samples

    def close(self) -> None:
        self.conn.close()


def _copy_text(value: str) -> str:
    """A value in COPY's text format (JSON text has no raw tabs or newlines, but may hold
    backslashes)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _writer_work(plan: WriterPlan, phases: Phases, count: Callable[[int, float], None]) -> object:
    kind = _SqliteWriter if plan.backend == "sqlite" else _PostgresWriter
    writers: list[_Writer] = [
        kind(plan, lane) for lane in range(min(plan.connections, len(plan.devices)))
    ]
    threads = [threading.Thread(target=w.run, args=(phases,), daemon=True) for w in writers]
    for thread in threads:
        thread.start()
    while alive := [t for t in threads if t.is_alive()]:
        alive[0].join(0.5)
        count(0, sum(w.report.batches for w in writers))
        count(1, sum(w.report.errors.total() for w in writers))
    report = WriterReport(plan.index)
    for writer in writers:
        report.merge(writer.report)
    return report


def writer_process(plan: WriterPlan, pipe: Pipe, counters: Any) -> None:
    """Entry point of a ceiling writer process (``multiprocessing``, spawn)."""
    slot = _Slot(counters, plan.index)
    _serve(pipe, lambda phases, count: _writer_work(plan, phases, count), slot)
