"""macOS Wi-Fi status from the three command-line tools a Mac may have -> WifiSample.

Why three: CoreWLAN needs an app bundle with Location authorisation for SSID/BSSID, so support
staff and the agent fall back to command output. ``system_profiler SPAirPortDataType -json``
works unprivileged on every release but is slow; ``sudo wdutil info`` is quick but needs root;
``airport -I`` is the legacy tool, removed in macOS 14.4 but still on older Macs. Since macOS 15
the tools print ``<redacted>`` (or leave out the key) for SSID and BSSID when the caller has no
Location permission; those become None. RSSI, noise, rate and channel are never withheld.

Formats:

* ``macos-system-profiler-airport``: one sample per interface that reports a status or a current
  network (``awdl0``, which has neither, is skipped). Real macOS 15.5 current network::

      "spairport_current_network_information" : {
        "_name" : "SSID-2",
        "spairport_network_channel" : "6 (2GHz, 20MHz)",
        "spairport_network_phymode" : "802.11n",
        "spairport_network_rate" : 144,
        "spairport_security_mode" : "spairport_security_mode_none",
        "spairport_signal_noise" : "-40 dBm / -97 dBm"
      },
      "spairport_status_information" : "spairport_status_connected",

  macOS 10.15 also gives ``spairport_network_bssid`` and a numeric channel (``6``, ``"149,+1"``).
  ``spairport_status_off`` (Wi-Fi off) or any status other than connected -> connected False.
  ``spairport_network_rate`` is the transmit rate. A noise of ``0 dBm`` is "not measured".
* ``macos-wdutil``: the ``WIFI`` section of ``sudo wdutil info``::

      Interface Name       : en0
      SSID                 : <redacted>
      RSSI                 : -79 dBm
      Noise                : -91 dBm
      Tx Rate              : 103.0 Mbps
      Security             : WPA2 Personal
      PHY Mode             : 11ax
      Channel              : 5g44/40

  macOS 12 writes the channel as ``144 (40 MHz, DFS)`` (band guessed from the number). Not
  associated: ``Op Mode : None``, ``SSID : None``, ``RSSI : 0 dBm`` -> connected False.
* ``macos-airport``: ``airport -I`` (``agrCtlRSSI: -42``, ``lastTxRate: 300``,
  ``link auth: wpa2-psk``, ``channel: 157,1``); ``state: running`` is associated, ``init`` and
  ``AirPort: Off`` are not. It names no interface, so ``interface`` is None.

None of these prints a time: ``ts`` is ``ctx.now``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dexpulse.schema import SampleBase, WifiSample

from . import ParseContext, ParseError, register
from .wifi_common import (
    clean_text,
    frequency_from_channel,
    guess_band_from_channel,
    in_range,
    normalize_mac,
    parse_rate_mbps,
)

_ABSENT = {"", "none", "<redacted>", "redacted", "(null)", "null", "n/a"}
_SECURITY = {
    "none": "Open",
    "open": "Open",
    "wep": "WEP",
    "wpa personal": "WPA-Personal",
    "wpa psk": "WPA-Personal",
    "wpa personal mixed": "WPA/WPA2-Personal",
    "wpa2 personal": "WPA2-Personal",
    "wpa2 psk": "WPA2-Personal",
    "wpa3 personal": "WPA3-Personal",
    "wpa3 sae": "WPA3-Personal",
    "wpa3 transition": "WPA2/WPA3-Personal",
    "wpa enterprise": "WPA-Enterprise",
    "wpa": "WPA-Enterprise",
    "wpa enterprise mixed": "WPA/WPA2-Enterprise",
    "wpa2 enterprise": "WPA2-Enterprise",
    "wpa2": "WPA2-Enterprise",
    "wpa3 enterprise": "WPA3-Enterprise",
    "wpa3": "WPA3-Enterprise",
    "owe": "OWE",
    "owe transition": "OWE-Transition",
}
_SIGNAL_NOISE = re.compile(r"(-?\d+)\s*dBm\s*/\s*(-?\d+)\s*dBm", re.IGNORECASE)
_DBM = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(?:dBm)?\s*$", re.IGNORECASE)
_WDUTIL_CHANNEL = re.compile(r"^\s*([256])g(\d+)(?:/\d+)?\s*$", re.IGNORECASE)
_LEADING_CHANNEL = re.compile(r"^\s*(\d{1,3})(?!\d)")
_GHZ = re.compile(r"(\d+(?:\.\d+)?)\s*GHz", re.IGNORECASE)
_PHY = re.compile(r"^(?:802\.)?11\s*([a-z][a-z/ ]*)$", re.IGNORECASE)
_COMMAND = re.compile(r"^\s*[$#]")
_FIELD = re.compile(r"^\s*(?P<key>[A-Za-z][\w .\[\]/-]*?)\s*:\s?(?P<value>.*)$")
_SECTION = re.compile(r"^[A-Z][A-Z0-9 ]*$")


def _value(raw: object) -> str | None:
    """A text value, or None where the tool printed nothing, ``None`` or ``<redacted>``."""
    if raw is None or isinstance(raw, (dict, list)):
        return None
    text = str(raw).strip()
    return None if text.lower() in _ABSENT or text.lower().startswith("<redacted>") else text


def _security(raw: object) -> str | None:
    """One spelling for ``spairport_security_mode_wpa2_personal``, ``WPA2 Personal`` (wdutil)
    and ``wpa2-psk`` (airport): ``WPA2-Personal``; ``none`` is an open network."""
    if raw is None or isinstance(raw, (bool, dict, list)):
        return None
    text = str(raw).strip()
    key = re.sub(r"^spairport_security_mode_", "", text.lower())
    key = re.sub(r"[\s_-]+", " ", key).strip()
    if key in _SECURITY:
        return _SECURITY[key]
    return clean_text(text) if _value(text) is not None else None


def _radio_type(raw: object) -> str | None:
    text = _value(raw)
    if text is None:
        return None
    m = _PHY.match(text)
    return clean_text(f"802.11{m[1].replace(' ', '')}" if m else text)


def _dbm(raw: object) -> float | None:
    """dBm from ``-61 dBm`` / ``-61``; 0 is the tools' "no reading" and gives None."""
    m = _DBM.match(str(raw)) if raw is not None else None
    value = float(m[1].replace(",", ".")) if m else None
    return None if value == 0 else in_range(value, -150, 30)


