"""Ingest throughput of the collector as deployed, and the database's own limit beside it.

    .venv/bin/python bench/ingest.py [--database-url URL] [--bench-database dexpulse_ingest_bench]
        [--devices 10000] [--agents 2] [--connections 2|16] [--posts-per-connection 100]
        [--workers 2] [--warmup 10] [--seconds 30] [--rate BATCHES_PER_S] [--upload-every 5]
        [--jobs] [--no-ceiling] [--ceiling-writers N] [--ceiling-connections N]
        [--ceiling-seconds S] [--bulk-size 100] [--timeout 30] [--seed 1] [--keep DIR]

The soak: ``--rate 333 --seconds 1800`` (twice the nominal load of 10,000 devices posting a
batch a minute, for 30 minutes; add ``--jobs`` for the scheduled jobs, ``--no-ceiling`` to
skip the ceiling). Targets (the issue's): >= 1,700 batches/s on PostgreSQL, >= 500 on SQLite,
>= 50 % of the database's per-batch ceiling; the soak loses no batch and the collector's RSS
stays flat.

1. **Database**: a fresh SQLite file in the work directory; with ``--database-url`` (a
   PostgreSQL *server* URL such as ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) a
   database of its own on that server, ``--bench-database``, dropped and created again (and
   dropped at the end unless ``--keep``; ``console.bench_database``): the URL's own database,
   shared with the test suite, is only connected to. Migrated with
   ``collector.migrations.upgrade``.
2. **Devices**: ``--devices`` rows in ``devices``, each with a fresh device token stored as its
   SHA-256 (as ``POST /api/v1/enroll`` stores it), inserted in bulk: enrolling 100,000 devices
   over HTTP would take longer than the measurement.
3. **Batches**: the fleet simulator (``collector.simulator``) runs 200 always-on laptops over
   the last 45 minutes with uploads every ``--upload-every`` simulated minutes, the first 15
   minutes (start-up inventories) left out; up to 2,000 of its batches form the pool every
   process posts from, in turn. The simulator samples 6 a minute (system, Wi-Fi, four
   probes), so its batches at the agent's default upload interval (``--upload-every 1``) hold
   about 6 samples; the default 5 gives the issue's "about 30". Sample times are thus minutes
   old, within the collector's skew and age limits: it stores them as they are (the
   ``dropped`` counts of its answers are reported; they should be 0). Each post is a pool
   batch with the posting device's id, a fresh ``batch_id`` (a repeated one is answered as a
   duplicate and not stored, which would flatter the figures; a duplicate answer is therefore
   a failure), the device's next ``seq`` and ``sent_at`` of the real clock, gzip'd,
   ``Content-Type: application/json``, ``Content-Encoding: gzip``, ``Authorization: Bearer
   <token>``. The gzip stream is made cheaply: the pool batch is compressed once with the
   per-post fields moved to its end, and each post appends them as a stored deflate block
   (``ingest_load.BodyTemplate``); the collector inflates and parses as much as from an agent.
4. **Agents**: ``--agents`` processes (``multiprocessing``, spawn), each with
   ``--connections`` keep-alive HTTP/1.1 connections on loopback, one thread each, with a
   minimal client (``ingest_load.Connection``: httpx costs about 580 us of CPU a request,
   this about 60 us plus the wake-up for the answer); the devices are split between the
   processes, and each connection posts as its devices in turn. Closed loop by default
   (each connection posts again as soon as answered); ``--rate`` makes it open loop at that
   many batches/s in all, spread evenly over the connections (a connection that falls behind
   its schedule posts at once; how far behind is reported, and the target is then to keep
   up). No retries: every answer other than 200 is counted by status, every transport
   failure by kind. A connection is closed after ``--posts-per-connection`` posts and the
   next post connects anew: uvicorn's workers share one listening socket, so a connection
   stays with the worker that accepted it, and a few connections kept for good loaded two
   workers 88 % and 30 % where agents (a connection per upload round) spread evenly. The
   default concurrency is what each database did best with on the 2-core machine
   (2026-12-03, collector at c119bdd): SQLite 2 x 2 connections (388-395 batches/s, 405-416
   with 2 x 4 but p99 112-140 ms against 38-58; 2 x 8 was slower before), PostgreSQL 2 x 16
   (484-523 against 435-492 with 2 x 8; p50 doubles to 55-64 ms).
5. **The collector as in production**: ``dexpulse collector serve --workers W`` (the
   ``harness.serve``; uvicorn with W worker processes) in a subprocess on a free
   port, its log (access lines at INFO, as shipped) in ``server.log`` in the work directory,
   ``DEXPULSE_DETECTION_ENABLED``, ``DEXPULSE_SCORING_ENABLED`` and
   ``DEXPULSE_RETENTION_ENABLED`` false unless ``--jobs`` (then they run as in production).
   No other setting needs changing: the body caps (1 MiB, 10 MiB inflated, 25,000 JSON
   objects) are far above a batch, and ingest has no rate limit. Two workers by default: one
   gave 294 batches/s on SQLite against 395 with two, 319 on PostgreSQL against 523 (same
   load); three and four were no faster on PostgreSQL.
6. **Measurement**: ``--warmup`` seconds, then a window of ``--seconds``. A batch counts in the
   window when its answer arrives in it; latency is the POST's wall time (request written to
   answer read) of the acknowledged batches. CPU (user + system, from psutil) over the window,
   as a share of one core (the machine has ``os.cpu_count()`` of them, and the generator
   shares them with the collector), for the collector's process tree (and per process: how
   evenly its workers are loaded), the agent processes, this process, every ``postgres``
   process of the machine when there are any (other clients' queries count too; with what
   the postmaster's ended children used, such as autovacuum workers), and the
   whole machine; the processes in none of these groups are "other processes" (the busiest
   one named: another job on the machine), and what the machine was busy with that no
   process shows is "in no process" (softirq work for loopback traffic, tick accounting in a
   VM). The collector tree's RSS (the sum over its processes, so shared pages count once per
   process) is read every second: at the window's start and end, its maximum, and, for
   windows of 2 minutes or more, its slope (least squares over the window, MiB per 10
   minutes), called flat within 5 MiB or 1 % of the start RSS per 10 minutes. Every 60 s a
   progress line shows the last minute's rate, the errors so far and the RSS.
7. **No batch lost**: once the collector has stopped, every batch answered 200 (warm-up
   included) must be in ``batches``, and the samples stored must be those the answers
   accepted.
8. **Ceiling**: before the HTTP phase, the same rows (the pool's batches as ``store_batch``
   writes them: the batch row, its samples as the collector serialises them, the device's
   last-seen UPDATE) go straight into the same database with no HTTP, no parsing and no
   validation, one transaction per batch: raw psycopg with ``COPY`` for the samples on
   PostgreSQL, ``sqlite3`` ``executemany`` on SQLite. The writers have the collector's
   shape: ``--ceiling-writers`` processes (default: ``--workers``), each with
   ``--ceiling-connections`` connections in threads (default: one on SQLite, which runs one
   write transaction at a time; on PostgreSQL as many transactions in flight in all as the
   agents have connections, since each commit waits for its WAL flush and concurrent ones
   share it: with 2 x 1 writers it measured 844 batches/s, 2 x 4 1,214, 2 x 8 1,370, 2 x 16
   1,754). Each writes as its share of the devices in turn. Then the same in transactions of
   ``--bulk-size`` batches, for information (on SQLite from one writer: with two, each long
   transaction makes the other sleep in SQLite's busy handler, and bulk measured slower than
   per batch). Each has a warm-up of ``min(--warmup, 5)`` s and
   a window of ``--ceiling-seconds`` (default ``min(--seconds, 20)``). Afterwards ``samples``
   and ``batches`` are emptied and the devices' last-seen facts cleared, so the HTTP phase
   starts from the same empty tables and the lost-batch check sees its own batches only.
   Ours is reported as a share of the per-batch ceiling (the issue's target) and of the bulk
   one: a collector that commits concurrent batches together (group commit) is bounded by
   the latter and may pass the former. ``--no-ceiling`` leaves both out.

Everything is printed as a table with the command line and the load average before and after:
the figures are only as good as the machine was quiet. The exit status is 1 if an
acknowledged batch is missing, the samples stored differ from those acknowledged, a fresh
batch was answered as a duplicate, or (closed loop) more than 1 % of the requests in the
window failed; a process that fails raises. Otherwise 0, whether the targets were met or not.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, TypeVar

import psutil
from console import bench_database
from harness import MiB, free_port, serve, work_directory
from ingest_load import (
    COUNTERS,
    AgentPlan,
    AgentReport,
    BodyTemplate,
    Phases,
    RowsTemplate,
    WriterPlan,
    WriterReport,
    agent_process,
    body_template,
    writer_process,
)
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.engine import URL, make_url

from dexpulse.collector import migrations
from dexpulse.collector.db import chunks, json_dumps, make_engine
from dexpulse.collector.models import Device, IngestedBatch, SampleRow
from dexpulse.collector.security import DEVICE_TOKEN_PREFIX, new_token, token_hash
from dexpulse.collector.simulator.engine import Simulation, SimulationConfig
from dexpulse.schema import Batch

TARGET_BATCHES_S = {"postgresql": 1700.0, "sqlite": 500.0}
TARGET_SHARE = 0.5
MAX_ERROR_RATE = 0.01
POOL_DEVICES = 200
POOL_SKIP = timedelta(minutes=15)
POOL_SPAN = timedelta(minutes=30)
POOL_MAX = 2000
PROGRESS_EVERY_S = 60.0
MIN_SLOPE_S = 120.0
"""A shorter window shows the start-up growth, not a trend: no slope is given."""
FLAT_MIB, FLAT_SHARE = 5.0, 0.01
"""RSS counts as flat when its slope is within 5 MiB or 1 % of the start per 10 minutes."""
READY_TIMEOUT_S = 180.0
HOST = "127.0.0.1"
_ENVELOPE_ONLY = {"kind", "ts"}

R = TypeVar("R")


# -- the database -------------------------------------------------------------------------------


@contextmanager
def database(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    """The URL of a fresh, empty database: a SQLite file in ``workdir``, or a database of its
    own on the PostgreSQL server of ``--database-url``."""
    if args.database_url:
        with bench_database(args.database_url, args.bench_database, bool(args.keep)) as url:
            yield url
    else:
        for stale in workdir.glob("collector.db*"):  # --keep DIR used before
            stale.unlink()
        yield str(URL.create("sqlite", database=str(workdir / "collector.db")))


def create_devices(engine: Engine, count: int) -> list[tuple[str, str]]:
    """``count`` devices stored as enrollment stores them (the token only hashed); their
    (id, token) pairs."""
    now = datetime.now(UTC)
    devices: list[tuple[str, str]] = []
    rows: list[dict[str, Any]] = []
    for i in range(count):
        device_id, token = uuid.uuid4(), new_token(DEVICE_TOKEN_PREFIX)
        devices.append((str(device_id), token))
        rows.append({
            "id": device_id, "token_hash": token_hash(token), "hostname": f"BENCH-{i:06d}",
            "os": "windows", "agent_version": "bench", "tags": {"site": "bench"},
            "enrolled_at": now,
        })  # fmt: skip
    with engine.begin() as conn:
        for chunk in chunks(rows, 5000):
            conn.execute(insert(Device), chunk)
    return devices


def empty_ingest_tables(engine: Engine) -> None:
    """What the ceiling wrote, gone: no samples, no batches, devices never seen."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE samples, batches RESTART IDENTITY"))
        else:
            conn.execute(text("DELETE FROM samples"))
            conn.execute(text("DELETE FROM batches"))
        conn.execute(update(Device).values(last_seen_at=None, last_seq=None))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            text("VACUUM ANALYZE devices" if engine.dialect.name == "postgresql" else "VACUUM")
        )


