"""The uploader against a real collector process: exactly-once delivery, outages, refusals."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import Server, free_port, serve

from dexpulse.agent.config import UploadConfig
from dexpulse.agent.enroll import Credentials, enroll, save_credentials
from dexpulse.agent.platform import Host
from dexpulse.agent.spool import Spool
from dexpulse.agent.transport import HttpResponse, Transport, TransportError, UrllibTransport
from dexpulse.agent.uploader import Uploader, full_jitter, retry_after
from dexpulse.schema import AgentInfo, WifiSample

pytestmark = pytest.mark.slow
AT = datetime.now(UTC) - timedelta(minutes=5)  # the collector drops future samples


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("collector")
    with serve(f"sqlite:///{work / 'c.db'}", work) as running:
        yield running


@pytest.fixture(scope="module")
def viewer(server: Server) -> dict[str, str]:
    key = server.cli("collector", "api-key", "create", "--role", "viewer")
    return {"Authorization": f"Bearer {key}"}


def enrolled(server: Server, name: str = "laptop") -> Credentials:
    secret = server.cli("collector", "enrollment-secret", "create")
    return enroll(
        UrllibTransport(),
        server.url,
        secret,
        host=Host(),
        agent_version="test",
        tags={"site": "lab"},
    )


def stored(server: Server, viewer: dict[str, str], device_id: str) -> list[str]:
    """The ssid of every sample the collector holds for the device, in event order."""
    out: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 10_000}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(
            f"{server.url}/api/v1/devices/{device_id}/samples", params=params, headers=viewer
        ).json()
        out += [s["data"].get("ssid", "") for s in page["samples"]]
        if not (cursor := page["next_cursor"]):
            return out


def uploader(
    tmp_path: Path,
    creds: Credentials | None,
    clock: Clock,
    transport: Transport | None = None,
    **config: Any,
) -> Uploader:
    spool = Spool(tmp_path / "spool.db", clock=clock)
    return Uploader(
        spool,
        transport or UrllibTransport(),
        lambda: creds,
        lambda: AgentInfo(version="test", os="linux"),
        {"site": "lab"},
        UploadConfig(**config),
        clock=clock,
        rng=random.Random(7),
    )


def wifi(n: int, start: int = 0) -> list[WifiSample]:
    return [WifiSample(ts=AT, ssid=f"s{i}") for i in range(start, start + n)]


def test_spooled_samples_arrive_once(
    tmp_path: Path, server: Server, viewer: dict[str, str]
) -> None:
    creds = enrolled(server)
    up = uploader(tmp_path, creds, Clock(), max_batch_bytes=16 * 1024)
    up.spool.put(wifi(600))
    assert up.run_once() > 1  # several batches of at most 16 KiB
    assert up.run_once() == 0
    assert stored(server, viewer, creds.device_id) == [f"s{i}" for i in range(600)]
    assert up.spool.stats().batches == 0 and up.state.failures == 0


class LosesAcks(UrllibTransport):
    """Delivers the request, then loses the answer: the agent cannot know it arrived."""

    def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        super().request(method, url, **kwargs)
        raise TransportError("connection reset after the request was sent")


def test_resend_after_a_lost_answer_is_stored_once(
    tmp_path: Path, server: Server, viewer: dict[str, str]
) -> None:
    creds = enrolled(server)
    clock = Clock()
    lossy = uploader(tmp_path, creds, clock, transport=LosesAcks())
    lossy.spool.put(wifi(5))
    assert lossy.run_once() == 0 and lossy.state.failures == 1
    lossy.spool.close()
    clock.now += 600
    healthy = uploader(tmp_path, creds, clock, recovery_spread_s=0)
    assert healthy.run_once() == 1
    assert stored(server, viewer, creds.device_id) == [f"s{i}" for i in range(5)]


def test_collector_down_for_minutes_then_back(
    tmp_path: Path, viewer: dict[str, str], server: Server
) -> None:
    work = tmp_path / "outage"
    work.mkdir()
    port = free_port()
    url = f"sqlite:///{work / 'c.db'}"
    clock = Clock()
    with serve(url, work, port=port) as first:
        creds = enrolled(first)
        key = {
            "Authorization": "Bearer "
            + first.cli("collector", "api-key", "create", "--role", "viewer")
        }
        up = uploader(tmp_path, creds, clock, recovery_spread_s=60)
        up.spool.put(wifi(10))
        assert up.run_once() == 1
    # The collector is down for ten minutes; the laptop keeps sampling and retrying.
    attempts = 0
    for minute in range(10):
        up.spool.put(wifi(10, start=10 + 10 * minute))
        for _ in range(6):
            clock.now += 10
            before = up.state.failures
            up.run_once()
            attempts += up.state.failures > before
    assert up.state.failures >= 3 and up.spool.stats().batches > 0
    assert attempts < 60  # backoff: far fewer attempts than rounds
    assert up.state.not_before - clock.now <= 300  # the cap holds
    with serve(url, work, port=port) as second:
        for _ in range(40):
            clock.now += 30
            up.run_once()
            if up.spool.stats().batches == 0 and up.spool.stats().pending_samples == 0:
                break
        # Exactly once, in any order (the fake clock runs ahead of the collector's, so later
        # batches get their times corrected and sort differently).
        arrived = stored(second, key, creds.device_id)
        assert sorted(arrived) == sorted(f"s{i}" for i in range(110))
    assert up.state.failures == 0 and up.state.last_success is not None


def test_first_send_after_an_outage_waits_a_random_spread(tmp_path: Path, server: Server) -> None:
    creds = enrolled(server)
    clock = Clock()
    up = uploader(tmp_path, creds, clock, recovery_spread_s=120)
    up.state.failures, up.state.not_before = 3, clock.now  # as if an outage just ended
    up.spool.put(wifi(1))
    assert up.run_once() == 0  # healthz answered, but sending waits
    wait = up.state.not_before - clock.now
    assert 0 < wait <= 120 and up.state.failures == 0
    clock.now += wait
    assert up.run_once() == 1


class Scripted(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers, body = self.answers.pop(0)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - /healthz: the scripted collector is up
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, list[tuple[int, dict[str, str], bytes]]]]:
    answers: list[tuple[int, dict[str, str], bytes]] = []
    handler = type("Handler", (Scripted,), {"answers": answers})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", answers
    httpd.shutdown()
    httpd.server_close()


def test_429_and_503_honour_retry_after(tmp_path: Path, scripted: Any) -> None:
    url, answers = scripted
    clock = Clock()
    creds = Credentials(url, "00000000-0000-4000-8000-000000000001", "t")
    up = uploader(tmp_path, creds, clock, recovery_spread_s=0)
    up.spool.put(wifi(1))
    answers.append((429, {"Retry-After": "120"}, b""))
    assert up.run_once() == 0
    assert up.state.not_before == pytest.approx(clock.now + 120)
    when = datetime.fromtimestamp(clock.now + 3600, UTC)
    answers.append((503, {"Retry-After": format_datetime(when, usegmt=True)}, b""))
    clock.now += 119
    assert up.run_once() == 0 and answers  # not yet: Retry-After said 120 s
    clock.now += 2
    assert up.run_once() == 0 and not answers
    assert up.state.not_before == pytest.approx(when.timestamp(), abs=1)
    assert up.spool.stats().batches == 1  # nothing lost


def test_a_batch_the_collector_refuses_is_dropped_and_counted(
    tmp_path: Path, scripted: Any
) -> None:
    url, answers = scripted
    up = uploader(tmp_path, Credentials(url, "00000000-0000-4000-8000-000000000001", "t"), Clock())
    up.spool.put(wifi(3))
    answers.append(
        (
            422,
            {"Content-Type": "application/json"},
            json.dumps({"error": "validation_error", "detail": "x"}).encode(),
        )
    )
    assert up.run_once() == 0
    assert up.spool.stats().batches == 0 and up.spool.stats().dropped_samples == 3
    assert up.state.rejected_reasons == {"validation_error": 1}


def test_revoked_token_reenrolls_and_resends(
    tmp_path: Path, server: Server, viewer: dict[str, str]
) -> None:
    old = enrolled(server)
    server.cli("collector", "device", "revoke", old.device_id)
    current = {"creds": old}

    def reenroll() -> Credentials:
        current["creds"] = enrolled(server)
        return current["creds"]

    clock = Clock()
    spool = Spool(tmp_path / "spool.db", clock=clock)
    up = Uploader(
        spool,
        UrllibTransport(),
        lambda: current["creds"],
        lambda: AgentInfo(version="test", os="linux"),
        {},
        UploadConfig(),
        reenroll=reenroll,
        clock=clock,
    )
    spool.put(wifi(4))
    assert up.run_once() == 1
    assert current["creds"].device_id != old.device_id
    assert stored(server, viewer, current["creds"].device_id) == ["s0", "s1", "s2", "s3"]


def test_without_a_secret_a_refused_token_waits_and_keeps_the_data(
    tmp_path: Path, server: Server
) -> None:
    creds = enrolled(server)
    server.cli("collector", "device", "revoke", creds.device_id)
    clock = Clock()
    up = uploader(tmp_path, creds, clock)
    up.spool.put(wifi(2))
    assert up.run_once() == 0
    assert up.state.needs_enrollment and up.state.not_before >= clock.now + 300
    assert up.spool.stats().batches == 1


def test_full_jitter_stays_within_its_cap() -> None:
    rng = random.Random(1)
    for failures in range(1, 20):
        cap = min(300.0, 2.0 ** (failures - 1))
        delays = [full_jitter(failures, 1.0, 300.0, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # spread over the whole range, not clumped at 0


def test_retry_after_forms() -> None:
    assert retry_after("30", 1000.0) == 30.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 60) == pytest.approx(60)
    assert retry_after("soon", 0.0) is None and retry_after(None, 0.0) is None
    assert retry_after("-5", 0.0) == 0.0


UPLOADER = """
import sys
from pathlib import Path
from dexpulse.agent.config import UploadConfig
from dexpulse.agent.enroll import load_credentials
from dexpulse.agent.spool import Spool
from dexpulse.agent.transport import HttpResponse, Transport, TransportError, UrllibTransport
from dexpulse.agent.transport import UrllibTransport
from dexpulse.agent.uploader import Uploader
from dexpulse.schema import AgentInfo
state = Path(sys.argv[1])
creds = load_credentials(state)
spool = Spool(state / "spool.db")
config = UploadConfig(max_batch_bytes=16384, recovery_spread_s=0, backoff_min_s=0.05,
                      backoff_max_s=0.2)
