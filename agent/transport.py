"""HTTP for the agent, on the standard library, behind a small interface tests can fake.

Why not requests: on a laptop every import is resident memory, and requests with urllib3 and
charset_normalizer adds about 4 MiB on top of ``urllib.request`` (``bench/agent_imports.py``;
the running agent went from 48.8 to 43.6 MiB without it), a tenth of the agent's 40 MiB
budget, for features the agent does not use. What
it does use is here: TLS verified against the system store or a configured CA bundle, proxies
from the environment (``https_proxy``, ``no_proxy``), timeouts, a bounded response body, and
streaming for the speed test. Every HTTP status comes back as a response; only network
failures raise :class:`TransportError`.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

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


@dataclass(frozen=True)
class StreamingResponse:
    """An answer whose body is read piece by piece (``read(n)``), for large transfers."""

    status: int
    headers: Mapping[str, str]
    read: Callable[[int], bytes]


class Transport(Protocol):
    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | IO[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse: ...


class UrllibTransport:
    def __init__(self, ca_bundle: Path | None = None, user_agent: str = "dexpulse-agent") -> None:
        self.ca_bundle = ca_bundle
        self.user_agent = user_agent
        self._tls: urllib.request.OpenerDirector | None = None
        self._plain = urllib.request.build_opener(urllib.request.ProxyHandler())

    def _tls_opener(self) -> urllib.request.OpenerDirector:
        """Built on first HTTPS use: a bad CA bundle fails requests (reported), not the start."""
        if self._tls is None:
            try:
                context = ssl.create_default_context(
                    cafile=str(self.ca_bundle) if self.ca_bundle else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise TransportError(f"CA bundle {self.ca_bundle} is unusable: {exc}") from None
            self._tls = urllib.request.build_opener(
                urllib.request.ProxyHandler(),  # from the environment, honouring no_proxy
                urllib.request.HTTPSHandler(context=context),
            )
        return self._tls

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | IO[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse:
        """The whole answer (at most MAX_RESPONSE_BYTES of body); TransportError if none."""
        with self.open(method, url, body=body, headers=headers, timeout=timeout) as answer:
            try:
                payload = answer.read(MAX_RESPONSE_BYTES)
            except (http.client.HTTPException, OSError) as exc:
                raise TransportError(f"{method} {url}: {exc}") from None
            return HttpResponse(answer.status, payload, answer.headers)

    @contextmanager
    def open(
        self,
        method: str,
        url: str,
        *,
        body: bytes | IO[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Iterator[StreamingResponse]:
        """The answer with its body still to read; a file-like ``body`` is sent in pieces
        (give its Content-Length in ``headers``)."""
        sent = {"User-Agent": self.user_agent, **(headers or {})}
        req = urllib.request.Request(url, data=body, headers=sent, method=method)
        opener = self._plain if req.type == "http" else self._tls_opener()
        answer: http.client.HTTPResponse | urllib.error.HTTPError
        try:
            answer = opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as error:
            answer = error  # an HTTP answer like any other, just not 2xx
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"{method} {url}: {reason}") from None
        with answer:
            yield StreamingResponse(answer.status or 0, dict(answer.headers.items()), answer.read)
