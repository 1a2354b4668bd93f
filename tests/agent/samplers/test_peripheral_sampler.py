"""peripheral_failure sampler: kernel USB, bluetoothd and CUPS, each failure once, capped."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.peripheral_failure import PeripheralFailureSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import SampleBase
from dexpulse.schema.events import PeripheralFailureSample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
LOG = "var/log/cups/error_log"


def usb(ts: datetime, device: str = "2-3") -> str:
    stamp = ts.isoformat(timespec="microseconds")
    return f"{stamp} laptop kernel: usb {device}: device descriptor read/64, error -71\n"


def bluetooth(ts: datetime) -> str:
    return (
        f"{ts.isoformat(timespec='microseconds')} laptop bluetoothd[731]:"
        " profiles/audio/avdtp.c:avdtp_connect_cb() connect to 4C:87:5D:CA:3F:18:"
        " Connection refused (111)\n"
    )


def cups(ts: datetime) -> str:
    return f"E [{ts:%d/%b/%Y:%H:%M:%S} +0000] [Job 12] The printer is not responding.\n"


class Machine:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        self.root.mkdir()
        self.kernel: str | None = None
        self.bluetooth: str | None = None
        self.host = Host(root=self.root, run=self.run)

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        if argv[0] == "journalctl":
            text = self.bluetooth if "bluetooth" in argv else self.kernel
            if text is not None:
                return CommandResult(0, text)
        raise NoData(f"{argv[0]} is not installed")

    def cups(self, text: str) -> None:
        path = self.root / LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(text)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def sampler(machine: Machine, clock: Clock, tmp_path: Path) -> PeripheralFailureSampler:
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")
    return PeripheralFailureSampler(Context(machine.host, config, store, clock))


def failures(samples: list[SampleBase]) -> list[PeripheralFailureSample]:
    assert all(isinstance(s, PeripheralFailureSample) for s in samples)
    return [s for s in samples if isinstance(s, PeripheralFailureSample)]


def test_all_sources_first_run(machine: Machine, clock: Clock, tmp_path: Path) -> None:
    machine.kernel = usb(NOW - timedelta(hours=1)) + usb(NOW - timedelta(seconds=30))
    machine.bluetooth = bluetooth(NOW - timedelta(seconds=20))
    machine.cups(cups(NOW - timedelta(hours=3)) + cups(NOW - timedelta(seconds=10)))
    out = failures(sampler(machine, clock, tmp_path).collect())
    assert [(s.device_class, s.ts) for s in out] == [
        ("usb", NOW - timedelta(seconds=30)),
        ("bluetooth", NOW - timedelta(seconds=20)),
        ("printer", NOW - timedelta(seconds=10)),
    ]
    assert (out[0].device_id, out[0].error) == ("2-3", "error -71")
    assert out[1].device_id == "4c:87:5d:ca:3f:18"
    assert out[2].error == "printer_not_responding"


def test_each_failure_once_across_runs_and_restarts(
    machine: Machine, clock: Clock, tmp_path: Path
) -> None:
    machine.kernel = usb(NOW - timedelta(seconds=30))
    machine.bluetooth = ""
    machine.cups(cups(NOW - timedelta(seconds=10)))
    first = sampler(machine, clock, tmp_path)
    assert len(first.collect()) == 2
    clock.now += MINUTE
    machine.kernel += usb(clock.now - timedelta(seconds=5), "1-1")
    machine.cups(cups(clock.now - timedelta(seconds=2)))
    out = failures(first.collect())
    assert [(s.device_class, s.device_id) for s in out] == [("usb", "1-1"), ("printer", None)]
    clock.now += MINUTE
    assert first.collect() == []  # commits
    clock.now += MINUTE
    restarted = sampler(machine, clock, tmp_path)
    assert restarted.collect() == []
    machine.cups(cups(clock.now - timedelta(seconds=1)))
    assert len(restarted.collect()) == 1


def test_a_burst_is_capped_fairly(
    machine: Machine, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start = NOW - timedelta(seconds=50)
    machine.kernel = "".join(usb(start + timedelta(milliseconds=i)) for i in range(300))
    machine.bluetooth = bluetooth(NOW - timedelta(seconds=1))
    burst = sampler(machine, clock, tmp_path)
    with caplog.at_level(logging.WARNING):
        out = failures(burst.collect())
    assert len(out) == 200
    assert out[-1].device_class == "bluetooth"
    assert "reporting 200, dropping 101" in caplog.text
    clock.now += timedelta(seconds=5)
    assert burst.collect() == []  # the dropped ones are not retried


def test_nodata_only_when_every_source_is_unavailable(
    machine: Machine, clock: Clock, tmp_path: Path
) -> None:
    with pytest.raises(NoData):
        sampler(machine, clock, tmp_path).collect()
    machine.cups("")  # CUPS installed, its log empty
    assert sampler(machine, clock, tmp_path).collect() == []
