"""Roll-ups: device-hours to a device's day or week, devices to a group.

A period is *not* the mean of its hourly scores. It is the same formula as an hour applied to
the sum of its hours' aggregates: counts of good/fair/poor samples pool (so an hour the laptop
was on for ten minutes weighs ten minutes, not an hour), reliability is the mean over the hours
the device reported in, and the period's survey answers are averaged together. Because the
aggregates only add, a week rolled from seven days equals the week rolled from their hours.

A group is the mean of its devices' period scores: each employee counts once however long the
laptop was on, which is what "how is the experience at this site" asks. The group's losses are
the mean losses per cause, so the group's breakdown adds up like a device's. Groups with fewer
than ``min_group_size`` scored devices are not shown (None): a group of two is two people, and
its score would point at them.
"""

from __future__ import annotations

from collections.abc import Iterable

from .catalogue import cause_label
from .compose import compose
from .config import ScoringConfig
from .results import Aggregates, GroupScore, HourScore, Loss, PeriodScore


def score_period(hours: Iterable[HourScore | PeriodScore], config: ScoringConfig) -> PeriodScore:
    """One device over any span, from its hour scores (or from shorter period scores).

    Pass each hour once: the sums cannot tell a duplicate from a second hour. The
    classification of samples and the event points are those stored with the hours (computed
    under the configuration of their time); weights and the sentiment blend are ``config``'s.
    """
    return score_aggregates((part.aggregates for part in hours), config)


def score_aggregates(parts: Iterable[Aggregates], config: ScoringConfig) -> PeriodScore:
    """:func:`score_period` from the hours' (or shorter periods') aggregates alone: what the
    scoring job keeps per day so that rescoring a day does not read its hours back."""
    total = Aggregates()
    for part in parts:
        total = total + part
    score, components, losses = compose(total, config.rules)
    return PeriodScore(score, components, losses, total, config.fingerprint())


def score_group(
    devices: Iterable[PeriodScore | HourScore], config: ScoringConfig
) -> GroupScore | None:
    """The group's score from its devices' scores over the same period; None when fewer than
    ``config.min_group_size`` devices have a score (devices without data do not count)."""
    scored = [d for d in devices if d.score is not None]
    n = len(scored)
    if n < config.min_group_size or n == 0:
        return None
    mean = sum(d.score for d in scored if d.score is not None) / n

    comp_sum: dict[str, float] = {}
    comp_n: dict[str, int] = {}
    for d in scored:
        for comp, value in d.components.items():
            comp_sum[comp] = comp_sum.get(comp, 0.0) + value
            comp_n[comp] = comp_n.get(comp, 0) + 1
    components = {comp: comp_sum[comp] / comp_n[comp] for comp in comp_sum}

    lost: dict[str, float] = {}
    touched: dict[str, int] = {}
    component_of: dict[str, str] = {}
    for d in scored:
        for loss in d.losses:
            lost[loss.cause] = lost.get(loss.cause, 0.0) + loss.points
            touched[loss.cause] = touched.get(loss.cause, 0) + 1
            component_of[loss.cause] = loss.component
    losses = [
        Loss(
            cause,
            component_of[cause],
            points / n,
            f"{cause_label(cause)}: {points / n:.1f} points per device on average; "
            f"{touched[cause]} of {n} devices affected",
        )
        for cause, points in lost.items()
    ]
    losses.sort(key=lambda loss: (-loss.points, loss.cause))
    target = config.xla_target
    at_target = sum(1 for d in scored if d.score is not None and d.score >= target)
    return GroupScore(
        score=mean,
        components=components,
        losses=losses,
        devices=n,
        xla_target=target,
        xla_share=at_target / n,
        fingerprint=config.fingerprint(),
    )
