"""Linux crash backend: coredumpctl, apport reports, the kernel log (journal and dmesg)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._linux import crashes
from dexpulse.agent.platform._linux.crashes import (
    COREDUMPCTL_JSON,
    COREDUMPCTL_TABLE,
    JOURNAL_KERNEL,
    apport_reports,
    coredumps,
    kernel_crashes,
    kernel_log,
    read_report_head,
)
from dexpulse.agent.platform.logbatch import local_zone
from dexpulse.schema.events import AppCrashSample, PeripheralFailureSample

FIXTURES = Path(__file__).parents[2] / "fixtures"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SINCE = NOW - timedelta(minutes=1)
SINCE_ARG = f"--since=@{int(SINCE.timestamp())}"
BERLIN = Path("/usr/share/zoneinfo/Europe/Berlin")


def fixture(area: str, case: str, ext: str = "txt") -> str:
    path = FIXTURES / area / "linux" / case / f"linux_{case}.{ext}"
    return path.read_text(encoding="utf-8")


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


# -- coredumpctl -----------------------------------------------------------------------------


def test_coredumps_json(machine: Machine) -> None:
    text = fixture("crashes", "coredumpctl_list_json_short_1", "json")
    machine.answer((*COREDUMPCTL_JSON, SINCE_ARG), text)
    batch = coredumps(machine.host, SINCE, NOW)
    assert machine.calls == [("coredumpctl", "-q", "--json=short", "list", SINCE_ARG)]
    assert batch.timeline == "wall" and batch.horizon == NOW.timestamp()
    first, second = batch.entries
    assert first.key == 1669548359.98374
    assert isinstance(first.sample, AppCrashSample)
    assert (first.sample.app_name, first.sample.pid, first.sample.signal) == (
        "bash",
        11218,
        "SIGSEGV",
    )
    assert second.sample.report_id == "coredump:1669585690:6755"
    assert first.fp != second.fp and len(first.fp) == 16
    assert coredumps(machine.host, SINCE, NOW).entries[0].fp == first.fp  # stable


def test_coredumps_empty_exit_1_is_no_crashes(machine: Machine) -> None:
    machine.answer((*COREDUMPCTL_JSON, SINCE_ARG), "", rc=1)
    assert coredumps(machine.host, SINCE, NOW).entries == []


def test_coredumps_not_permitted_is_nodata(machine: Machine) -> None:
    why = "No journal files were opened due to insufficient permissions."
    machine.answer((*COREDUMPCTL_JSON, SINCE_ARG), "", rc=1, stderr=why)
    with pytest.raises(NoData, match="insufficient permissions"):
        coredumps(machine.host, SINCE, NOW)


def test_coredumps_not_installed_is_nodata(machine: Machine) -> None:
    with pytest.raises(NoData, match="not installed"):
        coredumps(machine.host, SINCE, NOW)


def test_coredumps_old_systemd_reads_the_table(machine: Machine) -> None:
    machine.answer(
        (*COREDUMPCTL_JSON, SINCE_ARG), "", rc=1, stderr="unrecognized option '--json=short'"
    )
    table = "Thu 2026-11-27 09:58:30 CET 4242 1000 1000 SIGABRT present /usr/bin/gedit 1.2M\n"
    machine.answer((*COREDUMPCTL_TABLE, SINCE_ARG), table)
    (machine.root / "etc").mkdir()
    (machine.root / "etc/localtime").symlink_to(BERLIN)
    (entry,) = coredumps(machine.host, SINCE, NOW).entries
    assert entry.sample.ts == datetime(2026, 11, 27, 8, 58, 30, tzinfo=UTC)  # CET = UTC+1
    assert (entry.sample.app_name, entry.sample.signal) == ("gedit", "SIGABRT")


def test_local_zone_defaults_to_utc(machine: Machine) -> None:
    assert local_zone(machine.host) is UTC
    (machine.root / "etc").mkdir()
    shutil.copy(BERLIN, machine.root / "etc/localtime")  # a copy, not a link, works too
    assert datetime(2026, 7, 1, tzinfo=local_zone(machine.host)).utcoffset() == timedelta(hours=2)


# -- apport ----------------------------------------------------------------------------------

REPORT = """ProblemType: Crash
Architecture: amd64
CoreDump: base64
 H4sICAAAAAAC/0NvcmVEdW1wAA==
 U2lnbmFsOiA5OQo=
Date: Fri Nov 27 09:59:10 2026
ExecutablePath: /usr/bin/gnome-calculator
Package: gnome-calculator 1:46.1-1ubuntu1
ProcStatus:
 Name:\tgnome-calculat
 Pid:\t5150
