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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .minutes import Count
from .units import ROOT, Cohort

VERSION_DIMS = {"app_version", "driver_version"}
MIN_SHARE = 0.1
SHARE_BAND = 0.8
RR_TIE = 1.25
OVERLAP = 0.5
NARROW_SHARE = 0.7
"""A cohort inside the chosen one that holds this share of its failing devices, at a clearly
higher rate, is blamed instead (a few of a dead AP's clients were last seen on a neighbour)."""


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


def _spec(cohort: Cohort) -> tuple[str, ...]:
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
    by_spec: dict[tuple[str, ...], list[Cohort]] = {}
    for cohort in counts:
        by_spec.setdefault(_spec(cohort), []).append(cohort)
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
                _relative_risk(cohort, rate, counts, by_spec, parents), excess,
                max(0.0, excess) / denominator, frozenset(count.failing),
            )
        )  # fmt: skip
    return scores


def _relative_risk(
    cohort: Cohort,
    rate: float,
    counts: Mapping[Cohort, Count],
    by_spec: Mapping[tuple[str, ...], list[Cohort]],
    parents: Mapping[Cohort, Cohort],
) -> float:
    """``rate`` over the siblings' rate; 1 where there is nothing to contrast with (the whole
    fleet, or a cohort without siblings, such as the only SSID)."""
    if not cohort:
        return 1.0
    siblings = [c for c in by_spec.get(_spec(cohort), []) if c != cohort]
    near = [c for c in siblings if parents.get(c) == parents.get(cohort)]
    pool = near if sum(len(counts[c].exposed) for c in near) >= 5 else siblings
    failing: set[str] = set()
    exposed: set[str] = set()
    for c in pool:
        failing |= counts[c].failing
        exposed |= counts[c].exposed
    if len(exposed) < 5:
        return 1.0
    other = max(len(failing) / len(exposed), 0.5 / len(exposed))
    return rate / other


def choose(
    scores: list[Score], parents: Mapping[Cohort, Cohort], *, min_rr: float = 3.0
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
        best = max(tied, key=lambda s: (s.share, -len(s.cohort), -s.exposed))
        best = _granularity(best, by_cohort, parents, min_rr)
        rest = [s for s in pool if s is not best]
        covered = [s for s in rest if _overlap(s, best) >= OVERLAP]
        alternatives = sorted(covered, key=lambda s: (-s.share, -s.relative_risk))[:3]
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
    descendant that holds most (``NARROW_SHARE``) of ``best``'s failing devices at a clearly
    higher rate (a dead access point inside its site), or the same devices with a version
    added (the app version, not the app, when every device runs that one version)."""
    while True:
        inside = [
            s for s in by_cohort.values()
            if s.cohort and _descends(s.cohort, best.cohort, parents)
            and len(s.devices & best.devices) >= NARROW_SHARE * best.failing
            and (s.rate >= 1.5 * best.rate
                 or (s.exposed == best.exposed and _adds_version(s.cohort, best.cohort)))
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


def _adds_version(child: Cohort, parent: Cohort) -> bool:
    extra = {d for d, _ in child} - {d for d, _ in parent}
    return bool(extra) and extra <= VERSION_DIMS


def _overlap(candidate: Score, chosen: Score) -> float:
    """Share of ``candidate``'s failing devices that ``chosen`` already has."""
    if not candidate.devices:
        return 1.0
    return len(candidate.devices & chosen.devices) / len(candidate.devices)
