"""``dexpulse collector replay``: recorded batches through ingest and detection, in event time.

Each line of the input is one wire-format batch (what ``dexpulse simulate --output`` writes,
or batches captured from agents). Replay stores them as the ingest endpoint does (same
validation, same duplicate rule, same placement of samples in event time), with the
batch's ``sent_at`` standing for its arrival, and registers each device on its first batch.
Detection runs as the collector's scheduled job does, at minute boundaries of that clock:
the job judges boundary ``T`` on the batches that arrived before ``T`` however often it runs
(see :mod:`.job`), so the outages equal what live ingestion of the same batches would have
produced. Batches are taken in ``sent_at`` order; a file that is not in that order is
indexed first and read in order.

A line that is not a valid batch is reported with its line number and skipped; the rest is
replayed. Replay into a database no collector is serving: both would run detection.
"""

from __future__ import annotations

import gzip
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from pydantic import AwareDatetime, BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dexpulse.schema import Batch

from ..detection.engine import from_minute, to_minute
from ..errors import clean_validation_errors, summarize
from ..ingest import store_batch
from ..models import Device, OutageRecord
from ..security import DEVICE_TOKEN_PREFIX, new_token, token_hash
from ..timeline import TimePolicy
from .job import DetectionJob

COMMIT_EVERY = 500


@dataclass
class ReplayResult:
    batches: int = 0
    duplicates: int = 0
    samples: int = 0
    devices_registered: int = 0
    rejected: list[str] = field(default_factory=list)
    outage_ids: list[str] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


class _SentAt(BaseModel):
    """All the ordering pass reads of a line: pydantic's parser skips the rest without
    building it (about an eighth of the cost of parsing the whole batch)."""

    sent_at: AwareDatetime


def _sent_at(line: str) -> datetime | None:
    try:
        return _SentAt.model_validate_json(line).sent_at
    except ValidationError:
        return None  # reported with the whole batch's errors when the line is read


def ordered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of ``path``'s non-blank lines in ``sent_at`` order (stable)."""
    index: list[tuple[datetime, int]] = []
    in_order, previous = True, None
    with _open(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            sent = _sent_at(line)
            if sent is None:
                continue  # reported when read in the second pass
            if previous is not None and sent < previous:
                in_order = False
            previous = sent
            index.append((sent, number))
    wanted = {n for _, n in index}
    if in_order:
        with _open(path) as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield number, line
        return
    lines: dict[int, str] = {}
    with _open(path) as handle:  # out of order: hold the text, release it in order
        for number, line in enumerate(handle, 1):
            if line.strip():
                lines[number] = line
    for number in sorted(set(lines) - wanted):
        yield number, lines.pop(number)  # invalid ones first, to be reported
    for _, number in sorted(index):
        yield number, lines.pop(number)


def replay(
    path: Path,
    sessions: sessionmaker[Session],
    job: DetectionJob,
    policy: TimePolicy,
    every: timedelta = timedelta(hours=1),
    progress: Callable[[ReplayResult], None] | None = None,
) -> ReplayResult:
    result = ReplayResult()
    known: set[uuid.UUID] = set()
    found: dict[str, None] = {}
    boundary: datetime | None = None
    session: Session | None = None
    pending = 0

    def commit() -> None:
        nonlocal session, pending
        if session is not None:
            session.commit()
            session.close()
        session, pending = None, 0

    def run_job(now: datetime) -> None:
        commit()
        ran = job.run(now)
        if ran is not None:
            found.update((o.id, None) for o in ran.changed)

    try:
        for number, line in ordered_lines(path):
            try:
                batch = Batch.model_validate_json(line)
            except ValidationError as exc:
                errors = clean_validation_errors(list(exc.errors()))
                result.rejected.append(f"line {number}: {summarize(errors)}")
                continue
            sent = batch.sent_at
            if boundary is None:
                boundary = from_minute(to_minute(sent)) + every
                result.first = sent
            while sent >= boundary:
                run_job(boundary)
                boundary += every
                if progress is not None:
                    progress(result)
            if session is None:
                session = sessions()
                session.begin()
            if batch.device_id not in known:
                result.devices_registered += _register(session, batch)
                known.add(batch.device_id)
            stored = store_batch(session, batch.device_id, batch, sent, policy)
            result.batches += 1
            result.duplicates += stored.duplicate
            result.samples += stored.accepted
            result.last = sent
            pending += 1
            if pending >= COMMIT_EVERY:
                commit()
        if result.last is not None:
            run_job(result.last)  # what live had shown when the last batch arrived
        job.snapshot()
    finally:
        if session is not None:
            session.rollback()
            session.close()
    result.outage_ids = list(found)
    return result


def _register(session: Session, batch: Batch) -> int:
    """Create the batch's device unless the database has it; 1 if created."""
    if session.scalar(select(Device.id).where(Device.id == batch.device_id)) is not None:
        return 0
    agent = batch.agent
    session.add(
        Device(
            id=batch.device_id,
            token_hash=token_hash(new_token(DEVICE_TOKEN_PREFIX)),  # nobody holds this token
            hostname=agent.hostname or f"replayed-{str(batch.device_id)[:8]}",
            os=agent.os,
            os_version=agent.os_version,
            os_build=agent.os_build,
            model=agent.model,
            manufacturer=agent.manufacturer,
            agent_version=agent.version,
            tags=dict(batch.tags or {}),
            enrolled_at=batch.sent_at,
        )
    )
    session.flush()
    return 1


def outages_json(sessions: sessionmaker[Session], ids: list[str]) -> list[dict[str, object]]:
    """The stored outages ``ids``, as the API shows them, in order of detection."""
    with sessions() as session:
        rows = session.scalars(select(OutageRecord).where(OutageRecord.id.in_(ids))).all()
    rows = sorted(rows, key=lambda r: (r.detected_at, r.id))
    return [dict(r.document) for r in rows]
