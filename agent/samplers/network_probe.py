"""The ``network_probe`` sampler: how long the network takes to reach what people use.

"The network is slow" has three usual culprits, told apart by timing each step separately: the
resolver (DNS), the path (TCP connect, TLS handshake) and the server (time to first byte).
Every run probes, in this order and within ``RUN_BUDGET_S`` in all:

1. the default gateway (method ``gateway``; Linux only for now): a TCP connect to port 53,
   then 80, then 443, 2 s each, no root needed. An accepted connection or a refusal (RST) both
   prove the gateway answered: ``ok`` with ``connect_ms``. ICMP would need root (or a group
   in ``net.ipv4.ping_group_range``), so it is not used. No default route at all is reported
   as ``unreachable`` (the machine is offline); a default route with no next hop (a tunnel)
   has no gateway to probe;
2. the collector itself (target ``collector``): ``<collector_url>/healthz``, from the
   enrollment credentials (or the configured ``collector_url`` before enrollment);
3. every ``[[probes]]`` target (method ``http``, target = its name).

Each URL probe times ``getaddrinfo`` (the OS resolver, cache included; not measured for an IP
literal), the TCP connect, the TLS handshake (https: verified against the system CAs plus
``ca_bundle`` when set) and the first byte of a ``GET`` asking for one byte (``Range: bytes=0-0``,
``Connection: close``; only the status line is read). Each step waits at most 5 s. Probes go
straight to the target, not through an HTTP proxy. A real sample::

    {"kind": "network_probe", "ts": "2026-11-27T09:00:00Z", "target": "collector",
     "method": "http", "dns_ms": 1.42, "connect_ms": 3.87, "tls_ms": 9.6, "ttfb_ms": 4.1,
     "http_status": 200, "status": "ok"}

A failed step ends that probe with ``status`` (``timeout``, ``dns_error``, ``connect_error``,
``unreachable``, ``tls_error``, ``http_error``: a 5xx or not HTTP) and ``error``; the steps
timed before it are kept.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from datetime import datetime

from dexpulse.schema import NetworkProbeSample, SampleBase

from .. import platform
from ..enroll import EnrollError, load_credentials
from ..platform import NoData
from ..probes import GATEWAY_PORTS, STEP_TIMEOUT_S, NetOps, ProbeResult, probe_gateway, probe_url
from .base import Context, Sampler, register

log = logging.getLogger(__name__)

RUN_BUDGET_S = 30.0
MAX_TARGETS = 20
COLLECTOR_TARGET = "collector"
GATEWAY_TARGET = "gateway"


@register
class NetworkProbeSampler(Sampler):
    name = "network_probe"

    def __init__(
        self,
        ctx: Context,
        *,
        ops: NetOps | None = None,
        gateway_ports: Sequence[int] = GATEWAY_PORTS,
        budget_s: float = RUN_BUDGET_S,
        step_timeout_s: float = STEP_TIMEOUT_S,
    ) -> None:
        super().__init__(ctx)
        self.ops = ops or NetOps()
        self.gateway_ports = tuple(gateway_ports)
        self.budget_s = budget_s
        self.step_timeout_s = step_timeout_s
        self._tls: ssl.SSLContext | None = None
        self._warned_extra = False

    def collector_url(self) -> str | None:
        try:
            credentials = load_credentials(self.ctx.config.state_dir)
        except EnrollError as exc:
            log.debug("network_probe: %s", exc)
            credentials = None
        return credentials.collector_url if credentials else self.ctx.config.collector_url

    def targets(self) -> list[tuple[str, str]]:
        """(name, URL) of every URL target, the collector first."""
        out = []
        if url := self.collector_url():
            out.append((COLLECTOR_TARGET, url.rstrip("/") + "/healthz"))
        out += [(probe.name, probe.url) for probe in self.ctx.config.probes]
        if len(out) > MAX_TARGETS and not self._warned_extra:
            self._warned_extra = True
            log.warning("network_probe: only the first %d targets are probed", MAX_TARGETS)
        return out[:MAX_TARGETS]

    def tls_context(self) -> ssl.SSLContext:
        """System CAs plus ca_bundle; built once (loading the CAs costs a few ms)."""
        if self._tls is None:
            context = ssl.create_default_context()
            if self.ctx.config.ca_bundle is not None:
                context.load_verify_locations(cafile=str(self.ctx.config.ca_bundle))
            self._tls = context
        return self._tls

    def gateway(self) -> ProbeResult | None:
        """The gateway probe; None where there is no gateway to probe or no way to find it."""
        try:
            route = platform.area("network").default_route(self.ctx.host)
        except NoData as why:
            log.debug("network_probe: no gateway (%s)", why)
            return None
        if route is None:
            return ProbeResult().fail("unreachable", "no default route: the device is offline")
        if route.gateway is None:
            return None
        result: ProbeResult = probe_gateway(route.gateway, ops=self.ops, ports=self.gateway_ports)
        return result

    def collect(self) -> list[SampleBase]:
        deadline = self.ops.clock() + self.budget_s
        samples: list[SampleBase] = []
        ts = self.ctx.clock()
        if (gateway := self.gateway()) is not None:
            samples.append(_sample(ts, GATEWAY_TARGET, "gateway", gateway))
        for name, url in self.targets():
            ts = self.ctx.clock()
            result = probe_url(
                url,
                ops=self.ops,
                tls=self.tls_context,
                deadline=deadline,
                step_timeout_s=self.step_timeout_s,
            )
            samples.append(_sample(ts, name, "http", result))
        if not samples:
            raise NoData("no collector, probe targets or gateway to probe")
        return samples


def _sample(ts: datetime, target: str, method: str, result: ProbeResult) -> NetworkProbeSample:
    return NetworkProbeSample(
        ts=ts,
        target=target[:256],
        method=method,
        dns_ms=result.dns_ms,
        connect_ms=result.connect_ms,
        tls_ms=result.tls_ms,
        ttfb_ms=result.ttfb_ms,
        http_status=result.http_status,
        status=result.status,
        error=result.error,
    )
