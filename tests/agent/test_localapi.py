"""The tray's loopback API: real HTTP on 127.0.0.1 between LocalClient and LocalApi, a fake desk.

Tokens are real files under a temporary state directory (the book itself is tested in
test_localtokens.py). Raw sockets check the hand-written HTTP: what a malformed or oversized
request head gets, and that a body arriving in pieces is read whole.
"""

from __future__ import annotations

import getpass
import http.client
import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from accounts import ME, as_root, other_user

from dexpulse.agent import localapi, localhttp
from dexpulse.agent.desk import DeskError
from dexpulse.agent.localapi import LocalApi, peer_user, require_loopback
from dexpulse.agent.localclient import (
    LocalApiError,
    LocalClient,
    endpoint_path,
    token_path,
    tokens_dir,
)
from dexpulse.agent.localhttp import MAX_HEADERS, MAX_LINE
from dexpulse.agent.localtokens import TokenBook, same_user
from dexpulse.agent.surveys import Offer

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
OFFER = Offer(
    id="s-1",
    campaign_id="c-1",
    question="How is your laptop today?",
    answer="rating",
    comment=True,
    anonymous=False,
    not_before=T0,
    expires_at=T0 + timedelta(days=7),
)


class FakeDesk:
    """The Desk protocol, recording every call; ``fail`` is raised by the next call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.offer: Offer | None = OFFER
        self.fail: Exception | None = None

    def _call(self, *call: Any) -> None:
        self.calls.append(call)
        if self.fail is not None:
            fail, self.fail = self.fail, None
            raise fail

    def status(self) -> dict[str, Any]:
        self._call("status")
        return {"connection": "connected", "issues": [], "pending_surveys": 1}

    def due(self) -> Offer | None:
        self._call("due")
        return self.offer

    def shown(self, offer_id: str) -> None:
        self._call("shown", offer_id)

    def answer(
        self, offer_id: str, rating: int | None, yes_no: bool | None, comment: str | None
    ) -> None:
        self._call("answer", offer_id, rating, yes_no, comment)

    def snooze(self, offer_id: str) -> None:
        self._call("snooze", offer_id)

    def dismiss(self, offer_id: str) -> None:
        self._call("dismiss", offer_id)

    def feedback(self, rating: int, comment: str | None) -> None:
        self._call("feedback", rating, comment)


@pytest.fixture
def desk() -> FakeDesk:
    return FakeDesk()


@pytest.fixture
def book(tmp_path: Path) -> TokenBook:
    return TokenBook(tokens_dir(tmp_path))


@pytest.fixture
def api(desk: FakeDesk, book: TokenBook) -> Iterator[LocalApi]:
    book.issue(ME)
    with LocalApi(desk, book) as server:  # the real peer lookup
        yield server


@pytest.fixture
def client(api: LocalApi, tmp_path: Path) -> LocalClient:
    return LocalClient.discover(tmp_path, ME)


def serve(desk: FakeDesk, book: TokenBook, peer: str | None) -> LocalApi:
    """A server (to start with ``with``) whose peer lookup answers ``peer`` for everyone."""
    return LocalApi(desk, book, peer_user=lambda client, server: peer)


def raw(
    api: LocalApi, method: str, path: str, body: bytes | None = None, token: str | None = None
) -> tuple[int, dict[str, Any] | None, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, json.loads(data) if data else None, response


# --- every endpoint, through the client ---------------------------------------------------


def test_every_endpoint_round_trips(client: LocalClient, desk: FakeDesk) -> None:
    assert client.status()["connection"] == "connected"
    survey = client.due()
    assert survey is not None and survey["id"] == "s-1" and survey["expires_at"].endswith("Z")
    desk.offer = None
    assert client.due() is None
    client.shown("s-1")
    client.answer("s-1", rating=4, comment="fine")
    client.answer("s-2", yes_no=False)
    client.snooze("s-1")
    client.dismiss("s-1")
    client.feedback(2, "slow VPN")
    client.feedback(5)
    assert desk.calls == [
        ("status",),
        ("due",),
        ("due",),
        ("shown", "s-1"),
        ("answer", "s-1", 4, None, "fine"),
        ("answer", "s-2", None, False, None),
        ("snooze", "s-1"),
        ("dismiss", "s-1"),
        ("feedback", 2, "slow VPN"),
        ("feedback", 5, None),
    ]


def test_survey_ids_are_quoted_in_paths(client: LocalClient, desk: FakeDesk) -> None:
    client.dismiss("a/b c?d%")
    assert desk.calls == [("dismiss", "a/b c?d%")]


def test_endpoint_file_is_public_and_removed_on_stop(tmp_path: Path, book: TokenBook) -> None:
    server = LocalApi(FakeDesk(), book)
    server.start()
    path = endpoint_path(tmp_path)
    try:
        assert json.loads(path.read_text()) == {"port": server.port, "pid": os.getpid()}
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    finally:
        server.stop()
    assert not path.exists()


# --- who may call -----------------------------------------------------------------------


def test_missing_and_unknown_tokens_are_401(api: LocalApi) -> None:
    for token in (None, "", "x" * 43, "not a token at all"):
        status, body, response = raw(api, "GET", "/v1/status", token=token)
        assert status == 401 and body is not None and body["error"], token
        assert response.headers["WWW-Authenticate"] == "Bearer"
    status, _, _ = raw(api, "POST", "/v1/nowhere")
    assert status == 401  # nothing about the paths is told before the token is checked


@as_root
def test_another_users_token_is_refused(desk: FakeDesk, book: TokenBook) -> None:
    alice, bob = ME, other_user()
    token = book.issue(alice)
    with serve(desk, book, peer=bob) as server:
        client = LocalClient(f"http://127.0.0.1:{server.port}", token)
        with pytest.raises(LocalApiError) as refused:
            client.status()
    assert (refused.value.status, refused.value.message) == (403, "token belongs to another user")
    assert desk.calls == []


def test_the_peer_user_may_carry_a_windows_domain(desk: FakeDesk, book: TokenBook) -> None:
    token = book.issue(ME)
    with serve(desk, book, peer=f"LAPTOP-42\\{ME}") as server:
        assert LocalClient(f"http://127.0.0.1:{server.port}", token).status()
    assert same_user("CORP\\alice", "alice") and not same_user("alice", "bob")


@as_root
def test_unknown_peer_is_accepted_only_for_the_service_user(
    desk: FakeDesk, book: TokenBook
) -> None:
    mine, theirs = book.issue(ME), book.issue(other_user())
    with serve(desk, book, peer=None) as server:
        assert LocalClient(f"http://127.0.0.1:{server.port}", mine).status()
        with pytest.raises(LocalApiError) as refused:
            LocalClient(f"http://127.0.0.1:{server.port}", theirs).status()
    assert refused.value.status == 403


def test_real_peer_lookup_names_this_process_user() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        with socket.create_connection(listener.getsockname()) as conn:
            accepted, _ = listener.accept()
            with accepted:
                try:
                    psutil.net_connections(kind="tcp4")
                except psutil.AccessDenied:
                    pytest.skip("this OS does not let this user list connections")
                owner = peer_user(conn.getsockname(), listener.getsockname())
    assert owner is not None and same_user(owner, getpass.getuser())


# --- loopback only ------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "::1", "localhost", ""])
def test_non_loopback_addresses_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        require_loopback(host)


def test_the_server_binds_127_0_0_1_and_the_guard_sits_in_bind(
    api: LocalApi, book: TokenBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api._server is not None and api._server.socket.getsockname()[0] == "127.0.0.1"
    monkeypatch.setattr(localapi, "LOOPBACK", "0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        LocalApi(FakeDesk(), book).start()


# --- what the desk and the body do --------------------------------------------------------


def test_desk_errors_keep_their_status(client: LocalClient, desk: FakeDesk) -> None:
    desk.fail = DeskError(409, "survey s-1 is already answered")
    with pytest.raises(LocalApiError) as refused:
        client.answer("s-1", rating=3)
    assert (refused.value.status, refused.value.message) == (409, "survey s-1 is already answered")


def test_a_failing_desk_gives_500_and_the_server_serves_on(
    client: LocalClient, desk: FakeDesk, caplog: pytest.LogCaptureFixture
) -> None:
    desk.fail = RuntimeError("state file locked")
    with pytest.raises(LocalApiError) as failed:
        client.status()
    assert failed.value.status == 500
    assert "state file locked" in caplog.text
    assert client.status()["connection"] == "connected"


def test_a_large_body_is_413(client: LocalClient, desk: FakeDesk) -> None:
    with pytest.raises(LocalApiError) as refused:
        client.feedback(3, "x" * 20 * 1024)
    assert refused.value.status == 413 and desk.calls == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/surveys/s-1/answer", b"{not json", "JSON"),
        ("/v1/surveys/s-1/answer", b"[1]", "object"),
        ("/v1/surveys/s-1/answer", b'{"rating": 7}', "rating"),
        ("/v1/surveys/s-1/answer", b'{"rating": "x"}', "rating"),
        ("/v1/surveys/s-1/answer", b'{"rating": true}', "rating"),
        ("/v1/surveys/s-1/answer", b'{"yes_no": "yes"}', "yes_no"),
        ("/v1/surveys/s-1/answer", b'{"comment": 5}', "comment"),
        ("/v1/surveys/s-1/answer", json.dumps({"comment": "x" * 2001}).encode(), "comment"),
        ("/v1/surveys/s-1/answer", b'{"ratting": 3}', "ratting"),
        ("/v1/feedback", b'{"comment": "no rating"}', "rating"),
        ("/v1/feedback", b'{"rating": 0}', "rating"),
    ],
)
def test_malformed_bodies_are_422_naming_the_field(
    api: LocalApi, book: TokenBook, desk: FakeDesk, path: str, body: bytes, field: str
) -> None:
    status, answer, _ = raw(api, "POST", path, body, token=book.issue(ME))
    assert status == 422 and answer is not None and field in answer["error"]
    assert desk.calls == []


def test_unknown_paths_and_wrong_methods(api: LocalApi, book: TokenBook) -> None:
    token = book.issue(ME)
    for path in ("/", "/v1", "/v1/surveys", "/v1/surveys//answer", "/v1/surveys/s-1/burn"):
        assert raw(api, "POST", path, token=token)[0] == 404, path
    status, body, response = raw(api, "GET", "/v1/surveys/s-1/shown", token=token)
    assert (status, response.headers["Allow"]) == (405, "POST") and body is not None
    assert raw(api, "DELETE", "/v1/status", token=token)[0] == 405
    assert raw(api, "POST", "/v1/status", token=token)[0] == 405


# --- the HTTP, byte by byte -------------------------------------------------------------


def exchange(
    api: LocalApi, *writes: bytes, pause: float = 0.0
) -> tuple[str, dict[str, str], bytes]:
    """Send ``writes`` on one connection (``pause`` seconds apart) and read the answer to EOF:
    (status line, headers with lower-case names, body)."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as conn:
        for n, data in enumerate(writes):
            if n and pause:
                time.sleep(pause)
            conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (x.partition(": ") for x in lines)}
    return status, headers, body


