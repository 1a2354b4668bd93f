"""One laptop, one awake minute: the samples its agent takes, baseline noise and outages included.

Why per minute: the real agent's system, Wi-Fi and probe samplers all run every 60 s, and the
detector works in one-minute buckets. Each awake minute a device emits, at its own second of
the minute (``phase``), a ``system`` sample, a ``wifi`` sample, one ``network_probe`` per
target, and now and then an event (crash, hang, peripheral failure, Wi-Fi event), plus an
``inventory`` at its first wake and about daily, and a ``boot`` after a cold boot.

Baseline values (before :mod:`.noise` multipliers and outages):

* CPU: a per-device level (4-18 %) with lognormal noise (sigma 0.45); a busy minute
  (85-100 %, with ``top_processes``) with probability 0.006 x noise. Memory: a mean-reverting
  walk around a per-device level (45-75 %). Disk free shrinks slowly; uptime counts from the
  last boot.
* Wi-Fi: RSSI per place (desk ~N(-57, 6) dBm, elsewhere ~N(-63, 6), a fallback AP 8 dB
  weaker) + N(0, 2.5) each minute; the PHY rate follows RSSI. A brief drop (disconnected,
  then connected 2-20 s later, as WLAN-AutoConfig logs them) at 0.1 per device-hour. Roams and
  reconnects are found by comparing polls, as the agent's Wi-Fi sampler does: never across a
  gap of more than 5 minutes (the laptop slept).
* Probes: connect ~ RTT, TLS ~ 2 RTT + 4 ms, first byte ~ RTT + server time, each with
  lognormal noise (sigma 0.25, 0.35 at home); the RTT is the site's to the data centre or to
  the SaaS provider, or from home over the VPN (+18 ms). A probe fails (timeout 70 %,
  refused 30 %) with the target's base probability (0.08-0.15 %) x noise.
* Crashes and hangs: per app version per device-hour (0.1-0.4 % crashes, 0.2-2 % hangs)
  x noise; a crash loop (one app crashing at 0.3/min for 1-3 h) starts on 0.2 % of
  device-days: a single bad laptop, not an outage. Peripheral failures: 0.2-0.6 % per
  device-hour per attached peripheral x noise.
"""

from __future__ import annotations

import math
import random
import uuid
from statistics import NormalDist

from . import render
from .catalog import PROBES
from .fleet import Device, Fleet, frequency_mhz
from .noise import Latent
from .schedule import Segment
from .timefmt import Stamper

Z = tuple(NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096))
"""Standard normal quantiles: ``Z[getrandbits(12)]`` is a fast, good-enough normal draw."""

RATES_5 = ((-55, 1201.0), (-62, 864.7), (-68, 576.5), (-74, 288.2), (-80, 144.1))
RATES_24 = ((-55, 286.8), (-62, 229.4), (-68, 143.4), (-74, 72.2), (-80, 28.9))
BUSY = {
    "windows": ("MsMpEng.exe", "chrome.exe", "ms-teams.exe", "OUTLOOK.EXE", "SearchIndexer.exe"),
    "macos": ("Google Chrome Helper (Renderer)", "MSTeams", "WindowServer", "mds_stores"),
}
DROP_REASONS = (
    ("Disassociated due to inactivity", 4),
    ("Unspecified reason", 1),
    ("Disassociated because of poor channel conditions", 34),
)
LOOP_START = 0.002 / 540
"""Per awake minute: 0.2 % of device-days (of ~9 awake hours) start a crash loop."""


def _rate(rssi: float, table: tuple[tuple[int, float], ...]) -> float:
    for floor, rate in table:
        if rssi >= floor:
            return rate
    return 54.0 if table is RATES_5 else 11.0


