"""One error shape for every failure: ``{"error": code, "detail": text, "errors": [...]}``.

Handlers here turn FastAPI's and Starlette's own errors into that shape too, so a client never
has to parse two formats, and map a lost database to 503 (retry later) rather than a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """An error a client caused or can act on; carried to the client as JSON."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.errors = errors
        self.headers = headers


def error_response(
    status: int,
    error: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def clean_validation_errors(raw: list[Any]) -> list[dict[str, Any]]:
    """Pydantic errors without the echoed input (which may be huge or sensitive)."""
    out = []
    for err in raw[:50]:
        loc = [str(part) for part in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


def summarize(errors: list[dict[str, Any]]) -> str:
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    where = ".".join(first["loc"]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


HtmlErrors = Callable[[Request, int, str], Response]
"""Renders an error as a console page (``app.state.html_errors``)."""


def _page(request: Request) -> HtmlErrors | None:
    """The console's error page renderer for a console page's request (not its assets)."""
    path = request.url.path
    if path.startswith("/console") and not path.startswith("/console/static/"):
        render: HtmlErrors | None = getattr(request.app.state, "html_errors", None)
        return render
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if (render := _page(request)) is not None:
            return render(request, exc.status, exc.detail)
        return error_response(exc.status, exc.error, exc.detail, exc.errors, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if (render := _page(request)) is not None:
            return render(request, exc.status_code, str(exc.detail))
        code = _STATUS_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = clean_validation_errors(list(exc.errors()))
        if (render := _page(request)) is not None:
            return render(request, 422, summarize(errors))
        if any(e["type"] == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", summarize(errors))
        return error_response(422, "validation_error", summarize(errors), errors)

    async def database_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return error_response(
            503,
            "database_unavailable",
            "the database cannot be reached; retry later",
            headers={"Retry-After": "30"},
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationalError, database_down)