# -- the batches ------------------------------------------------------------------------------


@dataclass
class Pool:
    bodies: list[BodyTemplate]
    rows: list[RowsTemplate]

    @property
    def mean_samples(self) -> float:
        return statistics.fmean(b.samples for b in self.bodies)

    @property
    def mean_wire_bytes(self) -> float:
        return statistics.fmean(b.wire_bytes for b in self.bodies)


def build_pool(upload_every: int, seed: int, now: datetime) -> Pool:
    """Simulated batches of the last half hour (see the module's docstring, step 3)."""
    start = now - POOL_SKIP - POOL_SPAN
    sim = Simulation(
        SimulationConfig(
            devices=POOL_DEVICES, sites=5, seed=seed, start=start,
            duration=POOL_SKIP + POOL_SPAN, upload_every=upload_every, always_on=True,
        )
    )  # fmt: skip
    cutoff_ms = int((start + POOL_SKIP).timestamp() * 1000)
    lines = [sim.line(b) for b in sim.batches() if b.sent_ms >= cutoff_ms][-POOL_MAX:]
    if not lines:
        raise SystemExit("the simulator gave no batches; try a smaller --upload-every")
    return Pool([body_template(line) for line in lines], [rows_template(line) for line in lines])


def rows_template(line: str) -> RowsTemplate:
    """A batch as ``store_batch`` would write it (the ceiling's rows): validated once here,
    each sample dumped as the collector dumps it into ``samples.data``."""
    batch = Batch.model_validate_json(line)
    samples: list[tuple[str, datetime, str]] = [
        (
            s.kind,
            s.ts,
            json_dumps(s.model_dump(mode="json", exclude=_ENVELOPE_ONLY, exclude_none=True)),
        )
        for s in batch.samples
    ]
    a = batch.agent
    return RowsTemplate(
        samples,
        a.version,
        json_dumps(dict(batch.tags)) if batch.tags is not None else None,
        (a.os_version, a.os_build, a.model, a.manufacturer, a.hostname),
    )


