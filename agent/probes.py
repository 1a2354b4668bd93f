"""OS-neutral network timing: DNS, TCP, TLS and HTTP first byte for the probes, TCP reachability
for the gateway, and a small speed-test client for the collector's ``/speedtest`` endpoints.

The low-level edges (name resolution, TCP connect, the clock) are gathered in :class:`NetOps` so
tests can run the same code against local servers, fake failures and count time exactly.

Speed test: speedtest-cli (sivel, 2.1.3) was read and set aside. Its ``Speedtest()`` always
fetches ``www.speedtest.net/speedtest-config.php`` first, even in "mini" mode, so it needs the
internet unless subclassed; it runs 4-8 threads that busy-wait in 1 ms joins, pre-allocates
upload bodies up to 7 MiB each and has no byte budget (a default run moves hundreds of MB); it
ignores the agent's CA bundle and has been unmaintained since 2021. The client below speaks the
same URL layout (``latency.txt``, ``random{N}x{N}.jpg``, ``upload.php``) in one thread over one
keep-alive connection, with a byte budget and a time limit per direction.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import re
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from .transport import HttpResponse, StreamingResponse, TransportError, UrllibTransport

SockAddr = tuple[Any, ...]
Resolver = Callable[[str, int, float], list[tuple[int, SockAddr]]]
Connector = Callable[[int, SockAddr, float], socket.socket]

STEP_TIMEOUT_S = 5.0
GATEWAY_PORTS = (53, 80, 443)
GATEWAY_TIMEOUT_S = 2.0
MAX_ADDRESSES = 3
_UNREACHABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})
_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")


def resolve(host: str, port: int, timeout: float) -> list[tuple[int, SockAddr]]:
    """TCP addresses of ``host``. getaddrinfo has no timeout, so it runs in a daemon thread
    that is abandoned (it ends when the resolver gives up) after ``timeout`` seconds."""
    box: list[Any] = []

    def work() -> None:
        try:
            box.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as exc:  # handed to the caller
            box.append(exc)

    worker = threading.Thread(target=work, name="dexpulse-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if not box:
        raise TimeoutError(f"no answer from the resolver within {timeout:g} s")
    if isinstance(box[0], Exception):
        raise box[0]
    return [(family, sockaddr) for family, _, _, _, sockaddr in box[0]]


def connect(family: int, sockaddr: SockAddr, timeout: float) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass(frozen=True)
class NetOps:
    resolve: Resolver = resolve
    connect: Connector = connect
    clock: Callable[[], float] = time.perf_counter


@dataclass
class ProbeResult:
    """One probe's outcome; the fields of a NetworkProbeSample besides ts, target and method."""

    status: str = "ok"
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    http_status: int | None = None
    error: str | None = None

    def fail(self, status: str, error: str) -> ProbeResult:
        self.status, self.error = status, error[:4000]
        return self


def _ms(seconds: float) -> float:
    return round(max(seconds, 0.0) * 1000.0, 2)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return True