def request(token: str, *headers: str, body: bytes = b"", target: str = "/v1/status") -> bytes:
    method = "POST" if body else "GET"
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    lines += [*headers, *([f"Content-Length: {len(body)}"] if body else []), "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def test_the_reply_head(api: LocalApi, book: TokenBook) -> None:
    status, headers, body = exchange(api, request(book.issue(ME)))
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body) and json.loads(body)["connection"]
    assert (headers["cache-control"], headers["connection"]) == ("no-store", "close")
    status, headers, body = exchange(api, request(book.issue(ME), target="/v1/surveys/s/shown"))
    assert status == "HTTP/1.1 405 Method Not Allowed" and headers["allow"] == "POST"


def test_a_body_in_two_writes_and_a_head_in_pieces(
    api: LocalApi, book: TokenBook, desk: FakeDesk
) -> None:
    data = request(book.issue(ME), body=b'{"rating": 4, "comment": "ok"}', target="/v1/feedback")
    split = data.index(b"\r\n\r\n") + 4
    status, headers, body = exchange(api, data[:split], data[split:], pause=0.3)
    assert status == "HTTP/1.1 204 No Content" and body == b""
    assert "content-length" not in headers and headers["connection"] == "close"
    pieces = [data[:7], data[7:40], data[40 : split + 3], data[split + 3 :]]
    assert exchange(api, *pieces, pause=0.1)[0] == "HTTP/1.1 204 No Content"
    assert desk.calls == [("feedback", 4, "ok"), ("feedback", 4, "ok")]


