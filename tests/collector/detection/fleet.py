"""A small hand-made fleet for the detection core's tests: units per minute, with correlated
baseline noise and outages injected by predicate. Not the simulator: small, explicit, fast."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dexpulse.collector.detection.engine import Detector, outage_json
from dexpulse.collector.detection.lifecycle import Outage
from dexpulse.collector.detection.units import Unit

START = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # a Monday
NOISE = {"wifi": 0.01, "network_probe": 0.01, "system": 0.01, "app_crash": 0.0005,
         "app_hang": 0.0005, "peripheral_failure": 0.0005}  # fmt: skip
TARGETS = ("login.example.com", "intranet.example.com")


@dataclass(frozen=True)
class Device:
    id: str
    site: str
    ssid: str
    bssid: str
    model: str
    os_build: str
    apps: tuple[tuple[str, str], ...]
    peripheral: tuple[str, str, str]  # model, driver, driver_version


@dataclass
class Injection:
    signal: str
    start: int
    end: int
    who: Callable[[Device, Unit], bool]
    share: float = 1.0


@dataclass
class Fleet:
    devices: list[Device]
    injections: list[Injection] = field(default_factory=list)
    seed: int = 1

    def units(self, minute: int) -> list[Unit]:
        rng = random.Random(self.seed * 1_000_003 + minute)
        burst = rng.gammavariate(2.0, 0.5)  # the whole fleet's noise level this minute
        out: list[Unit] = []
        for device in self.devices:
            for unit in _units(device):
                p = NOISE[unit.signal] * burst
                failing = rng.random() < p
                for inj in self.injections:
                    if inj.signal == unit.signal and inj.start <= minute < inj.end:
                        if inj.who(device, unit) and _chosen(device, inj):
                            failing = True
                out.append(Unit(unit.device, unit.signal, unit.dims, failing))
        return out


def _chosen(device: Device, inj: Injection) -> bool:
    return random.Random(f"{device.id}:{inj.start}").random() < inj.share


def _units(d: Device) -> Iterator[Unit]:
    place = (("site", d.site), ("ssid", d.ssid), ("bssid", d.bssid))
    machine = (("model", d.model), ("os_build", d.os_build))
    yield Unit(d.id, "wifi", place + machine, False)
    for target in TARGETS:
        yield Unit(d.id, "network_probe", place + machine + (("probe_target", target),), False)
    yield Unit(d.id, "system", machine + (("site", d.site),), False)
    for app, version in d.apps:
        dims = (("app_name", app), ("app_version", version)) + machine + (("site", d.site),)
        yield Unit(d.id, "app_crash", dims, False)
    model, driver, version = d.peripheral
    dims = (("peripheral", model), ("driver", driver), ("driver_version", version)) + machine
    yield Unit(d.id, "peripheral_failure", dims, False)


def make_fleet(sites: int = 3, per_site: int = 40, seed: int = 1) -> Fleet:
    rng = random.Random(seed)
    devices: list[Device] = []
    for s in range(sites):
        site = f"site-{s}"
        for i in range(per_site):
            ap = i % 4
            devices.append(
                Device(
                    id=f"d{s:02d}{i:03d}",
                    site=site,
                    ssid="corp",
                    bssid=f"64:d1:54:{s:02x}:00:{ap:02x}",
                    model=rng.choice(["Latitude 7440", "ThinkPad T14", "EliteBook 840"]),
                    os_build=rng.choice(["22631.4460", "26100.2314"]),
                    apps=(("Teams.exe", rng.choice(["24.1.0", "24.2.0"])),
                          ("chrome.exe", "131.0"), ("OUTLOOK.EXE", "16.0.18526")),
                    peripheral=rng.choice([("dock-a", "rtux64w10", "10.61"),
                                           ("dock-b", "dlusbaudio", "2.1"),
                                           ("cam-c", "usbvideo", "10.0.22621"),
                                           ("dl-d", "dlidusb", "11.4"),
                                           ("dl-d", "dlidusb", "11.6")]),
                )
            )  # fmt: skip
    return Fleet(devices, seed=seed)


def minute_of(offset: int) -> datetime:
    return START + timedelta(minutes=offset)


class Recording(Detector):
    """A detector that remembers every outage it reported (the detector itself forgets
    resolved ones after the reopen window; the collector keeps them in its database)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reported: dict[str, Outage] = {}

    def advance(self, now: datetime) -> list[Outage]:
        changed = super().advance(now)
        self.reported.update((o.id, o) for o in changed)
        return changed


def run(fleet: Fleet, minutes: int, detector: Detector | None = None) -> Detector:
    """Feed ``minutes`` minutes from START, each arriving at the end of its minute."""
    detector = detector or Recording()
    for m in range(minutes):
        detector.add(minute_of(m), fleet.units(m))
        detector.advance(minute_of(m + 1))
    return detector


def outages(detector: Detector) -> list[dict[str, object]]:
    if isinstance(detector, Recording):
        return [outage_json(o) for o in detector.reported.values()]
    return [outage_json(o) for o in detector.outages]
