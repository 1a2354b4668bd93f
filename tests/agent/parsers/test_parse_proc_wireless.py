"""/proc/net/wireless -> WifiSample per interface."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.proc_wireless import parse_proc_net_wireless
from dexpulse.schema import WifiSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "linux"
CTX = ParseContext(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))

HEADER = (
    "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
    " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
)


def wifi(samples: list[object]) -> list[WifiSample]:
    assert all(isinstance(s, WifiSample) for s in samples)
    return samples  # type: ignore[return-value]


def test_format_registered() -> None:
    assert FORMATS["linux-proc-net-wireless"].carries_time is False


def test_fixture() -> None:
    text = (FIXTURES / "proc_net_wireless_1" / "linux_proc_net_wireless_1.txt").read_text()
    wlan0, wlan1 = wifi(parse_proc_net_wireless(text, CTX))
    assert (wlan0.interface, wlan0.rssi_dbm, wlan0.ts) == ("wlan0", -50, CTX.now)
    assert (wlan1.interface, wlan1.rssi_dbm) == ("wlan1", -39)
    # noise -256 is cfg80211's "driver reports no noise", not a reading
    assert (wlan0.noise_dbm, wlan1.noise_dbm) == (None, None)
    # link quality has no field; connection state is not in the file
    assert (wlan0.signal_percent, wlan0.connected, wlan0.ssid) == (None, None, None)


def test_real_noise_crlf_and_tabs() -> None:
    text = HEADER.replace("\n", "\r\n") + "wlp3s0:\t0000   47.  -63.  -95.\t 0 0 0 0 12 0\r\n\r\n"
    (s,) = wifi(parse_proc_net_wireless(text, CTX))
    assert (s.interface, s.rssi_dbm, s.noise_dbm) == ("wlp3s0", -63, -95)


def test_values_not_in_dbm_are_left_out() -> None:
    # a driver without IW_QUAL_DBM prints relative, non-negative level and noise; without the
    # "updated" dot the values are followed by a blank
    text = HEADER + "  eth1: 0000   60    75     0        0      0      0      0      0        0\n"
    (s,) = wifi(parse_proc_net_wireless(text, CTX))
    assert (s.interface, s.rssi_dbm, s.noise_dbm) == ("eth1", None, None)


def test_header_only_means_nothing_associated() -> None:
    assert parse_proc_net_wireless("$ cat /proc/net/wireless\n" + HEADER, CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n \n",
        "hello world\n",
        HEADER + "Connected to 00:11:22:33:44:55 (on wlan0)\n",
        "Connected to 00:11:22:33:44:55 (on wlan0)\n\tsignal: -50 dBm\n",
    ],
)
def test_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError, match="/proc/net/wireless"):
        parse_proc_net_wireless(text, CTX)
