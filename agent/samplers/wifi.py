"""The ``wifi`` sampler: link quality of every wireless interface, and roams and disconnects.

Wi-Fi is the first suspect when a laptop user says "the network is slow": signal, noise, rate
and band explain most complaints, and roams and disconnects explain the rest. A real sample
(``iw dev wlp1s0 link``; identifiers hashed with ``hash_key = "example-key"``)::

    {"kind": "wifi", "ts": "2026-11-27T09:00:00Z", "interface": "wlp1s0", "connected": true,
     "ssid": "h:5067ca9caec987cf", "bssid": "h:acc24d7d6eac1a44", "rssi_dbm": -51.0,
     "channel": 1, "band_ghz": 2.4, "frequency_mhz": 2412.0, "tx_rate_mbps": 26.0}

Events (``wifi_event``) come from comparing each poll with the previous one, so they are
stamped with the time of the poll that noticed them (up to one interval late) and a roam and
back within one interval goes unseen; the OS's live event streams (``iw event``) keep no
history to read at poll time. Per interface:

* ``connected``: was not connected, now is;
* ``disconnected``: was connected, now is not, or the interface disappeared (``reason``
  "interface removed": a USB adapter pulled, a driver reset); ssid/bssid are the ones left;
* ``roamed``: connected both times, same network, another access point (``previous_bssid``).
  A network that is unknown on either side (withheld, or not kept on disk, see below) counts
  as the same network; a different network is a ``disconnected`` then a ``connected``.

Where the OS keeps its own log of Wi-Fi events (the backend's ``EVENT_SOURCES``: Windows'
WLAN-AutoConfig channel), the kinds that log covers (connected, disconnected, and
``auth_failed``, which polling cannot see) come from it instead, at their true time and with
reason codes, read since a mark like the crash logs (:mod:`.logmemory`, state
``wifi_event_log``); polling then adds only roams. When the log cannot be read in a run,
polling reports every kind, as on Linux and macOS.

No events against a previous poll older than ``max(3 x interval, 5 min)`` (the laptop slept,
was off, or the agent was stopped): what happened meanwhile is unknown, and counting every
suspend as a disconnect would bury real ones. The first poll after installation says nothing
either. The previous poll is kept in StateStore, so an agent restart within that window still
sees changes.

Privacy (``[privacy]`` ssid / bssid = clear | hashed | omitted): hashed is
``"h:" + HMAC-SHA256(hash_key, value)`` in hex, truncated to 16 digits, identical on every
device sharing the key. Hashed without a ``hash_key`` omits the identifier (an unkeyed hash of
a guessable SSID protects nothing) and logs one warning. Changes are detected on the clear
values in memory; the state file holds only what may leave the device (clear or the hash,
nothing when omitted) plus the privacy settings it was written under, so an omitted identifier
never reaches the disk and, after a restart, a roam is detected only where BSSIDs are kept.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any, Literal

from dexpulse.schema import SampleBase, WifiEventSample, WifiSample

from .. import platform
from ..config import IdentifierMode, PrivacyConfig
from ..platform import NoData
from .base import Context, Sampler, register
from .logmemory import MAX_PER_RUN, Memory, SourceHealth, cap_fairly, read_marked

log = logging.getLogger(__name__)

STATE_VERSION = 1
EVENT_LOG_STATE = "wifi_event_log"
MIN_STALE_S = 300.0
MAX_AP_CACHE = 64
_METRICS = ("rssi_dbm", "noise_dbm", "signal_percent", "channel", "frequency_mhz", "tx_rate_mbps")
Identifier = Literal["ssid", "bssid"]


def hash_identifier(value: str, key: bytes) -> str:
    """``h:`` and the first 16 hex digits of HMAC-SHA256(key, UTF-8 value)."""
    return "h:" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


class IdentifierPrivacy:
    """Applies ``[privacy]`` to SSIDs and BSSIDs."""

    def __init__(self, config: PrivacyConfig) -> None:
        secret = config.hash_key.get_secret_value() if config.hash_key is not None else ""
        self._key = secret.encode("utf-8") if secret else None
        self.modes: dict[Identifier, IdentifierMode] = {"ssid": config.ssid, "bssid": config.bssid}
        for what, mode in self.modes.items():
            if mode == "hashed" and self._key is None:
                log.warning(
                    "privacy.%s is 'hashed' but privacy.hash_key is not set: %ss are omitted",
                    what,
                    what.upper(),
                )
                self.modes[what] = "omitted"
        key_id = hash_identifier("dexpulse-key-id", self._key)[2:10] if self._key else "-"
        self.tag = f"ssid={self.modes['ssid']};bssid={self.modes['bssid']};key={key_id}"
        """Names the settings identifiers were stored under; stored ones are void if it changes."""

    def protect(self, what: Identifier, value: str | None) -> str | None:
        mode = self.modes[what]
        if value is None or mode == "omitted":
            return None
        if mode == "hashed" and self._key is not None:
            return hash_identifier(value, self._key)
        return value


@dataclass(frozen=True)
class _Link:
    """One interface's state at a poll."""

    connected: bool
    ssid: str | None
    bssid: str | None
    """The forms to compare: clear ones (``clear``, in memory) or the stored forms (from disk)."""
    shown_ssid: str | None
    shown_bssid: str | None
    """The forms that may leave the device (the privacy setting applied)."""
    clear: bool


