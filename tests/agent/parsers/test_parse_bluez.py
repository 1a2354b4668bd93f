"""bluetoothd journal/syslog lines -> bluetooth PeripheralFailureSample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.bluez import parse_bluez

FIXTURES = Path(__file__).parents[2] / "fixtures" / "peripherals" / "linux"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)
BERLIN = ParseContext(now=NOW, year=2025, local_tz=ZoneInfo("Europe/Berlin"))
ADDR = "4c:87:5d:ca:3f:18"


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def test_format_registered() -> None:
    assert FORMATS["bluez-journal"].parse is parse_bluez
    assert FORMATS["bluez-journal"].carries_time is True


def test_fixture_connection_refusals() -> None:
    samples = parse_bluez(fixture("bluetoothd_journal_disconnects_1"), CTX)
    assert [s.ts for s in samples] == [
        datetime(2025, 4, 17, 16, 27, 35, 194301, tzinfo=UTC),
        datetime(2025, 4, 17, 16, 27, 35, 328443, tzinfo=UTC),
        datetime(2025, 4, 17, 16, 27, 38, 185483, tzinfo=UTC),
    ]  # the blueman-manager line in between is not bluetoothd's
    assert {(s.device_class, s.device_id, s.error) for s in samples} == {
        ("bluetooth", ADDR, "Connection refused (111)")
    }
    assert samples[0].message is not None
    assert "Hands-Free Voice gateway failed connect to" in samples[0].message


@pytest.mark.parametrize(
    ("message", "device_id", "error"),
    [
        (
            "a2dp-sink profile connect failed for 4C:87:5D:CA:3F:18: Protocol not available",
            ADDR,
            "Protocol not available",
        ),
        (
            "Unable to get connect data for Headset Voice gateway: getpeername: Transport"
            " endpoint is not connected (107)",
            None,
            "Transport endpoint is not connected (107)",
        ),
        ("connect error: Connection refused (111)", None, "Connection refused (111)"),
        (
            "profiles/audio/avdtp.c:avdtp_connect_cb() connect to 4C:87:5D:CA:3F:18: Host is"
            " down (112)",
            ADDR,
            "Host is down (112)",
        ),
        (
            "Headset Voice gateway failed to connect to 4C:87:5D:CA:3F:18: Connection timed"
            " out (110)",
            ADDR,
            "Connection timed out (110)",
        ),
    ],
)
def test_failure_messages(message: str, device_id: str | None, error: str) -> None:
    text = f"Apr 17 18:27:35 klapp bluetoothd[731]: {message}\n"
    (sample,) = parse_bluez(text, BERLIN)
    assert (sample.device_id, sample.error) == (device_id, error)
    assert sample.ts == datetime(2025, 4, 17, 16, 27, 35, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        (0, "disconnected: unspecified"),
        (1, "disconnected: timeout"),
        (2, None),  # this host ended it: the user disconnected
        (3, None),  # the remote ended it: headset switched off
        (4, "disconnected: authentication failure"),
        (5, None),  # suspend
    ],
)
def test_debug_disconnect_reasons(reason: int, error: str | None) -> None:
    text = (
        "Sep 17 08:48:05 imx6 daemon.debug bluetoothd[2451]: ../bluez-5.54/src/adapter.c:"
        f"dev_disconnected() Device 74:9E:A5:B5:49:BA disconnected, reason {reason}\n"
        "Sep 17 08:48:05 imx6 daemon.debug bluetoothd[2451]: ../bluez-5.54/plugins/policy.c:"
        f"disconnect_cb() reason {reason}\n"
    )
    samples = parse_bluez(text, BERLIN)
    if error is None:
        assert samples == []
    else:
        (sample,) = samples
        assert (sample.device_id, sample.error) == ("74:9e:a5:b5:49:ba", error)


def test_unreadable_stamps_use_now() -> None:
    text = (
        "dub 10 18:15:56 box bluetoothd[1337]: connect to C6:FC:CD:99:12:86: Host is down (112)\n"
        "bluetoothd[4778]: connect to C6:FC:CD:99:12:86: Connection refused (111)\r\n"
    )
    samples = parse_bluez(text, CTX)
    assert [(s.ts, s.error) for s in samples] == [
        (NOW, "Host is down (112)"),
        (NOW, "Connection refused (111)"),
    ]


def test_only_the_bluetoothd_program_counts() -> None:
    text = (
        "Apr 17 18:27:30 klapp systemd[1]: Started bluetoothd: connect to 4C:87:5D:CA:3F:18:"
        " Host is down (112)\n"
        "Apr 17 18:27:35 klapp bluetoothd[731]: connect to 4C:87:5D:CA:3F:18: Host is down (112)\n"
    )
    (sample,) = parse_bluez(text, BERLIN)
    assert sample.ts == datetime(2025, 4, 17, 16, 27, 35, tzinfo=UTC)


def test_nothing_here() -> None:
    text = (
        "$ journalctl -u bluetooth\n"
        "2025-04-17T18:20:00+02:00 klapp bluetoothd[731]: Bluetooth daemon 5.72\n"
        "2025-04-17T18:20:00+02:00 klapp bluetoothd[731]: Starting SDP server\n"
    )
    assert parse_bluez(text, CTX) == []
    assert parse_bluez("-- No entries --\n", CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "my headphones do not work\n",
        "2025-04-17T18:27:35+02:00 klapp blueman-manager[5483]: connect to 4C:87:5D:CA:3F:18: x\n",
        "[   86.480463] usb 2-3: device descriptor read/64, error -71\n",
    ],
)
def test_not_bluetoothd_output(text: str) -> None:
    with pytest.raises(ParseError, match="no bluetoothd lines"):
        parse_bluez(text, CTX)
