"""The agent service: failure isolation, pushed settings, and running under its scheduler."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from harness import serve

from dexpulse.agent.config import AgentConfig, SamplerSettings
from dexpulse.agent.enroll import load_credentials
from dexpulse.agent.localclient import LocalClient, endpoint_path
from dexpulse.agent.platform import Host, NoData
from dexpulse.agent.samplers import Context, Sampler, Supervisor
from dexpulse.agent.service import AgentService
from dexpulse.agent.state import StateStore
from dexpulse.schema import AgentHealthSample, SampleBase, SystemSample


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Flaky(Sampler):
    name = "flaky"

    def __init__(self, ctx: Context, outcomes: list[str]) -> None:
        super().__init__(ctx)
        self.outcomes = outcomes
        self.calls = 0

    def collect(self) -> list[SampleBase]:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "boom":
            raise RuntimeError("device busy")
        if outcome == "none":
            raise NoData("no such hardware")
        return [SystemSample(ts=self.ctx.clock(), cpu_percent=1.0)]


def supervised(tmp_path: Path, outcomes: list[str]) -> tuple[Supervisor, Flaky, Clock]:
    clock = Clock()
    ctx = Context(Host(root=tmp_path), AgentConfig(state_dir=tmp_path), StateStore(tmp_path), clock)
    sampler = Flaky(ctx, outcomes)
    return Supervisor(sampler, SamplerSettings(interval_s=60), clock=clock), sampler, clock


def health(samples: list[SampleBase]) -> list[str]:
    return [s.status for s in samples if isinstance(s, AgentHealthSample)]


def test_a_failing_sampler_backs_off_reports_and_recovers(tmp_path: Path) -> None:
    sup, sampler, clock = supervised(tmp_path, ["boom", "boom", "ok"])
    assert health(sup.run()) == ["error"]
    clock.now += timedelta(seconds=30)
    assert sup.run() == [] and sampler.calls == 1  # backing off: not called
    clock.now += timedelta(seconds=31)
    assert sup.run() == [] and sampler.calls == 2  # second failure: quiet, longer wait
    clock.now += timedelta(seconds=119)
    assert sup.run() == [] and sampler.calls == 2
    clock.now += timedelta(seconds=2)
    samples = sup.run()
    assert health(samples) == ["ok"] and any(isinstance(s, SystemSample) for s in samples)
    assert sup.failures == 0


def test_a_sampler_failing_five_times_is_disabled_and_says_so(tmp_path: Path) -> None:
    sup, sampler, clock = supervised(tmp_path, ["boom"] * 10)
    reports: list[str] = []
    for _ in range(10):
        reports += health(sup.run())
        clock.now += timedelta(hours=2)
    assert reports == ["error", "disabled"] and sup.disabled and sampler.calls == 5


def test_no_data_is_not_a_failure(tmp_path: Path) -> None:
    sup, sampler, clock = supervised(tmp_path, ["none"] * 10)
    for _ in range(10):
        assert sup.run() == []
        clock.now += timedelta(seconds=60)
    assert sup.failures == 0 and not sup.disabled and sampler.calls == 10


@pytest.mark.slow
def test_pushed_settings_apply_now_and_after_a_restart_offline(tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'c.db'}", tmp_path) as server:
        secret = server.cli("collector", "enrollment-secret", "create")
        admin = {
            "Authorization": "Bearer "
            + server.cli("collector", "api-key", "create", "--role", "admin")
        }
        config = AgentConfig(
            collector_url=server.url,
            enrollment_secret=secret,
            state_dir=tmp_path / "agent",
            tags={"site": "lab"},
        )
        agent = AgentService(config)
        assert agent.enroll() is not None
        assert agent.check_in() is False  # nothing pushed yet
        fleet = {
            "rules": [
                {
                    "match": {"site": "lab"},
                    "settings": {
                        "samplers": {"wifi": {"enabled": False}, "system": {"interval_s": 15}},
                        "upload": {"interval_s": 20},
                    },
                }
            ]
        }
        assert (
            httpx.put(f"{server.url}/api/v1/agent-config", json=fleet, headers=admin).status_code
            == 200
        )
        assert agent.check_in() is True
        by_name = {s.name: s for s in agent.supervisors}
        assert by_name["wifi"].settings.enabled is False
        assert by_name["system"].settings.interval_s == 15
        assert agent.uploader.config.interval_s == 20
        assert "wifi" not in {s.name for s in agent.enabled()}
        assert agent.check_in() is False  # 304: unchanged
        agent.spool.close()
    restarted = AgentService(config)  # the collector is gone; the last settings still hold
    assert {s.name: s.settings.interval_s for s in restarted.supervisors}["system"] == 15
    assert load_credentials(config.state_dir) is not None
    restarted.spool.close()


@pytest.mark.slow
def test_the_service_runs_samples_and_uploads_until_stopped(tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'c.db'}", tmp_path) as server:
        secret = server.cli("collector", "enrollment-secret", "create")
        key = {
            "Authorization": "Bearer "
            + server.cli("collector", "api-key", "create", "--role", "viewer")
        }
        config = AgentConfig.model_validate(
            {
                "collector_url": server.url,
                "enrollment_secret": secret,
                "state_dir": str(tmp_path / "agent"),
                "samplers": {"system": {"interval_s": 1}},
                "upload": {"interval_s": 1},
            }
        )
        agent = AgentService(config)
        stop = threading.Event()
        runner = threading.Thread(target=agent.run_forever, args=(stop,))
        runner.start()
        try:
            seen: set[str] = set()
            for _ in range(60):
                stop.wait(0.5)
                devices = httpx.get(f"{server.url}/api/v1/devices", headers=key).json()
                for device in devices["devices"]:
                    page = httpx.get(
                        f"{server.url}/api/v1/devices/{device['id']}/samples", headers=key
                    ).json()
                    seen |= {s["kind"] for s in page["samples"]}
                if "system" in seen:
                    break
            assert "system" in seen
            tray = LocalClient.discover(config.state_dir)  # the tray's loopback API is up
            assert tray.status()["connection"] == "connected"
            assert tray.due() is None
        finally:
            stop.set()
            runner.join(timeout=30)
        assert not runner.is_alive()
        assert not endpoint_path(config.state_dir).exists()  # nobody is told to call a dead port


def test_a_full_spool_says_how_many_samples_it_dropped(tmp_path: Path) -> None:
    config = AgentConfig.model_validate(
        {"state_dir": str(tmp_path), "spool": {"max_bytes": 1024 * 1024}}
    )
    agent = AgentService(config)
    filler = [
        AgentHealthSample(ts=datetime.now(UTC), component="x", status="ok", message="m" * 4000)
        for _ in range(400)
    ]
    agent.spool.put(filler)  # about 1.6 MiB into a 1 MiB spool
    report = agent.health()
    assert report.spool_dropped_samples is not None and report.spool_dropped_samples > 0
    assert report.spool_bytes is not None and report.spool_bytes <= 1024 * 1024
    pending = agent.spool.pending_samples()
    assert pending[-1]["component"] == "agent"  # the report itself is spooled for upload
    assert pending[-1]["spool_dropped_samples"] == report.spool_dropped_samples
    agent.spool.close()


def test_damaged_credentials_do_not_stop_the_agent(tmp_path: Path) -> None:
    (tmp_path / "credentials.json").write_text("{not json")
    agent = AgentService(AgentConfig(state_dir=tmp_path))
    assert agent.credentials() is None  # it will enroll afresh when it has a secret
    assert agent.upload() == 0
    agent.spool.close()
