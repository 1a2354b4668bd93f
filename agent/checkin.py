"""Check-in: fetch the settings IT pushes from the collector, and apply them over the config.

The last answer (settings and pending pulse surveys) and its ETag are kept in the state
directory, so an agent that starts while the collector is unreachable still runs with the
settings it was last given and can still ask the surveys it was last handed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from dexpulse.schema.checkin import AgentSettings, CheckinResponse, SurveyOffer

from .config import AgentConfig
from .enroll import Credentials
from .state import StateStore
from .transport import Transport, TransportError

log = logging.getLogger(__name__)

STATE = "checkin"
DEFAULT_INTERVAL_S = 300.0


class CheckinClient:
    def __init__(
        self,
        transport: Transport,
        credentials: Callable[[], Credentials | None],
        state: StateStore,
        timeout_s: float = 30.0,
    ) -> None:
        self.transport = transport
        self.credentials = credentials
        self.state = state
        self.timeout_s = timeout_s
        self._surveys: list[SurveyOffer] | None = None

    def cached(self) -> AgentSettings | None:
        """The settings from the last successful check-in, if any."""
        saved = self.state.load(STATE).get("settings")
        if saved is None:
            return None
        try:
            return AgentSettings.model_validate(saved)
        except ValidationError:
            return None

    def cached_surveys(self) -> list[SurveyOffer]:
        """The pulse surveys the last successful check-in listed as pending here (read from
        the state file once; kept in memory after that)."""
        if self._surveys is None:
            self._surveys = []
            for item in self.state.load(STATE).get("surveys") or []:
                try:
                    self._surveys.append(SurveyOffer.model_validate(item))
                except ValidationError:
                    continue  # one unreadable survey must not hide the others
        return self._surveys

    def fetch(self) -> AgentSettings | None:
        """New settings, or None when unchanged, not enrolled or the collector is unreachable."""
        creds = self.credentials()
        if creds is None:
            return None
        saved = self.state.load(STATE)
        headers = {"Authorization": f"Bearer {creds.device_token}"}
        if saved.get("etag"):
            headers["If-None-Match"] = str(saved["etag"])
        try:
            response = self.transport.request(
                "GET",
                f"{creds.collector_url}/api/v1/agent/config",
                headers=headers,
                timeout=self.timeout_s,
            )
        except TransportError as exc:
            log.info("check-in failed: %s", exc)
            return None
        if response.status == 304:
            return None
        if response.status != 200:
            log.warning("check-in answered %s", response.status)
            return None
        try:
            answer = CheckinResponse.model_validate_json(response.body)
        except ValidationError as exc:
            log.warning("check-in answer not understood: %s", exc)
            return None
        self.state.save(
            STATE,
            {
                "etag": response.header("ETag"),
                "settings": answer.settings.model_dump(mode="json"),
                "surveys": [s.model_dump(mode="json") for s in answer.surveys],
            },
        )
        self._surveys = list(answer.surveys)
        return answer.settings


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def effective_config(base: AgentConfig, settings: AgentSettings | None) -> AgentConfig:
    """``base`` (the config file) with the pushed settings laid over it.

    Settings for samplers this agent does not have are ignored (a newer collector may know
    more); a pushed value the agent's own rules refuse leaves the file's value in force.
    """
    if settings is None:
        return base
    pushed = settings.model_dump(exclude_none=True)
    known = set(type(base.samplers).model_fields)
    pushed["samplers"] = {k: v for k, v in pushed.get("samplers", {}).items() if k in known}
    pushed.pop("checkin_interval_s", None)
    merged = _merge(base.model_dump(), pushed)
    try:
        return AgentConfig.model_validate(merged)
    except ValidationError as exc:
        log.warning("pushed settings refused, keeping the local config: %s", exc)
        return base
