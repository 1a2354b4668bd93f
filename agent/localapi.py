"""The agent service's loopback-only HTTP API, through which the per-user tray reaches the desk.

The service runs as root (SYSTEM on Windows) and holds the pulse surveys; the tray runs as each
signed-in user. The tray learns the port from ``<state_dir>/ui/endpoint.json`` and proves who
it is with a bearer token from ``<state_dir>/ui/tokens/<user>.token``, a file only that user
can read (:class:`~dexpulse.agent.localtokens.TokenBook`). Layered so that no one user can act
for another:

* the socket is bound to 127.0.0.1 only: there is no host parameter, and
  :func:`~dexpulse.agent.localhttp.require_loopback` refuses any other address at bind time,
  so a later change cannot expose it to the network;
* a token must be one the book issued, compared in constant time, and it is accepted only from
  a connection whose process belongs to the token's user (:func:`peer_user`, psutil's table
  of TCP connections): a token copied to another account is useless. When the owner of the
  connection cannot be told, only the service's own user's token is accepted (a developer
  running the service as themselves);
* request heads are capped (:mod:`~dexpulse.agent.localhttp`, which speaks the HTTP), bodies
  at 16 KiB, and the fields are checked one by one before the desk sees them.

The handlers are a thin shell over a :class:`~dexpulse.agent.desk.Desk`: the endpoints map
one to one onto its methods, a :class:`~dexpulse.agent.desk.DeskError` becomes its status, and
any other exception is logged and answered with 500 without stopping the server. Tokens are
never logged.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psutil

from .desk import Desk, DeskError, offer_json
from .localclient import (
    ENDPOINT_FILE,
    LOOPBACK,
    NONCE_HEADER,
    PROOF_HEADER,
    endpoint_path,
    proof,
    token_path,
    tokens_dir,
)
from .localhttp import JsonHandler, LoopbackServer, Refused, require_loopback
from .localtokens import TokenBook, public_dir, same_user, service_user

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
ENDPOINT_MODE = 0o644
_DRAIN_LIMIT = 1024 * 1024  # a larger body is refused unread; the connection is just closed
_ACTIONS = frozenset({"shown", "answer", "snooze", "dismiss"})
_METHODS = {"status": "GET", "due": "GET", "feedback": "POST"} | dict.fromkeys(_ACTIONS, "POST")

Address = tuple[str, int]
PeerUser = Callable[[Address, Address], str | None]


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


class _Server(LoopbackServer):
    def __init__(self, port: int, api: LocalApi) -> None:
        self.api = api
        super().__init__((LOOPBACK, port), _Handler)


class _Handler(JsonHandler):
    server: _Server

    def respond(self) -> None:
        headers: dict[str, str] = {}
        self.proof: str | None = None
        try:
            status, payload = self._dispatch()
        except Refused as exc:
            status, payload, headers = exc.status, {"error": exc.message}, exc.headers
        except DeskError as exc:
            status = exc.status if 400 <= exc.status < 600 else 500
            payload = {"error": exc.message}
        except Exception:
            log.exception("local API: %s %s failed", self.command, urlsplit(self.path).path)
            status, payload = 500, {"error": "internal error in the dexpulse agent"}
        if self.proof is not None:
            headers = {**headers, PROOF_HEADER: self.proof}
        self.reply(status, payload, headers)

    def _dispatch(self) -> tuple[int, Any]:
        body = self._body()
        self._authorize()
        route = _route(self.path)
        if route is None:
            raise Refused(404, "no such endpoint")
        name, survey_id = route
        if self.command != _METHODS[name]:
            raise Refused(405, f"use {_METHODS[name]}", {"Allow": _METHODS[name]})
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
                raise Refused(422, "rating is required: an integer from 1 to 5")
            desk.feedback(rating, _comment(data))
        elif name == "answer":
            data = _fields(body, {"rating", "yes_no", "comment"})
            desk.answer(survey_id, _rating(data), _yes_no(data), _comment(data))
        else:
            {"shown": desk.shown, "snooze": desk.snooze, "dismiss": desk.dismiss}[name](survey_id)
        return 204, None

    def _body(self) -> bytes:
        if "Transfer-Encoding" in self.headers:
            raise Refused(411, "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise Refused(400, "Content-Length is not a number") from None
        if length < 0:
            raise Refused(400, "Content-Length is negative")
        if length > MAX_BODY:
            if length <= _DRAIN_LIMIT:  # read it, so the client sees the answer, not a reset
                self.rfile.read(length)
            raise Refused(413, f"the request body is larger than {MAX_BODY} bytes")
        return self.rfile.read(length)

    def _authorize(self) -> None:
        api = self.server.api
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not token:
            raise Refused(401, "missing bearer token", challenge)
        user = api.tokens.user_of(token)
        if user is None:
            raise Refused(401, "unknown token", challenge)
        try:
            client = (str(self.client_address[0]), int(self.client_address[1]))
            peer = api.peer_user(client, (self.server.server_name, self.server.server_port))
        except Exception:
            log.exception("local API: cannot tell who is connecting")
            peer = None
        if peer is None and not same_user(user, api.service_user):
            log.info("local API: refused %s's token: the connecting user is unknown", user)
            raise Refused(403, "cannot tell which user is connecting")
        if peer is not None and not same_user(user, peer):
            log.warning("local API: %s presented a token of %s", peer, user)
            raise Refused(403, "token belongs to another user")
        nonce = self.headers.get(NONCE_HEADER)
        if nonce is not None and len(nonce) <= 128:  # the tray checks it is talking to us
            self.proof = proof(token, nonce)


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
        raise Refused(422, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refused(422, "the body must be a JSON object")
    for key in data:
        if key not in allowed:
            raise Refused(422, f"unknown field {key!r}")
    return data


def _rating(data: dict[str, Any]) -> int | None:
    value = data.get("rating")
    if value is not None and (type(value) is not int or not 1 <= value <= 5):
        raise Refused(422, "rating must be an integer from 1 to 5, or null")
    return value


def _yes_no(data: dict[str, Any]) -> bool | None:
    value = data.get("yes_no")
    if value is not None and not isinstance(value, bool):
        raise Refused(422, "yes_no must be true, false or null")
    return value


def _comment(data: dict[str, Any]) -> str | None:
    value = data.get("comment")
    if value is not None and (not isinstance(value, str) or len(value) > MAX_COMMENT):
        raise Refused(422, f"comment must be a string of at most {MAX_COMMENT} characters")
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
        self.service_user = service_user()
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
        public_dir(self.endpoint.parent)
        fd, tmp = tempfile.mkstemp(dir=self.endpoint.parent, prefix=".endpoint-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self._endpoint_data(port), out)
            os.chmod(tmp, ENDPOINT_MODE)
            os.replace(tmp, self.endpoint)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
