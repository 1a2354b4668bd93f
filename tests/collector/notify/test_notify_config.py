"""Destination config: the JSON list from the environment, and errors that say where."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from dexpulse.collector.notify import (
    DestinationConfigError,
    NotifySettings,
    SlackDestination,
    TeamsDestination,
    TopdeskDestination,
    WebhookDestination,
    parse_destinations,
)

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
GOOD: list[dict[str, Any]] = [
    {"name": "it-slack", "type": "slack", "url": SLACK_URL},
    {
        "name": "siem",
        "type": "webhook",
        "url": "https://siem.example.com/hooks/dexpulse",
        "secret": "s3cret-s3cret-s3cret",
        "headers": {"X-Api-Key": "abc"},
        "events": ["opened", "resolved"],
        "signals": ["wifi", "network_probe"],
        "min_affected": 5,
        "timeout_s": 3,
    },
    {"name": "teams", "type": "teams", "url": "https://prod-1.westeurope.logic.azure.com/x?sig=S"},
    {
        "name": "topdesk",
        "type": "topdesk",
        "base_url": "https://acme.topdesk.net/tas/api/",
        "username": "dexpulse-api",
        "application_password": "abcd-efgh-ijkl",
        "category": "Network",
        "urgency": "High",
    },
]


def test_every_type_parses_with_its_defaults() -> None:
    slack, hook, teams, topdesk = parse_destinations(json.dumps(GOOD))
    assert isinstance(slack, SlackDestination) and slack.url.get_secret_value() == SLACK_URL
    assert slack.events == {"opened", "reopened", "resolved"} and slack.signals is None
    assert (slack.min_affected, slack.timeout_s, slack.enabled) == (0, 10.0, True)
    assert isinstance(hook, WebhookDestination) and hook.secret is not None
    assert hook.events == {"opened", "resolved"}
    assert sorted(hook.signals or ()) == ["network_probe", "wifi"]
    assert hook.headers == {"X-Api-Key": "abc"} and hook.min_affected == 5
    assert isinstance(teams, TeamsDestination)
    assert isinstance(topdesk, TopdeskDestination)
    assert topdesk.base_url == "https://acme.topdesk.net"  # the /tas/api suffix is dropped
    assert topdesk.events == {"opened", "reopened"} and topdesk.caller_name == "dexpulse"


def test_secrets_stay_out_of_reprs() -> None:
    text = repr(parse_destinations(GOOD))
    for secret in (SLACK_URL, "s3cret-s3cret-s3cret", "abcd-efgh-ijkl", "sig=S"):
        assert secret not in text


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEXPULSE_NOTIFY_DESTINATIONS", json.dumps(GOOD[:1]))
    monkeypatch.setenv("DEXPULSE_CONSOLE_URL", "https://dexpulse.example.com/")
    settings = NotifySettings(_env_file=None)
    assert [d.name for d in settings.notify_destinations] == ["it-slack"]
    assert settings.console_url == "https://dexpulse.example.com"
    monkeypatch.delenv("DEXPULSE_NOTIFY_DESTINATIONS")
    assert NotifySettings(_env_file=None).notify_destinations == ()


def test_a_bad_environment_value_names_the_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEXPULSE_NOTIFY_DESTINATIONS", '[{"name": "x", "type": "slack"}]')
    with pytest.raises(ValidationError, match=r"notify destination #1 'x': field 'url'"):
        NotifySettings(_env_file=None)
    monkeypatch.setenv("DEXPULSE_NOTIFY_DESTINATIONS", "[{")
    with pytest.raises(ValidationError, match="not valid JSON"):
        NotifySettings(_env_file=None)


def _error(items: Any) -> str:
    with pytest.raises(DestinationConfigError) as caught:
        parse_destinations(items)
    return str(caught.value)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"name": "a", "type": "pager"}, "#2 'a': field 'type': must be one of webhook, slack"),
        ({"name": "a", "type": "slack"}, "#2 'a': field 'url': Field required"),
        ({"name": "a", "type": "slack", "url": "hooks.slack.com/x"}, "field 'url': must be an"),
        ({"name": "a b", "type": "slack", "url": SLACK_URL}, "#2 'a b': field 'name': use 1-64"),
        ({"name": "a", "type": "slack", "url": SLACK_URL, "event": []}, "field 'event': Extra"),
        ({"name": "a", "type": "slack", "url": SLACK_URL, "events": []}, "field 'events': name"),
        ({"name": "a", "type": "slack", "url": SLACK_URL, "events": ["closed"]}, "'events.0'"),
        ({"name": "a", "type": "slack", "url": SLACK_URL, "signals": ["wfi"]}, "'signals.0'"),
        ({"name": "a", "type": "slack", "url": SLACK_URL, "min_affected": -1}, "'min_affected'"),
        ({"name": "a", "type": "slack", "url": SLACK_URL, "timeout_s": 0}, "'timeout_s'"),
        ({"name": "a", "type": "webhook", "url": SLACK_URL, "secret": "short"}, "at least 16"),
        (
            {
                "name": "a",
                "type": "webhook",
                "url": SLACK_URL,
                "headers": {"X-Dexpulse-Event": "x"},
            },
            "field 'headers': header 'X-Dexpulse-Event' is set by dexpulse",
        ),
        (
            {"name": "a", "type": "webhook", "url": SLACK_URL, "headers": {"X-A": "1\r\nX-B: 2"}},
            "contains a line break",
        ),
        (
            {
                "name": "t",
                **{k: v for k, v in GOOD[3].items() if k != "name"},
                "events": ["resolved"],
            },
            "#2 't': field 'events': TOPdesk destinations take opened and reopened only",
        ),
        ({"name": "s", "type": "topdesk", "base_url": "https://a"}, "field 'username': Field"),
        ({"name": "it-slack", "type": "slack", "url": SLACK_URL}, "already used by destination #1"),
        ("slack", "#2: must be a JSON object"),
    ],
)
def test_errors_name_the_destination_and_field(item: Any, expected: str) -> None:
    message = _error([GOOD[0], item])
    assert expected in message
    assert "s3cret" not in message and "XXXXSECRETXXXX" not in message


def test_the_list_itself_must_be_json_and_a_list() -> None:
    assert "not valid JSON" in _error('[{"name": ')
    assert "must be a JSON list" in _error('{"name": "x"}')
    assert parse_destinations("") == () and parse_destinations("[]") == ()


def test_a_disabled_destination_still_has_to_be_valid() -> None:
    # a typo in a switched-off destination is found now, not when it is switched on
    assert "field 'url'" in _error([{"name": "off", "type": "teams", "enabled": False}])
