"""From wire-format samples to the detector's units: what each device was exposed to, per minute,
and whether it failed.

Why a layer of its own: the detector counts exposures, not samples. A crash of Teams 24.2 means
something only against the devices that ran Teams 24.2 that minute, which the crash sample
does not say; the device's latest inventory does. So per device the :class:`Featurizer` keeps
what it last knew (site from the batch's tags, model and OS build from the agent facts, SSID and
BSSID from the last Wi-Fi reading, running apps and attached peripherals from the last
inventory) and turns each batch into units:

* ``wifi``: one per Wi-Fi reading; failing when not connected or the signal is poor (RSSI
  under :data:`POOR_RSSI_DBM`), and in a minute with a ``disconnected`` Wi-Fi event. A
  disconnected device keeps its last access point's site/SSID/BSSID: a dead access point's
  clients are counted at that access point.
* ``network_probe``: one per probe reading, per target; failing unless its status is "ok".
* ``system``: one per system reading; failing at :data:`CPU_HOG_PERCENT` or more CPU.
* ``app_crash`` / ``app_hang``: in every minute the device was awake (it sent a system
  reading), one unit per running app version of its inventory; failing if that app crashed
  (hung) that minute. A crash of an app the inventory does not list counts as exposure too.
* ``peripheral_failure``: likewise per attached peripheral (model = vendor:product, driver,
  driver version); a failure is matched to the peripheral by vendor and product, else by
  driver, else it stands alone.

Pure: batches in (as dicts, the wire format), units out; no clock, no database.

Speed: a device describes itself the same way minute after minute, so the dims of each
combination of context values are built once (:meth:`Featurizer._dims`) and shared by every
unit that has them (the detector's buffer then finds their cells in one lookup), and the
units of a minute awake without events are made once per inventory (:meth:`Featurizer._awake`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .engine import from_minute, to_minute
from .memo import Memo
from .units import Dims, Unit

POOR_RSSI_DBM = -80.0
CPU_HOG_PERCENT = 90.0

WHERE = ("site", "ssid", "bssid")
MACHINE = ("model", "os_build")
PLACE = (*WHERE, *MACHINE)
PROBE = (*PLACE, "probe_target")
SYSTEM = (*MACHINE, "site")
APP = ("app_name", "app_version", *SYSTEM)
PERIPHERAL = ("peripheral", "driver", "driver_version", *MACHINE)


@dataclass
class DeviceContext:
    site: str | None = None
    model: str | None = None
    os_build: str | None = None
    ssid: str | None = None
    bssid: str | None = None
    apps: list[tuple[str, str]] = field(default_factory=list)
    peripherals: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Awake:
    """The units of an awake minute without events, and what they were made from."""

    apps: list[tuple[str, str]]
    peripherals: list[dict[str, str]]
    machine: tuple[str | None, ...]
    units: tuple[Unit, ...]


def _ts(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class Featurizer:
    def __init__(self) -> None:
        self.devices: dict[str, DeviceContext] = {}
        self.known: Memo[tuple[tuple[str, ...], tuple[str | None, ...]], Dims] = Memo()
        """Dims by names and values (see :meth:`_dims`); not pickled."""
        self.quiet: Memo[str, Awake] = Memo()
        """Per device, the units of an awake minute without events (see :meth:`_awake`);
        not pickled."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A snapshot taken before the caches existed resumes with empty ones."""
        self.__dict__.update(state)
        if "known" not in state:
            self.known = Memo()
        if "quiet" not in state:
            self.quiet = Memo()

    def _dims(self, names: tuple[str, ...], *values: str | None) -> Dims:
        """The (name, value) pairs of the values that are set, in ``names``' order: one shared
        tuple per distinct combination."""
        key = (names, values)
        dims = self.known.get(key)
        if dims is None:
            dims = self.known.keep(
                key, tuple((k, v) for k, v in zip(names, values, strict=True) if v)
            )
        return dims

    def units(self, batch: Mapping[str, Any]) -> dict[datetime, list[Unit]]:
        """The units of one batch by event-time minute (as the minute's start)."""
        device = str(batch["device_id"])
        ctx = self.devices.setdefault(device, DeviceContext())
        agent = batch.get("agent") or {}
        ctx.model = agent.get("model") or ctx.model
        ctx.os_build = agent.get("os_build") or ctx.os_build
        tags = batch.get("tags")
        if isinstance(tags, dict):
            ctx.site = tags.get("site") or ctx.site
        stamped = sorted(((_ts(s["ts"]), s) for s in batch.get("samples", [])), key=_first)
        out: dict[int, list[Unit]] = defaultdict(list)
        awake: set[int] = set()
        events: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
        for ts, sample in stamped:
            minute = to_minute(ts)
            kind = sample.get("kind")
            if kind == "inventory":
                self._inventory(ctx, sample)
            elif kind == "wifi":
                out[minute].append(self._wifi(device, ctx, sample))
            elif kind == "network_probe":
                failing = sample.get("status") != "ok"
                dims = self._dims(
                    PROBE, ctx.site, ctx.ssid, ctx.bssid, ctx.model, ctx.os_build,
                    sample.get("target"),
                )  # fmt: skip
                out[minute].append(Unit(device, "network_probe", dims, failing))
            elif kind == "system":
                awake.add(minute)
                cpu = sample.get("cpu_percent")
                failing = isinstance(cpu, (int, float)) and cpu >= CPU_HOG_PERCENT
                dims = self._dims(SYSTEM, ctx.model, ctx.os_build, ctx.site)
                out[minute].append(Unit(device, "system", dims, failing))
            elif kind in ("app_crash", "app_hang", "peripheral_failure", "wifi_event"):
                events[minute].append(sample)
        for minute in sorted(set(events) | awake):
            if minute in awake and minute not in events:
                out[minute] += self._awake(device, ctx)
            else:
                out[minute] += self._event_units(device, ctx, events[minute], minute in awake)
        return {from_minute(m): units for m, units in sorted(out.items()) if units}

    # -- per kind --------------------------------------------------------------------------

    def place(self, device: str) -> Dims:
        """Where ``device`` last was (site, SSID, BSSID), for the silence signal."""
        ctx = self.devices.get(device)
        return self._dims(WHERE, ctx.site, ctx.ssid, ctx.bssid) if ctx else ()

    def _place(self, ctx: DeviceContext) -> Dims:
        return self._dims(PLACE, ctx.site, ctx.ssid, ctx.bssid, ctx.model, ctx.os_build)

    def _wifi(self, device: str, ctx: DeviceContext, sample: Mapping[str, Any]) -> Unit:
        connected = sample.get("connected")
        if connected and sample.get("bssid"):
            ctx.ssid, ctx.bssid = sample.get("ssid") or ctx.ssid, sample["bssid"]
        rssi = sample.get("rssi_dbm")
        poor = isinstance(rssi, (int, float)) and rssi < POOR_RSSI_DBM
        return Unit(device, "wifi", self._place(ctx), connected is False or poor)

    def _inventory(self, ctx: DeviceContext, sample: Mapping[str, Any]) -> None:
        """The device's apps and peripherals, as new lists (never changed in place: that is
        how :meth:`_awake` knows its units are current)."""
        apps = sample.get("apps", [])
        ctx.apps = sorted(
            {(str(a["name"]), str(a.get("version") or "")) for a in apps if a.get("name")}
        )
        ctx.peripherals = [
            {"peripheral": _model(p), "driver": str(p.get("driver") or ""),
             "driver_version": str(p.get("driver_version") or "")}
            for p in sample.get("peripherals", [])
        ]  # fmt: skip

    def _awake(self, device: str, ctx: DeviceContext) -> tuple[Unit, ...]:
        """The event units of an awake minute without events: every running app version and
        attached peripheral exposed, none failing. Most minutes of most devices are that, and
        alike until the next inventory: made once (by :meth:`_event_units`) and reused."""
        machine = (ctx.model, ctx.os_build, ctx.site)
        known = self.quiet.get(device)
        if (
            known is not None
            and known.apps is ctx.apps  # an inventory replaces both lists
            and known.peripherals is ctx.peripherals
            and known.machine == machine
        ):
            return known.units
        units = tuple(self._event_units(device, ctx, (), True))
        self.quiet.keep(device, Awake(ctx.apps, ctx.peripherals, machine, units))
        return units

    def _event_units(
        self, device: str, ctx: DeviceContext, events: Iterable[Mapping[str, Any]], awake: bool
    ) -> list[Unit]:
        crashed: dict[str, set[tuple[str, str]]] = {"app_crash": set(), "app_hang": set()}
        broken: list[dict[str, str]] = []
        dropped = False
        for event in events:
            kind = event["kind"]
            if kind in crashed:
                crashed[kind].add((str(event["app_name"]), str(event.get("app_version") or "")))
            elif kind == "peripheral_failure":
                driver = str(event.get("driver") or "")
                broken.append({"peripheral": _model(event), "driver": driver})
            elif kind == "wifi_event" and event.get("event") == "disconnected":
                dropped = True
        units: list[Unit] = []
        model, os_build, site = ctx.model, ctx.os_build, ctx.site
        for kind, apps in crashed.items():
            exposure = set(ctx.apps) if awake else set()
            for app, version in sorted(exposure | apps):
                dims = self._dims(APP, app, version, model, os_build, site)
                units.append(Unit(device, kind, dims, (app, version) in apps))
        attached = list(ctx.peripherals) if awake else []
        for failure in broken:
            if not any(_matches(p, failure) for p in attached):
                attached.append({**failure, "driver_version": ""})
        for p in attached:
            failing = any(_matches(p, failure) for failure in broken)
            dims = self._dims(
                PERIPHERAL, p["peripheral"], p["driver"], p["driver_version"], model, os_build
            )
            units.append(Unit(device, "peripheral_failure", dims, failing))
        if dropped:
            units.append(Unit(device, "wifi", self._place(ctx), True))
        return units


def _first(pair: tuple[datetime, Mapping[str, Any]]) -> datetime:
    return pair[0]


def _model(item: Mapping[str, Any]) -> str:
    vendor, product = item.get("vendor_id"), item.get("product_id")
    if vendor and product:
        return f"{vendor}:{product}"
    return str(item.get("name") or item.get("device_class") or "")


def _matches(peripheral: Mapping[str, str], failure: Mapping[str, str]) -> bool:
    if failure["peripheral"] and failure["peripheral"] == peripheral["peripheral"]:
        return True
    return bool(failure["driver"]) and failure["driver"] == peripheral["driver"]
