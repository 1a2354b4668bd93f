"""Just enough HTTP/1.1 for the agent's loopback API, on :mod:`socketserver`, in little memory.

Not :mod:`http.server`: it imports ``html`` (whose entity table is 0.5 MiB of resident memory)
only to escape its error pages, and ``mimetypes``, and the agent lives in a 40 MiB budget.
What is used here is already loaded by the uploader's ``urllib.request``: ``http.client``
(whose :func:`~http.client.parse_headers` reads the headers), ``http.HTTPStatus`` and
``email``. The server side of :mod:`dexpulse.agent.localapi` is all this has to carry:

* :class:`LoopbackServer` binds IPv4 loopback only (:func:`require_loopback`, checked in bind),
  never shares its port (no address reuse; exclusive on Windows), serves each connection in a
  daemon thread, and stops at once when woken, with no idle polling;
* :class:`JsonHandler` reads one request head per connection: the request line (a token
  method, an origin-form target, HTTP/1.0 or 1.1: else 400 or 505), at most
  :data:`MAX_HEADERS` header lines of at most :data:`MAX_LINE` bytes (else 414 or 431), no
  line without a colon and no folded lines (400); then calls :meth:`JsonHandler.respond`, and
  every answer is JSON with ``Connection: close``. One request per connection is enough for
  a tray that asks once a minute, and spares keep-alive's bookkeeping;
* a client that stalls for :attr:`JsonHandler.timeout` seconds loses its connection.
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import logging
import re
import selectors
import socket
import socketserver
import sys
from http import HTTPStatus
from io import BufferedIOBase
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "MAX_HEADERS",
    "MAX_LINE",
    "JsonHandler",
    "LoopbackServer",
    "Refused",
    "require_loopback",
]

MAX_LINE = 4096
"""The longest request line, and header line, in bytes (with its CRLF)."""
MAX_HEADERS = 32
_REQUEST_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (/[\x21-\x7e]*) (HTTP/[0-9]+\.[0-9]+)")
_VERSIONS = frozenset({"HTTP/1.0", "HTTP/1.1"})
_END = (b"\r\n", b"\n", b"")


def require_loopback(host: str) -> None:
    """ValueError unless ``host`` is an IPv4 loopback address: the API never binds elsewhere."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if not isinstance(address, ipaddress.IPv4Address) or not address.is_loopback:
        raise ValueError(f"the local API binds to IPv4 loopback only, not {host!r}")


class Refused(Exception):
    """Answer ``status`` with ``{"error": message}`` (and these extra headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class LoopbackServer(socketserver.ThreadingTCPServer):
    """Serves ``handler`` on ``address`` (a loopback one) from :meth:`serve` until :meth:`wake`."""

    daemon_threads = True
    allow_reuse_address = False  # and exclusive on Windows: no other process may share the port
    timeout = 1.0  # handle_request's wait, should a ready connection vanish before accept
    server_name: str
    server_port: int

    def __init__(
        self, address: tuple[str, int], handler: type[socketserver.BaseRequestHandler]
    ) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        try:
            super().__init__(address, handler)
        except BaseException:
            self._wake_r.close()
            self._wake_w.close()
            raise

    def serve(self) -> None:
        """Serve until :meth:`wake`: no select timeout, so no idle wake-ups, and a prompt stop
        (``serve_forever`` polls every 0.5 s and makes ``shutdown`` wait for the next poll)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._wake_r in ready:
                    return
                self.handle_request()

    def wake(self) -> None:
        self._wake_w.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def server_bind(self) -> None:
        require_loopback(str(self.server_address[0]))
        if sys.platform == "win32":
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        super().server_bind()
        host, port = self.socket.getsockname()[:2]
        require_loopback(host)
        self.server_name, self.server_port = host, port

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("local API: a connection failed")  # not socketserver's print to stderr


class _HeadReader:
    """``rfile`` as :func:`http.client.parse_headers` reads it, with tighter caps than its own
    (64 KiB a line, 100 lines), and no obsolete line folding."""

    def __init__(self, rfile: BufferedIOBase) -> None:
        self._rfile = rfile
        self._lines = 0

    def readline(self, limit: int = -1, /) -> bytes:
        line = self._rfile.readline(MAX_LINE + 1)
        self._lines += 1
        if len(line) > MAX_LINE:
            raise Refused(431, f"a header line is longer than {MAX_LINE} bytes")
        if self._lines > MAX_HEADERS and line not in _END:
            raise Refused(431, f"more than {MAX_HEADERS} header lines")
        if line[:1] in (b" ", b"\t"):
            raise Refused(400, "folded header lines are not accepted")
        return line


class JsonHandler(socketserver.StreamRequestHandler):
    """One request per connection: the head is read here, the rest is :meth:`respond`'s."""

    timeout = 10.0  # a client that stalls mid-request gives up its thread
    requestline = command = path = ""
    headers: http.client.HTTPMessage

    def respond(self) -> None:
        """Read the body if any and :meth:`reply`; ``command``, ``path``, ``headers`` are set."""
        raise NotImplementedError

    def handle(self) -> None:
        try:
            if not self._read_head():
                return  # connected and closed without a word
        except Refused as exc:
            self.reply(exc.status, {"error": exc.message}, exc.headers)
            return
        except OSError:  # stalled past the timeout, or gone
            return
        self.respond()

    def _read_head(self) -> bool:
        """Read the request line and the headers; False if the client sent nothing."""
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        if len(line) > MAX_LINE:
            raise Refused(414, f"the request line is longer than {MAX_LINE} bytes")
        self.requestline = line.decode("iso-8859-1").rstrip("\r\n")
        match = _REQUEST_LINE.fullmatch(self.requestline)
        if match is None:
            raise Refused(400, "malformed request line")
        if match[3] not in _VERSIONS:
            raise Refused(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
        self.command, self.path = match[1], match[2]
        try:
            self.headers = http.client.parse_headers(_HeadReader(self.rfile))
        except http.client.HTTPException:  # its own caps, were they ever below ours
            raise Refused(431, "the request headers are too large") from None
        if self.headers.defects or self.headers.get_payload():  # a line with no "name:"
            raise Refused(400, "malformed header line")
        if len(self.headers.get_all("Content-Length", [])) > 1:
            raise Refused(400, "more than one Content-Length")
        return True

    def reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Answer ``payload`` as JSON (nothing for 204) and let the connection close."""
        body = b"" if status == 204 else json.dumps(payload).encode("utf-8")
        head = [
            f"HTTP/1.1 {status} {_reason(status)}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            "Server: dexpulse-agent",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        if status != 204:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += ["Cache-Control: no-store", "Connection: close", "", ""]
        try:
            self.wfile.write("\r\n".join(head).encode("latin-1") + body)
        except OSError:  # the client went away; nothing to answer
            pass
        log.debug('local API: "%s" %d', self.requestline, status)  # never the headers


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
