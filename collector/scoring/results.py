"""What scoring returns: scores, their breakdown, and the aggregates that make roll-ups exact.

A device-hour is stored once (as JSON, see :meth:`HourScore.to_json`) and every longer period
is computed from stored hours, never from samples again. That only works if an hour keeps the
*sums* a period needs rather than its score: good/fair/poor counts per metric, event counts and
the reliability points they cost, survey answers and their total. All of these add up across
hours (and across days), so a 7-day score computed from 7 days equals the one computed from
their 168 hours. :class:`Aggregates` is that set of sums.

Everything here is plain frozen dataclasses with ``to_json``/``from_json``: no pydantic
validation on the hot path, and a round trip through JSON gives back an equal object (floats
survive ``json`` exactly).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

MAX_NAMES = 10
"""Most app or peripheral names kept per event cause: enough for a detail line, bounded size."""


@dataclass(frozen=True, slots=True)
class Loss:
    """Points of the 100 lost to one cause. The losses of a score add up to 100 minus it."""

    cause: str
    """Stable machine key: a metric (``wifi_signal``), an event cause (``app_crash``) or
    ``sentiment``."""
    component: str
    points: float
    detail: str
    """Plain English with the numbers behind the loss."""

    def to_json(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "component": self.component,
            "points": self.points,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(str(data["cause"]), str(data["component"]), float(data["points"]),
                   str(data["detail"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Tally:
    """How many samples of a metric were good, fair and poor."""

    good: int = 0
    fair: int = 0
    poor: int = 0

    @property
    def count(self) -> int:
        return self.good + self.fair + self.poor

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.good + other.good, self.fair + other.fair, self.poor + other.poor)


@dataclass(frozen=True, slots=True)
class EventTally:
    """Events of one cause over a period.

    ``points`` is the sum, over the period's hours, of the reliability points this cause cost in
    each hour (after the per-hour decay and cap): the reliability loss of a period is
    ``points / hours``. ``names`` counts occurrences per app or peripheral, the most frequent
    :data:`MAX_NAMES` only.
    """

    count: int
    hours: int
    points: float
    names: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: EventTally) -> EventTally:
        names = dict(self.names)
        for name, n in other.names.items():
            names[name] = names.get(name, 0) + n
        return EventTally(
            self.count + other.count, self.hours + other.hours, self.points + other.points,
            top_names(names),
        )  # fmt: skip


def top_names(names: dict[str, int]) -> dict[str, int]:
    """The :data:`MAX_NAMES` most frequent names, ties by name, so merging is deterministic."""
    if len(names) <= MAX_NAMES:
        return dict(sorted(names.items(), key=lambda kv: (-kv[1], kv[0])))
    return dict(sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_NAMES])


@dataclass(frozen=True, slots=True)
class Aggregates:
    """The additive sums behind a score (see the module docstring).

    ``hours`` counts device-hours with any sample at all: the denominator of reliability.
    ``sentiment_total`` is the sum of answers normalised to 0-100; their mean is the sentiment.
    """

    hours: int = 0
    metrics: dict[str, Tally] = field(default_factory=dict)
    events: dict[str, EventTally] = field(default_factory=dict)
    answers: int = 0
    sentiment_total: float = 0.0

    def __add__(self, other: Aggregates) -> Aggregates:
        metrics = dict(self.metrics)
        for name, tally in other.metrics.items():
            metrics[name] = metrics[name] + tally if name in metrics else tally
        events = dict(self.events)
        for name, ev in other.events.items():
            events[name] = events[name] + ev if name in events else ev
        return Aggregates(
            self.hours + other.hours,
            metrics,
            events,
            self.answers + other.answers,
            self.sentiment_total + other.sentiment_total,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "metrics": {k: [t.good, t.fair, t.poor] for k, t in self.metrics.items()},
            "events": {
                k: {"count": e.count, "hours": e.hours, "points": e.points, "names": e.names}
                for k, e in self.events.items()
            },
            "answers": self.answers,
            "sentiment_total": self.sentiment_total,
        }

    @classmethod
    def sum_json(cls, stored: Iterable[Mapping[str, Any]]) -> Aggregates:
        """The sum of aggregates stored with :meth:`to_json`, equal to adding their
        :meth:`from_json` in order (the same float additions in the same order) without
        building each: a day rolled up from its 24 stored hours in a third of the time."""
        hours = answers = 0
        sentiment = 0.0
        counts: dict[str, list[int]] = {}
        events: dict[str, list[Any]] = {}  # cause -> [count, hours, points, names]
        for data in stored:
            hours += int(data["hours"])
            answers += int(data["answers"])
            sentiment += float(data["sentiment_total"])
            for name, (g, f, p) in data["metrics"].items():
                if (mine := counts.get(name)) is None:
                    counts[name] = [int(g), int(f), int(p)]
                else:
                    mine[0] += int(g)
                    mine[1] += int(f)
                    mine[2] += int(p)
            for cause, ev in data["events"].items():
                names = {str(n): int(c) for n, c in ev.get("names", {}).items()}
                if (got := events.get(cause)) is None:
                    events[cause] = [int(ev["count"]), int(ev["hours"]), float(ev["points"]),
                                     names]  # fmt: skip
                    continue
                got[0] += int(ev["count"])
                got[1] += int(ev["hours"])
                got[2] += float(ev["points"])
                for n, c in names.items():
                    got[3][n] = got[3].get(n, 0) + c
                got[3] = top_names(got[3])
        return Aggregates(
            hours,
            {m: Tally(*c) for m, c in counts.items()},
            {k: EventTally(c, h, p, top_names(n)) for k, (c, h, p, n) in events.items()},
            answers,
            sentiment,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        metrics = {
            str(k): Tally(int(v[0]), int(v[1]), int(v[2])) for k, v in data["metrics"].items()
        }
        events = {
            str(k): EventTally(
                int(v["count"]), int(v["hours"]), float(v["points"]),
                {str(n): int(c) for n, c in v.get("names", {}).items()},
            )
            for k, v in data["events"].items()
        }  # fmt: skip
        return cls(
            int(data["hours"]), metrics, events, int(data["answers"]),
            float(data["sentiment_total"]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _DeviceScore:
    """A device's score over some span of time, with its breakdown and its aggregates.

    ``score`` is None when the span has no data at all. ``components`` holds only components
    with data; ``losses`` only causes that cost something, largest first. Floats are kept
    unrounded: round for display only.
    """

    score: float | None
    components: dict[str, float]
    losses: list[Loss]
    aggregates: Aggregates
    fingerprint: str
    """:meth:`ScoringConfig.fingerprint` of the configuration that computed this score."""

    @property
    def hours(self) -> int:
        """Device-hours with data behind this score (1 or 0 for an hour)."""
        return self.aggregates.hours

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "components": dict(self.components),
            "losses": [loss.to_json() for loss in self.losses],
            "aggregates": self.aggregates.to_json(),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Rebuild a score stored with :meth:`to_json`; a malformed dict raises ValueError."""
        try:
            score = data["score"]
            return cls(
                None if score is None else float(score),
                {str(k): float(v) for k, v in data["components"].items()},
                [Loss.from_json(item) for item in data["losses"]],
                Aggregates.from_json(data["aggregates"]),
                str(data["fingerprint"]),
            )
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a stored score: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class HourScore(_DeviceScore):
    """One device, one clock hour (see :func:`~.hourly.score_hour`)."""


