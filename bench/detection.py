"""Outage detection against the fleet simulator: recall, precision, delay, lead over the first
ticket, localization, false alarms and CPU.

    .venv/bin/python bench/detection.py [--devices 300] [--days 2] [--outages 8] [--seeds 1 2]
                                        [--scale-devices 10000 --scale-minutes 30]

(``--seeds`` with no value runs the CPU scale check alone.)

Each seed simulates a fleet (``dexpulse simulate``'s engine, streamed, no file) with random
outages of every type and feeds its batches, in arrival order, through the detection core
the way the collector's detection job does: the clock follows each batch's ``sent_at``,
units are folded into their event-time minutes, arrivals feed the silence signal.

PRELIMINARY: this drives the pure core directly (features -> detector). The issue's
benchmark runs through replay, i.e. the collector's ingest path and database, which does not
exist yet; the figures here are the core's, not yet the product's.

Matching: a detected outage matches an injected one when it starts between 5 minutes before
the injection and 15 minutes after its end and shares devices with it (a third of the
detected outage's affected devices were affected by the injection) or names its cohort.
Unmatched detections are false alarms. Localization is right when the detected cohort's
pairs are all in the injected cohort and it names the injected cohort's key dimension(s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dexpulse.collector.detection.engine import Detector, from_minute
from dexpulse.collector.detection.features import Featurizer
from dexpulse.collector.detection.lifecycle import Outage
from dexpulse.collector.simulator.engine import Simulation, SimulationConfig

KEY_DIMS = {
    "ap_failure": {"bssid"},
    "site_wan_degradation": {"site"},
    "site_dns_failure": {"site"},
    "saas_outage": {"probe_target"},
    "bad_app_version": {"app_name", "app_version"},
    "bad_driver": {"driver", "driver_version"},
    "os_build_regression": {"os_build"},
    "wifi_degradation": {"site"},
}


@dataclass
class Run:
    truth: dict[str, Any]
    found: list[Outage]
    device_days: float
    cpu_s: float
    minutes: int


def simulate_and_detect(devices: int, days: float, outages: int, seed: int) -> Run:
    sim = Simulation(
        SimulationConfig(
            devices=devices, seed=seed, duration=timedelta(days=days), random_scenarios=outages
        )
    )
    found, cpu = feed(sim)
    return Run(sim.truth(), found, devices * days, cpu, int(days * 24 * 60))


def feed(sim: Simulation, phases: dict[str, float] | None = None) -> tuple[list[Outage], float]:
    """The simulation's batches through features and detector, the clock following sent_at;
    every outage reported and the CPU seconds spent in detection (split into ``phases``, if
    given: evaluating minutes, batches to units, folding units and arrivals in)."""
    featurizer, detector = Featurizer(), Detector()
    found: dict[str, Outage] = {}
    split = {"advance": 0.0, "features": 0.0, "add": 0.0}
    now: datetime | None = None
    for out in sim.batches():
        batch = json.loads(sim.line(out))
        started = time.process_time()
        now = datetime.fromisoformat(batch["sent_at"])
        found.update((o.id, o) for o in detector.advance(now))
        advanced = time.process_time()
        by_minute = featurizer.units(batch)
        featurized = time.process_time()
        for minute, units in by_minute.items():
            detector.add(minute, units)
        detector.arrived(batch["device_id"], featurizer.place(batch["device_id"]), now)
        done = time.process_time()
        split["advance"] += advanced - started
        split["features"] += featurized - advanced
        split["add"] += done - featurized
    if now is not None:
        found.update((o.id, o) for o in detector.advance(now))
    if phases is not None:
        phases.update(split)
    return list(found.values()), sum(split.values())


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def match(run: Run) -> tuple[list[tuple[dict[str, Any], Outage | None]], list[Outage]]:
    pairs: list[tuple[dict[str, Any], Outage | None]] = []
    used: set[str] = set()
    for truth in run.truth["outages"]:
        start, end = _time(truth["start"]), _time(truth["end"])
        affected = set(truth["affected_devices"])
        best: Outage | None = None
        for outage in run.found:
            began = from_minute(outage.started_at)
            if not start - timedelta(minutes=5) <= began <= end + timedelta(minutes=15):
                continue
            shared = len(outage.affected & affected) >= len(outage.affected) / 3
            if shared or dict(outage.cohort) == truth["cohort"]:
                if best is None or outage.detected_at < best.detected_at:
                    best = outage
        if best is not None:
            used.add(best.id)
        pairs.append((truth, best))
    # one injection may show as several outages (e.g. silence and Wi-Fi): those are not false
    for truth, _ in pairs:
        start, end = _time(truth["start"]), _time(truth["end"])
        for outage in run.found:
            began = from_minute(outage.started_at)
            if start - timedelta(minutes=5) <= began <= end + timedelta(minutes=15) and (
                len(outage.affected & set(truth["affected_devices"])) >= len(outage.affected) / 3
            ):
                used.add(outage.id)
    false = [o for o in run.found if o.id not in used]
    return pairs, false


def localized(truth: dict[str, Any], outage: Outage) -> bool:
    found = dict(outage.cohort)
    wanted = truth["cohort"]
    return all(wanted.get(k) == v for k, v in found.items()) and KEY_DIMS.get(
        truth["type"], set(wanted)
    ) <= set(found)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(runs: list[Run]) -> None:
    pairs: list[tuple[dict[str, Any], Outage | None]] = []
    false: list[Outage] = []
    for run in runs:
        p, f = match(run)
        pairs += p
        false += f
    hard = [(t, o) for t, o in pairs if t["exposed_devices"] >= 10
            and len(t["affected_devices"]) >= 0.5 * t["exposed_devices"]]  # fmt: skip
    found = [(t, o) for t, o in pairs if o is not None]
    delays = [
        (from_minute(o.detected_at) - _time(t["start"])).total_seconds() / 60 for t, o in found
    ]
    ticketed = [(t, o) for t, o in found if t.get("first_ticket_at")]
    before = [
        (_time(t["first_ticket_at"]) - from_minute(o.detected_at)).total_seconds() / 60
        for t, o in ticketed
    ]
    device_days = sum(r.device_days for r in runs)
    detections = len(found) + len(false)
    print(f"injected outages: {len(pairs)} ({len(hard)} hard: >= 50 % of >= 10 devices)")
    print(f"recall, all: {len(found) / max(1, len(pairs)):.1%}; hard: "
          f"{sum(1 for _, o in hard if o) / max(1, len(hard)):.1%}")  # fmt: skip
    print(f"precision: {len(found) / max(1, detections):.1%} ({len(false)} false alarms)")
    print(f"delay from onset: median {statistics.median(delays) if delays else float('nan'):.1f}"
          f" min, p95 {pct(delays, 0.95):.1f} min")  # fmt: skip
    lead = statistics.median(before) if before else float("nan")
    early = sum(1 for b in before if b > 0)
    print(f"flagged before the first ticket: {early}/{len(before)}, median lead {lead:.1f} min")
    print(f"top-1 localization: {sum(1 for t, o in found if o and localized(t, o))}/{len(found)}")
    print(f"false alarms per 1,000 device-days: {1000 * len(false) / max(1, device_days):.2f} "
          f"({device_days:.0f} device-days)")  # fmt: skip
    cpu = sum(r.cpu_s for r in runs)
    minutes = sum(r.minutes for r in runs)
    print(f"detection CPU: {cpu:.0f} s for {minutes} simulated minutes "
          f"({1000 * cpu / max(1, minutes):.0f} ms per minute)")  # fmt: skip
    for truth, outage in pairs:
        if outage is None:
            got = "MISSED"
        else:
            delay = (from_minute(outage.detected_at) - _time(truth["start"])).total_seconds() / 60
            got = f"{dict(outage.cohort)} +{delay:.0f} min"
        print(f"  {truth['type']:<22} {truth['cohort']} -> {got}")
    for outage in false:
        print(f"  FALSE {outage.signal} {dict(outage.cohort)} at {from_minute(outage.started_at)}")


def scale(devices: int, minutes: int) -> None:
    """Detection CPU per simulated minute at fleet size, office hours, no outage."""
    start = datetime.fromisoformat("2026-11-24T09:00:00+00:00")
    config = SimulationConfig(
        devices=devices, seed=5, start=start, duration=timedelta(minutes=minutes), always_on=True
    )
    phases: dict[str, float] = {}
    _, cpu = feed(Simulation(config), phases)
    print(f"{devices} devices, {minutes} min awake: detection CPU {cpu / minutes:.2f} s per "
          "simulated minute (features + detector)")  # fmt: skip
    print("  " + ", ".join(f"{name} {seconds / minutes:.2f} s" for name, seconds in phases.items())
          + " (evaluating minutes; batches to units; units and arrivals in)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--days", type=float, default=2)
    parser.add_argument("--outages", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2], help="none: skip")
    parser.add_argument("--scale-devices", type=int, default=0)
    parser.add_argument("--scale-minutes", type=int, default=30)
    args = parser.parse_args()
    if args.seeds:
        report([simulate_and_detect(args.devices, args.days, args.outages, s) for s in args.seeds])
    if args.scale_devices:
        scale(args.scale_devices, args.scale_minutes)


if __name__ == "__main__":
    main()
