"""What an active scenario does to one device in one minute.

Why separate from :mod:`.behaviour`: the baseline must be the same with and without an
outage, so behaviour asks "what is different for this device now?" and gets either ``None``
(nothing: the fast path of almost every device-minute) or an :class:`Effects` listing the
changes, each tagged with the scenario that caused it so the truth can say which devices
were affected and when their trouble began.

Membership is where the device *is* and what it *runs*: an access point or site counts only
devices physically there (not the same site's people working from home, whose ``site`` tag is
unchanged: the agent's tags are static configuration), an app version or driver version the
devices that have it, an OS build the devices on it, a probe target every device. A member is
affected while its fixed uniform draw is below the scenario's share at that minute, so the
same devices stay affected, and a ramp adds devices without reshuffling them.

Per type, for an affected device:

* ``ap_failure``: the BSSID stops serving it: Wi-Fi disconnected, every probe fails to resolve,
  nothing can be uploaded. A share ``roam`` (0.5) finds a neighbouring access point after a
  lognormal delay (median 4 min) and is back online there; the others wait for the recovery.
* ``site_wan_degradation``: probes through the WAN (collector, intranet, SaaS, resolver) are
  ``latency`` (6) times slower and fail (timeout) with probability ``fail`` (0.25). With
  ``cut``, every such probe times out and the device cannot upload.
* ``site_dns_failure``: the resolver check, the SaaS and intranet probes fail to resolve with
  probability ``fail`` (0.9); the collector's name, which agents resolve every minute and
  which has a long TTL, stays in the resolver cache, so its probe and the uploads succeed.
* ``saas_outage``: the target fails with probability ``fail`` (0.95): HTTP 503 or a timeout.
* ``bad_app_version``: extra crashes (or hangs) at ``rate`` per minute while the app runs.
* ``bad_driver``: extra failures of that peripheral at ``rate`` per minute.
* ``os_build_regression``: a process pegs the CPU (88-100 %).
* ``wifi_degradation``: RSSI lower by up to ``severity`` dB and disconnects up to
  ``disconnects`` per minute, both growing with the ramp.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .fleet import Device, Fleet
from .scenarios import Scenario
from .schedule import HOME

HOG = {"windows": "SearchHost.exe", "macos": "mds_stores"}


@dataclass(slots=True)
class Effects:
    link_down: str | None = None
    """The scenario that took the device's access point away (no link, no upload)."""
    fallback: int | None = None
    """Position of the neighbouring access point the device moved to instead."""
    wifi: list[tuple[float, float, str]] = field(default_factory=list)
    """(RSSI drop dB, disconnect probability per minute, scenario)."""
    wan: list[tuple[float, float, bool, str]] = field(default_factory=list)
    """(latency factor, probe failure probability, cut, scenario)."""
    dns: list[tuple[float, str]] = field(default_factory=list)
    targets: list[tuple[str, float, str, str]] = field(default_factory=list)
    """(probe target, failure probability, mode, scenario)."""
    crash: list[tuple[int, float, str]] = field(default_factory=list)
    """(index into the device's apps, probability per minute, scenario)."""
    hang: list[tuple[int, float, str]] = field(default_factory=list)
    peripheral: list[tuple[int, float, str]] = field(default_factory=list)
    cpu: list[tuple[str, str]] = field(default_factory=list)
    """(process name, scenario)."""

    @property
    def offline(self) -> bool:
        """No way to reach the collector this minute."""
        return (self.link_down is not None and self.fallback is None) or any(
            cut for _, _, cut, _ in self.wan
        )


