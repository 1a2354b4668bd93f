"""The console in a real headless Chromium against a real collector process: sign-in, every
page, the live feed taking a new outage without a reload, creating a survey, and endpoint
strings built to run script that must stay text. Screenshots of each page are saved."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from browser import Watch, chromium, screenshot
from console_data import Populated, populate
from console_support import PASSWORD, wifi_outage
from harness import Server, serve
from support import make_batch

from dexpulse.collector.db import make_engine, make_sessionmaker, transaction
from dexpulse.collector.detection.engine import to_minute
from dexpulse.collector.outages.store import record
from dexpulse.collector.scores import rollups
from dexpulse.collector.security import Role
from dexpulse.collector.users import create_user

pytestmark = pytest.mark.slow
SCRIPT = "<script>window.__xss = 1; alert(1)</script>"
IMG = '"><img src=x onerror="window.__xss = 2; alert(2)">'


class Site:
    def __init__(self, server: Server, url: str, data: Populated) -> None:
        self.server, self.url, self.data = server, url, data
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A collector process on SQLite holding a month of a small fleet (80 laptops, outages,
    raw samples for three), and two console users."""
    workdir = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{workdir / 'collector.db'}"
    data = populate(url, devices=80, days=30, sample_devices=3, outages=12, open_outages=2,
                    log=None)  # fmt: skip
    site_sessions = make_sessionmaker(make_engine(url))
    with transaction(site_sessions) as session:
        at = datetime.now(UTC)
        rollups.rebuild(session, at.date() - timedelta(days=30), at.date(), 80.0, at)
        create_user(session, "alice", PASSWORD, Role.ADMIN, at)
        create_user(session, "victor", PASSWORD, Role.VIEWER, at)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DEXPULSE_DETECTION_ENABLED", "false")
        env.setenv("DEXPULSE_SCORING_ENABLED", "false")
        with serve(url, workdir) as server:
            yield Site(server, url, data)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(base_url=site.server.url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def sign_in(page: Any, name: str = "alice") -> None:
    page.goto("/console/")
    assert "/console/sign-in" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console/$"))


def test_sign_in_and_every_page(page: Any, site: Site) -> None:
    watch = Watch(page)
    page.goto("/console/")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", "a wrong password")
    page.click("button[type=submit]")
    assert "do not match" in page.inner_text("[role=alert]")
    screenshot(page, "console-sign-in")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console/$"))
    page.wait_for_selector("#live:not([hidden])")  # the event stream is open
    assert "2 outages now." in page.inner_text(".summary-line")
    screenshot(page, "console-feed")

    page.click(f"a[href='/console/outages/{site.data.open_outages[0]}']")
    page.wait_for_selector("figure.chart polyline")
    assert "Why we think it is this cohort" in page.inner_text("main")
    assert page.locator("ul.devices li").count() > 0
    screenshot(page, "console-outage")

    page.click("header nav >> text=Fleet")
    page.wait_for_selector("p.big")
    score = float(page.inner_text("p.big"))
    assert 0 <= score <= 100
    assert page.locator("table.losses tbody tr").count() >= 3
    assert page.locator("figure.chart polyline").count() >= 1
    screenshot(page, "console-fleet")

    device = site.data.sample_devices[0]
    page.goto(f"/console/devices/{device}")
    assert page.locator("figure.chart polyline").count() >= 2  # Wi-Fi, CPU at least
    screenshot(page, "console-device")

    page.click("header nav >> text=Admin")
    assert page.locator("text=Console users").count() == 1
    screenshot(page, "console-admin")
    assert watch.dialogs == [] and watch.errors == []


def test_a_new_outage_appears_in_the_open_feed(page: Any, site: Site) -> None:
    watch = Watch(page)
    sign_in(page)
    page.wait_for_selector("#live:not([hidden])")
    page.evaluate("window.__same_page = true")
    before = page.locator("table.feed tbody tr").count()
    started = datetime.now(UTC) - timedelta(minutes=6)
    ident = f"wifi-live-{uuid.uuid4().hex[:6]}"
    with transaction(site.sessions) as session:
        affected = {str(d) for d in site.data.devices[:5]}
        outage = wifi_outage(affected, ident, started=started, ssid="Lisbon-Guest")
        record(session, [outage], datetime.now(UTC))
    row = page.locator(f"tr[data-outage='{ident}']")
    row.wait_for(timeout=20_000)  # no reload: the stream nudged the page
    assert page.evaluate("window.__same_page") is True
    assert "Lisbon-Guest" in row.inner_text()
    assert page.locator("table.feed tbody tr").count() == before + 1
    screenshot(page, "console-feed-live")
    row.locator("button:has-text('Acknowledge')").click()
    page.wait_for_url(re.compile(r"/console/$"))
    assert "taken by alice" in page.locator(f"tr[data-outage='{ident}']").inner_text()
    assert watch.dialogs == [] and watch.errors == []


def test_creating_a_survey(page: Any, site: Site) -> None:
    sign_in(page)
    page.click("header nav >> text=Surveys")
    page.fill("input[name=name]", "Monday Wi-Fi pulse")
    page.fill("input[name=question]", "How was the Wi-Fi this morning?")
    page.check("input[name=comment]")
    page.check("input[name=anonymous]")
    page.fill("textarea[name=sites]", "Brussels")
    screenshot(page, "console-survey-new")
    page.click("button:has-text('Create campaign')")
    page.wait_for_url(re.compile(r"/console/surveys/\d+$"))
    assert page.inner_text("h1") == "Monday Wi-Fi pulse"
    assert "asked so far" in page.inner_text("main")
    screenshot(page, "console-survey")
    page.click("button:has-text('Pause')")
    assert page.inner_text(".heading .badge") == "paused"


def test_a_viewer_sees_no_actions(page: Any, site: Site) -> None:
    sign_in(page, "victor")
    assert page.locator("button:has-text('Acknowledge')").count() == 0
    assert page.locator("header nav >> text=Admin").count() == 0
    page.goto("/console/admin")
    assert "Not allowed" in page.inner_text("h1")


def test_endpoint_strings_never_run(page: Any, site: Site) -> None:
    """A laptop named like a script, an app and an SSID named like markup, a comment and an
    outage scope carrying both: all shown as text, none run, in every page they reach."""
    secret = site.server.cli("collector", "enrollment-secret", "create", "--name", "xss")
    enrolled = httpx.post(
        f"{site.server.url}/api/v1/enroll",
        json={"enrollment_secret": secret, "hostname": SCRIPT, "os": "windows",
              "model": IMG, "tags": {"site": IMG, "department": SCRIPT}},
    ).json()  # fmt: skip
    device, token = enrolled["device_id"], enrolled["device_token"]
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.isoformat().replace("+00:00", "Z")
    samples = [
        {"kind": "app_crash", "ts": stamp, "app_name": SCRIPT, "app_version": IMG,
         "module_name": IMG},
        {"kind": "peripheral_failure", "ts": stamp, "name": IMG, "driver": SCRIPT},
        {"kind": "wifi", "ts": stamp, "ssid": IMG, "bssid": SCRIPT, "rssi_dbm": -61},
        {"kind": "survey_response", "ts": stamp, "survey_id": SCRIPT, "rating": 2,
         "comment": IMG},
    ]  # fmt: skip
    batch = make_batch(device, samples, sent_at=stamp, tags={"site": IMG, "department": SCRIPT})
    batch["agent"]["version"] = IMG
    sent = httpx.post(f"{site.server.url}/api/v1/ingest", json=batch,
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert sent.status_code == 200, sent.text
    ident = f"app_crash-xss-{uuid.uuid4().hex[:6]}"
    evil = wifi_outage({device}, ident, started=now - timedelta(minutes=8), ssid=SCRIPT)
    evil.cohort = (("site", IMG), ("app_name", SCRIPT))
    evil.suspects = [{"cohort": {"app_version": IMG}, "first_seen": stamp}]
    evil.explanation["alternatives"] = [{"cohort": {"ssid": SCRIPT}, "explained_share": 0.5}]
    evil.last_alarm = to_minute(now)
    with transaction(site.sessions) as session:
        record(session, [evil], now)

    watch = Watch(page)
    sign_in(page)
    visited = ["/console/", f"/console/outages/{ident}", "/console/devices",
               f"/console/devices/{device}", f"/console/devices?q={SCRIPT[:8]}"]  # fmt: skip
    for url in visited:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") is None, url
        assert page.locator("main img").count() == 0, url  # no markup made it into the page
        text = page.inner_text("main")
        assert SCRIPT in text or IMG in text, url  # shown, as text
    page.goto(f"/console/devices/{device}")
    text = page.inner_text("main")
    for shown in (SCRIPT, IMG):
        assert shown in text
    screenshot(page, "console-xss")
    assert watch.dialogs == [], watch.dialogs
    assert watch.errors == [], watch.errors
