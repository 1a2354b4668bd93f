"""The survey job: once a minute, put the surveys active campaigns owe to devices.

Every replica may run it: creating a (device, survey) pair twice is impossible (a unique key,
inserted with ON CONFLICT DO NOTHING), and expiring is idempotent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from ..db import transaction
from .store import put_surveys

log = logging.getLogger(__name__)


class SurveyJob:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def run(self, now: datetime) -> int:
        """Put what is owed as of ``now``; how many surveys were created."""
        with transaction(self.sessions) as session:
            created = put_surveys(session, now)
        if created:
            log.info("put %d pulse surveys to devices", created)
        return created
