"""Pure helpers shared by the Wi-Fi parsers of every OS: channels, MAC addresses, units.

Nothing here is registered as a format. The functions answer the small questions that every
Wi-Fi source raises in its own spelling:

* which channel and band a centre frequency is (``iw`` prints ``freq: 2412.0``, Windows' BSS
  list gives kHz, macOS a channel and a band), and back;
* the one spelling of a BSSID on the wire (``FE-DC-BA-98-76-02`` from netsh,
  ``fe:dc:ba:98:76:2`` from macOS tools, ``fe:dc:ba:98:76:02`` from iw);
* Windows' signal quality (``Signal : 87%``), which the Native Wifi API defines as linear
  between -100 dBm (0 %) and -50 dBm (100 %);
* bit rates printed as ``26.0 MBit/s`` (iw), ``130 Mbit/s`` (nmcli), ``54 MB/s`` (old nmcli,
  meaning megabits) or a bare ``866,7`` (netsh in a comma-decimal language).

Channel numbering follows IEEE 802.11 as the Linux kernel implements it
(``ieee80211_freq_khz_to_channel``): 2.4 GHz channels 1-13 are 2407 + 5n MHz and 14 is 2484 MHz;
5 GHz channels are 5000 + 5n MHz (4.9 GHz Japan channels 183-196 are 4000 + 5n MHz);
6 GHz channels are 5950 + 5n MHz, except channel 2 at 5935 MHz.
"""

from __future__ import annotations

import math
import re

BAND_2_4 = 2.4
BAND_5 = 5.0
BAND_6 = 6.0

_MAC_SEPARATED = re.compile(r"^[0-9a-fA-F]{1,2}([:-])(?:[0-9a-fA-F]{1,2}\1){4}[0-9a-fA-F]{1,2}$")
_MAC_BARE = re.compile(r"^[0-9a-fA-F]{12}$")
_MAC_CISCO = re.compile(r"^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$")

_RATE = re.compile(
    r"^\s*(?P<num>\d+(?:[.,]\d+)?)\s*(?:(?P<prefix>[kmg]?)(?:bit/s|bps|b/s)(?![a-z])|\s*$)",
    re.IGNORECASE,
)
_RATE_FACTOR = {"": 1.0, "k": 0.001, "m": 1.0, "g": 1000.0}


def band_from_frequency(mhz: float) -> float | None:
    """Band in GHz (2.4, 5 or 6) of a centre frequency in MHz; None outside those bands."""
    if not math.isfinite(mhz):
        return None
    if 2400 <= mhz < 2500:
        return BAND_2_4
    if 4900 <= mhz < 5925:
        return BAND_5
    if 5925 <= mhz <= 7125:
        return BAND_6
    return None


def channel_from_frequency(mhz: float) -> int | None:
    """Channel number of a centre frequency in MHz; None if it is not on a channel raster."""
    band = band_from_frequency(mhz)
    if band is None or mhz != int(mhz):
        return None
    freq = int(mhz)
    if band == BAND_2_4:
        if freq == 2484:
            return 14
        base = 2407
    elif band == BAND_5:
        base = 4000 if 4910 <= freq <= 4980 else 5000
    else:
        if freq == 5935:
            return 2
        base = 5950
    offset = freq - base
    if offset <= 0 or offset % 5:
        return None
    return offset // 5


def channel_and_band(mhz: float) -> tuple[int | None, float | None]:
    """``(channel, band_ghz)`` of a centre frequency in MHz, each None when unknown."""
    return channel_from_frequency(mhz), band_from_frequency(mhz)


