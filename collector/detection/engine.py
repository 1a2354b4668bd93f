"""The detector: units in, outages out, one event-time minute at a time.

:meth:`Detector.add` folds units into their minute (late ones too, within the buffer);
:meth:`Detector.advance` takes the clock (``now``) and evaluates, in order, every minute up to
``now - grace``: the grace gives batches a moment to arrive before their minute is judged.
Per minute and cell (signal, cohort) with exposed devices:

1. ``p0`` from :mod:`.baseline`; the beta-binomial correlation ``rho`` of the signal.
2. Fast path (hard outages): the minute's failing devices and the last three minutes' are
   both in the upper tail beyond ``alpha``, in this minute and the one before (one-minute
   blips do not count).
3. Accumulating path (partial, gradual): the beta-binomial CUSUM of p1 = max(3 p0, p0+0.15)
   against p0 reaches ``h``.
4. Either way, only with enough devices: at least ``min_devices`` failing (``min_devices_wide``
   for a site or the whole fleet), at least ``min_share`` of the exposed, and 30 % of them in a
   cohort of 30 or fewer.

The alarming cells of a signal are localized (:mod:`.localize`) and matched to outages
(:mod:`.lifecycle`). Minutes leave the buffer ``keep`` minutes later, when the baselines learn
them, except the cells that were alarming or inside a live outage then.

No IO and no clock of its own: the same units and the same ``now`` sequence give the same
outages, which is what makes replay equal live ingestion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .baseline import Baselines
from .lifecycle import Outage, Timing, alarm_step, jaccard, quiet_step, related
from .localize import MIN_RR, Choice, Score, choose, score_all
from .minutes import Count, MinuteBuffer
from .stats import cusum_step, shifted, upper_tail, window_rate
from .units import ROOT, Cell, Cohort, Dims, Unit

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VERSION_DIMS = ("app_version", "driver_version", "os_build")
WIDE_DIMS = {"site", "ssid", "probe_target"}
SILENCE_HISTORY = 8


def _rr(value: float) -> float | None:
    """A relative risk for JSON (infinite: the siblings had no failure at all)."""
    return None if value == float("inf") else round(value, 2)


def to_minute(ts: datetime) -> int:
    return int((ts - EPOCH).total_seconds() // 60)


def from_minute(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


@dataclass(frozen=True)
class DetectionConfig:
    prior: Mapping[str, float] = field(
        default_factory=lambda: {
            "wifi": 0.01,
            "network_probe": 0.01,
            "silence": 0.01,
            "system": 0.01,
            "app_crash": 0.0005,
            "app_hang": 0.0005,
            "peripheral_failure": 0.0005,
        }  # fmt: skip
    )
    rho: Mapping[str, float] = field(default_factory=dict)
    default_rho: float = 0.02
    alpha: float = 1e-5
    h: float = 16.0
    min_devices: int = 3
    min_devices_wide: int = 5
    min_share: float = 0.1
    min_share_by_signal: Mapping[str, float] = field(default_factory=lambda: {"silence": 0.5})
    """Laptops go to sleep all day long (lunch, meetings, home time), a few at a time: only
    half a cohort falling silent together is a cut-off, not people leaving."""
    quiet_window: Mapping[str, int] = field(
        default_factory=lambda: {"app_crash": 10, "app_hang": 10, "peripheral_failure": 10}
    )
    """Minutes over which an outage's cohort must look normal again: crashes come and go
    minute by minute even while a bad version is still deployed."""
    grace_minutes: int = 2
    keep_minutes: int = 60
    new_within_minutes: int = 3 * 24 * 60
    timing: Timing = field(default_factory=Timing)


class Detector:
    def __init__(self, config: DetectionConfig | None = None) -> None:
        self.config = config or DetectionConfig()
        self.buffer = MinuteBuffer(self.config.keep_minutes)
        self.baselines = Baselines(self.config.prior)
        self.cusum: dict[Cell, float] = {}
        self.fast_before: set[Cell] = set()
        self.frozen: dict[int, set[Cell]] = {}
        self.first_seen: dict[Cell, int] = {}
        self.outages: list[Outage] = []
        """Live outages and those resolved within the reopen window (older ones are dropped:
        the collector keeps them in its database)."""
        self.serial = 0
        self.next_minute: int | None = None
        self.started: int | None = None
        self.arrivals: dict[str, tuple[list[int], Dims]] = {}
        """Per device: its recent arrival minutes (clock time) and where it last was."""

    # -- input and clock -------------------------------------------------------------------

    def arrived(self, device: str, place: Dims, now: datetime) -> None:
        """A batch from ``device`` arrived at ``now`` (clock time), last seen at ``place``
        (site, ssid, bssid): the input of the ``silence`` signal (see :meth:`_silence`)."""
        minutes, _ = self.arrivals.get(device, ([], ()))
        minute = to_minute(now)
        if self.next_minute is None:
            self.next_minute = self.started = minute
        if not minutes or minutes[-1] != minute:
            minutes = [*minutes[-(SILENCE_HISTORY - 1) :], minute]
        self.arrivals[device] = (minutes, place)

    def add(self, ts: datetime, units: Iterable[Unit]) -> int:
        """Fold ``units`` of the minute of ``ts`` in; how many were taken (late beyond the
        buffer: none)."""
        minute = to_minute(ts)
        if self.next_minute is None:
            self.next_minute = self.started = minute
        return self.buffer.add(minute, units)

    def advance(self, now: datetime) -> list[Outage]:
        """Evaluate every minute up to ``now`` minus the grace; the outages that changed."""
        if self.next_minute is None:
            return []
        clock = to_minute(now)
        changed: dict[str, Outage] = {}
        while self.next_minute <= clock - self.config.grace_minutes:
            for outage in self.evaluate(self.next_minute, clock):
                changed[outage.id] = outage
            self.next_minute += 1
        return list(changed.values())

    # -- one minute ------------------------------------------------------------------------

    def _silence(self, minute: int, clock: int) -> list[Unit]:
        """Devices that stop reporting together (a site whose WAN is cut cannot upload) are a
        signal of their own. Exposed at ``minute``: a device that uploaded in the two minutes
        before it; failing: one of those that has not uploaded since, for more than twice its
        usual gap between uploads (so an agent that uploads every five minutes is not called
        silent after two). The narrow window is what tells a cut-off from people leaving:
        a cut silences its devices in the same minute, departures trickle. Judged on arrivals
        up to ``clock`` only: what replay also knows."""
        units: list[Unit] = []
        for device, (minutes, place) in self.arrivals.items():
            before = [m for m in minutes if minute - 3 <= m < minute - 1]
            if not before:
                continue
            # most devices have uploaded since: not silent, whatever their usual gap
            silent = not any(minute - 1 <= m <= clock for m in minutes)
            if silent:
                gaps = [b - a for a, b in zip(minutes, minutes[1:], strict=False) if b > a]
                gap = min(gaps) if gaps else 1
                silent = clock - before[-1] > 2 * gap + 1
            units.append(Unit(device, "silence", place, silent))
        return units

    def evaluate(self, minute: int, clock: int) -> list[Outage]:
        cfg = self.config
        if minute % 60 == 0:  # devices gone for a day (retired, reinstalled) leave the walk
            self.arrivals = {
                d: seen for d, seen in self.arrivals.items() if seen[0][-1] >= minute - 1440
            }
        if self.arrivals:
            self.buffer.add(minute, self._silence(minute, clock))
        counts = self.buffer.at(minute)
        cache: dict[Cell, float] = {}
        alarms: dict[str, set[Cohort]] = {}
        fast_now: set[Cell] = set()
        for cell, count in counts.items():
            self.first_seen.setdefault(cell, minute)
            n, x = len(count.exposed), len(count.failing)
            if not n:
                continue
            signal, cohort = cell
            p0 = self.baselines.p0(cell, minute, self.buffer.parents, cache)
            rho = cfg.rho.get(signal, cfg.default_rho)
            s = self.cusum.get(cell, 0.0)
            if x or s:
                s = self.cusum[cell] = cusum_step(s, x, n, p0, shifted(p0), rho)
            if not self._enough(signal, cohort, x, n):
                continue
            if x > n * p0 and upper_tail(x, n, p0, rho) < cfg.alpha:
                window = self.buffer.window(cell, minute, 3)
                x3, n3 = len(window.failing), len(window.exposed)
                if upper_tail(x3, n3, window_rate(p0, 3), rho) < cfg.alpha:
                    fast_now.add(cell)
            if (cell in fast_now and cell in self.fast_before) or s >= cfg.h:
                alarms.setdefault(signal, set()).add(cohort)
        self.fast_before = fast_now
        changed = self._update_outages(minute, clock, counts, alarms, cache)
        self._learn(minute, alarms)
        return changed

    def _enough(self, signal: str, cohort: Cohort, x: int, n: int) -> bool:
        cfg = self.config
        wide = not cohort or (len(cohort) == 1 and cohort[0][0] in WIDE_DIMS)
        share = cfg.min_share_by_signal.get(signal, cfg.min_share)
        if x < (cfg.min_devices_wide if wide else cfg.min_devices) or x < share * n:
            return False
        return n > 30 or x >= 0.3 * n

    # -- outages ---------------------------------------------------------------------------

    def _update_outages(
        self,
        minute: int,
        clock: int,
        counts: Mapping[Cell, Count],
        alarms: Mapping[str, set[Cohort]],
        cache: dict[Cell, float],
    ) -> list[Outage]:
        changed: list[Outage] = []
        alarmed: set[str] = set()
        for signal, cohorts in sorted(alarms.items()):
            for choice in self._localize(signal, minute, counts, cohorts, cache):
                outage, is_change = self._match(signal, choice, minute, clock)
                alarmed.add(outage.id)
                if is_change:
                    changed.append(outage)
                for cohort in cohorts:  # explained: their evidence starts afresh
                    if counts[(signal, cohort)].failing & choice.best.devices:
                        self.cusum[(signal, cohort)] = 0.0
        for outage in self.outages:
            if outage.id in alarmed or outage.status == "resolved":
                continue
            cell = (outage.signal, outage.cohort)
            span = self.config.quiet_window.get(outage.signal, 1)
            count = (
                self.buffer.window(cell, minute, span) if span > 1 else counts.get(cell, Count())
            )
            x, n = len(count.failing), len(count.exposed)
            p0 = self.baselines.p0(cell, minute, self.buffer.parents, cache)
            p0 = window_rate(p0, span)
            enough = self._enough(outage.signal, outage.cohort, x, n)
            quiet = not enough or x < n * max(2 * p0, p0 + 0.02)
            if outage.signal == "silence":  # over when the silent devices are back
                quiet = self._returned(outage) >= 0.5
            if quiet_step(outage, minute, quiet, self.config.timing):
                changed.append(outage)
        for outage in self.outages:
            if outage.live:
                self._refresh(outage, minute)
        reopen = self.config.timing.reopen_within
        self.outages = [
            o for o in self.outages if o.closed_at is None or minute - o.closed_at <= reopen
        ]
        return changed

    def _localize(
        self,
        signal: str,
        minute: int,
        counts: Mapping[Cell, Count],
        alarming: set[Cohort],
        cache: dict[Cell, float],
    ) -> list[Choice]:
        mine = {cohort: count for (s, cohort), count in counts.items() if s == signal}
        parents = {c: self.buffer.parents.get((signal, c), ()) for c in mine}

        def p0(cohort: Cohort) -> float:
            return self.baselines.p0((signal, cohort), minute, self.buffer.parents, cache)

        scores = score_all(mine, p0, parents, self.config.min_devices)
        alarm_devices: set[str] = set()
        for cohort in alarming:
            alarm_devices |= mine[cohort].failing
        choices = [
            c
            for c in choose(scores, parents)
            if self._enough(signal, c.best.cohort, c.best.failing, c.best.exposed)
            and len(c.best.devices & alarm_devices) >= 0.5 * max(1, c.best.failing)
        ]
        choices += self._standing_alone(signal, scores, alarming, choices)
        if not choices and ROOT in alarming:  # fleet-wide, no cohort stands out
            root = next(s for s in scores if s.cohort == ROOT)
            choices = [Choice(root, ())]
        return choices

    def _standing_alone(
        self, signal: str, scores: list[Score], alarming: set[Cohort], taken: list[Choice]
    ) -> list[Choice]:
        """Alarming cells no accepted choice explains. Localization may prefer a broader
        cohort that then fails the minimums: four devices silent at a dead access point and
        three more leaving elsewhere make "the site" the best explanation, yet seven of 38
        is no site outage. The access point alarmed on its own and is kept."""
        covered: set[str] = set()
        for choice in taken:
            covered |= choice.best.devices
        found: list[Choice] = []
        candidates = [s for s in scores if s.cohort in alarming and s.cohort != ROOT]
        for score in sorted(candidates, key=lambda s: (-s.share, len(s.cohort), s.cohort)):
            if score.devices & covered or score.relative_risk < MIN_RR:
                continue
            if self._enough(signal, score.cohort, score.failing, score.exposed):
                found.append(Choice(score, ()))
                covered |= score.devices
        return found

    def _match(self, signal: str, choice: Choice, minute: int, clock: int) -> tuple[Outage, bool]:
        best = choice.best
        timing = self.config.timing
        for outage in reversed(self.outages):
            if outage.signal != signal:
                continue
            recent = outage.live or (
                outage.closed_at is not None and minute - outage.closed_at <= timing.reopen_within
            )
            if not recent:
                continue
            same = related(
                outage.cohort, best.cohort,
                self.buffer.ancestors((signal, outage.cohort)),
                self.buffer.ancestors((signal, best.cohort)),
            ) or jaccard(outage.affected, best.devices) >= 0.5  # fmt: skip
            if same:
                if self._rescope(signal, outage, best):
                    outage.cohort = best.cohort
                    self._explain(outage, choice)
                return outage, alarm_step(outage, minute)
        self.serial += 1
        outage = Outage(
            id=f"{signal}-{minute}-{self.serial}",
            signal=signal,
            cohort=best.cohort,
            started_at=self._onset(signal, best, minute),
            detected_at=clock,
            last_alarm=minute,
        )
        self._explain(outage, choice)
        self.outages.append(outage)
        return outage, True

    def _rescope(self, signal: str, outage: Outage, best: Score) -> bool:
        """Whether a new alarm moves the outage's cohort: wider when it brings many devices
        the outage did not have (one access point, then the whole site), narrower when a
        cohort inside it holds nearly all of it. Otherwise the cohort stays, so an outage does
        not wander between equivalent descriptions from minute to minute."""
        if best.cohort == outage.cohort:
            return True
        fresh = best.devices - outage.affected
        if len(fresh) >= max(3, 0.5 * len(outage.affected)):
            return True
        inside = outage.cohort in self.buffer.ancestors((signal, best.cohort))
        return inside and len(best.devices & outage.affected) >= 0.9 * len(outage.affected)

    def _returned(self, outage: Outage) -> float:
        """Share of a silence outage's devices that have uploaded since it started."""
        if not outage.affected:
            return 1.0
        back = 0
        for device in outage.affected:
            minutes = self.arrivals.get(device, ([], ()))[0]
            back += bool(minutes) and minutes[-1] > outage.started_at
        return back / len(outage.affected)

    def _onset(self, signal: str, best: Score, minute: int) -> int:
        """The first minute of the run of elevated minutes that ends at ``minute``."""
        cell = (signal, best.cohort)
        threshold = best.p0 + (best.rate - best.p0) / 3
        onset = minute
        for m in range(minute - 1, max(minute - self.config.keep_minutes, -1), -1):
            count = self.buffer.at(m).get(cell)
            if count is None or not count.exposed:
                break
            if len(count.failing) / len(count.exposed) < threshold:
                break
            onset = m
        return onset

    def _explain(self, outage: Outage, choice: Choice) -> None:
        best = choice.best
        outage.explanation = {
            "failing": best.failing,
            "exposed": best.exposed,
            "rate": round(best.rate, 4),
            "baseline_rate": round(best.p0, 6),
            "relative_risk": _rr(best.relative_risk),
            "explained_share": round(best.share, 3),
            "alternatives": [
                {"cohort": dict(a.cohort), "explained_share": round(a.share, 3),
                 "relative_risk": _rr(a.relative_risk)}
                for a in choice.alternatives
            ],
        }  # fmt: skip
        outage.suspects = self._suspects(outage, best)

    def _suspects(self, outage: Outage, best: Score) -> list[dict[str, object]]:
        """Versions and drivers that appeared in the affected cohort shortly before it broke."""
        if self.started is None:
            return []
        found: list[dict[str, object]] = []
        for (signal, cohort), first in self.first_seen.items():
            if signal != outage.signal or not any(d in VERSION_DIMS for d, _ in cohort):
                continue
            if (
                first - self.started < 60
                or not 0 <= outage.started_at - first <= self.config.new_within_minutes
            ):
                continue
            count = self.buffer.at(max(first, outage.started_at)).get((signal, cohort))
            devices = count.failing if count else set()
            if best.devices and len(devices & best.devices) >= 0.5 * len(best.devices):
                found.append({"cohort": dict(cohort), "first_seen": from_minute(first).isoformat()})
        return found[:5]

    def _refresh(self, outage: Outage, minute: int) -> None:
        """The outage's timeline and affected devices from the buffer (late data included)."""
        cell = (outage.signal, outage.cohort)
        start = max(outage.started_at, minute - self.config.keep_minutes + 1)
        for m in range(start, minute + 1):
            count = self.buffer.at(m).get(cell)
            if count is None:
                continue
            outage.timeline[m] = (len(count.failing), len(count.exposed))
            outage.affected |= count.failing
            outage.exposed = max(outage.exposed, len(count.exposed))

    # -- baselines -------------------------------------------------------------------------

    def _learn(self, minute: int, alarms: Mapping[str, set[Cohort]]) -> None:
        frozen = {(signal, c) for signal, cohorts in alarms.items() for c in cohorts}
        for outage in self.outages:
            if outage.live:
                frozen.add((outage.signal, outage.cohort))
                frozen |= {
                    (outage.signal, a)
                    for a in self.buffer.ancestors((outage.signal, outage.cohort))
                }
        self.frozen[minute] = frozen
        for gone, cells in self.buffer.expire(minute - self.config.keep_minutes + 1):
            skip = self.frozen.pop(gone, set())
            cache: dict[Cell, float] = {}
            for cell, count in cells.items():
                if cell in skip or not count.exposed:
                    continue
                p0 = self.baselines.p0(cell, gone, self.buffer.parents, cache)
                self.baselines.learn(cell, gone, len(count.failing), len(count.exposed), p0)


def outage_json(outage: Outage) -> dict[str, object]:
    """An outage as the API and replay's output show it."""
    return {
        "id": outage.id,
        "status": outage.status,
        "signal": outage.signal,
        "cohort": dict(outage.cohort),
        "started_at": from_minute(outage.started_at).isoformat(),
        "detected_at": from_minute(outage.detected_at).isoformat(),
        "resolved_at": from_minute(outage.resolved_at).isoformat() if outage.resolved_at else None,
        "affected_devices": len(outage.affected),
        "exposed_devices": outage.exposed,
        "explanation": outage.explanation,
        "suspects": outage.suspects,
        "timeline": [
            {"minute": from_minute(m).isoformat(), "failing": f, "exposed": e}
            for m, (f, e) in sorted(outage.timeline.items())
        ],
    }
