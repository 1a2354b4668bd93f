"""iw dev <if> link / station / event -> WifiSample and WifiEventSample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.iw import parse_iw_event, parse_iw_link, parse_iw_station
from dexpulse.schema import WifiEventSample, WifiSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "linux"
CTX = ParseContext(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def wifi(samples: list[object]) -> list[WifiSample]:
    assert all(isinstance(s, WifiSample) for s in samples)
    return samples  # type: ignore[return-value]


def events(samples: list[object]) -> list[WifiEventSample]:
    assert all(isinstance(s, WifiEventSample) for s in samples)
    return samples  # type: ignore[return-value]


def test_formats_registered() -> None:
    assert FORMATS["linux-iw-link"].carries_time is False
    assert FORMATS["linux-iw-station"].carries_time is False
    assert FORMATS["linux-iw-event"].carries_time is True
    assert FORMATS["linux-iw-event"].example == "iw event -t"


# --- iw dev <if> link ------------------------------------------------------------------------


def test_link_fixture() -> None:
    (s,) = wifi(parse_iw_link(fixture("iw_dev_link_1"), CTX))
    assert s.ts == CTX.now
    assert (s.interface, s.connected) == ("wlp1s0", True)
    assert (s.bssid, s.ssid) == ("fe:dc:ba:98:76:02", "SSID-1")
    assert (s.frequency_mhz, s.channel, s.band_ghz) == (2412.0, 1, 2.4)
    assert s.rssi_dbm == -51
    assert (s.tx_rate_mbps, s.rx_rate_mbps, s.radio_type) == (26.0, None, None)
    assert (s.noise_dbm, s.signal_percent, s.security) == (None, None, None)


def test_link_and_station_get_fixture() -> None:
    (s,) = wifi(parse_iw_link(fixture("iw_dev_link_and_station_get_3"), CTX))
    assert (s.interface, s.connected, s.ssid) == ("wlan0", True, "<SSID>")
    assert s.bssid is None  # the issue author replaced the BSSID with "<BSSID>"
    assert (s.frequency_mhz, s.channel, s.band_ghz) == (2427.0, 4, 2.4)
    assert (s.rssi_dbm, s.tx_rate_mbps) == (-45, 72.2)
    # "current time: 1598466194518 ms" of `station get` dates the reading
    assert s.ts == datetime(2020, 8, 26, 18, 23, 14, 518000, tzinfo=UTC)


MODERN = (
    "Connected to 3C:37:12:AA:BB:CC (on wlp0s20f3)\r\n"
    "\tSSID: caf\\xc3\\xa9 \\x5c net\\x20\r\n"
    "\tfreq: 5180.0\r\n"
    "\tRX: 123456 bytes (789 packets)\r\n"
    "\tTX: 23456 bytes (123 packets)\r\n"
    "\tsignal: -58 dBm\r\n"
    "\trx bitrate: 1200.9 MBit/s 80MHz HE-MCS 11 HE-NSS 2 HE-GI 0 HE-DCM 0\r\n"
    "\ttx bitrate: 960.7 MBit/s 80MHz HE-MCS 9 HE-NSS 2 HE-GI 0 HE-DCM 0\r\n"
    "\tbss flags: short-slot-time\r\n"
    "\tdtim period: 3\r\n"
    "\tbeacon int: 100\r\n"
    "\r\n"
)


def test_link_modern_he_output() -> None:
    (s,) = wifi(parse_iw_link(MODERN, CTX))
    assert (s.bssid, s.interface) == ("3c:37:12:aa:bb:cc", "wlp0s20f3")
    assert s.ssid == "café \\ net "  # iw escapes UTF-8 bytes, '\' and outer spaces as \xNN
    assert (s.frequency_mhz, s.channel, s.band_ghz) == (5180.0, 36, 5.0)
    assert (s.rx_rate_mbps, s.tx_rate_mbps) == (1200.9, 960.7)
    assert (s.rssi_dbm, s.radio_type) == (-58, "802.11ax")


@pytest.mark.parametrize(
    ("tx", "rx", "radio"),
    [
        ("866.7 MBit/s VHT-MCS 9 80MHz short GI VHT-NSS 2", None, "802.11ac"),
        ("72.2 MBit/s MCS 7 short GI", "54.0 MBit/s", "802.11n"),
        ("54.0 MBit/s", "6.0 MBit/s", None),
        ("54.0 MBit/s", "2882.3 MBit/s 160MHz EHT-MCS 13 EHT-NSS 2 EHT-GI 0", "802.11be"),
    ],
)
def test_radio_type_from_bitrate_markers(tx: str, rx: str | None, radio: str | None) -> None:
    text = f"Connected to 00:11:22:33:44:55 (on wlan0)\n\tfreq: 2437\n\ttx bitrate: {tx}\n"
    if rx:
        text += f"\trx bitrate: {rx}\n"
    (s,) = wifi(parse_iw_link(text, CTX))
    assert s.radio_type == radio
    assert s.channel == 6  # old iw prints the frequency without ".0"


def test_link_junk_values_are_left_out() -> None:
    text = (
        "Connected to 00:11:22:33:44:55 (on wlan0)\n"
        "\tfreq: 1e5\n"
        "\tsignal: -999 dBm\n"
        "\ttx bitrate: (unknown)\n"
        "\tcurrent time:\t99999999999999999999 ms\n"
    )
    (s,) = wifi(parse_iw_link(text, CTX))
    assert (s.frequency_mhz, s.channel, s.rssi_dbm, s.tx_rate_mbps) == (None, None, None, None)
    assert (s.ts, s.connected) == (CTX.now, True)


def test_link_6ghz() -> None:
    (s,) = wifi(parse_iw_link("Connected to 00:11:22:33:44:55 (on wlan0)\n\tfreq: 5955.0\n", CTX))
    assert (s.channel, s.band_ghz) == (1, 6.0)


def test_link_mlo_uses_first_link() -> None:
    text = (
        "Connected to 02:00:00:00:01:00 (on wlan0)\n"
        "\tSSID: mlo-net\n"
        "\tLink 0 BSSID 02:00:00:00:01:01\n"
        "\t\tfreq: 5180.0\n"
        "\tLink 1 BSSID 02:00:00:00:01:02\n"
        "\t\tfreq: 5955.0\n"
        "MLD 02:00:00:00:01:00 stats:\n"
        "\tsignal: -40 dBm\n"
        "\trx bitrate: 2882.3 MBit/s 160MHz EHT-MCS 13 EHT-NSS 2 EHT-GI 0\n"
        "\ttx bitrate: 2594.0 MBit/s 160MHz EHT-MCS 12 EHT-NSS 2 EHT-GI 0\n"
    )
    (s,) = wifi(parse_iw_link(text, CTX))
    assert (s.bssid, s.ssid, s.frequency_mhz, s.band_ghz) == (
        "02:00:00:00:01:01",
        "mlo-net",
        5180.0,
        5.0,
    )
    assert (s.rssi_dbm, s.tx_rate_mbps, s.rx_rate_mbps) == (-40, 2594.0, 2882.3)
    assert s.radio_type == "802.11be"


def test_station_get_fills_what_link_lacks_for_the_same_bssid_only() -> None:
    text = (
        "$ iw dev wlan0 link\n"
        "Connected to 00:11:22:33:44:55 (on wlan0)\n"
        "\tSSID: office\n"
        "\tsignal: -60 dBm\n"
        "\ttx bitrate: 72.2 MBit/s\n"
        "$ iw dev wlan0 station dump\n"
        "Station 66:77:88:99:aa:bb (on wlan0)\n"
        "\trx bitrate:\t6.0 MBit/s\n"
        "Station 00:11:22:33:44:55 (on wlan0)\n"
        "\tsignal:  \t-61 [-63, -65] dBm\n"
        "\ttx bitrate:\t65.0 MBit/s MCS 7\n"
        "\trx bitrate:\t144.4 MBit/s MCS 15 short GI\n"
    )
    (s,) = wifi(parse_iw_link(text, CTX))
    assert (s.rssi_dbm, s.tx_rate_mbps) == (-60, 72.2)  # the link block wins
    assert s.rx_rate_mbps == 144.4  # from the matching station, not 66:77:...
    assert s.radio_type == "802.11n"


def test_not_connected_named_by_command_line() -> None:
    (s,) = wifi(parse_iw_link("$ iw dev wlan0 link\nNot connected.\n", CTX))
    assert (s.interface, s.connected, s.ts) == ("wlan0", False, CTX.now)
    assert (s.ssid, s.bssid, s.rssi_dbm) == (None, None, None)


def test_not_connected_bare_and_authenticated() -> None:
    (bare,) = wifi(parse_iw_link("Not connected.\n\n", CTX))
    assert (bare.interface, bare.connected) == (None, False)
    text = "Authenticated with 00:11:22:33:44:55 (on wlan1)\nNot connected.\n"
    (auth,) = wifi(parse_iw_link(text, CTX))
    assert (auth.interface, auth.connected, auth.bssid) == ("wlan1", False, None)


def test_two_interfaces() -> None:
    text = (
        "# iw dev wlan0 link\n"
        "Connected to 00:11:22:33:44:55 (on wlan0)\n"
        "    SSID: a\n"
        "# iw dev wlan1 link\n"
        "Not connected.\n"
    )
    up, down = wifi(parse_iw_link(text, CTX))
    assert (up.interface, up.connected, up.ssid) == ("wlan0", True, "a")
    assert (down.interface, down.connected) == ("wlan1", False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Connected to"),
        ("   \n\n", "Connected to"),
        ("The quick brown fox: jumps over the lazy dog.\n", "Connected to"),
        (" :FE\\:DC\\:BA\\:09\\:87\\:01:SSID-1:Infra:6:130 Mbit/s:100:****:WPA2\n", "iw dev"),
        ("command failed: No such device (-19)\n", "No such device"),
        ("Station 00:11:22:33:44:55 (on wlan0)\n\tsignal: -50 dBm\n", "linux-iw-station"),
    ],
)
def test_link_rejects_other_text(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_iw_link(text, CTX)


# --- iw dev <if> station dump / get ----------------------------------------------------------


def test_station_dump_fixture() -> None:
    first, second = wifi(parse_iw_station(fixture("iw_station_dump_4"), CTX))
    assert (first.interface, first.bssid, first.connected) == ("wlan1", None, True)  # masked MAC
    assert (first.rssi_dbm, first.tx_rate_mbps, first.rx_rate_mbps) == (-71, 39.0, 19.5)
    assert (first.radio_type, first.ts) == ("802.11n", CTX.now)
    # the excerpt is truncated before the flags of the second station
    assert (second.interface, second.connected) == ("wlan1", None)
    assert (second.rssi_dbm, second.tx_rate_mbps, second.rx_rate_mbps) == (-64, 72.2, 72.2)
    assert second.radio_type == "802.11n"


def test_station_get_in_the_combined_fixture() -> None:
    (s,) = wifi(parse_iw_station(fixture("iw_dev_link_and_station_get_3"), CTX))
    assert (s.interface, s.rssi_dbm, s.tx_rate_mbps, s.connected) == ("wlan0", -45, 72.2, None)


def test_station_not_associated() -> None:
    text = "Station 00:11:22:33:44:55 (on wlan0)\n\tsignal avg:\t-70 dBm\n\tassociated:\tno\n"
    (s,) = wifi(parse_iw_station(text, CTX))
    assert (s.bssid, s.connected, s.rssi_dbm) == ("00:11:22:33:44:55", False, -70)


def test_empty_station_dump_after_its_command_is_nothing() -> None:
    assert parse_iw_station("$ iw dev wlan0 station dump\n", CTX) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Station"),
        ("hello\n", "Station"),
        ("Not connected.\n", "Station"),
        ("command failed: Operation not supported (-95)\n", "not supported"),
    ],
)
def test_station_rejects_other_text(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_iw_station(text, CTX)


# --- iw event --------------------------------------------------------------------------------


def test_event_fixture_beacon_loss_is_not_a_disconnect() -> None:
    assert parse_iw_event(fixture("iw_event_cqm_beacon_loss_1"), CTX) == []


SESSION = """\
1764233000.123456: wlan0 (phy #0): scan started
1764233000.523456: wlan0 (phy #0): scan finished: 2412 2437, ""
1764233001.000000: wlan0 (phy #0): auth 3c:37:12:aa:bb:cc -> 00:11:22:33:44:55 status: 0: Successful
1764233001.010000: wlan0 (phy #0): assoc 3c:37:12:aa:bb:cc -> 00:11:22:33:44:55 status: 0: Successful
1764233001.020000: wlan0 (phy #0): connected to 3c:37:12:aa:bb:cc
1764233100.000000: wlan0 (phy #0): roamed to 3C:37:12:AA:BB:DD
1764233200.000000: wlan0 (phy #0): CQM event: beacon loss
1764233200.100000: wlan0 (phy #0): CQM event: RSSI (-85 dBm) went below threshold
1764233201.000000: wlan0 (phy #0): deauth 00:11:22:33:44:55 -> 3c:37:12:aa:bb:dd reason 4: Disassociated due to inactivity
1764233201.000100: wlan0 (phy #0): disconnected (local request) reason: 4: Disassociated due to inactivity
"""  # noqa: E501


def test_event_session_with_epoch_times() -> None:
    connected, roamed, disconnected = events(parse_iw_event(SESSION, CTX))
    assert connected.event == "connected"
    assert connected.ts == datetime(2025, 11, 27, 8, 43, 21, 20000, tzinfo=UTC)
    assert (connected.interface, connected.bssid) == ("wlan0", "3c:37:12:aa:bb:cc")
    assert roamed.event == "roamed"
    assert (roamed.bssid, roamed.previous_bssid) == ("3c:37:12:aa:bb:dd", "3c:37:12:aa:bb:cc")
    assert disconnected.event == "disconnected"
    assert disconnected.ts == datetime(2025, 11, 27, 8, 46, 41, 100, tzinfo=UTC)
    assert disconnected.bssid == "3c:37:12:aa:bb:dd"
    assert (disconnected.reason_code, disconnected.reason) == (
        4,
        "Disassociated due to inactivity (local request)",
    )


def test_event_failures_counted_once_and_untimed_lines_use_now() -> None:
    text = (
        "wlan0 (phy #0): auth 3c:37:12:aa:bb:cc -> 00:11:22:33:44:55 status: 15: "
        "Authentication rejected because of challenge failure [frame: b0 00 3a 01]\n"
        "wlan0 (phy #0): failed to connect to 3c:37:12:aa:bb:cc, status: 15: "
        "Authentication rejected because of challenge failure\n"
        "wlan0 (phy #0): auth: timed out\n"
        "wlan0 (phy #0): timed out to 3c:37:12:aa:bb:cc\n"
        "wlan0 (phy #0): failed to connect to 3c:37:12:aa:bb:cc, status: 17: "
        "AP unable to handle additional associated STA\n"
    )
    rejected, timed_out, full = events(parse_iw_event(text, CTX))
    assert {rejected.event, timed_out.event, full.event} == {"auth_failed"}
    assert all(e.ts == CTX.now for e in (rejected, timed_out, full))
    assert (rejected.reason_code, rejected.bssid) == (15, "3c:37:12:aa:bb:cc")
    assert rejected.reason == "auth: Authentication rejected because of challenge failure"
    assert (timed_out.reason, timed_out.reason_code) == ("auth: timed out", None)
    assert (full.reason_code, full.reason) == (17, "AP unable to handle additional associated STA")


def test_event_local_time_and_relative_time() -> None:
    berlin = ParseContext(now=CTX.now, local_tz=ZoneInfo("Europe/Berlin"))
    text = (
        "[2026-11-27 10:00:00.250000]: wlp2s0 (phy #1): disconnected (by AP) reason: 3: "
        "Deauthenticated because sending STA is leaving (or has left) IBSS or ESS\n"
        "12.500000: wlp2s0 (phy #1): connected to 00:11:22:33:44:55\n"
    )
    down, up = events(parse_iw_event(text, berlin))
    assert down.ts == datetime(2026, 11, 27, 9, 0, 0, 250000, tzinfo=UTC)
    assert (down.event, down.interface, down.reason_code, down.bssid) == (
        "disconnected",
        "wlp2s0",
        3,
        None,
    )
    assert down.reason is not None and down.reason.endswith("IBSS or ESS (by AP)")
    assert (up.event, up.ts) == ("connected", CTX.now)  # -r deltas cannot be placed


def test_event_codes_that_are_not_16_bit_are_dropped() -> None:
    text = "wlan0 (phy #0): disconnected (by AP) reason: 99999999999: odd\n"
    (e,) = events(parse_iw_event(text, CTX))
    assert (e.event, e.reason_code, e.reason) == ("disconnected", None, "odd (by AP)")


def test_event_disconnect_without_reason() -> None:
    (e,) = events(parse_iw_event("wlan0 (phy #0): disconnected (by AP)\n", CTX))
    assert (e.event, e.reason, e.reason_code) == ("disconnected", "by AP", None)


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "hello world\n", "Connected to 00:11:22:33:44:55 (on wlan0)\n\tSSID: x\n"],
)
def test_event_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError, match="iw event"):
        parse_iw_event(text, CTX)
