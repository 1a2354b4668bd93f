"""The tray's client for the agent service's loopback API (:mod:`dexpulse.agent.localapi`).

The tray is a per-user process started at login; it finds the service through two files the
service writes under its state directory: ``ui/endpoint.json`` (the port; world-readable) and
``ui/tokens/<user>.token`` (a bearer token only that user can read). :meth:`LocalClient.discover`
reads both. The file layout is defined here, not in the server module, so the tray imports
nothing but the standard library.

Every failure is one exception, :class:`LocalApiError`: ``status`` is the HTTP status when the
service answered, and None when it could not be reached (not running, no token, timeout), which
the tray shows as "agent not running" rather than as an error in what it asked.

The token is never sent anywhere but the loopback address it was given: proxies from the
environment are ignored and redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

LOOPBACK = "127.0.0.1"
UI_DIR = "ui"
ENDPOINT_FILE = "endpoint.json"
TOKENS_DIR = "tokens"
TOKEN_SUFFIX = ".token"
MAX_USER_NAME = 256


def safe_user_name(user: str) -> str:
    """``user`` if it can name a token file; ValueError if not (empty, a path separator or
    drive colon, a control character, or a leading dot, which covers "." and "..")."""
    if (
        not user
        or len(user) > MAX_USER_NAME
        or user.startswith(".")
        or any(c in "/\\:" or ord(c) < 32 or c == "\x7f" for c in user)
    ):
        raise ValueError(f"not a usable user name for a token file: {user!r}")
    return user


def endpoint_path(state_dir: Path) -> Path:
    """Where the service writes ``{"port": N, "pid": P}`` while it serves."""
    return state_dir / UI_DIR / ENDPOINT_FILE


def tokens_dir(state_dir: Path) -> Path:
    return state_dir / UI_DIR / TOKENS_DIR


def token_path(state_dir: Path, user: str) -> Path:
    """The token file of ``user``; ValueError if the name is not a safe file name."""
    return tokens_dir(state_dir) / (safe_user_name(user) + TOKEN_SUFFIX)


class LocalApiError(Exception):
    """A call the service refused (``status`` is the HTTP status, ``message`` its reason), or
    could not make (``status`` None: the service is not running or not reachable)."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message if status is None else f"{status}: {message}")
        self.status = status
        self.message = message


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the bearer token elsewhere; it is reported as an error instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class LocalClient:
    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

    def __repr__(self) -> str:  # never shows the token
        return f"LocalClient({self.base_url!r})"

    @classmethod
    def discover(
        cls, state_dir: Path, user: str | None = None, timeout: float = 5.0
    ) -> LocalClient:
        """The client for the service whose state is in ``state_dir``, as ``user`` (default:
        whoever runs this). LocalApiError(None, ...) if the service is not running or the
        user's token file is missing or unreadable."""
        endpoint = endpoint_path(state_dir)
        try:
            data = json.loads(endpoint.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LocalApiError(
                None, f"the dexpulse agent is not running (no {endpoint})"
            ) from None
        except (OSError, ValueError) as exc:
            raise LocalApiError(None, f"cannot read {endpoint}: {exc}") from None
        port = data.get("port") if isinstance(data, dict) else None
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise LocalApiError(None, f"{endpoint} names no valid port")
        try:
            import getpass  # here, not at the top: the agent service imports this module too,
            # and getpass loads termios, memory the service never uses

            name = user if user is not None else getpass.getuser()
            path = token_path(state_dir, name)
        except (OSError, KeyError, ValueError) as exc:
            raise LocalApiError(None, f"cannot tell which token to use: {exc}") from None
        try:
            token = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise LocalApiError(
                None,
                f"no local API token for {name} ({path} is missing): the dexpulse agent "
                "issues one to every signed-in user; is it running?",
            ) from None
        except (OSError, ValueError) as exc:
            raise LocalApiError(None, f"cannot read the token file {path}: {exc}") from None
        if not token:
            raise LocalApiError(None, f"the token file {path} is empty")
        return cls(f"http://{LOOPBACK}:{port}", token, timeout)

    def status(self) -> dict[str, Any]:
        return _object(self._call("GET", "/v1/status"))

    def due(self) -> dict[str, Any] | None:
        """The survey to prompt now (the offer as JSON), or None."""
        survey = _object(self._call("GET", "/v1/surveys/due")).get("survey")
        return survey if isinstance(survey, dict) else None

    def shown(self, survey_id: str) -> None:
        self._call("POST", _survey_path(survey_id, "shown"))

    def answer(
        self,
        survey_id: str,
        *,
        rating: int | None = None,
        yes_no: bool | None = None,
        comment: str | None = None,
    ) -> None:
        body = {"rating": rating, "yes_no": yes_no, "comment": comment}
        self._call("POST", _survey_path(survey_id, "answer"), body)

    def snooze(self, survey_id: str) -> None:
        self._call("POST", _survey_path(survey_id, "snooze"))

    def dismiss(self, survey_id: str) -> None:
        self._call("POST", _survey_path(survey_id, "dismiss"))

    def feedback(self, rating: int, comment: str | None = None) -> None:
        self._call("POST", "/v1/feedback", {"rating": rating, "comment": comment})

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        nonce = secrets.token_urlsafe(16)
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            NONCE_HEADER: nonce,
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status: int = response.status
                raw: bytes = response.read()
                shown = response.headers.get(PROOF_HEADER) or ""
        except urllib.error.HTTPError as exc:
            raise LocalApiError(exc.code, _error_message(exc)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise LocalApiError(
                None, f"the dexpulse agent is unreachable at {self.base_url}: {reason}"
            ) from None
        if not hmac.compare_digest(shown, proof(self._token, nonce)):
            raise LocalApiError(  # a stale endpoint file, and another program on that port
                None,
                f"the program at {self.base_url} is not the dexpulse agent "
                "(it could not prove it holds your token)",
            )
        if status == 204 or not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise LocalApiError(status, "the dexpulse agent answered with invalid JSON") from None


NONCE_HEADER = "X-Dexpulse-Nonce"
PROOF_HEADER = "X-Dexpulse-Proof"


def proof(token: str, nonce: str) -> str:
    """What the agent answers a request's nonce with: only a holder of the user's token (the
    service that issued it, or the user) can compute it, so the tray never takes questions
    from, or sends answers to, another program that took the agent's port."""
    return hmac.new(token.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def _survey_path(survey_id: str, action: str) -> str:
    return f"/v1/surveys/{quote(survey_id, safe='')}/{action}"


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LocalApiError(200, "the dexpulse agent answered with something not a JSON object")
    return value


def _error_message(exc: urllib.error.HTTPError) -> str:
    """The server's ``{"error": ...}``, or the HTTP reason if the body says nothing usable."""
    try:
        data = json.loads(exc.read())
    except (OSError, ValueError, http.client.HTTPException):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return str(exc.reason)