@pytest.mark.parametrize(
    "line",
    [
        b"GET",
        b"GET /v1/status",
        b"GET  /v1/status HTTP/1.1",
        b"GET /v1/status HTTP/1.1 extra",
        b"GET v1/status HTTP/1.1",
        b"GET http://127.0.0.1/v1/status HTTP/1.1",
        b"GET /v1/st\x00tus HTTP/1.1",
        b"G(T /v1/status HTTP/1.1",
        b"GET /v1/status HTTX/1.1",
        b"GET /v1/status HTTP/1",
        b"\x16\x03\x01\x02\x00\x01",  # a TLS hello
    ],
)
def test_a_malformed_request_line_is_400(api: LocalApi, desk: FakeDesk, line: bytes) -> None:
    status, headers, body = exchange(api, line + b"\r\nHost: x\r\n\r\n")
    assert status == "HTTP/1.1 400 Bad Request" and headers["connection"] == "close"
    assert json.loads(body) == {"error": "malformed request line"} and desk.calls == []


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2"])
def test_other_http_versions_are_505(api: LocalApi, book: TokenBook, version: str) -> None:
    data = request(book.issue(ME)).replace(b"HTTP/1.1", version.encode(), 1)
    assert exchange(api, data)[0] == "HTTP/1.1 505 HTTP Version Not Supported"
    assert exchange(api, data.replace(version.encode(), b"HTTP/1.0", 1))[0].endswith(" 200 OK")


