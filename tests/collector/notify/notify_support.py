"""Outage events to render, and a real local HTTP receiver that records what it is sent.

The receiver is a ``ThreadingHTTPServer`` on 127.0.0.1, port 0, answering from a script
(status, headers, body; or hang until the test ends, for timeouts) and 200 once the script is
used up. Delivery tests go through real sockets and httpx's real transport this way.
"""

from __future__ import annotations

import copy
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OUTAGE: dict[str, Any] = {
    "id": "wifi-29384000-3",
    "status": "open",
    "signal": "wifi",
    "cohort": {"site": "Amsterdam", "ssid": "corp", "bssid": "64:d1:54:68:93:ae"},
    "started_at": "2026-11-23T09:02:00+00:00",
    "detected_at": "2026-11-23T09:06:00+00:00",
    "resolved_at": None,
    "affected_devices": 14,
    "exposed_devices": 20,
    "explanation": {
        "failing": 14,
        "exposed": 20,
        "rate": 0.7,
        "baseline_rate": 0.1,
        "relative_risk": 7.03,
        "explained_share": 0.85,
        "alternatives": [
            {"cohort": {"site": "Amsterdam"}, "explained_share": 0.9, "relative_risk": 3.2}
        ],
    },
    "suspects": [
        {
            "cohort": {"app_name": "Teams", "app_version": "24.1.0"},
            "first_seen": "2026-11-23T08:00:00+00:00",
        }
    ],
}


def event(kind: str = "opened", event_id: int = 42, **outage: Any) -> dict[str, Any]:
    """An outbox event for a copy of :data:`OUTAGE` with ``outage`` fields replaced."""
    body = copy.deepcopy(OUTAGE)
    body.update(outage)
    if kind == "resolved" and "resolved_at" not in outage:
        body["status"], body["resolved_at"] = "resolved", "2026-11-23T10:07:00+00:00"
    return {"event_id": event_id, "event": kind, "at": "2026-11-23T09:06:00+00:00", "outage": body}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang: bool = False
    """Answer only when the test is over (the client times out first)."""


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes


class Receiver:
    """What the fixture yields: the URL to send to, the script, and what arrived."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[Reply] = deque()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def next_reply(self, request: Received) -> Reply:
        with self.lock:
            self.received.append(request)
            return self.script.popleft() if self.script else Reply()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle and delayed ACKs add
        # 40 ms to every request on keep-alive connections
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.receiver.next_reply(Received(self.command, self.path, headers, body))
        if reply.hang:
            self.server.receiver.release.wait(5)
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up; nothing to tell it
            self.close_connection = True

    do_POST = do_PATCH = do_PUT = do_GET = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on what was received instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.receiver = receiver
        receiver.port = self.server_address[1]


def serve() -> tuple[Receiver, _Server, threading.Thread]:
    receiver = Receiver()
    server = _Server(receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    return receiver, server, thread