def _channel(raw: object) -> tuple[int | None, float | None, float | None]:
    """``(channel, band_ghz, frequency_mhz)`` of ``6 (2GHz, 20MHz)``, ``5g44/40``,
    ``144 (40 MHz, DFS)``, ``157,1`` or a bare number (band then guessed from the number)."""
    if raw is None or isinstance(raw, bool):
        return None, None, None
    text = str(raw)
    band: float | None = None
    if m := _WDUTIL_CHANNEL.match(text):
        channel = int(m[2])
        band = {"2": 2.4, "5": 5.0, "6": 6.0}[m[1]]
    elif m := _LEADING_CHANNEL.match(text):
        channel = int(m[1])
        if g := _GHZ.search(text):
            ghz = float(g[1])
            band = 2.4 if 2 <= ghz < 3 else ghz if ghz in (5.0, 6.0) else None
        else:
            band = guess_band_from_channel(channel)
    else:
        return None, None, None
    if channel <= 0:
        return None, None, None
    freq = frequency_from_channel(channel, band) if band is not None else None
    return channel, band, freq


def _rate(raw: object) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    return in_range(parse_rate_mbps(str(raw)), 0, 1e6)


def _ssid(raw: object) -> str | None:
    if raw is None or _value(raw) is None:
        return None
    return clean_text(str(raw), strip=False)


def _text_fields(text: str) -> list[tuple[str | None, str, str]]:
    """``(section, key, value)`` of the ``Key : value`` lines, after the last section title."""
    rows: list[tuple[str | None, str, str]] = []
    section: str | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\r\n")
        if _COMMAND.match(line) or not line.strip():
            continue
        if _SECTION.match(line.strip()):
            section = line.strip()
        elif m := _FIELD.match(line):
            rows.append((section, m["key"].strip(), m["value"].rstrip("\r")))
    return rows


# --- system_profiler ------------------------------------------------------------------------


def _json(text: str) -> Any:
    lines = [line for line in text.splitlines() if not _COMMAND.match(line)]
    try:
        return json.loads("\n".join(lines))
    except (ValueError, RecursionError) as exc:
        raise ParseError(
            f"not JSON ({exc}): is this the output of `system_profiler SPAirPortDataType -json`?"
        ) from None


def _profiler_sample(iface: dict[str, Any], ctx: ParseContext) -> WifiSample | None:
    current = iface.get("spairport_current_network_information")
    current = current if isinstance(current, dict) else {}
    status = iface.get("spairport_status_information")
    has_link = any(
        k in current for k in ("_name", "spairport_network_channel", "spairport_signal_noise")
    )
    if status is None and not has_link:
        return None  # awdl0 / llw0: Apple's peer-to-peer interfaces, no client link
    name = clean_text(str(iface.get("_name", "")))
    if status is not None and status != "spairport_status_connected":
        return WifiSample(ts=ctx.now, interface=name, connected=False)
    rssi = noise = None
    if m := _SIGNAL_NOISE.search(str(current.get("spairport_signal_noise", ""))):
        rssi, noise = _dbm(m[1]), _dbm(m[2])
    channel, band, freq = _channel(current.get("spairport_network_channel"))
    return WifiSample(
        ts=ctx.now,
        interface=name,
        connected=True,
        ssid=_ssid(current.get("_name")),
        bssid=normalize_mac(str(current.get("spairport_network_bssid", ""))),
        rssi_dbm=rssi,
        noise_dbm=noise,
        channel=channel,
        band_ghz=band,
        frequency_mhz=freq,
        tx_rate_mbps=_rate(current.get("spairport_network_rate")),
        radio_type=_radio_type(current.get("spairport_network_phymode")),
        security=_security(current.get("spairport_security_mode")),
    )


