"""macOS crash backend: .ips and .crash reports in the system's and users' DiagnosticReports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakehost import Machine as FakeMachine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._macos import crashes
from dexpulse.agent.platform._macos.crashes import SOURCES, system_reports, user_reports
from dexpulse.agent.samplers.app_crash import AppCrashSampler
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.state import StateStore
from dexpulse.schema.events import AppCrashSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crashes" / "macos"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SINCE = NOW - timedelta(minutes=5)
IPS = (FIXTURES / "ips_crash_309_macos15_1" / "macos_ips_crash_309_macos15_1.ips").read_text(
    encoding="utf-8"
)
CRASH = (
    FIXTURES / "crash_translated_text_from_ips_1" / "macos_crash_translated_text_from_ips_1.txt"
).read_text(encoding="utf-8")
SYSTEM = "/Library/Logs/DiagnosticReports"
ALICE = "/Users/alice/Library/Logs/DiagnosticReports"
JETSAM = (
    '{"bug_type":"298","timestamp":"2026-11-27 08:58:00.00 +0000","os_version":"macOS 15.2"}\n'
    '{\n  "largestProcess" : "Safari"\n}\n'
)
# hand-made from the documented .ips layout: a Jetsam event's header line and a stub body


class Machine(FakeMachine):
    def file(self, path: str, text: str, mtime: datetime | None = NOW) -> Path:
        return super().file(path, text, mtime)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def context(machine: Machine, tmp_path: Path, clock: list[datetime] | None = None) -> Context:
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")
    times = clock if clock is not None else [NOW]
    return Context(machine.host, config, store, lambda: times[0])


def only(batch: crashes.Batch) -> AppCrashSample:
    (entry,) = batch.entries
    assert isinstance(entry.sample, AppCrashSample)
    return entry.sample


def test_system_ips_report(machine: Machine) -> None:
    written = NOW - timedelta(minutes=1)
    machine.file(f"{SYSTEM}/Transit-2025-02-01-184601.ips", IPS, written)
    batch = system_reports(machine.host, SINCE, NOW)
    assert batch.timeline == "wall"
    assert batch.horizon == NOW.timestamp()
    assert batch.entries[0].key == written.timestamp()
    sample = only(batch)
    assert sample.app_name == "Transit"
    assert sample.app_version == "5.17.10"
    assert sample.pid == 27589
    assert sample.exception_code == "EXC_BREAKPOINT"
    assert sample.signal == "SIGTRAP"
    assert sample.module_name == "Transit.debug.dylib"
    assert sample.report_id == "6D7FEBB5-F462-49B5-B498-6D5C30B8212A"
    assert sample.ts == datetime(2025, 2, 1, 23, 45, 54, 67600, tzinfo=UTC)


def test_user_crash_report_and_fingerprint_is_stable(machine: Machine) -> None:
    machine.file(f"{ALICE}/Transit_2025-02-01-184554_mac.crash", CRASH)
    first = user_reports(machine.host, SINCE, NOW)
    again = user_reports(machine.host, SINCE, NOW + timedelta(minutes=1))
    assert only(first).module_name == "Transit.debug.dylib"
    assert first.entries[0].fp == again.entries[0].fp


def test_only_new_crash_files_are_read(machine: Machine) -> None:
    machine.file(f"{SYSTEM}/Old-2026-11-26.ips", IPS, NOW - timedelta(days=1))
    machine.file(f"{SYSTEM}/App-2026-11-27.hang", CRASH, NOW)  # no parser for spindump text yet
    machine.file(f"{SYSTEM}/App-2026-11-27.spin", CRASH, NOW)
    machine.file(f"{SYSTEM}/JetsamEvent-2026-11-27-085800.ips", JETSAM, NOW)
    machine.file(f"{SYSTEM}/Retired/Transit-2026-11-27.ips", IPS, NOW)
    machine.file(f"{SYSTEM}/Half-2026-11-27.ips", IPS[:300], NOW)  # still being written
    assert system_reports(machine.host, SINCE, NOW).entries == []


def test_oversized_report_is_skipped(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine.file(f"{SYSTEM}/Transit.ips", IPS)
    monkeypatch.setattr(crashes, "MAX_REPORT_BYTES", len(IPS.encode()) - 1)
    assert system_reports(machine.host, SINCE, NOW).entries == []


def test_every_users_folder_is_read(machine: Machine) -> None:
    machine.file(f"{ALICE}/Transit-2025-02-01-184601.ips", IPS)
    machine.file("/Users/bob/Library/Logs/DiagnosticReports/Transit.crash", CRASH)
    (machine.root / "Users" / "Shared").mkdir()
    (machine.root / "Users" / "carol").mkdir()  # no DiagnosticReports folder yet
    batch = user_reports(machine.host, SINCE, NOW)
    assert len(batch.entries) == 2
    assert len({e.fp for e in batch.entries}) == 2


def test_missing_folders_are_nodata(machine: Machine) -> None:
    with pytest.raises(NoData, match="does not exist"):
        system_reports(machine.host, SINCE, NOW)
    (machine.root / "Users" / "alice").mkdir(parents=True)
    with pytest.raises(NoData, match="no listable"):
        user_reports(machine.host, SINCE, NOW)


def test_unreadable_reports_are_nodata(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine.file(f"{SYSTEM}/Transit.ips", IPS)

    def denied(path: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(crashes, "_not_a_crash", denied)
    with pytest.raises(NoData, match="not permitted"):
        system_reports(machine.host, SINCE, NOW)


def test_app_crash_sampler_over_macos_backend(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sampler -> macOS backend -> parser: the .ips and its .crash twin are one crash, and a
    restarted sampler does not report it again."""
    monkeypatch.setattr(platform, "area", lambda name: {"crashes": crashes}[name])
    machine.file(f"{SYSTEM}/Transit-2025-02-01-184601.ips", IPS, NOW - timedelta(seconds=30))
    machine.file(f"{ALICE}/Transit_2025-02-01-184554_mac.crash", CRASH, NOW - timedelta(seconds=20))
    clock = [NOW]
    ctx = context(machine, tmp_path, clock)
    first = AppCrashSampler(ctx)
    (sample,) = first.collect()
    assert isinstance(sample, AppCrashSample)
    assert (sample.app_name, sample.pid, sample.signal) == ("Transit", 27589, "SIGTRAP")
    assert sample.exception_code == "EXC_BREAKPOINT"
    clock[0] += timedelta(minutes=1)
    assert first.collect() == []  # a quiet run commits the previous one's state
    clock[0] += timedelta(minutes=1)
    assert AppCrashSampler(ctx).collect() == []  # restarted: remembered


def test_app_crash_sampler_nodata_without_folders(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", lambda name: {"crashes": crashes}[name])
    assert set(SOURCES) == {"system", "user"}
    with pytest.raises(NoData):
        AppCrashSampler(context(machine, tmp_path)).collect()
