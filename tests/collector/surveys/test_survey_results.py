"""A campaign's results (the pure core): the figures, small groups hidden, and no hidden
group recoverable as the overall line minus the groups shown."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dexpulse.collector.surveys.results import MIN_GROUP, NO_VALUE, AnswerRow, OfferRow, summarize


def rating(value: int, site: str | None = "brussels", comment: str | None = None) -> AnswerRow:
    return AnswerRow(value, None, comment, {"site": site} if site is not None else {})


def offer(status: str, site: str = "brussels") -> OfferRow:
    return OfferRow(status, {"site": site})


def test_rating_figures() -> None:
    answers = [rating(r) for r in (5, 4, 4, 3, 1, 5)]
    offers = (
        [offer("answered")] * 6 + [offer("dismissed")] * 2 + [offer("expired"), offer("pending")]
    )
    summary = summarize("rating", answers, offers)
    assert summary["overall"] == {
        "asked": 10, "answered": 6, "dismissed": 2, "expired": 1, "pending": 1,
        "response_rate": 0.6, "distribution": {"1": 1, "2": 0, "3": 1, "4": 2, "5": 2},
        "mean": 3.67,
    }  # fmt: skip
    assert (summary["asked"], summary["min_group_size"], summary["group_by"]) == (10, 5, None)
    assert (summary["groups"], summary["hidden_groups"]) == ([], 0)


def test_yes_no_figures() -> None:
    answers = [AnswerRow(None, yn, None, {}) for yn in (True, True, False, True, True, False, True)]
    offers = [OfferRow("answered", {})] * 7 + [OfferRow("expired", {})] * 3
    overall = summarize("yes_no", answers, offers)["overall"]
    assert overall["distribution"] == {"yes": 5, "no": 2}
    assert overall["yes_share"] == round(5 / 7, 4) and "mean" not in overall
    assert overall["response_rate"] == 0.7


def test_under_five_answers_there_is_no_overall_line_nor_a_comment() -> None:
    answers = [rating(4, comment="fine") for _ in range(MIN_GROUP - 1)]
    summary = summarize("rating", answers, [offer("answered")] * 4 + [offer("pending")] * 20)
    assert summary["overall"] is None and summary["comments"] == []
    assert summary["asked"] == 24
    five = summarize("rating", [*answers, rating(2)], [offer("answered")] * 5)
    assert five["overall"] is not None and five["comments"] == ["fine"] * 4


def test_groups_of_fewer_than_five_answers_are_hidden() -> None:
    answers = [rating(5, "brussels")] * 5 + [rating(1, "gent")] * 5 + [rating(3, "antwerp")] * 5
    answers += [rating(2, "liege")] * 4 + [rating(2, "namur")] * 1
    offers = [offer("answered", "brussels")] * 5 + [offer("pending", "brussels")] * 5
    offers += [offer("answered", "gent")] * 5 + [offer("pending", "paris")] * 3
    summary = summarize("rating", answers, offers, "site")
    shown = {g["group"]: g for g in summary["groups"]}
    assert set(shown) == {"antwerp", "brussels", "gent"}
    # liege and namur (and paris, asked but silent) are counted, not shown
    assert summary["hidden_groups"] == 3
    assert shown["brussels"]["asked"] == 10 and shown["brussels"]["response_rate"] == 0.5
    assert shown["brussels"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 5}
    assert shown["gent"]["mean"] == 1.0
    assert summary["overall"]["answered"] == 20


def test_the_smallest_shown_group_is_hidden_too_when_the_hidden_ones_are_few() -> None:
    """brussels 6, gent 5, namur 2: overall minus brussels and gent would be namur's two
    answers; hiding gent as well leaves seven hidden answers, which tell nobody's."""
    answers = [rating(5, "brussels")] * 6 + [rating(1, "gent")] * 5 + [rating(3, "namur")] * 2
    summary = summarize("rating", answers, [], "site")
    assert [g["group"] for g in summary["groups"]] == ["brussels"]
    assert summary["hidden_groups"] == 2
    assert summary["overall"]["answered"] == 13
    hidden = summary["overall"]["answered"] - sum(g["answered"] for g in summary["groups"])
    assert hidden == 7


def test_answers_without_the_group_key_are_a_group_of_their_own() -> None:
    answers = [rating(4, None)] * 5 + [rating(2, "gent")] * 5
    summary = summarize("rating", answers, [], "site")
    assert [g["group"] for g in summary["groups"]] == [NO_VALUE, "gent"]


def test_comments_come_only_from_the_groups_shown() -> None:
    answers = [rating(5, "brussels", f"brussels {i}") for i in range(6)]
    answers += [rating(1, "namur", "namur is slow")] * 5 + [rating(1, "gent", "I am in gent")]
    summary = summarize("rating", answers, [], "site")
    # gent is hidden, and namur with it (overall minus brussels and namur would be gent's)
    assert [g["group"] for g in summary["groups"]] == ["brussels"]
    assert sorted(summary["comments"]) == [f"brussels {i}" for i in range(6)]
    overall = summarize("rating", answers, [])
    assert len(overall["comments"]) == 12 and "I am in gent" in overall["comments"]


sizes = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", "f"]), st.integers(0, 12), max_size=6
)


@settings(max_examples=300, deadline=None)
@given(sizes=sizes)
def test_no_hidden_group_can_be_worked_out_from_what_is_shown(sizes: dict[str, int]) -> None:
    answers = [rating(1 + i % 5, site) for site, n in sizes.items() for i in range(n)]
    summary = summarize("rating", answers, [offer("pending", s) for s in sizes], "site")
    shown: list[dict[str, Any]] = summary["groups"]
    assert all(g["answered"] >= MIN_GROUP for g in shown)
    assert len(shown) + summary["hidden_groups"] == len(sizes)
    total = sum(sizes.values())
    if total < MIN_GROUP:
        assert summary["overall"] is None and shown == []
        return
    assert summary["overall"]["answered"] == total
    rest = total - sum(g["answered"] for g in shown)
    assert rest == 0 or rest >= MIN_GROUP  # what the difference tells covers five at least
    # and no more is hidden than needed: a group of five or more is hidden only to cover
    # another one
    if all(n >= MIN_GROUP or n == 0 for n in sizes.values()):
        assert len(shown) == sum(1 for n in sizes.values() if n >= MIN_GROUP)
