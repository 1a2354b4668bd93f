"""One device, one clock hour: classify every sample, count events, then compose.

This is the only place that reads samples. It takes ``(kind, data)`` pairs where ``data`` is
the sample's JSON as the collector stores it (the wire fields without ``kind`` and ``ts``, absent
fields left out), reads the few fields it needs straight from the dicts and never builds pydantic
models: a day's recompute for 10,000 devices is 240,000 device-hours of ~240 samples each, so
this loop is the cost of scoring.

What counts (``docs/scoring.md`` §3):

* ``system``: CPU (worse of load and run queue), memory (worse of stall share and available
  share; available is ``100 - memory_percent`` where only that is reported), disk space (better
  of free share and free gigabytes);
* ``wifi``: signal while connected, ``rssi_dbm`` or else Windows' ``signal_percent`` converted
  (0 % is -100 dBm, 100 % is -50 dBm). A sample not connected is no data: a docked laptop on
  cable with its Wi-Fi idle has no Wi-Fi experience to score;
* ``network_probe``: failure share, DNS, connect + TLS, first byte; the gateway probe gives the
  gateway latency. ``unreachable`` (no route at all) only ever counts as a failure, never for
  its timings, and by default only in an hour in which some other probe succeeded: the device
  had a network and lost it (a Wi-Fi drop), rather than being offline on purpose all hour;
* ``boot``, ``battery``: boot and sign-in durations, battery health;
* ``app_crash``, ``app_hang``, ``peripheral_failure``, ``wifi_event`` (disconnected,
  auth_failed): reliability events;
* ``survey_response``: answered, not anonymous: the 1-5 rating as 0-100 (and yes/no if enabled).

Other kinds (throughput, inventory, agent_health) score nothing but still mark the hour as one
the device was up, which is what reliability is averaged over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalogue import EVENTS, METRICS
from .compose import compose
from .config import ScoringConfig
from .results import Aggregates, EventTally, HourScore, Tally, top_names

_GOOD, _FAIR, _POOR = 0, 1, 2
"""Sample classes: indexes into the per-metric ``[good, fair, poor]`` counters."""
_WIFI_EVENTS = {"disconnected": "wifi_disconnect", "auth_failed": "wifi_auth_failure"}
"""Wi-Fi events that cost points; ``connected`` and ``roamed`` are normal life."""


def _lower(value: float, band: tuple[float, float]) -> int:
    """Class of a value where lower is better."""
    return _GOOD if value <= band[0] else (_POOR if value > band[1] else _FAIR)


def _higher(value: float, band: tuple[float, float]) -> int:
    """Class of a value where higher is better."""
    return _GOOD if value >= band[0] else (_POOR if value < band[1] else _FAIR)


@dataclass(slots=True)
class HourTally:
    """What one device-hour's samples add up to before anything depends on the whole hour:
    class counts per metric, ``unreachable`` probes, event counts and names, answers.

    Tallies of the same device-hour add up (``+``), so the scoring job folds in the samples
    that arrived since its last run instead of reading the hour again; :func:`finish` turns
    the sum into the hour's score (whether unreachable probes count, and the events' decayed
    points, depend on the whole hour). The classes depend on the thresholds the tally was made
    with: a tally is only added to one made with the same configuration. Names are for the
    breakdown's wording only and keep the ten most frequent at each step, so a name rare in
    every part may be dropped from a sum where it would have made the ten."""

    seen: int = 0
    counts: dict[str, list[int]] = field(default_factory=dict)
    """Metric -> [good, fair, poor]."""
    unreachable: int = 0
    events: dict[str, int] = field(default_factory=dict)
    names: dict[str, dict[str, int]] = field(default_factory=dict)
    answers: int = 0
    sentiment_total: float = 0.0

    def __add__(self, other: HourTally) -> HourTally:
        counts = {m: list(c) for m, c in self.counts.items()}
        for metric, (g, f, p) in other.counts.items():
            mine = counts.setdefault(metric, [0, 0, 0])
            mine[0], mine[1], mine[2] = mine[0] + g, mine[1] + f, mine[2] + p
        events = dict(self.events)
        for cause, n in other.events.items():
            events[cause] = events.get(cause, 0) + n
        names = {cause: dict(per) for cause, per in self.names.items()}
        for cause, per in other.names.items():
            mine_names = names.setdefault(cause, {})
            for name, n in per.items():
                mine_names[name] = mine_names.get(name, 0) + n
            names[cause] = top_names(mine_names)
        return HourTally(
            self.seen + other.seen, counts, self.unreachable + other.unreachable, events, names,
            self.answers + other.answers, self.sentiment_total + other.sentiment_total,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "seen": self.seen, "counts": self.counts, "unreachable": self.unreachable,
            "events": self.events, "names": self.names, "answers": self.answers,
            "sentiment_total": self.sentiment_total,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HourTally:
        """A tally stored with :meth:`to_json`; a malformed one raises ValueError."""
        try:
            return cls(
                int(data["seen"]),
                {str(m): [int(x) for x in c] for m, c in data["counts"].items()},
                int(data["unreachable"]),
                {str(k): int(v) for k, v in data["events"].items()},
                {str(k): {str(n): int(c) for n, c in v.items()} for k, v in data["names"].items()},
                int(data["answers"]),
                float(data["sentiment_total"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a stored hour tally: {exc!r}") from exc


def score_hour(
    samples: Iterable[tuple[str, Mapping[str, Any]]], config: ScoringConfig
) -> HourScore:
    """Score one device-hour from its samples (any order); see the module docstring."""
    return finish(tally_samples(samples, config), config)


def finish(tally: HourTally, config: ScoringConfig) -> HourScore:
    """The score of a device-hour whose samples add up to ``tally``."""
    agg = aggregates(tally, config)
    score, components, losses = compose(agg, config.rules)
    return HourScore(score, components, losses, agg, config.fingerprint())


def score_tally(tally: HourTally, config: ScoringConfig) -> tuple[float | None, Aggregates]:
    """The score and aggregates of a device-hour whose samples add up to ``tally``, without
    the breakdown: what the scoring job stores every minute. The breakdown is the same
    arithmetic on the aggregates (``score_aggregates([aggregates])``) when someone asks."""
    agg = aggregates(tally, config)
    return compose(agg, config.rules, explain=False)[0], agg


def tally_hour(
    samples: Iterable[tuple[str, Mapping[str, Any]]], config: ScoringConfig
) -> Aggregates:
    """The aggregates of one device-hour: per-metric class counts, event counts and the
    reliability points they cost this hour, survey answers."""
    return aggregates(tally_samples(samples, config), config)


def tally_samples(
    samples: Iterable[tuple[str, Mapping[str, Any]]], config: ScoringConfig
) -> HourTally:
    """Classify and count ``samples`` (any part of one device-hour, any order)."""
    rules = config.rules
    b = rules.bands
    # The frequent kinds (system, wifi, probes) classify inline against these locals: a call
    # per comparison would cost about a third of the hour's time. Lower is better unless the
    # name says "higher" (see catalogue.HIGHER_IS_BETTER).
    cpu_g, cpu_p = b["cpu_percent"]
    queue_g, queue_p = b["cpu_queue_length"]
    stall_g, stall_p = b["memory_pressure_percent"]
    avail_g, avail_p = b["memory_available_percent"]  # higher
    dfree_g, dfree_p = b["disk_free_percent"]  # higher
    dgb_g, dgb_p = b["disk_free_gb"]  # higher
    rssi_g, rssi_p = b["rssi_dbm"]  # higher
    dns_g, dns_p = b["dns_ms"]
    conn_g, conn_p = b["connect_tls_ms"]
    ttfb_g, ttfb_p = b["ttfb_ms"]
    gw_g, gw_p = b["gateway_ms"]
    yes_no = rules.survey_yes_no

    cpu, memory, disk, wifi = [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]
    failures, dns, connect, ttfb, gateway = [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]
    boot, logon, battery = [0, 0, 0], [0, 0, 0], [0, 0, 0]
    events: dict[str, int] = {}
    names: dict[str, dict[str, int]] = {}
    answers, sentiment_total = 0, 0.0
    seen = unreachable = 0

    for kind, data in samples:
        seen += 1
        get = data.get
        if kind == "network_probe":
            status = get("status")
            if status == "unreachable":  # no route: counted (or not) once the hour is known
                unreachable += 1
                continue
            failures[0 if status == "ok" else 2] += 1
            conn = get("connect_ms")
            if get("method") == "gateway" or get("target") == "gateway":
                if conn is not None:
                    gateway[0 if conn <= gw_g else 2 if conn > gw_p else 1] += 1
                continue
            if (v := get("dns_ms")) is not None:
                dns[0 if v <= dns_g else 2 if v > dns_p else 1] += 1
            if conn is not None:
                conn += get("tls_ms") or 0.0
                connect[0 if conn <= conn_g else 2 if conn > conn_p else 1] += 1
            if (v := get("ttfb_ms")) is not None:
                ttfb[0 if v <= ttfb_g else 2 if v > ttfb_p else 1] += 1
        elif kind == "system":
            c = -1  # the worse of load and run queue
            if (v := get("cpu_percent")) is not None:
                c = 0 if v <= cpu_g else 2 if v > cpu_p else 1
            if (v := get("cpu_queue_length")) is not None:
                q = 0 if v <= queue_g else 2 if v > queue_p else 1
                c = q if q > c else c
            if c >= 0:
                cpu[c] += 1
            c = -1  # the worse of stalls and available memory
            if (v := get("memory_pressure_percent")) is not None:
                c = 0 if v <= stall_g else 2 if v > stall_p else 1
            v = get("memory_available_percent")
            if v is None and (used := get("memory_percent")) is not None:
                v = 100.0 - used
            if v is not None:
                q = 0 if v >= avail_g else 2 if v < avail_p else 1
                c = q if q > c else c
            if c >= 0:
                memory[c] += 1
            c = 3  # the better of free share and free gigabytes
            if (v := get("disk_free_percent")) is not None:
                c = 0 if v >= dfree_g else 2 if v < dfree_p else 1
            if (v := get("disk_free_gb")) is not None:
                q = 0 if v >= dgb_g else 2 if v < dgb_p else 1
                c = q if q < c else c
            if c < 3:
                disk[c] += 1
        elif kind == "wifi":
            if get("connected") is False:
                continue
            v = get("rssi_dbm")
            if v is None and (pct := get("signal_percent")) is not None:
                v = pct / 2.0 - 100.0
            if v is not None:
                wifi[0 if v >= rssi_g else 2 if v < rssi_p else 1] += 1
        elif kind in ("app_crash", "app_hang", "peripheral_failure"):
            events[kind] = events.get(kind, 0) + 1
            if kind == "peripheral_failure":
                name = data.get("name") or data.get("device_class") or "unnamed device"
            else:
                name = data.get("app_name") or "unnamed app"
            per = names.setdefault(kind, {})
            per[name] = per.get(name, 0) + 1
        elif kind == "wifi_event":
            cause = _WIFI_EVENTS.get(data.get("event", ""))
            if cause is not None:
                events[cause] = events.get(cause, 0) + 1
        elif kind == "boot":
            if (v := get("boot_duration_s")) is not None:
                boot[_lower(v, b["boot_duration_s"])] += 1
            if (v := get("logon_duration_s")) is not None:
                logon[_lower(v, b["logon_duration_s"])] += 1
        elif kind == "battery":
            if (v := get("health_percent")) is not None:
                battery[_higher(v, b["battery_health_percent"])] += 1
        elif kind == "survey_response":
            if data.get("status", "answered") != "answered" or data.get("anonymous"):
                continue
            rating = data.get("rating")
            if rating is not None:
                answers += 1
                sentiment_total += (rating - 1) * 25.0
            elif yes_no and (yn := data.get("yes_no")) is not None:
                answers += 1
                sentiment_total += 100.0 if yn else 0.0

    counted = {
        "cpu": cpu, "memory": memory, "disk_space": disk, "boot_time": boot,
        "logon_time": logon, "battery_health": battery, "wifi_signal": wifi,
        "probe_failures": failures, "dns_time": dns, "http_ttfb": ttfb,
        "gateway_latency": gateway, "connect_time": connect,
    }  # fmt: skip
    return HourTally(
        seen, {m: c for m, c in counted.items() if sum(c)}, unreachable, events,
        {cause: top_names(per) for cause, per in names.items()}, answers, sentiment_total,
    )  # fmt: skip


def aggregates(tally: HourTally, config: ScoringConfig) -> Aggregates:
    """A whole device-hour's aggregates from its tally (see :class:`HourTally`)."""
    if not tally.seen:
        return Aggregates()
    rules = config.rules
    counted = tally.counts
    if tally.unreachable:
        failures = counted.get("probe_failures", [0, 0, 0])
        if rules.unreachable == "failure" or (
            rules.unreachable == "failure_if_online" and failures[0]
        ):
            counted = {
                **counted,
                "probe_failures": [*failures[:2], failures[2] + tally.unreachable],
            }
    metrics = {m: Tally(*c) for m in METRICS if (c := counted.get(m)) and sum(c)}
    return Aggregates(
        1, metrics, _hour_events(tally.events, tally.names, config), tally.answers,
        tally.sentiment_total,
    )  # fmt: skip


def _hour_events(
    counts: dict[str, int], names: dict[str, dict[str, int]], config: ScoringConfig
) -> dict[str, EventTally]:
    """Reliability points per cause for one hour.

    The k-th event of a cause costs ``points x decay^(k-1)``, so a crash-looping app costs at
    most ``points / (1 - decay)`` an hour instead of zeroing the day. If the causes together
    exceed 100 points (the whole reliability component), each is scaled down in proportion, so
    the hour loses exactly 100 and the breakdown still adds up.
    """
    rules = config.rules
    decay = rules.event_decay
    raw: dict[str, float] = {}
    for cause in EVENTS:
        n = counts.get(cause, 0)
        if n:
            raw[cause] = rules.event_points[cause] * (1.0 - decay**n) / (1.0 - decay)
    total = sum(raw.values())
    scale = 100.0 / total if total > 100.0 else 1.0
    return {
        cause: EventTally(counts[cause], 1, points * scale, top_names(names.get(cause, {})))
        for cause, points in raw.items()
    }
