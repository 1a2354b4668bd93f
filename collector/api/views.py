"""Response models of the IT-facing API (the wire contract with agents is in dexpulse.schema)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from dexpulse.schema.types import ShortText


class DeviceView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    hostname: str
    os: str
    os_version: str | None
    os_build: str | None
    model: str | None
    manufacturer: str | None
    agent_version: str | None
    tags: dict[str, Any]
    enrolled_at: datetime
    last_seen_at: datetime | None
    last_seq: int | None
    revoked_at: datetime | None


class DeviceList(BaseModel):
    devices: list[DeviceView]
    total: int
    limit: int
    offset: int


class SampleView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    batch_id: uuid.UUID
    kind: str
    ts: datetime
    data: dict[str, Any]


class SampleList(BaseModel):
    samples: list[SampleView]
    next_cursor: str | None
    """Pass as ``cursor`` to read the next page; None when this page is the last."""


class EnrollmentSecretView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    max_uses: int | None
    uses: int
    revoked_at: datetime | None


class NewEnrollmentSecret(EnrollmentSecretView):
    secret: str
    """Shown once; only its hash is stored."""


class EnrollmentSecretCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[ShortText, Field(min_length=1, max_length=200)]
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)
    max_uses: int | None = Field(default=None, ge=1, le=1_000_000_000)
