"""Pulse-survey throttling: which pending survey, if any, the tray may put in front of the user.

The collector lists the surveys pending for this device at check-in (:class:`Offer`); the tray
asks the agent "is a survey due now?" and the agent answers with :func:`due`. The one rule
above all others is that the employee is never nagged, so everything here errs towards *not*
prompting:

* at most one survey per device per ``min_interval`` (24 h by default, as ControlUp does);
* nothing during quiet hours, at weekends, or while the user is busy (full-screen app,
  presentation, locked screen: Nexthink's "focus protection");
* "remind me later" waits at least ``snooze_min`` (12 h, Nexthink's minimum);
* a survey prompted ``max_shows`` times without an answer is given up, and an answered or
  dismissed survey never comes back.

The module is pure: no IO, no clock reads, no time-zone database. Every instant is a parameter,
so the rules can be tested with plain datetimes stepped forward, and the remembered
:class:`State` is an immutable value that each operation replaces with a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any, Literal, TypeAlias, TypeVar

Answer: TypeAlias = Literal["rating", "yes_no"]
"""A 1-5 rating, or yes/no."""
UserOutcome: TypeAlias = Literal["answered", "dismissed"]
"""How the user closed a survey (reported by the tray)."""
Outcome: TypeAlias = Literal["answered", "dismissed", "expired", "given_up"]
"""Every way a survey ends; ``expired`` and ``given_up`` are decided by :func:`sweep`."""

ANSWERS: frozenset[str] = frozenset({"rating", "yes_no"})
USER_OUTCOMES: frozenset[str] = frozenset({"answered", "dismissed"})
OUTCOMES: frozenset[str] = frozenset({"answered", "dismissed", "expired", "given_up"})

RETENTION = timedelta(days=30)
"""How long :func:`sweep` keeps what it knows about a survey the collector no longer offers."""
MAX_FORGOTTEN = 500
"""At most this many surveys the collector no longer offers are remembered (the most recent)."""
STATE_VERSION = 1
"""Written into :meth:`State.to_json`, so a future layout is recognised instead of misread."""

_MIN_SNOOZE = timedelta(hours=12)
_WEEKEND = frozenset({5, 6})  # datetime.weekday(): Saturday, Sunday
_T = TypeVar("_T")
_STATE_KEYS = (
    "last_shown",
    "last_shown_id",
    "shows",
    "shown_at",
    "snoozed_until",
    "closed",
    "closed_at",
)


def _require_aware(name: str, value: datetime) -> None:
    """Naive and aware datetimes cannot be compared; fail early with a message that says why."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")


@dataclass(frozen=True)
class Offer:
    """One pending survey, as the collector sends it at check-in."""

    id: str
    """The survey instance id: one survey for this device; a campaign has one per device."""
    campaign_id: str
    question: str
    answer: Answer
    comment: bool
    """Whether an optional free-text comment is offered with the answer."""
    anonymous: bool
    not_before: datetime
    """Not prompted before this instant (UTC-aware)."""
    expires_at: datetime
    """Expired at this instant and after (UTC-aware): prompting then would collect nothing."""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("offer id must not be empty")
        if self.answer not in ANSWERS:
            raise ValueError(f"offer {self.id}: answer must be one of {sorted(ANSWERS)}")
        _require_aware(f"offer {self.id}: not_before", self.not_before)
        _require_aware(f"offer {self.id}: expires_at", self.expires_at)


@dataclass(frozen=True)
class Rules:
    """The throttling settings. The defaults follow what peers ship (see the module docstring)."""

    min_interval: timedelta = timedelta(hours=24)
    """At most one survey is prompted per device per this interval (snooze aside, see due())."""
    snooze_min: timedelta = _MIN_SNOOZE
    """A snooze shorter than this is lengthened to it; may not be set below 12 h."""
    quiet_start: time = time(18, 0)
    """Local wall-clock start of quiet hours (inclusive)."""
    quiet_end: time = time(9, 0)
    """Local wall-clock end of quiet hours (exclusive); before quiet_start means past midnight,
    equal to quiet_start means no quiet hours at all."""
    weekend_quiet: bool = True
    """Saturday and Sunday (local) are quiet all day."""
    max_shows: int = 3
    """Prompted this many times without an answer, a survey is given up (treated as dismissed)."""

    def __post_init__(self) -> None:
        if self.min_interval < timedelta(0):
            raise ValueError(f"min_interval must not be negative, got {self.min_interval}")
        if self.snooze_min < _MIN_SNOOZE:
            raise ValueError(f"snooze_min must be at least {_MIN_SNOOZE}, got {self.snooze_min}")
        if self.max_shows < 1:
            raise ValueError(f"max_shows must be at least 1, got {self.max_shows}")
        for name, value in (("quiet_start", self.quiet_start), ("quiet_end", self.quiet_end)):
            if value.tzinfo is not None:
                raise ValueError(f"{name} is local wall-clock time and must be naive")

    def quiet(self, local_now: datetime) -> bool:
        """Whether ``local_now`` (naive local wall-clock time) falls in quiet hours or weekend."""
        if self.weekend_quiet and local_now.weekday() in _WEEKEND:
            return True
        start, end, now = self.quiet_start, self.quiet_end, local_now.time()
        if start == end:
            return False
        if start < end:
            return start <= now < end
        return now >= start or now < end


