"""The console's plumbing: templates, who is signed in, CSRF checks, headers, error pages.

Templates autoescape everything (endpoint strings such as app names, SSIDs and comments are
only ever text), and the Content-Security-Policy allows scripts and styles from the collector
itself only, so even a string that escaped escaping could not run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Form, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ApiError
from ..models import ConsoleUser
from ..settings import CollectorSettings
from ..users import find_user
from . import auth
from .format import FILTERS

HERE = Path(__file__).parent
SESSION_COOKIE = "dexpulse_console"
SECURE_SESSION_COOKIE = "__Host-dexpulse_console"
SIGN_IN_COOKIE = "dexpulse_sign_in"
SECURE_SIGN_IN_COOKIE = "__Host-dexpulse_sign_in"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS = ("/docs", "/redoc")
"""FastAPI's API documentation pages load their scripts from a CDN; they get no CSP."""

environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(FILTERS)


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI, so streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        console = path == "/console" or path.startswith("/console/")
        static = path.startswith("/console/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                }
                if not path.startswith(DOCS):
                    extra[b"content-security-policy"] = (CSP if console else API_CSP).encode()
                if console and not static:
                    extra[b"cache-control"] = b"no-store"
                headers += [(k, v) for k, v in extra.items() if k not in names]
                cookies = scope.get("state", {}).get("console_cookies") or []
                headers += [(b"set-cookie", value) for value in cookies]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    viewer = getattr(request.state, "viewer", None)
    html = environment.get_template(template).render(
        request=request, viewer=viewer, path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status)


def settings_of(request: Request) -> CollectorSettings:
    value: CollectorSettings = request.app.state.settings
    return value


def policy(settings: CollectorSettings) -> auth.Policy:
    return auth.Policy(
        idle=timedelta(minutes=settings.console_idle_minutes),
        lifetime=timedelta(hours=settings.console_session_hours),
    )


def secure(request: Request) -> bool:
    configured = settings_of(request).console_cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def cookie_name(request: Request, sign_in: bool = False) -> str:
    if sign_in:
        return SECURE_SIGN_IN_COOKIE if secure(request) else SIGN_IN_COOKIE
    return SECURE_SESSION_COOKIE if secure(request) else SESSION_COOKIE


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(
        name, value, httponly=True, secure=secure(request), path="/", **{"samesite": "lax", **kw}
    )


def now_of(request: Request) -> datetime:
    at: datetime = request.app.state.clock()
    return at


def db(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session, session.begin():
        yield session


DbDep = Annotated[Session, Depends(db, scope="function")]


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _proxy_user(request: Request, session: Session) -> ConsoleUser | None:
    """The user an SSO proxy in front of us vouches for, if it is trusted and they exist."""
    settings = settings_of(request)
    header = settings.console_proxy_user_header
    if not header or address(request) not in settings.console_trusted_proxies:
        return None
    name = request.headers.get(header)
    if not name:
        return None
    try:
        user = find_user(session, name)
    except ApiError:
        return None
    return user if user.disabled_at is None else None


def signed_in(request: Request, session: DbDep) -> auth.Viewer:
    """The signed-in viewer; a GET without one is sent to the sign-in page."""
    settings = settings_of(request)
    at = now_of(request)
    token = request.cookies.get(cookie_name(request))
    viewer = auth.current(session, token, at, policy(settings))
    proxied = _proxy_user(request, session)
    if proxied is not None and (viewer is None or viewer.user_id != proxied.id):
        if viewer is not None:  # the proxy now vouches for someone else
            auth.end_session(session, viewer.token_hash)
        token = auth.start_session(
            session, proxied, at, address(request), request.headers.get("user-agent")
        )
        viewer = auth.current(session, token, at, policy(settings))
        cookie = Response()
        set_cookie(request, cookie, cookie_name(request), token)
        # whatever the page returns, SecurityHeaders adds this (request.state is the scope's)
        request.state.console_cookies = [v for k, v in cookie.raw_headers if k == b"set-cookie"]
    if viewer is None:  # pages turn this into a redirect to the sign-in page
        raise ApiError(401, "sign_in_required", "sign in to the console first")
    request.state.viewer = viewer
    return viewer


Signed = Annotated[auth.Viewer, Depends(signed_in)]


def same_origin(request: Request) -> bool:
    """A browser's Origin (or Referer) names this console, or the browser sent neither."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.url.scheme}://{request.url.netloc}"


def checked(
    request: Request,
    viewer: Signed,
    csrf: Annotated[str | None, Form()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> auth.Viewer:
    """A state-changing request: the session's CSRF token and our own origin, or 403."""
    if not same_origin(request) or not auth.same_secret(csrf or x_csrf_token, viewer.csrf_token):
        raise ApiError(403, "csrf_failed", "the form has expired; reload the page and try again")
    return viewer


def admin(viewer: Annotated[auth.Viewer, Depends(checked)]) -> auth.Viewer:
    if not viewer.admin:
        raise ApiError(403, "forbidden", "only an admin may do this")
    return viewer


def admin_reader(viewer: Signed) -> auth.Viewer:
    if not viewer.admin:
        raise ApiError(403, "forbidden", "only an admin may see this page")
    return viewer


Checked = Annotated[auth.Viewer, Depends(checked)]
Admin = Annotated[auth.Viewer, Depends(admin)]
AdminReader = Annotated[auth.Viewer, Depends(admin_reader)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of ours, never another site."""
    if (
        not target
        or not target.startswith("/console")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 33 for c in target)
    ):
        return "/console/"
    return target


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/sign-in?next={quote(target, safe='/')}", status_code=303)


def error_page(request: Request, status: int, detail: str) -> Response:
    """An error on a console page, as a page (the API's clients get JSON)."""
    if status == 401 and request.method in ("GET", "HEAD"):
        return sign_in_redirect(request)
    return page(request, "error.html", status=status, status_code=status, detail=detail)
