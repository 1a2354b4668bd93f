"""The survey job: once a minute, put the surveys active campaigns owe to devices.

One replica runs each minute (an advisory lock, then ``db.claim_slot``); were two to run it,
nothing would break: creating a (device, survey) pair twice is impossible (a unique key,
inserted with ON CONFLICT DO NOTHING), and expiring is idempotent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from ..db import claim_slot, transaction, try_job_lock
from .store import put_surveys

log = logging.getLogger(__name__)
LOCK_KEY = 0x6465_7871  # "dexq"


class SurveyJob:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def run(self, now: datetime, slot: datetime | None = None) -> int | None:
        """Put what is owed as of ``now``; how many surveys were created (None when another
        replica is running it, or has run the scheduled ``slot`` already)."""
        with transaction(self.sessions) as session:
            if not try_job_lock(session, LOCK_KEY):
                return None
            if slot is not None and not claim_slot(session, "surveys", slot):
                return None
            created = put_surveys(session, now)
        if created:
            log.info("put %d pulse surveys to devices", created)
        return created