def test_heads_over_the_caps_are_refused(api: LocalApi, book: TokenBook, desk: FakeDesk) -> None:
    token = book.issue(ME)
    long_target = "/v1/status?" + "x" * MAX_LINE
    assert exchange(api, request(token, target=long_target))[0].startswith("HTTP/1.1 414 ")
    status, _, body = exchange(api, request(token, "X-Long: " + "x" * MAX_LINE))
    assert status.startswith("HTTP/1.1 431 ") and "longer than" in json.loads(body)["error"]
    fillers = [f"X-{n}: y" for n in range(MAX_HEADERS - 2)]  # with Host and Authorization
    assert exchange(api, request(token, *fillers))[0] == "HTTP/1.1 200 OK"
    status, _, body = exchange(api, request(token, *fillers, "X-One-Too-Many: y"))
    assert status.startswith("HTTP/1.1 431 ") and "header lines" in json.loads(body)["error"]
    assert desk.calls == [("status",)]


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("no colon here", "malformed header line"),
        ("Content-Type : application/json", "malformed header line"),
        (" folded: onto the line before", "folded header lines are not accepted"),
        ("Content-Length: 0\r\nContent-Length: 5", "more than one Content-Length"),
    ],
)
def test_malformed_headers_are_400(
    api: LocalApi, book: TokenBook, desk: FakeDesk, header: str, error: str
) -> None:
    status, _, body = exchange(api, request(book.issue(ME), header))
    assert status == "HTTP/1.1 400 Bad Request" and json.loads(body) == {"error": error}
    assert desk.calls == []


def test_silent_and_stalled_clients_are_let_go(
    api: LocalApi, book: TokenBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(localhttp.JsonHandler, "timeout", 0.3)
    socket.create_connection(("127.0.0.1", api.port), timeout=5).close()
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as stalled:
        stalled.sendall(request(book.issue(ME))[:20])
        assert stalled.recv(100) == b""  # closed by the server after its timeout, unanswered
    assert exchange(api, request(book.issue(ME)))[0] == "HTTP/1.1 200 OK"


# --- finding the service ----------------------------------------------------------------


def test_discover_says_what_is_missing(tmp_path: Path, book: TokenBook) -> None:
    with pytest.raises(LocalApiError, match="not running") as missing:
        LocalClient.discover(tmp_path, ME)
    assert missing.value.status is None
    with LocalApi(FakeDesk(), book):
        with pytest.raises(LocalApiError, match="no local API token for ") as no_token:
            LocalClient.discover(tmp_path, ME)
        assert no_token.value.status is None
        assert str(token_path(tmp_path, ME)) in no_token.value.message
        book.issue(ME)
        assert LocalClient.discover(tmp_path).status()["connection"] == "connected"


def test_an_unreachable_service_has_no_status() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(LocalApiError, match="unreachable") as down:
        LocalClient(f"http://127.0.0.1:{port}", "t", timeout=1).status()
    assert down.value.status is None


def test_the_tray_refuses_a_program_that_took_the_agents_port(tmp_path: Path) -> None:
    """A stale endpoint file and another program on that port: it cannot answer the request's
    nonce with the user's token, so its fake survey is never shown nor answered."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Impostor(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  # http.server's naming
            body = json.dumps({"survey": {"id": "x", "question": "Your password?"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Impostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = LocalClient(f"http://127.0.0.1:{server.server_port}", "a" * 43)
        with pytest.raises(LocalApiError) as refused:
            client.due()
        assert refused.value.status is None and "not the dexpulse agent" in refused.value.message
    finally:
        server.shutdown()
        server.server_close()
