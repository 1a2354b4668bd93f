"""A collector database filled like a fleet's after a month, for the IT console benchmark.

    .venv/bin/python bench/console_data.py --database-url URL [--devices 10000] [--days 30]
        [--sample-devices 50] [--sample-every 5] [--outages 300] [--open-outages 5] [--seed 1]

or from Python (``bench`` on the path)::

    from console_data import populate

    result = populate("sqlite:////tmp/console.db", devices=10_000, days=30, seed=1)
    result.open_outages[0], result.sample_devices[0], result.counts

The database is migrated first (``dexpulse.collector.migrations.upgrade``) and must hold no
devices yet (so a shared database is never mixed with benchmark data). Every time is relative
to the real clock: the data ends *now*, as the collector serving it will read it.

What is written, all with SQLAlchemy Core executemany in chunks:

* ``devices``: ``devices`` laptops from the simulator's fleet model
  (``collector.simulator.fleet.build_fleet``: 12 sites, 10 departments, its hardware and OS
  build shares, hostnames such as ``BRU-LT-48213``), tags ``{site, department}``; about 5 %
  of the Windows laptops of engineering and IT are turned into Linux ones (the simulator only
  has Windows and macOS). Unique token hashes; most were seen in the last ten minutes, some
  hours or days ago.
* ``score_days``: one row per device per day for the last ``days`` UTC days (today
  included), made the way the scoring job makes them: per device-hour an
  :class:`~dexpulse.collector.scoring.hourly.HourTally` (good/fair/poor counts per metric,
  events with app names, the odd survey answer), scored with ``score_tally``, the day's hours
  summed with ``Aggregates.sum_json`` and rolled up with ``score_aggregates``; the document is
  ``PeriodScore.to_json()``. Working days have 7 to 11 hours, weekend days one to three. To
  keep generation fast, a pool of a few thousand such days is built per OS and each device
  draws its days from the part of the pool that matches its own (stable) quality.
* ``outages`` and ``outage_events``: ``outages`` outages over the period, ``open_outages``
  of them still live (open, ongoing, recovering), the rest resolved. Each is a real
  :class:`~dexpulse.collector.detection.lifecycle.Outage` serialised with the engine's
  ``outage_json`` (explanation, alternatives, suspects for version cohorts, a per-minute
  timeline); cohorts are the detector's (an access point, a site, a site's SSID, a probe
  target, an app version, a driver version, an OS build) and the affected devices are devices
  of that cohort. Events are those ``outages.store.transitions`` writes: opened, rescoped,
  recovering, ongoing (back from recovering), resolved, each with the outage as it was then.
* ``batches`` and ``samples``: raw telemetry for ``sample_devices`` devices only (default 50):
  a month of all 10,000 would be billions of rows. They come from the fleet simulator
  (``collector.simulator``) run over the whole period with uploads every ``sample_every``
  minutes, so nights, weekends, home days, Wi-Fi roams, crashes and boots are as it models
  them. Its per-minute readings (``system``, ``wifi``, ``network_probe``: CPU, Wi-Fi signal,
  DNS/connect/TLS/first-byte latency) are thinned to one every ``sample_every`` minutes;
  events (``wifi_event``, ``app_crash``, ``app_hang``, ``boot``, ``inventory``...) are all
  kept. Sample JSON is the simulator's wire format minus ``kind`` and ``ts``, as ingest
  stores it. Those devices' rows in ``devices`` are the simulator's own (same id, hostname,
  model, site), so samples and device agree. The simulation runs in a second process from
  the start, and its batches are stored as they come.
* ``score_hours`` and those devices' ``score_days``: the real scoring job
  (``collector.scores.job.ScoringJob``, every day due at once) run over those samples as they
  are stored (every 150,000 samples, and at the end until it has read them all), so a
  sampled device's hours and days are exactly what production would have stored for them.
  Its days exist only where it reported (a laptop asleep all weekend has no day), so
  ``score_days`` holds slightly fewer than ``devices x days`` rows.
* ``score_rollups``: every day rolled up per group (fleet, model, OS, OS build, app, each tag)
  by ``collector.scores.rollups.rebuild``, as the scoring job keeps them for the console's
  fleet page.

Generation time per step and the row counts are printed. On PostgreSQL the inserts are the
same executemany: psycopg's COPY was measured only ~13 % faster on ``score_days``, whose cost
is the server parsing each document into JSONB.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import multiprocessing
import random
import sys
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from multiprocessing.queues import Queue
from queue import Empty
from typing import Any, cast

import orjson
from sqlalchemy import Engine, Table, func, insert, select

from dexpulse.collector import migrations
from dexpulse.collector.db import chunks, make_engine, make_sessionmaker
from dexpulse.collector.detection.engine import from_minute, outage_json, to_minute
from dexpulse.collector.detection.lifecycle import Outage, Status, Timing
from dexpulse.collector.models import (
    Base,
    Device,
    IngestedBatch,
    OutageEvent,
    OutageRecord,
    SampleRow,
    ScoreDay,
)
from dexpulse.collector.scores import rollups
from dexpulse.collector.scores.job import ScoringJob
from dexpulse.collector.scoring import Aggregates, ScoringConfig, score_aggregates
from dexpulse.collector.scoring.hourly import HourTally, score_tally
from dexpulse.collector.simulator import catalog
from dexpulse.collector.simulator.engine import Simulation, SimulationConfig
from dexpulse.collector.simulator.fleet import Device as FleetDevice
from dexpulse.collector.simulator.fleet import Fleet, build_fleet
from dexpulse.collector.simulator.timefmt import iso_ms

SITES = len(catalog.SITES)  # 12
CHUNK = 5000
"""Rows per executemany."""
SCORE_EVERY = 150_000
"""Samples stored between runs of the scoring job while the simulation streams in."""
PERIODIC = frozenset({"system", "wifi", "network_probe"})
"""Kinds the agent samples on a clock (thinned to ``sample_every``); the others are events."""
DAY_POOL = 800
WEEKEND_POOL = 250
"""Distinct working and weekend days per OS from which device-days are drawn."""
LINUX_APPS = ("firefox", "thunderbird", "code", "slack", "libreoffice")
LINUX_BUILD = ("Ubuntu 24.04.1 LTS", "6.8.0-49-generic")
PROBE_TARGETS = tuple(p.target for p in catalog.PROBES)
GRACE = timedelta(minutes=2)
"""Detection judges a minute two minutes after it (``DetectionConfig.grace_minutes``)."""

Log = Callable[[str], None]
Row = dict[str, Any]


@dataclass
class Populated:
    """What :func:`populate` wrote: ids to build URLs with, row counts and timings."""

    now: datetime
    devices: list[uuid.UUID]
    sample_devices: list[uuid.UUID]
    """Devices with raw samples (and scoring-job hours), in the order of the simulator."""
    open_outages: list[str]
    """Ids of the live outages, most affected devices first."""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per step; ``total`` for the whole."""