@dataclass(frozen=True, slots=True)
class PeriodScore(_DeviceScore):
    """One device over a day, a week or any span, rolled up from hours (or from shorter
    periods) by :func:`~.rollup.score_period`."""


@dataclass(frozen=True, slots=True)
class GroupScore:
    """A group of devices (a site, a department, a model...) over a period.

    ``score`` is the mean of the device scores; ``losses`` are the mean points each cause cost
    per device (0 for a device it did not touch), so they add up to 100 minus the group score
    exactly like a device's do. ``components`` are the mean over the devices that have each
    component (for display; the losses are the breakdown). ``xla_share`` is the share (0-1) of
    devices whose score is at or above ``xla_target``.
    """

    score: float
    components: dict[str, float]
    losses: list[Loss]
    devices: int
    xla_target: float
    xla_share: float
    fingerprint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "components": dict(self.components),
            "losses": [loss.to_json() for loss in self.losses],
            "devices": self.devices,
            "xla_target": self.xla_target,
            "xla_share": self.xla_share,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Rebuild a group score stored with :meth:`to_json`; ValueError when malformed."""
        try:
            return cls(
                float(data["score"]),
                {str(k): float(v) for k, v in data["components"].items()},
                [Loss.from_json(item) for item in data["losses"]],
                int(data["devices"]),
                float(data["xla_target"]),
                float(data["xla_share"]),
                str(data["fingerprint"]),
            )
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a stored group score: {exc!r}") from exc
