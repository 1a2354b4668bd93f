"""HTTP for the agent, on the standard library, behind a one-method interface tests can fake.

Why not requests: on a laptop every import is resident memory, and requests with urllib3 and
charset_normalizer costs about 9 MiB over ``urllib.request`` (measured: bench/agent_footprint.py
and the note on issue 3), a quarter of the agent's 40 MiB budget, for features the agent does
not use. What it does use is here: TLS verified against the system store or a configured CA
bundle, proxies from the environment (``https_proxy``, ``no_proxy``), timeouts, and a bounded
response body. Every HTTP status comes back as a response; only network failures raise.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class TransportError(Exception):
    """The request did not get an HTTP answer: refused, unreachable, timed out, TLS failed."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class Transport(Protocol):
    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse: ...


class UrllibTransport:
    def __init__(self, ca_bundle: Path | None = None, user_agent: str = "dexpulse-agent") -> None:
        context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler(),  # from the environment, honouring no_proxy
            urllib.request.HTTPSHandler(context=context),
        )
        self._user_agent = user_agent

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse:
        sent = {"User-Agent": self._user_agent, **(headers or {})}
        req = urllib.request.Request(url, data=body, headers=sent, method=method)
        try:
            with self._opener.open(req, timeout=timeout) as answer:
                return HttpResponse(
                    answer.status, answer.read(MAX_RESPONSE_BYTES), dict(answer.headers.items())
                )
        except urllib.error.HTTPError as error:
            with error:
                payload = error.read(MAX_RESPONSE_BYTES)
            return HttpResponse(error.code, payload, dict(error.headers.items()))
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"{method} {url}: {reason}") from None
