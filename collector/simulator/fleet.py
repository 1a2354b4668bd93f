"""The simulated fleet: sites with SSIDs and access points, and the devices with everything that
makes them members of a cohort (site, department, model, OS build, app versions, drivers).

Why it is built once from the seed and then frozen: ground truth speaks of cohorts ("BSSID x",
"Teams 25.1 on Windows"), so membership must not drift while the simulation runs. Only where a
device *is* (desk, meeting room, home) changes over time, and that lives in
:mod:`.schedule`.

Sizing: devices are spread over sites with weights ``1/(i+1)**0.7`` (the first site, the HQ,
is the largest); a site has one access point per 8-15 of its devices; every access point
broadcasts each of the site's SSIDs with its own BSSID (base MAC + SSID index, as enterprise
APs do), the corporate and guest SSIDs on a 5 GHz radio, a legacy SSID on the 2.4 GHz radio.
93 % of devices use the corporate SSID.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo

from . import catalog
from .catalog import PeripheralInfo, SiteInfo

T = TypeVar("T")

CHANNELS_5 = (36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116, 132, 149, 153, 157, 161)
CHANNELS_24 = (1, 6, 11)


def pick(rng: random.Random, options: Sequence[tuple[T, int]] | Sequence[tuple[T, float]]) -> T:
    """One option by weight (weights need not sum to anything)."""
    total = sum(w for _, w in options)
    x = rng.random() * total
    for value, weight in options:
        x -= weight
        if x < 0:
            return value
    return options[-1][0]


def frequency_mhz(channel: int) -> float:
    return float(2407 + 5 * channel if channel <= 14 else 5000 + 5 * channel)


@dataclass(frozen=True)
class AccessPoint:
    """One BSSID: an SSID on one radio of one physical access point."""

    bssid: str
    ssid: str
    site: int
    position: int
    """Index of the physical access point within its site."""
    channel: int

    @property
    def band_ghz(self) -> float:
        return 2.4 if self.channel <= 14 else 5.0


@dataclass
class Site:
    index: int
    info: SiteInfo
    tz: tzinfo
    ssids: tuple[str, ...]
    positions: int
    bssids: dict[str, list[AccessPoint]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.name


@dataclass(frozen=True)
class InstalledApp:
    name: str
    version: str
    path: str
    crash_per_min: float
    hang_per_min: float
    module: str
    exception_code: str

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class Attached:
    """A peripheral attached to one device, with the driver version bound on that device."""

    info: PeripheralInfo
    driver_version: str | None
    instance: str

    @property
    def key(self) -> str:
        """The noise group: model on driver version."""
        return f"{self.info.name}|{self.info.driver}@{self.driver_version}"


@dataclass(frozen=True)
class HomeNetwork:
    ssid: str
    bssid: str
    channel: int
    rssi_dbm: float


@dataclass
class Device:
    index: int
    device_id: str
    hostname: str
    os: str
    os_version: str
    os_build: str
    manufacturer: str
    model: str
    site: int
    site_name: str
    department: str
    ssid: str
    desk: int
    apps: tuple[InstalledApp, ...]
    peripherals: tuple[Attached, ...]
    home: HomeNetwork
    start_h: float
    """Usual local start of the working day, hours."""
    hours: float
    wfh_share: float
    always_on: bool
    ram_mb: int
    disk_gb: float
    seed: int
    """Seed of this device's own random stream (behaviour), so devices do not perturb each
    other's draws and an injected outage changes only the devices it touches."""

    @property
    def tags(self) -> dict[str, str]:
        return {"site": self.site_name, "department": self.department}

    def agent(self) -> dict[str, str]:
        return {
            "version": catalog.AGENT_VERSION,
            "os": self.os,
            "os_version": self.os_version,
            "os_build": self.os_build,
            "model": self.model,
            "manufacturer": self.manufacturer,
            "hostname": self.hostname,
        }

    def envelope_tail(self) -> str:
        """``"agent":...,"tags":...`` as the uploader serialises them."""
        agent = json.dumps(self.agent(), separators=(",", ":"))
        tags = json.dumps(self.tags, separators=(",", ":"))
        return f'"agent":{agent},"tags":{tags}'


@dataclass
class Fleet:
    sites: list[Site]
    devices: list[Device]
    by_bssid: dict[str, AccessPoint]

    def site_named(self, name: str) -> Site:
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)

    def bssid_at(self, device: Device, position: int) -> AccessPoint:
        return self.sites[device.site].bssids[device.ssid][position]


def _mac(rng: random.Random, oui: str, last_mask: int = 0xFF) -> str:
    tail = [rng.randrange(256), rng.randrange(256), rng.randrange(256) & last_mask]
    return oui + "".join(f":{b:02x}" for b in tail)


def _site_info(i: int) -> SiteInfo:
    if i < len(catalog.SITES):
        return catalog.SITES[i]
    base = catalog.SITES[i % len(catalog.SITES)]
    return SiteInfo(
        f"office-{i + 1:02d}",
        base.tz,
        f"O{i + 1:02d}",
        base.dc_rtt_ms + 5,
        base.saas_rtt_ms,
        base.ap_oui,
    )


