"""Request dependencies: database sessions and the two kinds of caller.

Devices authenticate with their device token; IT users and scripts with an API key whose role
is ``admin`` or ``viewer`` (admins may do everything viewers may).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..admin import now
from ..errors import ApiError
from ..ingest import REVOKED
from ..metrics import Metrics
from ..models import ApiKey, Device
from ..security import Role, bearer_token, token_hash
from ..settings import CollectorSettings


def sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


def settings(request: Request) -> CollectorSettings:
    value: CollectorSettings = request.app.state.settings
    return value


def metrics(request: Request) -> Metrics:
    value: Metrics = request.app.state.metrics
    return value


def db_session(factory: Annotated[sessionmaker[Session], Depends(sessions)]) -> Iterator[Session]:
    """A session committed when the handler returns normally, rolled back otherwise."""
    with factory() as session, session.begin():
        yield session


# scope="function": the transaction commits before the response is sent, so a client that
# is told "enrolled" or "revoked" can rely on it (the default scope commits afterwards).
SessionDep = Annotated[Session, Depends(db_session, scope="function")]
SessionsDep = Annotated[sessionmaker[Session], Depends(sessions)]
SettingsDep = Annotated[CollectorSettings, Depends(settings)]
MetricsDep = Annotated[Metrics, Depends(metrics)]
AuthHeader = Annotated[str | None, Header(alias="Authorization", include_in_schema=False)]


def _token(authorization: str | None) -> str:
    token = bearer_token(authorization)
    if token is None:
        raise ApiError(
            401,
            "missing_token",
            "send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


@dataclass(frozen=True)
class DeviceCaller:
    device_id: uuid.UUID


def device_caller(factory: SessionsDep, authorization: AuthHeader = None) -> DeviceCaller:
    """The device a token belongs to; 401 for unknown or revoked tokens."""
    token = _token(authorization)
    with factory() as session:
        device = session.scalar(select(Device).where(Device.token_hash == token_hash(token)))
    if device is None:
        raise ApiError(401, "invalid_token", "the device token is not valid; enroll again")
    if device.revoked_at is not None:
        raise ApiError(401, "token_revoked", REVOKED)
    return DeviceCaller(device.id)


DeviceDep = Annotated[DeviceCaller, Depends(device_caller)]


@dataclass(frozen=True)
class UserCaller:
    key_id: int
    name: str
    role: Role


def require_role(role: Role) -> Callable[..., UserCaller]:
    """A dependency admitting API keys with ``role`` (or admin)."""

    def check(factory: SessionsDep, authorization: AuthHeader = None) -> UserCaller:
        token = _token(authorization)
        with factory() as session, session.begin():
            key = session.scalar(select(ApiKey).where(ApiKey.key_hash == token_hash(token)))
            if key is None or key.revoked_at is not None:
                raise ApiError(401, "invalid_api_key", "the API key is unknown or revoked")
            if role is Role.ADMIN and key.role != Role.ADMIN:
                raise ApiError(403, "forbidden", "this action needs an admin API key")
            at = now()
            if key.last_used_at is None or at - key.last_used_at > timedelta(minutes=5):
                key.last_used_at = at  # coarse, so reads do not turn into a write each
            return UserCaller(key.id, key.name, Role(key.role))

    return check


ViewerDep = Annotated[UserCaller, Depends(require_role(Role.VIEWER))]
AdminDep = Annotated[UserCaller, Depends(require_role(Role.ADMIN))]
