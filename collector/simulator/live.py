"""Live mode: enroll every simulated laptop with a collector and post its batches in real time.

Why: to watch detection work as it would in production (``make demo``), and to load-test
ingestion with a realistic mix of small, late and bursty batches. Each device enrolls once
with the enrollment secret (``POST /api/v1/enroll``, as ``dexpulse agent enroll`` does) and
gets its own id and token; its batches are then posted gzip'd to ``/api/v1/ingest`` with that
token, at the moment the simulation says they were sent, the clock scaled by ``speed``
(``speed=60``: one simulated minute per second). A bounded pool of workers posts; when all
are busy the generator waits, so a slow collector slows the run down rather than piling up
requests.

Like the agent: ``sent_at`` is stamped with the real clock at each attempt (the device's
clock is right; only the simulated timeline is compressed), and 429, 503, other 5xx and
network errors are retried with full-jitter backoff (1 s doubling to 60 s, or ``Retry-After``
when given) up to ``MAX_ATTEMPTS``; other answers are counted as rejected. The batch keeps its
``batch_id`` across retries, so a retry after a lost answer is stored once.

Event time: samples keep their simulated ``ts``. The default start in live mode is chosen so
the simulated timeline ends at the real "now" (``now - duration * (1 - 1/speed)``): at any
moment the simulated clock is at or behind the real one, so the collector never sees a sample
from the future, and within its age limit for durations up to its retention.
"""

from __future__ import annotations

import gzip
import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dexpulse.agent.transport import HttpResponse, Transport, TransportError, UrllibTransport
from dexpulse.agent.uploader import RETRYABLE, full_jitter, retry_after

from .engine import OutBatch, Simulation

MAX_ATTEMPTS = 12
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0


class LiveError(RuntimeError):
    """Live mode cannot go on (enrollment refused); ``detail`` is shown by the CLI."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class LiveStats:
    enrolled: int = 0
    posted: int = 0
    retries: int = 0
    rejected: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lag_s: float = 0.0
    """How far behind the simulated schedule the last batch went out."""


class LivePoster:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        speed: float = 1.0,
        concurrency: int = 8,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed <= 0 or concurrency < 1:
            raise ValueError("speed must be positive and concurrency at least 1")
        self.url = url.rstrip("/")
        self.secret = secret
        self.speed = speed
        self.concurrency = concurrency
        self.transport = transport or UrllibTransport(user_agent="dexpulse-simulator")
        self.clock = clock
        self.sleep = sleep
        self.stats = LiveStats()
        self._lock = threading.Lock()
        self._rng = random.Random()  # backoff jitter only: never part of the simulated data

    def _request(
        self, path: str, body: Callable[[], bytes], headers: dict[str, str]
    ) -> HttpResponse | str:
        """POST ``body()`` (built anew for each attempt) with retries; the final answer, or
        the reason it never came."""
        failures = 0
        while True:
            wait: float | None = None
            try:
                answer = self.transport.request(
                    "POST", self.url + path, body=body(), headers=headers
                )
            except TransportError as exc:
                reason = f"network: {exc}"
            else:
                if answer.status not in RETRYABLE:
                    return answer
                wait = retry_after(answer.header("Retry-After"), self.clock())
                reason = f"HTTP {answer.status}"
            failures += 1
            if failures >= MAX_ATTEMPTS:
                return reason
            with self._lock:
                self.stats.retries += 1
                jitter = full_jitter(failures, BACKOFF_MIN_S, BACKOFF_MAX_S, self._rng)
            self.sleep(min(BACKOFF_MAX_S, wait) if wait is not None else jitter)

    def enroll(self, sim: Simulation) -> dict[str, tuple[str, str]]:
        """Enroll every device: simulated id -> (collector's device id, token)."""

        def one(index: int) -> tuple[str, str]:
            d = sim.fleet.devices[index]
            agent = d.agent()
            body = {
                "enrollment_secret": self.secret,
                "agent_version": agent.pop("version"),
                **agent,
                "tags": d.tags,
            }
            payload = json.dumps(body).encode()
            answer = self._request(
                "/api/v1/enroll", lambda: payload, {"Content-Type": "application/json"}
            )
            if isinstance(answer, str) or answer.status != 201:
                said = (
                    answer if isinstance(answer, str) else f"{answer.status} {answer.body[:200]!r}"
                )
                raise LiveError(f"enrolling {d.hostname} with {self.url} failed: {said}")
            reply = json.loads(answer.body)
            return str(reply["device_id"]), str(reply["device_token"])

        with ThreadPoolExecutor(self.concurrency) as pool:
            results = list(pool.map(one, range(len(sim.fleet.devices))))
        self.stats.enrolled = len(results)
        return {d.device_id: r for d, r in zip(sim.fleet.devices, results, strict=True)}

    def _post(self, sim: Simulation, batch: OutBatch, device_id: str, token: str) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }

        def body() -> bytes:  # sent_at is the clock at each attempt, as the agent stamps it
            now = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")
            now = now.replace("+00:00", "Z")
            return gzip.compress(sim.line(batch, sent_at=now, device_id=device_id).encode(), 6)

        try:
            answer: HttpResponse | str = self._request("/api/v1/ingest", body, headers)
        except Exception as exc:  # a worker must not die silently: count it and go on
            answer = f"{type(exc).__name__}: {exc}"
        with self._lock:
            if isinstance(answer, str):
                self.stats.failed += 1
                self.stats.errors[answer] = self.stats.errors.get(answer, 0) + 1
            elif answer.status == 200:
                self.stats.posted += 1
            else:
                self.stats.rejected += 1
                key = f"HTTP {answer.status}"
                self.stats.errors[key] = self.stats.errors.get(key, 0) + 1

    def run(self, sim: Simulation) -> dict[str, str]:
        """Enroll, then post every batch on schedule; simulated id -> collector id."""
        creds = self.enroll(sim)
        ids = [creds[d.device_id] for d in sim.fleet.devices]
        slots = threading.BoundedSemaphore(self.concurrency * 2)
        origin_wall, origin_sim = self.clock(), sim.first * 60_000
        with ThreadPoolExecutor(self.concurrency) as pool:
            for batch in sim.batches():
                due = origin_wall + (batch.sent_ms - origin_sim) / 1000 / self.speed
                wait = due - self.clock()
                if wait > 0:
                    self.sleep(wait)
                self.stats.lag_s = max(0.0, -wait)
                slots.acquire()
                device_id, token = ids[batch.device]
                future = pool.submit(self._post, sim, batch, device_id, token)
                future.add_done_callback(lambda _: slots.release())
        return {own: collector for own, (collector, _) in creds.items()}
