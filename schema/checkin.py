"""Check-in: what the collector tells an agent when it asks ``GET /api/v1/agent/config``.

IT sets fleet-wide agent settings in the collector (and per tag, e.g. one site's probe
targets); each agent fetches the result for itself with an ETag, so an unchanged answer costs
a 304. Only the settings that make sense to steer centrally are here; every field is optional
and an absent one leaves the agent's own configuration in force.
"""

from __future__ import annotations

from pydantic import Field

from .envelope import TagKey, TagValue
from .types import ShortText, WireModel


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


class CheckinResponse(WireModel):
    settings: AgentSettings
    surveys: list[dict[str, object]] = Field(
        default_factory=list, description="Pending pulse surveys (none until surveys ship)."
    )
