"""Holding the garbage collector off during job runs, and giving it back."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from dexpulse.collector.gcpause import gc_paused


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_collection_is_off_during_a_run_and_back_on_after_it() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_runs_turn_it_back_on_only_when_the_last_ends() -> None:
    gc.enable()
    inside = threading.Event()
    release = threading.Event()

    def other_run() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_run)
    with gc_paused():
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other run is still going
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_an_error_in_the_run_still_turns_it_back_on() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("run failed")
    assert gc.isenabled()


def test_a_process_that_turned_collection_off_keeps_it_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()