def frequency_from_channel(channel: int, band_ghz: float) -> float | None:
    """Centre frequency in MHz of ``channel`` in the band ``band_ghz``; None if not a channel."""
    if channel <= 0:
        return None
    if abs(band_ghz - BAND_2_4) < 0.2:
        if channel == 14:
            return 2484.0
        return float(2407 + 5 * channel) if channel <= 13 else None
    if abs(band_ghz - BAND_5) < 0.2:
        if 183 <= channel <= 196:
            return float(4000 + 5 * channel)
        return float(5000 + 5 * channel) if channel <= 177 else None
    if abs(band_ghz - BAND_6) < 0.2:
        if channel == 2:
            return 5935.0
        return float(5950 + 5 * channel) if channel <= 233 else None
    return None


def guess_band_from_channel(channel: int) -> float | None:
    """Band of a bare channel number, for sources that print no band or frequency (nmcli).

    Only a guess: 6 GHz reuses the numbers 1-233, so a 6 GHz channel comes back as 2.4 or
    5 GHz. Channels 1-14 are taken as 2.4 GHz, 32-177 and 183-196 as 5 GHz.
    """
    if 1 <= channel <= 14:
        return BAND_2_4
    if 32 <= channel <= 177 or 183 <= channel <= 196:
        return BAND_5
    return None


def normalize_mac(text: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for a MAC address written with ``:`` or ``-`` (any case, octets of
    one or two digits), as 12 bare hex digits, or in Cisco ``aabb.ccdd.eeff`` form; None for
    anything else (``<redacted>``, masked ``80:a5:89:xx:xx:xx``, empty)."""
    value = text.strip()
    if _MAC_SEPARATED.match(value):
        octets = re.split(r"[:-]", value)
    elif _MAC_BARE.match(value) or _MAC_CISCO.match(value):
        digits = value.replace(".", "")
        octets = [digits[i : i + 2] for i in range(0, 12, 2)]
    else:
        return None
    return ":".join(octet.lower().zfill(2) for octet in octets)


def dbm_to_percent(dbm: float) -> float:
    """Windows' signal quality for an RSSI: 2 * (dBm + 100), clamped to 0..100.

    The Native Wifi API defines ``wlanSignalQuality`` as 0 at -100 dBm, 100 at -50 dBm and
    linear in between (WLAN_ASSOCIATION_ATTRIBUTES).
    """
    return max(0.0, min(100.0, 2.0 * (dbm + 100.0)))


def percent_to_dbm(percent: float) -> float:
    """Inverse of :func:`dbm_to_percent`: an RSSI in dBm (-100..-50) for a quality 0..100.

    Only an estimate: Windows clamps, so 100 % means "-50 dBm or stronger" and 0 % "-100 dBm or
    weaker".
    """
    return max(0.0, min(100.0, percent)) / 2.0 - 100.0


def parse_rate_mbps(text: str) -> float | None:
    """Mbit/s from ``26.0 MBit/s``, ``130 Mbit/s``, ``54 MB/s``, ``1.2 Gbit/s``, ``54000 kbps``
    or a value that is only a number (taken as Mbit/s, with ``.`` or ``,`` as decimal mark);
    text after a rate with unit (``MCS 7 short GI``) is ignored. None for ``(unknown)``, a number
    with another unit, and other non-rates.

    ``MB/s`` is read as megabits: old nmcli printed the megabit rate with that unit.
    """
    match = _RATE.match(text)
    if match is None:
        return None
    value = float(match["num"].replace(",", "."))
    return value * _RATE_FACTOR[(match["prefix"] or "").lower()]


def clean_text(text: str, limit: int = 256, *, strip: bool = True) -> str | None:
    """A text value fit for the wire: NULs dropped, outer blanks stripped (unless ``strip`` is
    False, for SSIDs whose spaces are part of the name), at most ``limit`` characters; None if
    nothing is left."""
    value = text.replace("\x00", "")
    if strip:
        value = value.strip()
    return value[:limit] or None


def in_range(value: float | None, low: float, high: float) -> float | None:
    """``value`` if it is a finite number within ``low..high``, else None (a sentinel or junk
    reading is left out rather than sent)."""
    if value is None or not math.isfinite(value) or not low <= value <= high:
        return None
    return value