def _has_reading(sample: WifiSample) -> bool:
    return sample.connected is not None or any(getattr(sample, f) is not None for f in _METRICS)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None


@register
class WifiSampler(Sampler):
    name = "wifi"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.privacy = IdentifierPrivacy(ctx.config.privacy)
        self._links: dict[str, _Link] | None = None  # the last poll of this process
        self._polled_at: datetime | None = None
        self._saved: tuple[dict[str, Any], datetime] | None = None
        self._ap_security: dict[str, str | None] = {}  # BSSID -> security, for the backend
        self._log_memory = Memory(ctx.state, EVENT_LOG_STATE)
        self._log_health = SourceHealth(self.name)

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=max(3 * self.ctx.config.samplers.wifi.interval_s, MIN_STALE_S))

    def collect(self) -> list[SampleBase]:
        now = self.ctx.clock()
        backend = platform.area("wifi")
        if len(self._ap_security) > MAX_AP_CACHE:
            self._ap_security.clear()
        none_left: NoData | None = None
        try:
            readings: list[WifiSample] = backend.read_wifi(
                self.ctx.host, now, ap_security=self._ap_security
            )
        except NoData as exc:  # no wireless interface (any more)
            readings, none_left = [], exc
        logged, logged_kinds = self._logged_events(backend, now)
        before, polled_at = self._previous()
        fresh = polled_at is not None and timedelta(0) <= now - polled_at <= self.stale_after
        links: dict[str, _Link] = {}
        events: list[SampleBase] = []
        for reading in readings:
            iface = reading.interface or ""
            if reading.connected is None:  # state unknown: keep the last known one
                if iface in before:
                    links[iface] = before[iface]
                continue
            links[iface] = self._link(reading)
            if fresh and iface in before:
                events += self._changes(now, iface, before[iface], links[iface])
        for iface, link in before.items():
            if fresh and link.connected and all(r.interface != iface for r in readings):
                events.append(self._event(now, "disconnected", iface, link, "interface removed"))
        self._remember(links, now)
        events = [e for e in events if getattr(e, "event", None) not in logged_kinds] + logged
        samples: list[SampleBase] = [self._shown(r) for r in readings if _has_reading(r)]
        if none_left is not None and not events:
            raise none_left
        return samples + events

    # --- the OS's own event log -----------------------------------------------------------

    def _logged_events(
        self, backend: ModuleType, now: datetime
    ) -> tuple[list[SampleBase], frozenset[str]]:
        """Events from the OS's Wi-Fi log where the backend has one (``EVENT_SOURCES``, the
        kinds it covers in ``EVENT_KINDS``), read since a mark as the crash sampler reads its
        logs (:mod:`.logmemory`), identifiers protected; and the kinds that polling then
        leaves to the log. No log, or not readable this run: no events and no kinds, so
        polling reports them all."""
        sources = getattr(backend, "EVENT_SOURCES", None)
        if not sources:
            return [], frozenset()
        state = self._log_memory.begin()
        interval = timedelta(seconds=self.ctx.config.samplers.wifi.interval_s)
        fresh, out, _ = read_marked(
            sources, state.setdefault("marks", {}), self.ctx.host, now, interval,
            self._log_health, log,
        )  # fmt: skip
        found = sorted(
            (e.sample for entries in fresh.values() for e in entries
             if isinstance(e.sample, WifiEventSample)),
            key=lambda s: s.ts,
        )  # fmt: skip
        out += [self._protected(e) for e in cap_fairly(found, lambda s: s.interface, MAX_PER_RUN)]
        self._log_memory.end(state, emitted=bool(out))
        kinds: frozenset[str] = frozenset(backend.EVENT_KINDS) if fresh else frozenset()
        return out, kinds

    def _protected(self, event: WifiEventSample) -> WifiEventSample:
        return event.model_copy(
            update={
                "ssid": self.privacy.protect("ssid", event.ssid),
                "bssid": self.privacy.protect("bssid", event.bssid),
                "previous_bssid": self.privacy.protect("bssid", event.previous_bssid),
            }
        )

    # --- change detection ---------------------------------------------------------------

    def _link(self, reading: WifiSample) -> _Link:
        connected = bool(reading.connected)
        ssid, bssid = (reading.ssid, reading.bssid) if connected else (None, None)
        return _Link(
            connected=connected,
            ssid=ssid,
            bssid=bssid,
            shown_ssid=self.privacy.protect("ssid", ssid),
            shown_bssid=self.privacy.protect("bssid", bssid),
            clear=True,
        )

    def _changes(self, now: datetime, iface: str, old: _Link, new: _Link) -> list[SampleBase]:
        if old.connected and not new.connected:
            return [self._event(now, "disconnected", iface, old)]
        if new.connected and not old.connected:
            return [self._event(now, "connected", iface, new)]
        if not new.connected:
            return []
        ssid, bssid = (new.ssid, new.bssid) if old.clear else (new.shown_ssid, new.shown_bssid)
        if old.ssid and ssid and old.ssid != ssid:
            return [
                self._event(now, "disconnected", iface, old),
                self._event(now, "connected", iface, new),
            ]
        if old.bssid and bssid and old.bssid != bssid:
            return [self._event(now, "roamed", iface, new, previous_bssid=old.shown_bssid)]
        return []

    @staticmethod
    def _event(
        now: datetime,
        event: Literal["connected", "disconnected", "roamed"],
        iface: str,
        link: _Link,
        reason: str | None = None,
        previous_bssid: str | None = None,
    ) -> WifiEventSample:
        return WifiEventSample(
            ts=now,
            event=event,
            interface=iface or None,
            ssid=link.shown_ssid,
            bssid=link.shown_bssid,
            previous_bssid=previous_bssid,
            reason=reason,
        )

    def _shown(self, reading: WifiSample) -> WifiSample:
        data = reading.model_dump()
        data["ssid"] = self.privacy.protect("ssid", reading.ssid)
        data["bssid"] = self.privacy.protect("bssid", reading.bssid)
        return WifiSample.model_validate(data)

    # --- memory -------------------------------------------------------------------------

    def _previous(self) -> tuple[dict[str, _Link], datetime | None]:
        if self._links is not None:
            return self._links, self._polled_at
        data = self.ctx.state.load(self.name)
        if data.get("v") != STATE_VERSION:
            return {}, None
        try:
            polled_at: datetime | None = datetime.fromisoformat(str(data.get("ts")))
        except ValueError:
            polled_at = None
        if polled_at is not None and polled_at.tzinfo is None:
            polled_at = None
        same_privacy = data.get("privacy") == self.privacy.tag
        links: dict[str, _Link] = {}
        interfaces = data.get("interfaces")
        for iface, record in (interfaces if isinstance(interfaces, dict) else {}).items():
            if not isinstance(record, dict) or not isinstance(record.get("connected"), bool):
                continue
            ssid = _text(record.get("ssid")) if same_privacy else None
            bssid = _text(record.get("bssid")) if same_privacy else None
            links[iface] = _Link(record["connected"], ssid, bssid, ssid, bssid, clear=False)
        return links, polled_at

    def _remember(self, links: dict[str, _Link], now: datetime) -> None:
        """Keep this poll in memory; write it to disk when it changed, or to refresh its time
        often enough that a quick restart still finds it fresh."""
        self._links, self._polled_at = links, now
        content: dict[str, Any] = {
            "v": STATE_VERSION,
            "privacy": self.privacy.tag,
            "interfaces": {
                iface: {
                    "connected": link.connected,
                    "ssid": link.shown_ssid,
                    "bssid": link.shown_bssid,
                }
                for iface, link in sorted(links.items())
            },
        }
        if self._saved is not None:
            saved, saved_at = self._saved
            if saved == content and timedelta(0) <= now - saved_at < self.stale_after / 2:
                return
        self.ctx.state.save(self.name, content | {"ts": now.isoformat()})
        self._saved = (content, now)
