"""Log line timestamps -> aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dexpulse.agent.parsers import ParseContext
from dexpulse.agent.parsers.logtime import (
    Style,
    journal_had_no_entries,
    parse_stamp,
    parse_syslog_header,
    split_timestamp,
    stamped_lines,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)
BERLIN = ParseContext(now=NOW, year=2025, local_tz=ZoneInfo("Europe/Berlin"))
BOOT = datetime(2025, 2, 5, 5, 0, tzinfo=UTC)


def test_syslog_uses_context_year_and_zone() -> None:
    ts, rest = split_timestamp("Feb  5 06:51:02 laptop kernel: hello", BERLIN)
    assert ts == datetime(2025, 2, 5, 5, 51, 2, tzinfo=UTC)
    assert rest == "laptop kernel: hello"


def test_journal_short_precise_zero_padded_day() -> None:
    stamp = parse_stamp("Feb 05 06:51:02.123456 laptop kernel: hello", BERLIN)
    assert stamp is not None
    assert stamp.style is Style.SYSLOG
    assert stamp.ts == datetime(2025, 2, 5, 5, 51, 2, 123456, tzinfo=UTC)


def test_year_defaults_to_now_and_rolls_back_for_future_dates() -> None:
    assert split_timestamp("Nov 27 08:00:00 h x: y", CTX)[0] == datetime(
        2026, 11, 27, 8, tzinfo=UTC
    )
    # a December line read at the end of November is from last year
    assert split_timestamp("Dec 31 23:59:59 h x: y", CTX)[0] == datetime(
        2025, 12, 31, 23, 59, 59, tzinfo=UTC
    )
    # an explicit year is never second-guessed
    fixed = ParseContext(now=NOW, year=2026)
    assert split_timestamp("Dec 31 23:59:59 h x: y", fixed)[0] == datetime(
        2026, 12, 31, 23, 59, 59, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-05T06:51:02+0100 h kernel: x", datetime(2025, 2, 5, 5, 51, 2, tzinfo=UTC)),
        (
            "2025-02-05T06:51:02.123456+0100 h kernel: x",
            datetime(2025, 2, 5, 5, 51, 2, 123456, tzinfo=UTC),
        ),
        (
            "2025-04-17T18:27:35.194301+02:00 klapp bluetoothd[731]: x",
            datetime(2025, 4, 17, 16, 27, 35, 194301, tzinfo=UTC),
        ),
        ("2025-02-05T06:51:02Z h x: y", datetime(2025, 2, 5, 6, 51, 2, tzinfo=UTC)),
        (
            "2025-02-05T06:51:02.123456789-0500 h x: y",
            datetime(2025, 2, 5, 11, 51, 2, 123456, tzinfo=UTC),
        ),
    ],
)
def test_rfc3339_and_journal_iso(text: str, expected: datetime) -> None:
    stamp = parse_stamp(text, CTX)
    assert stamp is not None
    assert (stamp.style, stamp.ts) == (Style.ISO, expected)


def test_iso_without_offset_is_local_time() -> None:
    ts, _ = split_timestamp("2025-07-01T12:00:00 h x: y", BERLIN)
    assert ts == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)


def test_dmesg_iso_comma_is_its_own_style() -> None:
    stamp = parse_stamp("2025-02-05T06:51:02,123456+01:00 usb 2-3: device", CTX)
    assert stamp is not None
    assert stamp.style is Style.DMESG_ISO and stamp.style.is_dmesg
    assert stamp.ts == datetime(2025, 2, 5, 5, 51, 2, 123456, tzinfo=UTC)
    assert stamp.rest == "usb 2-3: device"


def test_dmesg_seconds_since_boot_needs_boot_time() -> None:
    with_boot = ParseContext(now=NOW, boot_time=BOOT)
    stamp = parse_stamp("[   86.480463] usb 2-3: x", with_boot)
    assert stamp is not None
    assert stamp.ts == BOOT + timedelta(seconds=86.480463)
    assert stamp.rest == "usb 2-3: x"
    unplaced = parse_stamp("[   86.480463] usb 2-3: x", CTX)
    assert unplaced is not None
    assert (unplaced.style, unplaced.ts) == (Style.DMESG_BOOT, None)


def test_dmesg_show_delta_form() -> None:
    stamp = parse_stamp(
        "[   86.480463 <    0.117037>] usb 2-3: x", ParseContext(now=NOW, boot_time=BOOT)
    )
    assert stamp is not None
    assert stamp.ts == BOOT + timedelta(seconds=86.480463)


def test_dmesg_ctime() -> None:
    stamp = parse_stamp("[Wed Feb  5 06:51:02 2025] usb 3-2: x", BERLIN)
    assert stamp is not None
    assert (stamp.style, stamp.ts) == (
        Style.DMESG_CTIME,
        datetime(2025, 2, 5, 5, 51, 2, tzinfo=UTC),
    )


def test_dmesg_human_minutes_and_deltas_chain() -> None:
    text = "[Feb 5 06:51] a\n[  +0.000018] b\n[  +0.623788] c\n[Feb15 23:59] d\n[ +12.500000] e\n"
    times = [stamp.ts for _, stamp in stamped_lines(text, BERLIN) if stamp is not None]
    start = datetime(2025, 2, 5, 5, 51, tzinfo=UTC)
    assert times == [
        start,
        start + timedelta(microseconds=18),
        start + timedelta(microseconds=623806),
        datetime(2025, 2, 15, 22, 59, tzinfo=UTC),
        datetime(2025, 2, 15, 22, 59, 12, 500000, tzinfo=UTC),
    ]


def test_delta_without_a_placed_line_before_is_unplaced() -> None:
    assert split_timestamp("[  +0.000018] Code: 0f", CTX) == (None, "Code: 0f")


def test_cups_stamp_with_and_without_microseconds() -> None:
    assert split_timestamp("[05/Jun/2024:13:50:46 -0400] [Job 1] x", CTX) == (
        datetime(2024, 6, 5, 17, 50, 46, tzinfo=UTC),
        "[Job 1] x",
    )
    ts, _ = split_timestamp("[05/Jun/2024:13:50:46.250000 +0200] x", CTX)
    assert ts == datetime(2024, 6, 5, 11, 50, 46, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    "line",
    ["Feb 30 06:51:02 host x: y", "usb 2-3: device descriptor", "dub 10 18:15:56 box x: y", ""],
)
def test_not_a_stamp(line: str) -> None:
    assert parse_stamp(line, CTX) is None
    assert split_timestamp(line, CTX) == (None, line.strip())


def test_stamped_lines_tolerates_crlf_command_line_and_blanks() -> None:
    text = "$ journalctl -k\r\n\r\nFeb  5 06:51:02 h kernel: a\r\n\tno stamp here\r\n\r\n"
    lines = list(stamped_lines(text, BERLIN))
    assert [line for line, _ in lines] == ["Feb  5 06:51:02 h kernel: a", "no stamp here"]
    assert lines[0][1] is not None and lines[0][1].rest == "h kernel: a"
    assert lines[1][1] is None


def test_syslog_header() -> None:
    header = parse_syslog_header("klapp bluetoothd[731]: src/profile.c:ext_connect() x")
    assert header is not None
    assert (header.host, header.ident, header.pid) == ("klapp", "bluetoothd", 731)
    assert header.message == "src/profile.c:ext_connect() x"
    busybox = parse_syslog_header("imx6 daemon.debug bluetoothd[2451]: msg")
    assert busybox is not None and (busybox.ident, busybox.message) == ("bluetoothd", "msg")
    kernel = parse_syslog_header("laptop kernel: usb 2-3: x")
    assert kernel is not None and (kernel.ident, kernel.pid, kernel.message) == (
        "kernel",
        None,
        "usb 2-3: x",
    )
    assert parse_syslog_header("lact[523318]: segfault at 0") is None


def test_journal_no_entries() -> None:
    assert journal_had_no_entries("-- No entries --\n")
    assert not journal_had_no_entries("Feb  5 06:51:02 h kernel: -- No entries -- x")
