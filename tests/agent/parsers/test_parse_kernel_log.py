"""Kernel log -> AppCrashSample (segfaults, traps) and PeripheralFailureSample (USB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.kernel_log import parse_kernel_log
from dexpulse.schema.events import AppCrashSample, PeripheralFailureSample

FIXTURES = Path(__file__).parents[2] / "fixtures"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)
BERLIN = ParseContext(now=NOW, year=2025, local_tz=ZoneInfo("Europe/Berlin"))
BOOT = datetime(2025, 10, 14, 8, 0, tzinfo=UTC)
BOOTED = ParseContext(now=NOW, boot_time=BOOT)


def fixture(area: str, case: str) -> str:
    return (FIXTURES / area / "linux" / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def crashes(samples: list[Any]) -> list[AppCrashSample]:
    assert all(isinstance(s, AppCrashSample) for s in samples)
    return samples


def failures(samples: list[Any]) -> list[PeripheralFailureSample]:
    assert all(isinstance(s, PeripheralFailureSample) for s in samples)
    return samples


def test_format_registered() -> None:
    assert FORMATS["linux-kernel-log"].parse is parse_kernel_log
    assert FORMATS["linux-kernel-log"].carries_time is True


def test_segfault_fixture_dmesg_human() -> None:
    first, second = crashes(parse_kernel_log(fixture("crashes", "kernel_segfault_lines_1"), BERLIN))
    minute = datetime(2025, 2, 5, 5, 51, tzinfo=UTC)  # [Feb 5 06:51] Berlin, placed at :00
    assert first.ts == minute
    assert (first.app_name, first.pid, first.signal) == ("lact", 523318, "SIGSEGV")
    assert first.module_name == "libc.so.6"
    assert second.ts == minute + timedelta(seconds=0.000018 + 0.623788)
    assert (second.app_name, second.pid, second.module_name) == ("lact", 523329, "libc.so.6")
    assert first.app_path is None and first.app_version is None


def test_usb_error71_fixture_with_boot_time() -> None:
    samples = failures(
        parse_kernel_log(fixture("peripherals", "dmesg_usb_enum_error71_xhci_1"), BOOTED)
    )
    assert [(s.device_id, s.error) for s in samples] == [
        ("2-3", "error -71"),  # descriptor read/64
        ("2-3", "error -71"),
        ("2-3", "error -71"),  # not accepting address 4
        ("2-3", "error -71"),  # not accepting address 5
        ("2-3", "enumeration_failed"),  # usb usb2-port3: unable to enumerate USB device
        ("2-3", "error -71"),
    ]
    assert {s.device_class for s in samples} == {"usb"}
    assert samples[0].ts == BOOT + timedelta(seconds=86.480463)
    assert samples[4].ts == BOOT + timedelta(seconds=88.136789)
    assert samples[4].message == "[   88.136789] usb usb2-port3: unable to enumerate USB device"
    assert samples[2].message == "[   87.608423] usb 2-3: device not accepting address 4, error -71"


def test_usb_error71_fixture_without_boot_time_uses_now() -> None:
    samples = parse_kernel_log(fixture("peripherals", "dmesg_usb_enum_error71_xhci_1"), CTX)
    assert len(samples) == 6
    assert {s.ts for s in samples} == {NOW}


def test_usb_error32_fixture_behind_a_hub() -> None:
    samples = failures(
        parse_kernel_log(fixture("peripherals", "dmesg_usb_enum_error32_dwc_otg_3"), BOOTED)
    )
    assert [(s.device_id, s.error) for s in samples] == [("1-1.3.2", "error -32")] * 5
    assert samples[-1].ts == BOOT + timedelta(seconds=70.661591)
    assert samples[-1].vendor_id is None  # the idVendor line is the hub's, not this device's


def test_journal_short_segfault_with_space_in_comm() -> None:
    text = (
        "Feb 05 06:51:02 laptop kernel: Web Content[4242]: segfault at 0 ip 00007f3a1c2b"
        " sp 00007ffd1234 error 6 in libxul.so[7f3a10000000+5a00000] likely on CPU 3"
        " (core 1, socket 0)\n"
        "Feb 05 06:51:02 laptop kernel: Code: Unable to access opcode bytes at 0x7f3a1c2a.\n"
    )
    (crash,) = crashes(parse_kernel_log(text, BERLIN))
    assert (crash.app_name, crash.pid, crash.module_name) == ("Web Content", 4242, "libxul.so")
    assert crash.ts == datetime(2025, 2, 5, 5, 51, 2, tzinfo=UTC)


def test_old_kernel_segfault_without_module() -> None:
    text = "[ 5.000000] a.out[777]: segfault at 0 ip 0000000000000000 sp 00007ffc error 14\n"
    (crash,) = crashes(parse_kernel_log(text, BOOTED))
    assert (crash.app_name, crash.pid, crash.module_name) == ("a.out", 777, None)
    assert crash.ts == BOOT + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("what", "signal"),
    [
        ("general protection fault", "SIGSEGV"),
        ("trap invalid opcode", "SIGILL"),
        ("trap divide error", "SIGFPE"),
        ("trap stack segment", "SIGBUS"),
        ("trap something new", None),
    ],
)
def test_traps_iso_journal(what: str, signal: str | None) -> None:
    text = (
        f"2025-02-05T06:51:02+0100 laptop kernel: traps: chrome[1234] {what}"
        " ip:55d0c0ffee00 sp:7ffd00001000 error:0 in chrome[55d0c0000000+a000000]\n"
    )
    (crash,) = crashes(parse_kernel_log(text, CTX))
    assert (crash.app_name, crash.pid, crash.signal) == ("chrome", 1234, signal)
    assert crash.module_name == "chrome"
    assert crash.ts == datetime(2025, 2, 5, 5, 51, 2, tzinfo=UTC)


def test_kern_log_keeps_syslog_time_over_inner_dmesg_stamp() -> None:
    text = (
        "Feb  5 06:51:02 laptop kernel: [ 1234.567890] usb 3-2: device descriptor read/all,"
        " error -110\n"
    )
    (failure,) = failures(parse_kernel_log(text, BERLIN))
    assert (failure.device_id, failure.error) == ("3-2", "error -110")
    assert failure.ts == datetime(2025, 2, 5, 5, 51, 2, tzinfo=UTC)
    assert failure.message == text.strip()


def test_dmesg_ctime_and_decode_prefix() -> None:
    text = (
        "kern  :err   : [Wed Feb  5 06:51:02 2025] usb 1-1: device not accepting address 9,"
        " error -32\n"
        "kern  :info  : [Wed Feb  5 06:51:03 2025] usb 1-1: new high-speed USB device number 10\n"
    )
    (failure,) = failures(parse_kernel_log(text, BERLIN))
    assert (failure.device_id, failure.error) == ("1-1", "error -32")
    assert failure.ts == datetime(2025, 2, 5, 5, 51, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "device_id", "error"),
    [
        ("usb usb1-port2: over-current condition", "1-2", "over_current"),
        ("usb 1-1.3-port2: Cannot enable. Maybe the USB cable is bad?", "1-1.3.2", "cannot_enable"),
        ("hub 1-0:1.0: over-current change on port 1", "1-1", "over_current"),
        ("hub 2-0:1.0: over-current condition", "2-0:1.0", "over_current"),
        (
            "hub 1-1.3:1.0: unable to enumerate USB device on port 2",
            "1-1.3.2",
            "enumeration_failed",
        ),
        ("hub 1-0:1.0: Cannot enable port 4.  Maybe the USB cable is bad?", "1-4", "cannot_enable"),
        ("usb 1-1: device descriptor read/8, error -71", "1-1", "error -71"),
    ],
)
def test_usb_variants(line: str, device_id: str, error: str) -> None:
    (failure,) = failures(parse_kernel_log(f"[  100.000001] {line}\n", BOOTED))
    assert (failure.device_class, failure.device_id, failure.error) == ("usb", device_id, error)


def test_printk_caller_id_and_notime_lines() -> None:
    with_caller = "[  100.000001][ T1234] usb 2-1: device descriptor read/64, error -110\n"
    (failure,) = failures(parse_kernel_log(with_caller, BOOTED))
    assert failure.device_id == "2-1"
    # dmesg -t: no stamp at all; a known message is still taken, at ctx.now
    (bare,) = parse_kernel_log("usb 2-1: device descriptor read/64, error -71\n", CTX)
    assert bare.ts == NOW


def test_journal_short_monotonic() -> None:
    text = "[   86.480463] laptop kernel: usb 2-3: device descriptor read/64, error -71\n"
    (failure,) = failures(parse_kernel_log(text, BOOTED))
    assert (failure.device_id, failure.ts) == ("2-3", BOOT + timedelta(seconds=86.480463))


def test_retry_chatter_is_not_a_failure() -> None:
    text = (
        "[   87.196520] usb 2-3: Device not responding to setup address.\n"
        "[   86.809522] usb usb2-port3: attempt power cycle\n"
        "[   87.608513] usb 2-3: WARN: invalid context state for evaluate context command.\n"
        "[   68.262202] usb 1-1.3: New USB device found, idVendor=1a40, idProduct=0101\n"
    )
    assert parse_kernel_log(text, BOOTED) == []


def test_other_programs_lines_are_skipped() -> None:
    text = (
        "Feb  5 06:51:01 laptop bluetoothd[731]: usb 1-1: device descriptor read/64, error -71\n"
        "Feb  5 06:51:02 laptop kernel: usb 1-2: device descriptor read/64, error -71\n"
    )
    (failure,) = failures(parse_kernel_log(text, BERLIN))
    assert failure.device_id == "1-2"


def test_crlf_and_command_line() -> None:
    text = "$ dmesg\r\n[   86.480463] usb 2-3: device descriptor read/64, error -71\r\n\r\n"
    (failure,) = failures(parse_kernel_log(text, BOOTED))
    assert failure.message == "[   86.480463] usb 2-3: device descriptor read/64, error -71"


def test_nothing_of_interest() -> None:
    text = "[    0.000000] Linux version 6.8.0-45-generic\n[    0.000000] Command line: ro quiet\n"
    assert parse_kernel_log(text, CTX) == []
    assert parse_kernel_log("-- No entries --\n", CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n",
        "the printer is on fire\nplease help\n",
        "Feb  5 06:51:02 laptop bluetoothd[731]: connect to 4C:87:5D:CA:3F:18: refused\n",
        "E [05/Jun/2024:13:50:46 -0400] [Job 1026332] The printer is not responding.\n",
    ],
)
def test_not_a_kernel_log(text: str) -> None:
    with pytest.raises(ParseError, match="no kernel log lines"):
        parse_kernel_log(text, CTX)
