"""The agent's scheduler: intervals, coalescing, replacement from inside a job, isolation."""

from __future__ import annotations

import threading

from dexpulse.agent.scheduler import Scheduler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jobs_run_at_their_intervals_in_due_order() -> None:
    clock = Clock()
    runs: list[tuple[str, float]] = []
    sched = Scheduler(clock)
    sched.every("a", lambda: runs.append(("a", clock.now)), 10, first_in_s=1)
    sched.every("b", lambda: runs.append(("b", clock.now)), 25, first_in_s=2)
    for _ in range(60):
        clock.now += 1
        sched.run_due()
    assert [t for name, t in runs if name == "a"] == [1001, 1011, 1021, 1031, 1041, 1051]
    assert [t for name, t in runs if name == "b"] == [1002, 1027, 1052]


def test_missed_runs_are_coalesced_after_a_sleep() -> None:
    clock = Clock()
    runs: list[float] = []
    sched = Scheduler(clock)
    sched.every("a", lambda: runs.append(clock.now), 60)
    sched.run_due()
    clock.now += 3600  # the laptop slept for an hour
    assert sched.run_due() == 1
    assert sched.next_due() == clock.now + 60  # counted from the late run
    assert runs == [1000.0, 4600.0]


def test_a_job_can_replace_or_remove_jobs_while_running() -> None:
    clock = Clock()
    calls: list[str] = []
    sched = Scheduler(clock)

    def reconfigure() -> None:
        calls.append("reconfigure")
        sched.every("sample", lambda: calls.append("fast"), 5)
        sched.remove("reconfigure")

    sched.every("sample", lambda: calls.append("slow"), 100, first_in_s=1)
    sched.every("reconfigure", reconfigure, 10, first_in_s=0)
    for _ in range(12):
        sched.run_due()
        clock.now += 1
    assert calls[0] == "reconfigure" and "slow" not in calls
    assert calls.count("fast") == 3  # at 1000 (replaced, due at once), 1005, 1010
    assert "reconfigure" not in sched.jobs


def test_a_failing_job_does_not_stop_the_others() -> None:
    clock = Clock()
    calls: list[str] = []

    def boom() -> None:
        calls.append("boom")
        raise RuntimeError("sampler exploded")

    sched = Scheduler(clock)
    sched.every("boom", boom, 1)
    sched.every("ok", lambda: calls.append("ok"), 1)
    for _ in range(3):
        sched.run_due()
        clock.now += 1
    assert calls.count("boom") == 3 and calls.count("ok") == 3


def test_run_until_stops_when_told() -> None:
    sched = Scheduler()
    stop = threading.Event()
    ticks: list[int] = []

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 3:
            stop.set()

    sched.every("tick", tick, 0.01)
    runner = threading.Thread(target=sched.run_until, args=(stop,))
    runner.start()
    runner.join(timeout=5)
    assert not runner.is_alive() and len(ticks) == 3
