"""Sending spooled batches to the collector: at least once, idempotent, polite in outages.

Each round forms batches from waiting samples and sends the due ones, oldest first, gzip'd,
with the batch's stored ``batch_id`` (so a resend is stored once). What the collector answers
decides what happens to the batch:

* 200: acknowledged, deleted from the spool (a ``duplicate: true`` answer too).
* network error, 5xx, 429: kept; the collector counts as down; the next attempt waits a random
  time in [0, min(max, min * 2**failures)] ("full jitter"), or ``Retry-After`` when given.
* 401: the token is no longer valid; re-enroll if a secret is configured, then resend.
* other 4xx: the collector will never take this batch; it is dropped and counted, so one bad
  batch cannot block the queue forever.

When the collector answers again after an outage (a cheap ``GET /healthz``), sending waits a
further random 0..``recovery_spread_s`` seconds, so a fleet does not return all at once.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from dexpulse.schema import SCHEMA_VERSION, AgentInfo

from .config import UploadConfig
from .enroll import Credentials
from .spool import Spool, SpooledBatch
from .transport import HttpResponse, Transport, TransportError

log = logging.getLogger(__name__)

RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


@dataclass
class UploadState:
    """What the uploader knows about the collector; shown by ``dexpulse agent status``."""

    failures: int = 0
    not_before: float = 0.0
    last_success: float | None = None
    last_error: str | None = None
    sent_batches: int = 0
    sent_bytes: int = 0
    rejected_batches: int = 0
    needs_enrollment: bool = False
    rejected_reasons: dict[str, int] = field(default_factory=dict)


def full_jitter(failures: int, low: float, high: float, rng: random.Random) -> float:
    """Delay before retry number ``failures`` (1 = first retry): uniform in [0, cap]."""
    cap = min(high, low * 2 ** max(0, failures - 1))
    return rng.uniform(0, cap)


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), if usable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class Uploader:
    def __init__(
        self,
        spool: Spool,
        transport: Transport,
        credentials: Callable[[], Credentials | None],
        agent: Callable[[], AgentInfo],
        tags: dict[str, str],
        config: UploadConfig,
        *,
        reenroll: Callable[[], Credentials | None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.spool = spool
        self.transport = transport
        self.credentials = credentials
        self.agent = agent
        self.tags = tags
        self.config = config
        self.reenroll = reenroll
        self.clock = clock
        self.rng = rng or random.Random()
        self.state = UploadState()

    def run_once(self, max_batches: int | None = None) -> int:
        """One upload round (at most ``max_batches``); the batches the collector acknowledged."""
        self.spool.form_batches(self.config.max_batch_bytes)
        creds = self.credentials()
        now = self.clock()
        if creds is None or now < self.state.not_before:
            return 0
        if self.state.failures and not self._collector_is_back(creds):
            return 0
        sent = 0
        while (max_batches is None or sent < max_batches) and (
            batch := self.spool.lease()
        ) is not None:
            outcome = self._send(creds, batch)
            if outcome == "sent":
                sent += 1
            elif outcome == "reenrolled":
                creds = self.credentials() or creds
            elif outcome == "stop":
                break
        return sent

    def _collector_is_back(self, creds: Credentials) -> bool:
        """After an outage, ask /healthz before resending; spread the return at random."""
        try:
            answer = self.transport.request(
                "GET", f"{creds.collector_url}/healthz", timeout=self.config.timeout_s
            )
            up = answer.status == 200
        except TransportError:
            up = False
        if not up:
            self._failed("collector still unreachable", None)
            return False
        log.info("collector is reachable again after %d failures", self.state.failures)
        self.state.failures = 0
        self.state.not_before = self.clock() + self.rng.uniform(0, self.config.recovery_spread_s)
        return self.state.not_before <= self.clock()

    def _body(self, creds: Credentials, batch: SpooledBatch) -> bytes:
        envelope = {
            "schema_version": SCHEMA_VERSION,
            "device_id": creds.device_id,
            "batch_id": batch.batch_id,
            "seq": batch.seq,
            "sent_at": datetime.fromtimestamp(self.clock(), UTC).isoformat(),
            "agent": self.agent().model_dump(mode="json", exclude_none=True),
            "tags": self.tags,
        }
        head = json.dumps(envelope, separators=(",", ":"))
        return gzip.compress(f'{head[:-1]},"samples":{batch.samples_json}}}'.encode(), 6)

    def _send(self, creds: Credentials, batch: SpooledBatch) -> str:
        body = self._body(creds, batch)
        headers = {
            "Authorization": f"Bearer {creds.device_token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        try:
            response = self.transport.request(
                "POST",
                f"{creds.collector_url}/api/v1/ingest",
                body=body,
                headers=headers,
                timeout=self.config.timeout_s,
            )
        except TransportError as exc:
            self._failed(f"cannot reach the collector: {exc}", None, batch)
            return "stop"
        status = response.status
        if status == 200:
            self.spool.ack(batch.batch_id)
            self.state.sent_batches += 1
            self.state.sent_bytes += len(body)
            self.state.last_success = self.clock()
            self.state.last_error = None
            self.state.needs_enrollment = False
            return "sent"
        if status in RETRYABLE:
            wait = retry_after(response.header("Retry-After"), self.clock())
            self._failed(f"collector answered {status}", wait, batch)
            return "stop"
        if status == 401:
            return self._unauthorized(batch)
        reason = _error_code(response)
        self.spool.discard(batch.batch_id, f"collector answered {status} {reason}")
        self.state.rejected_batches += 1
        self.state.rejected_reasons[reason] = self.state.rejected_reasons.get(reason, 0) + 1
        return "rejected"

    def _unauthorized(self, batch: SpooledBatch) -> str:
        self.spool.release(batch.batch_id, retry_at=0)
        fresh = self.reenroll() if self.reenroll else None
        if fresh is None:
            # Not an outage: the collector is up but does not know us. Ask again now and then.
            self.state.needs_enrollment = True
            self.state.last_error = "the collector refused the device token; enroll again"
            self.state.not_before = self.clock() + self.config.backoff_max_s
            log.error(self.state.last_error)
            return "stop"
        log.warning("device token refused; re-enrolled as %s", fresh.device_id)
        return "reenrolled"

    def _failed(self, why: str, wait: float | None, batch: SpooledBatch | None = None) -> None:
        self.state.failures += 1
        self.state.last_error = why
        if wait is None:
            wait = full_jitter(
                self.state.failures, self.config.backoff_min_s, self.config.backoff_max_s, self.rng
            )
        self.state.not_before = self.clock() + wait
        if batch is not None:
            self.spool.release(batch.batch_id, retry_at=self.state.not_before)
        log.warning("%s; next attempt in %.1f s", why, wait)


def _error_code(response: HttpResponse) -> str:
    try:
        return str(json.loads(response.body).get("error", "unknown"))
    except (ValueError, AttributeError):
        return "unknown"