Signal: 11
"""


def test_apport_reads_new_reports(machine: Machine) -> None:
    header = fixture("crashes", "apport_crash_header_1")
    machine.file("/var/crash/_usr_bin_gnome-shell.121.crash", header, NOW - timedelta(hours=2))
    text = REPORT.replace(
        "CoreDump: base64\n H4sICAAAAAAC/0NvcmVEdW1wAA==\n U2lnbmFsOiA5OQo=\n", ""
    )
    machine.file(
        "/var/crash/_usr_bin_gnome-calculator.1000.crash", text, NOW - timedelta(seconds=5)
    )
    machine.file("/var/crash/_usr_bin_gnome-calculator.1000.upload", "", NOW)
    (machine.root / "etc").mkdir()
    (machine.root / "etc/localtime").symlink_to(BERLIN)
    batch = apport_reports(machine.host, SINCE, NOW)
    (entry,) = batch.entries  # the two-hour-old report is before `since`
    sample = entry.sample
    assert isinstance(sample, AppCrashSample)
    assert entry.key == (NOW - timedelta(seconds=5)).timestamp()
    assert sample.ts == datetime(2026, 11, 27, 8, 59, 10, tzinfo=UTC)
    assert (sample.app_name, sample.app_version, sample.pid, sample.signal) == (
        "gnome-calculator",
        "1:46.1-1ubuntu1",
        5150,
        "SIGSEGV",
    )


def test_apport_head_stops_at_the_first_attachment(tmp_path: Path) -> None:
    path = tmp_path / "r.crash"
    path.write_text(REPORT, encoding="utf-8")
    head = read_report_head(path)
    assert head == "ProblemType: Crash\nArchitecture: amd64\n"
    path.write_text("ProblemType: Crash\nProcMaps: " + "x" * 200_000 + "\nSignal: 6\n")
    head = read_report_head(path)
    assert head.endswith("\nSignal: 6\n") and len(head) < 70_000  # long line cut, rest kept
    assert len(read_report_head(path, limit=100)) < 70_000


def test_apport_missing_directory_is_nodata(machine: Machine) -> None:
    with pytest.raises(NoData, match="apport is not installed"):
        apport_reports(machine.host, SINCE, NOW)


def test_apport_unreadable_reports_are_nodata(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine.file("/var/crash/_usr_bin_x.1000.crash", REPORT, NOW)

    def denied(path: Path, limit: int = 0) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(crashes, "read_report_head", denied)
    with pytest.raises(NoData, match="not permitted"):
        apport_reports(machine.host, SINCE, NOW)


def test_apport_skips_half_written_reports(machine: Machine) -> None:
    machine.file("/var/crash/_usr_bin_x.1000.crash", "", NOW)
    assert apport_reports(machine.host, SINCE, NOW).entries == []


# -- kernel log ------------------------------------------------------------------------------

JOURNAL = (
    "2026-11-27T09:59:01.100000+01:00 laptop kernel: usb 2-3: device descriptor read/64,"
    " error -71\n"
    "2026-11-27T09:59:02.250000+01:00 laptop kernel: gnome-shell[2211]: segfault at 8 ip"
    " 00007f1c2a3b4c5d sp 00007ffd1e2f3a40 error 4 in libmutter-13.so.0[7f1c2a200000+1a0000]\n"
    "2026-11-27T09:59:02.250100+01:00 laptop kernel: Code: 48 8b 07 <48> 8b 40 08\n"
)


def test_kernel_log_from_the_journal(machine: Machine) -> None:
    machine.answer((*JOURNAL_KERNEL, SINCE_ARG), JOURNAL)
    batch = kernel_log(machine.host, SINCE, NOW)
    assert machine.calls[0][:2] == ("journalctl", "_TRANSPORT=kernel")
    usb, crash = batch.entries
    assert isinstance(usb.sample, PeripheralFailureSample)
    assert isinstance(crash.sample, AppCrashSample)
    assert crash.key == datetime(2026, 11, 27, 8, 59, 2, 250000, tzinfo=UTC).timestamp()
    assert (crash.sample.app_name, crash.sample.pid) == ("gnome-shell", 2211)
    only = kernel_crashes(machine.host, SINCE, NOW)
    assert [e.sample for e in only.entries] == [crash.sample]


def test_kernel_log_empty_and_not_permitted(machine: Machine) -> None:
    machine.answer((*JOURNAL_KERNEL, SINCE_ARG), "")
    assert kernel_log(machine.host, SINCE, NOW).entries == []
    machine.answer((*JOURNAL_KERNEL, SINCE_ARG), "", rc=1, stderr="No journal files were opened")
    with pytest.raises(NoData, match="journalctl exited 1"):
        kernel_log(machine.host, SINCE, NOW)


def test_kernel_log_falls_back_to_dmesg(machine: Machine) -> None:
    booted = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    machine.file("/proc/stat", f"cpu  1 2 3\nbtime {int(booted.timestamp())}\n")
    machine.file("/proc/sys/kernel/random/boot_id", "6F1C0B5E-0000-4000-8000-000000000001\n")
    machine.answer(("dmesg",), fixture("peripherals", "dmesg_usb_enum_error71_xhci_1"))
    batch = kernel_log(machine.host, SINCE, NOW)
    assert ("dmesg",) in machine.calls
    assert batch.timeline == "boot:6f1c0b5e-0000-4000-8000-000000000001"
    assert batch.origin == booted
    first = batch.entries[0]
    assert first.key == pytest.approx(86.480463)
    assert first.sample.ts == booted + timedelta(seconds=86.480463)
    assert batch.horizon == max(e.key for e in batch.entries)
    assert kernel_crashes(machine.host, SINCE, NOW).entries == []  # only USB lines here


def test_dmesg_restricted_is_nodata(machine: Machine) -> None:
    machine.answer(("dmesg",), "", rc=1, stderr="dmesg: read kernel buffer failed: EPERM")
    with pytest.raises(NoData, match="dmesg exited 1"):
        kernel_log(machine.host, SINCE, NOW)