def populate(
    engine_or_url: Engine | str,
    devices: int = 10_000,
    days: int = 30,
    seed: int = 1,
    *,
    sample_devices: int = 50,
    sample_every: int = 5,
    outages: int = 300,
    open_outages: int = 5,
    now: datetime | None = None,
    log: Log | None = print,
) -> Populated:
    """Migrate the database at ``engine_or_url`` and fill it (see the module docstring).

    ``now`` (default: the clock) is where the data ends; ``log`` gets one line per step
    (None: quiet). Deterministic for a given ``seed`` and ``now``, apart from the order in
    which the database hands out row ids."""
    if devices < 1 or days < 1:
        raise ValueError("devices and days must be at least 1")
    if not 0 <= sample_devices <= devices:
        raise ValueError("sample_devices must be between 0 and devices")
    if sample_every < 1 or 60 % sample_every:
        raise ValueError("sample_every must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15...)")
    if not 0 <= open_outages <= outages:
        raise ValueError("open_outages must be between 0 and outages")
    say: Log = log or (lambda _: None)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    clock = _Clock(say)
    try:
        migrations.upgrade(engine)
        with engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(Device)):
                raise ValueError(
                    "the database has devices already: populate an empty one "
                    "(benchmark data must not mix with real or test data)"
                )
        clock.lap("migrate")
        start = (now - timedelta(days=days)).replace(second=0, microsecond=0)
        feed = (
            SampleFeed(seed, sample_devices, start, to_minute(now) - to_minute(start),
                       sample_every, int(now.timestamp() * 1000))
            if sample_devices
            else None
        )  # fmt: skip
        try:
            result = _populate(
                engine, devices, days, seed, sample_devices, sample_every, outages,
                open_outages, now, start, feed, clock,
            )  # fmt: skip
        finally:
            if feed is not None:
                feed.close()
        result.counts = _counts(engine)
        result.seconds = clock.laps | {"total": clock.total()}
        say(f"generated in {result.seconds['total']:.1f} s: " + _counts_line(result.counts))
        return result
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()


class _Clock:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, step: str, detail: str = "") -> None:
        at = time.perf_counter()
        self.laps[step] = self.laps.get(step, 0.0) + at - self.last
        self.last = at
        self.log(f"  {step}: {self.laps[step]:.1f} s{' (' + detail + ')' if detail else ''}")

    def total(self) -> float:
        return time.perf_counter() - self.started


