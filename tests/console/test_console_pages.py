"""The console over HTTP as a browser sends it: sign-in and its limits, sessions, CSRF,
headers, each page, and the admin actions; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from console_support import MIN, PASSWORD, T0, add_user, csrf_of, sign_in, wifi_outage
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from support import add_device

from dexpulse.collector.api.outages import outage_detail
from dexpulse.collector.app import create_app
from dexpulse.collector.console.pages import AFFECTED_SHOWN
from dexpulse.collector.db import transaction
from dexpulse.collector.models import ConsoleSession, OutageEvent, OutageRecord
from dexpulse.collector.outages.store import record
from dexpulse.collector.security import Role
from dexpulse.collector.settings import CollectorSettings


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + 10 * MIN)


@pytest.fixture
def app_client(settings: CollectorSettings, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client


@pytest.fixture
def admin(app_client: TestClient) -> tuple[TestClient, str]:
    add_user(app_client.app.state.sessions, "alice")  # type: ignore[attr-defined]
    return app_client, sign_in(app_client, "alice")


def test_pages_send_a_stranger_to_sign_in_and_back(app_client: TestClient) -> None:
    add_user(app_client.app.state.sessions, "alice")  # type: ignore[attr-defined]
    first = app_client.get("/console/fleet?days=30", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/console/sign-in?next=/console/fleet%3Fdays%3D30"
    form = app_client.get(first.headers["location"])
    back = app_client.post(
        "/console/sign-in",
        data={"name": "ALICE", "password": PASSWORD, "csrf": csrf_of(form.text),
              "next": "/console/fleet?days=30"},
        follow_redirects=False,
    )  # fmt: skip
    assert (back.status_code, back.headers["location"]) == (303, "/console/fleet?days=30")
    cookie = back.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert app_client.get("/", follow_redirects=False).headers["location"] == "/console/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/api/v1/x"])
def test_sign_in_never_sends_the_browser_elsewhere(app_client: TestClient, target: str) -> None:
    add_user(app_client.app.state.sessions, "alice")  # type: ignore[attr-defined]
    form = app_client.get("/console/sign-in")
    done = app_client.post(
        "/console/sign-in",
        data={"name": "alice", "password": PASSWORD, "csrf": csrf_of(form.text), "next": target},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/console/"


def test_wrong_password_and_forged_form_are_refused(app_client: TestClient) -> None:
    add_user(app_client.app.state.sessions, "alice")  # type: ignore[attr-defined]
    form = app_client.get("/console/sign-in")
    wrong = app_client.post(
        "/console/sign-in",
        data={"name": "alice", "password": "not the password", "csrf": csrf_of(form.text)},
    )
    assert wrong.status_code == 401
    assert "do not match" in wrong.text
    forged = app_client.post(
        "/console/sign-in", data={"name": "alice", "password": PASSWORD, "csrf": "guess"}
    )
    assert forged.status_code == 403
    assert app_client.get("/console/", follow_redirects=False).status_code == 303


def test_failed_sign_ins_are_limited_even_with_the_right_password(
    app_client: TestClient, clock: Clock
) -> None:
    add_user(app_client.app.state.sessions, "alice")  # type: ignore[attr-defined]
    for _ in range(5):
        form = app_client.get("/console/sign-in")
        bad = {"name": "alice", "password": "wrong password!", "csrf": csrf_of(form.text)}
        assert app_client.post("/console/sign-in", data=bad).status_code == 401
    form = app_client.get("/console/sign-in")
    right = {"name": "alice", "password": PASSWORD, "csrf": csrf_of(form.text)}
    limited = app_client.post("/console/sign-in", data=right)
    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.text
    clock.at += timedelta(minutes=16)  # the window passes
    form = app_client.get("/console/sign-in")
    right["csrf"] = csrf_of(form.text)
    again = app_client.post("/console/sign-in", data=right, follow_redirects=False)
    assert again.status_code == 303


def test_every_console_post_needs_the_session_csrf_token(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        record(session, [wifi_outage(set())], T0 + 4 * MIN)
    for data in ({}, {"csrf": "x" * 43}):
        refused = client.post("/console/outages/wifi-1-1/acknowledge", data=data)
        assert refused.status_code == 403
    other_site = client.post(
        "/console/outages/wifi-1-1/acknowledge",
        data={"csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
    ok = client.post(
        "/console/outages/wifi-1-1/acknowledge",
        data={"csrf": csrf},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_security_headers(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    for url in ("/console/", "/console/static/console.css", "/api/v1/devices", "/healthz"):
        headers = client.get(url).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
    page = client.get("/console/").headers
    assert "script-src 'self'" in page["content-security-policy"]
    assert "unsafe-inline" not in page["content-security-policy"]
    assert page["cache-control"] == "no-store"


def test_feed_detail_acknowledge_and_resolve(admin: tuple[TestClient, str], clock: Clock) -> None:
    client, csrf = admin
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        ids = [str(add_device(session, f"laptop-{i}")) for i in range(3)]
        record(session, [wifi_outage(set(ids))], T0 + 4 * MIN)
    feed = client.get("/console/").text
    assert "1 outage now." in feed
    assert "access point 64:d1:54:68:93:ae (Wi-Fi network corp, site Brussels HQ)" in feed
    assert "3 of 16 devices failing" in feed
    detail = client.get("/console/outages/wifi-1-1").text
    for expected in ("Why we think it is this cohort", "Alternatives considered", "85 %",
                     "Intel AX211", "laptop-0", "<polyline"):  # fmt: skip
        assert expected in detail
    client.post("/console/outages/wifi-1-1/acknowledge", data={"csrf": csrf})
    clock.at += 5 * MIN
    client.post("/console/outages/wifi-1-1/resolve", data={"csrf": csrf})
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        row = session.get(OutageRecord, "wifi-1-1")
        assert row is not None
        assert (row.status, row.acknowledged_by, row.closed_by) == ("resolved", "alice", "alice")
        events = session.scalars(select(OutageEvent.event).order_by(OutageEvent.id)).all()
    assert events == ["opened", "acknowledged", "resolved"]
    assert "No outage now." in client.get("/console/").text
    # detection still seeing it reopens it, and forgets who closed it
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        again = wifi_outage(set(ids))
        again.last_alarm += 20
        record(session, [again], T0 + 30 * MIN)
        assert session.get(OutageRecord, "wifi-1-1").closed_by is None  # type: ignore[union-attr]
    assert "1 outage now." in client.get("/console/").text


def test_a_large_outage_lists_the_first_devices_and_counts_the_rest(
    admin: tuple[TestClient, str],
) -> None:
    client, _ = admin
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        named = str(add_device(session, "laptop-named"))
        many = {named} | {str(uuid.uuid4()) for _ in range(AFFECTED_SHOWN + 49)}
        record(session, [wifi_outage(many)], T0 + 4 * MIN)
    detail = client.get("/console/outages/wifi-1-1").text
    assert f"Affected devices ({AFFECTED_SHOWN + 50})" in detail
    assert detail.count('href="/console/devices/') == AFFECTED_SHOWN
    assert "and 50 more." in detail
    # the API still lists every one
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        whole = outage_detail(session, "wifi-1-1")
    assert len(whole.affected) == whole.affected_devices == AFFECTED_SHOWN + 50
    assert {"id": named, "hostname": "laptop-named"} in [a.model_dump() for a in whole.affected]


def test_a_viewer_reads_but_cannot_act(app_client: TestClient) -> None:
    add_user(app_client.app.state.sessions, "victor", Role.VIEWER)  # type: ignore[attr-defined]
    csrf = sign_in(app_client, "victor")
    with transaction(app_client.app.state.sessions) as session:  # type: ignore[attr-defined]
        record(session, [wifi_outage(set())], T0 + 4 * MIN)
    assert "Acknowledge" not in app_client.get("/console/").text
    acted = app_client.post("/console/outages/wifi-1-1/resolve", data={"csrf": csrf})
    assert acted.status_code == 403
    assert app_client.get("/console/admin").status_code == 403
    made = app_client.post("/console/surveys", data={"csrf": csrf, "name": "x", "question": "q",
                                                     "answer": "rating"})  # fmt: skip
    assert made.status_code == 403


def test_sign_out_and_disabling_end_sessions(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    add_user(sessions, "bob", Role.VIEWER)
    bob = TestClient(client.app)
    sign_in(bob, "bob")
    admin_page = client.get("/console/admin").text
    assert "bob" in admin_page
    with transaction(sessions) as session:
        bob_id = session.scalar(
            select(func.min(ConsoleSession.user_id)).where(ConsoleSession.user_id != 1)
        )
    client.post(f"/console/admin/users/{bob_id}/disable", data={"csrf": csrf})
    assert bob.get("/console/", follow_redirects=False).status_code == 303
    client.post("/console/sign-out", data={"csrf": csrf})
    assert client.get("/console/", follow_redirects=False).status_code == 303
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(ConsoleSession)) == 0


def test_admin_creates_secrets_keys_and_users(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    made = client.post("/console/admin/secrets", data={"csrf": csrf, "name": "Brussels laptops"})
    assert made.status_code == 200
    assert "dxe_" in made.text and "shown once" in made.text
    key = client.post("/console/admin/api-keys", data={"csrf": csrf, "name": "grafana"})
    assert "dxk_" in key.text
    weak = client.post(
        "/console/admin/users",
        data={"csrf": csrf, "name": "carol", "password": "short", "role": "viewer"},
    )
    assert weak.status_code == 422 and "at least 12" in weak.text
    ok = client.post(
        "/console/admin/users",
        data={"csrf": csrf, "name": "carol", "password": PASSWORD, "role": "viewer"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert "carol" in client.get("/console/admin").text


def test_a_survey_is_created_from_the_form(admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    bad = client.post("/console/surveys", data={"csrf": csrf, "name": " ", "question": "?",
                                                "answer": "rating"})  # fmt: skip
    assert bad.status_code == 422 and "must not be blank" in bad.text
    made = client.post(
        "/console/surveys",
        data={"csrf": csrf, "name": "Wi-Fi pulse", "question": "How was the Wi-Fi today?",
              "answer": "rating", "comment": "true", "anonymous": "true",
              "sites": "Brussels HQ\nParis", "sample_percent": "50", "repeat_days": "7"},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303
    page = client.get(made.headers["location"]).text
    assert "How was the Wi-Fi today?" in page and "anonymous" in page
    listed = client.get("/api/v1/surveys", headers=_viewer_key(client)).json()["campaigns"][0]
    assert listed["target"]["sites"] == ["Brussels HQ", "Paris"]
    assert (listed["sample_rate"], listed["repeat_days"]) == (0.5, 7)


def _viewer_key(client: TestClient) -> dict[str, str]:
    from dexpulse.collector.admin import create_api_key

    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        _, plaintext = create_api_key(session, "reader", Role.VIEWER)
    return {"Authorization": f"Bearer {plaintext}"}


def test_endpoint_strings_are_escaped(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    evil = '"><img src=x onerror=alert(1)>'
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        device = str(add_device(session, "<script>alert(1)</script>"))
        record(session, [wifi_outage({device}, ssid=evil)], T0 + 4 * MIN)
    for url in ("/console/", "/console/outages/wifi-1-1", "/console/devices",
                f"/console/devices/{device}"):  # fmt: skip
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/console/devices").text


def test_unknown_things_are_pages_not_json(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    missing = client.get(f"/console/devices/{uuid.uuid4()}")
    assert missing.status_code == 404 and "<html" in missing.text
    assert client.get("/console/outages/nope").status_code == 404
    assert client.get("/console/fleet?days=9").status_code == 422


def test_templates_ship_with_the_package() -> None:
    import dexpulse.collector.console as console

    folder = Path(console.__file__).parent
    assert (folder / "templates" / "base.html").is_file()
    assert (folder / "static" / "console.js").is_file()


def test_an_sso_proxy_signs_users_in_by_header(settings: CollectorSettings, clock: Clock) -> None:
    proxied = settings.model_copy(
        update={
            "console_proxy_user_header": "X-Forwarded-User",
            "console_trusted_proxies": ["testclient"],  # TestClient's address
        }
    )
    with TestClient(create_app(proxied, clock=clock)) as client:
        add_user(client.app.state.sessions, "alice")  # type: ignore[attr-defined]
        add_user(client.app.state.sessions, "victor", Role.VIEWER)  # type: ignore[attr-defined]
        first = client.get("/console/admin", headers={"X-Forwarded-User": "Alice"})
        assert first.status_code == 200 and "Console users" in first.text
        assert "dexpulse_console=" in first.headers["set-cookie"]
        # the same browser, now vouched for as someone else: that user, not the old session
        other = client.get("/console/admin", headers={"X-Forwarded-User": "victor"})
        assert other.status_code == 403
        unknown = TestClient(client.app)
        refused = unknown.get(
            "/console/", headers={"X-Forwarded-User": "mallory"}, follow_redirects=False
        )
        assert refused.status_code == 303
    untrusted = settings.model_copy(update={"console_proxy_user_header": "X-Forwarded-User"})
    with TestClient(create_app(untrusted, clock=clock)) as client:  # same database, users
        ignored = client.get(
            "/console/", headers={"X-Forwarded-User": "alice"}, follow_redirects=False
        )
        assert ignored.status_code == 303  # "testclient" is not a trusted proxy