# -- the collector ----------------------------------------------------------------------------


@dataclass
class Running:
    url: str
    port: int
    proc: subprocess.Popen[bytes]


@contextmanager
def collector(database_url: str, workdir: Path, workers: int, jobs: bool) -> Iterator[Running]:
    """``dexpulse collector serve --workers W`` as in production, on a free port."""
    port = free_port()
    enabled = "true" if jobs else "false"
    settings = {
        "DEXPULSE_DETECTION_ENABLED": enabled,
        "DEXPULSE_SCORING_ENABLED": enabled,
        "DEXPULSE_RETENTION_ENABLED": enabled,
        "DEXPULSE_MIGRATE_ON_START": "true",
    }
    with serve(database_url, workdir, "--workers", str(workers), port=port, env=settings,
               timeout=120) as server:  # fmt: skip
        yield Running(server.url, port, server.proc)


# -- processes and what they use --------------------------------------------------------------


def cpu_seconds(procs: Sequence[psutil.Process]) -> dict[int, float]:
    """CPU seconds per pid (processes gone meanwhile left out): see :func:`cpu_used`."""
    out: dict[int, float] = {}
    for proc in procs:
        try:
            out[proc.pid] = cpu_used(proc.cpu_times())
        except psutil.Error:
            continue
    return out


def cpu_used(times: Any) -> float:
    """User + system time of a process and of its children that have ended: PostgreSQL's
    autovacuum workers and short-lived backends start and end within a window, and only
    their parent (the postmaster) shows what they used."""
    return float(times.user + times.system + times.children_user + times.children_system)


def tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def tree_rss(root: psutil.Process) -> float:
    """RSS of a process and its descendants, in MiB."""
    total = 0
    for proc in tree(root):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / MiB


def postgres_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


def machine_busy() -> float:
    """CPU seconds the machine spent on anything but idling, all cores (guest time is part of
    user time already)."""
    t = psutil.cpu_times()
    fields = ("user", "nice", "system", "irq", "softirq", "steal")
    return sum(getattr(t, name, 0.0) for name in fields)


def every_process() -> dict[int, tuple[float, str]]:
    """CPU seconds and a short label (its command line) of every process of the machine."""
    out: dict[int, tuple[float, str]] = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            cpu = cpu_used(proc.cpu_times())
        except psutil.Error:
            continue
        label = " ".join(proc.info["cmdline"] or []) or proc.info["name"] or "?"
        out[proc.pid] = (cpu, label[:70])
    return out


@dataclass
class Usage:
    """What the window cost, in % of one core, per group of processes; and the collector's
    memory once a second (seconds since the window opened, MiB)."""

    cpu: dict[str, float] = field(default_factory=dict)
    """Per group; and ``machine`` (all of it), ``others`` (the processes in no group) and
    ``unattributed`` (the machine's time no process shows: softirq work, ticks counted
    differently in a VM)."""
    busiest_other: tuple[str, float] = ("-", 0.0)
    per_process: dict[str, list[float]] = field(default_factory=dict)
    """Each group's processes' shares, largest first (how evenly uvicorn's workers work)."""
    rss: list[tuple[float, float]] = field(default_factory=list)
    rss_start: float = math.nan
    rss_end: float = math.nan
    rss_max: float = math.nan

    def slope_per_10min(self) -> float:
        """Least-squares slope of the RSS over the window, MiB per 10 minutes."""
        if len(self.rss) < 3:
            return math.nan
        xs, ys = [t for t, _ in self.rss], [m for _, m in self.rss]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx * 600


Groups = dict[str, Callable[[], list[psutil.Process]]]


def watch(
    phases: Phases,
    groups: Groups,
    counters: Any,
    processes: int,
    memory_of: psutil.Process | None,
    label: str,
) -> Usage:
    """Sample until the window closes: CPU of ``groups`` at its start and end, the RSS of
    ``memory_of``'s tree every second, a progress line every minute."""
    usage = Usage()
    begin: dict[str, dict[int, float]] = {}
    everyone: dict[int, tuple[float, str]] = {}
    busy0 = wall0 = 0.0
    tick = phases.go
    last_progress = (phases.go, 0.0)
    peak = 0.0
    while True:
        now = time.monotonic()
        if not begin and now >= phases.window_start:
            begin = {name: cpu_seconds(procs()) for name, procs in groups.items()}
            everyone = every_process()
            busy0, wall0 = machine_busy(), time.monotonic()
            if memory_of is not None:
                usage.rss_start = tree_rss(memory_of)
        if now >= phases.window_end:
            wall = time.monotonic() - wall0
            grouped: set[int] = set()
            for name, procs in groups.items():
                end = cpu_seconds(procs())
                used = [100 * (v - begin[name].get(pid, 0.0)) / wall for pid, v in end.items()]
                usage.cpu[name] = sum(used)
                usage.per_process[name] = sorted(used, reverse=True)
                grouped |= end.keys() | begin[name].keys()
            machine = 100 * (machine_busy() - busy0) / wall
            shares = {
                pid: (100 * (cpu - everyone.get(pid, (0.0, ""))[0]) / wall, label)
                for pid, (cpu, label) in every_process().items()
            }
            others = [
                (share, label) for pid, (share, label) in shares.items() if pid not in grouped
            ]
            usage.cpu["machine"] = machine
            usage.cpu["others"] = sum(share for share, _ in others)
            usage.cpu["unattributed"] = max(0.0, machine - sum(v for v, _ in shares.values()))
            if others:
                share, who = max(others)
                usage.busiest_other = (who, share)
            if memory_of is not None:
                usage.rss_end = tree_rss(memory_of)
                usage.rss_max = max(peak, usage.rss_end)
            return usage
        if now >= tick:
            tick += 1.0
            rss = tree_rss(memory_of) if memory_of is not None else math.nan
            peak = max(peak, rss) if memory_of is not None else peak
            if begin and memory_of is not None:
                usage.rss.append((now - phases.window_start, rss))
            if now - last_progress[0] >= PROGRESS_EVERY_S:
                done = sum(counters[i * COUNTERS] for i in range(processes))
                errors = sum(counters[i * COUNTERS + 1] for i in range(processes))
                rate = (done - last_progress[1]) / (now - last_progress[0])
                memory = f", collector RSS {rss:.1f} MiB" if memory_of is not None else ""
                print(
                    f"  {label} {now - phases.go:6.0f} s: {rate:8.1f} batches/s over the last "
                    f"{now - last_progress[0]:.0f} s, {errors:.0f} errors so far{memory}",
                    flush=True,
                )
                last_progress = (now, done)
        wake = min(tick, phases.window_end)
        if not begin:
            wake = min(wake, phases.window_start)
        time.sleep(max(0.0, wake - time.monotonic()))


