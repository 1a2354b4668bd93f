"""nmcli -t device wifi list -> WifiSample of the access point in use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.nmcli import parse_nmcli_wifi, split_terse
from dexpulse.schema import WifiSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "linux"
CTX = ParseContext(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def wifi(samples: list[object]) -> list[WifiSample]:
    assert all(isinstance(s, WifiSample) for s in samples)
    return samples  # type: ignore[return-value]


def test_format_registered() -> None:
    fmt = FORMATS["linux-nmcli-wifi"]
    assert fmt.carries_time is False
    assert "IN-USE,BSSID,SSID,MODE,CHAN,RATE,SIGNAL,BARS,SECURITY" in fmt.example


def test_split_terse_unescapes() -> None:
    line = " :FE\\:DC\\:BA\\:09\\:87\\:02:SSID-2-\\\\foo\\:bar:Infra:6:130 Mbit/s:100:▂▄▆█:WPA2"
    assert split_terse(line) == [
        " ",
        "FE:DC:BA:09:87:02",
        "SSID-2-\\foo:bar",
        "Infra",
        "6",
        "130 Mbit/s",
        "100",
        "▂▄▆█",
        "WPA2",
    ]
    assert split_terse("a::b\\") == ["a", "", "b\\"]


def test_default_fields_fixture() -> None:
    (s,) = wifi(parse_nmcli_wifi(fixture("nmcli_terse_dev_wifi_list_2"), CTX))
    assert (s.connected, s.ts, s.interface) == (True, CTX.now, None)
    assert (s.bssid, s.ssid) == ("fe:dc:ba:09:87:03", "SSID-3")
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (1, 2.4, 2412.0)
    assert s.signal_percent == 87
    assert s.security == "Open"  # empty SECURITY: the AP advertises no privacy
    # RATE is the AP's maximum bitrate, not the current receive rate
    assert (s.rx_rate_mbps, s.tx_rate_mbps, s.rssi_dbm) == (None, None, None)


def test_fixture_without_in_use_column_is_refused() -> None:
    # kootenpv/access_points captured SSID:BSSID:SIGNAL:SECURITY; nothing says which is in use
    with pytest.raises(ParseError, match="4 colon-separated fields.*IN-USE"):
        parse_nmcli_wifi(fixture("nmcli_terse_wifi_list_1"), CTX)


def test_active_network_with_escapes_5ghz_and_enterprise() -> None:
    text = (
        " :AA\\:BB\\:CC\\:DD\\:EE\\:01:guest:Infra:11:54 Mbit/s:70:▂▄▆_:\r\n"
        "*:AA\\:BB\\:CC\\:DD\\:EE\\:02:Corp\\:WiFi \\\\ 5G :Infra:36:540 Mbit/s:64:▂▄▆_:"
        "WPA2 802.1X\r\n"
    )
    (s,) = wifi(parse_nmcli_wifi(text, CTX))
    assert (s.bssid, s.ssid) == ("aa:bb:cc:dd:ee:02", "Corp:WiFi \\ 5G ")
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (36, 5.0, 5180.0)
    assert (s.signal_percent, s.security) == (64, "WPA2 802.1X")


def test_no_network_in_use() -> None:
    text = " :AA\\:BB\\:CC\\:DD\\:EE\\:01:guest:Infra:11:54 Mbit/s:70:▂▄▆_:WPA2\n"
    (s,) = wifi(parse_nmcli_wifi(text, CTX))
    assert (s.connected, s.ssid, s.bssid, s.ts) == (False, None, None, CTX.now)


def test_two_adapters_in_use() -> None:
    text = (
        "*:AA\\:BB\\:CC\\:DD\\:EE\\:01:home:Infra:6:130 Mbit/s:90:▂▄▆█:WPA2 WPA3\n"
        "*:AA\\:BB\\:CC\\:DD\\:EE\\:02:home:Infra:149:866 Mbit/s:75:▂▄▆_:WPA2 WPA3\n"
    )
    first, second = wifi(parse_nmcli_wifi(text, CTX))
    assert (first.channel, first.band_ghz, second.channel, second.band_ghz) == (6, 2.4, 149, 5.0)
    assert second.frequency_mhz == 5745.0
    assert first.security == "WPA2 WPA3"


def test_old_default_fields_without_bssid() -> None:
    text = "*:F1:Infra:11:54 MB/s:98:****:WPA1\n :alfa:Infra:1:54 MB/s:67:**:WPA2\n"
    (s,) = wifi(parse_nmcli_wifi(text, CTX))
    assert (s.ssid, s.bssid, s.channel, s.signal_percent, s.security) == (
        "F1",
        None,
        11,
        98,
        "WPA1",
    )


def test_out_of_range_channel_and_signal_are_left_out() -> None:
    text = "*:AA\\:BB\\:CC\\:DD\\:EE\\:01:s:Infra:999999:130 Mbit/s:150:****:WPA2\n"
    (s,) = wifi(parse_nmcli_wifi(text, CTX))
    assert (s.connected, s.channel, s.band_ghz, s.signal_percent) == (True, None, None, None)


def test_hidden_network_in_use() -> None:
    text = "*:AA\\:BB\\:CC\\:DD\\:EE\\:01::Infra:0:0 Mbit/s:40:▂▄__:WPA2"
    (s,) = wifi(parse_nmcli_wifi(text, CTX))
    assert (s.ssid, s.channel, s.band_ghz, s.frequency_mhz) == (None, None, None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no access point lines"),
        ("\n// comment only\n", "no access point lines"),
        ("hello world\n", "1 colon-separated fields"),
        (  # the tabular (non-terse) listing
            "IN-USE  BSSID              SSID    MODE   CHAN  RATE        SIGNAL  BARS  SECURITY\n"
            "*       AA:BB:CC:DD:EE:01  home    Infra  6     130 Mbit/s  90      ▂▄▆█  WPA2\n",
            "colon-separated fields",
        ),
        ("x:AA\\:BB\\:CC\\:DD\\:EE\\:01:s:Infra:6:130 Mbit/s:90:****:WPA2\n", "does not read"),
        ("*:AA\\:BB\\:CC\\:DD\\:EE\\:01:s:Infra:six:130 Mbit/s:90:****:WPA2\n", "CHAN 'six'"),
        ("Connected to 00:11:22:33:44:55 (on wlan0)\n", "colon-separated fields"),
        ("*:AA\\:BB\\:CC\\:DD\\:EE\\:01:s:Infra:٣:130 Mbit/s:90:****:WPA2\n", "does not read"),
        ("*:AA\\:BB\\:CC\\:DD\\:EE\\:01:s:Infra:6:130 Mbit/s:1e3:****:WPA2\n", "does not read"),
    ],
)
def test_rejects_other_text(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_nmcli_wifi(text, CTX)
