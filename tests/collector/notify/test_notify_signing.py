"""Webhook signatures: what verifies and what does not."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from dexpulse.collector.notify import sign, verify_signature

SECRET = "0123456789abcdef-secret"
BODY = b'{"event":"opened","event_id":1}'
T = 1_795_424_820


def test_the_scheme_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, T, BODY) == f"t={T},v1={expected}"


def test_a_good_signature_verifies_within_the_tolerance() -> None:
    header = sign(SECRET, T, BODY)
    assert verify_signature(SECRET, header, BODY, T)
    assert verify_signature(SECRET.encode(), header, BODY, T + 299)
    assert verify_signature(SECRET, header, BODY, T - 299)  # a receiver's clock may be behind
    assert verify_signature(SECRET, header, BODY, datetime.fromtimestamp(T + 10, UTC))


def test_a_tampered_body_fails() -> None:
    header = sign(SECRET, T, BODY)
    assert not verify_signature(SECRET, header, BODY.replace(b"1", b"2"), T)
    assert not verify_signature(SECRET, header, BODY + b" ", T)


def test_a_wrong_secret_fails() -> None:
    assert not verify_signature("another-secret-of-16", sign(SECRET, T, BODY), BODY, T)


def test_a_stale_or_future_timestamp_fails() -> None:
    header = sign(SECRET, T, BODY)
    assert not verify_signature(SECRET, header, BODY, T + 301)
    assert not verify_signature(SECRET, header, BODY, T - 301)
    assert verify_signature(SECRET, header, BODY, T + 3000, tolerance_s=3600)


def test_a_moved_timestamp_fails() -> None:
    mac = sign(SECRET, T, BODY).split(",v1=")[1]
    assert not verify_signature(SECRET, f"t={T + 5},v1={mac}", BODY, T + 5)


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", f"t={T}", "v1=abc", "t=x,v1=abc", f"t={T},v1=", f"t={T},v1=ünï"],
)
def test_malformed_headers_fail_without_raising(header: str | None) -> None:
    assert not verify_signature(SECRET, header, BODY, T)


def test_any_of_several_v1_entries_may_match_during_a_rotation() -> None:
    old = sign("old-secret-0123456", T, BODY).split(",v1=")[1]
    new = sign(SECRET, T, BODY).split(",v1=")[1]
    assert verify_signature(SECRET, f"t={T},v1={old},v1={new}", BODY, T)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_signature(SECRET, sign(SECRET, T, BODY), BODY, datetime(2026, 1, 1))  # noqa: DTZ001
