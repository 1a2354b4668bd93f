"""The cyclic garbage collector held off while a scheduled job runs.

A job run builds hundreds of thousands of short-lived containers (sample rows, their JSON,
tallies) while large long-lived structures sit in the process (the detector's memory). Each
collection the allocations trigger walks what is alive, so at 10,000 devices a third of the
scoring job's minute went to collections that freed almost nothing: reference counting frees
the run's objects as it drops them, and none of them form cycles worth waiting for.

:func:`gc_paused` turns automatic collection off for the length of a run and back on after
it (the last of overlapping runs turns it back on); what cycles a run leaves are collected by
the next automatic collection as before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
