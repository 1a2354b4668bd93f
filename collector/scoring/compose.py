"""From aggregates to a score: the arithmetic of ``docs/scoring.md`` §4-§6, in one place.

An hour and a week go through the same function, so they cannot disagree about the formula;
they differ only in the aggregates they pass.

* metric quality ``q = (good + fair_credit x fair) / count``;
* performance and network: ``100 x sum(v_m q_m)``, ``v_m`` the metric weights renormalised over
  the metrics that have data;
* reliability: ``100 - sum(event points) / hours``;
* technical score: the components with data, weighted by their renormalised weights;
* total: ``(1 - s) x technical + s x sentiment`` with ``s`` the sentiment weight, when the period
  has survey answers; the technical score alone otherwise.

Every point below 100 is attributed to exactly one cause: a metric's loss is
``(1 - s) x w_c x v_m x 100 x (1 - q_m)``, an event cause's ``(1 - s) x w_rel x points / hours``
and sentiment's ``s x (100 - sentiment)``. These add up to ``100 - total`` by construction, so
the breakdown always explains the whole score.
"""

from __future__ import annotations

from .catalogue import (
    EVENTS,
    METRICS,
    NETWORK,
    PERFORMANCE,
    RELIABILITY,
    SENTIMENT,
    SENTIMENT_CAUSE,
    TECHNICAL_COMPONENTS,
)
from .config import Rules
from .results import Aggregates, EventTally, Loss, Tally

Composed = tuple[float | None, dict[str, float], list[Loss]]


def compose(agg: Aggregates, rules: Rules, explain: bool = True) -> Composed:
    """Score, components and losses of ``agg``; without ``explain``, no losses (the score
    alone is wanted, and the detail lines are half the cost).

    The score is None when nothing that counts has data: no sample at all, or only
    components whose weight is 0 (their scores are still returned, for display)."""
    components: dict[str, float] = {}
    # cause -> (component, points lost within the component out of 100)
    inner: dict[str, tuple[str, float]] = {}
    fair = rules.fair_credit

    for comp in (PERFORMANCE, NETWORK):
        weights = rules.metric_weights[comp]
        present: list[tuple[str, float, float]] = []
        for name, weight in weights.items():
            tally = agg.metrics.get(name)
            if weight > 0 and tally is not None and tally.count > 0:
                present.append((name, weight, (tally.good + fair * tally.fair) / tally.count))
        total_weight = sum(w for _, w, _ in present)
        if not present:
            continue
        components[comp] = 100.0 * sum(w * q for _, w, q in present) / total_weight
        for name, weight, quality in present:
            inner[name] = (comp, 100.0 * weight / total_weight * (1.0 - quality))

    if agg.hours > 0:
        lost = 0.0
        for cause, ev in agg.events.items():
            share = ev.points / agg.hours
            lost += share
            inner[cause] = (RELIABILITY, share)
        components[RELIABILITY] = max(0.0, 100.0 - lost)

    sentiment = agg.sentiment_total / agg.answers if agg.answers > 0 else None
    if sentiment is not None:
        components[SENTIMENT] = sentiment

    counted = [
        c for c in TECHNICAL_COMPONENTS if c in components and rules.component_weights[c] > 0
    ]
    tech_weight = sum(rules.component_weights[c] for c in counted)
    if not counted and sentiment is None:
        return None, components, []
    blend = rules.sentiment_weight if sentiment is not None else 0.0
    if not counted:
        blend = 1.0
    factor: dict[str, float] = {
        c: (1.0 - blend) * rules.component_weights[c] / tech_weight for c in counted
    }

    score = 0.0
    for comp, weight in factor.items():
        score += weight * components[comp]
    if sentiment is not None:
        score += blend * sentiment

    losses: list[Loss] = []
    if not explain:
        return min(100.0, max(0.0, score)), components, losses
    for cause, (comp, points) in inner.items():
        lost = factor.get(comp, 0.0) * points
        if lost > 0:
            losses.append(Loss(cause, comp, lost, _detail(cause, agg, rules)))
    if sentiment is not None and blend * (100.0 - sentiment) > 0:
        losses.append(
            Loss(SENTIMENT_CAUSE, SENTIMENT, blend * (100.0 - sentiment), _sentiment(agg))
        )
    losses.sort(key=lambda loss: (-loss.points, loss.cause))
    return min(100.0, max(0.0, score)), components, losses


# -- details --------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    """A share for a detail line; never "0 %" for something that happened."""
    share = 100.0 * part / whole
    return "<1 %" if 0 < share < 0.5 else f"{share:.0f} %"


def _detail(cause: str, agg: Aggregates, rules: Rules) -> str:
    if cause in EVENTS:
        return _events(cause, agg.events[cause], agg.hours)
    info = METRICS[cause]
    tally: Tally = agg.metrics[cause]
    n = tally.count
    if cause == "probe_failures":
        return f"{tally.poor} of {n} network probes failed ({_pct(tally.poor, n)})"
    poor_means, fair_means = rules.wording[cause]
    parts = [(f"poor ({poor_means})", tally.poor), (f"fair ({fair_means})", tally.fair)]
    shown = [(what, k) for what, k in parts if k]
    if info.timed:
        text = ", ".join(
            f"{what} {_pct(k, n)}" + (" of the time" if i == 0 else "")
            for i, (what, k) in enumerate(shown)
        )
        return f"{info.label} {text} ({n} {info.noun})"
    text = ", ".join(
        f"{what} in {k}" + (f" of {n} {info.noun}" if i == 0 else "")
        for i, (what, k) in enumerate(shown)
    )
    return f"{info.label} {text}"


def _events(cause: str, ev: EventTally, hours: int) -> str:
    info = EVENTS[cause]
    text = f"{ev.count} {info.singular if ev.count == 1 else info.plural}"
    if hours > 1:
        text += f" in {ev.hours} of {hours} hours"
    if ev.names:
        shown = list(ev.names.items())
        if len(shown) == 1 and shown[0][1] == ev.count:
            text += f" ({shown[0][0]})"
        else:
            text += " (" + ", ".join(f"{name} {n}" for name, n in shown[:3]) + ")"
    return text


def _sentiment(agg: Aggregates) -> str:
    mean = agg.sentiment_total / agg.answers
    answers = "survey answer" if agg.answers == 1 else "survey answers"
    return f"{agg.answers} {answers} averaging {mean:.0f} of 100"
