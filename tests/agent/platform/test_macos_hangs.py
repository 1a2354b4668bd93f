"""macOS hang backend: spindump reports in the system's and users' DiagnosticReports, and the
app_hang sampler over it (reports are hand-written in the layout of public ones, see
tests/agent/parsers/test_parse_spindump.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakehost import Machine as FakeMachine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._macos import crashes, hangs
from dexpulse.agent.platform._macos.hangs import SOURCES, system_hangs, user_hangs
from dexpulse.agent.samplers.app_crash import AppCrashSampler
from dexpulse.agent.samplers.app_hang import AppHangSampler
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.state import StateStore
from dexpulse.schema.events import AppHangSample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SINCE = NOW - timedelta(minutes=5)
SYSTEM = "/Library/Logs/DiagnosticReports"
ALICE = "/Users/alice/Library/Logs/DiagnosticReports"


def report(
    app: str = "Ledger", pid: int = 4242, when: str = "2026-11-27 09:58:00.250 +0100"
) -> str:
    return (
        f"Date/Time:        {when}\n"
        "OS Version:       macOS 14.6.1 (Build 23G93)\n"
        "Incident Identifier: 5D1E2C3B-4A59-4687-9E0F-A1B2C3D4E5F6\n\n"
        f"Command:          {app}\n"
        f"Path:             /Applications/{app}.app/Contents/MacOS/{app}\n"
        "Version:          4.2.1 (4210)\n"
        f"PID:              {pid}\n\n"
        "Event:            hang\n"
        "Duration:         6.50s\n"
        "Steps:            45 (100ms sampling interval)\n\n"
        f"Process:          {app} [{pid}]\n"
        "Note:             Unresponsive for 2 seconds before sampling\n\n"
        "  Thread 0x1    45 samples (1-45)\n"
        "  45  start + 1 (dyld + 1) [0x1]\n"
    )


IPS_HEADER = '{"bug_type":"XYZ","app_name":"Ledger","timestamp":"2026-11-27 09:58:00.00 +0100"}\n'
STACKSHOT = '{"bug_type":"288","timestamp":"2026-11-27 09:58:00.00 +0100"}\n{"processByPid":{}}\n'
CRASH = '{"bug_type":"309","app_name":"Ledger"}\n{\n  "pid" : 4242,\n  "procName" : "Ledger"\n}\n'


class Machine(FakeMachine):
    def file(self, path: str, text: str, mtime: datetime | None = NOW) -> Path:
        return super().file(path, text, mtime)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def context(machine: Machine, tmp_path: Path, clock: list[datetime]) -> Context:
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")
    return Context(machine.host, config, store, lambda: clock[0])


def only(batch: hangs.Batch) -> AppHangSample:
    (entry,) = batch.entries
    assert isinstance(entry.sample, AppHangSample)
    return entry.sample


def test_system_hang_report(machine: Machine) -> None:
    written = NOW - timedelta(minutes=1)
    machine.file(f"{SYSTEM}/Ledger_2026-11-27-095800_mac.hang", report(), written)
    batch = system_hangs(machine.host, SINCE, NOW)
    assert batch.timeline == "wall"
    assert batch.horizon == NOW.timestamp()
    assert batch.entries[0].key == written.timestamp()
    sample = only(batch)
    assert (sample.app_name, sample.pid, sample.app_version) == ("Ledger", 4242, "4.2.1")
    assert sample.hang_duration_s == 6.5
    assert sample.ts == datetime(2026, 11, 27, 8, 58, 0, 250000, tzinfo=UTC)


def test_spin_and_ips_forms_and_what_is_skipped(machine: Machine) -> None:
    machine.file(f"{ALICE}/Ledger_2026-11-27-095800_mac.spin", report(pid=1))
    machine.file(f"{ALICE}/Ledger-2026-11-27-095801.ips", IPS_HEADER + report(pid=2))
    cpu = report(pid=3).replace("Event:            hang", "Event:            cpu usage")
    machine.file(f"{ALICE}/Ledger.cpu_resource-2026-11-27-095802.ips", IPS_HEADER + cpu)
    machine.file(f"{ALICE}/stacks-2026-11-27-095803.ips", STACKSHOT)
    machine.file(f"{ALICE}/Ledger-2026-11-27-095804.ips", CRASH)
    machine.file(f"{ALICE}/Odd-2026-11-27-095805.ips", '{"bug_type":"999"}\n{\n "x": 1\n}\n')
    machine.file(f"{ALICE}/NotJson-2026-11-27-095806.ips", "garbage\n")
    machine.file(f"{ALICE}/Half_2026-11-27-095807_mac.hang", "Date/Time:  2026-11-27")
    machine.file(f"{ALICE}/Old_2026-11-26-095800_mac.hang", report(pid=9), NOW - timedelta(days=1))
    machine.file(f"{ALICE}/Retired/Ledger_2026-11-27-095800_mac.hang", report(pid=8))
    machine.file(f"{ALICE}/Ledger-2026-11-27-095800.crash", report(pid=7))  # not a hang file
    batch = user_hangs(machine.host, SINCE, NOW)
    assert sorted(e.sample.pid for e in batch.entries) == [1, 2]  # type: ignore[attr-defined]
    assert len({e.fp for e in batch.entries}) == 2


def test_only_the_head_of_a_huge_report_is_read(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hangs, "HEAD_BYTES", 2048)
    stacks = "".join(f"Process: daemon{i} [{i}]\n  1  x + 1 (y + 1) [0x1]\n\n" for i in range(9999))
    machine.file(f"{SYSTEM}/Ledger_2026-11-27-095800_mac.hang", report() + stacks)
    assert only(system_hangs(machine.host, SINCE, NOW)).app_name == "Ledger"


def test_fingerprint_is_stable(machine: Machine) -> None:
    machine.file(f"{SYSTEM}/Ledger_2026-11-27-095800_mac.hang", report())
    first = system_hangs(machine.host, SINCE, NOW)
    again = system_hangs(machine.host, SINCE, NOW + timedelta(minutes=1))
    assert first.entries[0].fp == again.entries[0].fp


def test_missing_folders_and_unreadable_reports(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(NoData, match="does not exist"):
        system_hangs(machine.host, SINCE, NOW)
    (machine.root / "Users" / "alice").mkdir(parents=True)
    with pytest.raises(NoData, match="no listable"):
        user_hangs(machine.host, SINCE, NOW)
    machine.file(f"{SYSTEM}/Ledger_2026-11-27-095800_mac.hang", report())

    def denied(path: Path, ctx: object) -> list[AppHangSample]:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(hangs, "_read_hang", denied)
    with pytest.raises(NoData, match="not permitted"):
        system_hangs(machine.host, SINCE, NOW)


def test_crash_backend_ignores_hang_reports(machine: Machine) -> None:
    machine.file(f"{SYSTEM}/Ledger_2026-11-27-095800_mac.hang", report())
    machine.file(f"{SYSTEM}/Ledger-2026-11-27-095801.ips", IPS_HEADER + report())
    assert crashes.system_reports(machine.host, SINCE, NOW).entries == []


def test_app_hang_sampler_reports_each_hang_once(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sampler -> macOS backend -> parser: two runs and a restart report the hang once; a new
    report is reported on the run after it is written."""
    monkeypatch.setattr(platform, "area", lambda name: {"hangs": hangs}[name])
    machine.file(
        f"{SYSTEM}/Ledger_2026-11-27-095800_mac.hang", report(), NOW - timedelta(seconds=30)
    )
    clock = [NOW]
    ctx = context(machine, tmp_path, clock)
    first = AppHangSampler(ctx)
    (sample,) = first.collect()
    assert isinstance(sample, AppHangSample)
    assert (sample.app_name, sample.pid, sample.hang_duration_s) == ("Ledger", 4242, 6.5)
    clock[0] += timedelta(minutes=1)
    assert first.collect() == []  # a quiet run commits the previous one's state
    clock[0] += timedelta(minutes=1)
    restarted = AppHangSampler(ctx)
    assert restarted.collect() == []  # remembered across a restart
    clock[0] += timedelta(minutes=1)
    later = clock[0] - timedelta(seconds=5)
    machine.file(f"{ALICE}/Ledger_2026-11-27-100200_mac.hang", report(pid=5), later)
    (new,) = restarted.collect()  # the user folder's first read: its last interval counts
    assert isinstance(new, AppHangSample) and new.pid == 5
    clock[0] += timedelta(minutes=1)
    assert restarted.collect() == []


def test_app_hang_sampler_nodata_without_folders(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", lambda name: {"hangs": hangs}[name])
    assert set(SOURCES) == {"system", "user"}
    with pytest.raises(NoData):
        AppHangSampler(context(machine, tmp_path, [NOW])).collect()


def test_app_crash_sampler_is_not_fed_hangs(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", lambda name: {"crashes": crashes}[name])
    machine.file(
        f"{SYSTEM}/Ledger_2026-11-27-095800_mac.hang", report(), NOW - timedelta(seconds=5)
    )
    (machine.root / "Users" / "alice").mkdir(parents=True)
    assert AppCrashSampler(context(machine, tmp_path, [NOW])).collect() == []
