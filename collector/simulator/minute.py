"""The hot path: everything one device emits in one awake minute (see :mod:`.behaviour`).

Written as plain functions over a :class:`~.behaviour.DeviceSim` with local variables and
format strings because it runs once per device-minute (600,000 times for a day of 1,000
laptops). Each function returns the scenarios whose symptom showed in what it emitted, with
the time it showed, which becomes the truth's per-device onset.
"""

from __future__ import annotations

from . import render
from .behaviour import BUSY, DROP_REASONS, LN, LOOP_START, DeviceSim, Shown, Z, show
from .effects import Effects
from .events import crash, fault, hang
from .noise import Latent
from .probes import probes
from .schedule import HOME, Segment


def emit(
    sim: DeviceSim, m: int, where: int, eff: Effects | None, latent: Latent, woke: Segment | None
) -> Shown | None:
    """Append minute ``m``'s samples to ``sim.waiting``."""
    if sim.window != latent.window:
        sim.refresh_rates(latent)
    base = m * 60_000
    poll = base + sim.phase_ms
    if sim.boot_ms < 0 or (woke is not None and woke.boot):
        _boot(sim, base, woke)
    if sim.inventory_ms is None or poll - sim.inventory_ms >= 84_600_000:
        head, tail = sim.inventory
        reason = "start" if sim.inventory_ms is None else "daily"
        sim.waiting.append(f'{head}{sim.stamp(poll)}","reason":"{reason}{tail}')
        sim.inventory_ms = poll
    shown = _system(sim, poll, eff, latent)
    connected, bssid, shown = _wifi(sim, base, poll, where, eff, latent, shown)
    shown = probes(sim, poll, where, connected, bssid, eff, latent, shown)
    return _events(sim, m, base, eff, latent, shown)


def _boot(sim: DeviceSim, base: int, woke: Segment | None) -> None:
    bits = sim.bits
    if woke is None or not woke.boot:  # up since before the simulation began
        sim.boot_ms = base - sim.rng.randrange(3_600_000, 6 * 86_400_000)
        return
    boot_s = (38.0 if sim.os == "windows" else 24.0) * LN[0.35][bits(12)]
    sim.boot_ms = base - int(boot_s * 1000) - sim.rng.randrange(5_000, 50_000)
    if sim.os == "windows":
        logon_s = 12.0 * LN[0.5][bits(12)]
        sim.waiting.append(render.BOOT["windows"] % (sim.stamp(sim.boot_ms), boot_s, logon_s))
    else:
        sim.waiting.append(render.BOOT["macos"] % (sim.stamp(sim.boot_ms), boot_s))


def _system(sim: DeviceSim, poll: int, eff: Effects | None, latent: Latent) -> Shown | None:
    d, rnd, bits = sim.d, sim.rng.random, sim.bits
    shown = None
    top: list[str] | None = None
    busy_p = 0.006 * latent.values["cpu"]["os_build"][d.os_build] * latent.frailty["cpu"][d.index]
    busy_p += latent.blip("cpu", "os_build", d.os_build)
    if eff is not None and eff.cpu:
        cpu, core = 88.0 + 12.0 * rnd(), 100.0
        top = [eff.cpu[0][0], *sim.rng.sample(BUSY[sim.os], 2)]
        for _, sid in eff.cpu:
            shown = show(shown, sid, poll)
    elif rnd() < busy_p:
        cpu = 85.0 + 15.0 * rnd()
        core = min(100.0, cpu + 10.0 * rnd())
        top = sim.rng.sample(BUSY[sim.os], 3)
    else:
        cpu = min(100.0, sim.cpu_base * LN[0.45][bits(12)])
        core = min(100.0, cpu * (1.5 + rnd()) + 3.0)
    sim.mem = min(97.0, max(20.0, sim.mem + 0.05 * (sim.mem_base - sim.mem) + 0.8 * Z[bits(12)]))
    free_pct = 100.0 - sim.mem
    sim.disk_free = max(1.0, sim.disk_free - 0.0002)
    tops = render.TOP % render.js(top) if top else ""
    uptime = (poll - sim.boot_ms) / 1000.0
    procs = sim.procs + int(6 * Z[bits(12)])
    load = cpu / 30.0 + 2.0 * rnd() if sim.os == "windows" else cpu / 12.5 * (0.8 + 0.4 * rnd())
    sim.waiting.append(
        sim.system_tpl
        % (
            sim.stamp(poll),
            cpu,
            core,
            int(load) if sim.os == "windows" else load,
            sim.mem,
            d.ram_mb * free_pct / 100.0,
            free_pct,
            sim.swap,
            100.0 * sim.disk_free / d.disk_gb,
            sim.disk_free,
            uptime,
            procs,
            tops,
        )
    )
    return shown


