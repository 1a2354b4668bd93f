"""The ``battery`` sampler: charge, power source and wear of the laptop's batteries.

Why: a worn battery (health under ~80 %) is a common reason a laptop "dies by lunchtime", and
the fleet view (which models wear fastest, which machines are due a replacement) needs the
design and full-charge capacities, which psutil does not give. A real sample (ThinkPad with a
LGC LNV-45N1, running on battery)::

    {"kind": "battery", "ts": "2026-11-27T09:00:00Z", "percent": 81.0, "plugged": false,
     "status": "discharging", "design_capacity_wh": 47.52, "full_charge_capacity_wh": 45.07,
     "health_percent": 94.8, "cycle_count": null}

One sample per system battery per run (daily by default; ThinkPads with two batteries give
two with the same ``ts``). Batteries of peripherals (mice, headsets) are left out. A machine
without a battery (a desktop, a VM) gives NoData, which is normal and not logged as a failure.
No memory across runs: each sample stands alone.
"""

from __future__ import annotations

from dexpulse.schema import SampleBase

from .. import platform
from .base import Sampler, register


@register
class BatterySampler(Sampler):
    name = "battery"

    def collect(self) -> list[SampleBase]:
        backend = platform.area("battery")
        samples: list[SampleBase] = backend.battery_samples(self.ctx.host, self.ctx.clock())
        return samples
