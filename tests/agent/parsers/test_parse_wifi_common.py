"""Shared Wi-Fi helpers: channels, MAC addresses, signal and rate units."""

from __future__ import annotations

import pytest

from dexpulse.agent.parsers.wifi_common import (
    band_from_frequency,
    channel_and_band,
    channel_from_frequency,
    clean_text,
    dbm_to_percent,
    frequency_from_channel,
    guess_band_from_channel,
    in_range,
    normalize_mac,
    parse_rate_mbps,
    percent_to_dbm,
)

CHANNELS = [
    (2412.0, 1, 2.4),
    (2437.0, 6, 2.4),
    (2472.0, 13, 2.4),
    (2484.0, 14, 2.4),
    (5180.0, 36, 5.0),
    (5500.0, 100, 5.0),
    (5825.0, 165, 5.0),
    (5885.0, 177, 5.0),
    (4920.0, 184, 5.0),
    (5955.0, 1, 6.0),
    (5935.0, 2, 6.0),
    (6115.0, 33, 6.0),
    (7115.0, 233, 6.0),
]


@pytest.mark.parametrize(("mhz", "channel", "band"), CHANNELS)
def test_frequency_to_channel_and_band(mhz: float, channel: int, band: float) -> None:
    assert channel_and_band(mhz) == (channel, band)
    assert frequency_from_channel(channel, band) == mhz


@pytest.mark.parametrize("mhz", [0.0, 2300.0, 2413.0, 2412.5, 3600.0, 58320.0, float("nan")])
def test_frequencies_off_the_raster_have_no_channel(mhz: float) -> None:
    assert channel_from_frequency(mhz) is None


def test_band_edges() -> None:
    assert band_from_frequency(5920.0) == 5.0
    assert band_from_frequency(5925.0) == 6.0
    assert band_from_frequency(7200.0) is None


@pytest.mark.parametrize(
    ("channel", "band"), [(15, 2.4), (0, 2.4), (178, 5.0), (234, 6.0), (6, 60.0)]
)
def test_channels_outside_a_band_have_no_frequency(channel: int, band: float) -> None:
    assert frequency_from_channel(channel, band) is None


def test_guess_band_from_channel() -> None:
    assert [guess_band_from_channel(c) for c in (1, 14, 36, 165, 188, 0, 20, 233)] == [
        2.4,
        2.4,
        5.0,
        5.0,
        5.0,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("text", "mac"),
    [
        ("FE:DC:BA:98:76:02", "fe:dc:ba:98:76:02"),
        ("fe-dc-ba-98-76-02", "fe:dc:ba:98:76:02"),
        (" FE-DC-BA-98-76-02 ", "fe:dc:ba:98:76:02"),
        ("a0:4:60:b:c:1", "a0:04:60:0b:0c:01"),  # macOS tools drop leading zeros
        ("FEDCBA987602", "fe:dc:ba:98:76:02"),
        ("fedc.ba98.7602", "fe:dc:ba:98:76:02"),
    ],
)
def test_normalize_mac(text: str, mac: str) -> None:
    assert normalize_mac(text) == mac


@pytest.mark.parametrize(
    "text",
    ["", "<redacted>", "<BSSID>", "80:a5:89:xx:xx:xx", "fe:dc:ba:98:76", "fe:dc-ba:98:76:02"],
)
def test_not_a_mac(text: str) -> None:
    assert normalize_mac(text) is None


def test_dbm_percent_mapping() -> None:
    assert [dbm_to_percent(d) for d in (-110, -100, -75, -50, -30)] == [0, 0, 50, 100, 100]
    assert [percent_to_dbm(p) for p in (0, 50, 87, 100, 120)] == [-100, -75, -56.5, -50, -50]
    assert dbm_to_percent(percent_to_dbm(64)) == 64


@pytest.mark.parametrize(
    ("text", "mbps"),
    [
        ("26.0 MBit/s", 26.0),
        ("72.2 MBit/s MCS 7 short GI", 72.2),
        ("1200.9 MBit/s 80MHz HE-MCS 11 HE-NSS 2", 1200.9),
        ("130 Mbit/s", 130.0),
        ("54 MB/s", 54.0),
        ("1.2 Gbit/s", 1200.0),
        ("54000 kbps", 54.0),
        ("866.7", 866.7),
        ("866,7", 866.7),
        ("400 Mbps", 400.0),
    ],
)
def test_parse_rate(text: str, mbps: float) -> None:
    assert parse_rate_mbps(text) == pytest.approx(mbps)


@pytest.mark.parametrize("text", ["", "(unknown)", "unknown", "fast", "12 dBm"])
def test_not_a_rate(text: str) -> None:
    assert parse_rate_mbps(text) is None


def test_clean_text_and_in_range() -> None:
    assert clean_text("  wlan0\x00 ") == "wlan0"
    assert clean_text(" my net ", strip=False) == " my net "
    assert clean_text("x" * 300) == "x" * 256
    assert clean_text("   ") is None
    assert in_range(-50.0, -150, 30) == -50.0
    assert in_range(-256.0, -150, 30) is None
    assert in_range(float("inf"), 0, 1) is None
    assert in_range(None, 0, 1) is None
