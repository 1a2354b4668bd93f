"""The experience score at fleet scale: a full day's recompute and the scoring job's runs.

    .venv/bin/python bench/scoring.py [--devices 10000] [--workers 2]
                                      [--job-devices 10000] [--job-minutes 4]
                                      [--job-hour 23] [--database-url URL]

1. **A full day's recompute** for ``--devices`` devices at 60 s samples: each device-hour's
   samples (60 system, 60 Wi-Fi, 120 probes to two targets, the odd crash and Wi-Fi
   disconnect) tallied and scored, each device-day rolled up from its 24 hours' aggregates,
   and all serialised as the job stores them (JSON), in ``--workers`` processes. What a
   configuration change costs when every hour is scored again from its samples. The samples
   are built in memory beforehand, per device, and not timed; reading them from the database
   is not in this figure (the job's own figure below has its reads).
2. **The scoring job** (``collector/scores/job.py``) with ``--job-devices`` devices, on a
   fresh SQLite database or on ``--database-url`` (emptied first: use a scratch database).
   The day's hours up to ``--job-hour`` are stored beforehand as the job would have left
   them, so the days it rescores have their full length (the late evening is the worst
   case). Then every minute one batch per device (4 samples) is stored through the ingest
   code and the job runs; its wall and CPU time per run is the incremental update (new rows
   read, hours folded and scored, the due fifth of the days rescored, all written). The
   first minute of a new hour and the others are reported apart.

Peak memory (max RSS) is reported for each worker and for the job's process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from dexpulse.collector import migrations
from dexpulse.collector.db import chunks, json_dumps, make_engine, make_sessionmaker
from dexpulse.collector.gcpause import gc_paused
from dexpulse.collector.ingest import store_batch
from dexpulse.collector.models import Device, ScoreHour
from dexpulse.collector.scores.job import ScoringJob
from dexpulse.collector.scoring import Aggregates, ScoringConfig, score_aggregates
from dexpulse.collector.scoring.hourly import score_tally, tally_samples
from dexpulse.collector.timeline import TimePolicy
from dexpulse.schema import Batch

DAY = datetime(2026, 11, 23, tzinfo=UTC)
TARGETS = ("login.example.com", "intranet.example.com")


def minute(device: int, at: datetime) -> list[tuple[str, dict[str, Any]]]:
    """One minute of one device's samples, varied by device and minute (deterministic)."""
    m = at.hour * 60 + at.minute
    k = (device * 7919 + m * 104729) % 1000
    out: list[tuple[str, dict[str, Any]]] = [
        ("system", {"cpu_percent": float(k % 100), "cpu_queue_length": float(k % 7),
                    "memory_percent": 40.0 + k % 55, "disk_free_percent": 5.0 + k % 60}),
        ("wifi", {"connected": True, "ssid": "corp", "bssid": f"ap-{device % 50}",
                  "rssi_dbm": -45.0 - k % 40}),
    ]  # fmt: skip
    for i, target in enumerate(TARGETS):
        ok = (k + i) % 97 != 0
        out.append(("network_probe", {
            "target": target, "status": "ok" if ok else "timeout",
            "dns_ms": float(5 + k % 200), "connect_ms": float(10 + k % 300),
            "tls_ms": float(20 + k % 100), "ttfb_ms": float(80 + k % 1500),
        }))  # fmt: skip
    if k == 3:
        out.append(("app_crash", {"app_name": "Teams.exe", "app_version": "24.1.0"}))
    if k == 5:
        out.append(("wifi_event", {"event": "disconnected"}))
    return out


def recompute(devices: range) -> dict[str, float]:
    """Worker: a full day of ``devices``, scored hour by hour and day by day."""
    config = ScoringConfig()
    spent = cpu = 0.0
    hours = 0
    for device in devices:
        day = [[s for m in range(60) for s in minute(device, DAY + timedelta(hours=h, minutes=m))]
               for h in range(24)]  # fmt: skip
        wall0, cpu0 = time.perf_counter(), time.process_time()
        with gc_paused():  # as in the scoring job
            tallies = [tally_samples(samples, config) for samples in day]
            scored = [score_tally(tally, config) for tally in tallies]
            stored = [
                (json_dumps(tally.to_json()), json_dumps(agg.to_json()))
                for tally, (_, agg) in zip(tallies, scored, strict=True)
            ]
            total = Aggregates.sum_json(agg.to_json() for _, agg in scored)
            period = score_aggregates([total], config)
            stored.append((json_dumps(period.to_json()), ""))
        spent += time.perf_counter() - wall0
        cpu += time.process_time() - cpu0
        hours += len(scored)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall": spent, "cpu": cpu, "hours": hours, "rss_mb": rss}


