"""The agent service's loopback-only HTTP API, through which the per-user tray reaches the desk.

The service runs as root (SYSTEM on Windows) and holds the pulse surveys; the tray runs as each
signed-in user. The tray learns the port from ``<state_dir>/ui/endpoint.json`` and proves who
it is with a bearer token from ``<state_dir>/ui/tokens/<user>.token``, a file only that user
can read (:class:`TokenBook`; the per-OS file rights are in ``platform.posix_tokens`` and
``platform._windows.ui_tokens``). Layered so that no one user can act for another:

* the socket is bound to 127.0.0.1 only: there is no host parameter, and :func:`require_loopback`
  refuses any other address at bind time, so a later change cannot expose it to the network;
* a token must be one the book issued, compared in constant time, and it is accepted only from
  a connection whose process belongs to the token's user (:func:`peer_user`, psutil's table
  of TCP connections): a token copied to another account is useless. When the owner of the
  connection cannot be told, only the service's own user's token is accepted (a developer
  running the service as themselves);
* bodies are capped at 16 KiB and checked field by field before the desk sees them.

The handlers are a thin shell over a :class:`~dexpulse.agent.desk.Desk`: the endpoints map
one to one onto its methods, a :class:`~dexpulse.agent.desk.DeskError` becomes its status, and
any other exception is logged and answered with 500 without stopping the server. Tokens are
never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import selectors
import socket
import socketserver
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psutil

from .desk import Desk, DeskError, offer_json
from .localclient import (
    ENDPOINT_FILE,
    LOOPBACK,
    TOKEN_SUFFIX,
    endpoint_path,
    safe_user_name,
    token_path,
    tokens_dir,
)

if sys.platform == "win32":
    from .platform._windows import ui_tokens as ostokens
else:
    from .platform import posix_tokens as ostokens

log = logging.getLogger(__name__)

__all__ = [
    "LocalApi",
    "TokenBook",
    "endpoint_path",
    "peer_user",
    "require_loopback",
    "same_user",
    "token_path",
    "tokens_dir",
]

MAX_BODY = 16 * 1024
MAX_COMMENT = 2000
UI_DIR_MODE = 0o755
ENDPOINT_MODE = 0o644
_DRAIN_LIMIT = 1024 * 1024  # a larger body is refused unread; the connection is just closed
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_ACTIONS = frozenset({"shown", "answer", "snooze", "dismiss"})
_METHODS = {"status": "GET", "due": "GET", "feedback": "POST"} | dict.fromkeys(_ACTIONS, "POST")

Address = tuple[str, int]
PeerUser = Callable[[Address, Address], str | None]


def bare_user(name: str) -> str:
    """``name`` without a Windows ``DOMAIN\\`` prefix."""
    return name.rsplit("\\", 1)[-1]


def same_user(a: str, b: str) -> bool:
    """Whether two account names are one user (domain prefix ignored; case too on Windows)."""
    a, b = bare_user(a), bare_user(b)
    return a.casefold() == b.casefold() if sys.platform == "win32" else a == b


def session_users() -> list[str]:
    """The users with a session on this machine, as the OS lists them."""
    return [user.name for user in psutil.users()]


class TokenBook:
    """The tray tokens: one file per user in ``directory`` (``<state_dir>/ui/tokens``)."""

    def __init__(
        self,
        directory: Path,
        *,
        sessions: Callable[[], Iterable[str]] = session_users,
        privileged: bool | None = None,
    ) -> None:
        self.directory = directory
        self._sessions = sessions
        self._privileged = ostokens.privileged() if privileged is None else privileged
        self._users: dict[str, str] = {}  # token -> user; replaced, never mutated
        self._lock = threading.Lock()

    def issue(self, user: str) -> str:
        """``user``'s token: the one on disk if it is intact, else a new one written for them.

        ValueError for a name that is not a safe file name or an unknown account; OSError if
        the file cannot be written or handed to that user.
        """
        path = self.directory / (safe_user_name(user) + TOKEN_SUFFIX)
        with self._lock:
            _public_dir(self.directory.parent)
            ostokens.prepare_directory(self.directory)
            token = _read_token(path, user)
            if token is None:
                token = secrets.token_urlsafe(32)
                ostokens.write_token(path, user, token)
                log.info("issued a local API token for %s", user)
            kept = {known: owner for known, owner in self._users.items() if owner != user}
            self._users = kept | {token: user}
        return token

    def issue_for_sessions(self) -> list[str]:
        """Issue a token for every user with a session, or only for the service's own user
        when it is not privileged; the users that have one. Failures are logged, not raised."""
        if self._privileged:  # the service's own account too: root or SYSTEM may run a tray
            names = [*self._sessions(), ostokens.service_user()]
            users = list(dict.fromkeys(bare_user(name) for name in names))
        else:
            users = [bare_user(ostokens.service_user())]
        issued = []
        for user in users:
            try:
                self.issue(user)
            except (OSError, ValueError) as exc:
                log.warning("no local API token for user %r: %s", user, exc)
            else:
                issued.append(user)
        return issued

    def user_of(self, token: str) -> str | None:
        """The user ``token`` was issued to, or None. An unknown well-formed token makes the book
        reload the directory first: the files may have been re-issued by another process."""
        if not _TOKEN.fullmatch(token):
            return None
        user = _lookup(self._users, token)
        if user is None:
            with self._lock:
                self._users = self._load()
            user = _lookup(self._users, token)
        return user

    def _load(self) -> dict[str, str]:
        found: dict[str, str] = {}
        try:
            paths = sorted(self.directory.glob("*" + TOKEN_SUFFIX))
        except OSError:
            return found
        for path in paths:
            user = path.name[: -len(TOKEN_SUFFIX)]
            try:
                safe_user_name(user)
            except ValueError:
                continue
            token = _read_token(path, user)
            if token is not None:
                found[token] = user
        return found


def _lookup(users: dict[str, str], token: str) -> str | None:
    """Compare with every known token, in constant time each, without stopping at a match."""
    wanted = token.encode("utf-8", "replace")
    match = None
    for known, user in users.items():
        if hmac.compare_digest(known.encode("ascii"), wanted):
            match = user
    return match


def _read_token(path: Path, user: str) -> str | None:
    """The token in ``path`` if the file is intact (right owner and rights, right shape)."""
    if not ostokens.token_file_ok(path, user):
        return None
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return token if _TOKEN.fullmatch(token) else None


def _public_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, UI_DIR_MODE)


def peer_user(client: Address, server: Address) -> str | None:
    """The user owning the process at the ``client`` end of a TCP connection to ``server``;
    None if it cannot be told (no such connection, or not permitted to see it)."""
    try:
        connections = psutil.net_connections(kind="tcp4")
    except (psutil.Error, OSError):
        return None
    for conn in connections:
        if conn.pid and conn.laddr == tuple(client) and conn.raddr == tuple(server):
            try:
                return psutil.Process(conn.pid).username()
            except psutil.Error:
                return None
    return None


def require_loopback(host: str) -> None:
    """ValueError unless ``host`` is an IPv4 loopback address: the API never binds elsewhere."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if not isinstance(address, ipaddress.IPv4Address) or not address.is_loopback:
        raise ValueError(f"the local API binds to IPv4 loopback only, not {host!r}")


