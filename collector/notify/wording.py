"""Human wording of an outage, shared by every message format.

Slack, Teams and TOPdesk say the same thing in different markup, and IT should read the same
sentence wherever it lands, so the words are built once here, as plain text. Values in that
text (site names, SSIDs, app versions) came from devices and are not trusted: each format
escapes the plain text for its own markup; nothing here adds markup.

The outage is the JSON object the collector serves (``collector.detection.engine.outage_json``);
fields are read defensively, since an event may have been queued by an older collector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

# signal -> (name in a sentence, title at the start of a headline, state of a failing device)
_SIGNALS: dict[str, tuple[str, str, str]] = {
    "wifi": ("Wi-Fi", "Wi-Fi outage", "failing"),
    "network_probe": ("network reachability", "Network reachability outage", "failing"),
    "app_crash": ("app crashes", "App crashes", "crashing"),
    "app_hang": ("app hangs", "App hangs", "hanging"),
    "peripheral_failure": ("peripheral failures", "Peripheral failures", "failing"),
    "system": ("CPU saturation", "CPU saturation", "saturated"),
    "silence": ("devices gone silent", "Devices gone silent", "silent"),
}

EVENT_TITLES = {"opened": "Opened", "reopened": "Reopened", "resolved": "Resolved"}

# Dimension -> words, most specific first: the first one present names the cohort, the others
# qualify it in parentheses ("access point 64:d1:... (site Amsterdam, Wi-Fi network corp)").
_DIMENSIONS: dict[str, str] = {
    "bssid": "access point {}",
    "app_name": "{}",
    "driver": "driver {}",
    "peripheral": "peripheral {}",
    "probe_target": "{}",
    "ssid": "Wi-Fi network {}",
    "site": "site {}",
    "model": "model {}",
    "os_build": "OS build {}",
}
_PREPOSITION = {
    "bssid": "at",
    "ssid": "at",
    "site": "at",
    "probe_target": "for",
    "model": "on",
    "os_build": "on",
}


def signal_name(signal: str) -> str:
    """The signal in a sentence: "Wi-Fi", "app crashes"; an unknown one as its identifier."""
    return _SIGNALS.get(signal, (signal.replace("_", " "),) * 3)[0]


def _signal(outage: Mapping[str, Any]) -> tuple[str, str, str]:
    signal = str(outage.get("signal", ""))
    words = signal.replace("_", " ") or "unknown signal"
    return _SIGNALS.get(signal, (words, f"{words.capitalize()} outage", "failing"))


def _parts(cohort: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(dimension, words) per phrase, most specific first. App and driver versions join their
    name ("Teams 24.1.0", "driver iwlwifi 23.60"); dimensions not known here come last."""
    values = {str(k): str(v) for k, v in cohort.items() if v is not None and v != ""}
    parts: list[tuple[str, str]] = []
    for dim, template in _DIMENSIONS.items():
        if dim not in values:
            continue
        value = values.pop(dim)
        if dim == "app_name":
            value = f"{value} {values.pop('app_version', '')}".strip()
        elif dim == "driver":
            value = f"{value} {values.pop('driver_version', '')}".strip()
        parts.append((dim, template.format(value)))
    parts += [(d, f"{d.replace('_', ' ')} {v}") for d, v in sorted(values.items())]
    return parts


def cohort_words(cohort: Mapping[str, Any]) -> str:
    """``{"site": "Amsterdam", "bssid": "64:d1:..."}`` -> "access point 64:d1:... (site
    Amsterdam)"; the empty cohort (the whole fleet) -> "the whole fleet"."""
    parts = _parts(cohort)
    if not parts:
        return "the whole fleet"
    head, rest = parts[0][1], [words for _, words in parts[1:]]
    return f"{head} ({', '.join(rest)})" if rest else head


def headline(outage: Mapping[str, Any]) -> str:
    """What broke where: "Wi-Fi outage at access point 64:d1:54:68:93:ae (site Amsterdam)"."""
    cohort = outage.get("cohort") or {}
    parts = _parts(cohort)
    title = _signal(outage)[1]
    if not parts:
        return f"{title} across the whole fleet"
    return f"{title} {_PREPOSITION.get(parts[0][0], 'in')} {cohort_words(cohort)}"


