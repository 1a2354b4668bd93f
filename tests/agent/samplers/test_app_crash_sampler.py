"""app_crash sampler: high-water marks, first run, dedup across sources, memory, NoData."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.platform.logbatch import EPOCH, Batch, Entry
from dexpulse.agent.samplers.app_crash import AppCrashSampler
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.logmemory import (
    MAX_LOOKBACK,
    MAX_SEEN,
    Mark,
    cap_fairly,
    prepare,
    take,
)
from dexpulse.agent.state import StateStore
from dexpulse.schema import AgentHealthSample, SampleBase
from dexpulse.schema.events import AppCrashSample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def coredump(ts: datetime, pid: int, exe: str, sig: int = 11) -> dict[str, Any]:
    usec = (ts - EPOCH) // timedelta(microseconds=1)
    return {"time": usec, "pid": pid, "uid": 1000, "gid": 1000, "sig": sig,
            "corefile": "present", "exe": exe, "size": 4096}  # fmt: skip


def segfault(ts: datetime, comm: str, pid: int) -> str:
    return (
        f"{ts.isoformat(timespec='microseconds')} laptop kernel: {comm}[{pid}]: segfault at 8"
        " ip 00007f1c2a3b4c5d sp 00007ffd1e2f3a40 error 4 in"
        " libmutter-13.so.0[7f1c2a200000+1a0000]\n"
    )


class Machine:
    """Fake root + runner; commands are matched without their --since argument."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        self.root.mkdir()
        self.coredumps: list[dict[str, Any]] | None = None  # None: not installed
        self.coredump_text: str | None = None
        self.journal: str | None = None
        self.calls: list[tuple[str, ...]] = []
        self.host = Host(root=self.root, run=self.run)

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        if argv[0] == "coredumpctl" and self.coredumps is not None:
            if self.coredump_text is not None:
                return CommandResult(0, self.coredump_text)
            if not self.coredumps:
                return CommandResult(1, "")
            return CommandResult(0, json.dumps(self.coredumps))
        if argv[0] == "journalctl" and self.journal is not None:
            return CommandResult(0, self.journal)
        raise NoData(f"{argv[0]} is not installed")

    def since(self, tool: str) -> str:
        return [c for c in self.calls if c[0] == tool][-1][-1]

    def crash_dir(self) -> Path:
        path = self.root / "var/crash"
        path.mkdir(parents=True, exist_ok=True)
        return path


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


def sampler(machine: Machine, clock: Clock, tmp_path: Path) -> AppCrashSampler:
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")
    return AppCrashSampler(Context(machine.host, config, store, clock))


def crashes(samples: list[SampleBase]) -> list[AppCrashSample]:
    assert all(isinstance(s, AppCrashSample) for s in samples)
    return [s for s in samples if isinstance(s, AppCrashSample)]


def test_first_run_starts_one_interval_back(machine: Machine, clock: Clock, tmp_path: Path) -> None:
    machine.coredumps = [
        coredump(NOW - timedelta(hours=2), 100, "/usr/bin/old"),
        coredump(NOW - timedelta(seconds=20), 200, "/usr/bin/gedit"),
    ]
    (crash,) = crashes(sampler(machine, clock, tmp_path).collect())
    assert machine.since("coredumpctl") == f"--since=@{int((NOW - MINUTE).timestamp())}"
    assert (crash.app_name, crash.pid, crash.app_path) == ("gedit", 200, "/usr/bin/gedit")
    assert crash.report_id == f"coredump:{int((NOW - timedelta(seconds=20)).timestamp())}:200"


