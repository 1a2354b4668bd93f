"""Outage detection, measured the way the product runs it: simulated fleets replayed through
the collector's ingest path and detection job.

    .venv/bin/python bench/detection.py [--runs 12] [--overlap-runs 4] [--quiet-days 5]
                                        [--devices 200] [--workers 2]
                                        [--scale-devices 10000 --scale-minutes 12]
                                        [--save outcomes.json]
    .venv/bin/python bench/detection.py --rescore outcomes.json

(``--runs 0 --overlap-runs 0 --quiet-days 0`` runs the CPU scale check alone;
``--scale-devices 0`` skips it.)

What runs, each in its own fresh SQLite database, ``--workers`` at a time:

* ``--runs`` seeded days (a Monday) of a fleet of 100, 200 or 400 devices at 3, 5 or 8 sites
  (by seed), each with four random outages of random types (any of the eight, overlapping
  when their times do) placed in office hours;
* ``--overlap-runs`` days with two outages of different types starting together;
* a quiet fleet for ``--quiet-days`` days from a Monday,
  where every detection is a false alarm (nights included; a weekend from the sixth
  day);
* the scale check: ``--scale-devices`` devices all awake for ``--scale-minutes`` minutes,
  replayed with the job run every minute; the figure is the job's CPU time per run (reading
  the new rows, features, detector, writing outages), i.e. the detection work per minute.

Each simulated day is written as JSON Lines and fed to :func:`replay` (what
``dexpulse collector replay`` does); the job's CPU is measured around each run.

Matching: a detected outage matches an injected one when it starts between 5 minutes before
the injection and 15 minutes after its end and a third of its affected devices were affected
by the injection, or it names the injected cohort. An injection may show as several outages
(the Wi-Fi drop and the silence of an access point); those are not false alarms. The rest are.
Localization is scored twice, as the research notes' targets are: the top-1 cause is right when
the detected cohort holds the injection's key dimension(s) with the injected values (the app
and version, the driver and version, the BSSID...); the exact cohort when, besides, it holds
nothing else. Delay is from the true onset to ``detected_at``, reported for hard outages (>= 50
% of a cohort of >= 10 devices), partial ones (>= 20 %) and all; the lead is from
``detected_at`` to the first simulated helpdesk ticket.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dexpulse.collector import migrations
from dexpulse.collector.db import make_engine, make_sessionmaker
from dexpulse.collector.models import OutageRecord
from dexpulse.collector.outages.job import DetectionJob, RunResult
from dexpulse.collector.outages.replay import replay
from dexpulse.collector.simulator.catalog import DOCKS, EXTRAS
from dexpulse.collector.simulator.engine import Simulation, SimulationConfig
from dexpulse.collector.simulator.scenarios import parse_spec
from dexpulse.collector.simulator.timefmt import DEFAULT_START
from dexpulse.collector.timeline import TimePolicy

KEY_DIMS = {
    "ap_failure": {"bssid"},
    "site_wan_degradation": {"site"},
    "site_dns_failure": {"site"},
    "saas_outage": {"probe_target"},
    "bad_app_version": {"app_name", "app_version"},
    "bad_driver": {"driver", "driver_version"},
    "os_build_regression": {"os_build"},
}
"""The dimensions that name each kind of cause; a kind not listed (a Wi-Fi degradation, aimed
at a site or at one access point) is named by its injected cohort's dimensions."""
PAIRS = [
    ("ap_failure", "bad_app_version"),
    ("site_wan_degradation", "saas_outage"),
    ("bad_driver", "os_build_regression"),
    ("site_dns_failure", "wifi_degradation"),
]
SIZES = [(100, 3), (200, 5), (400, 8)]
MODEL_OF = {
    f"{info.vendor_id}:{info.product_id}": info.name
    for info in [*DOCKS.values(), *(i for extras in EXTRAS.values() for i, _ in extras)]
}
"""Detection names a peripheral by its USB ids, the simulator's truth by its model name."""


@dataclass
class Plan:
    name: str
    devices: int
    sites: int
    seed: int
    days: float
    random_scenarios: int = 0
    scenarios: tuple[str, ...] = ()
    always_on: bool = False
    every_minutes: int = 60


