"""A campaign's results: response rate and answer distribution, overall and per group.

Pure: the answers and the offers' outcomes in, plain data out. A group with fewer than
``MIN_GROUP`` answers is hidden (its count of hidden groups is given, never its figures),
and so is the overall line when the whole campaign has fewer: with fewer answers, a reader
who knows who was asked could tell who said what. Hiding one small group is not enough when
the overall line is shown: overall minus the shown groups would give it away, so while the
hidden groups hold fewer than ``MIN_GROUP`` answers between them, the smallest shown group is
hidden too. Comments are listed only from the groups that are shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MIN_GROUP = 5
MAX_COMMENTS = 50
NO_VALUE = "(none)"


@dataclass(frozen=True)
class AnswerRow:
    rating: int | None
    yes_no: bool | None
    comment: str | None
    groups: Mapping[str, Any]


@dataclass(frozen=True)
class OfferRow:
    status: str
    """pending | answered | dismissed | expired"""
    groups: Mapping[str, Any]


def group_value(groups: Mapping[str, Any], key: str | None) -> str:
    if key is None:
        return "all"
    value = groups.get(key)
    return NO_VALUE if value is None or value == "" else str(value)


def _figures(answer_kind: str, answers: list[AnswerRow], offers: list[OfferRow]) -> dict[str, Any]:
    statuses = Counter(o.status for o in offers)
    asked = len(offers)
    answered = len(answers)
    out: dict[str, Any] = {
        "asked": asked,
        "answered": answered,
        "dismissed": statuses["dismissed"],
        "expired": statuses["expired"],
        "pending": statuses["pending"],
        "response_rate": round(answered / asked, 4) if asked else None,
    }
    if answer_kind == "rating":
        ratings = [a.rating for a in answers if a.rating is not None]
        counts = Counter(ratings)
        out["distribution"] = {str(k): counts[k] for k in range(1, 6)}
        out["mean"] = round(sum(ratings) / len(ratings), 2) if ratings else None
    else:
        counts_yn = Counter(a.yes_no for a in answers if a.yes_no is not None)
        total = counts_yn[True] + counts_yn[False]
        out["distribution"] = {"yes": counts_yn[True], "no": counts_yn[False]}
        out["yes_share"] = round(counts_yn[True] / total, 4) if total else None
    return out


def summarize(
    answer_kind: str,
    answers: Iterable[AnswerRow],
    offers: Iterable[OfferRow],
    group_by: str | None = None,
) -> dict[str, Any]:
    """Overall figures and one entry per group of ``group_by`` (a key of the answers' and
    offers' ``groups``: site, department, model, os, or any tag)."""
    answers, offers = list(answers), list(offers)
    by_answers: dict[str, list[AnswerRow]] = {}
    for a in answers:
        by_answers.setdefault(group_value(a.groups, group_by), []).append(a)
    by_offers: dict[str, list[OfferRow]] = {}
    for o in offers:
        by_offers.setdefault(group_value(o.groups, group_by), []).append(o)

    names = sorted(set(by_answers) | set(by_offers))
    visible = {n for n in names if len(by_answers.get(n, [])) >= MIN_GROUP}
    hidden_answers = len(answers) - sum(len(by_answers[n]) for n in visible)
    while visible and 0 < hidden_answers < MIN_GROUP:
        smallest = min(visible, key=lambda n: (len(by_answers[n]), n))
        visible.discard(smallest)
        hidden_answers += len(by_answers[smallest])

    shown: list[dict[str, Any]] = []
    comments: list[str] = []
    for name in names:
        if name in visible:
            group_answers = by_answers[name]
            figures = _figures(answer_kind, group_answers, by_offers.get(name, []))
            shown.append({"group": name, **figures})
            comments += [a.comment for a in group_answers if a.comment]
    overall: dict[str, Any] | None = None
    if len(answers) >= MIN_GROUP:
        overall = _figures(answer_kind, answers, offers)
        if group_by is None:
            comments = [a.comment for a in answers if a.comment]
    return {
        "min_group_size": MIN_GROUP,
        "asked": len(offers),
        "overall": overall,
        "group_by": group_by,
        "groups": shown if group_by is not None else [],
        "hidden_groups": len(names) - len(visible) if group_by is not None else 0,
        "comments": comments[:MAX_COMMENTS],
    }
