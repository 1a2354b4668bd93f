"""The collector's speed-test endpoints: sizes, determinism, caps, slots and time limits.

Run against the real app when it mounts the router (then a 1 MiB upload also proves the upload
path is exempt from the app-wide body cap), else against a bare app with the same error
handlers.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dexpulse.collector.api import speedtest
from dexpulse.collector.app import create_app
from dexpulse.collector.errors import install_error_handlers
from dexpulse.collector.settings import CollectorSettings

MiB = 1024 * 1024


def speedtest_app(tmp_path: Path) -> FastAPI:
    settings = CollectorSettings(database_url=f"sqlite:///{tmp_path}/c.db", _env_file=None)
    app = create_app(settings)
    if TestClient(app).get("/speedtest/latency.txt").status_code == 200:  # mounted
        return app
    bare = FastAPI()
    install_error_handlers(bare)
    bare.include_router(speedtest.router)
    return bare


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return speedtest_app(tmp_path)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
    assert speedtest.slots.free == speedtest.MAX_TRANSFERS  # every slot given back


def test_latency_answers_test_equals_test_uncached(client: TestClient) -> None:
    response = client.get("/speedtest/latency.txt", params={"x": "1700000000.0"})
    assert response.status_code == 200
    assert response.text == "test=test\n"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("side", "size"), [(350, 245_000), (1000, 2_000_000)])
def test_classic_sizes_give_fixed_incompressible_bytes(
    client: TestClient, side: int, size: int
) -> None:
    first = client.get(f"/speedtest/random{side}x{side}.jpg", params={"x": "1.0"})
    again = client.get(f"/speedtest/random{side}x{side}.jpg", params={"x": "1.1"})
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/jpeg"
    assert first.headers["content-length"] == str(size)
    assert first.headers["cache-control"] == "no-store"
    assert len(first.content) == size
    assert first.content == again.content
    assert len(zlib.compress(first.content, 9)) > 0.99 * size


def test_sizes_are_bounded() -> None:
    assert speedtest.SIZES == {350, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000}
    assert speedtest.download_size(max(speedtest.SIZES)) == 32_000_000


@pytest.mark.parametrize(
    "path",
    [
        "/speedtest/random351x351.jpg",
        "/speedtest/random350x500.jpg",
        "/speedtest/random5000x5000.jpg",
        "/speedtest/random0x0.jpg",
        "/speedtest/randomAxB.jpg",
        "/speedtest/random4000x4000.png",
    ],
)
def test_other_sizes_are_not_found(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert {"error", "detail"} <= set(response.json())


def test_upload_counts_and_discards_the_body(client: TestClient) -> None:
    response = client.post("/speedtest/upload.php", content=b"\xa5" * MiB)
    assert (response.status_code, response.text) == (200, f"size={MiB}")
    assert response.headers["cache-control"] == "no-store"
    chunked = client.post("/speedtest/upload.php", content=iter([b"a" * 1000, b"b" * 234]))
    assert chunked.text == "size=1234"
    form = client.post("/speedtest/upload.php", data={"content1": "0123456789"})
    assert form.text == "size=19"  # speedtest-cli's form body is just counted
    assert client.post("/speedtest/upload.php").text == "size=0"


def test_upload_cap_declared_and_streamed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speedtest, "MAX_UPLOAD_BYTES", 1000)
    declared = client.post("/speedtest/upload.php", content=b"x" * 1001)
    assert declared.status_code == 413
    assert declared.json()["error"] == "payload_too_large"
    streamed = client.post("/speedtest/upload.php", content=iter([b"x" * 600, b"y" * 600]))
    assert streamed.status_code == 413
    assert client.post("/speedtest/upload.php", content=b"x" * 1000).text == "size=1000"


def test_busy_collector_says_when_to_retry(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speedtest, "slots", speedtest.Slots(0))
    for response in (
        client.get("/speedtest/random350x350.jpg"),
        client.post("/speedtest/upload.php", content=b"x"),
    ):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "60"
        assert response.json()["error"] == "busy"
    assert client.get("/speedtest/latency.txt").status_code == 200  # pings are never refused


def test_slots_are_shared_and_given_back_once() -> None:
    slots = speedtest.Slots(2)
    first, second = slots.acquire(), slots.acquire()
    with pytest.raises(speedtest.ApiError):
        slots.acquire()
    first()
    first()  # a second release of the same slot changes nothing
    assert slots.free == 1
    second()
    assert slots.free == 2


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8470),
    }


def test_a_stalled_download_is_cut_and_its_slot_freed(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speedtest, "TRANSFER_TIME_LIMIT_S", 0.2)
    received: list[int] = []
    states: list[int] = []

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await anyio.sleep_forever()  # the client never leaves
        raise AssertionError

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            received.append(len(message.get("body", b"")))
            states.append(speedtest.slots.free)
            await anyio.sleep(0.05)  # a client reading 64 KiB every 50 ms

    async def main() -> None:
        await app(_scope("GET", "/speedtest/random4000x4000.jpg", []), receive, send)

    anyio.run(main)
    assert 0 < sum(received) < 32_000_000
    assert states[0] == speedtest.MAX_TRANSFERS - 1
    assert speedtest.slots.free == speedtest.MAX_TRANSFERS


def test_a_trickling_upload_is_refused_after_the_time_limit(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speedtest, "TRANSFER_TIME_LIMIT_S", 0.2)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep(0.05)
        return {"type": "http.request", "body": b"x" * 10, "more_body": True}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def main() -> None:
        headers = [(b"content-length", b"1000000"), (b"host", b"collector")]
        await app(_scope("POST", "/speedtest/upload.php", headers), receive, send)

    anyio.run(main)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 408
    assert speedtest.slots.free == speedtest.MAX_TRANSFERS
