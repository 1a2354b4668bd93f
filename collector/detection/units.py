"""What the detector counts: units of exposure, and the cohorts each belongs to.

A :class:`Unit` is one device's exposure to one thing in one event-time minute, with the
dimensions that describe it and whether it failed in that minute::

    Unit(device="3f2c...", signal="wifi", failing=True,
         dims=(("site", "brussels-hq"), ("ssid", "corp"), ("bssid", "64:d1:54:68:93:ae"),
               ("model", "Latitude 7440"), ("os_build", "22631.4460")))

A device contributes one Wi-Fi unit per minute, one network_probe unit per probe target, one
app_crash unit per app version it runs, one peripheral_failure unit per attached peripheral.
Counting *distinct devices* per cohort (never events) is what keeps one crash-looping laptop
from looking like an outage.

Cohorts are the dimension combinations searched every minute, per signal (:data:`SPECS`): the
single dimensions, the known hierarchies as chains (site > site+ssid > bssid; app > app+version;
driver > driver+version) and a few known pairs. Each spec names its parent, which the baseline
shrinks toward and localization walks: the parent of ``bssid`` is the ``site+ssid`` it belongs
to, the parent of every top-level spec is the signal's whole fleet (the empty cohort).
"""

from __future__ import annotations

from dataclasses import dataclass

Dims = tuple[tuple[str, str], ...]
Cohort = tuple[tuple[str, str], ...]
"""(dimension, value) pairs in the spec's order; ``()`` is the signal's whole fleet."""
Cell = tuple[str, Cohort]
"""(signal, cohort): what baselines, tests and outages are kept for."""
ROOT: Cohort = ()


@dataclass(frozen=True, slots=True)
class Unit:
    device: str
    signal: str
    dims: Dims
    failing: bool


@dataclass(frozen=True, slots=True)
class Spec:
    dims: tuple[str, ...]
    parent: tuple[str, ...]
    """The parent spec's dimensions (``()``: the whole fleet)."""


def _chain(*levels: tuple[str, ...]) -> list[Spec]:
    """Specs for a hierarchy: each level's parent is the level before (the first: the fleet)."""
    return [Spec(level, levels[i - 1] if i else ()) for i, level in enumerate(levels)]


_PLACE = [
    *_chain(("site",), ("site", "ssid")),
    Spec(("bssid",), ("site", "ssid")),
    Spec(("ssid",), ()),
]
_MACHINE = [
    Spec(("model",), ()),
    Spec(("os_build",), ()),
    Spec(("os_build", "model"), ("os_build",)),
]
_APP = [
    *_chain(("app_name",), ("app_name", "app_version")),
    Spec(("app_name", "app_version", "os_build"), ("app_name", "app_version")),
    Spec(("app_name", "app_version", "model"), ("app_name", "app_version")),
]
_PERIPHERAL = [
    *_chain(("driver",), ("driver", "driver_version")),
    Spec(("peripheral",), ()),
    Spec(("peripheral", "driver", "driver_version"), ("driver", "driver_version")),
    Spec(("driver", "driver_version", "model"), ("driver", "driver_version")),
]

SPECS: dict[str, tuple[Spec, ...]] = {
    "wifi": (*_PLACE, *_MACHINE),
    "network_probe": (
        *_PLACE,
        *_MACHINE,
        Spec(("probe_target",), ()),
        Spec(("probe_target", "site"), ("probe_target",)),
    ),
    "silence": tuple(_PLACE),
    "app_crash": (*_APP, Spec(("site",), ())),
    "app_hang": (*_APP, Spec(("site",), ())),
    "peripheral_failure": (*_PERIPHERAL, *_MACHINE),
    "system": (*_MACHINE, Spec(("site",), ())),
}
"""The cohorts searched per signal (the whole fleet, ``()``, is always one more)."""

HIERARCHY_RANK = {"site": 0, "probe_target": 0, "app_name": 0, "driver": 0, "os_build": 1}
"""Coarseness of a cohort's first dimension, for "prefer the coarsest among equals"."""


def cells_of(unit: Unit) -> list[tuple[Cohort, Cohort]]:
    """The (cohort, parent cohort) pairs ``unit`` belongs to, the whole fleet first.

    A spec whose dimensions the unit lacks (a probe without a site, a device on cable with no
    BSSID) is skipped; so is one whose parent it cannot name."""
    return [(cohort, parent) for (_, cohort), parent in cells_for(unit.signal, unit.dims)]


def cells_for(signal: str, dims: Dims) -> tuple[tuple[Cell, Cohort], ...]:
    """:func:`cells_of` for any unit of ``signal`` with ``dims``, as (cell, parent cohort).

    Keyed by what it depends on (not the device, not whether it failed), so the buffer can
    compute it once per distinct dims rather than once per unit."""
    values = dict(dims)
    out: list[tuple[Cell, Cohort]] = [((signal, ROOT), ROOT)]
    for spec in SPECS.get(signal, ()):
        if all(values.get(d) for d in spec.dims) and all(values.get(d) for d in spec.parent):
            cohort = tuple((d, values[d]) for d in spec.dims)
            parent = tuple((d, values[d]) for d in spec.parent)
            out.append(((signal, cohort), parent))
    return tuple(out)