def full_day(devices: int, workers: int) -> None:
    shares = [range(w, devices, workers) for w in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(recompute, shares))
    hours = sum(r["hours"] for r in results)
    cpu = sum(r["cpu"] for r in results)
    wall = max(r["wall"] for r in results)
    print(f"full day's recompute: {devices} devices, {hours} device-hours, "
          f"{hours * 240 / 1e6:.1f} M samples, {workers} processes")  # fmt: skip
    print(f"  scoring wall {wall:.1f} s (target < 60 s), CPU {cpu:.1f} s, "
          f"{1e6 * cpu / hours:.0f} us CPU per device-hour")  # fmt: skip
    peaks = ", ".join(f"{r['rss_mb']:.0f} MB" for r in results)
    print(f"  peak RSS per worker: {peaks}")


def seed_hours(sessions: sessionmaker[Session], ids: list[uuid.UUID], until: datetime) -> int:
    """The day's hours before ``until``, stored as the scoring job leaves them (tally and
    aggregates of an hour of :func:`minute` samples; 40 distinct hours, reused), and each
    day's score: the state the job finds in the evening."""
    config = ScoringConfig()
    fingerprint = config.fingerprint()
    hours = int((until - DAY) / timedelta(hours=1))
    shapes = []
    for k in range(40):
        tally = tally_samples(
            [s for m in range(60) for s in minute(k, DAY + timedelta(hours=k % 24, minutes=m))],
            config,
        )
        shapes.append((score_tally(tally, config), tally.to_json()))
    rows = 0
    for chunk in chunks(list(enumerate(ids)), 1000):
        with sessions.begin() as session:
            batch = []
            for i, device in chunk:
                for h in range(hours):
                    (score, agg), tally = shapes[(i + h) % len(shapes)]
                    batch.append({
                        "device_id": device, "hour": DAY + timedelta(hours=h),
                        "fingerprint": fingerprint, "score": score, "tally": tally,
                        "aggregates": agg.to_json(), "updated_at": until,
                    })  # fmt: skip
            session.execute(insert(ScoreHour), batch)
            rows += len(batch)
    return rows


def job_runs(devices: int, minutes: int, hour: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="dexpulse-scoring-") as scratch:
        engine = make_engine(url or f"sqlite:///{Path(scratch) / 'bench.db'}")
        if url:
            with engine.begin() as conn:  # a scratch database: start from nothing
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        migrations.upgrade(engine)
        sessions = make_sessionmaker(engine)
        ids = [uuid.uuid4() for _ in range(devices)]
        with sessions.begin() as session:
            session.execute(insert(Device), [
                {"id": d, "token_hash": uuid.uuid4().hex + uuid.uuid4().hex, "hostname": f"l{i}",
                 "os": "windows", "tags": {"site": f"site-{i % 8}"}, "enrolled_at": DAY}
                for i, d in enumerate(ids)
            ])  # fmt: skip
        start = DAY + timedelta(hours=hour, minutes=-(minutes // 2))  # runs across hour:00
        seeded = seed_hours(sessions, ids, start.replace(minute=0))
        job = ScoringJob(sessions, ScoringConfig())
        policy = TimePolicy()
        boundary: list[tuple[float, float]] = []
        others: list[tuple[float, float]] = []
        rows = days = 0
        for m in range(minutes):
            at = start + timedelta(minutes=m)
            with sessions.begin() as session:
                for i, device in enumerate(ids):
                    samples = [{"kind": k, "ts": at.isoformat(), **d} for k, d in minute(i, at)]
                    batch = Batch.model_validate({
                        "schema_version": 1, "device_id": str(device),
                        "batch_id": str(uuid.uuid4()), "seq": m + 1,
                        "sent_at": (at + timedelta(seconds=30)).isoformat(),
                        "agent": {"version": "0.1.0", "os": "windows"}, "samples": samples,
                    })  # fmt: skip
                    rows += len(samples)
                    store_batch(session, device, batch, at + timedelta(seconds=30), policy)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            run = job.run(at + timedelta(seconds=35))
            took = (time.perf_counter() - wall0, time.process_time() - cpu0)
            assert run is not None and run.hours == devices, run
            days += run.days
            (boundary if at.minute == 0 else others).append(took)
        engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scoring job on {engine.dialect.name}: {devices} devices, one batch each per minute "
          f"({rows // minutes} samples a minute), {minutes} runs from "
          f"{start:%H:%M} ({seeded} hours stored before)")  # fmt: skip
    print(f"  days rescored: {days / minutes:.0f} a run on average")
    for name, runs in (("runs within an hour", others), ("first run of an hour", boundary)):
        if runs:
            print(
                f"  {name}: median wall {statistics.median(w for w, _ in runs):.2f} s, "
                f"CPU {statistics.median(c for _, c in runs):.2f} s ({len(runs)} runs)"
            )
    print(f"  peak RSS of the process: {rss:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--job-devices", type=int, default=10_000)
    parser.add_argument("--job-minutes", type=int, default=6)
    parser.add_argument("--job-hour", type=int, default=23, choices=range(1, 24))
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (emptied)")
    args = parser.parse_args()
    if args.devices:
        full_day(args.devices, args.workers)
    if args.job_devices:
        job_runs(args.job_devices, args.job_minutes, args.job_hour, args.database_url)


if __name__ == "__main__":
    main()