class _Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # and exclusive on Windows: no other process may share the port
    timeout = 1.0  # handle_request's wait, should a ready connection vanish before accept

    def __init__(self, port: int, api: LocalApi) -> None:
        self.api = api
        self._wake_r, self._wake_w = socket.socketpair()
        super().__init__((LOOPBACK, port), _Handler)

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
        socketserver.TCPServer.server_bind(self)  # HTTPServer's would look up the host's FQDN
        host, port = self.socket.getsockname()[:2]
        require_loopback(host)
        self.server_name, self.server_port = host, port


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "dexpulse-agent"
    sys_version = ""
    timeout = 10.0  # a client that stalls mid-request gives up its thread

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _handle(self) -> None:
        headers: dict[str, str] = {}
        try:
            status, payload = self._dispatch()
        except _Refused as exc:
            status, payload, headers = exc.status, {"error": exc.message}, exc.headers
        except DeskError as exc:
            status = exc.status if 400 <= exc.status < 600 else 500
            payload = {"error": exc.message}
        except Exception:
            log.exception("local API: %s %s failed", self.command, urlsplit(self.path).path)
            status, payload = 500, {"error": "internal error in the dexpulse agent"}
        self._reply(status, payload, headers)

    def _dispatch(self) -> tuple[int, Any]:
        body = self._body()
        self._authorize()
        route = _route(self.path)
        if route is None:
            raise _Refused(404, "no such endpoint")
        name, survey_id = route
        if self.command != _METHODS[name]:
            raise _Refused(405, f"use {_METHODS[name]}", {"Allow": _METHODS[name]})
        desk = self.server.api.desk
        if name == "status":
            return 200, desk.status()
        if name == "due":
            offer = desk.due()
            return 200, {"survey": None if offer is None else offer_json(offer)}
        if name == "feedback":
            data = _fields(body, {"rating", "comment"})
            rating = _rating(data)
            if rating is None:
                raise _Refused(422, "rating is required: an integer from 1 to 5")
            desk.feedback(rating, _comment(data))
        elif name == "answer":
            data = _fields(body, {"rating", "yes_no", "comment"})
            desk.answer(survey_id, _rating(data), _yes_no(data), _comment(data))
        else:
            {"shown": desk.shown, "snooze": desk.snooze, "dismiss": desk.dismiss}[name](survey_id)
        return 204, None

    def _body(self) -> bytes:
        if "Transfer-Encoding" in self.headers:
            raise _Refused(411, "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _Refused(400, "Content-Length is not a number") from None
        if length < 0:
            raise _Refused(400, "Content-Length is negative")
        if length > MAX_BODY:
            if length <= _DRAIN_LIMIT:  # read it, so the client sees the answer, not a reset
                self.rfile.read(length)
            raise _Refused(413, f"the request body is larger than {MAX_BODY} bytes")
        return self.rfile.read(length)

    def _authorize(self) -> None:
        api = self.server.api
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not token:
            raise _Refused(401, "missing bearer token", challenge)
        user = api.tokens.user_of(token)
        if user is None:
            raise _Refused(401, "unknown token", challenge)
        try:
            client = (str(self.client_address[0]), int(self.client_address[1]))
            peer = api.peer_user(client, (self.server.server_name, self.server.server_port))
        except Exception:
            log.exception("local API: cannot tell who is connecting")
            peer = None
        if peer is None and not same_user(user, api.service_user):
            log.info("local API: refused %s's token: the connecting user is unknown", user)
            raise _Refused(403, "cannot tell which user is connecting")
        if peer is not None and not same_user(user, peer):
            log.warning("local API: %s presented a token of %s", peer, user)
            raise _Refused(403, "token belongs to another user")

    def _reply(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        body = b"" if status == 204 else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 204:
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client went away; nothing to answer
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors found by http.server itself (bad request line, ...), as JSON."""
        self.close_connection = True
        self._reply(code, {"error": message or "bad request"}, {})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("local API: " + format, *args)  # the request line and status, never headers


def _route(target: str) -> tuple[str, str] | None:
    """``(endpoint, survey id or "")`` for a request target; None if it names no endpoint."""
    parts = urlsplit(target).path.split("/")
    if parts in (["", "v1", "status"], ["", "v1", "feedback"]):
        return parts[2], ""
    if parts == ["", "v1", "surveys", "due"]:
        return "due", ""
    if len(parts) == 5 and parts[:3] == ["", "v1", "surveys"] and parts[3] and parts[4] in _ACTIONS:
        return parts[4], unquote(parts[3])
    return None


def _fields(body: bytes, allowed: set[str]) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _Refused(422, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _Refused(422, "the body must be a JSON object")
    for key in data:
        if key not in allowed:
            raise _Refused(422, f"unknown field {key!r}")
    return data


def _rating(data: dict[str, Any]) -> int | None:
    value = data.get("rating")
    if value is not None and (type(value) is not int or not 1 <= value <= 5):
        raise _Refused(422, "rating must be an integer from 1 to 5, or null")
    return value


def _yes_no(data: dict[str, Any]) -> bool | None:
    value = data.get("yes_no")
    if value is not None and not isinstance(value, bool):
        raise _Refused(422, "yes_no must be true, false or null")
    return value


def _comment(data: dict[str, Any]) -> str | None:
    value = data.get("comment")
    if value is not None and (not isinstance(value, str) or len(value) > MAX_COMMENT):
        raise _Refused(422, f"comment must be a string of at most {MAX_COMMENT} characters")
    return value


class LocalApi:
    """The server: :meth:`start` binds 127.0.0.1:``port`` (0: any free port), serves in a daemon
    thread and writes the endpoint file beside the tokens directory; :meth:`stop` undoes it."""

    def __init__(
        self, desk: Desk, tokens: TokenBook, *, peer_user: PeerUser = peer_user, port: int = 0
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535, got {port}")
        self.desk = desk
        self.tokens = tokens
        self.peer_user = peer_user
        self.service_user = ostokens.service_user()
        self.endpoint = tokens.directory.parent / ENDPOINT_FILE
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port once started (the requested one before)."""
        return self._server.server_port if self._server is not None else self._port

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the local API is already started")
        server = _Server(self._port, self)
        try:
            self._write_endpoint(server.server_port)
        except BaseException:
            server.server_close()
            raise
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="dexpulse-localapi", daemon=True)
        self._thread.start()
        log.info("local API listening on %s:%d", LOOPBACK, server.server_port)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        try:
            if json.loads(self.endpoint.read_text(encoding="utf-8")) == self._endpoint_data(
                server.server_port
            ):  # not another instance's
                self.endpoint.unlink()
        except (OSError, ValueError):
            pass
        server.wake()
        if thread is not None:
            thread.join(timeout=5)
        server.server_close()

    def __enter__(self) -> LocalApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _endpoint_data(self, port: int) -> dict[str, int]:
        return {"port": port, "pid": os.getpid()}

    def _write_endpoint(self, port: int) -> None:
        """Atomically, world-readable: every user's tray reads it."""
        _public_dir(self.endpoint.parent)
        fd, tmp = tempfile.mkstemp(dir=self.endpoint.parent, prefix=".endpoint-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self._endpoint_data(port), out)
            os.chmod(tmp, ENDPOINT_MODE)
            os.replace(tmp, self.endpoint)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