def _wifi(
    sim: DeviceSim,
    base: int,
    poll: int,
    where: int,
    eff: Effects | None,
    latent: Latent,
    shown: Shown | None,
) -> tuple[bool, str, Shown | None]:
    d, rng, bits, stamp, out = sim.d, sim.rng, sim.bits, sim.stamp, sim.waiting
    fallback = eff.fallback if eff is not None else None
    connected = not (eff is not None and eff.link_down is not None and fallback is None)
    ssid, bssid, channel, rssi, drop_p = "", "", 0, 0.0, 0.0
    frail = latent.frailty["wifi"][d.index]
    if where == HOME:
        home = d.home
        ssid, bssid, channel = sim.home_ssid, home.bssid, home.channel
        rssi = home.rssi_dbm + 3.0 * Z[bits(12)]
        drop_p = 0.0017 * frail
    elif connected:
        pos = fallback if fallback is not None else where
        ap = sim.site.bssids[d.ssid][pos]
        ssid, bssid, channel = sim.corp_ssid, ap.bssid, ap.channel
        rssi = sim.rssi_at(pos) - (8.0 if fallback is not None else 0.0) + 2.5 * Z[bits(12)]
        noise = latent.values["wifi"]
        drop_p = 0.0017 * frail * noise["site"][sim.site.name] * noise["bssid"][bssid]
        drop_p += latent.blip("wifi", "site", sim.site.name) + latent.blip("wifi", "bssid", bssid)
    extra: list[tuple[float, str]] = []
    if eff is not None and connected:
        for drop, disconnects, sid in eff.wifi:
            rssi -= drop
            extra.append((disconnects, sid))
            if drop >= 6.0:
                shown = show(shown, sid, poll)
    rssi = max(-95.0, min(-30.0, rssi))
    prev_up, prev_bssid, prev_ssid = sim.last_link
    if poll - sim.last_poll <= 300_000:
        at = max(sim.last_poll + 1, base)
        moved = at + rng.randrange(max(1, poll - at))
        if prev_up and not connected:
            out.append(
                render.WIFI_EVENT_DOWN
                % (
                    stamp(moved),
                    sim.iface,
                    prev_ssid,
                    prev_bssid,
                    "The access point stopped answering",
                    4,
                )
            )
            assert eff is not None and eff.link_down is not None
            shown = show(shown, eff.link_down, moved)
        elif connected and not prev_up:
            out.append(render.WIFI_EVENT_UP % (stamp(moved), sim.iface, ssid, bssid))
        elif connected and prev_bssid != bssid:
            if prev_ssid == ssid:
                out.append(
                    render.WIFI_EVENT_ROAM % (stamp(moved), sim.iface, ssid, bssid, prev_bssid)
                )
            else:
                out.append(
                    render.WIFI_EVENT_DOWN
                    % (stamp(moved), sim.iface, prev_ssid, prev_bssid, "Unspecified reason", 1)
                )
                out.append(render.WIFI_EVENT_UP % (stamp(moved + 1500), sim.iface, ssid, bssid))
    sim.last_link = (connected, bssid, ssid)
    sim.last_poll = poll
    if not connected:
        out.append(render.WIFI_DOWN % (stamp(poll + 40), sim.iface))
        assert eff is not None and eff.link_down is not None
        return False, "", show(shown, eff.link_down, poll)
    out.append(sim.wifi_up(stamp(poll + 40), ssid, bssid, channel, rssi, where == HOME))
    u = rng.random()
    if u < drop_p + sum(p for p, _ in extra):
        t1 = base + rng.randrange(max(1, sim.phase_ms))
        reason, code = DROP_REASONS[bits(12) % len(DROP_REASONS)]
        out.append(render.WIFI_EVENT_DOWN % (stamp(t1), sim.iface, ssid, bssid, reason, code))
        t2 = min(t1 + 2000 + rng.randrange(18_000), poll)  # back before the poll saw it up
        out.append(render.WIFI_EVENT_UP % (stamp(max(t2, t1 + 1)), sim.iface, ssid, bssid))
        u -= drop_p
        for p, sid in extra:
            if 0 <= u < p:
                shown = show(shown, sid, t1)
            u -= p
    return True, bssid, shown


def _events(
    sim: DeviceSim, m: int, base: int, eff: Effects | None, latent: Latent, shown: Shown | None
) -> Shown | None:
    rnd = sim.rng.random
    apps = sim.d.apps
    if sim.loop is not None and m >= sim.loop[1]:
        sim.loop = None
    if sim.loop is None and apps and rnd() < LOOP_START:
        sim.loop = (sim.rng.randrange(len(apps)), m + sim.rng.randint(60, 180))
    if apps:
        if rnd() < sim.crash_total:
            crash(sim, base, sim.pick(sim.crash_rates, sim.crash_total))
        if sim.loop is not None and rnd() < 0.3:
            crash(sim, base, sim.loop[0])
        if latent.any_blip["crash"]:
            for i, app in enumerate(apps):
                if rnd() < latent.blip("crash", "app", app.key):
                    crash(sim, base, i)
        if rnd() < sim.hang_total:
            hang(sim, base, sim.pick(sim.hang_rates, sim.hang_total))
    if sim.d.peripherals and rnd() < sim.periph_total:
        fault(sim, base, sim.pick(sim.periph_rates, sim.periph_total))
    if eff is not None:
        for which, rate, sid in eff.crash:
            if rnd() < rate:
                shown = show(shown, sid, crash(sim, base, which))
        for which, rate, sid in eff.hang:
            if rnd() < rate:
                shown = show(shown, sid, hang(sim, base, which))
        for which, rate, sid in eff.peripheral:
            if rnd() < rate:
                shown = show(shown, sid, fault(sim, base, which))
    return shown