def ratio(relative_risk: Any) -> str | None:
    """7.03 -> "7x", 1.54 -> "1.5x"; None (an infinite ratio: normally none fail) -> None."""
    if not isinstance(relative_risk, int | float) or not math.isfinite(relative_risk):
        return None
    return (
        f"{relative_risk:.0f}x"
        if relative_risk >= 10
        else f"{relative_risk:.1f}x".replace(".0x", "x")
    )


def impact(outage: Mapping[str, Any], event: str) -> str:
    """How bad: "14 of 20 devices failing, 7x the usual rate" (resolved: "... affected")."""
    affected, exposed = outage.get("affected_devices"), outage.get("exposed_devices")
    state = "affected" if event == "resolved" else _signal(outage)[2]
    count = f"{affected} of {exposed}" if exposed else f"{affected}"
    text = f"{count} devices {state}"
    explanation = outage.get("explanation") or {}
    if event == "resolved" or not explanation:
        return text
    times = ratio(explanation.get("relative_risk"))
    return f"{text}, {times} the usual rate" if times else f"{text}, where usually none are"


def summary(outage: Mapping[str, Any], event: str) -> str:
    """The one sentence every format leads with: headline and impact."""
    return f"{headline(outage)}: {impact(outage, event)}"


def title(outage: Mapping[str, Any], event: str) -> str:
    """For headers and subjects: "Opened: Wi-Fi outage"."""
    return f"{EVENT_TITLES.get(event, event.capitalize())}: {_signal(outage)[1]}"


def _parse(iso: Any) -> datetime | None:
    if not isinstance(iso, str):
        return None
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def when(iso: Any) -> str:
    """A time as people read it, in UTC: "2026-11-23 09:14 UTC"; unparsable values as given."""
    parsed = _parse(iso)
    return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed else str(iso or "unknown")


def duration(start: Any, end: Any) -> str | None:
    """The time between two ISO times ("1 h 5 min"), or None when either is missing."""
    a, b = _parse(start), _parse(end)
    if a is None or b is None:
        return None
    minutes = max(0, round((b - a).total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _percent(value: Any) -> str:
    return f"{100 * value:.1f}%".replace(".0%", "%") if isinstance(value, int | float) else "?"


def facts(outage: Mapping[str, Any], event: str) -> list[tuple[str, str]]:
    """(label, value) pairs: when it started, was detected and (if so) resolved; how many."""
    rows = [
        ("Started", when(outage.get("started_at"))),
        ("Detected", when(outage.get("detected_at"))),
    ]
    if outage.get("resolved_at"):
        rows.append(("Resolved", when(outage.get("resolved_at"))))
        lasted = duration(outage.get("started_at"), outage.get("resolved_at"))
        if lasted:
            rows.append(("Duration", lasted))
    affected, exposed = outage.get("affected_devices"), outage.get("exposed_devices")
    rows.append(("Affected devices", f"{affected} of {exposed}" if exposed else str(affected)))
    return rows


def reasons(outage: Mapping[str, Any]) -> list[str]:
    """Why detection blames this cohort, one line each, from the outage's explanation."""
    explanation = outage.get("explanation") or {}
    if not explanation:
        return []
    lines = [
        f"{explanation.get('failing')} of {explanation.get('exposed')} exposed devices "
        f"{_signal(outage)[2]} ({_percent(explanation.get('rate'))}); baseline "
        f"{_percent(explanation.get('baseline_rate'))}"
    ]
    times = ratio(explanation.get("relative_risk"))
    lines.append(
        f"{times} the rate of comparable cohorts" if times else "Comparable cohorts: none failing"
    )
    if isinstance(explanation.get("explained_share"), int | float):
        share = _percent(explanation["explained_share"])
        lines.append(f"Explains {share} of the fleet's excess failures")
    for alternative in (explanation.get("alternatives") or [])[:3]:
        share = _percent(alternative.get("explained_share"))
        words = cohort_words(alternative.get("cohort") or {})
        lines.append(f"Also possible: {words} (explains {share})")
    return lines


def suspects(outage: Mapping[str, Any]) -> list[str]:
    """New versions and drivers seen in the cohort shortly before it broke."""
    return [
        f"{cohort_words(s.get('cohort') or {})}, first seen {when(s.get('first_seen'))}"
        for s in outage.get("suspects") or []
        if isinstance(s, Mapping)
    ]


def console_link(console_url: str | None, outage: Mapping[str, Any]) -> str | None:
    """``{console_url}/outages/{id}``, or None without a console URL."""
    if not console_url:
        return None
    return f"{console_url.rstrip('/')}/outages/{quote(str(outage.get('id')), safe='')}"