class Injector:
    """Evaluates the placed scenarios for each device-minute and records exposure."""

    def __init__(self, scenarios: list[Scenario], fleet: Fleet, seed: int) -> None:
        self.scenarios = sorted(scenarios, key=lambda s: (s.start, s.id))
        self.fleet = fleet
        self._seed = seed
        self._site_index = {s.name: s.index for s in fleet.sites}
        self._members: dict[str, dict[int, int]] = {}
        for sc in scenarios:
            if sc.kind == "bad_app_version":
                key = f"{sc.cohort['app_name']}@{sc.cohort['app_version']}"
                self._members[sc.id] = {
                    d.index: i for d in fleet.devices for i, a in enumerate(d.apps) if a.key == key
                }
            elif sc.kind == "bad_driver":
                c = sc.cohort
                self._members[sc.id] = {
                    d.index: i
                    for d in fleet.devices
                    for i, p in enumerate(d.peripherals)
                    if (p.info.name, p.info.driver, p.driver_version)
                    == (c["peripheral_model"], c["driver"], c["driver_version"])
                }
        self._roams: dict[tuple[str, int], tuple[int, int] | None] = {}

    def active(self, minute: int) -> list[Scenario]:
        return [s for s in self.scenarios if s.start <= minute < s.end]

    def _member(self, sc: Scenario, device: Device, where: int) -> int | None:
        """Whether the device is in the cohort now; for apps and drivers, which one."""
        cohort = sc.cohort
        if "bssid" in cohort:
            ap = self.fleet.by_bssid[cohort["bssid"]]
            here = where == ap.position and device.site == ap.site and device.ssid == ap.ssid
            return 0 if here and where != HOME else None
        if "site" in cohort:
            here = where != HOME and device.site == self._site_index[cohort["site"]]
            return 0 if here else None
        if sc.kind in ("bad_app_version", "bad_driver"):
            return self._members[sc.id].get(device.index)
        if "os_build" in cohort:
            return 0 if device.os_build == cohort["os_build"] else None
        return 0  # a probe target: everyone probes it

    def _roam(self, sc: Scenario, device: Device, minute: int) -> tuple[int, int] | None:
        """(minute, position) at which an AP failure's victim finds a neighbour, if ever."""
        key = (sc.id, device.index)
        if key not in self._roams:
            rng = random.Random(f"{self._seed}:roam:{sc.id}:{device.index}")
            positions = self.fleet.sites[device.site].positions
            if positions > 1 and rng.random() < sc.option("roam", 0.5):
                delay = max(1, round(rng.lognormvariate(math.log(4.0), 0.6)))
                ap = self.fleet.by_bssid[sc.cohort["bssid"]]
                near = (ap.position + rng.choice((-1, 1))) % positions
                self._roams[key] = (minute + delay, near)
            else:
                self._roams[key] = None
        return self._roams[key]

    def effects(
        self, active: list[Scenario], device: Device, minute: int, where: int
    ) -> Effects | None:
        out: Effects | None = None
        for sc in active:
            which = self._member(sc, device, where)
            if which is None:
                continue
            sc.exposed.add(device.index)
            if sc.u[device.index] >= sc.share(minute):
                continue
            out = out or Effects()
            kind = sc.kind
            if kind == "ap_failure":
                roam = self._roam(sc, device, minute)
                out.link_down = sc.id
                if roam is not None and minute >= roam[0]:
                    out.fallback = roam[1]
            elif kind == "wifi_degradation":
                grown = sc.ramp_fraction(minute)
                out.wifi.append(
                    (
                        sc.option("severity", 20.0) * grown,
                        sc.option("disconnects", 0.15) * grown,
                        sc.id,
                    )
                )
            elif kind == "site_wan_degradation":
                out.wan.append(
                    (sc.option("latency", 6.0), sc.option("fail", 0.25), sc.flag("cut"), sc.id)
                )
            elif kind == "site_dns_failure":
                out.dns.append((sc.option("fail", 0.9), sc.id))
            elif kind == "saas_outage":
                mode = sc.options.get("mode", "http_error")
                out.targets.append((sc.target, sc.option("fail", 0.95), mode, sc.id))
            elif kind == "bad_app_version":
                slot = out.hang if sc.signal == "app_hang" else out.crash
                slot.append((which, sc.option("rate", 0.2), sc.id))
            elif kind == "bad_driver":
                out.peripheral.append((which, sc.option("rate", 0.2), sc.id))
            else:
                out.cpu.append((sc.options.get("process", HOG[device.os]), sc.id))
        return out
