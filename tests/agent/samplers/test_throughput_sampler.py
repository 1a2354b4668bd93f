"""The throughput sampler and its client, against the collector's real speed-test router served
by uvicorn on 127.0.0.1 (no other network)."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import namedtuple
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from dexpulse.agent.config import AgentConfig
from dexpulse.agent.enroll import Credentials, save_credentials
from dexpulse.agent.platform import Host, NoData
from dexpulse.agent.probes import SpeedLimits, run_speed_test
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.throughput import ThroughputSampler
from dexpulse.agent.state import StateStore
from dexpulse.agent.transport import UrllibTransport
from dexpulse.collector.api import speedtest
from dexpulse.collector.errors import install_error_handlers
from dexpulse.schema import ThroughputSample

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
SMALL = SpeedLimits(download_bytes=3_000_000, upload_bytes=1_500_000, direction_time_s=5.0, pings=3)
Battery = namedtuple("Battery", "percent secsleft power_plugged")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture(scope="module")
def collector_url() -> Iterator[str]:
    """The collector's speed-test router, served by a real uvicorn in a thread."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(speedtest.router)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", http="h11")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def make_sampler(
    tmp_path: Path,
    url: str | None,
    *,
    battery: Any = None,
    clock: Clock | None = None,
    limits: SpeedLimits = SMALL,
    **config: Any,
) -> ThroughputSampler:
    cfg = AgentConfig(state_dir=tmp_path / "state", **config)
    if url is not None:
        save_credentials(cfg.state_dir, Credentials(url, "dev-1", "tok"))
    ctx = Context(
        host=Host(root=tmp_path),
        config=cfg,
        state=StateStore(tmp_path / "state" / "state"),
        clock=clock or Clock(),
    )
    return ThroughputSampler(ctx, battery=lambda: battery, limits=limits)


def only(samples: list[Any]) -> ThroughputSample:
    (sample,) = samples
    assert isinstance(sample, ThroughputSample)
    return sample


def test_measures_the_collector_within_the_byte_budgets(collector_url: str) -> None:
    result = run_speed_test(UrllibTransport(), collector_url, SMALL)
    assert result.error is None
    assert 3_000_000 <= result.bytes_down <= 3_000_000 + 64 * 1024
    assert result.bytes_up == 1_500_000  # 256 KiB, 512 KiB, then the rest of the budget
    for value in (result.download_mbps, result.upload_mbps, result.latency_ms):
        assert value is not None and value > 0
    assert result.jitter_ms is not None and result.jitter_ms >= 0
    assert result.duration_s is not None and 0 < result.duration_s < 30


def test_sample_on_ac_power(tmp_path: Path, collector_url: str) -> None:
    sampler = make_sampler(tmp_path, collector_url, battery=Battery(80, -2, True))
    sample = only(sampler.collect())
    assert (sample.ts, sample.target, sample.error) == (NOW, "127.0.0.1", None)
    assert sample.download_mbps is not None and sample.download_mbps > 0
    assert sample.upload_mbps is not None and sample.upload_mbps > 0
    assert sample.latency_ms is not None and sample.jitter_ms is not None
    assert sample.duration_s is not None and sample.duration_s > 0


def test_time_limit_stops_mid_file(collector_url: str) -> None:
    ticks = itertools.count(step=1.0)  # every look at the clock costs a second
    limits = SpeedLimits(download_bytes=10**9, upload_bytes=10**9, direction_time_s=2.5, pings=1)
    result = run_speed_test(UrllibTransport(), collector_url, limits, clock=lambda: next(ticks))
    assert result.error is None
    assert 0 < result.bytes_down <= 64 * 1024  # one chunk of a 2 MB file, then time was up
    assert result.bytes_up == 256 * 1024  # one upload; the next would start too late


@pytest.mark.parametrize(
    "battery", [Battery(55, 3600, False), Battery(55, 3600, None)], ids=["battery", "unknown"]
)
def test_not_on_battery(tmp_path: Path, collector_url: str, battery: Any) -> None:
    sampler = make_sampler(tmp_path, collector_url, battery=battery)
    with pytest.raises(NoData, match="battery"):
        sampler.collect()
    assert sampler.ctx.state.load("throughput") == {}  # no test, so none remembered


def test_once_per_interval_across_restarts(tmp_path: Path, collector_url: str) -> None:
    clock = Clock()
    only(make_sampler(tmp_path, collector_url, clock=clock).collect())
    assert make_sampler(tmp_path, collector_url, clock=clock).ctx.state.load("throughput") == {
        "last_test": NOW.isoformat()
    }
    clock.at = NOW + timedelta(hours=1)
    with pytest.raises(NoData, match="recently"):
        make_sampler(tmp_path, collector_url, clock=clock).collect()  # a restarted agent
    clock.at = NOW + timedelta(hours=4)
    assert only(make_sampler(tmp_path, collector_url, clock=clock).collect()).ts == clock.at
    clock.at = NOW  # the clock went back: the memory cannot be trusted, test again
    assert only(make_sampler(tmp_path, collector_url, clock=clock).collect()).error is None


def test_unreachable_collector_is_a_sample_with_an_error(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        sampler = make_sampler(tmp_path, f"http://127.0.0.1:{closed.getsockname()[1]}")
        sample = only(sampler.collect())
    assert sample.error is not None and "Connection refused" in sample.error
    assert (sample.latency_ms, sample.download_mbps, sample.upload_mbps) == (None, None, None)
    assert sample.duration_s is not None
    assert "last_test" in sampler.ctx.state.load("throughput")  # no retry storm


def test_collector_without_speedtest_endpoints(tmp_path: Path) -> None:
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        sample = only(make_sampler(tmp_path, f"http://127.0.0.1:{server.server_port}").collect())
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert sample.error == "latency: HTTP 404 (this collector has no speed-test endpoints)"


def test_busy_collector_keeps_the_latency(
    tmp_path: Path, collector_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speedtest, "slots", speedtest.Slots(0))
    sample = only(make_sampler(tmp_path, collector_url).collect())
    assert sample.error == "download: HTTP 503 (busy; retry after 60 s)"
    assert sample.latency_ms is not None
    assert (sample.download_mbps, sample.upload_mbps) == (None, None)


def test_no_collector_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoData, match="no collector"):
        make_sampler(tmp_path, None).collect()


def test_configured_url_before_enrollment_and_the_ca_bundle(
    tmp_path: Path, collector_url: str
) -> None:
    bundle = tmp_path / "ca.pem"
    sampler = make_sampler(tmp_path, None, collector_url=collector_url, ca_bundle=bundle)
    assert sampler.collector_url() == collector_url
    transport = sampler.transport()
    assert transport.ca_bundle == bundle
    assert transport.user_agent.startswith("dexpulse-agent")
    assert only(sampler.collect()).error is None
