"""macOS system_profiler / wdutil / airport -I -> WifiSample."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError, load_all
from dexpulse.agent.parsers.macos_wifi import (
    parse_airport,
    parse_system_profiler_airport,
    parse_wdutil,
)
from dexpulse.schema import WifiSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "macos"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)


def _read(case: str, name: str) -> str:
    return (FIXTURES / case / name).read_text(encoding="utf-8")


def _one(samples: list[object]) -> WifiSample:
    assert len(samples) == 1
    sample = samples[0]
    assert isinstance(sample, WifiSample)
    return sample


def _profiler(current: dict[str, object], status: str = "spairport_status_connected") -> str:
    iface = {
        "_name": "en1",
        "spairport_current_network_information": current,
        "spairport_status_information": status,
    }
    return json.dumps({"SPAirPortDataType": [{"spairport_airport_interfaces": [iface]}]})


def test_registered() -> None:
    load_all()
    for name in ("macos-system-profiler-airport", "macos-wdutil", "macos-airport"):
        assert FORMATS[name].carries_time is False


# --- system_profiler --------------------------------------------------------------------------


def test_system_profiler_macos15_fixture() -> None:
    text = _read(
        "system_profiler_SPAirPortDataType_15_5_1",
        "macos_system_profiler_SPAirPortDataType_15_5_1.json",
    )
    s = _one(parse_system_profiler_airport(text, CTX))  # awdl0 is skipped
    assert s.ts == NOW
    assert s.interface == "en0"
    assert s.connected is True
    assert s.ssid == "SSID-2"
    assert s.bssid is None  # macOS 15 gives no BSSID
    assert (s.rssi_dbm, s.noise_dbm) == (-40, -97)
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (6, 2.4, 2437)
    assert s.tx_rate_mbps == 144
    assert s.radio_type == "802.11n"
    assert s.security == "Open"


def test_system_profiler_wifi_off_fixture() -> None:
    text = _read(
        "system_profiler_SPAirPortDataType_wifi_off_3",
        "macos_system_profiler_SPAirPortDataType_wifi_off_3.json",
    )
    s = _one(parse_system_profiler_airport(text, CTX))
    assert s.interface == "en0"
    assert s.connected is False
    assert s.ssid is None and s.rssi_dbm is None and s.channel is None


def test_system_profiler_macos_10_15_keys() -> None:
    text = _profiler(
        {
            "_name": "Office",
            "spairport_network_bssid": "FE:DC:BA:9:87:65",
            "spairport_network_channel": "149,+1",
            "spairport_network_phymode": "802.11ac",
            "spairport_network_rate": 400,
            "spairport_security_mode": "spairport_security_mode_wpa2_enterprise",
            "spairport_signal_noise": "-55 dBm / 0 dBm",
        }
    )
    s = _one(
        parse_system_profiler_airport(f"$ system_profiler SPAirPortDataType -json\n{text}", CTX)
    )
    assert s.interface == "en1"
    assert s.bssid == "fe:dc:ba:09:87:65"
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (149, 5.0, 5745)
    assert s.rssi_dbm == -55
    assert s.noise_dbm is None  # 0 dBm means "not measured"
    assert s.tx_rate_mbps == 400
    assert s.security == "WPA2-Enterprise"


def test_system_profiler_numeric_channel_and_6ghz() -> None:
    s = _one(parse_system_profiler_airport(_profiler({"spairport_network_channel": 6}), CTX))
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (6, 2.4, 2437)
    text = _profiler(
        {
            "_name": "<redacted>",
            "spairport_network_channel": "37 (6GHz, 160MHz)",
            "spairport_security_mode": "spairport_security_mode_wpa3_personal",
        }
    )
    s = _one(parse_system_profiler_airport(text, CTX))
    assert s.ssid is None  # redacted on macOS 26
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (37, 6.0, 6135)
    assert s.security == "WPA3-Personal"


def test_system_profiler_disconnected_and_no_wifi_hardware() -> None:
    text = _profiler({"spairport_network_type": "x"}, status="spairport_status_disconnected")
    s = _one(parse_system_profiler_airport(text, CTX))
    assert s.connected is False and s.interface == "en1"
    assert parse_system_profiler_airport('{"SPAirPortDataType": []}', CTX) == []


@pytest.mark.parametrize(
    "text", ["", "hello world", "{}", '{"SPUSBDataType": []}', "[1, 2]", "{not json"]
)
def test_system_profiler_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_system_profiler_airport(text, CTX)


# --- wdutil -----------------------------------------------------------------------------------


def test_wdutil_macos12_fixture() -> None:
    text = _read("wdutil_info_macos12_2", "macos_wdutil_info_macos12_2.txt")
    s = _one(parse_wdutil(text, CTX))
    assert s.ts == NOW
    assert s.interface == "en1"
    assert s.connected is True
    assert s.ssid == "SomeSSID-5"
    assert s.bssid == "fe:dc:ba:09:87:65"
    assert (s.rssi_dbm, s.noise_dbm) == (-61, -96)
    assert s.tx_rate_mbps == 324.0
    assert s.radio_type == "802.11ac"
    assert s.security == "WPA2-Personal"
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (144, 5.0, 5720)


def test_wdutil_macos15_redacted_fixture() -> None:
    text = _read("wdutil_info_macos15_redacted_1", "macos_wdutil_info_macos15_redacted_1.txt")
    s = _one(parse_wdutil(text, CTX))
    assert s.interface == "en0"
    assert s.connected is True
    assert s.ssid is None and s.bssid is None
    assert (s.rssi_dbm, s.noise_dbm) == (-79, -91)
    assert s.tx_rate_mbps == 103.0
    assert s.radio_type == "802.11ax"
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (44, 5.0, 5220)


WDUTIL_NOT_ASSOCIATED = """\
\u2014\u2014\u2014\u2014\u2014\u2014\u2014\u2014
WIFI\r
\u2014\u2014\u2014\u2014\u2014\u2014\u2014\u2014
    MAC Address          : <redacted> (hw=<redacted>)
    Interface Name       : en0
    Power                : On [On]
    Op Mode              : None
    SSID                 : None
    BSSID                : None
    RSSI                 : 0 dBm
    Noise                : 0 dBm
    Tx Rate              : 0.0 Mbps
    Channel              : 2g1/20
