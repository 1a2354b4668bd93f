"""An outage from its first alarm to its resolution: open -> ongoing -> recovering -> resolved.

Rules (research notes §4.6; minutes are event-time minutes):

* **open**: the minute detection first localizes an alarm to a cohort no live outage covers.
  ``started_at`` is the estimated onset (earlier than the alarm), ``detected_at`` the clock
  time of that evaluation.
* **ongoing**: every later minute it is still significant. The cohort may move (a site
  outage first seen at one access point widens to the site) when a new alarm of the same
  signal is the cohort's ancestor or descendant, or shares at least half its failing devices.
* **recovering**: its cohort's failure rate stayed under the clear threshold (below twice the
  baseline, or relative risk under 1.5, or fewer failing devices than the minimum) for
  ``quiet_to_recover`` minutes in a row; ``recovering_since`` is the first quiet minute.
* **resolved**: recovering for ``recovering_to_resolve`` minutes; ``resolved_at`` is the
  first quiet minute. The same cohort alarming again within ``reopen_within`` minutes of being
  declared resolved reopens it (flap suppression) instead of opening another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .units import Cohort

Status = Literal["open", "ongoing", "recovering", "resolved"]


@dataclass
class Outage:
    id: str
    signal: str
    cohort: Cohort
    started_at: int
    detected_at: int
    status: Status = "open"
    resolved_at: int | None = None
    closed_at: int | None = None
    """The minute it was declared resolved (``resolved_at`` is when it got quiet)."""
    recovering_since: int | None = None
    quiet: int = 0
    affected: set[str] = field(default_factory=set)
    exposed: int = 0
    timeline: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Event-time minute -> (failing, exposed) of the cohort; late data updates it."""
    explanation: dict[str, Any] = field(default_factory=dict)
    suspects: list[dict[str, Any]] = field(default_factory=list)
    last_alarm: int = 0

    @property
    def live(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class Timing:
    quiet_to_recover: int = 5
    recovering_to_resolve: int = 15
    reopen_within: int = 30


def related(a: Cohort, b: Cohort, ancestors_a: list[Cohort], ancestors_b: list[Cohort]) -> bool:
    """The same cohort, or one inside the other (by pairs, or by the parent chain)."""
    return a == b or set(a) <= set(b) or set(b) <= set(a) or a in ancestors_b or b in ancestors_a


def jaccard(a: set[str], b: set[str] | frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def quiet_step(outage: Outage, minute: int, quiet: bool, timing: Timing) -> bool:
    """Advance ``outage`` by one evaluated minute in which it did not alarm; whether its
    status changed."""
    before = outage.status
    if not quiet:
        outage.quiet = 0
        if outage.status == "recovering":
            outage.status, outage.recovering_since = "ongoing", None
        return outage.status != before
    outage.quiet += 1
    if outage.status in ("open", "ongoing") and outage.quiet >= timing.quiet_to_recover:
        outage.status = "recovering"
        outage.recovering_since = minute - outage.quiet + 1
    elif (
        outage.status == "recovering"
        and outage.recovering_since is not None
        and minute - outage.recovering_since + 1 >= timing.recovering_to_resolve
    ):
        outage.status, outage.resolved_at = "resolved", outage.recovering_since
        outage.closed_at = minute
    elif outage.status == "open":
        outage.status = "ongoing"
    return outage.status != before


def alarm_step(outage: Outage, minute: int) -> bool:
    """Advance ``outage`` by a minute in which it alarmed again; whether its status changed."""
    before = outage.status
    outage.quiet = 0
    outage.last_alarm = minute
    if outage.status == "resolved":  # reopened
        outage.resolved_at = outage.closed_at = None
    if outage.status != "open" or minute > outage.detected_at:
        outage.status = "ongoing" if minute > outage.detected_at else "open"
    outage.recovering_since = None
    return outage.status != before