def _build_site(rng: random.Random, index: int, size: int) -> Site:
    info = _site_info(index)
    ssids = [catalog.CORP_SSID]
    if size >= 20:
        ssids.append(catalog.GUEST_SSID)
    if rng.random() < 0.3:
        ssids.append(catalog.LEGACY_SSID)
    positions = max(1, round(size / rng.uniform(8.0, 15.0)))
    site = Site(index, info, ZoneInfo(info.tz), tuple(ssids), positions)
    offset5, offset24 = rng.randrange(len(CHANNELS_5)), rng.randrange(3)
    for ssid in ssids:
        site.bssids[ssid] = []
    for pos in range(positions):
        base = _mac(rng, info.ap_oui, 0xE0)
        head, last = base[:-2], int(base[-2:], 16)
        ch5 = CHANNELS_5[(offset5 + pos * 5) % len(CHANNELS_5)]
        ch24 = CHANNELS_24[(offset24 + pos) % 3]
        for k, ssid in enumerate(ssids):
            legacy = ssid == catalog.LEGACY_SSID
            bssid = f"{head}{last + (0x10 if legacy else k):02x}"
            site.bssids[ssid].append(AccessPoint(bssid, ssid, index, pos, ch24 if legacy else ch5))
    return site


def _apps(rng: random.Random, os_name: str) -> tuple[InstalledApp, ...]:
    out = []
    for info in catalog.APPS[os_name]:
        if rng.random() < info.installed:
            version = pick(rng, info.versions)
            out.append(
                InstalledApp(
                    info.name,
                    version,
                    info.path,
                    info.crash_per_hour / 60,
                    info.hang_per_hour / 60,
                    *info.fault,
                )
            )
    return tuple(out)


def _peripherals(rng: random.Random, os_name: str, maker: str, build: str) -> list[Attached]:
    chosen: list[PeripheralInfo] = []
    if rng.random() < (0.6 if os_name == "windows" else 0.4):
        chosen.append(catalog.DOCKS[maker])
    chosen += [info for info, share in catalog.EXTRAS[os_name] if rng.random() < share]
    out = []
    for info in chosen:
        if info.versions:
            version: str | None = pick(rng, info.versions)
        else:
            version = f"10.0.{build}" if os_name == "windows" and info.driver else None
        serial = f"{rng.getrandbits(32):08X}"
        out.append(
            Attached(
                info,
                version,
                f"USB\\VID_{info.vendor_id.upper()}&PID_{info.product_id.upper()}\\{serial}",
            )
        )
    return out


def _home(rng: random.Random) -> HomeNetwork:
    ssid = rng.choice(catalog.HOME_SSIDS).format(rng.randrange(1, 0xFFFF))
    band5 = rng.random() < 0.7
    channel = rng.choice((36, 44, 100, 149) if band5 else CHANNELS_24)
    rssi = min(-35.0, max(-82.0, rng.gauss(-56.0, 8.0)))
    return HomeNetwork(ssid[:32], _mac(rng, rng.choice(catalog.HOME_OUIS)), channel, rssi)


def build_fleet(rng: random.Random, n_devices: int, n_sites: int) -> Fleet:
    """``n_devices`` devices over ``n_sites`` sites, all drawn from ``rng``."""
    weights = [1 / (i + 1) ** 0.7 for i in range(n_sites)]
    homes = [pick(rng, list(zip(range(n_sites), weights, strict=True))) for _ in range(n_devices)]
    sites = [_build_site(rng, i, homes.count(i)) for i in range(n_sites)]
    by_bssid = {ap.bssid: ap for s in sites for aps in s.bssids.values() for ap in aps}
    devices: list[Device] = []
    used: set[str] = set()
    for index, site_index in enumerate(homes):
        site = sites[site_index]
        os_name = pick(rng, catalog.OS_SHARES)
        maker, model = pick(rng, [((m, n), w) for m, n, w in catalog.MODELS[os_name]])
        os_version, build = pick(rng, [((v, b), w) for v, b, w in catalog.OS_BUILDS[os_name]])
        department = pick(rng, catalog.DEPARTMENTS)
        ssid = pick(
            rng, [(s, {catalog.CORP_SSID: 93, catalog.GUEST_SSID: 4}.get(s, 3)) for s in site.ssids]
        )
        while True:
            hostname = f"{site.info.prefix}-{'LT' if os_name == 'windows' else 'MB'}-" + str(
                rng.randrange(10000, 100000)
            )
            if hostname not in used:
                used.add(hostname)
                break
        wfh = {"engineering": 0.45, "sales": 0.35, "support": 0.15}.get(department, 0.25)
        wfh = 0.0 if rng.random() < 0.1 else min(0.8, max(0.0, wfh + rng.uniform(-0.15, 0.15)))
        device = Device(
            index=index,
            device_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            hostname=hostname,
            os=os_name,
            os_version=os_version,
            os_build=build,
            manufacturer=maker,
            model=model,
            site=site_index,
            site_name=site.name,
            department=department,
            ssid=ssid,
            desk=rng.randrange(site.positions),
            apps=_apps(rng, os_name),
            peripherals=tuple(_peripherals(rng, os_name, maker, build)),
            home=_home(rng),
            start_h=min(10.5, max(6.5, rng.gauss(8.4, 0.7))),
            hours=min(11.0, max(6.0, rng.gauss(8.8, 0.7))),
            wfh_share=wfh,
            always_on=rng.random() < 0.03,
            ram_mb=pick(rng, ((16384, 70), (32768, 20), (8192, 10))),
            disk_gb=pick(rng, ((476.3, 60), (237.9, 15), (953.3, 25))),
            seed=rng.getrandbits(64),
        )
        devices.append(device)
    return Fleet(sites, devices, by_bssid)