def test_each_crash_once_across_runs_and_restarts(
    machine: Machine, clock: Clock, tmp_path: Path
) -> None:
    machine.coredumps = [coredump(NOW - timedelta(seconds=20), 200, "/usr/bin/gedit")]
    first = sampler(machine, clock, tmp_path)
    assert len(first.collect()) == 1
    clock.now += MINUTE
    machine.coredumps.append(coredump(clock.now - timedelta(seconds=5), 300, "/usr/bin/eog"))
    assert [c.app_name for c in crashes(first.collect())] == ["eog"]
    # the mark trails the read by the overlap, rounded down to the second
    assert (
        machine.since("coredumpctl") == f"--since=@{int((NOW - timedelta(seconds=30)).timestamp())}"
    )
    clock.now += MINUTE
    assert first.collect() == []  # a quiet run also commits the previous one's state
    restarted = sampler(machine, clock, tmp_path)
    clock.now += MINUTE
    assert restarted.collect() == []


def test_state_is_committed_one_run_late(machine: Machine, clock: Clock, tmp_path: Path) -> None:
    machine.coredumps = [coredump(NOW - timedelta(seconds=20), 200, "/usr/bin/gedit")]
    assert len(sampler(machine, clock, tmp_path).collect()) == 1
    # that instance stopped before its next run (crash before spooling, or `agent once`):
    # the crash is reported again rather than lost
    again = sampler(machine, clock, tmp_path)
    assert [c.pid for c in crashes(again.collect())] == [200]


def test_an_emitting_run_commits_the_previous_one(
    machine: Machine, clock: Clock, tmp_path: Path
) -> None:
    machine.coredumps = [coredump(NOW - timedelta(seconds=20), 200, "/usr/bin/gedit")]
    first = sampler(machine, clock, tmp_path)
    assert len(first.collect()) == 1
    clock.now += timedelta(seconds=10)
    machine.coredumps.append(coredump(NOW + timedelta(seconds=5), 300, "/usr/bin/eog"))
    assert [c.pid for c in crashes(first.collect())] == [300]
    # stopped now: only the last run's crash is repeated by the next instance
    assert [c.pid for c in crashes(sampler(machine, clock, tmp_path).collect())] == [300]


def test_kernel_line_and_coredump_are_one_crash(
    machine: Machine, clock: Clock, tmp_path: Path
) -> None:
    crashed = NOW - timedelta(seconds=40)
    machine.journal = segfault(crashed, "gnome-shell", 2211)
    machine.coredumps = [coredump(crashed + timedelta(seconds=9), 2211, "/usr/bin/gnome-shell")]
    (crash,) = crashes(sampler(machine, clock, tmp_path).collect())
    assert crash.ts == crashed  # the earlier time: when it crashed, not when dumped
    assert crash.app_path == "/usr/bin/gnome-shell"  # from coredump
    assert crash.module_name == "libmutter-13.so.0"  # from the kernel line
    assert (crash.pid, crash.signal) == (2211, "SIGSEGV")
    assert crash.report_id is not None and crash.report_id.startswith("coredump:")


def test_a_faulting_thread_is_its_process(machine: Machine, clock: Clock, tmp_path: Path) -> None:
    crashed = NOW - timedelta(seconds=40)
    machine.journal = segfault(crashed, "gnome-shell", 2240)  # the thread id
    machine.coredumps = [coredump(crashed + timedelta(seconds=2), 2211, "/usr/bin/gnome-shell")]
    (crash,) = crashes(sampler(machine, clock, tmp_path).collect())
    assert (crash.pid, crash.module_name) == (2211, "libmutter-13.so.0")


def test_different_processes_stay_apart(machine: Machine, clock: Clock, tmp_path: Path) -> None:
    crashed = NOW - timedelta(seconds=40)
    machine.coredumps = [
        coredump(crashed, 2211, "/usr/bin/gnome-shell"),
        coredump(crashed + timedelta(seconds=1), 2300, "/usr/bin/gnome-shell"),
        coredump(crashed + timedelta(seconds=1), 2211, "/usr/bin/other"),
    ]
    assert len(sampler(machine, clock, tmp_path).collect()) == 3