def _populate(
    engine: Engine,
    devices: int,
    days: int,
    seed: int,
    sample_devices: int,
    sample_every: int,
    outages: int,
    open_outages: int,
    now: datetime,
    start: datetime,
    feed: SampleFeed | None,
    clock: _Clock,
) -> Populated:
    rng = random.Random(f"{seed}:console-bench")
    config = ScoringConfig()
    fleet = build_fleet(random.Random(f"{seed}:console-fleet"), devices, SITES)
    sampled: list[FleetDevice] = []
    if sample_devices:  # the simulator's own devices, so that samples and rows agree
        sim_fleet = _simulation(seed, sample_devices, start, 1, sample_every).fleet
        sampled = sim_fleet.devices
    members = _merge(fleet, sampled)
    rows = _device_rows(members, len(sampled), rng, now, days)
    _insert(engine, Device, rows)
    ids = [cast(uuid.UUID, r["id"]) for r in rows]
    clock.lap("devices", f"{len(rows)} rows")

    first_day = now.date() - timedelta(days=days - 1)
    written = _score_days(engine, rows[len(sampled) :], config, rng, first_day, now, days)
    clock.lap("score_days", f"{written} rows")

    live = _outages(engine, fleet, members, rows, rng, now, start, outages, open_outages)
    clock.lap("outages", f"{outages} outages")

    if feed is not None:
        scorer = _Scorer(engine, config, now)
        stored = _samples(engine, ids[: len(sampled)], feed.batches(), rng, scorer)
        clock.lap("samples", f"{stored[0]} batches, {stored[1]} samples, scored meanwhile")
        scorer.finish()
        clock.lap("scoring job", f"{scorer.hours} hours, {scorer.days} days in all")
    with make_sessionmaker(engine).begin() as session:  # what the job keeps for the fleet page
        rolled = rollups.rebuild(session, first_day, now.date(), config.xla_target, now)
    clock.lap("score_rollups", f"{rolled} days")
    return Populated(now, ids, ids[: len(sampled)], live)


# -- devices ----------------------------------------------------------------------------------


def _merge(fleet: Fleet, sampled: Sequence[FleetDevice]) -> list[FleetDevice]:
    """The fleet with its first devices replaced by the simulator's (hostnames kept unique)."""
    members = [*sampled, *fleet.devices[len(sampled) :]]
    taken = {d.hostname for d in sampled}
    out = list(sampled)
    for d in members[len(sampled) :]:
        if d.hostname in taken:
            d = replace(d, hostname=f"{d.hostname}-{d.index}")
        taken.add(d.hostname)
        out.append(d)
    return out


def _device_rows(
    members: Sequence[FleetDevice], n_sampled: int, rng: random.Random, now: datetime, days: int
) -> list[Row]:
    rows: list[Row] = []
    for i, d in enumerate(members):
        os_name, os_version, os_build = d.os, d.os_version, d.os_build
        linux = (
            i >= n_sampled
            and d.os == "windows"
            and d.department in ("engineering", "it")
            and d.manufacturer in ("Dell Inc.", "LENOVO")
            and rng.random() < 0.3
        )
        if linux:
            os_name, (os_version, os_build) = "linux", LINUX_BUILD
        u = rng.random()
        seen = (
            timedelta(seconds=rng.uniform(5, 600))
            if u < 0.75
            else timedelta(hours=rng.uniform(1, 16))
            if u < 0.95
            else timedelta(days=rng.uniform(1, 5))
        )
        ident = uuid.UUID(d.device_id)
        rows.append({
            "id": ident,
            "token_hash": hashlib.sha256(b"console-bench:" + ident.bytes).hexdigest(),
            "hostname": d.hostname, "os": os_name, "os_version": os_version,
            "os_build": os_build, "model": d.model, "manufacturer": d.manufacturer,
            "agent_version": catalog.AGENT_VERSION, "tags": d.tags,
            "enrolled_at": now - timedelta(days=days + rng.uniform(1, 400)),
            "enrollment_secret_id": None, "last_seen_at": now - seen,
            "last_seq": rng.randrange(2_000, 60_000), "revoked_at": None,
        })  # fmt: skip
    return rows


# -- scores -----------------------------------------------------------------------------------


def _count(rng: random.Random, n: int, p: float) -> int:
    """About ``n`` draws of probability ``p`` (Poisson when rare, normal otherwise)."""
    if n <= 0 or p <= 0:
        return 0
    lam = n * p
    if lam < 12:
        k, limit, prod = 0, math.exp(-lam), rng.random()
        while prod > limit:
            k += 1
            prod *= rng.random()
        return min(n, k)
    return max(0, min(n, round(rng.gauss(lam, math.sqrt(lam * (1 - min(p, 0.99)))))))


def _classes(rng: random.Random, n: int, poor: float, fair: float) -> list[int]:
    bad = _count(rng, n, min(poor, 1.0))
    middling = _count(rng, n - bad, min(fair, 1.0))
    return [n - bad - middling, middling, bad]


@dataclass(frozen=True)
class _DayTraits:
    quality: float
    """0 (miserable) to 1 (flawless): how often readings are poor, events frequent."""
    os: str
    apps: tuple[str, ...]
    disk: int
    """The day's disk-space class (0 good, 1 fair, 2 poor): a disk does not fill by the hour."""
    battery: int
    wired: bool
    """Docked on cable all day: no Wi-Fi readings."""