@dataclass
class Outcome:
    plan: Plan
    truth: list[dict[str, Any]]
    found: list[dict[str, Any]]
    device_days: float
    job_cpu_s: float
    job_runs: int
    batches: int
    wall_s: float
    per_run_cpu: list[float] = field(default_factory=list)


class TimedJob(DetectionJob):
    """The detection job, its CPU time measured run by run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cpu: list[float] = []

    def run(self, now: datetime) -> RunResult | None:
        started = time.process_time()
        try:
            return super().run(now)
        finally:
            self.cpu.append(time.process_time() - started)


def execute(plan: Plan) -> Outcome:
    started = time.monotonic()
    specs = tuple(parse_spec(s) for s in plan.scenarios)
    sim = Simulation(
        SimulationConfig(
            devices=plan.devices, sites=plan.sites, seed=plan.seed, start=DEFAULT_START,
            duration=timedelta(days=plan.days), scenarios=specs,
            random_scenarios=plan.random_scenarios, always_on=plan.always_on,
        )
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="dexpulse-bench-") as scratch:
        path = Path(scratch) / "batches.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for batch in sim.batches():
                out.write(sim.line(batch) + "\n")
        truth = sim.truth()
        engine = make_engine(f"sqlite:///{Path(scratch) / 'replay.db'}")
        try:
            migrations.upgrade(engine)
            sessions = make_sessionmaker(engine)
            job = TimedJob(sessions, holder="bench", snapshot_every=None)
            every = timedelta(minutes=plan.every_minutes)
            result = replay(path, sessions, job, TimePolicy(), every)
            with sessions() as session:
                rows = session.scalars(
                    select(OutageRecord).where(OutageRecord.id.in_(result.outage_ids))
                ).all()
                found = [{**r.document, "affected": r.devices["affected"]} for r in rows]
        finally:
            engine.dispose()
    return Outcome(
        plan, truth["outages"], found, plan.devices * plan.days, sum(job.cpu), len(job.cpu),
        result.batches, time.monotonic() - started, job.cpu,
    )  # fmt: skip


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _near(truth: dict[str, Any], outage: dict[str, Any]) -> bool:
    start, end = _time(truth["start"]), _time(truth["end"])
    began = _time(outage["started_at"])
    return start - timedelta(minutes=5) <= began <= end + timedelta(minutes=15)


def _shares(truth: dict[str, Any], outage: dict[str, Any]) -> bool:
    affected = set(outage["affected"])
    return len(affected & set(truth["affected_devices"])) >= len(affected) / 3


def match(
    outcome: Outcome,
) -> tuple[list[tuple[dict[str, Any], dict[str, Any] | None]], list[dict[str, Any]]]:
    """Each detected outage is credited to the one injection it explains best (the one whose
    cause it names, else the one it shares most devices with); each injection's match is the
    earliest of its credited outages. The rest are false alarms."""
    credited: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(outcome.truth))}
    false: list[dict[str, Any]] = []
    for outage in outcome.found:
        fits = [
            (
                cause_named(truth, outage),
                len(set(outage["affected"]) & set(truth["affected_devices"])),
                -i,
            )
            for i, truth in enumerate(outcome.truth)
            if _near(truth, outage)
            and (_shares(truth, outage) or outage["cohort"] == truth["cohort"])
        ]
        if fits:
            credited[-max(fits)[2]].append(outage)
        else:
            false.append(outage)
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for i, truth in enumerate(outcome.truth):
        mine = credited[i]
        pairs.append((truth, min(mine, key=lambda o: o["detected_at"]) if mine else None))
    return pairs, false


def _key_dims(truth: dict[str, Any]) -> set[str]:
    return KEY_DIMS.get(truth["type"], set(truth["cohort"]))


def cause_named(truth: dict[str, Any], outage: dict[str, Any]) -> bool:
    """Top-1 dimension right: the detected cohort names the injected cause (its key dimensions
    with the injected values), maybe with a dimension more (the app version on one OS build)."""
    found, wanted = outage["cohort"], truth["cohort"]
    return all(found.get(k) == wanted.get(k) for k in _key_dims(truth))


def localized(truth: dict[str, Any], outage: dict[str, Any]) -> bool:
    """The exact combination: nothing but the injected cohort's pairs, its key ones included
    (a peripheral named by its USB ids is the model of that name)."""
    found = {
        ("peripheral_model", MODEL_OF.get(v, v)) if k == "peripheral" else (k, v)
        for k, v in outage["cohort"].items()
    }
    wanted = truth["cohort"]
    return all(wanted.get(k) == v for k, v in found) and cause_named(truth, outage)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def minutes_between(a: str, b: str) -> float:
    return (_time(b) - _time(a)).total_seconds() / 60


def report(outcomes: list[Outcome]) -> None:
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    false: list[tuple[Outcome, dict[str, Any]]] = []
    for outcome in outcomes:
        p, f = match(outcome)
        pairs += p
        false += [(outcome, o) for o in f]

    def share(t: dict[str, Any]) -> float:
        return float(len(t["affected_devices"]) / max(1, t["exposed_devices"]))

    hard = [(t, o) for t, o in pairs if t["exposed_devices"] >= 10 and share(t) >= 0.5]
    partial = [(t, o) for t, o in pairs if 0.2 <= share(t) and (t, o) not in hard]
    found = [(t, o) for t, o in pairs if o is not None]

    def ramped(pair: tuple[dict[str, Any], dict[str, Any] | None]) -> bool:
        """A Wi-Fi degradation grows from nothing over half its length: no minute-one step."""
        return bool(pair[0]["type"] == "wifi_degradation")

    def delays(group: Sequence[tuple[dict[str, Any], dict[str, Any] | None]]) -> str:
        got = [minutes_between(t["start"], o["detected_at"]) for t, o in group if o is not None]
        return f"{median(got):.1f} / {pct(got, 0.95):.1f} min ({len(got)})"

    ticketed = [(t, o) for t, o in found if t.get("first_ticket_at")]
    leads = [minutes_between(o["detected_at"], t["first_ticket_at"]) for t, o in ticketed]
    tickets_total = sum(1 for t, _ in pairs if t.get("first_ticket_at"))
    device_days = sum(o.device_days for o in outcomes)
    detections = len(found) + len(false)
    named = sum(1 for t, o in found if o is not None and cause_named(t, o))
    exact = sum(1 for t, o in found if o is not None and localized(t, o))
    rows = [
        ("injected outages", f"{len(pairs)} ({len(hard)} hard: >= 50 % of a cohort of >= 10; "
                             f"{len(partial)} partial: the others >= 20 %)"),
        ("recall, hard outages", f"{sum(1 for _, o in hard if o) / max(1, len(hard)):.1%}"),
        ("recall, partial outages",
         f"{sum(1 for _, o in partial if o) / max(1, len(partial)):.1%}"),
        ("recall, all outages", f"{len(found) / max(1, len(pairs)):.1%}"),
        ("precision", f"{len(found) / max(1, detections):.1%} ({len(false)} false alarms)"),
        ("delay from onset, hard: median / p95", delays(hard)),
        ("  hard, ramped Wi-Fi degradations apart", delays([p for p in hard if not ramped(p)])),
        ("  ramped Wi-Fi degradations (any size)", delays([p for p in pairs if ramped(p)])),
        ("delay from onset, partial: median / p95", delays(partial)),
        ("delay from onset, all: median / p95", delays(found)),
        ("flagged before the first ticket",
         f"{sum(1 for x in leads if x > 0)}/{tickets_total} "
         f"({sum(1 for x in leads if x > 0) / max(1, tickets_total):.1%}), median lead "
         f"{median(leads):.1f} min"),
        ("top-1 cause (dimension and value)",
         f"{named}/{len(found)} ({named / max(1, len(found)):.1%})"),
        ("exact cohort", f"{exact}/{len(found)} ({exact / max(1, len(found)):.1%})"),
        ("false alarms per 1,000 device-days",
         f"{1000 * len(false) / max(1, device_days):.2f} ({device_days:.0f} device-days)"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print()
    for truth, outage in pairs:
        if outage is None:
            got = "MISSED"
        else:
            delay = minutes_between(truth["start"], outage["detected_at"])
            got = f"{outage['signal']} {outage['cohort']} +{delay:.0f} min"
        size = f"{len(truth['affected_devices'])}/{truth['exposed_devices']}"
        print(f"  {truth['type']:<22} {size:>7} {truth['cohort']} -> {got}")
    for outcome, outage in false:
        print(f"  FALSE ({outcome.plan.name}) {outage['signal']} {outage['cohort']} "
              f"at {outage['started_at']}, {outage['affected_devices']} devices")  # fmt: skip


def plans(args: argparse.Namespace) -> list[Plan]:
    out: list[Plan] = []
    for seed in range(1, args.runs + 1):
        devices, sites = SIZES[seed % len(SIZES)]
        devices = args.devices or devices
        out.append(Plan(f"random-{seed}", devices, sites, seed, 1.0, random_scenarios=4))
    for i in range(args.overlap_runs):
        a, b = PAIRS[i % len(PAIRS)]
        at = f"{4 + i % 5}h"
        specs = (f"{a}:at={at},duration=40m", f"{b}:at={at},duration=40m")
        out.append(Plan(f"overlap-{i + 1}", args.devices or 200, 5, 100 + i, 1.0, scenarios=specs))
    if args.quiet_days:
        out.append(Plan("quiet", args.devices or 200, 5, 999, args.quiet_days))
    return out


def scale(devices: int, minutes: int) -> None:
    plan = Plan("scale", devices, 8, 5, minutes / 1440, always_on=True, every_minutes=1)
    outcome = execute(plan)
    runs = sorted(outcome.per_run_cpu[5:]) or sorted(outcome.per_run_cpu)
    print(f"scale: {devices} devices awake for {minutes} min, {outcome.batches} batches; "
          f"detection job CPU per minute run: median {statistics.median(runs):.2f} s, "
          f"max {max(runs):.2f} s")  # fmt: skip


def save(outcomes: list[Outcome], path: Path) -> None:
    """What the report is computed from, so it can be scored again without replaying."""
    rows = [{"plan": o.plan.__dict__, "truth": o.truth, "found": o.found,
             "device_days": o.device_days} for o in outcomes]  # fmt: skip
    path.write_text(json.dumps(rows), encoding="utf-8")


def load(path: Path) -> list[Outcome]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        Outcome(Plan(**{**r["plan"], "scenarios": tuple(r["plan"]["scenarios"])}),
                r["truth"], r["found"], r["device_days"], 0.0, 0, 0, 0.0)
        for r in rows
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--overlap-runs", type=int, default=4)
    parser.add_argument("--quiet-days", type=float, default=5)
    parser.add_argument(
        "--devices", type=int, default=0, help="fleet size of every run (0: 100/200/400 by seed)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale-devices", type=int, default=10000)
    parser.add_argument("--scale-minutes", type=int, default=12)
    parser.add_argument("--save", type=Path, help="write the outcomes (truth, detections) here")
    parser.add_argument("--rescore", type=Path, help="report on outcomes saved by --save instead")
    args = parser.parse_args()
    if args.rescore:
        report(load(args.rescore))
        return
    todo = plans(args)
    if todo:
        started = time.monotonic()
        with ProcessPoolExecutor(args.workers) as pool:
            outcomes = []
            futures = {
                pool.submit(execute, plan): plan
                for plan in sorted(todo, key=lambda p: -p.devices * p.days)
            }
            for future in as_completed(futures):
                plan = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # one broken plan must not lose the others
                    print(f"  FAILED {plan.name}: {exc}", file=sys.stderr)
                    continue
                outcomes.append(outcome)
                print(f"  done {plan.name}: {outcome.batches} batches in "
                      f"{outcome.wall_s:.0f} s", file=sys.stderr)  # fmt: skip
        print(f"{len(todo)} replays in {time.monotonic() - started:.0f} s\n")
        if args.save:
            save(outcomes, args.save)
        report(outcomes)
    if args.scale_devices:
        scale(args.scale_devices, args.scale_minutes)


if __name__ == "__main__":
    main()