def test_kernel_only_crash_is_held_for_its_core_dump(
    machine: Machine, clock: Clock, tmp_path: Path
) -> None:
    machine.journal = segfault(NOW - timedelta(seconds=10), "lact", 523318)
    machine.coredumps = []
    crash_sampler = sampler(machine, clock, tmp_path)
    assert crash_sampler.collect() == []  # held: a core dump may still be on its way
    clock.now += MINUTE
    assert crash_sampler.collect() == []
    clock.now += MINUTE
    (crash,) = crashes(crash_sampler.collect())
    assert (crash.app_name, crash.pid, crash.report_id) == ("lact", 523318, None)
    clock.now += MINUTE
    assert crash_sampler.collect() == []


def test_held_kernel_crash_survives_a_restart_and_merges(
    machine: Machine, clock: Clock, tmp_path: Path
) -> None:
    crashed = NOW - timedelta(seconds=10)
    machine.journal = segfault(crashed, "gnome-shell", 2211)
    machine.coredumps = []
    assert sampler(machine, clock, tmp_path).collect() == []
    clock.now += MINUTE
    machine.coredumps = [coredump(crashed + timedelta(seconds=55), 2211, "/usr/bin/gnome-shell")]
    (crash,) = crashes(sampler(machine, clock, tmp_path).collect())
    assert (crash.ts, crash.app_path, crash.module_name) == (
        crashed,
        "/usr/bin/gnome-shell",
        "libmutter-13.so.0",
    )


def test_apport_and_coredump_are_one_crash(machine: Machine, clock: Clock, tmp_path: Path) -> None:
    report = machine.crash_dir() / "_usr_bin_gnome-calculator.1000.crash"
    report.write_text(
        "ProblemType: Crash\nDate: Fri Nov 27 08:59:10 2026\n"
        "ExecutablePath: /usr/bin/gnome-calculator\n"
        "Package: gnome-calculator 1:46.1-1ubuntu1\nProcStatus:\n Pid:\t5150\nSignal: 11\n",
        encoding="utf-8",
    )
    stamp = (NOW - timedelta(seconds=40)).timestamp()
    os.utime(report, (stamp, stamp))
    machine.coredumps = [
        coredump(datetime(2026, 11, 27, 8, 59, 14, tzinfo=UTC), 5150, "/usr/bin/gnome-calculator")
    ]
    (crash,) = crashes(sampler(machine, clock, tmp_path).collect())
    assert crash.app_version == "1:46.1-1ubuntu1"  # apport
    assert crash.report_id == "coredump:1795769954:5150"  # coredump
    assert crash.ts == datetime(2026, 11, 27, 8, 59, 10, tzinfo=UTC)


def test_apport_only_new_reports(machine: Machine, clock: Clock, tmp_path: Path) -> None:
    directory = machine.crash_dir()
    text = "ProblemType: Crash\nExecutablePath: /usr/bin/{}\nSignal: 6\n"
    old = directory / "_usr_bin_old.1000.crash"
    old.write_text(text.format("old"), encoding="utf-8")
    stamp = (NOW - timedelta(days=3)).timestamp()
    os.utime(old, (stamp, stamp))
    crash_sampler = sampler(machine, clock, tmp_path)
    assert crash_sampler.collect() == []  # a report from before the first run
    clock.now += MINUTE
    (directory / "_usr_bin_new.1000.crash").write_text(text.format("new"), encoding="utf-8")
    stamp = (clock.now - timedelta(seconds=3)).timestamp()
    os.utime(directory / "_usr_bin_new.1000.crash", (stamp, stamp))
    (crash,) = crashes(crash_sampler.collect())
    assert (crash.app_name, crash.signal) == ("new", "SIGABRT")
    clock.now += MINUTE
    assert crash_sampler.collect() == []


def test_nodata_only_when_every_source_is_unavailable(
    machine: Machine, clock: Clock, tmp_path: Path
) -> None:
    with pytest.raises(NoData):
        sampler(machine, clock, tmp_path).collect()
    machine.crash_dir()  # apport is installed, nothing crashed
    assert sampler(machine, clock, tmp_path).collect() == []


