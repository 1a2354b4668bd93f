"""Group commit: the batches of many ingest requests written in one transaction.

A laptop's batch is small (about 30 samples); written one transaction each, a large fleet's
ingest is bound by what every transaction costs whatever its size: the round trips, the
commit, the statements' own overhead. So each collector process has one writer thread.
Requests hand it their validated batches (:func:`..ingest.prepare`) and wait; the thread
takes whatever has queued up while it wrote the last group (up to ``max_group``) and writes
it with :func:`..ingest.write` in one transaction, then answers each request. Under light
load a group is one batch and nothing waits longer than before; under heavy load groups grow
by themselves, and the cost per batch falls.

Nothing is acknowledged before its transaction commits. A batch refused on its own merits
(another device's batch id, a revoked device) is refused alone. If the group's transaction
fails otherwise, each of its batches is written again in a transaction of its own, so a batch
the database rejects cannot fail the others; a database that cannot be reached fails them all
at once (503: their agents retry later).
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dexpulse.schema import IngestResponse

from .db import transaction
from .errors import ApiError
from .ingest import Pending, write

log = logging.getLogger(__name__)

MAX_GROUP = 200
Answer = Future[IngestResponse | ApiError]


class BatchWriter:
    def __init__(self, sessions: sessionmaker[Session], max_group: int = MAX_GROUP) -> None:
        self.sessions = sessions
        self.max_group = max_group
        self._queue: queue.SimpleQueue[tuple[Pending, Answer] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.groups = 0
        """Transactions written (a count for tests and the benchmark)."""

    def submit(self, pending: Pending) -> Answer:
        """Queue ``pending``; the future answers once its transaction has committed (or
        raises what made it fail). Starts the thread on first use."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
                self._thread.start()
        answer: Answer = Future()
        self._queue.put((pending, answer))
        return answer

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
            self._write(group)
            if stop:
                return

    def _write(self, group: list[tuple[Pending, Answer]]) -> None:
        try:
            with transaction(self.sessions) as session:
                results = write(session.connection(), [p for p, _ in group], session)
        except OperationalError as exc:  # the database is unreachable: no use trying each
            for _, answer in group:
                answer.set_exception(exc)
            return
        except Exception as exc:
            if len(group) > 1:
                log.warning("a group of %d batches failed (%s); writing each alone", len(group),
                            type(exc).__name__)  # fmt: skip
                for item in group:
                    self._write([item])
                return
            group[0][1].set_exception(exc)
            return
        self.groups += 1
        for (_, answer), result in zip(group, results, strict=True):
            answer.set_result(result)
