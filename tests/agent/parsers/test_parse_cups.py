"""CUPS error_log / cupsd journal lines -> printer PeripheralFailureSample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.cups import parse_cups

FIXTURES = Path(__file__).parents[2] / "fixtures" / "peripherals" / "linux"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)
PRAGUE = ParseContext(now=NOW, year=2016, local_tz=ZoneInfo("Europe/Prague"))


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def test_format_registered() -> None:
    assert FORMATS["cups-error-log"].parse is parse_cups
    assert FORMATS["cups-error-log"].carries_time is True


def test_error_log_fixture() -> None:
    samples = parse_cups(fixture("cups_error_log_1"), CTX)
    assert [s.ts for s in samples] == [
        datetime(2024, 6, 5, 17, 50, 46, tzinfo=UTC),
        datetime(2024, 6, 5, 17, 53, 26, tzinfo=UTC),
        datetime(2024, 6, 5, 17, 56, 6, tzinfo=UTC),
        datetime(2024, 6, 5, 17, 58, 35, tzinfo=UTC),
        datetime(2024, 6, 5, 17, 58, 45, tzinfo=UTC),
    ]
    assert {(s.device_class, s.error, s.name) for s in samples} == {
        ("printer", "printer_not_responding", None)
    }
    assert samples[3].message == (
        "E [05/Jun/2024:13:58:35 -0400] [Job 1026475] The printer is not responding."
    )


def test_levels_and_known_warnings() -> None:
    text = (
        "I [23/Nov/2022:08:42:20 +0100] [Job 532618] Started backend /usr/lib/cups/backend/lpd\n"
        "D [23/Nov/2022:08:42:21 +0100] [Job 532618] The printer is not responding.\n"
        "W [23/Nov/2022:08:42:22 +0100] [Job 532618] Printer drivers are deprecated.\n"
        "W [23/Nov/2022:08:42:23 +0100] [Job 532618] Backend returned status 1 (failed)\n"
        "W [23/Nov/2022:08:42:23 +0100] [Job 532619] Backend returned status 0 (successful)\n"
        "W [23/Nov/2022:08:42:24 +0100] [Job 532620] Backend lpd returned status 4 (stop printer)\n"
        "E [23/Nov/2022:08:42:25 +0100] [Client 7] Returning IPP client-error-not-found for"
        " Get-Printer-Attributes (ipp://localhost/printers/Gone) from localhost.\n"
        "E [23/Nov/2022:08:42:26 +0100] Unable to open listen socket for address [v1.::1]:631"
        " - Cannot assign requested address.\n"
        "C [23/Nov/2022:08:42:27 +0100] [Job 532621] Job stopped due to filter errors; please"
        " consult the /var/log/cups/error_log file for details.\n"
    )
    samples = parse_cups(text, CTX)
    assert [s.error for s in samples] == [
        "backend status 1",
        "backend status 4",
        None,  # an error the table does not know: still a failure, no code
        "filter_failed",
    ]
    assert samples[0].ts == datetime(2022, 11, 23, 7, 42, 23, tzinfo=UTC)


def test_printer_name_when_the_line_names_it() -> None:
    text = (
        'E [05/Feb/2025:06:51:02 +0100] [Job 7] Unable to locate printer "Office_HP".\n'
        "E [05/Feb/2025:06:51:03 +0100] [Printer Lab-Color] The printer is not connected.\n"
        "E [05/Feb/2025:06:51:04 +0100] [Job 8] Job stopped due to backend errors; sent to"
        " ipp://localhost/printers/Front_Desk\n"
    )
    samples = parse_cups(text, CTX)
    assert [(s.name, s.error) for s in samples] == [
        ("Office_HP", "printer_not_found"),
        ("Lab-Color", "printer_not_connected"),
        ("Front_Desk", "backend_failed"),
    ]


def test_microsecond_log_time_format_and_crlf() -> None:
    text = (
        "E [05/Feb/2025:06:51:02.250000 +0100] [Job 9] The printer is unreachable at this time.\r\n"
    )
    (sample,) = parse_cups(text, CTX)
    assert sample.ts == datetime(2025, 2, 5, 5, 51, 2, 250000, tzinfo=UTC)
    assert sample.error == "printer_unreachable"
    assert not sample.message or not sample.message.endswith("\r")


def test_journal_variant_keeps_only_known_failures() -> None:
    text = (
        "Jul 21 09:51:15 host cupsd[11086]: Connected to 10.192.36.80:9100...\n"
        "Jul 21 09:51:15 host cupsd[11086]: STATE: +cups-waiting-for-job-completed\n"
        "Jul 21 09:51:17 host cupsd[11086]: Job stopped due to filter errors; please consult"
        " the error_log file for details.\n"
        "Jul 21 09:51:18 host systemd[1]: cups.service: Deactivated successfully.\n"
    )
    (sample,) = parse_cups(text, PRAGUE)
    assert sample.error == "filter_failed"
    assert sample.ts == datetime(2016, 7, 21, 7, 51, 17, tzinfo=UTC)


def test_journal_line_that_still_carries_the_level() -> None:
    text = (
        "2025-02-05T06:51:02+0100 host cupsd[42]: E [05/Feb/2025:06:51:01 +0100] [Job 3]"
        " Stopping job because the scheduler could not find the queue.\n"
        "2025-02-05T06:51:03+0100 host cupsd[42]: I [05/Feb/2025:06:51:03 +0100] [Job 3] x\n"
    )
    (sample,) = parse_cups(text, CTX)
    assert sample.ts == datetime(2025, 2, 5, 5, 51, 1, tzinfo=UTC)
    assert sample.error is None


def test_nothing_here() -> None:
    text = (
        "$ cat /var/log/cups/error_log\nI [05/Feb/2025:06:51:02 +0100] Listening on [v1.::1]:631\n"
    )
    assert parse_cups(text, CTX) == []
    assert parse_cups("-- No entries --\n", CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "printing is broken\n",
        "E [yesterday] something\n",
        "[   86.480463] usb 2-3: device descriptor read/64, error -71\n",
        "Feb  5 06:51:02 laptop bluetoothd[731]: The printer is not responding.\n",
    ],
)
def test_not_a_cups_log(text: str) -> None:
    with pytest.raises(ParseError, match="no CUPS log lines"):
        parse_cups(text, CTX)