class DeviceSim:
    """A device's agent while the simulation runs: its random stream and its memory."""

    def __init__(self, device: Device, fleet: Fleet, stamper: Stamper, upload_every: int) -> None:
        self.d = device
        self.fleet = fleet
        self.site = fleet.sites[device.site]
        self.stamp = stamper.stamp
        r = self.rng = random.Random(device.seed)
        self.bits = r.getrandbits
        self.phase_ms = r.randrange(0, 50_000)
        self.upload_ms = r.randrange(0, 59_000)
        self.samples_first = self.phase_ms + 2_000 < self.upload_ms
        self.round_offset = r.randrange(upload_every)
        self.os = os_name = device.os
        self.system_tpl = render.SYSTEM[os_name]
        self.wifi_tpl = render.WIFI_UP[os_name]
        self.iface = render.INTERFACE[os_name]
        self.cpu_base = r.uniform(4.0, 18.0)
        self.mem_base = r.uniform(45.0, 75.0)
        self.mem = self.mem_base
        self.swap = r.uniform(0.0, 12.0)
        self.disk_free = device.disk_gb * r.uniform(0.15, 0.7)
        self.procs = r.randint(240, 330) if os_name == "windows" else r.randint(480, 620)
        self.boot_ms = -1
        self.rssi_base: dict[int, float] = {}
        self.corp_ssid = render.js(device.ssid)
        self.home_ssid = render.js(device.home.ssid)
        self.corp_security = "WPA2-Enterprise" if device.ssid.endswith("Corp") else "WPA2-Personal"
        dc, saas = self.site.info.dc_rtt_ms + 1.0, self.site.info.saas_rtt_ms + 1.0
        self.rtt_office = [dc if p.where != "saas" else saas for p in PROBES]
        self.rtt_home = [dc + 18.0 if p.where != "saas" else 12.0 for p in PROBES]
        self.app_paths = [render.js(a.path) for a in device.apps]
        self.periph_text = [
            (render.js(p.instance), render.js(p.info.name)) for p in device.peripherals
        ]
        self.inventory = self._inventory_parts()
        self.inventory_ms: int | None = None
        self.last_poll = -(10**15)
        self.last_link: tuple[bool, str, str] = (False, "", "")
        self.loop: tuple[int, int] | None = None
        self.window: int | None = None
        self.crash_rates: list[float] = []
        self.hang_rates: list[float] = []
        self.periph_rates: list[float] = []
        self.crash_total = self.hang_total = self.periph_total = 0.0
        # Upload state, driven by the engine.
        self.segments: list[Segment] = []
        self.segment: Segment | None = None
        self.waiting: list[str] = []
        self.pending: list[tuple[int, str, str, int]] = []
        """(seq, batch_id, samples JSON, count) of batches formed and not yet sent."""
        self.formed: list[int] = []
        """Per pending batch, the start of the minute of its oldest sample (epoch ms)."""
        self.oldest = 0
        self.seq = 1
        self.failures = 0
        self.not_before = 0

    def _inventory_parts(self) -> tuple[str, str]:
        d = self.d
        apps = [{"name": a.name, "version": a.version, "running": True} for a in d.apps]
        shell = ("explorer.exe", f"10.0.{d.os_build}") if d.os == "windows" else ("Finder", "")
        apps.append(
            {"name": shell[0], "version": shell[1] or d.os_version.split()[-1], "running": True}
        )
        peripherals = []
        for p in d.peripherals:
            item = {
                "device_class": p.info.device_class,
                "name": p.info.name,
                "vendor_id": p.info.vendor_id,
                "product_id": p.info.product_id,
            }
            if p.info.driver:
                item["driver"] = p.info.driver
            if p.driver_version:
                item["driver_version"] = p.driver_version
            peripherals.append(item)
        tail = f'","apps":{render.js(apps)},"peripherals":{render.js(peripherals)}}}'
        return '{"kind":"inventory","ts":"', tail

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.bits(128), version=4))

    def refresh_rates(self, latent: Latent) -> None:
        """The event rates of this noise window (crash, hang, peripheral failure)."""
        self.window = latent.window
        v, f, i = latent.values, latent.frailty, self.d.index
        crash, hang = v["crash"]["app"], v["hang"]["app"]
        self.crash_rates = [a.crash_per_min * crash[a.key] * f["crash"][i] for a in self.d.apps]
        self.hang_rates = [a.hang_per_min * hang[a.key] * f["hang"][i] for a in self.d.apps]
        per = v["peripheral"]["peripheral"]
        self.periph_rates = [
            p.info.fail_per_hour / 60 * per[p.key] * f["peripheral"][i] for p in self.d.peripherals
        ]
        self.crash_total = sum(self.crash_rates)
        self.hang_total = sum(self.hang_rates)
        self.periph_total = sum(self.periph_rates)

    def pick(self, rates: list[float], total: float) -> int:
        """An index drawn in proportion to ``rates`` (which sum to ``total``)."""
        x = self.rng.random() * total
        for i, rate in enumerate(rates):
            x -= rate
            if x < 0:
                return i
        return len(rates) - 1

    def event_ms(self, base: int) -> int:
        """An event time in this minute, before the poll that reports it."""
        return base + self.rng.randrange(max(1, self.phase_ms))

    def rssi_at(self, position: int) -> float:
        base = self.rssi_base.get(position)
        if base is None:
            mean = -57.0 if position == self.d.desk else -63.0
            base = min(-38.0, max(-80.0, self.rng.gauss(mean, 6.0)))
            self.rssi_base[position] = base
        return base

    def wifi_up(self, ts: str, ssid: str, bssid: str, channel: int, rssi: float, home: bool) -> str:
        band5 = channel > 14
        rate = _rate(rssi, RATES_5 if band5 else RATES_24)
        radio = "802.11ax" if band5 else "802.11n"
        band = "5.0" if band5 else "2.4"
        freq = frequency_mhz(channel)
        security = "WPA2-Personal" if home else self.corp_security
        if self.os == "windows":
            signal = min(100.0, max(0.0, 2.0 * (rssi + 100.0)))
            return self.wifi_tpl % (
                ts,
                ssid,
                bssid,
                rssi,
                signal,
                channel,
                band,
                freq,
                rate,
                rate,
                radio,
                security,
            )
        noise = -92.0 - self.bits(3)
        return self.wifi_tpl % (
            ts,
            ssid,
            bssid,
            rssi,
            noise,
            channel,
            band,
            freq,
            rate,
            radio,
            security,
        )


Shown = dict[str, int]
"""Scenario id -> epoch ms at which its symptom first showed in this device-minute."""


def show(shown: Shown | None, sid: str, ms: int) -> Shown:
    """Record that scenario ``sid`` showed at ``ms`` (keeping the earliest)."""
    if shown is None:
        shown = {}
    if sid not in shown or ms < shown[sid]:
        shown[sid] = ms
    return shown


LN = {sigma: tuple(math.exp(sigma * z) for z in Z) for sigma in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)}
"""Lognormal factors: ``LN[sigma][getrandbits(12)]`` is exp(sigma * N(0, 1)), median 1."""
