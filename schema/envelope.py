"""The batch envelope and the messages around it (enrollment, ingest acknowledgement).

A batch is what the agent's uploader sends in one request: who sent it, a ``batch_id`` that is
stable across retries (the collector stores a batch once however often it arrives), a
per-device ``seq``, and the samples, discriminated by ``kind``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from .events import (
    AgentHealthSample,
    AppCrashSample,
    AppHangSample,
    InventorySample,
    PeripheralFailureSample,
    SurveyResponseSample,
    WifiEventSample,
)
from .samples import (
    BatterySample,
    BootSample,
    NetworkProbeSample,
    SystemSample,
    ThroughputSample,
    WifiSample,
)
from .types import ShortText, Text, UtcDatetime, WireModel

SCHEMA_VERSION = 1
"""Bumped when fields are added; batches of any version >= 1 are accepted."""

MAX_SAMPLES_PER_BATCH = 10_000

Sample = Annotated[
    SystemSample
    | WifiSample
    | NetworkProbeSample
    | ThroughputSample
    | BatterySample
    | BootSample
    | AppCrashSample
    | AppHangSample
    | PeripheralFailureSample
    | WifiEventSample
    | SurveyResponseSample
    | AgentHealthSample
    | InventorySample,
    Field(discriminator="kind"),
]

SAMPLE_MODELS: tuple[type[WireModel], ...] = (
    SystemSample,
    WifiSample,
    NetworkProbeSample,
    ThroughputSample,
    BatterySample,
    BootSample,
    AppCrashSample,
    AppHangSample,
    PeripheralFailureSample,
    WifiEventSample,
    SurveyResponseSample,
    AgentHealthSample,
    InventorySample,
)

TagKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
TagValue = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00]*$")]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=32)]
"""Labels set in the agent's config (``site``, ``department``, ...); cohorts for detection."""

OsName = Literal["windows", "macos", "linux"]


class AgentInfo(WireModel):
    version: ShortText
    os: OsName
    os_version: ShortText | None = None
    os_build: ShortText | None = None
    model: ShortText | None = None
    manufacturer: ShortText | None = None
    hostname: ShortText | None = None


class Batch(WireModel):
    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, le=1_000_000)
    device_id: UUID
    batch_id: UUID
    seq: int = Field(ge=0, le=2**63 - 1)
    sent_at: UtcDatetime
    agent: AgentInfo
    tags: Tags | None = Field(
        default=None,
        description="The device's labels now; absent or null leaves the stored ones unchanged.",
    )
    samples: list[Sample] = Field(max_length=MAX_SAMPLES_PER_BATCH)


class EnrollRequest(WireModel):
    enrollment_secret: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    hostname: ShortText
    os: OsName
    os_version: ShortText | None = None
    os_build: ShortText | None = None
    model: ShortText | None = None
    manufacturer: ShortText | None = None
    agent_version: ShortText | None = None
    tags: Tags = Field(default_factory=dict)


class EnrollResponse(WireModel):
    device_id: UUID
    device_token: str


class IngestResponse(WireModel):
    batch_id: UUID
    duplicate: bool
    accepted: int = Field(description="Samples stored from this batch.")
    dropped: dict[str, int] = Field(
        default_factory=dict,
        description="Samples not stored, by reason (e.g. ts_in_future, ts_too_old).",
    )
    clock_offset_s: float = Field(
        default=0.0,
        description="Correction applied to the device's timestamps (received_at - sent_at) "
        "when its clock was off by more than the tolerance; 0 otherwise.",
    )


class ErrorResponse(WireModel):
    error: ShortText
    detail: Text
    errors: list[dict[str, object]] | None = None
