"""Agent check-in: settings by tag, ETag and 304, and the admin API that sets them."""

from __future__ import annotations

from support import Collector

from dexpulse.collector.agent_config import settings_for
from dexpulse.collector.security import Role
from dexpulse.schema.checkin import FleetAgentConfig

FLEET = {
    "default": {"samplers": {"wifi": {"interval_s": 120}}, "upload": {"interval_s": 60}},
    "rules": [
        {
            "match": {"site": "brussels"},
            "settings": {
                "samplers": {"wifi": {"enabled": False}},
                "probes": [{"name": "intranet", "url": "https://intranet.example/h"}],
            },
        },
        {
            "match": {"site": "brussels", "department": "finance"},
            "settings": {"samplers": {"wifi": {"interval_s": 30}}},
        },
    ],
}


def test_rules_apply_in_order_field_by_field() -> None:
    fleet = FleetAgentConfig.model_validate(FLEET)
    hq_finance = settings_for(fleet, {"site": "brussels", "department": "finance"})
    assert hq_finance.samplers["wifi"].enabled is False
    assert hq_finance.samplers["wifi"].interval_s == 30
    assert hq_finance.probes is not None and hq_finance.probes[0].name == "intranet"
    elsewhere = settings_for(fleet, {"site": "gent"})
    assert elsewhere.samplers["wifi"].enabled is None
    assert elsewhere.samplers["wifi"].interval_s == 120 and elsewhere.probes is None


def test_device_gets_its_settings_with_etag_and_304(collector: Collector) -> None:
    admin = collector.api_key(Role.ADMIN)
    put = collector.client.put("/api/v1/agent-config", json=FLEET, headers=admin)
    assert put.status_code == 200
    device = collector.enroll()  # enrolled with tags {"site": "brussels"}
    first = collector.client.get("/api/v1/agent/config", headers=device.headers)
    assert first.status_code == 200
    settings = first.json()["settings"]
    assert settings["samplers"]["wifi"] == {"enabled": False, "interval_s": 120}
    etag = first.headers["etag"]
    again = collector.client.get(
        "/api/v1/agent/config", headers={**device.headers, "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    changed = dict(FLEET, default={"upload": {"interval_s": 300}})
    collector.client.put("/api/v1/agent-config", json=changed, headers=admin)
    after = collector.client.get(
        "/api/v1/agent/config", headers={**device.headers, "If-None-Match": etag}
    )
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert after.json()["settings"]["upload"] == {"interval_s": 300}


def test_checkin_needs_a_device_token_and_admin_api_an_admin(collector: Collector) -> None:
    assert collector.client.get("/api/v1/agent/config").status_code == 401
    viewer = collector.api_key(Role.VIEWER)
    assert collector.client.get("/api/v1/agent-config", headers=viewer).status_code == 403
    assert (
        collector.client.put("/api/v1/agent-config", json=FLEET, headers=viewer).status_code == 403
    )
    admin = collector.api_key(Role.ADMIN)
    assert collector.client.get("/api/v1/agent-config", headers=admin).json() == {
        "default": {"samplers": {}},
        "rules": [],
    }
    bad = collector.client.put(
        "/api/v1/agent-config",
        headers=admin,
        json={"default": {"samplers": {"wifi": {"interval_s": 0}}}},
    )
    assert bad.status_code == 422
    assert collector.client.get("/api/v1/agent-config", headers=admin).json()["rules"] == []
