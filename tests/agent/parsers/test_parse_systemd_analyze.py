"""systemd-analyze time -> BootSample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.systemd_analyze import parse_systemd_analyze_time, parse_timespan

FIXTURES = Path(__file__).parents[2] / "fixtures" / "boot" / "linux"
CTX = ParseContext(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def test_format_registered() -> None:
    assert FORMATS["linux-systemd-analyze"].carries_time is False


def test_fixture_all_segments() -> None:
    (boot,) = parse_systemd_analyze_time(fixture("systemd_analyze_time_1"), CTX)
    assert boot.ts == CTX.now
    assert boot.firmware_s == 7.797
    assert boot.loader_s == 1.172
    assert boot.kernel_s == 0.877
    assert boot.initrd_s == 0.861
    assert boot.userspace_s == 5.841
    assert boot.boot_duration_s == 16.55
    assert boot.logon_duration_s is None


def test_bios_vm_without_firmware_and_loader() -> None:
    text = "Startup finished in 1.234s (kernel) + 5.678s (userspace) = 6.912s\n"
    (boot,) = parse_systemd_analyze_time(text, CTX)
    assert (boot.firmware_s, boot.loader_s, boot.initrd_s) == (None, None, None)
    assert (boot.kernel_s, boot.userspace_s, boot.boot_duration_s) == (1.234, 5.678, 6.912)


def test_target_line_command_line_crlf_and_long_spans() -> None:
    text = (
        "$ systemd-analyze time\r\n"
        "Startup finished in 1min 2.345s (firmware) + 3.1s (loader) + 877ms (kernel)"
        " + 1h 2min 3.456s (userspace) = 1h 3min 9.778s \r\n"
        "graphical.target reached after 1h 1min 3.456s in userspace.\r\n\r\n"
    )
    (boot,) = parse_systemd_analyze_time(text, CTX)
    assert boot.firmware_s == 62.345
    assert boot.loader_s == 3.1
    assert boot.kernel_s == 0.877
    assert boot.userspace_s == 3723.456
    assert boot.boot_duration_s == 3789.778


def test_container_userspace_only_has_no_total() -> None:
    text = (
        "Startup finished in 120ms (userspace)\nmulti-user.target reached after 110ms in userspace"
    )
    (boot,) = parse_systemd_analyze_time(text, CTX)
    assert boot.userspace_s == 0.12
    assert boot.boot_duration_s is None and boot.kernel_s is None


def test_soft_reboot_segment_is_ignored() -> None:
    text = "Startup finished in 2.5s (soft reboot) + 3s (userspace) \n"
    (boot,) = parse_systemd_analyze_time(text, CTX)
    assert (boot.userspace_s, boot.boot_duration_s) == (3.0, None)


def test_target_never_reached_still_gives_times() -> None:
    text = (
        "Startup finished in 900ms (kernel) + 2.1s (initrd) + 4s (userspace) = 7s\n"
        "graphical.target was never reached.\n"
    )
    (boot,) = parse_systemd_analyze_time(text, CTX)
    assert (boot.kernel_s, boot.initrd_s, boot.boot_duration_s) == (0.9, 2.1, 7.0)


def test_bootup_not_finished_is_empty() -> None:
    text = (
        "Bootup is not yet finished"
        " (org.freedesktop.systemd1.Manager.FinishTimestampMonotonic=0).\n"
        "Please try again later.\n"
        "Hint: Use 'systemctl list-jobs' to see active jobs\n"
    )
    assert parse_systemd_analyze_time(text, CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n \n",
        "The quick brown fox",
        "Nov 27 08:00:01 host systemd[1]: Startup finished in 1s (kernel) + 2s (userspace) = 3s.",
        "Startup finished in lots of time",
        "Startup finished in 1s (kernel) + soon (userspace) = 3s",
        "Startup finished in 1s (kernel) = 1s",
        "Startup finished in 1s (kernel) + 2s (userspace) = forever",
        "Startup finished in 1s (userspace)\nStartup finished in 2s (userspace)",
    ],
)
def test_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_systemd_analyze_time(text, CTX)


def test_bad_target_span_is_rejected() -> None:
    text = "Startup finished in 2s (userspace)\ngraphical.target reached after ages in userspace."
    with pytest.raises(ParseError, match="time span"):
        parse_systemd_analyze_time(text, CTX)


@pytest.mark.parametrize(
    ("span", "seconds"),
    [
        ("7.797s", 7.797),
        ("877ms", 0.877),
        ("1min 2.345s", 62.345),
        ("1h 2min 3.456s", 3723.456),
        ("2.1us", 0.0000021),
        ("15µs", 0.000015),
        ("1d 2h", 93600.0),
        ("1w", 604800.0),
        ("1month", 2629800.0),
        ("1y", 31557600.0),
        ("0", 0.0),
    ],
)
def test_timespans(span: str, seconds: float) -> None:
    assert parse_timespan(span) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize("span", ["", "s", "1x", "1.s", "-1s", "1min garbage", "infinity"])
def test_bad_timespans(span: str) -> None:
    with pytest.raises(ParseError):
        parse_timespan(span)