@register(
    "macos-system-profiler-airport",
    description="macOS `system_profiler SPAirPortDataType -json`: current Wi-Fi network "
    "of each interface",
    carries_time=False,
    example="system_profiler SPAirPortDataType -json",
)
def parse_system_profiler_airport(text: str, ctx: ParseContext) -> list[SampleBase]:
    data = _json(text)
    reports = data.get("SPAirPortDataType") if isinstance(data, dict) else None
    if not isinstance(reports, list):
        raise ParseError(
            "no 'SPAirPortDataType' list: is this the output of "
            "`system_profiler SPAirPortDataType -json`?"
        )
    samples: list[SampleBase] = []
    for report in reports:
        interfaces = report.get("spairport_airport_interfaces") if isinstance(report, dict) else []
        for iface in interfaces if isinstance(interfaces, list) else []:
            if isinstance(iface, dict) and (sample := _profiler_sample(iface, ctx)):
                samples.append(sample)
    return samples


# --- wdutil ---------------------------------------------------------------------------------


@register(
    "macos-wdutil",
    description="macOS `sudo wdutil info`: the current Wi-Fi link from its WIFI section",
    carries_time=False,
    example="sudo wdutil info",
)
def parse_wdutil(text: str, ctx: ParseContext) -> list[SampleBase]:
    rows = _text_fields(text)
    fields: dict[str, str] = {}
    for section, key, value in rows:
        if section in (None, "WIFI"):
            fields.setdefault(key, value)
    if not {"RSSI", "Interface Name", "Op Mode"} & fields.keys():
        raise ParseError(
            "no WIFI section with 'RSSI' / 'Interface Name' lines: is this the output of "
            "`sudo wdutil info` (it needs root)?"
        )
    iface = clean_text(fields.get("Interface Name", ""))
    rssi = _dbm(fields.get("RSSI"))
    ssid, bssid = fields.get("SSID", ""), fields.get("BSSID", "")
    power_off = fields.get("Power", "").strip().lower().startswith("off")
    named = any(v.strip() and v.strip().lower() != "none" for v in (ssid, bssid))
    op_mode = _value(fields.get("Op Mode"))
    if power_off or ("Op Mode" in fields and op_mode is None) or (rssi is None and not named):
        return [WifiSample(ts=ctx.now, interface=iface, connected=False)]
    channel, band, freq = _channel(fields.get("Channel"))
    return [
        WifiSample(
            ts=ctx.now,
            interface=iface,
            connected=True,
            ssid=_ssid(ssid),
            bssid=normalize_mac(bssid),
            rssi_dbm=rssi,
            noise_dbm=_dbm(fields.get("Noise")),
            channel=channel,
            band_ghz=band,
            frequency_mhz=freq,
            tx_rate_mbps=_rate(fields.get("Tx Rate")),
            radio_type=_radio_type(fields.get("PHY Mode")),
            security=_security(fields.get("Security")),
        )
    ]


# --- airport -I -----------------------------------------------------------------------------


@register(
    "macos-airport",
    description="macOS legacy `airport -I` (removed in macOS 14.4): the current Wi-Fi link",
    carries_time=False,
    example="/System/Library/PrivateFrameworks/Apple80211.framework/Versions/Current/"
    "Resources/airport -I",
)
def parse_airport(text: str, ctx: ParseContext) -> list[SampleBase]:
    fields: dict[str, str] = {}
    for _, key, value in _text_fields(text):
        fields.setdefault(key, value)
    if fields.get("AirPort", "").strip().lower() == "off":
        return [WifiSample(ts=ctx.now, connected=False)]
    if "agrCtlRSSI" not in fields and "state" not in fields:
        if "WARNING" in fields and "deprecated" in fields["WARNING"]:
            raise ParseError(
                "airport only printed its deprecation warning (it no longer works from "
                "macOS 14.4): use `sudo wdutil info` or `system_profiler SPAirPortDataType -json`"
            )
        raise ParseError("no 'agrCtlRSSI:' or 'state:' line: is this the output of `airport -I`?")
    state = fields.get("state", "").strip().lower()
    if state and state != "running":
        return [WifiSample(ts=ctx.now, connected=False)]
    channel, band, freq = _channel(fields.get("channel"))
    return [
        WifiSample(
            ts=ctx.now,
            connected=True if state else None,
            ssid=_ssid(fields.get("SSID")),
            bssid=normalize_mac(fields.get("BSSID", "")),
            rssi_dbm=_dbm(fields.get("agrCtlRSSI")),
            noise_dbm=_dbm(fields.get("agrCtlNoise")),
            channel=channel,
            band_ghz=band,
            frequency_mhz=freq,
            tx_rate_mbps=_rate(fields.get("lastTxRate")),
            security=_security(fields.get("link auth")),
        )
    ]
