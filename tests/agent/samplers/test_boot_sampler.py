"""The boot sampler: one BootSample per boot, stamped with the boot's time, remembered across
restarts; "not yet finished" is retried; no systemd is NoData."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dexpulse.agent.config import AgentConfig
from dexpulse.agent.parsers import ParseError
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.samplers.base import REGISTRY, Context, Supervisor
from dexpulse.agent.samplers.boot import BootSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import BootSample

FIXTURE = (
    Path(__file__).parents[2]
    / "fixtures/boot/linux/systemd_analyze_time_1/linux_systemd_analyze_time_1.txt"
)
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
BTIME = 1795766292  # 2026-11-27T07:58:12Z
BOOTED = datetime(2026, 11, 27, 7, 58, 12, tzinfo=UTC)
BOOT_A = "0b4c6f5a-6d0e-4c5e-9a37-1c1e2f3a4b5c"
BOOT_B = "9f8e7d6c-5b4a-4321-8fed-cba987654321"
NOT_FINISHED = (
    "Bootup is not yet finished (org.freedesktop.systemd1.Manager.FinishTimestampMonotonic=0).\n"
    "Please try again later.\n"
    "Hint: Use 'systemctl list-jobs' to see active jobs\n"
)
NO_SYSTEMD = (
    "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
    "Failed to connect to bus: Host is down\n"
)


class Machine:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        (self.root / "proc/sys/kernel/random").mkdir(parents=True)
        self.boot(BOOT_A, BTIME)
        self.answer: CommandResult | None = CommandResult(0, FIXTURE.read_text(encoding="utf-8"))
        self.calls: list[tuple[str, ...]] = []
        self.state = StateStore(tmp_path / "state" / "state")
        self.config = AgentConfig(state_dir=tmp_path / "state")

    def boot(self, boot_id: str, btime: int | None) -> None:
        (self.root / "proc/sys/kernel/random/boot_id").write_text(boot_id + "\n")
        stat = "cpu  1 2 3 4 5 6 7 0 0 0\nintr 1 2 3\nctxt 42\n"
        if btime is not None:
            stat += f"btime {btime}\n"
        (self.root / "proc/stat").write_text(stat + "processes 1234\nprocs_running 1\n")

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        if tuple(argv) != ("systemd-analyze", "time") or self.answer is None:
            raise NoData(f"{argv[0]} is not installed")
        return self.answer

    def sampler(self) -> BootSampler:
        host = Host(root=self.root, run=self.run)
        return BootSampler(Context(host, self.config, self.state, lambda: NOW))


def test_registered_hourly() -> None:
    assert REGISTRY["boot"] is BootSampler
    assert AgentConfig().samplers.boot.interval_s == 3600


def test_reports_the_boot_once_stamped_with_the_boot_time(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    sampler = machine.sampler()
    (sample,) = sampler.collect()
    assert isinstance(sample, BootSample)
    assert sample.ts == BOOTED
    assert (sample.firmware_s, sample.loader_s, sample.kernel_s) == (7.797, 1.172, 0.877)
    assert (sample.initrd_s, sample.userspace_s, sample.boot_duration_s) == (0.861, 5.841, 16.55)
    assert sample.logon_duration_s is None
    assert BootSample.model_validate(sample.model_dump()) == sample

    assert sampler.collect() == []
    assert sampler.collect() == []
    assert machine.calls == [("systemd-analyze", "time")]  # a known boot runs nothing
    assert machine.state.load("boot") == {"boot_id": BOOT_A}


def test_remembered_across_a_restart(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    first = machine.sampler()
    assert len(first.collect()) == 1
    assert first.collect() == []  # the boot id is written once the sample was spooled

    assert machine.sampler().collect() == []
    assert machine.calls == [("systemd-analyze", "time")]


def test_a_report_not_yet_confirmed_is_repeated_identically_after_a_restart(
    tmp_path: Path,
) -> None:
    """A crash before spooling, or a diagnostic `agent once`, must not swallow the boot."""
    machine = Machine(tmp_path)
    (first,) = machine.sampler().collect()
    assert machine.state.load("boot") == {}
    (again,) = machine.sampler().collect()
    assert again == first  # same ts and figures: recognisable as a repeat


def test_a_new_boot_is_reported(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    sampler = machine.sampler()
    assert len(sampler.collect()) == 1
    assert sampler.collect() == []
    machine.boot(BOOT_B, BTIME + 86400)
    (sample,) = machine.sampler().collect()
    assert sample.ts == BOOTED + timedelta(days=1)


def test_not_yet_finished_is_retried_next_run(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    finished = machine.answer
    machine.answer = CommandResult(1, "", NOT_FINISHED)
    sampler = machine.sampler()
    assert sampler.collect() == []
    assert sampler.collect() == []
    assert machine.state.load("boot") == {}
    machine.answer = finished
    (sample,) = sampler.collect()
    assert isinstance(sample, BootSample)
    assert sample.userspace_s == 5.841
    assert len(machine.calls) == 3


@pytest.mark.parametrize(
    "answer",
    [None, CommandResult(1, "", NO_SYSTEMD)],
    ids=["not-installed", "no-systemd-pid1"],
)
def test_no_systemd_analyze_is_no_data(tmp_path: Path, answer: CommandResult | None) -> None:
    machine = Machine(tmp_path)
    machine.answer = answer
    with pytest.raises(NoData):
        machine.sampler().collect()
    supervisor = Supervisor(machine.sampler(), machine.config.samplers.boot)
    assert supervisor.run() == []
    assert supervisor.failures == 0


def test_no_boot_id_is_no_data(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    (machine.root / "proc/sys/kernel/random/boot_id").unlink()
    with pytest.raises(NoData):
        machine.sampler().collect()
    assert machine.calls == []


def test_without_btime_the_clock_stamps_the_sample(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.boot(BOOT_A, None)
    (sample,) = machine.sampler().collect()
    assert sample.ts == NOW


def test_unknown_output_is_a_failure_not_silence(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.answer = CommandResult(0, "Startup took a while\n")
    with pytest.raises(ParseError):
        machine.sampler().collect()
    assert machine.state.load("boot") == {}
