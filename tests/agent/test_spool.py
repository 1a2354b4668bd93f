"""The agent's durable spool: batching, leases, bounds, crash safety and corruption recovery."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.spool import MiB, Spool
from dexpulse.schema import AgentHealthSample, SystemSample, WifiSample

AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def wifi(i: int) -> WifiSample:
    return WifiSample(ts=AT, ssid=f"net-{i}", rssi_dbm=-50 - i % 40)


def test_samples_are_batched_in_order_and_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put([wifi(i) for i in range(5)])
    assert spool.stats().pending_samples == 5
    assert spool.form_batches() == 1
    batch = spool.lease()
    assert batch is not None and batch.seq == 1 and batch.sample_count == 5
    assert [s["ssid"] for s in json.loads(batch.samples_json)] == [f"net-{i}" for i in range(5)]
    assert spool.lease() is None  # leased: not handed out twice
    spool.ack(batch.batch_id)
    assert spool.stats().batches == 0 and spool.stats().pending_samples == 0


def test_batches_respect_the_byte_limit_and_seq_increases(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    samples = [
        AgentHealthSample(ts=AT, component="x", status="ok", message="m" * 1000) for _ in range(50)
    ]
    spool.put(samples)
    assert spool.form_batches(max_bytes=10_000) > 1
    seqs, total = [], 0
    while (batch := spool.lease()) is not None:
        assert len(batch.samples_json.encode()) <= 10_000
        seqs.append(batch.seq)
        total += len(json.loads(batch.samples_json))
        spool.ack(batch.batch_id)
    assert total == 50
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_a_sample_larger_than_a_batch_goes_alone(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put([AgentHealthSample(ts=AT, component="x", status="ok", message="m" * 4000), wifi(1)])
    assert spool.form_batches(max_bytes=1000) == 2


def test_batch_id_and_seq_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put([wifi(1)])
    spool.form_batches()
    first = spool.lease()
    assert first is not None
    spool.close()  # the agent dies while the batch is in flight
    reopened = Spool(tmp_path / "spool.db")
    again = reopened.lease()  # leases do not outlive the process that took them
    assert again is not None
    assert (again.batch_id, again.seq) == (first.batch_id, first.seq)
    reopened.ack(again.batch_id)
    reopened.put([wifi(2)])
    reopened.form_batches()
    nxt = reopened.lease()
    assert nxt is not None and nxt.seq == first.seq + 1


def test_release_delays_the_next_attempt(tmp_path: Path) -> None:
    clock = Clock()
    spool = Spool(tmp_path / "spool.db", clock=clock)
    spool.put([wifi(1)])
    spool.form_batches()
    batch = spool.lease()
    assert batch is not None
    spool.release(batch.batch_id, retry_at=clock.now + 30)
    assert spool.lease() is None
    clock.now += 31
    retried = spool.lease()
    assert retried is not None and retried.batch_id == batch.batch_id and retried.attempts == 1


def test_full_spool_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=3_000)
    for i in range(100):
        spool.put([wifi(i)])
        if i % 10 == 9:
            spool.form_batches(max_bytes=2_000)
    stats = spool.stats()
    assert stats.bytes <= 3_000
    assert stats.dropped_samples > 0
    kept = []
    spool.form_batches()
    while (batch := spool.lease()) is not None:
        kept += [s["ssid"] for s in json.loads(batch.samples_json)]
        spool.ack(batch.batch_id)
    assert kept[-1] == "net-99"  # the newest survive
    assert "net-0" not in kept  # the oldest went first
    assert len(kept) + stats.dropped_samples == 100


def test_samples_older_than_the_age_bound_are_dropped(tmp_path: Path) -> None:
    clock = Clock()
    spool = Spool(tmp_path / "spool.db", max_age_s=3600, clock=clock)
    spool.put([wifi(1), wifi(2)])
    spool.form_batches()
    spool.put([wifi(3)])
    clock.now += 3601
    spool.put([wifi(4)])
    stats = spool.stats()
    assert stats.dropped_samples == 3
    assert stats.pending_samples == 1 and stats.batches == 0


def test_discarded_batch_counts_as_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    spool.put([wifi(1), wifi(2)])
    spool.form_batches()
    batch = spool.lease()
    assert batch is not None
    assert spool.discard(batch.batch_id, "collector answered 422") == 2
    assert spool.stats().dropped_samples == 2 and spool.stats().batches == 0


def test_corrupt_spool_is_set_aside_and_recreated(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    path.write_bytes(b"this is not a database" * 100)
    spool = Spool(path)
    assert spool.recovered_from is not None and spool.recovered_from.exists()
    assert spool.recovered_from.read_bytes().startswith(b"this is not")
    spool.put([wifi(1)])
    assert spool.stats().pending_samples == 1


def test_truncated_spool_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.put([wifi(i) for i in range(200)])
    spool.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * 4000 + data[4100:])
    reopened = Spool(path)
    reopened.put([wifi(1)])
    assert reopened.stats().pending_samples >= 1


WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from dexpulse.agent.spool import Spool
    from dexpulse.schema import WifiSample
    spool = Spool(Path(sys.argv[1]))
    i = 0
    while True:
        spool.put([WifiSample(ts=datetime.now(UTC), ssid=f"net-{i}")])
        if i % 7 == 0:
            spool.form_batches()
        print(i, flush=True)
        i += 1
""")


@pytest.mark.slow
def test_kill_9_loses_nothing_that_was_stored(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    confirmed = -1
    for line in proc.stdout:
        confirmed = int(line)
        if confirmed >= 300:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    spool = Spool(path)
    assert spool.recovered_from is None
    spool.form_batches()
    seen = []
    while (batch := spool.lease()) is not None:
        seen += [s["ssid"] for s in json.loads(batch.samples_json)]
        spool.ack(batch.batch_id)
    numbers = [int(s.split("-")[1]) for s in seen]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert set(range(confirmed + 1)) <= set(numbers)  # every confirmed put survived


def test_stats_report_age_and_size(tmp_path: Path) -> None:
    clock = Clock()
    spool = Spool(tmp_path / "spool.db", clock=clock)
    assert spool.stats().oldest_age_s is None
    spool.put([wifi(1)])
    clock.now += 90
    stats = spool.stats()
    assert stats.oldest_age_s == pytest.approx(90)
    assert 0 < stats.bytes < MiB


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_the_spool_is_readable_by_the_agent_only(tmp_path: Path) -> None:
    """It holds survey answers; the state directory is traversable for the tray."""
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.put([SystemSample(ts=datetime.now(UTC), cpu_percent=1.0)])
    for name in (path, Path(f"{path}-wal")):
        assert stat.S_IMODE(name.stat().st_mode) == 0o600, name
    spool.close()
    os.chmod(path, 0o644)  # an older agent's spool is tightened when opened
    Spool(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
