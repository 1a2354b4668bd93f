"""POST /api/v1/enroll: an enrollment secret is exchanged for a device token, stored hashed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import SessionTransaction
from support import Collector, make_batch, now

from dexpulse.collector.admin import revoke_enrollment_secret
from dexpulse.collector.db import transaction
from dexpulse.collector.models import Device, EnrollmentSecret
from dexpulse.collector.security import token_hash


def _enroll(collector: Collector, secret: str, **extra: object) -> tuple[int, dict[str, object]]:
    body = {"enrollment_secret": secret, "hostname": "lap-7", "os": "windows", **extra}
    response = collector.client.post("/api/v1/enroll", json=body)
    return response.status_code, response.json()


def test_enroll_returns_a_working_token_stored_only_as_hash(collector: Collector) -> None:
    secret = collector.enrollment_secret()
    status, body = _enroll(collector, secret, model="Latitude 7440", tags={"site": "gent"})
    assert status == 201
    token = str(body["device_token"])
    assert token.startswith("dxd_") and len(token) > 40
    with collector.sessions() as session:
        device = session.scalars(select(Device)).one()
        assert str(device.id) == body["device_id"]
        assert device.token_hash == token_hash(token)
        assert (device.hostname, device.os, device.model) == ("lap-7", "windows", "Latitude 7440")
        assert device.tags == {"site": "gent"}
        dump = session.execute(text("SELECT * FROM devices")).all()
        assert token not in repr(dump)
        stored = session.scalars(select(EnrollmentSecret)).one()
        assert stored.uses == 1 and secret not in repr(
            session.execute(text("SELECT * FROM enrollment_secrets")).all()
        )
    device = collector.enroll(secret=secret)
    assert collector.post(device, make_batch(device.device_id)).status_code == 200


def test_each_enrollment_is_a_new_device_with_its_own_token(collector: Collector) -> None:
    secret = collector.enrollment_secret()
    first, second = collector.enroll("a", secret), collector.enroll("b", secret)
    assert first.device_id != second.device_id and first.token != second.token
    assert collector.post(first, make_batch(second.device_id)).status_code == 403


def test_unknown_revoked_expired_and_used_up_secrets_are_401(collector: Collector) -> None:
    assert _enroll(collector, "dxe_made_up")[0] == 401
    revoked = collector.enrollment_secret()
    with transaction(collector.sessions) as session:
        row = session.scalars(select(EnrollmentSecret)).one()
        revoke_enrollment_secret(session, row.id)
    status, body = _enroll(collector, revoked)
    assert (status, body["error"]) == (401, "invalid_enrollment_secret")

    expiring = collector.enrollment_secret(expires_in_days=1)
    assert _enroll(collector, expiring)[0] == 201
    with transaction(collector.sessions) as session:
        for row in session.scalars(select(EnrollmentSecret)):
            row.expires_at = now() - timedelta(seconds=1)
    assert _enroll(collector, expiring)[0] == 401

    once = collector.enrollment_secret(max_uses=2)
    assert [_enroll(collector, once)[0] for _ in range(3)] == [201, 201, 401]


def test_enroll_bad_input_is_4xx_json(collector: Collector) -> None:
    secret = collector.enrollment_secret()
    client = collector.client
    bad_json = client.post(
        "/api/v1/enroll", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert (bad_json.status_code, bad_json.json()["error"]) == (400, "malformed_json")
    missing = client.post("/api/v1/enroll", json={"enrollment_secret": secret})
    assert missing.status_code == 422
    assert {"hostname", "os"} <= {e["loc"][-1] for e in missing.json()["errors"]}
    wrong_os = _enroll(collector, secret, os="beos")
    assert wrong_os[0] == 422
    assert collector.count("devices") == 0


def test_oversize_bodies_on_other_routes_are_413(collector: Collector) -> None:
    big = {"enrollment_secret": "x" * 100_000, "hostname": "h", "os": "linux"}
    response = collector.client.post("/api/v1/enroll", json=big)
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while streaming
        yield b'{"enrollment_secret": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'", "hostname": "h", "os": "linux"}'

    streamed = collector.client.post(
        "/api/v1/enroll", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert collector.count("devices") == 0


def test_enrollment_is_committed_before_the_answer(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = collector.enrollment_secret()

    def fail(self: SessionTransaction, *args: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk full"))

    monkeypatch.setattr(SessionTransaction, "commit", fail)
    status, body = _enroll(collector, secret)
    monkeypatch.undo()
    assert status == 503, body  # never a 201 for a device that was not stored
    assert collector.count("devices") == 0
