"""Relative risk against siblings, as localization defines it, whatever the shortcut taken to
compute it: here the siblings' devices are merged the slow, obvious way and compared."""

from __future__ import annotations

import random

from dexpulse.collector.detection.localize import score_all
from dexpulse.collector.detection.minutes import Count
from dexpulse.collector.detection.units import Cohort


def naive_relative_risk(
    cohort: Cohort, counts: dict[Cohort, Count], parents: dict[Cohort, Cohort]
) -> float:
    if not cohort:
        return 1.0
    spec = [d for d, _ in cohort]
    siblings = [c for c in counts if c != cohort and [d for d, _ in c] == spec]
    near = [c for c in siblings if parents.get(c) == parents.get(cohort)]
    pool = near if sum(len(counts[c].exposed) for c in near) >= 5 else siblings
    failing = set().union(*(counts[c].failing for c in pool))
    exposed = set().union(*(counts[c].exposed for c in pool))
    if len(exposed) < 5:
        return 1.0
    own = counts[cohort]
    rate = len(own.failing) / max(1, len(own.exposed))
    return rate / max(len(failing) / len(exposed), 0.5 / len(exposed))


def random_counts(rng: random.Random) -> tuple[dict[Cohort, Count], dict[Cohort, Cohort]]:
    """Sites and their access points with overlapping devices (roaming), a few models, some
    cohorts without a known parent."""
    devices = [f"d{i}" for i in range(rng.randint(1, 60))]
    counts: dict[Cohort, Count] = {}
    parents: dict[Cohort, Cohort] = {}

    def add(cohort: Cohort, parent: Cohort) -> None:
        exposed = set(rng.sample(devices, rng.randint(0, len(devices))))
        share = rng.choice([0.05, 0.3, 0.9])
        counts[cohort] = Count({d for d in exposed if rng.random() < share}, exposed)
        if rng.random() < 0.95:
            parents[cohort] = parent

    add((), ())
    for s in range(rng.randint(1, 4)):
        site = (("site", f"site-{s}"),)
        add(site, ())
        for b in range(rng.randint(0, 5)):
            add((("bssid", f"{s}:{b}"),), site if rng.random() < 0.9 else (("site", "x"),))
    for m in range(rng.randint(0, 3)):
        add((("model", f"model-{m}"),), ())
    return counts, parents


def test_relative_risk_is_against_the_union_of_the_siblings() -> None:
    rng = random.Random(5)
    compared = 0
    for _ in range(500):
        counts, parents = random_counts(rng)
        for score in score_all(counts, lambda c: 0.01, parents, min_failing=1):
            assert score.relative_risk == naive_relative_risk(score.cohort, counts, parents)
            compared += 1
    assert compared > 2000