def _connect_status(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "unreachable" if exc.errno in _UNREACHABLE else "connect_error"


def probe_url(
    url: str,
    *,
    ops: NetOps,
    tls: Callable[[], ssl.SSLContext],
    deadline: float,
    step_timeout_s: float = STEP_TIMEOUT_S,
) -> ProbeResult:
    """Time DNS, TCP connect, TLS handshake (https) and the first byte of a one-byte ranged GET
    of ``url``. Every step waits at most ``step_timeout_s`` and never past ``deadline``
    (an ``ops.clock()`` value). A status below 500 is "ok": the server answered (401, 403 or
    404 are normal for an unauthenticated GET of a SaaS endpoint; ``http_status`` tells)."""
    result = ProbeResult()
    parts = urlsplit(url)
    https = parts.scheme == "https"
    try:
        host, port = parts.hostname, parts.port or (443 if https else 80)
    except ValueError as exc:
        return result.fail("connect_error", f"invalid URL: {exc}")
    if not host:
        return result.fail("dns_error", "the URL has no host name")

    def timeout() -> float:
        left = deadline - ops.clock()
        if left <= 0:
            raise TimeoutError("the probe run's time budget is spent")
        return min(step_timeout_s, left)

    try:
        start = ops.clock()
        addresses = ops.resolve(host, port, timeout())
        result.dns_ms = None if _is_ip(host) else _ms(ops.clock() - start)
    except TimeoutError as exc:
        return result.fail("timeout", f"DNS: {exc}")
    except (OSError, UnicodeError) as exc:
        return result.fail("dns_error", f"cannot resolve {host}: {exc}")
    if not addresses:
        return result.fail("dns_error", f"{host} has no address")

    sock: socket.socket | None = None
    failure: OSError | None = None
    for family, sockaddr in addresses[:MAX_ADDRESSES]:  # e.g. ::1 refused, then 127.0.0.1
        try:
            start = ops.clock()
            sock = ops.connect(family, sockaddr, timeout())
            result.connect_ms = _ms(ops.clock() - start)
            break
        except OSError as exc:
            failure = exc
    if sock is None:
        assert failure is not None
        return result.fail(_connect_status(failure), f"TCP {host}:{port}: {failure}")

    try:
        if https:
            try:
                context = tls()
                start = ops.clock()
                sock.settimeout(timeout())
                sock = context.wrap_socket(
                    sock, server_hostname=host, do_handshake_on_connect=False
                )
                sock.do_handshake()
                result.tls_ms = _ms(ops.clock() - start)
            except TimeoutError as exc:
                return result.fail("timeout", f"TLS: {exc}")
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                return result.fail("tls_error", f"TLS with {host}: {exc}")
        return _first_byte(sock, parts.netloc.rpartition("@")[2], _path(url), result, ops, timeout)
    finally:
        sock.close()


def _path(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return quote(path, safe="/?&=%:@!$'()*+,;~-._")


def _first_byte(
    sock: socket.socket,
    authority: str,
    path: str,
    result: ProbeResult,
    ops: NetOps,
    timeout: Callable[[], float],
) -> ProbeResult:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: dexpulse-agent\r\n"
        "Accept: */*\r\nRange: bytes=0-0\r\nConnection: close\r\n\r\n"
    ).encode("latin-1", "replace")
    try:
        sock.settimeout(timeout())
        start = ops.clock()
        sock.sendall(request)
        head = sock.recv(1024)
        result.ttfb_ms = _ms(ops.clock() - start) if head else None
        while head and b"\n" not in head and len(head) < 8192:
            more = sock.recv(1024)
            if not more:
                break
            head += more
    except TimeoutError as exc:
        return result.fail("timeout", f"HTTP: no answer: {exc}")
    except ssl.SSLError as exc:
        return result.fail("tls_error", f"TLS during the request: {exc}")
    except OSError as exc:
        return result.fail("http_error", f"HTTP: {exc}")
    if not head:
        return result.fail("http_error", "the server closed the connection without answering")
    match = _STATUS_LINE.match(head)
    if not match or not 100 <= int(match.group(1)) <= 599:
        line = head.split(b"\n", 1)[0][:80].decode("latin-1")
        return result.fail("http_error", f"not an HTTP answer: {line!r}")
    result.http_status = int(match.group(1))
    if result.http_status >= 500:
        return result.fail("http_error", f"HTTP {result.http_status}")
    return result


def probe_gateway(
    address: str,
    *,
    ops: NetOps,
    ports: Sequence[int] = GATEWAY_PORTS,
    timeout_s: float = GATEWAY_TIMEOUT_S,
) -> ProbeResult:
    """Reachability of the gateway without root: TCP connects to ``ports`` in turn. An accepted
    connection or a refusal (RST) both prove the gateway answered: "ok", with the time to
    that answer. No answer on any port is "timeout" (a gateway that silently drops TCP looks
    the same, which only ICMP, and so root or ping_group_range, could tell apart)."""
    result = ProbeResult()
    failures: list[str] = []
    timed_out = False
    for port in ports:
        try:
            family, _, _, _, sockaddr = socket.getaddrinfo(
                address, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )[0]
            start = ops.clock()
            ops.connect(family, sockaddr, timeout_s).close()
        except ConnectionRefusedError:
            pass
        except TimeoutError:
            timed_out = True
            failures.append(f"tcp/{port}: no answer within {timeout_s:g} s")
            continue
        except OSError as exc:
            if exc.errno in _UNREACHABLE:
                return result.fail("unreachable", f"gateway {address}: {exc}")
            failures.append(f"tcp/{port}: {exc}")
            continue
        result.connect_ms = _ms(ops.clock() - start)
        return result
    status = "timeout" if timed_out else "connect_error"
    return result.fail(status, f"gateway {address}: " + "; ".join(failures))


# -- speed test -------------------------------------------------------------------------------

DOWNLOAD_SIDES = (350, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000)
MiB = 1024 * 1024


@dataclass(frozen=True)
class SpeedLimits:
    download_bytes: int = 25_000_000
    upload_bytes: int = 25_000_000
    direction_time_s: float = 10.0
    """Time limit per direction; the run stops reading (download) or posting (upload)."""
    pings: int = 5
    request_timeout_s: float = STEP_TIMEOUT_S
    first_upload_bytes: int = 256 * 1024
    max_upload_bytes: int = 4 * MiB
    """Largest single upload (the collector accepts up to 32 MiB)."""


@dataclass
class SpeedResult:
    latency_ms: float | None = None
    jitter_ms: float | None = None
    download_mbps: float | None = None
    upload_mbps: float | None = None
    duration_s: float | None = None
    error: str | None = None
    bytes_down: int = field(default=0, repr=False)
    bytes_up: int = field(default=0, repr=False)


class SpeedTestError(Exception):
    pass


class _Payload:
    """``size`` incompressible bytes read in pieces from one random block, never all at once."""

    def __init__(self, size: int, block: bytes) -> None:
        self.size, self.block, self.sent = size, block, 0

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.sent if n < 0 else min(n, self.size - self.sent)
        offset = self.sent % len(self.block)
        piece = self.block[offset : offset + n]
        self.sent += len(piece)
        return piece


def _mbps(nbytes: int, seconds: float) -> float | None:
    return round(nbytes * 8 / seconds / 1e6, 2) if nbytes and seconds > 0 else None


def _check(response: HttpResponse | StreamingResponse, what: str) -> None:
    if response.status == 200:
        return
    hint = ""
    if response.status == 404:
        hint = " (this collector has no speed-test endpoints)"
    elif response.status == 503:
        retry = {k.lower(): v for k, v in response.headers.items()}.get("retry-after", "?")
        hint = f" (busy; retry after {retry} s)"
    raise SpeedTestError(f"{what}: HTTP {response.status}{hint}")


def _read(response: StreamingResponse, size: int) -> bytes:
    try:
        return response.read(size)
    except (OSError, ValueError) as exc:  # connection dropped mid-body
        raise TransportError(f"download interrupted: {exc}") from None


def run_speed_test(
    transport: UrllibTransport,
    base_url: str,
    limits: SpeedLimits | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> SpeedResult:
    """Latency, then download, then upload against ``<base_url>/speedtest/``; sequential, one
    connection. Latency is the median of ``pings`` GETs of latency.txt after one warm-up (which
    opens the connection); jitter the mean difference between consecutive pings. Download
    fetches random{N}x{N}.jpg, moving to a larger N after any fetch under a second, until the
    byte budget or the time limit (mid-file if need be); upload posts doubling bodies the
    same way. Mbit/s = bytes * 8 / elapsed time of the direction, request overheads included.
    A failure ends the run; what was measured so far is kept, with the error."""
    limits = limits or SpeedLimits()
    base = base_url.rstrip("/") + "/speedtest/"
    result = SpeedResult()
    start = clock()
    try:
        _latency(transport, base, limits, clock, result)
        _download(transport, base, limits, clock, result)
        _upload(transport, base, limits, clock, result)
    except (SpeedTestError, TransportError) as exc:
        result.error = str(exc)[:4000]
    result.duration_s = round(clock() - start, 3)
    return result


def _latency(
    transport: UrllibTransport,
    base: str,
    limits: SpeedLimits,
    clock: Callable[[], float],
    result: SpeedResult,
) -> None:
    rtts: list[float] = []
    for n in range(limits.pings + 1):
        began = clock()
        response = transport.request(
            "GET", f"{base}latency.txt?x={n}", timeout=limits.request_timeout_s
        )
        elapsed = clock() - began
        _check(response, "latency")
        if not response.body.startswith(b"test=test"):
            raise SpeedTestError(f"latency: unexpected answer {response.body[:40]!r}")
        if n:  # the first request also opened the connection
            rtts.append(elapsed * 1000.0)
    if rtts:
        result.latency_ms = round(statistics.median(rtts), 2)
        steps = [abs(b - a) for a, b in itertools.pairwise(rtts)]
        result.jitter_ms = round(statistics.fmean(steps), 2) if steps else 0.0


def _download(
    transport: UrllibTransport,
    base: str,
    limits: SpeedLimits,
    clock: Callable[[], float],
    result: SpeedResult,
) -> None:
    start = clock()
    total, step = 0, DOWNLOAD_SIDES.index(1000)
    try:
        while total < limits.download_bytes and clock() - start < limits.direction_time_s:
            side = DOWNLOAD_SIDES[step]
            began = clock()
            with transport.open(
                "GET",
                f"{base}random{side}x{side}.jpg?x={total}",
                headers={"Accept-Encoding": "identity"},
                timeout=limits.request_timeout_s,
            ) as response:
                _check(response, "download")
                while chunk := _read(response, 64 * 1024):
                    total += len(chunk)
                    if total >= limits.download_bytes or clock() - start >= limits.direction_time_s:
                        break
            if clock() - began < 1.0:
                step = min(step + 1, len(DOWNLOAD_SIDES) - 1)
    finally:
        result.bytes_down = total
        result.download_mbps = _mbps(total, clock() - start)


def _upload(
    transport: UrllibTransport,
    base: str,
    limits: SpeedLimits,
    clock: Callable[[], float],
    result: SpeedResult,
) -> None:
    block = os.urandom(64 * 1024)
    start = done = clock()
    total, size = 0, limits.first_upload_bytes
    try:
        while total < limits.upload_bytes and clock() - start < limits.direction_time_s:
            size = min(size, limits.upload_bytes - total)
            began = clock()
            response = transport.request(
                "POST",
                f"{base}upload.php",
                body=_Payload(size, block),  # type: ignore[arg-type]  # read() is all it needs
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                timeout=limits.request_timeout_s,
            )
            _check(response, "upload")
            answer = response.body.decode("ascii", "replace").strip()
            if answer != f"size={size}":
                raise SpeedTestError(f"upload: sent {size} bytes, the collector said {answer!r}")
            total += size
            done = clock()
            if done - began < 1.0:
                size = min(size * 2, limits.max_upload_bytes)
    finally:  # a failed upload does not count, nor does the time it took
        result.bytes_up = total
        result.upload_mbps = _mbps(total, done - start)
