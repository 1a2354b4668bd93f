"""Which cohort explains an excess of failing devices: the smallest, most telling one.

When cells of a signal alarm, every cohort with failing devices that minute is a candidate,
scored from the same counts (research notes §4.5):

* ``rate`` = failing / exposed devices; ``relative_risk`` = rate / the rate of its siblings
  (the same kind of cohort with other values: the other BSSIDs of the same site and SSID, the
  other versions of the same app; all other values where there are too few such siblings).
  Contrast against siblings, not against "everything else", is what makes a SaaS target that
  every device probes stand out: its complement in devices is empty, its sibling targets are
  healthy.
* ``excess`` = failing - exposed * p0, and ``explained_share`` = its excess over the signal's
  total excess (Adtributor's explanatory power).

Choice, repeated while candidates are left (two sites failing at once are two outages): among
the candidates that explain at least ``0.8`` of the best share, take the highest relative
risk; relative risks within 25 % of each other are a tie, settled by the larger share, then the
coarser cohort (fewer dimensions: a whole site rather than its only SSID). Then drop every
candidate whose failing devices are mostly the chosen one's. A dead access point thus beats
its site (same share, far higher relative risk), a site whose WAN is cut beats each of its
access points (they explain a fraction each), a bad app version beats its app.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from .minutes import Count
from .units import ROOT, Cohort

VERSION_DIMS = {"app_version", "driver_version"}
MIN_SHARE = 0.1
SHARE_BAND = 0.8
RR_TIE = 1.25
OVERLAP = 0.5
MIN_RR = 3.0
"""A cohort failing less than three times as often as its siblings explains nothing."""
NARROW_SHARE = 0.7
"""A cohort inside the chosen one that holds this share of its failing devices, at a clearly
higher rate, is blamed instead (a few of a dead AP's clients were last seen on a neighbour)."""

K = TypeVar("K")
Spec = tuple[str, ...]
Near = tuple[Spec, Cohort | None]
"""A spec and a parent cohort: the cohorts of that spec under that parent."""


@dataclass(frozen=True)
class Score:
    cohort: Cohort
    failing: int
    exposed: int
    p0: float
    rate: float
    relative_risk: float
    excess: float
    share: float
    devices: frozenset[str] = field(repr=False)


@dataclass(frozen=True)
class Choice:
    best: Score
    alternatives: tuple[Score, ...]


def _spec(cohort: Cohort) -> Spec:
    return tuple(d for d, _ in cohort)


def score_all(
    counts: Mapping[Cohort, Count],
    p0: Callable[[Cohort], float],
    parents: Mapping[Cohort, Cohort],
    min_failing: int,
) -> list[Score]:
    """Scores of every cohort with at least ``min_failing`` failing devices (the whole fleet
    included, whose relative risk is 1 by definition)."""
    root = counts.get(ROOT)
    total = (len(root.failing) - len(root.exposed) * p0(ROOT)) if root else 0.0
    siblings = _Siblings(counts, parents)
    excesses: dict[Cohort, float] = {}
    for cohort, count in counts.items():
        if len(count.failing) >= min_failing:
            excesses[cohort] = len(count.failing) - len(count.exposed) * p0(cohort)
    denominator = max([total, *excesses.values(), 1e-9])
    scores: list[Score] = []
    for cohort, excess in excesses.items():
        count = counts[cohort]
        rate = len(count.failing) / max(1, len(count.exposed))
        scores.append(
            Score(
                cohort, len(count.failing), len(count.exposed), p0(cohort), rate,
                siblings.relative_risk(cohort, rate), excess,
                max(0.0, excess) / denominator, frozenset(count.failing),
            )
        )  # fmt: skip
    return scores


class _Pool:
    """Cohorts of one spec pooled for contrast, as how many of them hold each device."""

    def __init__(self, counts: Iterable[Count]) -> None:
        self.failing: Counter[str] = Counter()
        self.exposed: Counter[str] = Counter()
        for count in counts:
            self.failing.update(count.failing)
            self.exposed.update(count.exposed)

    def others(self, member: Count) -> tuple[int, int]:
        """Failing and exposed devices of the pool's cohorts but ``member`` (one of them): all
        of the pool's but those only ``member`` has."""
        failing = len(self.failing) - sum(1 for d in member.failing if self.failing[d] == 1)
        exposed = len(self.exposed) - sum(1 for d in member.exposed if self.exposed[d] == 1)
        return failing, exposed


class _Siblings:
    """The relative risk of cohorts against their siblings (see :meth:`relative_risk`).

    Why pools: the siblings of one cohort are nearly all the cohorts of its spec, so merging
    their devices cohort by cohort costs the square of a wide spec (a thousand BSSIDs in a
    fleet-wide outage). Each pool (a spec, or the cohorts of a spec under one parent) is
    counted once, on demand, and each cohort's siblings are its pool without it."""

    def __init__(self, counts: Mapping[Cohort, Count], parents: Mapping[Cohort, Cohort]) -> None:
        self.counts = counts
        self.parents = parents
        self.by_spec: dict[Spec, list[Cohort]] = {}
        self.by_parent: dict[Near, list[Cohort]] = {}
        for cohort in counts:
            spec = _spec(cohort)
            self.by_spec.setdefault(spec, []).append(cohort)
            self.by_parent.setdefault((spec, parents.get(cohort)), []).append(cohort)
        self.spec_pools: dict[Spec, _Pool] = {}
        self.near_pools: dict[Near, _Pool] = {}
        self.near_exposed: dict[Near, int] = {}

    def relative_risk(self, cohort: Cohort, rate: float) -> float:
        """``rate`` over the siblings' rate; 1 where there is nothing to contrast with (the
        whole fleet, or a cohort without siblings, such as the only SSID). The siblings are
        the cohorts of the same spec under the same parent (the other BSSIDs of the same site
        and SSID) if they have at least 5 exposed devices, else all of that spec."""
        if not cohort:
            return 1.0
        own = self.counts[cohort]
        spec = _spec(cohort)
        near = (spec, self.parents.get(cohort))
        if near not in self.near_exposed:
            self.near_exposed[near] = sum(len(self.counts[c].exposed) for c in self.by_parent[near])
        if self.near_exposed[near] - len(own.exposed) >= 5:
            pool = self._pool(self.near_pools, near, self.by_parent[near])
        else:
            pool = self._pool(self.spec_pools, spec, self.by_spec[spec])
        failing, exposed = pool.others(own)
        if exposed < 5:
            return 1.0
        other = max(failing / exposed, 0.5 / exposed)
        return rate / other

    def _pool(self, pools: dict[K, _Pool], key: K, members: list[Cohort]) -> _Pool:
        pool = pools.get(key)
        if pool is None:
            pool = pools[key] = _Pool(self.counts[c] for c in members)
        return pool


def choose(
    scores: list[Score], parents: Mapping[Cohort, Cohort], *, min_rr: float = MIN_RR
) -> list[Choice]:
    """The cohorts that explain the excess (see the module notes), most explanatory first."""
    pool = [s for s in scores if s.cohort and s.share >= MIN_SHARE and s.relative_risk >= min_rr]
    by_cohort = {s.cohort: s for s in scores}
    choices: list[Choice] = []
    while pool:
        top_share = max(s.share for s in pool)
        band = [s for s in pool if s.share >= SHARE_BAND * top_share]
        top_rr = max(s.relative_risk for s in band)
        tied = [s for s in band if s.relative_risk * RR_TIE >= top_rr]
        picked = max(tied, key=lambda s: (s.share, -len(s.cohort), -s.exposed))
        best = _granularity(picked, by_cohort, parents, min_rr)
        # The picked candidate leaves the pool even when the granularity moved away from it
        # to a cohort it barely overlaps: otherwise it is picked again, forever.
        rest = [s for s in pool if s is not best and s is not picked]
        covered = [s for s in rest if _overlap(s, best) >= OVERLAP]
        alternatives = sorted(covered, key=lambda s: (-s.share, -s.relative_risk))[:3]
        if all(c.best.cohort != best.cohort for c in choices):
            choices.append(Choice(best, tuple(alternatives)))
        pool = [s for s in rest if _overlap(s, best) < OVERLAP]
    return choices


def _descends(child: Cohort, ancestor: Cohort, parents: Mapping[Cohort, Cohort]) -> bool:
    seen: set[Cohort] = set()
    while child and child not in seen:
        seen.add(child)
        child = parents.get(child, ())
        if child == ancestor:
            return True
    return False


def _narrowest(
    best: Score, by_cohort: Mapping[Cohort, Score], parents: Mapping[Cohort, Cohort]
) -> Score:
    """The right granularity (only one child elevated: blame the child). Go down to a
    cohort inside ``best`` (a descendant, or ``best`` with a driver or app version added) that
    holds most (``NARROW_SHARE``) of its failing devices and either fails at a clearly higher
    rate (a dead access point inside its site), or is a version whose sibling versions are
    healthy (relative risk ``MIN_RR``: the driver version, not the driver or the peripheral
    model, when the model's other driver versions work), or is the same devices with a version
    added (the app version, not the app, when every device runs that one version)."""
    while True:
        inside = [
            s for s in by_cohort.values()
            if s.cohort and _inside(s.cohort, best.cohort, parents)
            and len(s.devices & best.devices) >= NARROW_SHARE * best.failing
            and (s.rate >= 1.5 * best.rate
                 or (_names_version(s.cohort, best.cohort)
                     and (s.exposed == best.exposed or s.relative_risk >= MIN_RR)))
        ]  # fmt: skip
        if not inside:
            return best
        best = max(inside, key=lambda s: (s.rate, len(s.cohort)))


def _granularity(
    best: Score, by_cohort: Mapping[Cohort, Score], parents: Mapping[Cohort, Cohort], min_rr: float
) -> Score:
    """Down to the narrowest cohort that holds the failure (:func:`_narrowest`), then up past
    dimensions that add nothing (:func:`_broadest`), until neither moves it."""
    for _ in range(8):
        moved = _broadest(_narrowest(best, by_cohort, parents), by_cohort, min_rr)
        if moved is best:
            break
        best = moved
    return best


def _broadest(best: Score, by_cohort: Mapping[Cohort, Score], min_rr: float) -> Score:
    """Drop a dimension that does not matter: the cohort without it fails at nearly the same
    rate and stands out as well (a probe target at one site whose other targets fail too: the
    site; an SSID that is the site's only one: the site). A version is never dropped for this:
    the same devices with and without the version are the version's (see :func:`_narrowest`)."""
    for dim, _ in best.cohort:
        if dim in VERSION_DIMS or len(best.cohort) < 2:
            continue
        wider = by_cohort.get(tuple(pair for pair in best.cohort if pair[0] != dim))
        if wider is not None and wider.relative_risk >= min_rr and wider.rate * RR_TIE >= best.rate:
            return _broadest(wider, by_cohort, min_rr)
    return best


def _inside(child: Cohort, outer: Cohort, parents: Mapping[Cohort, Cohort]) -> bool:
    """A descendant, or ``outer``'s pairs and a version more (``peripheral`` ->
    ``peripheral+driver+driver_version``, a known pair whose parent is the driver version)."""
    if _descends(child, outer, parents):
        return True
    return set(outer) < set(child) and _names_version(child, outer)


def _names_version(child: Cohort, parent: Cohort) -> bool:
    """Whether ``child`` adds a version dimension to ``parent``."""
    return bool(({d for d, _ in child} - {d for d, _ in parent}) & VERSION_DIMS)


def _overlap(candidate: Score, chosen: Score) -> float:
    """Share of ``candidate``'s failing devices that ``chosen`` already has."""
    if not candidate.devices:
        return 1.0
    return len(candidate.devices & chosen.devices) / len(candidate.devices)