up = Uploader(spool, UrllibTransport(), lambda: creds,
              lambda: AgentInfo(version="t", os="linux"), {}, config)
while spool.stats().batches or spool.stats().pending_samples:
    up.run_once(max_batches=1)
    print("sent", flush=True)
"""


def test_kill_9_mid_upload_loses_and_doubles_nothing(
    tmp_path: Path, server: Server, viewer: dict[str, str]
) -> None:
    creds = enrolled(server)
    save_credentials(tmp_path, creds)
    spool = Spool(tmp_path / "spool.db")
    spool.put(wifi(6_000))
    spool.close()
    rng = random.Random(3)
    kills = 0
    for _ in range(60):
        proc = subprocess.Popen(
            [sys.executable, "-c", UPLOADER, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        # Let it deliver a few batches, then kill it at a random moment of the next ones.
        wanted, finished = rng.randint(1, 8), False
        for _ in range(wanted):
            if not proc.stdout.readline():
                finished = True
                break
        if not finished:
            time.sleep(rng.uniform(0, 0.05))
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        if finished:
            assert proc.returncode == 0, err
            break
    else:
        pytest.fail("the uploader never finished")
    assert kills >= 3, "the test must kill the uploader mid-way several times"
    arrived = stored(server, viewer, creds.device_id)
    assert len(arrived) == 6_000
    assert sorted(arrived) == sorted(f"s{i}" for i in range(6_000))
