"""``dexpulse simulate``: a simulated fleet's batches to a file or live to a collector.

Only argparse is imported at module level (the top-level ``dexpulse`` parser registers this
command on every laptop); the simulator is imported when the command runs. Examples::

    dexpulse simulate --devices 1000 --sites 8 --duration 1d --seed 7 \\
        --scenario ap_failure:at=3h30m,duration=20m,intensity=0.9 --random-scenarios 3 \\
        --output batches.jsonl.gz --truth truth.json

    dexpulse simulate --devices 300 --duration 2h --always-on --speed 60 \\
        --scenario saas_outage:at=10m,duration=30m \\
        --post http://127.0.0.1:8470 --enrollment-secret dxe_...
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError("give a whole number from 1 to 1000000")
    return value


def _count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError("give a whole number from 0 to 10000")
    return value


def _speed(text: str) -> float:
    value = float(text)
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(
            "give a speed above 0 (60 = a simulated minute per second)"
        )
    return value


def cmd_simulate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from .engine import Simulation, SimulationConfig
    from .output import open_output, write_batches, write_truth
    from .scenarios import ScenarioError, parse_spec
    from .timefmt import DEFAULT_START, parse_duration, parse_utc

    if bool(args.output) == bool(args.post):
        sys.stderr.write("dexpulse simulate: give either --output FILE or --post URL\n")
        return 2
    secret = args.enrollment_secret or os.environ.get("DEXPULSE_ENROLLMENT_SECRET")
    if args.post and not secret:
        sys.stderr.write("dexpulse simulate: --post needs --enrollment-secret\n")
        return 2
    try:
        duration = parse_duration(args.duration)
        every = parse_duration(args.upload_interval)
        if duration < timedelta(minutes=1) or every < timedelta(minutes=1):
            raise ValueError("--duration and --upload-interval must be at least 1 minute")
        if args.start:
            start = parse_utc(args.start)
        elif args.post:  # the simulated timeline ends now, never ahead of the real clock
            start = datetime.now(UTC) - duration * (1 - 1 / args.speed)
        else:
            start = DEFAULT_START
        start = start.replace(second=0, microsecond=0)
        specs = tuple(parse_spec(text) for text in args.scenario)
        sim = Simulation(
            SimulationConfig(
                devices=args.devices,
                sites=args.sites,
                seed=args.seed,
                start=start,
                duration=duration,
                scenarios=specs,
                random_scenarios=args.random_scenarios,
                upload_every=max(1, round(every.total_seconds() / 60)),
                always_on=args.always_on,
            )
        )
    except (ValueError, ScenarioError) as exc:
        sys.stderr.write(f"dexpulse simulate: {exc}\n")
        return 2
    ids: dict[str, str] = {}
    if args.post:
        from .live import LivePoster

        poster = LivePoster(args.post, secret or "", speed=args.speed, concurrency=args.concurrency)
        ids = poster.run(sim)
        s = poster.stats
        sys.stderr.write(
            f"posted {s.posted} batches of {s.enrolled} devices to {args.post} "
            f"({s.retries} retries, {s.rejected} rejected, {s.failed} gave up"
            + (f": {s.errors}" if s.errors else "")
            + ")\n"
        )
    else:
        with open_output(Path(args.output)) as out:
            write_batches(sim, out)
    if args.truth:
        write_truth(Path(args.truth), sim.truth(ids))
    st = sim.stats
    sys.stderr.write(
        f"simulated {len(sim.fleet.devices)} devices at {len(sim.fleet.sites)} sites "
        f"from {sim.start.isoformat()} to {sim.end.isoformat()}: {st.batches} batches, "
        f"{st.samples} samples, {st.late_batches} late; {len(sim.scenarios)} outages, "
        f"{len(sim.tickets)} tickets\n"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a fleet with injected outages (JSONL + truth, or live to a collector)",
        description="Generate a seeded, reproducible fleet's wire-format batches with injected "
        "outages and helpdesk tickets. The model is documented in docs/simulator.md.",
        epilog="Scenario types: ap_failure, site_wan_degradation (cut=true for a cut), "
        "site_dns_failure, saas_outage, bad_app_version, bad_driver, os_build_regression, "
        "wifi_degradation. Example: --scenario ap_failure:at=30m,duration=20m,intensity=0.9",
    )
    p.add_argument("--devices", type=_positive, default=200, help="laptops (default 200)")
    p.add_argument("--sites", type=_positive, default=5, help="sites (default 5)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument(
        "--start",
        help="UTC ISO start (default 2026-11-23T06:00Z, a Monday; in live mode the run ends now)",
    )
    p.add_argument("--duration", default="1d", help="e.g. 2h, 7d (default 1d)")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="TYPE[:key=value,...]",
        help="inject an outage; repeatable (keys: at, duration, intensity, ramp, target, ...)",
    )
    p.add_argument(
        "--random-scenarios",
        type=_count,
        default=0,
        metavar="K",
        help="also inject K outages of random types, targets and times",
    )
    p.add_argument("--upload-interval", default="1m", help="minutes between uploads (default 1m)")
    p.add_argument(
        "--always-on",
        action="store_true",
        help="every laptop awake at its desk all the time (demos)",
    )
    p.add_argument("--output", metavar="FILE", help="write batches as JSONL (.gz: compressed)")
    p.add_argument("--truth", metavar="FILE", help="write the ground truth as JSON")
    p.add_argument("--post", metavar="URL", help="post live to this collector")
    p.add_argument(
        "--enrollment-secret",
        metavar="SECRET",
        help="to enroll the devices (or DEXPULSE_ENROLLMENT_SECRET)",
    )
    p.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="live mode: simulated seconds per real second (default 1)",
    )
    p.add_argument(
        "--concurrency",
        type=_positive,
        default=8,
        help="live mode: requests in flight at most (default 8)",
    )
    p.set_defaults(func=cmd_simulate)
