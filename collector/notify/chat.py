"""Slack and Microsoft Teams messages: the same wording as Block Kit and as an Adaptive Card.

Slack parses ``&``, ``<`` and ``>`` in mrkdwn text as entities, links and mentions: an SSID
named ``<!channel>`` would page a whole channel. Every text built from an outage is escaped
(:func:`slack_escape`) before dexpulse adds its own bold labels. Texts are clipped to Slack's
block limits (header 150, section 3000, field 2000 characters) without cutting an entity.

Teams takes a ``message`` with one Adaptive Card attachment (version 1.4, which both the old
incoming webhooks and Workflows render), sent as plain TextBlocks and a FactSet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import wording

_HEADER_MAX, _SECTION_MAX, _FIELD_MAX, _FALLBACK_MAX = 150, 3000, 2000, 3000


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities (the only escaping Slack defines)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, never inside an ``&...;``
    entity (a cut entity would show as raw text or garble the next character)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _footer(event: Mapping[str, Any], outage: Mapping[str, Any]) -> str:
    return f"dexpulse · outage {outage.get('id')} · event {event.get('event_id')}"


def slack_message(
    event: Mapping[str, Any], outage: Mapping[str, Any], link: str | None
) -> dict[str, Any]:
    """``{"text": fallback, "blocks": [...]}`` for an incoming webhook."""
    kind = str(event["event"])
    title = wording.title(outage, kind)
    summary = slack_escape(wording.summary(outage, kind))
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{label}*\n{slack_escape(value)}", _FIELD_MAX)}
        for label, value in wording.facts(outage, kind)
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title, _HEADER_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(summary, _SECTION_MAX)}},
        {"type": "section", "fields": fields[:10]},
    ]
    for heading, lines in (
        ("Why", wording.reasons(outage)),
        ("Suspects (new shortly before it started)", wording.suspects(outage)),
    ):
        if lines:
            text = f"*{heading}*\n" + "\n".join(f"• {slack_escape(line)}" for line in lines)
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, _SECTION_MAX)}}
            )
    if link:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in console"},
            "url": link,
        }
        blocks.append({"type": "actions", "elements": [button]})
    footer = slack_escape(_footer(event, outage))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    fallback = clip(f"{wording.EVENT_TITLES[kind]}: {summary}", _FALLBACK_MAX)
    return {"text": fallback, "blocks": blocks}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def teams_message(
    event: Mapping[str, Any], outage: Mapping[str, Any], link: str | None
) -> dict[str, Any]:
    """A Teams ``message`` carrying one Adaptive Card."""
    kind = str(event["event"])
    color = "Good" if kind == "resolved" else "Attention"
    body: list[dict[str, Any]] = [
        _text(wording.title(outage, kind), weight="Bolder", size="Medium", color=color),
        _text(wording.summary(outage, kind)),
        {
            "type": "FactSet",
            "facts": [{"title": k, "value": v} for k, v in wording.facts(outage, kind)],
        },
    ]
    for heading, lines in (
        ("Why", wording.reasons(outage)),
        ("Suspects (new shortly before it started)", wording.suspects(outage)),
    ):
        if lines:
            body.append(_text(heading, weight="Bolder", spacing="Medium"))
            body.append(_text("\n".join(f"- {line}" for line in lines)))
    body.append(_text(_footer(event, outage), isSubtle=True, size="Small", spacing="Medium"))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in console", "url": link}]
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}
