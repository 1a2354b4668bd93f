"""Helpers for the outage job, API and delivery tests: a migrated database, devices and
batches written as ingest writes them, hand-made outages, and a local HTTP receiver whose
answers are scripted per path."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from support import iso, make_batch

from dexpulse.collector import migrations
from dexpulse.collector.db import make_engine, make_sessionmaker
from dexpulse.collector.detection.engine import to_minute
from dexpulse.collector.detection.lifecycle import Outage, Status
from dexpulse.collector.ingest import store_batch
from dexpulse.collector.models import Device
from dexpulse.collector.security import token_hash
from dexpulse.collector.timeline import TimePolicy
from dexpulse.schema import Batch

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@contextmanager
def migrated(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on ``db_url`` with the schema in place; the engine is disposed afterwards."""
    engine = make_engine(db_url)
    try:
        migrations.upgrade(engine)
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def add_device(session: Session, hostname: str, **tags: str) -> uuid.UUID:
    device = uuid.uuid4()
    session.add(
        Device(
            id=device, token_hash=token_hash(f"dxd_test_{uuid.uuid4().hex}"), hostname=hostname,
            os="linux", tags=tags or {"site": "Amsterdam"}, enrolled_at=T0,
        )
    )  # fmt: skip
    session.flush()
    return device


def ingest(session: Session, device: uuid.UUID, at: datetime, samples: int = 1) -> Batch:
    """A batch of ``samples`` Wi-Fi samples from ``device`` arriving at ``at``, stored as the
    ingest endpoint stores it (in the caller's transaction)."""
    wifi = [
        {"kind": "wifi", "ts": iso(at), "ssid": "corp", "rssi_dbm": -60 - i} for i in range(samples)
    ]
    batch = Batch.model_validate(make_batch(device, wifi, sent_at=iso(at)))
    store_batch(session, device, batch, at, TimePolicy())
    return batch


def outage(
    ident: str,
    signal: str,
    cohort: dict[str, str],
    started: datetime,
    detected: datetime,
    *,
    status: Status = "open",
    resolved: datetime | None = None,
    affected: set[str] | None = None,
    exposed: int = 20,
    timeline: dict[datetime, tuple[int, int]] | None = None,
    explanation: dict[str, Any] | None = None,
    suspects: list[dict[str, Any]] | None = None,
) -> Outage:
    """An outage as detection would hand it to :func:`store.record`."""
    return Outage(
        id=ident,
        signal=signal,
        cohort=tuple(cohort.items()),
        started_at=to_minute(started),
        detected_at=to_minute(detected),
        status=status,
        resolved_at=to_minute(resolved) if resolved else None,
        closed_at=to_minute(resolved) if resolved else None,
        affected=set(affected or {str(uuid.uuid4()) for _ in range(3)}),
        exposed=exposed,
        timeline={to_minute(m): v for m, v in (timeline or {}).items()},
        explanation=dict(explanation or {}),
        suspects=list(suspects or []),
        last_alarm=to_minute(detected),
    )


# -- a local HTTP receiver -------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 0.0
    """Wait this long (or until the receiver stops) before answering."""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    at: float
    """``time.monotonic()`` when it arrived."""


class Receiver:
    """Answers each path from its own script (200 once it is used up) and records requests."""

    def __init__(self) -> None:
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *replies: Reply) -> None:
        self.scripts[path].extend(replies)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Whether ``count`` requests have arrived within ``timeout`` seconds."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def _next(self, request: Received) -> Reply:
        with self.arrived:
            self.received.append(request)
            self.arrived.notify_all()
            script = self.scripts[request.path]
            return script.popleft() if script else Reply()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.receiver._next(Received(self.path, headers, body, time.monotonic()))
        if reply.hang_s and self.server.receiver.stopping.wait(reply.hang_s):
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:  # the client gave up waiting
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on what was received."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.receiver = receiver
        receiver.port = self.server_address[1]


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (port 0) in a thread; stopped and closed afterwards."""
    receiver = Receiver()
    server = _Server(receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
