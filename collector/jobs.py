"""The collector's scheduled jobs (APScheduler, in a background thread of each process).

Every process schedules them; each run makes sure exactly one replica does each slot's work:
it takes the job's PostgreSQL advisory lock (a replica finding it held skips), then claims
the slot (the minute, or the hour for retention) the schedule fired for (``db.claim_slot``: a
replica that fires just after another's run committed finds the slot taken and skips).
Notification delivery is not slotted: it takes each outbox row under a row lock
(:mod:`.outages.delivery`). Each process counts its runs by outcome in ``/metrics``
(``dexpulse_job_runs_total``: ran, skipped, failed). Detection runs
five seconds after each minute, so batches that arrived just before the boundary are
committed; scoring half a minute later, out of its way; pulse surveys at 50 s; delivery of
notifications every ten seconds, in its own thread, so a slow receiver never holds detection
up. The retention job (partition upkeep on PostgreSQL, expired rows on both backends) runs
once before the app serves, so today's partitions exist before the first ingest, then hourly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .metrics import Metrics
from .outages.delivery import Deliverer
from .outages.job import DetectionJob, RunResult
from .retention import STARTUP_BUDGET_S, RetentionJob, RetentionRun
from .scores.job import ScoringJob
from .surveys.job import SurveyJob

log = logging.getLogger(__name__)
# one INFO line per job run, 7 a minute: only its warnings and errors are worth a log line
logging.getLogger("apscheduler").setLevel(logging.WARNING)


class Jobs:
    def __init__(
        self,
        detection: DetectionJob | None,
        deliverer: Deliverer | None,
        clock: Callable[[], datetime],
        scoring: ScoringJob | None = None,
        surveys: SurveyJob | None = None,
        retention: RetentionJob | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.detection = detection
        self.retention = retention
        self.surveys = surveys
        self.deliverer = deliverer
        self.scoring = scoring
        self.clock = clock
        self.scheduler: BackgroundScheduler | None = None

    def prepare(self) -> None:
        """What must be done before the app serves: the retention job's first run (today's and
        the coming days' partitions; pruning for at most ``STARTUP_BUDGET_S``, the hourly runs
        do the rest). Errors are logged: ingest works without it (DEFAULT partitions)."""
        if self.retention is not None:
            self.retention.stopping.clear()
            self._retention(STARTUP_BUDGET_S)()

    def start(self) -> None:
        """A fresh scheduler each time: an app's lifespan may be entered more than once, and
        a scheduler that was shut down cannot run jobs again."""
        if self.scheduler is not None:
            return
        scheduler = BackgroundScheduler(timezone=UTC)
        if self.detection is not None:
            scheduler.add_job(
                self._scheduled("detection", self.detection.run, MINUTE, _changed),
                CronTrigger(second=5, timezone=UTC),
                id="detection",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=50,
            )
        if self.scoring is not None:
            scheduler.add_job(
                self._scheduled("scoring", self.scoring.run, MINUTE),
                CronTrigger(second=35, timezone=UTC),
                id="scoring",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=50,
            )
        if self.surveys is not None:
            scheduler.add_job(
                self._scheduled("surveys", self.surveys.run, MINUTE),
                CronTrigger(second=50, timezone=UTC),
                id="surveys",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=50,
            )
        if self.retention is not None:
            self.retention.stopping.clear()
            scheduler.add_job(
                self._retention(),
                IntervalTrigger(hours=1, timezone=UTC),
                id="retention",
                max_instances=1,
                coalesce=True,
            )
        if self.deliverer is not None:
            scheduler.add_job(
                self.deliverer.tick,
                IntervalTrigger(seconds=10, timezone=UTC),
                id="notifications",
                max_instances=1,
                coalesce=True,
            )
        scheduler.start()
        self.scheduler = scheduler

    def stop(self) -> None:
        if self.scheduler is None:
            return
        if self.retention is not None:
            self.retention.stopping.set()  # a long run of deletes ends after its current chunk
        self.scheduler.shutdown(wait=True)
        self.scheduler = None
        if self.detection is not None:
            try:
                self.detection.snapshot()
            except Exception:  # the database may be gone at shutdown; the next run resumes
                log.exception("could not snapshot the detector at shutdown")

    def _retention(self, budget_s: float | None = None) -> Callable[[], None]:
        job = self.retention
        assert job is not None
        return self._scheduled(
            "retention", lambda now, slot: job.run(now, budget_s, slot), HOUR, _summary
        )

    def _scheduled(
        self,
        name: str,
        run: Callable[[datetime, datetime], object | None],
        period: timedelta,
        describe: Callable[[object], str | None] = lambda _: None,
    ) -> Callable[[], None]:
        """What the scheduler calls: the run for the slot of ``period`` (minute, hour) the
        clock is in, its outcome counted; errors are logged, never raised (the next slot's
        run starts from what the database holds)."""

        def tick() -> None:
            now = self.clock()
            slot = datetime.fromtimestamp(now.timestamp() // period.total_seconds()
                                          * period.total_seconds(), UTC)  # fmt: skip
            try:
                result = run(now, slot)
            except Exception:
                log.exception("%s run failed; the next run starts from the database", name)
                outcome = "failed"
            else:
                outcome = "skipped" if result is None else "ran"
                if result is not None and (line := describe(result)):
                    log.info("%s: %s", name, line)
            if self.metrics is not None:
                self.metrics.job_runs.labels(name, outcome).inc()

        return tick


MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def _changed(result: object) -> str | None:
    if isinstance(result, RunResult) and result.changed:
        return f"{len(result.changed)} outage(s) changed"
    return None


def _summary(result: object) -> str | None:
    return result.summary() if isinstance(result, RetentionRun) and not result.idle else None


def utc_now() -> datetime:
    return datetime.now(UTC)
