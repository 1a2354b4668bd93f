"""Where outage events go: destination config, read from the environment as one JSON list.

``DEXPULSE_NOTIFY_DESTINATIONS`` holds a JSON list of objects, one per destination, each with a
``type`` (``webhook``, ``slack``, ``teams``, ``topdesk``) that picks its model. A typo in a
key is refused rather than ignored (``extra="forbid"``): a destination that silently never
fires is worse than a collector that will not start. Errors name the destination by position
and name, and the field, never its value (values include secrets and webhook URLs).

Slack and Teams URLs are ``SecretStr``: whoever has the URL can post to the channel.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

EventName = Literal["opened", "reopened", "resolved"]
Signal = Literal[
    "wifi", "network_probe", "app_crash", "app_hang", "peripheral_failure", "system", "silence"
]
ALL_EVENTS: frozenset[EventName] = frozenset({"opened", "reopened", "resolved"})

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED_HEADERS = {"content-type", "content-length", "host", "user-agent", "transfer-encoding"}


def _http_url(value: str) -> str:
    """An absolute http(s) URL; the message never repeats it (it may carry a token)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value.strip()


class _Common(BaseModel):
    """Fields every destination has: its name and which events it wants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Unique; part of the webhook delivery id, so letters, digits, ``_.-`` only."""
    events: frozenset[EventName] = ALL_EVENTS
    signals: frozenset[Signal] | None = None
    """Only these signals (None: all)."""
    min_affected: int = Field(default=0, ge=0)
    """Only outages with at least this many affected devices."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("events")
    @classmethod
    def _some_events(cls, value: frozenset[EventName]) -> frozenset[EventName]:
        if not value:
            raise ValueError("name at least one of opened, reopened, resolved")
        return value


class WebhookDestination(_Common):
    """Any HTTP receiver: the event's JSON, signed with HMAC-SHA256 when ``secret`` is set."""

    type: Literal["webhook"]
    url: str
    secret: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers (e.g. an API key the receiver wants); cannot replace dexpulse's own."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("use at least 16 characters")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not _HEADER_NAME.match(key):
                raise ValueError(f"{key!r} is not a valid header name")
            if key.lower() in _RESERVED_HEADERS or key.lower().startswith("x-dexpulse-"):
                raise ValueError(f"header {key!r} is set by dexpulse and cannot be overridden")
            if "\r" in text or "\n" in text:
                raise ValueError(f"the value of header {key!r} contains a line break")
        return value


class _SecretUrl(_Common):
    url: SecretStr

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return SecretStr(_http_url(value.get_secret_value()))


class SlackDestination(_SecretUrl):
    """A Slack incoming webhook (``https://hooks.slack.com/services/...``)."""

    type: Literal["slack"]


class TeamsDestination(_SecretUrl):
    """A Microsoft Teams incoming webhook or Workflows ("Post to a channel when a webhook
    request is received") URL; both take an Adaptive Card message."""

    type: Literal["teams"]


class TopdeskDestination(_Common):
    """TOPdesk: an incident per opened or reopened outage (see :mod:`.topdesk` for why the
    resolution is not pushed). Basic auth with an operator's application password."""

    type: Literal["topdesk"]
    events: frozenset[EventName] = frozenset({"opened", "reopened"})
    base_url: str
    """The TOPdesk address, e.g. ``https://acme.topdesk.net`` (a trailing ``/tas/api`` is
    dropped)."""
    username: Annotated[str, Field(min_length=1)]
    application_password: SecretStr
    caller_lookup_id: str | None = None
    """A registered person's id to file incidents as; without it the caller is the free-text
    ``caller_name``."""
    caller_name: Annotated[str, Field(min_length=1, max_length=100)] = "dexpulse"
    category: str | None = None
    subcategory: str | None = None
    call_type: str | None = None
    entry_type: str | None = None
    impact: str | None = None
    urgency: str | None = None
    """Names, as shown in TOPdesk (the API accepts these fields by name)."""
    operator_group_id: str | None = None
    """The operator group's id (not its name)."""

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        base = _http_url(value).rstrip("/")
        return base.removesuffix("/tas/api").rstrip("/")

    @field_validator("events")
    @classmethod
    def _no_resolved(cls, value: frozenset[EventName]) -> frozenset[EventName]:
        if "resolved" in value:
            raise ValueError(
                "TOPdesk destinations take opened and reopened only: resolutions are not "
                "pushed to TOPdesk (see docs/notifications.md)"
            )
        return value


Destination = Annotated[
    WebhookDestination | SlackDestination | TeamsDestination | TopdeskDestination,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Destination] = TypeAdapter(Destination)
_MODELS = (WebhookDestination, SlackDestination, TeamsDestination, TopdeskDestination)


class DestinationConfigError(ValueError):
    """The destinations JSON is unusable; the message says which destination and field."""


def _describe(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return "field 'type': must be one of webhook, slack, teams, topdesk"
    if loc and loc[0] in ("webhook", "slack", "teams", "topdesk"):
        loc = loc[1:]  # the union member's tag, not a field
    where = ".".join(loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"field '{where}': {message}" if where else message


def parse_destinations(raw: str | bytes | list[Any] | tuple[Any, ...]) -> tuple[Destination, ...]:
    """Validate the destinations list (JSON text or already parsed)."""
    items: Any = raw
    if isinstance(raw, str | bytes):
        try:
            items = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError as exc:
            raise DestinationConfigError(f"notify destinations are not valid JSON: {exc}") from None
    if not isinstance(items, list | tuple):
        raise DestinationConfigError("notify destinations must be a JSON list of objects")
    out: list[Destination] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        name = item.name if isinstance(item, _Common) else None
        if isinstance(item, dict):
            name = item.get("name")
        label = f"notify destination #{number}" + (f" {name!r}" if isinstance(name, str) else "")
        destination: Destination
        if isinstance(item, _MODELS):
            destination = item
        elif not isinstance(item, dict):
            raise DestinationConfigError(f"{label}: must be a JSON object")
        else:
            try:
                destination = _ADAPTER.validate_python(item)
            except ValidationError as exc:
                details = "; ".join(_describe(error) for error in exc.errors())
                raise DestinationConfigError(f"{label}: {details}") from None
        if destination.name in seen:
            raise DestinationConfigError(
                f"{label}: the name is already used by destination #{seen[destination.name]}"
            )
        seen[destination.name] = number
        out.append(destination)
    return tuple(out)


class NotifySettings(BaseSettings):
    """The notification settings, from the same ``DEXPULSE_*`` environment and ``.env`` file as
    the collector's settings (kept apart so the notification layer stands alone)."""

    model_config = SettingsConfigDict(
        env_prefix="DEXPULSE_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    notify_destinations: Annotated[tuple[Destination, ...], NoDecode] = ()
    console_url: str | None = None
    """The collector console's base URL; messages link to ``{console_url}/outages/{id}``."""

    @field_validator("notify_destinations", mode="before")
    @classmethod
    def _destinations(cls, value: Any) -> tuple[Destination, ...]:
        return parse_destinations(value)

    @field_validator("console_url")
    @classmethod
    def _console(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value).rstrip("/")
