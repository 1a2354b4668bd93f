"""Live mode: a simulated fleet enrolls with a real collector and posts its batches."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import IO

import httpx
import pytest
from harness import serve

from dexpulse.agent.cli import main
from dexpulse.agent.transport import HttpResponse, TransportError
from dexpulse.collector.simulator.engine import Simulation, SimulationConfig
from dexpulse.collector.simulator.live import MAX_ATTEMPTS, LivePoster


def test_a_small_fleet_posts_live_to_a_collector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(f"sqlite:///{tmp_path / 'c.db'}", tmp_path) as server:
        secret = server.cli("collector", "enrollment-secret", "create", "--name", "simulator")
        key = {
            "Authorization": "Bearer "
            + server.cli("collector", "api-key", "create", "--role", "viewer")
        }
        truth = tmp_path / "truth.json"
        code = main(
            [
                "simulate", "--devices", "5", "--sites", "2", "--seed", "3", "--always-on",
                "--duration", "4m", "--speed", "240", "--post", server.url,
                "--enrollment-secret", secret, "--truth", str(truth),
            ]
        )  # fmt: skip
        assert code == 0
        err = capsys.readouterr().err
        assert "of 5 devices" in err and "0 rejected, 0 gave up" in err
        devices = httpx.get(f"{server.url}/api/v1/devices", headers=key).json()["devices"]
        assert len(devices) == 5
        assert all(d["tags"]["site"] and d["os"] in ("windows", "macos") for d in devices)
        kinds: set[str] = set()
        stored = 0
        for device in devices:
            page = httpx.get(
                f"{server.url}/api/v1/devices/{device['id']}/samples",
                headers=key,
                params={"limit": 500},
            ).json()
            kinds |= {s["kind"] for s in page["samples"]}
            stored += len(page["samples"])
        assert {"system", "wifi", "network_probe", "inventory"} <= kinds
        assert stored >= 5 * 3 * 6  # at least three minutes of six samples per device
        facts = json.loads(truth.read_text())
        assert facts["devices"] == 5 and facts["stats"]["batches"] >= 15


class Flaky:
    """A transport that answers each ingest with the next status of a script, then 200."""

    def __init__(self, script: list[int | None]) -> None:
        self.script = script
        self.calls: list[tuple[str, bytes]] = []

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | IO[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse:
        assert isinstance(body, bytes)
        self.calls.append((url, body))
        if url.endswith("/enroll"):
            n = sum(u.endswith("/enroll") for u, _ in self.calls)
            reply = {"device_id": f"00000000-0000-4000-8000-{n:012d}", "device_token": "t"}
            return HttpResponse(201, json.dumps(reply).encode())
        status = self.script.pop(0) if self.script else 200
        if status is None:
            raise TransportError("connection refused")
        return HttpResponse(status, b"{}", {"Retry-After": "1"} if status == 429 else {})


def small_sim() -> Simulation:
    return Simulation(SimulationConfig(devices=2, sites=1, duration=timedelta(minutes=3),
                                       always_on=True))  # fmt: skip


def test_busy_and_unreachable_collectors_are_retried_like_the_agent_does() -> None:
    transport = Flaky([503, 429, None, 200])
    waits: list[float] = []
    poster = LivePoster("http://collector", "s", speed=1e6, concurrency=1,
                        transport=transport, sleep=waits.append)  # fmt: skip
    sim = small_sim()
    ids = poster.run(sim)
    assert len(ids) == 2 and set(ids.values()) <= {
        f"00000000-0000-4000-8000-{n:012d}" for n in (1, 2)
    }
    assert poster.stats.retries == 3 and poster.stats.posted == sim.stats.batches
    assert poster.stats.failed == poster.stats.rejected == 0
    assert 1.0 in waits  # Retry-After honoured
    posts = [body for url, body in transport.calls if url.endswith("/ingest")]
    first = [json.loads(gzip.decompress(b)) for b in posts[:4]]
    assert len({b["batch_id"] for b in first}) == 1  # one batch, retried with its id


def test_a_collector_that_never_answers_is_given_up_on_and_counted() -> None:
    transport = Flaky([503] * (2 * MAX_ATTEMPTS))
    poster = LivePoster("http://collector", "s", speed=1e6, concurrency=1,
                        transport=transport, sleep=lambda _: None)  # fmt: skip
    poster.run(small_sim())
    assert poster.stats.failed == 2 and poster.stats.errors == {"HTTP 503": 2}
