"""Baseline noise with correlation: why failures in a quiet fleet still come in clumps.

Real failures are not independent coin flips per device: a microwave next to one access
point, a congested WAN link for a quarter of an hour, a firewall failing over for a minute, a
SaaS region having a slow morning, a crash that a server-side setting triggers. Devices that
share something share its bad moments. A detector that assumes independent devices (a
binomial model) raises false alarms on every such clump (``reference/outage-detection.md``
§4.4), so the simulator has two kinds of them.

**Drift** (slow, multiplicative). A device's failure probability in one minute for a signal
family is ``p = p0 x F_device x L_g1(w) x L_g2(w) x ...`` where ``p0`` is the baseline rate
(per app, peripheral, probe target: :mod:`.catalog`), ``F_device`` ~ Gamma(k_dev, 1/k_dev)
(mean 1, drawn once: some laptops are flakier) and ``L_g(w)`` ~ Gamma(k_g, 1/k_g) (mean 1)
is drawn for every cohort ``g`` the device belongs to (its site, BSSID, app version...) and
every ``WINDOW_MIN``-minute window ``w``. Devices of one cohort share a multiplier of variance
``1/k_g`` during a window (:data:`SHAPES`): a BSSID's Wi-Fi drop rate (k = 1) is below half
its mean in ~40 % of windows and above twice it in ~14 %; a site's (k = 2.5) mostly stays
within 0.5-2x. Latencies use ``L ** 0.5`` of the site and target multipliers, so a noisy WAN
quarter-hour is also a slower one.

**Blips** (rare, additive, one minute). Each minute, each cohort has a small chance
(:data:`BLIPS`) of a shared hiccup that adds a failure probability ``s`` (uniform in a range)
for every member device in that minute: a BSSID's radio resets (10-30 % of its clients drop
and reconnect), a site's firewall fails over (5-15 % of probes through it time out), a
service hiccups for everyone (5-20 %), an app version crashes on a server-side toggle (1-4 %),
an OS build's scheduled scan pegs CPUs (5-20 %). Each lasts one minute, rarely two in a row:
short enough that nobody files a ticket, and exactly what a detector must not call an outage.

With both, the per-15-minute probe failure counts of a site are about 1.5-2.5 times as
variable as binomial counts (more for bigger sites); per minute, the intra-cohort correlation
of probe failures at a site is about 0.01 (the reference's detector assumes 0.02). Measured
figures are in ``docs/simulator.md``.
"""

from __future__ import annotations

import random

from .catalog import PROBES
from .fleet import Fleet

WINDOW_MIN = 15

SHAPES: dict[str, dict[str, float]] = {
    "wifi": {"site": 2.5, "bssid": 1.0},
    "probe": {"site": 3.0, "target": 4.0, "bssid": 3.0},
    "crash": {"app": 1.5},
    "hang": {"app": 1.5},
    "peripheral": {"peripheral": 1.5},
    "cpu": {"os_build": 3.0},
}
"""Gamma shape k per (signal family, cohort dimension): variance of the multiplier is 1/k."""

DEVICE_SHAPES: dict[str, float] = {
    "wifi": 2.0, "probe": 3.0, "crash": 1.5, "hang": 1.5, "peripheral": 1.0, "cpu": 1.5,
}  # fmt: skip
"""Gamma shape of each device's fixed frailty per family."""

BLIPS: dict[tuple[str, str], tuple[float, float, float]] = {
    ("wifi", "bssid"): (1 / 5000, 0.10, 0.30),
    ("wifi", "site"): (1 / 8000, 0.05, 0.15),
    ("probe", "site"): (1 / 3000, 0.05, 0.15),
    ("probe", "target"): (1 / 4000, 0.05, 0.20),
    ("crash", "app"): (1 / 10000, 0.01, 0.04),
    ("cpu", "os_build"): (1 / 6000, 0.05, 0.20),
}
"""(chance per cohort-minute, lowest and highest added failure probability)."""


class Latent:
    """The current multipliers (``values[family][dimension][key]``) and this minute's blips
    (``blips[family][dimension][key]``, only the cohorts having one).

    All cohorts are known from the fleet and drawn in a fixed order (drift at each window,
    blips each minute, from separate streams), so the draws do not depend on what the
    simulation asked for: an injected outage does not shift anyone else's baseline noise.
    """

    def __init__(self, fleet: Fleet, seed: int) -> None:
        self._rng = random.Random(f"{seed}:noise")
        self._blip_rng = random.Random(f"{seed}:blips")
        keys: dict[str, list[str]] = {
            "site": [s.name for s in fleet.sites],
            "bssid": sorted(fleet.by_bssid),
            "target": [p.target for p in PROBES],
            "app": sorted({a.key for d in fleet.devices for a in d.apps}),
            "peripheral": sorted({p.key for d in fleet.devices for p in d.peripherals}),
            "os_build": sorted({d.os_build for d in fleet.devices}),
        }
        self._plan = [
            (family, dim, shape, keys[dim])
            for family, dims in SHAPES.items()
            for dim, shape in dims.items()
        ]
        self._blip_plan = [(family, dim, keys[dim], *rule) for (family, dim), rule in BLIPS.items()]
        self.values: dict[str, dict[str, dict[str, float]]] = {f: {} for f in SHAPES}
        self.blips: dict[str, dict[str, dict[str, float]]] = {f: {} for f in SHAPES}
        self.any_blip: dict[str, bool] = dict.fromkeys(SHAPES, False)
        self.window: int | None = None
        frailty_rng = random.Random(f"{seed}:frailty")
        self.frailty: dict[str, list[float]] = {}
        for family, shape in DEVICE_SHAPES.items():
            self.frailty[family] = [
                frailty_rng.gammavariate(shape, 1 / shape) for _ in fleet.devices
            ]

    def at(self, minute: int) -> None:
        """Move to ``minute``: redraw the drift at a window boundary, draw the minute's blips.
        Called for every minute in order."""
        window = minute // WINDOW_MIN
        if window != self.window:
            self.window = window
            gamma = self._rng.gammavariate
            for family, dim, shape, keys in self._plan:
                self.values[family][dim] = {k: gamma(shape, 1 / shape) for k in keys}
        rnd, uniform = self._blip_rng.random, self._blip_rng.uniform
        for family in self.any_blip:
            self.any_blip[family] = False
        for family, dim, keys, chance, low, high in self._blip_plan:
            hits = {k: uniform(low, high) for k in keys if rnd() < chance}
            self.blips[family][dim] = hits
            if hits:
                self.any_blip[family] = True

    def blip(self, family: str, dim: str, key: str) -> float:
        return self.blips[family][dim].get(key, 0.0) if self.any_blip[family] else 0.0
