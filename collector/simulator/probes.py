"""The ``network_probe`` samples of one device-minute: four targets, baseline and outages.

Why its own module: probes carry most of the network outages (a WAN cut, a degraded WAN, a
site's resolver, a SaaS provider), each failing in the way the agent reports it
(:mod:`dexpulse.agent.probes`): no network is a ``dns_error`` (getaddrinfo fails first), a cut
WAN a ``timeout`` at connect or at DNS, a resolver failure a ``dns_error`` with SERVFAIL's
errno, an outage at the provider an HTTP 503 or no answer. Timings are modelled in
:mod:`.behaviour`'s docstring; the order of checks here is the order in which a real probe
would fail (no link, no route, no name, no answer, a slow or failed connect).
"""

from __future__ import annotations

import math

from . import render
from .behaviour import LN, DeviceSim, Shown, show
from .catalog import PROBES
from .effects import Effects
from .noise import Latent
from .schedule import HOME


def probes(
    sim: DeviceSim,
    poll: int,
    where: int,
    connected: bool,
    bssid: str,
    eff: Effects | None,
    latent: Latent,
    shown: Shown | None,
) -> Shown | None:
    rnd, bits, stamp, out, os_name = sim.rng.random, sim.bits, sim.stamp, sim.waiting, sim.os
    home = where == HOME
    noise = latent.values["probe"]
    site_l = 1.0 if home else noise["site"][sim.site.name]
    bssid_l = noise["bssid"].get(bssid, 1.0)
    frail = latent.frailty["probe"][sim.d.index]
    site_blip = 0.0 if home else latent.blip("probe", "site", sim.site.name)
    rtts = sim.rtt_home if home else sim.rtt_office
    ln = LN[0.35 if home else 0.25]
    factor, wan_fail, cut = 1.0, 0.0, False
    wan_sids: list[str] = []
    if eff is not None:
        for f, fail, is_cut, sid in eff.wan:
            factor *= f
            wan_fail = 1.0 - (1.0 - wan_fail) * (1.0 - fail)
            cut = cut or is_cut
            wan_sids.append(sid)
    ms = poll + 150
    for k, p in enumerate(PROBES):
        ms += 180 + bits(7)
        ts, target, host = stamp(ms), p.target, render.HOSTS[p.target]
        if not connected:
            out.append(
                render.PROBE_UNRESOLVED
                % (
                    ts,
                    target,
                    p.method,
                    "dns_error",
                    f"cannot resolve {host}: {render.NO_NAME[os_name]}",
                )
            )
            continue
        lat_l = noise["target"][target]
        rtt = rtts[k] * math.sqrt(site_l * lat_l) * factor
        cached = 0.3 * LN[0.4][bits(12)]
        if cut:
            if p.method == "dns" or target == "login.example.com":
                out.append(
                    render.PROBE_UNRESOLVED % (ts, target, p.method, "timeout", "DNS: timed out")
                )
            else:
                out.append(
                    render.PROBE_NO_CONNECT % (ts, target, cached, "timeout", host, "timed out")
                )
            for sid in wan_sids:
                shown = show(shown, sid, ms)
            continue
        failed = False
        if eff is not None and target != "collector":
            for fail, sid in eff.dns:
                if rnd() < fail:
                    out.append(
                        render.PROBE_UNRESOLVED
                        % (
                            ts,
                            target,
                            p.method,
                            "dns_error",
                            f"cannot resolve {host}: {render.SERVFAIL[os_name]}",
                        )
                    )
                    shown, failed = show(shown, sid, ms), True
                    break
        if failed:
            continue
        if p.method == "dns":
            dns_ms = rtts[k] * math.sqrt(site_l * lat_l) * factor * ln[bits(12)] + 1.5
        elif rnd() < (0.3 if target == "login.example.com" else 0.05):
            dns_ms = rtts[-1] * factor * ln[bits(12)] + 1.5
        else:
            dns_ms = cached
        connect = rtt * ln[bits(12)] + 0.3
        tls = 2.0 * rtt * ln[bits(12)] + 4.0 * LN[0.3][bits(12)]
        if eff is not None:
            for t, fail, mode, sid in eff.targets:
                if t == target and rnd() < fail:
                    if mode == "timeout":
                        out.append(render.PROBE_NO_ANSWER % (ts, target, dns_ms, connect, tls))
                    else:
                        ttfb = rtt + 2.0 * p.server_ms * LN[0.3][bits(12)]
                        out.append(
                            render.PROBE_HTTP_ERROR
                            % (ts, target, dns_ms, connect, tls, ttfb, 503, 503)
                        )
                    shown, failed = show(shown, sid, ms), True
                    break
        if failed:
            continue
        if wan_fail and rnd() < wan_fail:
            out.append(_timeout(p.method, ts, target, dns_ms, host))
            for sid in wan_sids:
                shown = show(shown, sid, ms)
            continue
        fail_p = p.base_fail * frail * site_l * lat_l * bssid_l
        if rnd() < fail_p + site_blip + latent.blip("probe", "target", target):
            if rnd() < 0.7 or p.method == "dns":
                out.append(_timeout(p.method, ts, target, dns_ms, host))
            else:
                out.append(
                    render.PROBE_NO_CONNECT
                    % (ts, target, dns_ms, "connect_error", host, render.REFUSED[os_name])
                )
            continue
        if p.method == "dns":
            out.append(render.PROBE_DNS_OK % (ts, target, dns_ms))
        else:
            ttfb = rtt * ln[bits(12)] + p.server_ms * LN[0.3][bits(12)]
            assert p.http_status is not None
            out.append(render.PROBE_OK % (ts, target, dns_ms, connect, tls, ttfb, p.http_status))
        if factor >= 2.0:
            for sid in wan_sids:
                shown = show(shown, sid, ms)
    return shown


def _timeout(method: str, ts: str, target: str, dns_ms: float, host: str) -> str:
    """A probe that got no answer: the resolver check at DNS, the others at connect."""
    if method == "dns":
        return render.PROBE_UNRESOLVED % (ts, target, method, "timeout", "DNS: timed out")
    return render.PROBE_NO_CONNECT % (ts, target, dns_ms, "timeout", host, "timed out")