def test_a_failing_source_is_reported_once_and_skipped(
    machine: Machine, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    machine.coredumps = []
    machine.coredump_text = "this is not JSON"
    machine.journal = segfault(NOW - timedelta(minutes=3), "lact", 7)  # before the first run
    crash_sampler = sampler(machine, clock, tmp_path)
    with caplog.at_level(logging.WARNING):
        (health,) = crash_sampler.collect()
    assert isinstance(health, AgentHealthSample)
    assert (health.component, health.status) == ("app_crash", "degraded")
    assert health.message is not None and "coredump" in health.message
    assert "source coredump failed" in caplog.text
    clock.now += MINUTE
    assert crash_sampler.collect() == []  # said once


def test_a_crash_loop_is_capped_fairly(
    machine: Machine, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start = NOW - timedelta(seconds=50)
    loop = [
        coredump(start + timedelta(milliseconds=i), 1000 + i, "/usr/bin/loop") for i in range(250)
    ]
    other = [coredump(start + timedelta(seconds=1), 9, "/usr/bin/other")]
    machine.coredumps = loop + other
    with caplog.at_level(logging.WARNING):
        out = crashes(sampler(machine, clock, tmp_path).collect())
    assert len(out) == 200
    assert "other" in {c.app_name for c in out}
    assert out == sorted(out, key=lambda c: c.ts)
    assert "dropping 51" in caplog.text


# -- the mark helpers -------------------------------------------------------------------------


def batch(keys: list[float], timeline: str = "wall", horizon: float | None = None) -> Batch:
    sample = AppCrashSample(ts=NOW, app_name="x")
    return Batch(timeline, [Entry(k, f"fp{k}", sample) for k in keys], horizon, EPOCH)


def test_prepare_clamps_the_floor() -> None:
    assert prepare(None, NOW, MINUTE)[1] == NOW - MINUTE
    ancient = Mark("wall", (NOW - timedelta(days=30) - EPOCH).total_seconds()).dump()
    assert prepare(ancient, NOW, MINUTE)[1] == NOW - MAX_LOOKBACK
    future = Mark("wall", (NOW + timedelta(hours=1) - EPOCH).total_seconds()).dump()
    assert prepare(future, NOW, MINUTE)[1] == NOW - MINUTE  # the clock went back
    assert prepare({"garbage": 1}, NOW, MINUTE)[0] is None
    assert prepare({"timeline": "wall", "floor": float("nan")}, NOW, MINUTE)[0] is None
    assert prepare({"timeline": "wall", "floor": 1e300}, NOW, MINUTE)[1] == NOW - MINUTE


def test_take_new_boot_starts_at_zero_and_seen_is_bounded() -> None:
    mark = Mark("boot:a", 500.0, {"fp600": 600.0})
    fresh, mark = take(mark, batch([5.0, 600.0], "boot:b", horizon=600.0), NOW, MINUTE)
    assert [e.key for e in fresh] == [5.0, 600.0]  # a new boot: all of it is new
    assert mark.timeline == "boot:b" and mark.floor == 570.0
    many = [float(k) for k in range(2 * MAX_SEEN)]
    fresh, mark = take(Mark("wall", 0.0), batch(many), NOW, MINUTE)
    assert len(fresh) == 2 * MAX_SEEN
    assert len(mark.seen) == MAX_SEEN and mark.floor == float(MAX_SEEN)
    fresh, _ = take(mark, batch(many), NOW, MINUTE)
    assert fresh == []  # the forgotten ones are below the raised floor


def test_cap_fairly_round_robin() -> None:
    items = ["a1", "a2", "a3", "a4", "b1", "c1", "c2"]
    assert cap_fairly(items, lambda s: s[0], 4) == ["a1", "a2", "b1", "c1"]
    assert cap_fairly(items, lambda s: s[0], 10) == items
