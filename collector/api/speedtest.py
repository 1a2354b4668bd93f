"""Speed-test endpoints, laid out like a classic speedtest "mini" server, so an agent can measure
its throughput to the collector without the internet.

* ``GET  /speedtest/latency.txt`` answers ``test=test``;
* ``GET  /speedtest/random{N}x{N}.jpg`` streams ``2*N*N`` incompressible bytes for the classic
  sizes N = 350, 500, ..., 4000 (245 kB to 32 MB, close to the classic files' sizes). The bytes
  repeat one 1 MiB pseudo-random block (seeded, so every answer is the same), which is far beyond
  any compressor's window a proxy might apply;
* ``POST /speedtest/upload.php`` reads and discards a body of at most ``MAX_UPLOAD_BYTES`` and
  answers ``size=<bytes read>``.

They are unauthenticated (a speed test carries no data) but bounded: a fixed set of sizes, an
upload cap enforced while streaming, at most ``MAX_TRANSFERS`` downloads and uploads at once
(``503`` with ``Retry-After`` beyond that) and ``TRANSFER_TIME_LIMIT_S`` per transfer, so a
slow or stalled client cannot hold a slot for ever. The upload path must be exempt from the
app-wide body-size middleware (``UPLOAD_PATH``); it enforces its own cap.
"""

from __future__ import annotations

import random
import threading
from collections.abc import AsyncIterator, Callable
from functools import cache

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from ..errors import ApiError

MiB = 1024 * 1024
SIZES = frozenset({350, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000})
UPLOAD_PATH = "/speedtest/upload.php"
MAX_UPLOAD_BYTES = 32 * MiB
MAX_TRANSFERS = 16
TRANSFER_TIME_LIMIT_S = 120.0
CHUNK_BYTES = 64 * 1024
_BLOCK_BYTES = MiB
_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(prefix="/speedtest", tags=["speedtest"])


@cache
def _block() -> bytes:
    """1 MiB of pseudo-random bytes, the same on every call and every run."""
    return random.Random(0x5EED).randbytes(_BLOCK_BYTES)


def download_size(side: int) -> int:
    """Bytes served for ``random{side}x{side}.jpg``: two per pixel, like the classic files."""
    return 2 * side * side


class Slots:
    """How many transfers may run at once (process-wide, thread-safe, event-loop neutral)."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._lock = threading.Lock()

    def acquire(self) -> Callable[[], None]:
        """A release function; ApiError 503 when every slot is taken."""
        with self._lock:
            if self.free <= 0:
                raise ApiError(
                    503,
                    "busy",
                    "too many speed tests at once; retry later",
                    headers={"Retry-After": "60"},
                )
            self.free -= 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self.free += 1

        return release


slots = Slots(MAX_TRANSFERS)


async def _chunks(size: int) -> AsyncIterator[bytes]:
    block = _block()
    offset = (size // 7) % _BLOCK_BYTES  # different sizes start at different places
    sent = 0
    while sent < size:
        n = min(CHUNK_BYTES, size - sent, _BLOCK_BYTES - offset)
        yield block[offset : offset + n]
        sent += n
        offset = (offset + n) % _BLOCK_BYTES


class _Transfer(StreamingResponse):
    """A streamed body that gives its slot back however it ends (done, timed out, client gone)."""

    def __init__(self, size: int, release: Callable[[], None]) -> None:
        super().__init__(
            _chunks(size),
            media_type="image/jpeg",
            headers={**_NO_STORE, "Content-Length": str(size)},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with anyio.move_on_after(TRANSFER_TIME_LIMIT_S):
                await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.get("/latency.txt", response_class=PlainTextResponse)
async def latency() -> PlainTextResponse:
    """A tiny answer to time round trips: ``test=test``."""
    return PlainTextResponse("test=test\n", headers=_NO_STORE)


@router.get(
    "/random{width:int}x{height:int}.jpg",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "2*N*N incompressible bytes"},
        404: {"description": "Not one of the classic sizes (square, 350 to 4000)"},
        503: {"description": "Too many transfers at once; see Retry-After"},
    },
)
async def download(width: int, height: int) -> StreamingResponse:
    """Incompressible bytes for a download test; sizes 350x350 to 4000x4000 only."""
    if width != height or width not in SIZES:
        raise ApiError(404, "not_found", f"sizes are random<N>x<N>.jpg with N in {sorted(SIZES)}")
    return _Transfer(download_size(width), slots.acquire())


@router.post(
    "/upload.php",
    response_class=PlainTextResponse,
    responses={
        413: {"description": f"Body larger than {MAX_UPLOAD_BYTES} bytes"},
        503: {"description": "Too many transfers at once; see Retry-After"},
    },
)
async def upload(request: Request) -> PlainTextResponse:
    """Read and discard the body (any content type); answer ``size=<bytes read>``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise _too_large()
    release = slots.acquire()
    size = 0
    try:
        with anyio.fail_after(TRANSFER_TIME_LIMIT_S):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise _too_large()
    except TimeoutError:
        raise ApiError(
            408, "request_timeout", f"upload took over {TRANSFER_TIME_LIMIT_S:g} s"
        ) from None
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the body was not received whole") from None
    finally:
        release()
    return PlainTextResponse(f"size={size}", headers=_NO_STORE)


def _too_large() -> ApiError:
    return ApiError(
        413, "payload_too_large", f"speed-test uploads are capped at {MAX_UPLOAD_BYTES} bytes"
    )
