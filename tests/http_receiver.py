"""A real local HTTP receiver for delivery tests: it records what it is sent and answers from
a script, so notifications go through real sockets and httpx's real transport.

``receiving()`` runs a ``ThreadingHTTPServer`` on 127.0.0.1, port 0, in a thread. Each reply
comes from the script of the request's path if one was given (``answer(..., path=...)``),
else from the shared script, else it is a 200. A reply may hang (answer late, or only when the
receiver stops), which is how timeouts are tested.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang_s: float = 0.0
    """Wait this long (or until the receiver stops) before answering; stopping first drops
    the connection unanswered."""


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    at: float
    """``time.monotonic()`` when it arrived."""


class Receiver:
    """What :func:`receiving` yields: where to send, the scripts, and what arrived."""

    def __init__(self) -> None:
        self.shared: deque[Reply] = deque()
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        self.stopping = threading.Event()
        self.port = 0

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *replies: Reply, path: str | None = None) -> None:
        """Queue ``replies`` for requests to ``path``, or to any path without a script."""
        (self.shared if path is None else self.scripts[path]).extend(replies)

    def on(self, path: str) -> list[Received]:
        with self.arrived:
            return [r for r in self.received if r.path == path]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Whether ``count`` requests have arrived within ``timeout`` seconds."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def _next(self, request: Received) -> Reply:
        with self.arrived:
            self.received.append(request)
            self.arrived.notify_all()
            for script in (self.scripts.get(request.path), self.shared):
                if script:
                    return script.popleft()
            return Reply()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle and delayed ACKs add
        # 40 ms to every request on keep-alive connections
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        receiver = self.server.receiver
        reply = receiver._next(Received(self.command, self.path, headers, body, time.monotonic()))
        if reply.hang_s and receiver.stopping.wait(reply.hang_s):
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up waiting; nothing to tell it
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
