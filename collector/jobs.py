"""The collector's scheduled jobs (APScheduler, in a background thread of each process).

Every process schedules them; the jobs themselves make sure only one replica does the work
(see :mod:`.outages.job`, :mod:`.outages.delivery` and :mod:`.scores.job`). Detection runs
five seconds after each minute, so batches that arrived just before the boundary are
committed; scoring half a minute later, out of its way; pulse surveys at 50 s; delivery of
notifications every ten seconds, in its own thread, so a slow receiver never holds detection
up. The retention job (partition upkeep on PostgreSQL, expired rows on both backends) runs
once before the app serves, so today's partitions exist before the first ingest, then hourly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .outages.delivery import Deliverer
from .outages.job import DetectionJob, schedule_callable
from .retention import STARTUP_BUDGET_S, RetentionJob
from .retention import schedule_callable as retention_callable
from .scores.job import ScoringJob
from .scores.job import schedule_callable as scoring_callable
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
    ) -> None:
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
            retention_callable(self.retention, self.clock, STARTUP_BUDGET_S)()

    def start(self) -> None:
        """A fresh scheduler each time: an app's lifespan may be entered more than once, and
        a scheduler that was shut down cannot run jobs again."""
        if self.scheduler is not None:
            return
        scheduler = BackgroundScheduler(timezone=UTC)
        if self.detection is not None:
            scheduler.add_job(
                schedule_callable(self.detection, self.clock),
                CronTrigger(second=5, timezone=UTC),
                id="detection",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=50,
            )
        if self.scoring is not None:
            scheduler.add_job(
                scoring_callable(self.scoring, self.clock),
                CronTrigger(second=35, timezone=UTC),
                id="scoring",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=50,
            )
        if self.surveys is not None:
            surveys = self.surveys
            scheduler.add_job(
                lambda: surveys.run(self.clock()),
                CronTrigger(second=50, timezone=UTC),
                id="surveys",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=50,
            )
        if self.retention is not None:
            self.retention.stopping.clear()
            scheduler.add_job(
                retention_callable(self.retention, self.clock),
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


def utc_now() -> datetime:
    return datetime.now(UTC)
