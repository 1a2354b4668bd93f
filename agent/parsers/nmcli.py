"""NetworkManager ``nmcli -t device wifi list``: the access point in use, from the scan list.

Where NetworkManager runs, its scan list is the cheapest unprivileged view of the current
network. Terse mode (``-t``) separates fields with ``:`` and escapes ``:`` and ``\\`` inside a
value as ``\\:`` and ``\\\\``. Real output (hnykda/wifi-heatmapper test data, 2 of 12 lines)::

     :FE\\:DC\\:BA\\:09\\:87\\:02:SSID-2-\\\\foo\\:bar:Infra:6:130 Mbit/s:100:▂▄▆█:WPA2
    *:FE\\:DC\\:BA\\:09\\:87\\:03:SSID-3:Infra:1:260 Mbit/s:87:▂▄▆█:

Field order (terse output has no header, so it cannot be detected; this is the assumption):
``IN-USE:BSSID:SSID:MODE:CHAN:RATE:SIGNAL:BARS:SECURITY``, which is both nmcli's default
for ``device wifi list`` and what ``-f IN-USE,BSSID,SSID,MODE,CHAN,RATE,SIGNAL,BARS,SECURITY``
prints. Older nmcli, whose defaults lacked BSSID (``*:SSID:MODE:CHAN:RATE:SIGNAL:BARS:SECURITY``,
8 fields), is accepted too. Any other field list (e.g. ``-f SSID,BSSID,SIGNAL,SECURITY``, which
has no IN-USE column and so cannot say which network is in use) is refused with a ParseError
naming the expected command.

The row marked ``*`` in IN-USE gives one WifiSample (one per ``*`` if several adapters are
connected): bssid, ssid, channel, signal_percent (NetworkManager's 0-100 strength), security
(nmcli's flags such as ``WPA2 802.1X``; an empty value means the AP advertises no privacy at all,
sent as ``Open``). Band and frequency are inferred from the channel number alone
(1-14 -> 2.4 GHz, 32-177 -> 5 GHz): nmcli's CHAN cannot tell a 6 GHz channel from a 2.4/5 GHz one
with the same number, so on 6 GHz these two fields are wrong; add FREQ to the command and a
different parser if that matters. RATE is deliberately **not** sent as ``rx_rate_mbps``:
nmcli prints the access point's *maximum* advertised bitrate (``nm_access_point_get_max_bitrate``),
not the current PHY rate the field means. No ``*`` row: WifiSample(connected=False).
The list names no interface and has no time: interface is None and ts is ``ctx.now``.
"""

from __future__ import annotations

import re

from dexpulse.schema import SampleBase, WifiSample

from . import ParseContext, ParseError, register
from .wifi_common import (
    clean_text,
    frequency_from_channel,
    guess_band_from_channel,
    in_range,
    normalize_mac,
)

_FIELDS = ("IN-USE", "BSSID", "SSID", "MODE", "CHAN", "RATE", "SIGNAL", "BARS", "SECURITY")
_OLD_FIELDS = ("IN-USE", "SSID", "MODE", "CHAN", "RATE", "SIGNAL", "BARS", "SECURITY")
_COMMAND = "nmcli -t -f " + ",".join(_FIELDS) + " device wifi list"
_NUMBER = re.compile(r"^[0-9]{1,9}$")


def split_terse(line: str) -> list[str]:
    """Split one line of ``nmcli -t`` output on unescaped ``:``, undoing ``\\:`` and ``\\\\``."""
    fields: list[str] = []
    current: list[str] = []
    chars = iter(line)
    for char in chars:
        if char == "\\":
            current.append(next(chars, "\\"))
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def _row(fields: list[str], number: int) -> dict[str, str]:
    names = {len(_FIELDS): _FIELDS, len(_OLD_FIELDS): _OLD_FIELDS}.get(len(fields))
    if names is None:
        raise ParseError(
            f"line {number} has {len(fields)} colon-separated fields, expected "
            f"{len(_FIELDS)} ({':'.join(_FIELDS)}): capture it with `{_COMMAND}`"
        )
    row = dict(zip(names, fields, strict=True))
    if (
        row["IN-USE"].strip() not in ("", "*")
        or not _NUMBER.match(row["CHAN"].strip())
        or not _NUMBER.match(row["SIGNAL"].strip())
    ):
        raise ParseError(
            f"line {number} does not read as {':'.join(names)} (IN-USE {row['IN-USE']!r}, "
            f"CHAN {row['CHAN']!r}, SIGNAL {row['SIGNAL']!r}): capture it with `{_COMMAND}`"
        )
    return row


def _sample(row: dict[str, str], ctx: ParseContext) -> WifiSample:
    channel = int(row["CHAN"]) if int(row["CHAN"]) <= 255 else 0  # 802.11 channels are 8 bits
    band = guess_band_from_channel(channel)
    security = row["SECURITY"].strip()
    return WifiSample(
        ts=ctx.now,
        connected=True,
        ssid=clean_text(row["SSID"], strip=False),
        bssid=normalize_mac(row.get("BSSID", "")),
        signal_percent=in_range(float(row["SIGNAL"]), 0, 100),
        channel=channel or None,
        band_ghz=band,
        frequency_mhz=frequency_from_channel(channel, band) if band is not None else None,
        security=clean_text(security) if security not in ("", "--") else "Open",
    )


@register(
    "linux-nmcli-wifi",
    description="NetworkManager `nmcli -t device wifi list`: the access point in use (IN-USE *)",
    carries_time=False,
    example=_COMMAND,
)
def parse_nmcli_wifi(text: str, ctx: ParseContext) -> list[SampleBase]:
    rows: list[dict[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith(("$", "#", "//")):
            continue
        rows.append(_row(split_terse(line), number))
    if not rows:
        raise ParseError(
            "no access point lines: is this the output of "
            f"`{_COMMAND}`? (an empty list can also mean the Wi-Fi radio is off)"
        )
    samples: list[SampleBase] = [_sample(row, ctx) for row in rows if row["IN-USE"] == "*"]
    return samples or [WifiSample(ts=ctx.now, connected=False)]
