"""Which agent settings apply to which device: defaults, then every matching tag rule in order.

Pure: a fleet document and a device's tags in, the device's settings out. Later rules win
field by field (a rule that sets only ``samplers.wifi.interval_s`` leaves the rest alone);
``probes`` is a list and is replaced whole.
"""

from __future__ import annotations

from typing import Any

from dexpulse.schema.checkin import AgentSettings, FleetAgentConfig


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def settings_for(fleet: FleetAgentConfig, tags: dict[str, Any]) -> AgentSettings:
    merged = fleet.default.model_dump(exclude_none=True)
    for rule in fleet.rules:
        if all(tags.get(key) == value for key, value in rule.match.items()):
            merged = _merge(merged, rule.settings.model_dump(exclude_none=True))
    return AgentSettings.model_validate(merged)
