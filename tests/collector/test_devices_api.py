"""IT API: API keys with roles, device listing, sample queries and revocation."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from support import Collector, iso, make_batch, now

from dexpulse.collector.security import Role


def test_api_needs_a_valid_key(collector: Collector) -> None:
    client = collector.client
    assert client.get("/api/v1/devices").status_code == 401
    bad = client.get("/api/v1/devices", headers={"Authorization": "Bearer dxk_nope"})
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_api_key")
    device = collector.enroll()
    as_device = client.get("/api/v1/devices", headers=device.headers)
    assert as_device.status_code == 401  # a device token is not an API key


def test_viewer_lists_devices_newest_seen_first(collector: Collector) -> None:
    quiet, busy = collector.enroll("quiet"), collector.enroll("busy")
    collector.post(busy, make_batch(busy.device_id))
    viewer = collector.api_key(Role.VIEWER)
    response = collector.client.get("/api/v1/devices", headers=viewer)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert [d["hostname"] for d in body["devices"]] == ["busy", "quiet"]
    assert body["devices"][0]["last_seen_at"] is not None
    assert "token_hash" not in body["devices"][0]
    page = collector.client.get("/api/v1/devices?limit=1&offset=1", headers=viewer).json()
    assert [d["hostname"] for d in page["devices"]] == ["quiet"]
    one = collector.client.get(f"/api/v1/devices/{quiet.device_id}", headers=viewer)
    assert one.json()["hostname"] == "quiet"


def test_samples_by_kind_and_time_range_with_paging(collector: Collector) -> None:
    device = collector.enroll()
    start = now() - timedelta(hours=1)
    samples = [
        {"kind": "wifi", "ts": iso(start + timedelta(minutes=i)), "rssi_dbm": -40 - i}
        for i in range(10)
    ]
    samples.append({"kind": "system", "ts": iso(start), "cpu_percent": 12.5})
    assert collector.post(device, make_batch(device.device_id, samples=samples)).status_code == 200
    viewer = collector.api_key(Role.VIEWER)
    url = f"/api/v1/devices/{device.device_id}/samples"
    params = {
        "kind": "wifi",
        "since": iso(start + timedelta(minutes=2)),
        "until": iso(start + timedelta(minutes=8)),
        "limit": 4,
    }
    first = collector.client.get(url, params=params, headers=viewer).json()
    assert [s["data"]["rssi_dbm"] for s in first["samples"]] == [-42, -43, -44, -45]
    assert first["next_cursor"]
    second = collector.client.get(
        url, params={**params, "cursor": first["next_cursor"]}, headers=viewer
    ).json()
    assert [s["data"]["rssi_dbm"] for s in second["samples"]] == [-46, -47]
    assert second["next_cursor"] is None
    system = collector.client.get(url, params={"kind": "system"}, headers=viewer).json()
    assert system["samples"][0]["data"] == {"cpu_percent": 12.5}
    assert system["samples"][0]["ts"].endswith(("Z", "+00:00"))


def test_sample_query_bad_input_is_4xx(collector: Collector) -> None:
    device = collector.enroll()
    viewer = collector.api_key(Role.VIEWER)
    url = f"/api/v1/devices/{device.device_id}/samples"
    naive = collector.client.get(url, params={"since": "2026-11-27T10:00:00"}, headers=viewer)
    assert (naive.status_code, naive.json()["error"]) == (422, "validation_error")
    cursor = collector.client.get(url, params={"cursor": "garbage!"}, headers=viewer)
    assert (cursor.status_code, cursor.json()["error"]) == (400, "invalid_cursor")
    unknown = collector.client.get(
        "/api/v1/devices/00000000-0000-4000-8000-000000000000/samples", headers=viewer
    )
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    not_uuid = collector.client.get("/api/v1/devices/xyz/samples", headers=viewer)
    assert not_uuid.status_code == 422


def test_only_admins_revoke_and_revocation_stops_uploads(collector: Collector) -> None:
    device = collector.enroll()
    url = f"/api/v1/devices/{device.device_id}/revoke"
    denied = collector.client.post(url, headers=collector.api_key(Role.VIEWER))
    assert (denied.status_code, denied.json()["error"]) == (403, "forbidden")
    assert collector.post(device, make_batch(device.device_id)).status_code == 200
    done = collector.client.post(url, headers=collector.api_key(Role.ADMIN))
    assert done.status_code == 200 and done.json()["revoked_at"] is not None
    refused = collector.post(device, make_batch(device.device_id))
    assert (refused.status_code, refused.json()["error"]) == (401, "token_revoked")


def test_admin_manages_enrollment_secrets_over_the_api(collector: Collector) -> None:
    admin = collector.api_key(Role.ADMIN)
    client = collector.client
    assert (
        client.get("/api/v1/enrollment-secrets", headers=collector.api_key(Role.VIEWER)).status_code
        == 403
    )
    created = client.post(
        "/api/v1/enrollment-secrets", headers=admin, json={"name": "wave 1", "max_uses": 5}
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    collector.enroll(secret=secret)
    listed = client.get("/api/v1/enrollment-secrets", headers=admin).json()
    assert [(s["name"], s["uses"], s["max_uses"]) for s in listed] == [("wave 1", 1, 5)]
    assert "secret" not in listed[0]
    sid = created.json()["id"]
    assert client.post(f"/api/v1/enrollment-secrets/{sid}/revoke", headers=admin).status_code == 200
    refused = client.post(
        "/api/v1/enroll", json={"enrollment_secret": secret, "hostname": "x", "os": "linux"}
    )
    assert refused.status_code == 401
    bad = client.post("/api/v1/enrollment-secrets", headers=admin, json={"name": ""})
    assert bad.status_code == 422
    missing = client.post("/api/v1/enrollment-secrets/999/revoke", headers=admin)
    assert missing.status_code == 404


def test_out_of_range_times_and_cursors_are_4xx(collector: Collector) -> None:
    device = collector.enroll()
    viewer = collector.api_key(Role.VIEWER)
    url = f"/api/v1/devices/{device.device_id}/samples"
    for params in ({"since": "0001-01-01T00:00:00+01:00"}, {"until": "9999-12-31T23:59:59-01:00"}):
        response = collector.client.get(url, params=params, headers=viewer)
        assert response.status_code == 422, params
    for ts, row_id in (
        ("2020-01-01T00:00:00+00:00", 10**20),
        ("0001-01-01T00:00:00+01:00", 1),
        ("2020-01-01T00:00:00+00:00", -1),
    ):
        cursor = base64.urlsafe_b64encode(json.dumps([ts, row_id]).encode()).decode()
        response = collector.client.get(url, params={"cursor": cursor}, headers=viewer)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_cursor")