"""


def test_wdutil_not_associated_and_power_off() -> None:
    s = _one(parse_wdutil(WDUTIL_NOT_ASSOCIATED, CTX))
    assert (s.interface, s.connected, s.channel, s.rssi_dbm) == ("en0", False, None, None)
    off = "WIFI\n\tInterface Name : en0\n\tPower : Off [Off]\n\tOp Mode : \n"
    s = _one(parse_wdutil(off, CTX))
    assert (s.interface, s.connected) == ("en0", False)


def test_wdutil_ignores_other_sections_and_reads_2g_channel() -> None:
    text = (
        "# sudo wdutil info\nNETWORK\n    Interface Name : en9\nWIFI\n"
        "    Interface Name : en0\n    Op Mode : STA\n    SSID : Caf\u00e9 \n"
        "    RSSI : -50 dBm\n    Channel : 2g11/20\n    Security : WPA3 Personal\n"
        "BLUETOOTH\n    RSSI : -20 dBm\n"
    )
    s = _one(parse_wdutil(text, CTX))
    assert s.interface == "en0"
    assert s.ssid == "Caf\u00e9 "
    assert s.rssi_dbm == -50
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (11, 2.4, 2462)
    assert s.security == "WPA3-Personal"


@pytest.mark.parametrize(
    "text", ["", "random words\n", "wdutil: must be run as root\n", "     agrCtlRSSI: -42\n"]
)
def test_wdutil_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_wdutil(text, CTX)


# --- airport -I -------------------------------------------------------------------------------


def test_airport_fixture() -> None:
    s = _one(parse_airport(_read("airport_I_1", "macos_airport_I_1.txt"), CTX))
    assert s.ts == NOW
    assert s.interface is None
    assert s.connected is True
    assert s.ssid == "Foo Bar"
    assert s.bssid is None  # empty BSSID line
    assert (s.rssi_dbm, s.noise_dbm) == (-42, -92)
    assert s.tx_rate_mbps == 300
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (157, 5.0, 5785)
    assert s.security == "WPA2-Personal"


def test_airport_not_associated_and_off() -> None:
    init = "     agrCtlRSSI: 0\r\n    agrCtlNoise: 0\r\n          state: init\r\n"
    assert _one(parse_airport(init, CTX)).connected is False
    assert _one(parse_airport("AirPort: Off\n", CTX)).connected is False


def test_airport_with_bssid() -> None:
    text = "agrCtlRSSI: -60\nstate: running\nBSSID: 0:11:22:a:bb:cc\nSSID: x\nchannel: 6\n"
    s = _one(parse_airport(text, CTX))
    assert s.bssid == "00:11:22:0a:bb:cc"
    assert (s.channel, s.band_ghz) == (6, 2.4)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nothing to see",
        "WARNING: The airport command line tool is deprecated and will be removed in a future "
        "release.\n",
        "    RSSI                 : -79 dBm\n",
    ],
)
def test_airport_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_airport(text, CTX)