@dataclass(frozen=True)
class State:
    """What the agent remembers about surveys on this device, across restarts.

    Immutable: :func:`shown`, :func:`snooze`, :func:`close` and :func:`sweep` return a new
    State, so a caller that fails to save the new one still holds a consistent old one. The
    dicts are copied by every operation and must not be mutated in place.
    """

    last_shown: datetime | None = None
    """When any survey was last prompted on this device."""
    last_shown_id: str | None = None
    """Which survey that was (a snoozed survey may come back sooner than min_interval after
    its *own* prompt, never after another survey's)."""
    shows: dict[str, int] = field(default_factory=dict)
    """Survey id -> times prompted."""
    shown_at: dict[str, datetime] = field(default_factory=dict)
    """Survey id -> when it was last prompted (for the given-up grace and for pruning)."""
    snoozed_until: dict[str, datetime] = field(default_factory=dict)
    """Survey id -> not prompted again before this instant ("remind me later")."""
    closed: dict[str, Outcome] = field(default_factory=dict)
    """Survey id -> how it ended; a closed survey is never prompted again."""
    closed_at: dict[str, datetime] = field(default_factory=dict)
    """Survey id -> when it ended (for pruning)."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only (datetimes as ISO 8601 strings), for the agent's StateStore."""
        return {
            "version": STATE_VERSION,
            "last_shown": None if self.last_shown is None else self.last_shown.isoformat(),
            "last_shown_id": self.last_shown_id,
            "shows": dict(self.shows),
            "shown_at": _times_to_json(self.shown_at),
            "snoozed_until": _times_to_json(self.snoozed_until),
            "closed": dict(self.closed),
            "closed_at": _times_to_json(self.closed_at),
        }

    @classmethod
    def from_json(cls, data: object) -> State:
        """The State :meth:`to_json` wrote.

        Raises ValueError, and only ValueError, on anything malformed (wrong version, missing
        key, wrong type, naive or unparsable time), so the caller has one exception to catch
        before starting from an empty State.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"survey state must be a JSON object, got {type(data).__name__}")
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"survey state version {data.get('version')!r} is not supported")
        for key in _STATE_KEYS:
            if key not in data:
                raise ValueError(f"survey state: missing key {key!r}")
        last_shown_id = data["last_shown_id"]
        if last_shown_id is not None and not isinstance(last_shown_id, str):
            raise ValueError("survey state: last_shown_id must be a string or null")
        raw_last = data["last_shown"]
        last_shown = None if raw_last is None else _time_from_json("last_shown", raw_last)

        shows: dict[str, int] = {}
        for key, value in _object("shows", data["shows"]).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"survey state: shows[{key!r}] must be a non-negative integer")
            shows[key] = value
        closed: dict[str, Outcome] = {}
        for key, value in _object("closed", data["closed"]).items():
            outcome = _outcome(value)
            if outcome is None:
                raise ValueError(f"survey state: closed[{key!r}] must be one of {sorted(OUTCOMES)}")
            closed[key] = outcome
        return cls(
            last_shown=last_shown,
            last_shown_id=last_shown_id,
            shows=shows,
            shown_at=_times_from_json("shown_at", data["shown_at"]),
            snoozed_until=_times_from_json("snoozed_until", data["snoozed_until"]),
            closed=closed,
            closed_at=_times_from_json("closed_at", data["closed_at"]),
        )


def _outcome(value: object) -> Outcome | None:
    """The Literal for a stored string (spelled out so mypy can narrow it), or None."""
    if value == "answered":
        return "answered"
    if value == "dismissed":
        return "dismissed"
    if value == "expired":
        return "expired"
    if value == "given_up":
        return "given_up"
    return None


def _times_to_json(times: Mapping[str, datetime]) -> dict[str, str]:
    return {key: value.isoformat() for key, value in times.items()}


def _object(name: str, value: object) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"survey state: {name} must be an object, got {type(value).__name__}")
    result: dict[str, object] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValueError(f"survey state: {name} has a non-string key {key!r}")
        result[key] = item
    return result


def _time_from_json(name: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"survey state: {name} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"survey state: {name} is not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"survey state: {name} has no time zone: {value!r}")
    return parsed


def _times_from_json(name: str, value: object) -> dict[str, datetime]:
    return {
        key: _time_from_json(f"{name}[{key!r}]", item) for key, item in _object(name, value).items()
    }


def due(
    offers: Sequence[Offer],
    state: State,
    now: datetime,
    local_now: datetime,
    rules: Rules,
    busy: bool,
) -> Offer | None:
    """The one survey to prompt now, or None.

    ``now`` is the UTC-aware instant; ``local_now`` is the same instant as *naive* local
    wall-clock time, converted by the caller, so that quiet hours follow the user's time zone
    without a tz database here. Nothing is due while ``busy`` (full-screen app, presentation,
    locked screen, as far as the OS can tell), in quiet hours or on a quiet weekend.

    Otherwise the first offer, by ``not_before`` then ``id``, that is not closed, not expired
    (``expires_at <= now`` is expired), has ``not_before <= now``, is not snoozed
    (``snoozed_until > now`` is snoozed), has been prompted fewer than ``max_shows`` times, and
    passes the interval rule:

    No survey is prompted within ``min_interval`` after the last prompt of any survey, with one
    exception. A snooze is the user's own request to be asked again later, so when a snooze
    ends the same survey may come back even within ``min_interval`` of its own earlier prompt,
    provided no other survey has been prompted since (``last_shown_id`` is still this survey).
    It is never prompted within ``min_interval`` of a *different* survey, so two different
    surveys are always at least ``min_interval`` apart. The exception is used up by the
    prompt it allows, because :func:`shown` clears the snooze.

    A ``last_shown`` in the future (the clock was stepped back) blocks prompts until the clock
    is ``min_interval`` past it: prompting too late is harmless, prompting twice is nagging.
    """
    _require_aware("now", now)
    if local_now.tzinfo is not None:
        raise ValueError("local_now must be naive local wall-clock time (the caller converts)")
    if busy or rules.quiet(local_now):
        return None
    recent = state.last_shown is not None and now - state.last_shown < rules.min_interval
    for offer in sorted(offers, key=lambda o: (o.not_before, o.id)):
        if offer.id in state.closed:
            continue
        if offer.expires_at <= now or offer.not_before > now:
            continue
        if state.shows.get(offer.id, 0) >= rules.max_shows:
            continue
        snoozed_until = state.snoozed_until.get(offer.id)
        if snoozed_until is not None and snoozed_until > now:
            continue
        snooze_over = snoozed_until is not None and state.last_shown_id == offer.id
        if recent and not snooze_over:
            continue
        return offer
    return None


def shown(state: State, offer_id: str, now: datetime) -> State:
    """Record that the survey was prompted at ``now``; a pending snooze of it is used up."""
    _require_aware("now", now)
    snoozed = dict(state.snoozed_until)
    snoozed.pop(offer_id, None)
    return replace(
        state,
        last_shown=now,
        last_shown_id=offer_id,
        shows={**state.shows, offer_id: state.shows.get(offer_id, 0) + 1},
        shown_at={**state.shown_at, offer_id: now},
        snoozed_until=snoozed,
    )


def snooze(
    state: State,
    offer_id: str,
    now: datetime,
    rules: Rules,
    for_: timedelta | None = None,
) -> State:
    """Remind me later: not before ``now + max(for_, snooze_min)`` (``for_`` defaults to it).

    A shorter request is lengthened rather than refused: the user still gets their "later",
    just not one that would make the prompt come back the same afternoon.
    """
    _require_aware("now", now)
    wait = max(for_ or rules.snooze_min, rules.snooze_min)
    return replace(state, snoozed_until={**state.snoozed_until, offer_id: now + wait})


def close(state: State, offer_id: str, how: UserOutcome, now: datetime) -> State:
    """Record that the user answered or dismissed the survey; it is never prompted again.

    Closing is idempotent and the first outcome stands: a survey already closed (by the user
    or by :func:`sweep`) keeps its outcome, so what was reported upstream is never contradicted.
    """
    _require_aware("now", now)
    if how not in USER_OUTCOMES:
        raise ValueError(f"how must be one of {sorted(USER_OUTCOMES)}, got {how!r}")
    if offer_id in state.closed:
        return state
    return _closed(state, offer_id, how, now)


def _closed(state: State, offer_id: str, how: Outcome, now: datetime) -> State:
    snoozed = dict(state.snoozed_until)
    snoozed.pop(offer_id, None)
    return replace(
        state,
        closed={**state.closed, offer_id: how},
        closed_at={**state.closed_at, offer_id: now},
        snoozed_until=snoozed,
    )


def sweep(
    offers: Sequence[Offer],
    state: State,
    now: datetime,
    rules: Rules,
) -> tuple[State, list[tuple[str, str]]]:
    """Housekeeping after each check-in: close what ended without an answer, forget the old.

    Returns the new State and the surveys it closed, as ``(id, "expired" | "given_up")`` in
    offer order, for the agent to report; a survey is reported by the sweep that closes it and
    never again, since it is then closed.

    * ``given_up``: prompted ``max_shows`` times, and the last prompt is at least
      ``min_interval`` old. The grace leaves that last prompt its full turn: an answer given
      to it a little after the sweep still counts instead of contradicting a report already
      sent. Checked before expiry, since it says more about the employee.
    * ``expired``: ``expires_at <= now`` and not answered.

    State is kept bounded. Anything about a survey the collector still offers is kept, however
    old, since forgetting it could prompt it again. A survey the collector no longer offers is
    forgotten once its latest recorded time (prompt, snooze end or close) is older than
    :data:`RETENTION` (30 days), and of those no longer offered only the :data:`MAX_FORGOTTEN`
    (500) most recent are kept. So the State holds at most ``len(offers) + 500`` surveys.
    ``last_shown`` and ``last_shown_id`` are always kept: the interval rule needs them.
    """
    _require_aware("now", now)
    reported: list[tuple[str, str]] = []
    offered: dict[str, Offer] = {}
    for offer in offers:
        offered.setdefault(offer.id, offer)
    for offer in offered.values():
        if offer.id in state.closed:
            continue
        last_prompt = state.shown_at.get(offer.id)
        given_up = state.shows.get(offer.id, 0) >= rules.max_shows and (
            last_prompt is None or now - last_prompt >= rules.min_interval
        )
        how: Outcome | None = (
            "given_up" if given_up else "expired" if offer.expires_at <= now else None
        )
        if how is not None:
            state = _closed(state, offer.id, how, now)
            reported.append((offer.id, how))
    return _prune(state, set(offered), now), reported


def _prune(state: State, offered: set[str], now: datetime) -> State:
    """Drop what is known about surveys no longer offered, by age then by count."""
    known = set(state.shows) | set(state.shown_at) | set(state.snoozed_until) | set(state.closed)
    known |= set(state.closed_at)
    latest_of: dict[str, datetime] = {}
    for survey_id in known - offered:
        times = [
            t
            for t in (
                state.shown_at.get(survey_id),
                state.snoozed_until.get(survey_id),
                state.closed_at.get(survey_id),
            )
            if t is not None
        ]
        if times:  # an entry with no time at all (hand-edited state) is simply dropped
            latest_of[survey_id] = max(times)
    recent = sorted(
        (latest, survey_id) for survey_id, latest in latest_of.items() if now - latest <= RETENTION
    )
    keep = {survey_id for _, survey_id in recent[-MAX_FORGOTTEN:]}
    drop = (known - offered) - keep
    if not drop:
        return state
    return replace(
        state,
        shows=_without(state.shows, drop),
        shown_at=_without(state.shown_at, drop),
        snoozed_until=_without(state.snoozed_until, drop),
        closed=_without(state.closed, drop),
        closed_at=_without(state.closed_at, drop),
    )


def _without(values: Mapping[str, _T], drop: Iterable[str]) -> dict[str, _T]:
    dropped = set(drop)
    return {key: value for key, value in values.items() if key not in dropped}
