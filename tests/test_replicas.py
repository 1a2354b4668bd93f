"""Replicas: two collector processes on one PostgreSQL share the scheduled jobs, and each
slot of each job (detection, scoring, surveys each minute; retention and partition upkeep
each hour) is run by exactly one of them."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from harness import Server, serve
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from support import make_batch, postgres_server_url, scratch_postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
MINUTE_JOBS = ("detection", "scoring", "surveys")
JOBS = (*MINUTE_JOBS, "retention")


@pytest.fixture
def database() -> Iterator[str]:
    with scratch_postgres_database(postgres_server_url()) as url:
        yield url


def job_runs(server: Server) -> Counter[tuple[str, str]]:
    """This process's ``dexpulse_job_runs_total`` per (job, outcome)."""
    out: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics").text):
        for sample in family.samples:
            if sample.name == "dexpulse_job_runs_total":
                out[(sample.labels["job"], sample.labels["outcome"])] = int(sample.value)
    return out


def attempts(runs: Counter[tuple[str, str]], job: str) -> int:
    return sum(n for (name, _), n in runs.items() if name == job)


def test_two_collectors_run_each_slot_of_each_job_once(database: str, tmp_path: Path) -> None:
    env = {"DEXPULSE_DETECTION_ENABLED": "true", "DEXPULSE_SCORING_ENABLED": "true",
           "DEXPULSE_RETENTION_ENABLED": "true"}  # fmt: skip
    with ExitStack() as stack:
        hours = {time.time() // 3600}
        servers = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            servers.append(stack.enter_context(serve(database, tmp_path / name, env=env)))
        hours.add(time.time() // 3600)  # both started in one hour: one retention slot
        first, second = servers
        device_id, headers = first.enroll("replicated")
        for server in servers:  # work for the jobs, through either replica
            body = gzip.compress(json.dumps(make_batch(device_id)).encode())
            answer = httpx.post(f"{server.url}/api/v1/ingest", content=body, headers=headers)
            assert answer.status_code == 200, answer.text

        # Wait until the later replica has fired for a slot of every minute job, then read
        # both counters twice in a row the same (no run between the two reads).
        deadline = time.monotonic() + 150
        while True:
            a, b = job_runs(first), job_runs(second)
            settled = (a, b) == (job_runs(first), job_runs(second))
            if settled and all(attempts(b, job) >= 1 for job in MINUTE_JOBS):
                break
            assert time.monotonic() < deadline, (a, b)
            time.sleep(2)

    engine = create_engine(database)
    with engine.connect() as conn:
        slots = {
            job: (runs, runner)
            for job, runs, runner in conn.execute(text("SELECT job, runs, runner FROM job_slots"))
        }
    engine.dispose()
    pids = {f":{server.proc.pid}" for server in servers}
    for job in JOBS:
        assert a[(job, "failed")] == b[(job, "failed")] == 0, (job, a, b)
        ran = a[(job, "ran")] + b[(job, "ran")]
        # the first replica fired for every slot the second did (and maybe one before it):
        # every slot fired for ran once, on one replica or the other
        slots_fired = attempts(a, job) + (len(hours) - 1 if job == "retention" else 0)
        assert ran == slots_fired >= attempts(b, job) >= 1, (job, a, b)
        assert slots[job][0] == ran, (job, slots[job], a, b)
        assert any(slots[job][1].endswith(pid) for pid in pids)
    for job in MINUTE_JOBS:  # both fired for at least one same slot: one of them skipped it
        assert a[(job, "skipped")] + b[(job, "skipped")] >= 1, (job, a, b)
