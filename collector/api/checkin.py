"""Agent check-in (``GET /api/v1/agent/config``) and the admin API for fleet agent settings.

A check-in answers with the device's settings and its pending pulse surveys. Agents poll with
``If-None-Match``; an unchanged answer (settings and surveys) is a bodiless 304, so frequent
check-ins stay cheap. A check-in also counts as contact (``last_seen_at``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Header, Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from dexpulse.schema.checkin import CheckinResponse, FleetAgentConfig

from ..admin import now
from ..agent_config import settings_for
from ..errors import ApiError
from ..models import AgentConfigDocument, Device
from ..surveys.store import pending_for
from .deps import AdminDep, DeviceDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["agent config"])

_ROW = 1


def load_fleet_config(session: Session) -> FleetAgentConfig:
    row = session.get(AgentConfigDocument, _ROW)
    return FleetAgentConfig() if row is None else FleetAgentConfig.model_validate(row.document)


@router.get("/agent/config", response_model=CheckinResponse, responses={304: {}})
def checkin(
    session: SessionDep,
    caller: DeviceDep,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """The settings that apply to the calling device (304 if its ETag is current)."""
    device = session.get(Device, caller.device_id)
    if device is None:
        raise ApiError(401, "unknown_device", "the device no longer exists; enroll again")
    session.execute(update(Device).where(Device.id == device.id).values(last_seen_at=now()))
    answer = CheckinResponse(
        settings=settings_for(load_fleet_config(session), device.tags),
        surveys=pending_for(session, device.id, now()),
    )
    body = answer.model_dump_json(exclude_none=True)
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


@router.get("/agent-config", response_model=FleetAgentConfig, response_model_exclude_none=True)
def get_fleet_config(session: SessionDep, _: AdminDep) -> FleetAgentConfig:
    """The fleet's agent settings: defaults and rules by tag."""
    return load_fleet_config(session)


@router.put("/agent-config", response_model=FleetAgentConfig, response_model_exclude_none=True)
def put_fleet_config(session: SessionDep, _: AdminDep, body: FleetAgentConfig) -> FleetAgentConfig:
    """Replace the fleet's agent settings; agents pick them up at their next check-in."""
    row = session.get(AgentConfigDocument, _ROW)
    document = body.model_dump(mode="json", exclude_none=True)
    if row is None:
        session.add(AgentConfigDocument(id=_ROW, document=document, updated_at=now()))
    else:
        row.document, row.updated_at = document, now()
    return body