def run_processes(
    target: Callable[[Any, Pipe, Any], None],
    plans: Sequence[Any],
    warmup: float,
    seconds: float,
    timeout_s: float,
    observe: Callable[[Phases, list[psutil.Process], Any], Usage],
) -> tuple[list[Any], Usage]:
    """Start a process per plan (spawn), wait until all are ready, give them the phases,
    ``observe`` while they run, and collect their reports."""
    ctx = multiprocessing.get_context("spawn")
    counters = ctx.Array("d", len(plans) * COUNTERS, lock=False)
    started: list[tuple[multiprocessing.process.BaseProcess, Pipe]] = []
    try:
        for plan in plans:
            mine, theirs = ctx.Pipe()
            child = ctx.Process(target=target, args=(plan, theirs, counters), daemon=True)
            child.start()
            theirs.close()
            started.append((child, mine))
        for proc, pipe in started:
            if not pipe.poll(READY_TIMEOUT_S):
                raise RuntimeError(f"process {proc.pid} was not ready in {READY_TIMEOUT_S} s")
            message = pipe.recv()
            if message != "ready":
                raise RuntimeError(f"process {proc.pid} failed:\n{message}")
        go = time.monotonic() + 0.2
        phases = Phases(go, go + warmup, go + warmup + seconds)
        for _, pipe in started:
            pipe.send(phases)
        usage = observe(phases, [psutil.Process(p.pid) for p, _ in started], counters)
        reports = []
        for proc, pipe in started:
            if not pipe.poll(timeout_s + 60):
                raise RuntimeError(f"process {proc.pid} sent no report")
            report = pipe.recv()
            if isinstance(report, str):
                raise RuntimeError(f"process {proc.pid} failed:\n{report}")
            reports.append(report)
        return reports, usage
    finally:
        for proc, pipe in started:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join()
            pipe.close()


