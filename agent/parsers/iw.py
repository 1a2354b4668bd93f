"""Linux ``iw`` output: the current link, station statistics and the live event stream.

``iw`` talks nl80211 directly and needs no privileges for reading, so it works on every
cfg80211 driver whether or not NetworkManager runs. Its text is not a stable interface (iw
itself warns against screen-scraping), so the parsers key on the few labels that have not
changed across iw releases and ignore everything else. Real ``iw dev wlp1s0 link`` output::

    Connected to fe:dc:ba:98:76:02 (on wlp1s0)
        SSID: SSID-1
        freq: 2412.0
        signal: -51 dBm
        tx bitrate: 26.0 MBit/s

Formats:

* ``linux-iw-link``: ``iw dev <if> link`` -> one WifiSample per ``Connected to`` /
  ``Joined IBSS`` block, or a disconnected one for ``Not connected.`` (named after the
  interface of a preceding ``$ iw dev <if> link`` line or ``Authenticated with ... (on <if>)``
  line). Output of ``iw dev <if> station get <bssid>`` (or ``station dump``) pasted after it is
  merged in where its ``Station`` address is the linked BSSID: ``rx bitrate`` and friends fill
  what the link block lacks (some drivers, rtl8723bs, answer ``station get`` but not ``dump``).
  On Wi-Fi 7 multi-link (MLO) output the BSSID and frequency are those of the first ``Link``.
  ``radio_type`` comes from the bitrate markers: EHT -> 802.11be, HE -> 802.11ax,
  VHT -> 802.11ac, plain ``MCS n`` -> 802.11n; legacy rates say nothing, so None.
  SSIDs are unescaped (iw prints non-printable bytes, ``\\``, and outer spaces as ``\\xNN``).
* ``linux-iw-station``: ``iw dev <if> station dump|get`` alone -> one WifiSample per
  ``Station`` block. On a client interface the one station is the access point; on an access
  point each client is a sample. ``connected`` only where the block says ``associated:``.
  An empty dump after its ``$ iw dev <if> station dump`` line is a normal empty result
  (not associated, or a driver that lists no stations); empty text is an error.
* ``linux-iw-event``: ``iw event [-t|-T|-r] [-f]`` lines -> WifiEventSample for
  ``connected to``, ``disconnected (by AP|local request) reason: N: ...``, ``roamed to`` and
  failed attempts (``failed to connect``, ``timed out``, an ``auth``/``assoc`` reply with a
  non-zero status, ``auth: timed out``) as ``auth_failed`` with the 802.11 *status* code as
  ``reason_code``. A frame-level failure and the ``failed to connect`` that cfg80211 sends for
  the same attempt count once. Deauth/disassoc frame lines are skipped: the ``disconnected``
  line that follows carries the reason. ``CQM event: beacon loss`` (and RSSI threshold
  events) are **not** disconnects: the driver reports missed beacons while the link is still
  up, mac80211 then probes the AP and only a failed probe ends in a ``disconnected`` line of
  its own; counting beacon losses would inflate the disconnect rate (the fixture shows six of
  them interleaved with acked EAPOL frames). The schema has no event kind for them, so they
  are dropped. ``bssid`` of a disconnect and ``previous_bssid`` of a roam come from the last
  ``connected``/``roamed`` line of the same interface earlier in the text.
  Times: ``-t`` prints epoch seconds, ``-T`` local wall-clock (read in ``ctx.local_tz``);
  ``-r`` (seconds since the previous event) and plain ``iw event`` give no absolute time, so
  those events are stamped ``ctx.now``.

``iw ... link``/``station`` print no time; ts is ``ctx.now`` unless a newer iw's
``current time: <ms since epoch> ms`` line is present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from dexpulse.schema import SampleBase, WifiEventSample, WifiSample

from . import ParseContext, ParseError, register
from .wifi_common import (
    channel_and_band,
    clean_text,
    in_range,
    normalize_mac,
    parse_rate_mbps,
)

_ON = r"(?P<addr>\S+) \(on (?P<iface>[^)\s]+)\)"
_CONNECTED = re.compile(rf"^(?:Connected to|Joined IBSS) {_ON}")
_AUTHENTICATED = re.compile(rf"^Authenticated with {_ON}")
_NOT_CONNECTED = re.compile(r"^Not connected\.?$")
_STATION = re.compile(rf"^Station {_ON}")
_MLD = re.compile(r"^MLD (?P<addr>\S+) stats:")
_MLO_LINK = re.compile(r"^Link \d+ BSSID (?P<addr>\S+)")
_COMMAND = re.compile(r"^[$#]\s*(?P<cmd>.*)$")
_COMMAND_IFACE = re.compile(r"\biw\s+(?:dev\s+)?(?P<iface>(?!dev\b)\S+)\s+(?:link|station)\b")
_FAILED = re.compile(r"^command failed:.*")
_FIELD = re.compile(r"^(?P<key>[A-Za-z][\w /.-]*?)\s*:\s*(?P<value>.*)$")
_INT = re.compile(r"-?\d+(?![\w.])")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?![\w.])")
_SSID_ESCAPE = re.compile(r"(\\x[0-9a-fA-F]{2})")
_RADIO = (
    (re.compile(r"\bEHT-MCS\b"), "802.11be"),
    (re.compile(r"\bHE-MCS\b"), "802.11ax"),
    (re.compile(r"\bVHT-MCS\b"), "802.11ac"),
    (re.compile(r"(?<![\w-])MCS \d"), "802.11n"),
)


@dataclass
class _Block:
    kind: str  # "link", "down", "station", "mld"
    addr: str | None = None
    iface: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    link_bssid: str | None = None
    link_freq: str | None = None


@dataclass
class _Text:
    blocks: list[_Block] = field(default_factory=list)
    failure: str | None = None
    """The first ``command failed: ...`` line iw printed."""
    station_command: bool = False
    """A ``$ iw dev <if> station ...`` line was seen (so no Station block means no station)."""


def _read(text: str) -> _Text:
    """Split ``iw`` link/station text into blocks."""
    result = _Text()
    blocks = result.blocks
    current: _Block | None = None
    command_iface: str | None = None
    auth_iface: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if m := _COMMAND.match(line):
            found = _COMMAND_IFACE.search(m["cmd"])
            command_iface = found["iface"] if found else None
            result.station_command |= bool(re.search(r"\biw\b.*\bstation\b", m["cmd"]))
            current = None
        elif m := _CONNECTED.match(line):
            current = _Block("link", m["addr"], m["iface"])
            blocks.append(current)
        elif m := _AUTHENTICATED.match(line):
            auth_iface = m["iface"]
        elif _NOT_CONNECTED.match(line):
            blocks.append(_Block("down", iface=auth_iface or command_iface))
            current, auth_iface = None, None
        elif m := _STATION.match(line):
            current = _Block("station", m["addr"], m["iface"])
            blocks.append(current)
        elif m := _MLD.match(line):
            current = _Block("mld", m["addr"])
            blocks.append(current)
        elif current is not None and (m := _MLO_LINK.match(line)):
            current.link_bssid = current.link_bssid or m["addr"]
        elif _FAILED.match(line):
            result.failure = result.failure or line
        elif current is not None and (m := _FIELD.match(line)):
            key = m["key"].lower() if m["key"] != "SSID" else "SSID"
            if key == "freq" and current.link_bssid is not None:
                current.link_freq = current.link_freq or m["value"]
            else:
                current.fields.setdefault(key, m["value"].strip())
    return result


def _unescape_ssid(raw: str) -> str:
    data = bytearray()
    for part in _SSID_ESCAPE.split(raw.strip()):
        if _SSID_ESCAPE.fullmatch(part):
            data.append(int(part[2:], 16))
        else:
            data.extend(part.encode())
    return data.decode("utf-8", errors="replace")


def _first_number(value: str | None, pattern: re.Pattern[str] = _NUMBER) -> float | None:
    if value is None:
        return None
    m = pattern.match(value.strip())
    return float(m.group()) if m else None


def _code(value: str | None) -> int | None:
    """An 802.11 status or reason code (16 bits); None if absent or not one."""
    if not value or not value.isascii() or len(value) > 5:
        return None
    return int(value) if int(value) <= 0xFFFF else None


def _radio_type(*bitrates: str | None) -> str | None:
    for pattern, name in _RADIO:  # newest generation first
        if any(rate and pattern.search(rate) for rate in bitrates):
            return name
    return None


def _timestamp(fields: dict[str, str], ctx: ParseContext) -> datetime:
    ms = _first_number(fields.get("current time"), _INT)
    if ms is not None:
        try:
            return datetime.fromtimestamp(ms / 1000.0, tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return ctx.now


def _sample(
    block: _Block, fields: dict[str, str], ctx: ParseContext, connected: bool | None
) -> WifiSample:
    freq = in_range(_first_number(block.link_freq or fields.get("freq")), 1, 100_000)
    channel, band = channel_and_band(freq) if freq is not None else (None, None)
    tx, rx = fields.get("tx bitrate"), fields.get("rx bitrate")
    signal = fields.get("signal", fields.get("signal avg"))
    ssid = fields.get("SSID")
    return WifiSample(
        ts=_timestamp(fields, ctx),
        interface=clean_text(block.iface or ""),
        connected=connected,
        ssid=clean_text(_unescape_ssid(ssid), strip=False) if ssid else None,
        bssid=normalize_mac(block.link_bssid or block.addr or ""),
        rssi_dbm=in_range(_first_number(signal, _INT), -150, 30),
        channel=channel,
        band_ghz=band,
        frequency_mhz=freq,
        tx_rate_mbps=in_range(parse_rate_mbps(tx or ""), 0, 1e6),
        rx_rate_mbps=in_range(parse_rate_mbps(rx or ""), 0, 1e6),
        radio_type=_radio_type(tx, rx),
    )


@register(
    "linux-iw-link",
    description="Linux `iw dev <if> link` (optionally followed by `station get <bssid>`): "
    "the current Wi-Fi link",
    carries_time=False,
    example="iw dev wlan0 link",
)
def parse_iw_link(text: str, ctx: ParseContext) -> list[SampleBase]:
    read = _read(text)
    blocks = read.blocks
    samples: list[SampleBase] = []
    for i, block in enumerate(blocks):
        if block.kind == "down":
            iface = clean_text(block.iface or "")
            samples.append(WifiSample(ts=ctx.now, interface=iface, connected=False))
        elif block.kind == "link":
            fields = dict(block.fields)
            for extra in blocks[i + 1 :]:
                if extra.kind in ("link", "down"):
                    break
                same_ap = (extra.addr or "").lower() == (block.addr or "").lower()
                if extra.kind == "mld" or (same_ap and extra.iface == block.iface):
                    for key, value in extra.fields.items():
                        fields.setdefault(key, value)
            samples.append(_sample(block, fields, ctx, connected=True))
    if samples:
        return samples
    if read.failure:
        raise ParseError(f"iw reported an error instead of the link: {read.failure!r}")
    if any(block.kind == "station" for block in blocks):
        raise ParseError(
            "this is `iw station dump/get` output without the `iw dev <if> link` part: "
            "parse it as format linux-iw-station"
        )
    raise ParseError(
        "no 'Connected to' or 'Not connected' line: is this the output of `iw dev <if> link`?"
    )


@register(
    "linux-iw-station",
    description="Linux `iw dev <if> station dump` / `station get <mac>`: one sample per station",
    carries_time=False,
    example="iw dev wlan0 station dump",
)
def parse_iw_station(text: str, ctx: ParseContext) -> list[SampleBase]:
    read = _read(text)
    samples: list[SampleBase] = []
    for block in read.blocks:
        if block.kind == "station":
            associated = block.fields.get("associated")
            connected = {"yes": True, "no": False}.get(associated or "")
            samples.append(_sample(block, block.fields, ctx, connected=connected))
    if samples:
        return samples
    if read.failure:
        raise ParseError(f"iw reported an error instead of station data: {read.failure!r}")
    if read.station_command:
        # The command ran and listed no station: not associated, or a driver (rtl8723bs)
        # that answers `station get <bssid>` but not `station dump`.
        return []
    raise ParseError(
        "no 'Station <mac> (on <if>)' line: is this the output of `iw dev <if> station dump`? "
        "(an empty dump means the driver does not list stations; try `station get <bssid>`)"
    )


# --- iw event --------------------------------------------------------------------------------

_EVENT = re.compile(
    r"^(?:(?P<epoch>\d+\.\d+): |\[(?P<local>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(?P<us>\d{1,6})\]: )?"
    r"(?:(?P<iface>\S+) \(phy #\d+\)|phy #\d+|wdev 0x[0-9a-fA-F]+ \(phy #\d+\)): (?P<msg>.*)$"
)
_MAC = r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}"
_EV_CONNECTED = re.compile(rf"^connected(?: to (?P<mac>{_MAC}))?$")
_EV_FAILED = re.compile(
    rf"^failed to connect(?: to (?P<mac>{_MAC}))?(?:, status: (?P<code>\d+): (?P<text>.*))?$"
)
_EV_TIMED_OUT = re.compile(rf"^timed out(?: to (?P<mac>{_MAC}))?$")
_EV_ROAMED = re.compile(rf"^roamed(?: to (?P<mac>{_MAC}))?$")
_EV_DISCONNECTED = re.compile(
    r"^disconnected \((?P<who>by AP|local request)\)(?: reason: (?P<code>\d+): (?P<text>.*))?$"
)
_EV_FRAME_FAIL = re.compile(
    rf"^(?P<kind>auth|assoc) (?P<mac>{_MAC}) -> {_MAC} status: (?P<code>\d+): (?P<text>.*?)"
    r"(?: \[frame:[^\]]*\])?$"
)
_EV_FRAME_TIMEOUT = re.compile(r"^(?P<kind>auth|assoc): timed out$")


def _event_time(m: re.Match[str], ctx: ParseContext) -> datetime:
    try:
        if m["epoch"] and float(m["epoch"]) >= 1e9:  # -t; smaller values are -r deltas
            return datetime.fromtimestamp(float(m["epoch"]), tz=UTC)
        if m["local"]:
            d, t = m["local"].split(" ")
            y, mo, day = (int(x) for x in d.split("-"))
            h, mi, s = (int(x) for x in t.split(":"))
            local = datetime(y, mo, day, h, mi, s, int(m["us"].ljust(6, "0")), ctx.local_tz)
            return local.astimezone(UTC)
    except (OverflowError, OSError, ValueError):
        pass
    return ctx.now


_Kind = Literal["connected", "disconnected", "roamed", "auth_failed"]


class _EventReader:
    """State across ``iw event`` lines: the BSSID each interface is on, and the last
    frame-level failure (so cfg80211's ``failed to connect`` for it is not counted again)."""

    def __init__(self) -> None:
        self.events: list[SampleBase] = []
        self.bssid: dict[str | None, str | None] = {}
        self.pending: dict[str | None, tuple[str | None, int | None]] = {}

    def add(
        self,
        ts: datetime,
        iface: str | None,
        event: _Kind,
        *,
        bssid: str | None = None,
        previous_bssid: str | None = None,
        reason: str | None = None,
        reason_code: int | None = None,
    ) -> None:
        self.events.append(
            WifiEventSample(
                ts=ts,
                event=event,
                interface=clean_text(iface or ""),
                bssid=bssid,
                previous_bssid=previous_bssid,
                reason=clean_text(reason or "", 4096),
                reason_code=reason_code,
            )
        )

    def connect_failed(
        self, ts: datetime, iface: str | None, mac: str | None, code: int | None, reason: str
    ) -> None:
        seen = self.pending.pop(iface, None)
        if seen is not None and seen[1] == code and (None in (seen[0], mac) or seen[0] == mac):
            return  # cfg80211's summary of a failure already counted from its frame
        self.add(ts, iface, "auth_failed", bssid=mac, reason=reason, reason_code=code)

    def line(self, ts: datetime, iface: str | None, msg: str) -> None:
        if e := _EV_CONNECTED.match(msg):
            self.pending.pop(iface, None)
            self.bssid[iface] = normalize_mac(e["mac"] or "")
            self.add(ts, iface, "connected", bssid=self.bssid[iface])
        elif e := _EV_ROAMED.match(msg):
            self.pending.pop(iface, None)
            previous, self.bssid[iface] = self.bssid.get(iface), normalize_mac(e["mac"] or "")
            self.add(ts, iface, "roamed", bssid=self.bssid[iface], previous_bssid=previous)
        elif e := _EV_DISCONNECTED.match(msg):
            self.pending.pop(iface, None)
            reason = f"{e['text'].strip()} ({e['who']})" if e["text"] else e["who"]
            code = _code(e["code"])
            bssid = self.bssid.pop(iface, None)
            self.add(ts, iface, "disconnected", bssid=bssid, reason=reason, reason_code=code)
        elif e := _EV_FAILED.match(msg):
            code = _code(e["code"])
            reason = e["text"].strip() if e["text"] else "failed to connect"
            self.connect_failed(ts, iface, normalize_mac(e["mac"] or ""), code, reason)
        elif e := _EV_TIMED_OUT.match(msg):
            self.connect_failed(ts, iface, normalize_mac(e["mac"] or ""), None, "timed out")
        elif (e := _EV_FRAME_FAIL.match(msg)) and e["code"] != "0":
            mac, code = normalize_mac(e["mac"]), _code(e["code"])
            self.pending[iface] = (mac, code)
            reason = f"{e['kind']}: {e['text'].strip()}"
            self.add(ts, iface, "auth_failed", bssid=mac, reason=reason, reason_code=code)
        elif e := _EV_FRAME_TIMEOUT.match(msg):
            self.pending[iface] = (None, None)
            self.add(ts, iface, "auth_failed", reason=f"{e['kind']}: timed out")


@register(
    "linux-iw-event",
    description="Linux `iw event -t` lines: Wi-Fi connects, disconnects, roams, failed attempts",
    carries_time=True,
    example="iw event -t",
)
def parse_iw_event(text: str, ctx: ParseContext) -> list[SampleBase]:
    reader = _EventReader()
    recognised = False
    for raw in text.splitlines():
        m = _EVENT.match(raw.strip())
        if m is not None:
            recognised = True
            reader.line(_event_time(m, ctx), m["iface"], m["msg"].strip())
    if not recognised:
        raise ParseError("no '<if> (phy #N): ...' event line: is this the output of `iw event -t`?")
    return reader.events
