"""The IT console's pages, under ``/console``: sign-in, the outage feed, an outage, the fleet's
experience, devices, surveys and the admin page.

Pages are server-rendered from the same queries as the API. The feed updates itself from a
Server-Sent Events stream (cookie-authenticated, unlike the API's) by fetching its rows again
as HTML, so nothing an endpoint sent is ever turned into markup in the browser.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from ..admin import (
    create_api_key,
    create_enrollment_secret,
    list_api_keys,
    list_enrollment_secrets,
    revoke_api_key,
    revoke_enrollment_secret,
)
from ..api import outages as outage_api
from ..api import surveys as survey_api
from ..errors import ApiError
from ..models import Device, Notification, OutageEvent, SampleRow
from ..outages.store import acknowledge, resolve_by_hand
from ..security import Role
from ..users import create_user, list_users, set_disabled
from . import auth, fleet
from .charts import Series, line_chart, time_label
from .web import (
    HERE,
    Admin,
    AdminReader,
    Checked,
    DbDep,
    Signed,
    address,
    cookie_name,
    now_of,
    page,
    policy,
    safe_next,
    set_cookie,
    settings_of,
)

router = APIRouter(prefix="/console", include_in_schema=False)
root = APIRouter(include_in_schema=False)
static = StaticFiles(directory=HERE / "static")
OutageId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
NextField = Annotated[str | None, Form(max_length=2000)]
FEED_DAYS = 7
FEED_LIMIT = 200
AFFECTED_SHOWN = 200
"""The outage page lists this many affected devices and counts the rest."""


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


@root.get("/")
def home() -> RedirectResponse:
    return _redirect("/console/")


@router.get("")
def console_root() -> RedirectResponse:
    return _redirect("/console/")


# --- sign-in -------------------------------------------------------------------------------


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str | None = None) -> Response:
    token = auth.new_secret()
    response = page(request, "sign_in.html", csrf=token, next=safe_next(next), error=None)
    set_cookie(request, response, cookie_name(request, sign_in=True), token, samesite="strict")
    return response


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    session: DbDep,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=2000)],
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(cookie_name(request, sign_in=True)) or ""
    at, where = now_of(request), address(request)

    def again(error: str, status: int) -> Response:
        token = auth.new_secret()
        response = page(
            request, "sign_in.html", status=status, csrf=token, next=target, error=error, name=name
        )
        set_cookie(request, response, cookie_name(request, sign_in=True), token, samesite="strict")
        return response

    if not expected or not auth.same_secret(csrf, expected):
        return again("The sign-in form had expired. Please try again.", 403)
    if auth.throttled(session, name, where, at):
        return again(
            "Too many failed sign-ins. Wait 15 minutes, or ask an admin to check the account.",
            429,
        )
    user = auth.sign_in(session, name, password, where, at)
    if user is None:
        return again("That name and password do not match an active user.", 401)
    auth.prune(session, at, policy(settings_of(request)))
    token = auth.start_session(session, user, at, where, request.headers.get("user-agent"))
    response = _redirect(target)
    set_cookie(request, response, cookie_name(request), token)
    response.delete_cookie(cookie_name(request, sign_in=True), path="/")
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: DbDep, viewer: Checked) -> Response:
    auth.end_session(session, viewer.token_hash)
    response = _redirect("/console/sign-in")
    response.delete_cookie(cookie_name(request), path="/")
    return response


# --- outages -------------------------------------------------------------------------------


def _feed(session: DbDep, at: datetime) -> dict[str, Any]:
    found = outage_api.find_outages(session, since=at - timedelta(days=FEED_DAYS), limit=FEED_LIMIT)
    live = [o for o in found if o.status != "resolved"]
    return {"outages": found, "live": live, "now": at, "feed_days": FEED_DAYS}


@router.get("/", response_class=HTMLResponse)
def feed(request: Request, session: DbDep, viewer: Signed) -> Response:
    return page(request, "feed.html", **_feed(session, now_of(request)))


@router.get("/feed/rows", response_class=HTMLResponse)
def feed_rows(request: Request, session: DbDep, viewer: Signed) -> Response:
    """The feed's table alone: what the page's script swaps in when the stream says so."""
    return page(request, "_feed_rows.html", **_feed(session, now_of(request)))


@router.get("/feed/stream")
async def feed_stream(request: Request, viewer: Signed) -> StreamingResponse:
    """The outage events as they happen (Server-Sent Events). Only a nudge for the page: it
    then fetches the rows as HTML."""
    sessions = request.app.state.sessions
    start = await run_in_threadpool(outage_api.newest_event_id, sessions)
    return StreamingResponse(
        outage_api.event_stream(request, sessions, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/outages/{outage_id}", response_class=HTMLResponse)
def outage(request: Request, session: DbDep, viewer: Signed, outage_id: OutageId) -> Response:
    detail = outage_api.outage_detail(session, outage_id, AFFECTED_SHOWN)
    points = [(p.minute.timestamp(), float(p.failing), float(p.exposed)) for p in detail.timeline]
    span = (points[-1][0] - points[0][0]) if points else 0.0
    chart = line_chart(
        "Devices failing and exposed, per minute",
        [
            Series("exposed", [(x, e) for x, _, e in points], "s2"),
            Series("failing", [(x, f) for x, f, _ in points], "s1"),
        ],
        x_label=time_label(span),
        y_min=0,
        gap=300,
    )
    sent = session.execute(
        select(Notification, OutageEvent.event)
        .join(OutageEvent, OutageEvent.id == Notification.event_id)
        .where(OutageEvent.outage_id == outage_id)
        .order_by(Notification.id)
    ).all()
    return page(
        request,
        "outage.html",
        outage=detail,
        timeline_chart=chart,
        notifications=sent,
        now=now_of(request),
        alternatives=(detail.explanation or {}).get("alternatives") or [],
    )


@router.post("/outages/{outage_id}/acknowledge")
def outage_acknowledge(
    request: Request, session: DbDep, viewer: Admin, outage_id: OutageId, next: NextField = None
) -> Response:
    acknowledge(session, outage_id, viewer.name, now_of(request))
    return _redirect(safe_next(next or f"/console/outages/{outage_id}"))


@router.post("/outages/{outage_id}/resolve")
def outage_resolve(
    request: Request, session: DbDep, viewer: Admin, outage_id: OutageId, next: NextField = None
) -> Response:
    resolve_by_hand(session, outage_id, viewer.name, now_of(request))
    return _redirect(safe_next(next or f"/console/outages/{outage_id}"))


# --- fleet ---------------------------------------------------------------------------------


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(
    request: Request,
    session: DbDep,
    viewer: Signed,
    days: Annotated[Literal[1, 7, 30], Query()] = 7,
) -> Response:
    today: date = now_of(request).date()
    view = fleet.overview(session, settings_of(request).scoring, today, days)
    trend = line_chart(
        "Fleet score, day by day (30 days)",
        [Series("score", [(float(d.toordinal()) * 86400, s) for d, s in view.trend], "s1")],
        x_label=lambda x: date.fromordinal(int(x // 86400)).strftime("%d %b"),
        y_max=100,
        gap=86400 * 1.5,
    )
    return page(
        request, "fleet.html", view=view, trend=trend, days=days, dimensions=fleet.DIMENSIONS,
        lost=fleet.losses(view.fleet),
    )  # fmt: skip


# --- devices -------------------------------------------------------------------------------


@router.get("/devices", response_class=HTMLResponse)
def devices(
    request: Request,
    session: DbDep,
    viewer: Signed,
    q: Annotated[str, Query(max_length=200)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    size = 50
    query = select(Device)
    wanted = q.strip()
    if wanted:
        pattern = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Device.hostname.ilike(f"{pattern}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Device.last_seen_at.desc().nulls_last(), Device.id)
        .limit(size)
        .offset((page_no - 1) * size)
    ).all()
    return page(
        request, "devices.html", devices=rows, q=wanted, page_no=page_no, total=total, size=size
    )


SAMPLE_CHARTS = (
    ("wifi", "rssi_dbm", "Wi-Fi signal", "dBm"),
    ("network_probe", "connect_ms", "Connection time", "ms"),
    ("system", "cpu_percent", "CPU", "%"),
)
EVENT_KINDS = ("app_crash", "app_hang", "peripheral_failure", "wifi_event")


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device(
    request: Request,
    session: DbDep,
    viewer: Signed,
    device_id: uuid.UUID,
    hours: Annotated[Literal[24, 72, 168], Query()] = 24,
) -> Response:
    row = session.get(Device, device_id)
    if row is None:
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    at = now_of(request)
    since = at - timedelta(hours=hours)
    charts = []
    for kind, field, title, unit in SAMPLE_CHARTS:
        values: dict[str, list[tuple[float, float | None]]] = {}
        for ts, data in session.execute(
            select(SampleRow.ts, SampleRow.data)
            .where(SampleRow.device_id == device_id, SampleRow.kind == kind)
            .where(SampleRow.ts >= since)
            .order_by(SampleRow.ts)
            .limit(20_000)
        ):
            value = data.get(field)
            series = str(data.get("target") or title) if kind == "network_probe" else title
            if isinstance(value, int | float):
                values.setdefault(series, []).append((ts.timestamp(), float(value)))
        charts.append(
            line_chart(
                f"{title} ({unit})",
                [
                    Series(name, pts, f"s{i % 4 + 1}")
                    for i, (name, pts) in enumerate(values.items())
                ],
                x_label=time_label(hours * 3600),
                unit=unit,
                gap=900,
                height=170,
            )
        )
    events = session.execute(
        select(SampleRow.kind, SampleRow.ts, SampleRow.data)
        .where(SampleRow.device_id == device_id, SampleRow.kind.in_(EVENT_KINDS))
        .where(SampleRow.ts >= at - timedelta(days=7))
        .order_by(SampleRow.ts.desc())
        .limit(200)
    ).all()
    answers = session.execute(
        select(SampleRow.ts, SampleRow.data)
        .where(SampleRow.device_id == device_id, SampleRow.kind == "survey_response")
        .order_by(SampleRow.ts.desc())
        .limit(50)
    ).all()
    score = fleet.device_score(session, settings_of(request).scoring, device_id, at.date())
    return page(
        request,
        "device.html",
        device=row,
        charts=charts,
        events=events,
        answers=[(ts, d) for ts, d in answers if not d.get("anonymous")],
        score=score,
        hours=hours,
    )


# --- surveys -------------------------------------------------------------------------------


@router.get("/surveys", response_class=HTMLResponse)
def surveys(request: Request, session: DbDep, viewer: Signed) -> Response:
    listed = survey_api.campaigns(session)
    return page(request, "surveys.html", campaigns=listed, errors=None, form={})


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


@router.post("/surveys", response_class=HTMLResponse)
def survey_create(
    request: Request,
    session: DbDep,
    viewer: Admin,
    name: Annotated[str, Form(max_length=300)],
    question: Annotated[str, Form(max_length=1000)],
    answer: Annotated[str, Form(max_length=20)],
    comment: Annotated[bool, Form()] = False,
    anonymous: Annotated[bool, Form()] = False,
    sites: Annotated[str, Form(max_length=5000)] = "",
    sample_percent: Annotated[str, Form(max_length=10)] = "100",
    trigger: Annotated[str, Form(max_length=40)] = "schedule",
    repeat_days: Annotated[str, Form(max_length=10)] = "",
    respond_within_h: Annotated[str, Form(max_length=10)] = "72",
) -> Response:
    form = {
        "name": name,
        "question": question,
        "answer": answer,
        "comment": comment,
        "anonymous": anonymous,
        "sites": sites,
        "sample_percent": sample_percent,
        "trigger": trigger,
        "repeat_days": repeat_days,
        "respond_within_h": respond_within_h,
    }
    try:
        body = survey_api.CampaignIn.model_validate(
            {
                "name": name,
                "question": question,
                "answer": answer,
                "comment": comment,
                "anonymous": anonymous,
                "target": {"sites": _lines(sites)},
                "sample_rate": float(sample_percent or "100") / 100,
                "trigger": trigger,
                "repeat_days": int(repeat_days) if repeat_days.strip() else None,
                "respond_within_h": int(respond_within_h or "72"),
            }
        )
    except (ValidationError, ValueError) as exc:
        errors = (
            [f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors()]
            if isinstance(exc, ValidationError)
            else [f"a number was expected: {exc}"]
        )
        listed = survey_api.campaigns(session)
        return page(request, "surveys.html", status=422, campaigns=listed, errors=errors, form=form)
    created = survey_api.new_campaign(session, body)
    return _redirect(f"/console/surveys/{created.id}")


@router.get("/surveys/{campaign_id}", response_class=HTMLResponse)
def survey(
    request: Request,
    session: DbDep,
    viewer: Signed,
    campaign_id: survey_api.CampaignId,
    group_by: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    results = survey_api.results(session, campaign_id, group_by or None)
    return page(request, "survey.html", results=results, group_by=group_by or "")


@router.post("/surveys/{campaign_id}/{action}")
def survey_action(
    session: DbDep,
    viewer: Admin,
    campaign_id: survey_api.CampaignId,
    action: Literal["pause", "resume", "end"],
) -> Response:
    status = {"pause": "paused", "resume": "active", "end": "ended"}[action]
    survey_api.set_status(session, campaign_id, status)
    return _redirect(f"/console/surveys/{campaign_id}")


# --- admin ---------------------------------------------------------------------------------


def _admin_page(request: Request, session: DbDep, status: int = 200, **shown: Any) -> HTMLResponse:
    return page(
        request,
        "admin.html",
        status=status,
        secrets=list_enrollment_secrets(session),
        keys=list_api_keys(session),
        users=list_users(session),
        **{"new_secret": None, "new_key": None, "error": None, **shown},
    )


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, session: DbDep, viewer: AdminReader) -> Response:
    return _admin_page(request, session)


@router.post("/admin/secrets", response_class=HTMLResponse)
def admin_secret_create(
    request: Request,
    session: DbDep,
    viewer: Admin,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    max_uses: Annotated[int | None, Form(ge=1, le=1_000_000_000)] = None,
    expires_in_days: Annotated[float | None, Form(gt=0, le=3650)] = None,
) -> Response:
    row, plaintext = create_enrollment_secret(session, name.strip(), expires_in_days, max_uses)
    return _admin_page(request, session, new_secret=(row.name, plaintext))


@router.post("/admin/secrets/{secret_id}/revoke")
def admin_secret_revoke(
    session: DbDep, viewer: Admin, secret_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    revoke_enrollment_secret(session, secret_id)
    return _redirect("/console/admin")


@router.post("/admin/api-keys", response_class=HTMLResponse)
def admin_key_create(
    request: Request,
    session: DbDep,
    viewer: Admin,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    role: Annotated[Role, Form()] = Role.VIEWER,
) -> Response:
    row, plaintext = create_api_key(session, name.strip(), role)
    return _admin_page(request, session, new_key=(row.name, plaintext))


@router.post("/admin/api-keys/{key_id}/revoke")
def admin_key_revoke(
    session: DbDep, viewer: Admin, key_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    revoke_api_key(session, key_id)
    return _redirect("/console/admin")


@router.post("/admin/users", response_class=HTMLResponse)
def admin_user_create(
    request: Request,
    session: DbDep,
    viewer: Admin,
    name: Annotated[str, Form(max_length=300)],
    password: Annotated[str, Form(max_length=2000)],
    role: Annotated[Role, Form()] = Role.VIEWER,
) -> Response:
    try:
        with session.begin_nested():
            create_user(session, name, password, role, now_of(request))
    except ApiError as exc:
        return _admin_page(request, session, status=exc.status, error=exc.detail)
    return _redirect("/console/admin")


@router.post("/admin/users/{user_id}/{action}")
def admin_user_action(
    request: Request,
    session: DbDep,
    viewer: Admin,
    user_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    action: Literal["disable", "enable", "sign-out"],
) -> Response:
    target = next((u for u in list_users(session) if u.id == user_id), None)
    if target is None:
        raise ApiError(404, "not_found", f"no user {user_id}")
    if action == "disable" and target.id == viewer.user_id:
        raise ApiError(409, "conflict", "you cannot disable yourself; ask another admin")
    if action == "sign-out":
        auth.end_all_sessions(session, target.id)
    else:
        set_disabled(session, target.name, action == "disable", now_of(request))
        if action == "disable":
            auth.end_all_sessions(session, target.id)
    return _redirect("/console/admin")
