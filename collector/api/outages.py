"""The outage feed: ``GET /api/v1/outages``, one outage with its timeline, and a live stream.

Outages are written by the detection job (:mod:`..outages.job`), possibly on another
replica; this module only reads. The stream is Server-Sent Events over the ``outage_events``
table, polled once a second, so it works whichever replica detected the outage; a client
that reconnects with ``Last-Event-ID`` gets what it missed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, sessionmaker
from starlette.concurrency import run_in_threadpool

from dexpulse.schema.types import UtcDatetime

from ..errors import ApiError
from ..models import Device, OutageEvent, OutageRecord
from ..notify.destinations import Signal
from ..notify.wording import cohort_words, headline, impact, when
from .deps import SessionDep, SessionsDep, ViewerDep

router = APIRouter(prefix="/api/v1/outages", tags=["outages"])

Status = Literal["open", "ongoing", "recovering", "resolved"]
SCAN = 5000
POLL_S = 1.0
HEARTBEAT_S = 15.0


class OutageSummary(BaseModel):
    id: str
    status: Status
    signal: str
    cohort: dict[str, str]
    started_at: datetime
    detected_at: datetime
    resolved_at: datetime | None
    affected_devices: int
    exposed_devices: int
    summary: str = Field(description="The outage in one sentence.")
    explanation: dict[str, Any]
    suspects: list[dict[str, Any]]
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = Field(default=None, description="Console user who took it.")
    closed_by: str | None = Field(
        default=None, description="Console user who resolved it by hand (null: detection did)."
    )


class OutageList(BaseModel):
    outages: list[OutageSummary]


class TimelinePoint(BaseModel):
    minute: datetime
    failing: int
    exposed: int


class AffectedDevice(BaseModel):
    id: str
    hostname: str | None


class EventView(BaseModel):
    id: int
    event: str
    minute: datetime
    at: datetime


class OutageDetail(OutageSummary):
    explanation_text: list[str] = Field(description="Why this cohort, in words and numbers.")
    timeline: list[TimelinePoint]
    affected: list[AffectedDevice]
    events: list[EventView]


def _summary(row: OutageRecord) -> dict[str, Any]:
    doc = row.document
    event = "resolved" if row.status == "resolved" else "opened"
    return {
        **{k: v for k, v in doc.items() if k != "timeline"},
        "status": row.status,  # a console user may have resolved it since detection wrote doc
        "resolved_at": row.resolved_at,
        "acknowledged_at": row.acknowledged_at,
        "acknowledged_by": row.acknowledged_by,
        "closed_by": row.closed_by,
        "summary": f"{headline(doc)}: {impact(doc, event)}",
    }


def _cohort_filter(values: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, wanted = value.partition(":")
        if not sep or not key:
            raise ApiError(400, "invalid_cohort", f"cohort filter {value!r}: use name:value")
        pairs[key] = wanted
    return pairs


@router.get("", response_model=OutageList)
def list_outages(
    session: SessionDep,
    _: ViewerDep,
    status: Annotated[list[Status] | None, Query()] = None,
    signal: Annotated[list[Signal] | None, Query()] = None,
    since: Annotated[UtcDatetime | None, Query(description="started or still live since")] = None,
    cohort: Annotated[
        list[str] | None, Query(description="name:value, e.g. site:Amsterdam (all must match)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OutageList:
    """Outages, most recently started first."""
    found = find_outages(session, status, signal, since, _cohort_filter(cohort or []), limit)
    return OutageList(outages=found)


def find_outages(
    session: Session,
    status: list[Status] | None = None,
    signal: list[Signal] | None = None,
    since: datetime | None = None,
    wanted: dict[str, str] | None = None,
    limit: int = 100,
) -> list[OutageSummary]:
    """The feed's query (the console's feed uses it too). A cohort filter is applied here to
    the newest :data:`SCAN` outages; without one the database does the limit."""
    wanted = wanted or {}
    query = (
        select(OutageRecord)
        .options(defer(OutageRecord.devices))  # the affected ids: only one outage shows them
        .order_by(OutageRecord.started_at.desc(), OutageRecord.id.desc())
    )
    if status:
        query = query.where(OutageRecord.status.in_(status))
    if signal:
        query = query.where(OutageRecord.signal.in_(signal))
    if since is not None:
        query = query.where(
            (OutageRecord.started_at >= since)
            | (OutageRecord.status != "resolved")
            | (OutageRecord.resolved_at >= since)  # fmt: skip
        )
    found: list[OutageSummary] = []
    for row in session.scalars(query.limit(SCAN if wanted else limit)):
        if all(row.cohort.get(k) == v for k, v in wanted.items()):
            found.append(OutageSummary.model_validate(_summary(row)))
            if len(found) >= limit:
                break
    return found


def _explanation_text(doc: dict[str, Any]) -> list[str]:
    e = doc.get("explanation") or {}
    lines = [f"{headline(doc)}: {impact(doc, 'opened')}."]
    if e:
        rate, base = e.get("rate", 0.0), e.get("baseline_rate", 0.0)
        lines.append(
            f"In the minute it was judged, {e.get('failing')} of {e.get('exposed')} devices in "
            f"this cohort were failing ({rate:.1%}), against a usual {base:.2%} for this hour "
            "of the week."
        )
        rr = e.get("relative_risk")
        rr_text = "infinitely more (none elsewhere)" if rr is None else f"{rr}x as often"
        lines.append(
            f"Devices in it failed {rr_text} as the rest of the fleet; it explains "
            f"{e.get('explained_share', 0):.0%} of the excess failures."
        )
        for alt in e.get("alternatives", [])[:3]:
            lines.append(
                f"Also considered: {cohort_words(alt.get('cohort') or {})} (explains "
                f"{alt.get('explained_share', 0):.0%})."
            )
    for suspect in doc.get("suspects", []):
        # cohorts and times in words, as notifications say them, not as Python reprs
        lines.append(
            f"Suspect change: {cohort_words(suspect.get('cohort') or {})} first seen "
            f"{when(suspect.get('first_seen'))}."
        )
    return lines


@router.get("/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    sessions: SessionsDep,
    _: ViewerDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
) -> StreamingResponse:
    """Server-Sent Events: one ``event:`` per outage event (opened, rescoped, recovering,
    ongoing, resolved, reopened) with the outage as ``data:``; ``id:`` is the event id
    (reconnect with ``Last-Event-ID``). Without one, the stream starts with what comes next."""
    start = after
    if start is None and last_event_id is not None:
        # isascii: str.isdigit also accepts "²" (latin-1 in a header), which int() refuses
        if not (last_event_id.isascii() and last_event_id.isdigit()) or len(last_event_id) > 18:
            raise ApiError(400, "invalid_last_event_id", "Last-Event-ID is not an event id")
        start = int(last_event_id)
    if start is None:
        start = await run_in_threadpool(newest_event_id, sessions)
    return StreamingResponse(
        event_stream(request, sessions, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def newest_event_id(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.max(OutageEvent.id))) or 0)


def _events_after(sessions: sessionmaker[Session], after: int) -> list[OutageEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(OutageEvent)
                .where(OutageEvent.id > after)
                .order_by(OutageEvent.id)
                .limit(100)
            )
        )


async def event_stream(
    request: Request, sessions: sessionmaker[Session], after: int
) -> AsyncIterator[str]:
    yield "retry: 5000\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        events = await run_in_threadpool(_events_after, sessions, after)
        for event in events:
            after = event.id
            data = {**event.outage, "event": event.event, "event_at": event.at.isoformat()}
            data.pop("timeline", None)
            yield f"id: {event.id}\nevent: {event.event}\ndata: {json.dumps(data)}\n\n"
        if events:
            idle = 0.0
            continue
        idle += POLL_S
        if idle >= HEARTBEAT_S:
            idle = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@router.get("/{outage_id}", response_model=OutageDetail)
def get_outage(
    session: SessionDep,
    _: ViewerDep,
    outage_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")],
) -> OutageDetail:
    """One outage: its timeline of failing/exposed devices per minute, why this cohort,
    suspects, the devices affected and what happened to it."""
    return outage_detail(session, outage_id)


def outage_detail(
    session: Session, outage_id: str, affected_limit: int | None = None
) -> OutageDetail:
    """One outage as the API shows it; ``affected_limit`` lists only the first so many
    affected devices (``affected_devices`` still counts them all)."""
    row = session.get(OutageRecord, outage_id)
    if row is None:
        raise ApiError(404, "not_found", f"no outage with id {outage_id}")
    ids = [str(i) for i in row.devices.get("affected", [])[:affected_limit]]
    names: dict[str, str | None] = {}
    uuids = [u for u in map(_as_uuid, ids) if u is not None]
    for start in range(0, len(uuids), 500):
        chunk = uuids[start : start + 500]
        for device_id, hostname in session.execute(
            select(Device.id, Device.hostname).where(Device.id.in_(chunk))
        ):
            names[str(device_id)] = hostname
    events = session.scalars(
        select(OutageEvent).where(OutageEvent.outage_id == outage_id).order_by(OutageEvent.id)
    )
    return OutageDetail.model_validate(
        {
            **_summary(row),
            "explanation_text": _explanation_text(row.document),
            "timeline": row.document.get("timeline", []),
            "affected": [{"id": i, "hostname": names.get(i)} for i in ids],
            "events": [
                {"id": e.id, "event": e.event, "minute": e.minute, "at": e.at} for e in events
            ],
        }
    )