def split(items: Sequence[R], parts: int) -> list[list[R]]:
    """``items`` in ``parts`` contiguous slices of (nearly) equal length."""
    n = len(items)
    return [list(items[i * n // parts : (i + 1) * n // parts]) for i in range(parts)]


# -- the phases -------------------------------------------------------------------------------


@dataclass
class HttpPhase:
    report: AgentReport
    usage: Usage
    seconds: float

    @property
    def batches_s(self) -> float:
        return self.report.window_batches / self.seconds

    @property
    def error_rate(self) -> float:
        attempts = self.report.window_batches + self.report.window_errors
        return self.report.window_errors / attempts if attempts else 0.0


def http_phase(
    args: argparse.Namespace,
    backend: str,
    devices: list[tuple[str, str]],
    pool: Pool,
    server: Running,
) -> HttpPhase:
    agents = min(args.agents, len(devices))
    rate = args.rate / agents if args.rate else None
    plans = [
        AgentPlan(i, HOST, server.port, share, pool.bodies, args.connections, rate,
                  args.timeout, args.seed, args.posts_per_connection)
        for i, share in enumerate(split(devices, agents))
    ]  # fmt: skip
    root = psutil.Process(server.proc.pid)
    here = psutil.Process()

    def observe(phases: Phases, children: list[psutil.Process], counters: Any) -> Usage:
        groups: Groups = {
            "collector": lambda: tree(root),
            "agents": lambda: children,
            "bench": lambda: [here],
        }
        if backend == "postgresql":
            groups["postgres"] = postgres_processes
        return watch(phases, groups, counters, len(plans), root, "ingest")

    reports, usage = run_processes(
        agent_process, plans, args.warmup, args.seconds, args.timeout, observe
    )
    total = AgentReport(-1)
    for report in reports:
        total.merge(report)
    return HttpPhase(total, usage, args.seconds)


@dataclass
class CeilingPhase:
    per_transaction: int
    writers: int
    connections: int
    """Per writer process."""
    report: WriterReport
    usage: Usage
    seconds: float

    @property
    def batches_s(self) -> float:
        return self.report.window_batches / self.seconds


def ceiling_phase(
    url: str, devices: list[tuple[str, str]], pool: Pool, shape: tuple[int, int],
    per_transaction: int, warmup: float, seconds: float, seed: int,
) -> CeilingPhase:  # fmt: skip
    """The pool's rows straight into the database from ``shape`` = (writer processes,
    connections each), ``per_transaction`` batches a transaction, for a window of
    ``seconds``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    target = (
        str(parsed.database)
        if backend == "sqlite"
        else parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    ids = [device_id for device_id, _ in devices]
    writers, connections = min(shape[0], len(ids)), shape[1]
    plans = [
        WriterPlan(i, backend, target, share, pool.rows, per_transaction, connections, seed)
        for i, share in enumerate(split(ids, writers))
    ]
    here = psutil.Process()

    def observe(phases: Phases, children: list[psutil.Process], counters: Any) -> Usage:
        groups: Groups = {"writers": lambda: [*children, here]}
        if backend == "postgresql":
            groups["postgres"] = postgres_processes
        return watch(phases, groups, counters, len(plans), None, "ceiling")

    reports, usage = run_processes(writer_process, plans, warmup, seconds, 60.0, observe)
    total = WriterReport(-1)
    for report in reports:
        total.merge(report)
    return CeilingPhase(per_transaction, writers, connections, total, usage, seconds)


def ceiling_shape(args: argparse.Namespace, backend: str) -> tuple[int, int]:
    """Writer processes and connections each: as many processes as the collector has workers,
    and on PostgreSQL as many transactions in flight as the HTTP phase can have (each commit
    waits for its WAL flush, and concurrent commits share one: fewer writers would measure the
    disk's latency, not the database's limit); on SQLite one connection each (it runs one
    write transaction at a time; more would only wait on its lock)."""
    writers = args.ceiling_writers or args.workers
    if args.ceiling_connections:
        return writers, args.ceiling_connections
    if backend == "sqlite":
        return writers, 1
    return writers, max(1, math.ceil(args.agents * args.connections / writers))


@dataclass
class Stored:
    """What the database holds after the HTTP phase, against what was acknowledged."""

    acknowledged: int
    missing: int
    unacknowledged: int
    """Stored batches no 200 answer reached the agent for (timed out, say)."""
    samples: int
    samples_of_acknowledged: int
    batch_sample_counts: int


def check_stored(engine: Engine, report: AgentReport) -> Stored:
    acked = {
        uuid.UUID(bytes=bytes(report.acked[i : i + 16])) for i in range(0, len(report.acked), 16)
    }
    with engine.connect() as conn:
        query = select(IngestedBatch.batch_id, IngestedBatch.sample_count)
        counts: dict[uuid.UUID, int] = {
            row.batch_id: row.sample_count for row in conn.execute(query)
        }
        samples = conn.scalar(select(func.count()).select_from(SampleRow)) or 0
    return Stored(
        acknowledged=len(acked),
        missing=len(acked - counts.keys()),
        unacknowledged=len(counts.keys() - acked),
        samples=samples,
        samples_of_acknowledged=sum(n for batch, n in counts.items() if batch in acked),
        batch_sample_counts=sum(counts.values()),
    )


# -- the report -------------------------------------------------------------------------------


def quantile(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def table(title: str, rows: Sequence[tuple[str, str, str]]) -> str:
    header = ("measure", "result", "target")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def _errors(counts: Counter[str], examples: dict[str, str]) -> str:
    if not counts:
        return "none"
    return "; ".join(
        f"{kind} x{n}" + (f" ({examples[kind][:120]})" if examples.get(kind) else "")
        for kind, n in counts.most_common()
    )


def report_rows(
    args: argparse.Namespace,
    backend: str,
    http: HttpPhase,
    stored: Stored,
    ceilings: Sequence[CeilingPhase],
    pool: Pool,
) -> list[tuple[str, str, str]]:
    """The table's rows: (measure, result, target and whether it is met)."""
    r = http.report
    lat, target = r.latencies_ms, TARGET_BATCHES_S[backend]
    per_batch = r.window_samples / max(1, r.window_batches)
    errors_ok = "" if args.rate else f": {verdict(http.error_rate <= MAX_ERROR_RATE)}"
    dropped = f"{r.dropped.total()}" + (f" {dict(r.dropped)}" if r.dropped else "")
    if args.rate:  # the target is to keep up
        goal = f">= {0.99 * args.rate:,.1f}: {verdict(http.batches_s >= 0.99 * args.rate)}"
    else:
        goal = f">= {target:,.0f}: {verdict(http.batches_s >= target)}"
    rows = [
        ("batches/s (acknowledged)", f"{http.batches_s:,.1f}", goal),
        ("samples/s (accepted)", f"{r.window_samples / http.seconds:,.0f}", ""),
        ("samples per batch, mean", f"{per_batch:.1f} (pool {pool.mean_samples:.1f}; "
         f"{pool.mean_wire_bytes / 1024:.1f} KiB gzip'd)", "about 30"),
        ("latency p50 / p99 / max", f"{quantile(lat, 50):.1f} / {quantile(lat, 99):.1f} / "
         f"{max(lat, default=math.nan):.1f} ms", ""),
        ("errors in the window", f"{r.window_errors} ({100 * http.error_rate:.2f} %)",
         f"<= 1 %{errors_ok}"),
        ("errors, whole run", _errors(r.errors, r.error_examples), ""),
        ("dropped samples", dropped, f"0: {verdict(not r.dropped)}"),
        ("fresh batches answered duplicate", str(r.duplicates), f"0: {verdict(not r.duplicates)}"),
        ("acknowledged / missing", f"{stored.acknowledged:,} / {stored.missing:,}",
         f"0 missing: {verdict(stored.missing == 0)}"),
        ("samples stored / accepted", f"{stored.samples:,} / {r.accepted:,}",
         f"equal: {verdict(samples_match(stored, r))}"),
    ]  # fmt: skip
    if stored.unacknowledged:
        rows.append(("stored, never acknowledged", str(stored.unacknowledged), ""))
    if args.rate:
        rows.append(("open loop: rate asked / lag", f"{args.rate:,.1f} batches/s / at most "
                     f"{r.max_lag_s:.2f} s behind schedule", ""))  # fmt: skip
    rows += cpu_rows(args, http)
    u = http.usage
    if http.seconds >= MIN_SLOPE_S:
        per_10min = u.slope_per_10min()
        bound = max(FLAT_MIB, FLAT_SHARE * u.rss_start)
        slope = f"{per_10min:+.2f} MiB per 10 min"
        flat = f"flat (|slope| <= {bound:.1f}): {verdict(abs(per_10min) <= bound)}"
    else:
        slope, flat = f"- (window under {MIN_SLOPE_S:.0f} s)", "flat"
    rows += [
        ("collector RSS start / end / max",
         f"{u.rss_start:.1f} / {u.rss_end:.1f} / {u.rss_max:.1f} MiB", ""),
        ("collector RSS slope", slope, flat),
    ]  # fmt: skip
    for c in ceilings:
        name = "per batch" if c.per_transaction == 1 else f"bulk, {c.per_transaction} a txn"
        used = ", ".join(
            f"{k} {c.usage.cpu[k]:.0f} %"
            for k in ("writers", "postgres", "others", "machine")
            if k in c.usage.cpu
        )
        used += f"; writers {10 * c.usage.cpu['writers'] / max(1.0, c.batches_s):.2f} ms a batch"
        result = f"{c.batches_s:,.1f} batches/s ({c.writers} x {c.connections} writers; CPU {used})"
        if c.report.errors:
            result += f"; errors {_errors(c.report.errors, c.report.error_examples)}"
        rows.append((f"ceiling, {name}", result, ""))
    if ceilings and ceilings[0].batches_s > 0:
        share = http.batches_s / ceilings[0].batches_s
        met = f">= {100 * TARGET_SHARE:.0f} %: {verdict(share >= TARGET_SHARE)}"
        rows.append(("ours / per-batch ceiling", f"{100 * share:.0f} %", met))
    if len(ceilings) > 1 and ceilings[1].batches_s > 0:
        share = http.batches_s / ceilings[1].batches_s
        rows.append(("ours / bulk ceiling", f"{100 * share:.0f} %", ""))
    return rows


def cpu_rows(args: argparse.Namespace, http: HttpPhase) -> list[tuple[str, str, str]]:
    """Who used the CPU in the window, in % of one core."""
    cpu, answers = http.usage.cpu, max(1, http.report.window_answers)
    per_request_us = 1e4 * cpu["agents"] * http.seconds / answers
    per_batch_ms = 10 * cpu["collector"] * http.seconds / max(1, http.report.window_batches)
    shares = " + ".join(f"{v:.0f}" for v in http.usage.per_process["collector"] if v >= 0.5)
    rows = [
        ("collector CPU (% of one core)", f"{cpu['collector']:.0f} % ({args.workers} workers; "
         f"{per_batch_ms:.2f} ms a batch; by process {shares} %)", ""),
        ("generator CPU", f"{cpu['agents'] + cpu['bench']:.0f} % (agents {cpu['agents']:.0f} %: "
         f"{per_request_us:.0f} us a request; this process {cpu['bench']:.0f} %)", ""),
    ]  # fmt: skip
    if "postgres" in cpu:
        rows.append(("PostgreSQL CPU (all postgres)", f"{cpu['postgres']:.0f} %", ""))
    return rows + machine_rows(http.usage)


def machine_rows(usage: Usage) -> list[tuple[str, str, str]]:
    """How busy the machine was, and with what else: the figures are only as good as the
    other processes left them."""
    cpu, cores = usage.cpu, os.cpu_count() or 1
    who, share = usage.busiest_other
    return [
        ("machine busy", f"{cpu['machine']:.0f} % of {100 * cores} %", ""),
        ("other processes", f"{cpu['others']:.0f} % (busiest {share:.0f} %: {who}); in no "
         f"process {cpu['unattributed']:.0f} %", "0"),
    ]  # fmt: skip


def samples_match(stored: Stored, report: AgentReport) -> bool:
    return (
        stored.samples == stored.batch_sample_counts
        and stored.samples_of_acknowledged == report.accepted
    )


# -- the command ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--database-url", help="a PostgreSQL server (default: a SQLite file)")
    add("--bench-database", default="dexpulse_ingest_bench",
        help="database created on that server (dropped first)")  # fmt: skip
    add("--devices", type=int, default=10_000)
    add("--agents", type=int, default=2, help="agent processes")
    add("--connections", type=int,
        help="keep-alive connections per agent (default: SQLite 2, PostgreSQL 16)")  # fmt: skip
    add("--posts-per-connection", type=int, default=100,
        help="reconnect after this many posts (0: never)")  # fmt: skip
    add("--workers", type=int, default=2, help="the collector's uvicorn workers")
    add("--warmup", type=float, default=10.0, help="seconds before the window")
    add("--seconds", type=float, default=30.0, help="the measurement window")
    add("--rate", type=float, help="batches/s in all (open loop); default: closed loop")
    add("--upload-every", type=int, default=5,
        help="simulated minutes per batch (5: about 30 samples)")  # fmt: skip
    add("--jobs", action="store_true", help="run the detection and scoring jobs")
    add("--no-ceiling", action="store_true", help="skip the direct-write ceiling")
    add("--ceiling-writers", type=int, help="writer processes (default: --workers)")
    add("--ceiling-connections", type=int,
        help="connections per writer (default: 1 on SQLite; on PostgreSQL as many in all as "
        "agents x connections)")  # fmt: skip
    add("--ceiling-seconds", type=float, help="its window (default: min(--seconds, 20))")
    add("--bulk-size", type=int, default=100, help="batches a transaction in the bulk ceiling")
    add("--timeout", type=float, default=30.0, help="seconds a request may take")
    add("--seed", type=int, default=1)
    add("--keep", type=Path, help="keep the server log (and the SQLite file or the PostgreSQL "
        "database) in this directory")  # fmt: skip
    args = parser.parse_args(argv)
    if args.connections is None:  # the concurrency each database does best with (docstring)
        args.connections = 16 if args.database_url else 2
    if min(args.devices, args.agents, args.connections, args.workers, args.upload_every) < 1:
        parser.error("--devices, --agents, --connections, --workers, --upload-every: at least 1")
    if args.seconds <= 0 or args.warmup < 0 or (args.rate is not None and args.rate <= 0):
        parser.error("--seconds and --rate must be positive, --warmup not negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv).exit_status


@dataclass
class Outcome:
    """A run's results, for the caller that wants more than the exit status (the tests)."""

    backend: str
    http: HttpPhase
    stored: Stored
    ceilings: list[CeilingPhase]
    pool: Pool
    exit_status: int


def run(argv: Sequence[str] | None = None) -> Outcome:
    """The whole benchmark, printed; ``argv`` as on the command line."""
    args = parse_args(argv)
    shown_argv = list(sys.argv[1:] if argv is None else argv)
    print("command: " + shlex.join([".venv/bin/python", "bench/ingest.py", *shown_argv]))
    with work_directory(args.keep, "dexpulse-ingest-bench-") as workdir:
        return _bench(args, workdir)


def _bench(args: argparse.Namespace, workdir: Path) -> Outcome:
    before = load()
    print(f"start; {before}", flush=True)
    mode = f"open loop at {args.rate:g} batches/s" if args.rate else "closed loop"
    with database(args, workdir) as url:
        backend = make_url(url).get_backend_name()
        shown = make_url(url).render_as_string(hide_password=True)
        engine = make_engine(url)
        try:
            clock = time.monotonic()
            migrations.upgrade(engine)
            devices = create_devices(engine, args.devices)
            print(f"{args.devices:,} devices in {shown} ({time.monotonic() - clock:.1f} s)",
                  flush=True)  # fmt: skip
            clock = time.monotonic()
            pool = build_pool(args.upload_every, args.seed, datetime.now(UTC))
            print(f"pool: {len(pool.bodies)} simulated batches, {pool.mean_samples:.1f} samples "
                  f"each ({time.monotonic() - clock:.1f} s)", flush=True)  # fmt: skip
            ceilings: list[CeilingPhase] = []
            if not args.no_ceiling:
                per_batch = ceiling_shape(args, backend)
                seconds = args.ceiling_seconds or min(args.seconds, 20.0)
                # SQLite is bulk-loaded by one writer: a second only waits for the lock, in
                # the busy handler's sleeps of up to 100 ms (a long transaction's whole length)
                bulk = (1, 1) if backend == "sqlite" else per_batch
                for per_transaction, shape in ((1, per_batch), (args.bulk_size, bulk)):
                    phase = ceiling_phase(url, devices, pool, shape, per_transaction,
                                          min(args.warmup, 5.0), seconds, args.seed)  # fmt: skip
                    print(f"ceiling, {per_transaction} a transaction, {shape[0]} x {shape[1]} "
                          f"writers: {phase.batches_s:,.1f} batches/s", flush=True)  # fmt: skip
                    ceilings.append(phase)
                    empty_ingest_tables(engine)
            print(f"collector: {args.workers} workers, jobs {'on' if args.jobs else 'off'}; "
                  f"{args.agents} agents x {args.connections} connections, {mode}; "
                  f"warm-up {args.warmup:g} s, window {args.seconds:g} s; {load()}",
                  flush=True)  # fmt: skip
            with collector(url, workdir, args.workers, args.jobs) as server:
                http = http_phase(args, backend, devices, pool, server)
            stored = check_stored(engine, http.report)
        finally:
            engine.dispose()
        after = load()
        title = (
            f"Ingest on {backend}: {args.devices:,} devices, {args.agents} agents x "
            f"{args.connections} connections ({mode}), collector {args.workers} workers "
            f"(jobs {'on' if args.jobs else 'off'}), window {args.seconds:g} s after "
            f"{args.warmup:g} s warm-up"
        )
        print()
        print(table(title, report_rows(args, backend, http, stored, ceilings, pool)))
        print(f"before: {before}")
        print(f"after:  {after}")
        if args.keep:
            print(f"kept: the server log in {workdir}, the data in {shown}")
    failed = stored.missing > 0 or http.report.duplicates > 0
    failed = failed or not samples_match(stored, http.report)
    if not args.rate and http.error_rate > MAX_ERROR_RATE:
        failed = True
    return Outcome(backend, http, stored, ceilings, pool, 1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
