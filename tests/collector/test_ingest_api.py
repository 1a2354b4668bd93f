"""POST /api/v1/ingest: the happy path, exactly-once storage and every kind of bad input."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, text
from support import Collector, iso, make_batch, now

from dexpulse.collector.models import Device, IngestedBatch, SampleRow


def test_batch_is_stored_with_its_samples(collector: Collector) -> None:
    device = collector.enroll()
    at = now()
    batch = make_batch(
        device.device_id,
        samples=[
            {
                "kind": "wifi",
                "ts": iso(at),
                "ssid": "corp",
                "bssid": "64:d1:54:00:00:01",
                "rssi_dbm": -67,
                "channel": 36,
            },
            {"kind": "app_crash", "ts": iso(at), "app_name": "Teams.exe", "app_version": "24.1"},
            {
                "kind": "inventory",
                "ts": iso(at),
                "reason": "start",
                "apps": [{"name": "Teams", "version": "24.1", "running": True}],
            },
        ],
        seq=7,
    )
    response = collector.post(device, batch)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "batch_id": batch["batch_id"],
        "duplicate": False,
        "accepted": 3,
        "dropped": {},
        "clock_offset_s": 0.0,
    }
    with collector.sessions() as session:
        rows = session.scalars(select(SampleRow).order_by(SampleRow.id)).all()
        assert [r.kind for r in rows] == ["wifi", "app_crash", "inventory"]
        assert rows[0].data == {
            "ssid": "corp",
            "bssid": "64:d1:54:00:00:01",
            "rssi_dbm": -67.0,
            "channel": 36,
        }
        assert rows[2].data["apps"] == [{"name": "Teams", "version": "24.1", "running": True}]
        assert abs(rows[0].ts - at) < timedelta(milliseconds=1)
        assert rows[0].ts.tzinfo is not None
        dev = session.get(Device, uuid.UUID(device.device_id))
        assert dev is not None and dev.last_seq == 7 and dev.tags["site"] == "brussels"
        assert dev.last_seen_at is not None and dev.os_build == "6.8.0-45"


def test_uncompressed_batch_is_accepted(collector: Collector) -> None:
    device = collector.enroll()
    response = collector.post(device, make_batch(device.device_id), compress=False)
    assert response.status_code == 200, response.text
    assert collector.count("samples") == 1


def test_same_batch_twice_is_stored_once(collector: Collector) -> None:
    device = collector.enroll()
    batch = make_batch(device.device_id)
    first = collector.post(device, batch)
    second = collector.post(device, batch)
    assert first.json()["duplicate"] is False
    assert second.status_code == 200
    assert second.json() == {
        "batch_id": batch["batch_id"],
        "duplicate": True,
        "accepted": 0,
        "dropped": {},
        "clock_offset_s": 0.0,
    }
    assert collector.count("batches") == 1
    assert collector.count("samples") == 1


def test_concurrent_deliveries_of_one_batch_store_it_once(collector: Collector) -> None:
    device = collector.enroll()
    batch = make_batch(device.device_id)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: collector.post(device, batch), range(12)))
    assert {r.status_code for r in results} == {200}
    assert sum(not r.json()["duplicate"] for r in results) == 1
    assert collector.count("samples") == 1


def test_batch_id_reused_by_another_device_is_a_conflict(collector: Collector) -> None:
    a, b = collector.enroll("a"), collector.enroll("b")
    batch = make_batch(a.device_id)
    assert collector.post(a, batch).status_code == 200
    clash = dict(batch, device_id=b.device_id)
    response = collector.post(b, clash)
    assert response.status_code == 409
    assert response.json()["error"] == "batch_id_conflict"


def test_token_of_another_device_is_forbidden(collector: Collector) -> None:
    a, b = collector.enroll("a"), collector.enroll("b")
    response = collector.post(a, make_batch(b.device_id))
    assert response.status_code == 403
    assert response.json()["error"] == "device_mismatch"
    assert collector.count("batches") == 0


def test_missing_invalid_and_revoked_tokens_are_401(collector: Collector) -> None:
    device = collector.enroll()
    batch = make_batch(device.device_id)
    missing = collector.post(None, batch)
    assert (missing.status_code, missing.json()["error"]) == (401, "missing_token")
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = collector.post(None, batch, headers={"Authorization": "Bearer dxd_nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_token")
    basic = collector.post(None, batch, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.status_code == 401
    with collector.sessions() as session, session.begin():
        dev = session.get(Device, uuid.UUID(device.device_id))
        assert dev is not None
        dev.revoked_at = now()
    revoked = collector.post(device, batch)
    assert (revoked.status_code, revoked.json()["error"]) == (401, "token_revoked")
    assert collector.count("batches") == 0


def test_a_token_revoked_after_use_is_refused_at_once(collector: Collector) -> None:
    """The collector remembers a token it has seen valid; revoking it still takes effect on
    the next batch, which stores nothing."""
    device = collector.enroll()
    assert collector.post(device, make_batch(device.device_id)).status_code == 200
    with collector.sessions() as session, session.begin():
        dev = session.get(Device, uuid.UUID(device.device_id))
        assert dev is not None
        dev.revoked_at = now()
    for _ in range(2):
        refused = collector.post(device, make_batch(device.device_id))
        assert (refused.status_code, refused.json()["error"]) == (401, "token_revoked")
    assert (collector.count("batches"), collector.count("samples")) == (1, 1)


def test_samples_are_written_as_sqlalchemy_writes_them(collector: Collector) -> None:
    """Ingest writes samples in bulk beneath SQLAlchemy's statements: its rows must be what
    an ORM insert stores (on SQLite a time without microseconds written as the sqlite3
    module formats it would compare wrongly with every stored one)."""
    device = collector.enroll()
    at = now().replace(microsecond=0)
    sample = {"kind": "wifi", "ts": iso(at), "ssid": "corp", "rssi_dbm": -61.5, "channel": 1}
    assert collector.post(device, make_batch(device.device_id, [sample])).status_code == 200
    with collector.sessions() as session, session.begin():
        stored = session.scalars(select(SampleRow)).one()
        session.add(SampleRow(device_id=stored.device_id, batch_id=stored.batch_id,
                              kind="wifi", ts=at, data=stored.data))  # fmt: skip
    with collector.sessions() as session:
        bulk, orm = session.execute(
            text("SELECT device_id, batch_id, kind, ts, data FROM samples ORDER BY id")
        ).all()
    assert tuple(bulk) == tuple(orm)
    assert stored.data == {"ssid": "corp", "rssi_dbm": -61.5, "channel": 1}


def test_malformed_json_is_400(collector: Collector) -> None:
    device = collector.enroll()
    for raw in (b"{not json", b"", b"[1, 2", '{"a": "\udcff"}'.encode("utf-8", "surrogatepass")):
        response = collector.post(device, raw)
        assert response.status_code == 400, raw
        assert response.json()["error"] == "malformed_json"
        assert response.json()["detail"]


def test_wrong_content_type_or_encoding_is_415(collector: Collector) -> None:
    device = collector.enroll()
    batch = make_batch(device.device_id)
    text = collector.post(device, batch, headers={"Content-Type": "text/plain"})
    assert (text.status_code, text.json()["error"]) == (415, "unsupported_media_type")
    brotli = collector.post(device, batch, compress=False, headers={"Content-Encoding": "br"})
    assert (brotli.status_code, brotli.json()["error"]) == (415, "unsupported_encoding")
    assert collector.count("batches") == 0


def test_broken_gzip_is_400(collector: Collector) -> None:
    device = collector.enroll()
    packed = gzip.compress(json.dumps(make_batch(device.device_id)).encode())
    for raw in (packed[: len(packed) // 2], b"not gzip at all", packed + b"trailing"):
        response = collector.post(device, raw, compress=False, headers={"Content-Encoding": "gzip"})
        assert (response.status_code, response.json()["error"]) == (400, "invalid_body")


def test_oversize_body_is_413(collector: Collector) -> None:
    device = collector.enroll()
    limit = collector.client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    filler = [
        {
            "kind": "agent_health",
            "ts": iso(now()),
            "component": "x",
            "status": "ok",
            "message": "x" * 4000,
        }
    ] * (limit // 4000 + 10)
    raw = json.dumps(make_batch(device.device_id, samples=filler)).encode()
    assert len(raw) > limit
    response = collector.post(device, raw, compress=False)
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")
    assert collector.count("batches") == 0


def test_gzip_bomb_is_413_before_inflating(collector: Collector) -> None:
    device = collector.enroll()
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    bomb = b"".join(squeezer.compress(zeros) for _ in range(1000)) + squeezer.flush()
    assert len(bomb) < 1024 * 1024  # about 1 GiB of zeros in under 1 MiB on the wire
    response = collector.post(device, bomb, compress=False, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed" in response.json()["detail"]


def test_schema_violation_is_422_with_the_field(collector: Collector) -> None:
    device = collector.enroll()
    cases = {
        "rssi_dbm": [{"kind": "wifi", "ts": iso(now()), "rssi_dbm": "strong"}],
        "ts": [{"kind": "wifi", "ts": "2026-11-27T10:00:00"}],  # no timezone
        "app_name": [{"kind": "app_crash", "ts": iso(now())}],
        "event": [{"kind": "wifi_event", "ts": iso(now()), "event": "exploded"}],
        "ssid": [{"kind": "wifi", "ts": iso(now()), "ssid": "a\u0000b"}],
    }
    for field, samples in cases.items():
        response = collector.post(device, make_batch(device.device_id, samples=samples))
        assert response.status_code == 422, field
        body = response.json()
        assert body["error"] == "validation_error"
        assert any(field in err["loc"] for err in body["errors"]), (field, body)
        assert field in body["detail"]
    missing_seq = make_batch(device.device_id)
    del missing_seq["seq"]
    assert collector.post(device, missing_seq).status_code == 422
    assert collector.count("batches") == 0


def test_nan_and_infinity_are_refused(collector: Collector) -> None:
    device = collector.enroll()
    raw = json.dumps(
        make_batch(
            device.device_id,
            samples=[{"kind": "system", "ts": iso(now()), "cpu_percent": float("nan")}],
        )
    ).encode()
    assert b"NaN" in raw
    response = collector.post(device, raw)
    assert response.status_code in (400, 422)
    assert collector.count("samples") == 0


def test_unknown_sample_kind_is_422(collector: Collector) -> None:
    device = collector.enroll()
    batch = make_batch(
        device.device_id,
        samples=[{"kind": "wifi", "ts": iso(now())}, {"kind": "teleport", "ts": iso(now())}],
    )
    response = collector.post(device, batch)
    assert response.status_code == 422
    assert response.json()["error"] == "unknown_sample_kind"
    assert "teleport" in response.json()["detail"]
    assert collector.count("samples") == 0  # nothing of the batch, not even the valid sample


def test_unknown_fields_from_newer_agents_are_ignored(collector: Collector) -> None:
    device = collector.enroll()
    batch = make_batch(
        device.device_id,
        samples=[{"kind": "wifi", "ts": iso(now()), "rssi_dbm": -50, "wifi7_mlo_links": 2}],
        schema_version=3,
        future_envelope_field={"x": 1},
    )
    batch["agent"]["cpu_arch"] = "arm64"
    response = collector.post(device, batch)
    assert response.status_code == 200, response.text
    with collector.sessions() as session:
        stored = session.scalars(select(SampleRow)).one()
        assert stored.data == {"rssi_dbm": -50.0}
        assert session.scalars(select(IngestedBatch)).one().schema_version == 3


def test_empty_batch_is_a_heartbeat(collector: Collector) -> None:
    device = collector.enroll()
    response = collector.post(device, make_batch(device.device_id, samples=[]))
    assert response.status_code == 200
    assert response.json()["accepted"] == 0
    with collector.sessions() as session:
        dev = session.get(Device, uuid.UUID(device.device_id))
        assert dev is not None and dev.last_seen_at is not None


def test_wrong_device_clock_is_corrected(collector: Collector) -> None:
    device = collector.enroll()
    skew = timedelta(hours=3)  # the laptop's clock runs three hours ahead
    device_now = now() + skew
    batch = make_batch(
        device.device_id,
        sent_at=iso(device_now),
        samples=[{"kind": "wifi", "ts": iso(device_now - timedelta(minutes=2))}],
    )
    response = collector.post(device, batch)
    assert response.status_code == 200
    offset = response.json()["clock_offset_s"]
    assert abs(offset + skew.total_seconds()) < 60
    with collector.sessions() as session:
        stored = session.scalars(select(SampleRow)).one()
    assert abs(stored.ts - (now() - timedelta(minutes=2))) < timedelta(minutes=1)


def test_impossible_timestamps_are_dropped_not_the_batch(collector: Collector) -> None:
    device = collector.enroll()
    batch = make_batch(
        device.device_id,
        samples=[
            {"kind": "wifi", "ts": iso(now())},
            {"kind": "wifi", "ts": iso(now() + timedelta(days=2))},
            {"kind": "wifi", "ts": iso(now() - timedelta(days=400))},
            {"kind": "wifi", "ts": "0001-01-01T00:00:00Z"},
        ],
    )
    response = collector.post(device, batch)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["dropped"] == {"ts_in_future": 1, "ts_too_old": 2}
    assert collector.count("samples") == 1
    with collector.sessions() as session:
        assert session.scalars(select(IngestedBatch)).one().dropped_count == 3


def test_offline_backlog_lands_at_event_time(collector: Collector) -> None:
    device = collector.enroll()
    three_days_ago = now() - timedelta(days=3)
    batch = make_batch(device.device_id, samples=[{"kind": "wifi", "ts": iso(three_days_ago)}])
    assert collector.post(device, batch).json()["accepted"] == 1
    with collector.sessions() as session:
        stored = session.scalars(select(SampleRow)).one()
    assert abs(stored.ts - three_days_ago) < timedelta(milliseconds=1)


def test_late_batch_does_not_move_last_seq_back(collector: Collector) -> None:
    device = collector.enroll()
    for seq in (5, 9, 3):  # batch 3 was stuck in a retry loop and arrives last
        assert collector.post(device, make_batch(device.device_id, seq=seq)).status_code == 200
    with collector.sessions() as session:
        dev = session.get(Device, uuid.UUID(device.device_id))
        assert dev is not None and dev.last_seq == 9
    assert collector.count("batches") == 3


def test_too_many_json_objects_are_refused_before_validation(collector: Collector) -> None:
    device = collector.enroll()
    apps = [{"name": f"app{i}"} for i in range(3000)]
    samples = [{"kind": "inventory", "ts": iso(now()), "apps": apps} for _ in range(9)]
    response = collector.post(device, make_batch(device.device_id, samples=samples))
    assert (response.status_code, response.json()["error"]) == (413, "too_many_objects")
    assert collector.count("batches") == 0


def test_batch_without_tags_keeps_the_stored_ones(collector: Collector) -> None:
    device = collector.enroll()
    collector.post(device, make_batch(device.device_id, tags={"site": "gent"}))
    collector.post(device, make_batch(device.device_id, tags=None))
    untagged = make_batch(device.device_id)
    del untagged["tags"]
    collector.post(device, untagged)
    with collector.sessions() as session:
        dev = session.get(Device, uuid.UUID(device.device_id))
        assert dev is not None and dev.tags == {"site": "gent"}
    collector.post(device, make_batch(device.device_id, tags={}))
    with collector.sessions() as session:
        dev = session.get(Device, uuid.UUID(device.device_id))
        assert dev is not None and dev.tags == {}