def _hour_tally(
    rng: random.Random, t: _DayTraits, minutes: int, boot: bool, answer: bool
) -> HourTally:
    """One device-hour's tally, as ``tally_samples`` would make it from a minute-by-minute
    agent (system and gateway every minute, four probes a minute, battery every 15 minutes)."""
    bad = 1.0 - t.quality
    m = minutes
    probes = 4 * m
    failed = _count(rng, probes, 0.002 + 0.06 * bad**2)
    timed = probes - failed
    counts: dict[str, list[int]] = {
        "cpu": _classes(rng, m, 0.004 + 0.25 * bad**2, 0.02 + 0.2 * bad),
        "memory": _classes(rng, m, 0.002 + 0.3 * bad**2, 0.03 + 0.25 * bad),
        "disk_space": [m if t.disk == k else 0 for k in range(3)],
        "probe_failures": [probes - failed, 0, failed],
        "dns_time": _classes(rng, timed, 0.003 + 0.06 * bad, 0.02 + 0.12 * bad),
        "connect_time": _classes(rng, timed * 3 // 4, 0.002 + 0.05 * bad, 0.02 + 0.1 * bad),
        "http_ttfb": _classes(rng, timed * 3 // 4, 0.005 + 0.1 * bad, 0.04 + 0.2 * bad),
        "gateway_latency": _classes(rng, m, 0.002 + 0.04 * bad, 0.01 + 0.1 * bad),
    }
    if m >= 15:
        n = m // 15
        counts["battery_health"] = [n if t.battery == k else 0 for k in range(3)]
    if not t.wired:
        counts["wifi_signal"] = _classes(rng, m, 0.005 + 0.35 * bad**2, 0.03 + 0.3 * bad)
    if boot:
        counts["boot_time"] = _classes(rng, 1, 0.03 + 0.4 * bad, 0.15 + 0.4 * bad)
        if t.os == "windows":
            counts["logon_time"] = _classes(rng, 1, 0.03 + 0.4 * bad, 0.15 + 0.4 * bad)
    events: dict[str, int] = {}
    names: dict[str, dict[str, int]] = {}
    scale = m / 60
    rates = {
        "app_crash": 0.01 + 0.35 * bad**2,
        "app_hang": 0.02 + 0.4 * bad**2,
        "peripheral_failure": 0.004 + 0.06 * bad,
        "wifi_disconnect": 0.0 if t.wired else 0.03 + 0.6 * bad**2,
        "wifi_auth_failure": 0.0 if t.wired else 0.001 + 0.02 * bad,
    }
    for cause, rate in rates.items():
        k = _count(rng, 1_000, rate * scale / 1_000)
        if not k:
            continue
        events[cause] = k
        if cause in ("app_crash", "app_hang"):
            per = names.setdefault(cause, {})
            for _ in range(k):
                name = rng.choice(t.apps)
                per[name] = per.get(name, 0) + 1
        elif cause == "peripheral_failure":
            names[cause] = {rng.choice(("USB-C Dock", "Logitech MX Keys", "HP E24 G5")): k}
    answers, sentiment = 0, 0.0
    if answer:
        rating = max(1, min(5, round(1 + 4 * t.quality + rng.gauss(0, 0.8))))
        answers, sentiment = 1, (rating - 1) * 25.0
    counts = {metric: c for metric, c in counts.items() if sum(c)}  # as tally_samples keeps them
    seen = sum(sum(c) for c in counts.values()) + sum(events.values()) + answers
    return HourTally(seen, counts, 0, events, names, answers, sentiment)


def _day_document(
    rng: random.Random, t: _DayTraits, weekend: bool, config: ScoringConfig
) -> tuple[float | None, dict[str, Any]]:
    """A device-day as the scoring job stores it (``ScoringJob._score_days``)."""
    if weekend:
        hours = rng.randint(1, 3)
        first = rng.randint(8, 20)
    else:
        hours = rng.randint(7, 11)
        first = rng.randint(5, 10)
    stored: list[dict[str, Any]] = []
    for h in range(min(hours, 24 - first)):
        minutes = 60 if 0 < h < hours - 1 else rng.randint(10, 60)
        answer = rng.random() < 0.004
        tally = _hour_tally(rng, t, minutes, h == 0 and rng.random() < 0.8, answer)
        _, aggregates = score_tally(tally, config)
        stored.append(aggregates.to_json())
    period = score_aggregates([Aggregates.sum_json(stored)], config)
    return period.score, period.to_json()


def day_pool(
    rng: random.Random, os_name: str, config: ScoringConfig, size: int, weekend: bool
) -> list[tuple[float | None, dict[str, Any]]]:
    """``size`` device-days of one OS, from the worst to the best score."""
    apps = (
        LINUX_APPS
        if os_name == "linux"
        else tuple(dict.fromkeys(a.name for a in catalog.APPS[os_name]))
    )
    out = []
    for i in range(size):
        quality = min(1.0, max(0.0, (i + rng.random()) / size)) ** 1.5
        traits = _DayTraits(
            quality=quality,
            os=os_name,
            apps=apps,
            disk=0 if rng.random() < 0.85 else (1 if rng.random() < 0.6 else 2),
            battery=0 if rng.random() < 0.8 else (1 if rng.random() < 0.7 else 2),
            wired=rng.random() < 0.15,
        )
        out.append(_day_document(rng, traits, weekend, config))
    return sorted(out, key=lambda s: (s[0] is None, s[0] or 0.0))


def _score_days(
    engine: Engine,
    devices: Sequence[Row],
    config: ScoringConfig,
    rng: random.Random,
    first_day: date,
    now: datetime,
    days: int,
) -> int:
    """One stored day per device per day, drawn from the pools by each device's quality."""
    pools = {
        (os_name, weekend): day_pool(rng, os_name, config, WEEKEND_POOL if weekend else DAY_POOL,
                                     weekend)
        for os_name in ("windows", "macos", "linux")
        for weekend in (False, True)
    }  # fmt: skip
    fingerprint = config.fingerprint()
    table = cast(Table, ScoreDay.__table__)
    written = 0
    with engine.begin() as conn:
        batch: list[Row] = []
        for device in devices:
            level = rng.betavariate(2.6, 1.4)  # most laptops are fine; a tail is not
            for k in range(days):
                day = first_day + timedelta(days=k)
                pool = pools[(device["os"], day.weekday() >= 5)]
                at = level + rng.gauss(0.0, 0.06)
                score, document = pool[min(len(pool) - 1, max(0, int(at * len(pool))))]
                batch.append({
                    "device_id": device["id"], "day": day, "fingerprint": fingerprint,
                    "score": score, "document": document,
                    "updated_at": min(now, datetime(day.year, day.month, day.day, 23, 59,
                                                    tzinfo=UTC) + timedelta(minutes=5)),
                })  # fmt: skip
                if len(batch) >= CHUNK:
                    conn.execute(insert(table), batch)
                    written += len(batch)
                    batch = []
        if batch:
            conn.execute(insert(table), batch)
            written += len(batch)
    return written


# -- outages ----------------------------------------------------------------------------------


@dataclass
class _Cohort:
    signal: str
    cohort: tuple[tuple[str, str], ...]
    members: list[int]
    """Indexes of the devices in the cohort."""
    share: tuple[float, float]
    """Range of the share of the cohort that fails at the peak."""
    suspect: bool = False
    alternatives: tuple[tuple[tuple[str, str], ...], ...] = ()


def _cohorts(
    fleet: Fleet, members: Sequence[FleetDevice], rows: Sequence[Row]
) -> list[tuple[_Cohort, float]]:
    """Every cohort an outage is drawn from, with its weight."""
    by_site: dict[str, list[int]] = defaultdict(list)
    by_site_ssid: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_bssid: dict[str, list[int]] = defaultdict(list)
    by_app: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_driver: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_build: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(members):
        place = fleet.sites[d.site]
        by_site[d.site_name].append(i)
        by_site_ssid[(d.site_name, d.ssid)].append(i)
        bssids = place.bssids.get(d.ssid) or []
        if bssids:
            by_bssid[bssids[d.desk % len(bssids)].bssid].append(i)
        for installed in d.apps:
            by_app[(installed.name, installed.version)].append(i)
        for p in d.peripherals:
            if p.info.driver and p.driver_version:
                by_driver[(p.info.driver, p.driver_version)].append(i)
        by_build[str(rows[i]["os_build"])].append(i)
    out: list[tuple[_Cohort, float]] = []

    def add(c: _Cohort, weight: float) -> None:
        if len(c.members) >= 5:
            out.append((c, weight))

    for bssid, idx in by_bssid.items():
        add(_Cohort("wifi", (("bssid", bssid),), idx, (0.5, 1.0)), 30 / len(by_bssid))
        add(_Cohort("silence", (("bssid", bssid),), idx, (0.6, 1.0)), 6 / len(by_bssid))
    for site, idx in by_site.items():
        add(
            _Cohort(
                "wifi",
                (("site", site),),
                idx,
                (0.2, 0.7),
                alternatives=((("site", site), ("ssid", catalog.CORP_SSID)),),
            ),
            3 / SITES,
        )
        add(_Cohort("silence", (("site", site),), idx, (0.5, 0.95)), 4 / SITES)
        add(_Cohort("network_probe", (("site", site),), idx, (0.3, 0.9)), 8 / SITES)
        for target in PROBE_TARGETS:
            add(
                _Cohort(
                    "network_probe", (("probe_target", target), ("site", site)), idx, (0.4, 1.0)
                ),
                4 / SITES / len(PROBE_TARGETS),
            )
        add(_Cohort("app_crash", (("site", site),), idx, (0.05, 0.15)), 1 / SITES)
    for (site, ssid), idx in by_site_ssid.items():
        add(
            _Cohort("wifi", (("site", site), ("ssid", ssid)), idx, (0.3, 0.8)),
            3 / len(by_site_ssid),
        )
    everyone = list(range(len(members)))
    for target in PROBE_TARGETS:
        add(
            _Cohort("network_probe", (("probe_target", target),), everyone, (0.2, 0.9)),
            4 / len(PROBE_TARGETS),
        )
    for (app, version), idx in by_app.items():
        cohort = (("app_name", app), ("app_version", version))
        add(
            _Cohort(
                "app_crash",
                cohort,
                idx,
                (0.03, 0.2),
                suspect=True,
                alternatives=((("app_name", app),),),
            ),
            15 / len(by_app),
        )
        add(_Cohort("app_hang", cohort, idx, (0.03, 0.15), suspect=True), 8 / len(by_app))
    for (driver, version), idx in by_driver.items():
        add(
            _Cohort(
                "peripheral_failure",
                (("driver", driver), ("driver_version", version)),
                idx,
                (0.05, 0.3),
                suspect=True,
            ),
            7 / len(by_driver),
        )
    for build, idx in by_build.items():
        add(
            _Cohort("system", (("os_build", build),), idx, (0.05, 0.3), suspect=True),
            5 / len(by_build),
        )
    return out  # fmt: skip


def _outage(
    rng: random.Random,
    c: _Cohort,
    serial: int,
    ids: Sequence[str],
    start: int,
    live: Status | None,
    clock: int,
) -> tuple[Outage, list[tuple[str, int]]]:
    """One outage of cohort ``c`` starting at minute ``start`` (resolved unless ``live``),
    as the detector would describe it at ``clock``; and its events (name, minute)."""
    exposed_max = max(5, round(len(c.members) * rng.uniform(0.55, 0.85)))
    peak = rng.uniform(*c.share)
    if live is not None:
        last_alarm = clock - 2 if live != "recovering" else clock - rng.randint(8, 12)
    else:
        last_alarm = start + max(4, round(rng.lognormvariate(math.log(35), 0.9)))
        last_alarm = min(last_alarm, start + 12 * 60, clock - 30)
    detected = start + rng.randint(2, 5)
    detected = min(detected, last_alarm)
    quiet_from = last_alarm + 1
    outage = Outage(
        id=f"{c.signal}-{start}-{serial}", signal=c.signal, cohort=c.cohort,
        started_at=start, detected_at=detected + 2, last_alarm=last_alarm,
    )  # fmt: skip
    end = clock - 2 if live is not None else quiet_from + Timing().recovering_to_resolve - 1
    base = max(0.001, peak / 200)
    for m in range(start, end):
        exposed = max(1, round(exposed_max * rng.uniform(0.9, 1.0)))
        ramp = min(1.0, (m - start + 1) / 4)
        rate = peak * ramp * rng.uniform(0.8, 1.1) if m <= last_alarm else base
        failing = min(exposed, _count(rng, exposed, min(1.0, rate)))
        outage.timeline[m] = (failing, exposed)
        outage.exposed = max(outage.exposed, exposed)
    worst = max((f for f, _ in outage.timeline.values()), default=1)
    # devices that failed in some minute: more than failed in the worst one, never more than
    # were exposed (the page says "N of M exposed")
    reach = min(outage.exposed, max(worst, round(worst * rng.uniform(1.1, 1.6))))
    outage.affected = {ids[i] for i in rng.sample(c.members, reach)}
    f, e = outage.timeline.get(detected, (worst, outage.exposed))
    rr = rng.uniform(4, 60) if rng.random() < 0.9 else float("inf")
    outage.explanation = {
        "failing": f, "exposed": e, "rate": round(f / max(1, e), 4),
        "baseline_rate": round(base * rng.uniform(0.2, 1.0), 6),
        "relative_risk": None if rr == float("inf") else round(rr, 2),
        "explained_share": round(rng.uniform(0.6, 1.0), 3),
        "alternatives": [
            {"cohort": dict(a), "explained_share": round(rng.uniform(0.3, 0.6), 3),
             "relative_risk": round(rng.uniform(2, 8), 2)}
            for a in c.alternatives
        ],
    }  # fmt: skip
    if c.suspect:
        outage.suspects = [{
            "cohort": dict(c.cohort),
            "first_seen": from_minute(start - rng.randint(60, 2 * 24 * 60)).isoformat(),
        }]  # fmt: skip
    events: list[tuple[str, int]] = [("opened", outage.detected_at)]
    if rng.random() < 0.08:
        events.append(("rescoped", outage.detected_at + rng.randint(1, 10)))
    if live is None and rng.random() < 0.1 and last_alarm - start > 30:  # it flapped once
        dip = rng.randint(start + 10, last_alarm - 15)
        events += [("recovering", dip), ("ongoing", dip + rng.randint(5, 12))]
    if live is None:
        outage.status, outage.resolved_at = "resolved", quiet_from
        outage.closed_at = quiet_from + Timing().recovering_to_resolve - 1
        events += [("recovering", quiet_from), ("resolved", outage.closed_at)]
    else:
        outage.status = live
        if live == "recovering":
            outage.recovering_since = quiet_from
            events.append(("recovering", quiet_from))
    return outage, sorted(set(events), key=lambda e: e[1])


def _as_of(document: dict[str, Any], event: str, minute: int) -> dict[str, Any]:
    """The outage document as it was when ``event`` happened at ``minute``."""
    status = {"opened": "open", "resolved": "resolved", "recovering": "recovering"}.get(
        event, "ongoing"
    )
    cut = from_minute(minute).isoformat()
    return {
        **document,
        "status": status,
        "resolved_at": document["resolved_at"] if status == "resolved" else None,
        "timeline": [p for p in document["timeline"] if p["minute"] <= cut],
    }


def _outages(
    engine: Engine,
    fleet: Fleet,
    members: Sequence[FleetDevice],
    rows: Sequence[Row],
    rng: random.Random,
    now: datetime,
    start: datetime,
    count: int,
    live_count: int,
) -> list[str]:
    cohorts = _cohorts(fleet, members, rows)
    weights = [w for _, w in cohorts]
    ids = [str(r["id"]) for r in rows]
    clock = to_minute(now)
    first = to_minute(start)
    records: list[Row] = []
    events: list[Row] = []
    live: list[tuple[int, str]] = []
    ongoing: list[Status] = ["ongoing"] * max(0, live_count - 2)
    statuses: list[Status] = ["open", "recovering", *ongoing]
    for serial in range(1, count + 1):
        is_live = serial > count - live_count
        c = rng.choices(cohorts, weights)[0][0]
        if is_live and serial == count - live_count + 1:  # one wide outage at the largest site
            c = max((x for x, _ in cohorts if x.signal == "silence" and x.cohort[0][0] == "site"),
                    key=lambda x: len(x.members))  # fmt: skip
        status: Status | None = statuses[(count - serial) % len(statuses)] if is_live else None
        if status == "open":
            begin = clock - rng.randint(6, 9)
        elif status is not None:
            begin = clock - rng.randint(40, 9 * 60)
        else:
            begin = rng.randint(first, clock - 16 * 60)
        outage, happened = _outage(rng, c, serial, ids, begin, status, clock)
        document = outage_json(outage)
        updated = from_minute(happened[-1][1]) + GRACE + timedelta(seconds=rng.uniform(1, 50))
        if status is not None:
            updated = now - timedelta(seconds=rng.uniform(1, 50))
            live.append((len(outage.affected), outage.id))
        records.append({
            "id": outage.id, "status": outage.status, "signal": outage.signal,
            "cohort": dict(outage.cohort), "started_at": from_minute(outage.started_at),
            "detected_at": from_minute(outage.detected_at),
            "resolved_at": from_minute(outage.resolved_at) if outage.resolved_at else None,
            "affected_devices": len(outage.affected), "exposed_devices": outage.exposed,
            "document": document, "devices": {"affected": sorted(outage.affected)},
            "updated_at": updated,
        })  # fmt: skip
        for name, minute in happened:
            events.append({
                "outage_id": outage.id, "event": name, "minute": from_minute(minute),
                "at": from_minute(minute) + GRACE + timedelta(seconds=rng.uniform(1, 50)),
                "outage": _as_of(document, name, minute),
            })  # fmt: skip
    _insert(engine, OutageRecord, records, size=200)
    events.sort(key=lambda e: e["at"])  # ids in the order detection would have written them
    _insert(engine, OutageEvent, events, size=200)
    return [outage_id for _, outage_id in sorted(live, reverse=True)]


# -- samples ----------------------------------------------------------------------------------


def _simulation(seed: int, devices: int, start: datetime, minutes: int, every: int) -> Simulation:
    return Simulation(
        SimulationConfig(
            devices=devices, sites=SITES, seed=seed, start=start,
            duration=timedelta(minutes=max(1, minutes)), upload_every=every,
        )
    )  # fmt: skip


Batch = tuple[int, int, bytes]
"""A simulated batch: device index, sent at (epoch ms), samples as a JSON array."""


def simulate(
    seed: int, devices: int, start: datetime, minutes: int, every: int, until_ms: int
) -> Iterator[Batch]:
    """The simulator's batches over ``minutes`` from ``start`` with the clock-driven kinds
    thinned to one reading every ``every`` minutes (each device at its own offset); events
    kept. Batches left empty by the thinning or sent after ``until_ms`` are left out."""
    sim = _simulation(seed, devices, start, minutes, every)
    until = iso_ms(until_ms)  # the simulator's own format, so strings compare as times
    for batch in sim.batches():
        if batch.sent_ms > until_ms:
            continue
        offset = batch.device % every
        kept = [
            s
            for s in orjson.loads(batch.samples)
            if s["ts"] <= until
            and (s["kind"] not in PERIODIC or int(s["ts"][14:16]) % every == offset)
        ]
        if kept:
            yield batch.device, batch.sent_ms, orjson.dumps(kept)


def _simulate_into(queue: Queue[list[Batch] | str | None], *args: Any) -> None:
    """Worker process: :func:`simulate`'s batches onto ``queue`` in lists, then None (or the
    traceback of what went wrong)."""
    try:
        chunk: list[Batch] = []
        for batch in simulate(*args):
            chunk.append(batch)
            if len(chunk) >= 2_000:
                queue.put(chunk)
                chunk = []
        queue.put(chunk)
        queue.put(None)
    except BaseException:
        queue.put(traceback.format_exc())
        raise


class SampleFeed:
    """:func:`simulate` in a second process, started at once: the database is written while
    it runs, and its batches are stored as they come (the simulation is the slow part)."""

    def __init__(self, *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.queue: Queue[list[Batch] | str | None] = context.Queue()
        self.process = context.Process(target=_simulate_into, args=(self.queue, *args))
        self.process.start()

    def batches(self) -> Iterator[Batch]:
        while True:
            try:
                item = self.queue.get(timeout=5)
            except Empty:
                if not self.process.is_alive():
                    raise RuntimeError("the simulation process died") from None
                continue
            if item is None:
                return
            if isinstance(item, str):
                raise RuntimeError(f"the simulation failed:\n{item}")
            yield from item

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.queue.close()


def _samples(
    engine: Engine,
    devices: Sequence[uuid.UUID],
    batches: Iterable[Batch],
    rng: random.Random,
    scorer: _Scorer | None = None,
) -> tuple[int, int]:
    """Store the simulated batches as ingest does (batch row, then its samples), committed
    every few thousand samples; ``scorer`` runs now and then meanwhile, as it would live."""
    seq: dict[int, int] = defaultdict(int)
    last: dict[int, datetime] = {}
    n_batches = n_samples = scored = 0
    pending_batches: list[Row] = []
    pending: list[Row] = []
    for index, sent_ms, raw in batches:
        device = devices[index]
        seq[index] += 1
        sent = datetime.fromtimestamp(sent_ms / 1000, UTC)
        received = sent + timedelta(milliseconds=rng.uniform(15, 300))
        batch_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        samples = orjson.loads(raw)
        pending_batches.append({
            "batch_id": batch_id, "device_id": device, "seq": seq[index],
            "schema_version": 1, "sent_at": sent, "received_at": received,
            "clock_offset_s": 0.0, "sample_count": len(samples), "dropped_count": 0,
        })  # fmt: skip
        for s in samples:
            kind = s.pop("kind")
            ts = datetime.fromisoformat(s.pop("ts"))
            pending.append(
                {"device_id": device, "batch_id": batch_id, "kind": kind, "ts": ts, "data": s}
            )
        last[index] = received
        if len(pending) >= 4 * CHUNK:
            _store(engine, pending_batches, pending)
            n_batches, n_samples = n_batches + len(pending_batches), n_samples + len(pending)
            pending_batches, pending = [], []
            if scorer is not None and n_samples - scored >= SCORE_EVERY:
                scorer.run()
                scored = n_samples
    _store(engine, pending_batches, pending)
    n_batches, n_samples = n_batches + len(pending_batches), n_samples + len(pending)
    device_table = cast(Table, Device.__table__)
    with engine.begin() as conn:
        for index, at in last.items():
            conn.execute(
                device_table.update()
                .where(device_table.c.id == devices[index])
                .values(last_seen_at=at, last_seq=seq[index])
            )
    return n_batches, n_samples


def _store(engine: Engine, batches: Sequence[Row], samples: Sequence[Row]) -> None:
    if batches:
        with engine.begin() as conn:
            conn.execute(insert(cast(Table, IngestedBatch.__table__)), batches)
            conn.execute(insert(cast(Table, SampleRow.__table__)), samples)


class _Scorer:
    """The real scoring job over the stored samples, every stale day rescored in its run."""

    def __init__(self, engine: Engine, config: ScoringConfig, now: datetime) -> None:
        self.job = ScoringJob(make_sessionmaker(engine), config, day_slots=1)
        self.now = now
        self.hours = self.days = 0

    def run(self) -> int:
        """One run; the samples it read."""
        run = self.job.run(self.now)
        if run is None:
            raise RuntimeError("the scoring job is locked by another process")
        self.hours, self.days = self.hours + run.hours, self.days + run.days
        return run.samples

    def finish(self) -> None:
        while self.run():
            pass


# -- plumbing ---------------------------------------------------------------------------------


def _insert(engine: Engine, model: type[Base], rows: Sequence[Row], size: int = CHUNK) -> None:
    table = cast(Table, model.__table__)
    with engine.begin() as conn:
        for chunk in chunks(rows, size):
            conn.execute(insert(table), chunk)


TABLES = (
    "devices",
    "score_days",
    "score_hours",
    "score_rollups",
    "outages",
    "outage_events",
    "batches",
    "samples",
)


def _counts(engine: Engine) -> dict[str, int]:
    tables = Base.metadata.tables
    with engine.connect() as conn:
        return {
            name: int(conn.scalar(select(func.count()).select_from(tables[name])) or 0)
            for name in TABLES
        }


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL (migrated here)")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--sample-devices", type=int, default=50)
    parser.add_argument("--sample-every", type=int, default=5, help="minutes (divides 60)")
    parser.add_argument("--outages", type=int, default=300)
    parser.add_argument("--open-outages", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        populate(
            args.database_url, args.devices, args.days, args.seed,
            sample_devices=args.sample_devices, sample_every=args.sample_every,
            outages=args.outages, open_outages=args.open_outages,
        )  # fmt: skip
    except ValueError as exc:
        print(f"console_data: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
