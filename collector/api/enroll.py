"""``POST /api/v1/enroll``: exchange the fleet's enrollment secret for a device token."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from dexpulse.schema import EnrollRequest, EnrollResponse, ErrorResponse

from ..admin import consume_enrollment_secret, now
from ..models import Device
from ..security import DEVICE_TOKEN_PREFIX, new_token, token_hash
from .deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["enroll"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed JSON"},
    401: {"model": ErrorResponse, "description": "Unknown, revoked, expired or used-up secret"},
    422: {"model": ErrorResponse, "description": "The request does not match the schema"},
}


@router.post("/enroll", status_code=201, response_model=EnrollResponse, responses=_ERRORS)
def enroll(body: EnrollRequest, session: SessionDep) -> EnrollResponse:
    """Register a device; the token in the answer is shown once and stored only hashed."""
    secret = consume_enrollment_secret(session, body.enrollment_secret)
    token = new_token(DEVICE_TOKEN_PREFIX)
    device = Device(
        id=uuid.uuid4(),
        token_hash=token_hash(token),
        hostname=body.hostname,
        os=body.os,
        os_version=body.os_version,
        os_build=body.os_build,
        model=body.model,
        manufacturer=body.manufacturer,
        agent_version=body.agent_version,
        tags=dict(body.tags),
        enrolled_at=now(),
        enrollment_secret_id=secret.id,
    )
    session.add(device)
    return EnrollResponse(device_id=device.id, device_token=token)
