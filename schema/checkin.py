"""Check-in: what the collector tells an agent when it asks ``GET /api/v1/agent/config``.

IT sets fleet-wide agent settings in the collector (and per tag, e.g. one site's probe
targets); each agent fetches the result for itself with an ETag, so an unchanged answer costs
a 304. Only the settings that make sense to steer centrally are here; every field is optional
and an absent one leaves the agent's own configuration in force.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .envelope import TagKey, TagValue
from .types import ShortText, Text, UtcDatetime, WireModel


class SamplerOverride(WireModel):
    enabled: bool | None = None
    interval_s: float | None = Field(default=None, ge=1, le=7 * 86400)


class ProbeTargetOverride(WireModel):
    name: ShortText
    url: ShortText = Field(pattern=r"^https?://")


class PrivacyOverride(WireModel):
    ssid: ShortText | None = Field(default=None, pattern=r"^(clear|hashed|omitted)$")
    bssid: ShortText | None = Field(default=None, pattern=r"^(clear|hashed|omitted)$")
    hash_key: ShortText | None = Field(default=None, min_length=16)


class UploadOverride(WireModel):
    interval_s: float | None = Field(default=None, ge=1, le=86400)


class AgentSettings(WireModel):
    """Settings pushed to agents; each field overrides the agent's config file when present."""

    samplers: dict[ShortText, SamplerOverride] = Field(default_factory=dict, max_length=64)
    probes: list[ProbeTargetOverride] | None = Field(default=None, max_length=50)
    privacy: PrivacyOverride | None = None
    upload: UploadOverride | None = None
    checkin_interval_s: float | None = Field(default=None, ge=30, le=86400)


class TagRule(WireModel):
    match: dict[TagKey, TagValue] = Field(min_length=1, max_length=8)
    """Applies to devices whose tags include all of these."""
    settings: AgentSettings


class FleetAgentConfig(WireModel):
    """What IT stores: defaults for every agent, then rules by tag, applied in order."""

    default: AgentSettings = Field(default_factory=AgentSettings)
    rules: list[TagRule] = Field(default_factory=list, max_length=200)


class SurveyOffer(WireModel):
    """A pulse survey this device may ask its user: the agent prompts it when its own
    throttling rules allow, and reports the outcome as a ``survey_response`` sample."""

    id: ShortText = Field(description="The survey's id, echoed as survey_id in the answer.")
    campaign_id: ShortText
    question: Text = Field(max_length=500)
    answer: Literal["rating", "yes_no"] = Field(description="1-5 rating, or yes/no.")
    comment: bool = Field(default=False, description="Whether to offer a free-text comment.")
    anonymous: bool = Field(
        default=False, description="Answers are stored without a link to the device."
    )
    not_before: UtcDatetime
    expires_at: UtcDatetime


class CheckinResponse(WireModel):
    settings: AgentSettings
    surveys: list[SurveyOffer] = Field(
        default_factory=list, max_length=100, description="Pulse surveys pending on this device."
    )
