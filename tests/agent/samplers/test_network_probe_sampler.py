"""The network_probe sampler and the Linux route reading, against servers on 127.0.0.1 only."""

from __future__ import annotations

import errno
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dexpulse.agent.config import AgentConfig, ProbeTarget
from dexpulse.agent.enroll import Credentials, save_credentials
from dexpulse.agent.platform import Host, NoData
from dexpulse.agent.platform._linux import network
from dexpulse.agent.probes import NetOps, SockAddr, connect, resolve
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.network_probe import NetworkProbeSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import NetworkProbeSample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ROUTE_HEADER = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
)
# 127.0.0.1 as /proc/net/route prints it on a little-endian machine
LOOPBACK_GATEWAY = ROUTE_HEADER + "lo\t00000000\t0100007F\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
IPV6_ROUTE = """\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003    wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
"""  # noqa: E501


# -- local servers ----------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802
        Handler.seen.append((self.path, self.headers.get("Range")))
        code = {"/healthz": 200, "/fail": 503}.get(self.path, 404)
        body = b"ok"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(server: ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def http_port() -> Iterator[int]:
    Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    yield from _serve(server)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: a connect is refused (RST) at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that completes TCP handshakes (backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_port(tls_cert: tuple[Path, Path]) -> Iterator[int]:
    Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


# -- building the sampler ---------------------------------------------------------------------


class FakeTime:
    """A clock that moves only when the fake network says a step took time."""

    def __init__(self, dns_s: float = 0.012, connect_s: float = 0.030) -> None:
        self.now = 1000.0
        self.dns_s, self.connect_s = dns_s, connect_s
        self.resolved: list[str] = []

    def clock(self) -> float:
        return self.now

    def resolve(self, host: str, port: int, timeout: float) -> list[tuple[int, SockAddr]]:
        self.resolved.append(host)
        self.now += self.dns_s
        if host == "dex.example.test":
            return [(socket.AF_INET, ("127.0.0.1", port))]
        return resolve(host, port, timeout)

    def connect(self, family: int, sockaddr: SockAddr, timeout: float) -> socket.socket:
        self.now += self.connect_s
        return connect(family, sockaddr, timeout)

    def ops(self) -> NetOps:
        return NetOps(resolve=self.resolve, connect=self.connect, clock=self.clock)


def make_sampler(
    tmp_path: Path,
    *,
    route: str | None = None,
    collector: str | None = None,
    probes: dict[str, str] | None = None,
    **kwargs: Any,
) -> NetworkProbeSampler:
    root = tmp_path / "root"
    (root / "proc/net").mkdir(parents=True, exist_ok=True)
    if route is not None:
        (root / "proc/net/route").write_text(route)
    config = AgentConfig(
        state_dir=tmp_path / "state",
        probes=[ProbeTarget(name=n, url=u) for n, u in (probes or {}).items()],
        ca_bundle=kwargs.pop("ca_bundle", None),
    )
    if collector:
        save_credentials(config.state_dir, Credentials(collector, "dev-1", "tok"))
    ctx = Context(
        host=Host(root=root),
        config=config,
        state=StateStore(tmp_path / "state" / "state"),
        clock=lambda: NOW,
    )
    return NetworkProbeSampler(ctx, **kwargs)


def by_target(samples: list[Any]) -> dict[str, NetworkProbeSample]:
    assert all(isinstance(s, NetworkProbeSample) for s in samples)
    return {s.target: s for s in samples}


# -- routes -----------------------------------------------------------------------------------


def test_ipv4_default_routes_by_metric_and_the_gateway_chosen(tmp_path: Path) -> None:
    text = ROUTE_HEADER + (
        "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
        "wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n"
        "tun0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0\n"
        "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eth1\t00000000\t0200000A\t0202\t0\t0\t1\t00000000\t0\t0\t0\n"  # down + reject
    )
    routes = network.parse_ipv4_routes(text)
    assert routes == [
        network.DefaultRoute("tun0", None, 50),
        network.DefaultRoute("eth0", "10.0.0.1", 100),
        network.DefaultRoute("wlan0", "192.168.1.1", 600),
    ]
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/route").write_text(text)
    assert network.default_route(Host(root=tmp_path)) == network.DefaultRoute(
        "eth0", "10.0.0.1", 100
    )


def test_ipv6_default_route_keeps_the_zone_of_a_link_local_gateway(tmp_path: Path) -> None:
    assert network.parse_ipv6_routes(IPV6_ROUTE) == [
        network.DefaultRoute("wlan0", "fe80::1%wlan0", 1024)
    ]
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/route").write_text(ROUTE_HEADER)  # no IPv4 default
    (tmp_path / "proc/net/ipv6_route").write_text(IPV6_ROUTE)
    route = network.default_route(Host(root=tmp_path))
    assert route is not None and route.gateway == "fe80::1%wlan0"


def test_default_route_none_tunnel_only_and_unreadable(tmp_path: Path) -> None:
    (tmp_path / "proc/net").mkdir(parents=True)
    route = tmp_path / "proc/net/route"
    route.write_text(
        ROUTE_HEADER + "wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n"
    )
    assert network.default_route(Host(root=tmp_path)) is None
    route.write_text(ROUTE_HEADER + "tun0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0\n")
    assert network.default_route(Host(root=tmp_path)) == network.DefaultRoute("tun0", None, 50)
    route.unlink()
    with pytest.raises(NoData):
        network.default_route(Host(root=tmp_path))


# -- URL probes -------------------------------------------------------------------------------


def test_every_target_is_timed_step_by_step(tmp_path: Path, http_port: int) -> None:
    fake = FakeTime()
    sampler = make_sampler(
        tmp_path,
        route=LOOPBACK_GATEWAY,
        collector=f"http://dex.example.test:{http_port}/",
        probes={"intranet": f"http://127.0.0.1:{http_port}/healthz"},
        ops=fake.ops(),
        gateway_ports=(http_port,),
    )
    samples = sampler.collect()
    assert [s.target for s in samples] == ["gateway", "collector", "intranet"]  # type: ignore[attr-defined]
    got = by_target(samples)
    gateway, collector, intranet = got["gateway"], got["collector"], got["intranet"]
    assert (gateway.method, gateway.status, gateway.connect_ms) == ("gateway", "ok", 30.0)
    assert gateway.dns_ms is None and gateway.error is None
    assert collector.method == "http" and collector.ts == NOW
    assert (collector.status, collector.http_status) == ("ok", 200)
    assert (collector.dns_ms, collector.connect_ms, collector.tls_ms) == (12.0, 30.0, None)
    assert collector.ttfb_ms == 0.0  # the fake clock does not move while the server answers
    assert (intranet.status, intranet.http_status, intranet.dns_ms) == ("ok", 200, None)
    assert intranet.connect_ms == 30.0
    assert fake.resolved == ["dex.example.test", "127.0.0.1"]
    assert Handler.seen == [("/healthz", "bytes=0-0"), ("/healthz", "bytes=0-0")]


def test_real_clock_and_resolver_against_localhost(tmp_path: Path, http_port: int) -> None:
    # localhost may resolve to ::1 first, where nothing listens: the next address is tried
    sampler = make_sampler(tmp_path, collector=f"http://localhost:{http_port}")
    (sample,) = sampler.collect()
    assert isinstance(sample, NetworkProbeSample)
    assert (sample.target, sample.status, sample.http_status) == ("collector", "ok", 200)
    for value in (sample.dns_ms, sample.connect_ms, sample.ttfb_ms):
        assert value is not None and 0 <= value < 5000


def test_a_404_is_an_answer_a_503_is_an_http_error(tmp_path: Path, http_port: int) -> None:
    sampler = make_sampler(
        tmp_path,
        probes={
            "missing": f"http://127.0.0.1:{http_port}/nope?q=1",
            "broken": f"http://127.0.0.1:{http_port}/fail",
        },
    )
    got = by_target(sampler.collect())
    assert (got["missing"].status, got["missing"].http_status) == ("ok", 404)
    assert (got["broken"].status, got["broken"].http_status) == ("http_error", 503)
    assert got["broken"].error == "HTTP 503"
    assert [path for path, _ in Handler.seen] == ["/nope?q=1", "/fail"]


def test_refused_connect_unresolvable_name_and_silent_server(
    tmp_path: Path, closed_port: int, silent_port: int
) -> None:
    sampler = make_sampler(
        tmp_path,
        probes={
            "closed": f"http://127.0.0.1:{closed_port}/",
            "nxdomain": "https://nonexistent.invalid/",
            "silent": f"http://127.0.0.1:{silent_port}/",
        },
        step_timeout_s=0.3,
    )
    got = by_target(sampler.collect())
    closed, nxdomain, silent = got["closed"], got["nxdomain"], got["silent"]
    assert closed.status == "connect_error" and closed.connect_ms is None
    assert closed.error is not None and "refused" in closed.error.lower()
    assert nxdomain.status == "dns_error" and nxdomain.dns_ms is None
    assert nxdomain.error is not None and "nonexistent.invalid" in nxdomain.error
    assert silent.status == "timeout" and silent.connect_ms is not None
    assert silent.ttfb_ms is None and silent.http_status is None
    assert silent.error is not None and silent.error.startswith("HTTP: no answer")


def test_not_http_is_an_http_error(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def banner() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

        thread = threading.Thread(target=banner, daemon=True)
        thread.start()
        sampler = make_sampler(
            tmp_path, probes={"ssh": f"http://127.0.0.1:{listener.getsockname()[1]}/"}
        )
        (sample,) = sampler.collect()
        thread.join()
    assert isinstance(sample, NetworkProbeSample)
    assert sample.status == "http_error" and sample.ttfb_ms is not None
    assert sample.error == "not an HTTP answer: 'SSH-2.0-OpenSSH_9.6\\r'"


def test_tls_timed_when_the_ca_bundle_vouches_for_the_server(
    tmp_path: Path, https_port: int, tls_cert: tuple[Path, Path]
) -> None:
    sampler = make_sampler(
        tmp_path, collector=f"https://localhost:{https_port}", ca_bundle=tls_cert[0]
    )
    (sample,) = sampler.collect()
    assert isinstance(sample, NetworkProbeSample)
    assert (sample.status, sample.http_status) == ("ok", 200), sample.error
    assert sample.tls_ms is not None and sample.tls_ms > 0


def test_untrusted_certificate_and_plain_http_are_tls_errors(
    tmp_path: Path, https_port: int, http_port: int
) -> None:
    sampler = make_sampler(
        tmp_path,
        probes={
            "selfsigned": f"https://127.0.0.1:{https_port}/healthz",
            "plain": f"https://127.0.0.1:{http_port}/healthz",
        },
    )
    got = by_target(sampler.collect())
    assert got["selfsigned"].status == "tls_error"
    assert "certificate verify failed" in (got["selfsigned"].error or "")
    assert got["selfsigned"].connect_ms is not None and got["selfsigned"].tls_ms is None
    assert got["plain"].status == "tls_error"


def test_unreadable_ca_bundle_is_a_tls_error_not_a_crash(tmp_path: Path, http_port: int) -> None:
    sampler = make_sampler(
        tmp_path,
        probes={"x": f"https://127.0.0.1:{http_port}/"},
        ca_bundle=tmp_path / "missing.pem",
    )
    (sample,) = sampler.collect()
    assert isinstance(sample, NetworkProbeSample) and sample.status == "tls_error"


def test_spent_budget_times_out_the_remaining_targets(tmp_path: Path, http_port: int) -> None:
    sampler = make_sampler(
        tmp_path, probes={"a": f"http://127.0.0.1:{http_port}/healthz"}, budget_s=0
    )
    (sample,) = sampler.collect()
    assert isinstance(sample, NetworkProbeSample)
    assert sample.status == "timeout"
    assert sample.error == "DNS: the probe run's time budget is spent"
    assert Handler.seen == []


# -- gateway ----------------------------------------------------------------------------------


def test_a_refusing_gateway_is_reachable(tmp_path: Path, closed_port: int) -> None:
    sampler = make_sampler(tmp_path, route=LOOPBACK_GATEWAY, gateway_ports=(closed_port,))
    (sample,) = sampler.collect()
    assert isinstance(sample, NetworkProbeSample)
    assert (sample.target, sample.method, sample.status) == ("gateway", "gateway", "ok")
    assert sample.connect_ms is not None and sample.error is None


def test_gateway_unreachable_and_silent(tmp_path: Path) -> None:
    tried: list[int] = []

    def fail_with(exc: OSError) -> NetOps:
        def connect(family: int, sockaddr: SockAddr, timeout: float) -> socket.socket:
            tried.append(sockaddr[1])
            raise exc

        return NetOps(connect=connect)

    unreachable = OSError(errno.EHOSTUNREACH, "No route to host")
    sampler = make_sampler(tmp_path, route=LOOPBACK_GATEWAY, ops=fail_with(unreachable))
    (sample,) = sampler.collect()
    assert isinstance(sample, NetworkProbeSample) and sample.status == "unreachable"
    assert tried == [53]
    tried.clear()
    sampler = make_sampler(tmp_path, route=LOOPBACK_GATEWAY, ops=fail_with(TimeoutError()))
    (sample,) = sampler.collect()
    assert isinstance(sample, NetworkProbeSample) and sample.status == "timeout"
    assert tried == [53, 80, 443]
    assert sample.error == (
        "gateway 127.0.0.1: tcp/53: no answer within 2 s; tcp/80: no answer within 2 s; "
        "tcp/443: no answer within 2 s"
    )


def test_no_default_route_means_offline(tmp_path: Path) -> None:
    (sample,) = make_sampler(tmp_path, route=ROUTE_HEADER).collect()
    assert isinstance(sample, NetworkProbeSample)
    assert (sample.target, sample.status) == ("gateway", "unreachable")
    assert sample.error == "no default route: the device is offline"


def test_nothing_to_probe_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoData):
        make_sampler(tmp_path).collect()  # no route file, no collector, no probes


def test_unreadable_credentials_fall_back_to_the_configured_url(
    tmp_path: Path, http_port: int
) -> None:
    sampler = make_sampler(tmp_path)
    (tmp_path / "state").mkdir(parents=True)
    (tmp_path / "state" / "credentials.json").write_text("{not json")
    assert sampler.targets() == []
    sampler.ctx = Context(
        sampler.ctx.host,
        sampler.ctx.config.model_copy(update={"collector_url": f"http://127.0.0.1:{http_port}"}),
        sampler.ctx.state,
        sampler.ctx.clock,
    )
    assert sampler.targets() == [("collector", f"http://127.0.0.1:{http_port}/healthz")]
    (sample,) = sampler.collect()
    assert isinstance(sample, NetworkProbeSample) and sample.status == "ok"
