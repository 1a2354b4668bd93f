"""apport /var/crash/*.crash -> AppCrashSample."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.apport import parse_apport
from dexpulse.agent.parsers.signals import signal_name

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crashes" / "linux"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)
BERLIN = ParseContext(now=NOW, local_tz=ZoneInfo("Europe/Berlin"))

FULL_REPORT = """\
ProblemType: Crash
Architecture: amd64
Date: Wed Feb  5 06:51:02 2025
DistroRelease: Ubuntu 24.04
ExecutablePath: /usr/bin/gedit
ExecutableTimestamp: 1712345678
Package: gedit 46.2-1ubuntu1
ProcCmdline: gedit /home/user/notes.txt
ProcStatus:
 Name:\tgedit
 Umask:\t0002
 State:\tS (sleeping)
 Tgid:\t4321
 Ngid:\t0
 Pid:\t4321
 PPid:\t1
 TracerPid:\t0
Signal: 6
CoreDump: base64
 H4sICAAAAAAC/0NvcmVEdW1wAA==
 ExecutablePath: /must/not/be/read
 Signal: 11
SourcePackage: gedit
Stacktrace:
 #0  0x00007f8e5a89eb2c in __pthread_kill_implementation () from /lib/x86_64-linux-gnu/libc.so.6
 #1  0x00007f8e5a84527e in raise () from /lib/x86_64-linux-gnu/libc.so.6
Uname: Linux 6.8.0-45-generic x86_64
"""


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def test_format_registered() -> None:
    assert FORMATS["linux-apport"].parse is parse_apport
    assert FORMATS["linux-apport"].carries_time is True


def test_header_fixture() -> None:
    (crash,) = parse_apport(fixture("apport_crash_header_1"), BERLIN)
    assert crash.ts == datetime(2020, 4, 15, 21, 25, 1, tzinfo=UTC)  # 23:25:01 CEST
    assert (crash.app_name, crash.app_path) == ("gnome-shell", "/usr/bin/gnome-shell")
    assert (crash.signal, crash.pid, crash.app_version, crash.module_name) == (None,) * 4


def test_retraced_fixture_with_segv_analysis() -> None:
    (crash,) = parse_apport(fixture("apport_crash_segv_analysis_2"), BERLIN)
    assert crash.ts == datetime(2018, 7, 26, 20, 13, 47, tzinfo=UTC)
    assert (crash.app_name, crash.app_path) == ("compiz", "/usr/bin/compiz")
    assert crash.signal == "SIGSEGV"  # only SegvAnalysis says so: the paste snipped Signal
    assert crash.module_name is None  # frame #0 is "?? ()", no "from <library>"
    assert crash.app_version is None  # SourcePackage is a name, not a version


def test_full_report_skips_base64_and_reads_every_field() -> None:
    (crash,) = parse_apport(FULL_REPORT, CTX)
    assert crash.ts == datetime(2025, 2, 5, 6, 51, 2, tzinfo=UTC)
    assert (crash.app_name, crash.app_path) == ("gedit", "/usr/bin/gedit")
    assert crash.app_version == "46.2-1ubuntu1"
    assert (crash.signal, crash.pid) == ("SIGABRT", 4321)
    assert crash.module_name == "libc.so.6"


def test_crlf_report() -> None:
    (crash,) = parse_apport(FULL_REPORT.replace("\n", "\r\n"), CTX)
    assert (crash.app_path, crash.app_version, crash.signal, crash.pid) == (
        "/usr/bin/gedit",
        "46.2-1ubuntu1",
        "SIGABRT",
        4321,
    )


def test_large_core_dump_is_skipped_quickly() -> None:
    line = " " + base64.b64encode(bytes(range(256)) * 3000).decode() + "\n"  # ~1 MB a line
    text = FULL_REPORT.replace(" H4sICAAAAAAC/0NvcmVEdW1wAA==\n", line * 40)
    started = time.perf_counter()
    (crash,) = parse_apport(text, CTX)
    assert time.perf_counter() - started < 2.0
    assert crash.signal == "SIGABRT"


def test_package_not_installed_and_pid_field_and_cmdline_fallback() -> None:
    text = (
        "ProblemType: Crash\n"
        "Package: foo (not installed)\n"
        "ProcCmdline: /opt/foo/bin/foo --flag\n"
        "Pid: 99\n"
        "Signal: 35\n"
    )
    (crash,) = parse_apport(text, CTX)
    assert (crash.app_name, crash.app_path, crash.app_version) == ("foo", None, None)
    assert (crash.pid, crash.signal, crash.ts) == (99, "SIGRTMIN+1", NOW)


def test_package_with_origin_suffix() -> None:
    text = "ProblemType: Crash\nExecutablePath: /usr/bin/x\nPackage: x 1.2-3 [origin: unknown]\n"
    (crash,) = parse_apport(text, CTX)
    assert crash.app_version == "1.2-3"


@pytest.mark.parametrize("problem", ["Package", "KernelOops", "KernelCrash", "Bug"])
def test_other_problem_types_are_not_app_crashes(problem: str) -> None:
    text = f"ProblemType: {problem}\nDate: Wed Feb  5 06:51:02 2025\nPackage: linux 6.8\n"
    assert parse_apport(text, CTX) == []


def test_signal_names() -> None:
    assert [signal_name(n) for n in (11, 7, 4, 64, 99)] == [
        "SIGSEGV",
        "SIGBUS",
        "SIGILL",
        "SIGRTMIN+30",
        None,
    ]


def test_crash_without_any_executable() -> None:
    with pytest.raises(ParseError, match="names no executable"):
        parse_apport("ProblemType: Crash\nDate: Wed Feb  5 06:51:02 2025\n", CTX)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world\n",
        "E [05/Jun/2024:13:50:46 -0400] [Job 1026332] The printer is not responding.\n",
        "[   86.480463] usb 2-3: device descriptor read/64, error -71\n",
        " ProblemType: Crash\n",
    ],
)
def test_not_an_apport_report(text: str) -> None:
    with pytest.raises(ParseError, match="ProblemType"):
        parse_apport(text, CTX)
