"""Linux routes: the default gateway, from ``/proc/net/route`` and ``/proc/net/ipv6_route``.

Both files are readable by any user and cost no command. ``/proc/net/route`` prints addresses
as hex of the 32-bit value in host byte order (``010200C0`` is 192.0.2.1 on a little-endian
machine), one route a line after a header::

    Iface  Destination  Gateway   Flags  RefCnt  Use  Metric  Mask      MTU  Window  IRTT
    wlan0  00000000     0102A8C0  0003   0       0    600     00000000  0    0       0

``/proc/net/ipv6_route`` has no header; its columns are destination, prefix length, source,
source prefix length, next hop, metric, refcount, use, flags (all hex) and the interface.
An IPv6 link-local next hop is returned with its zone (``fe80::1%wlan0``) so it can be dialled.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from ..host import Host, NoData

RTF_UP = 0x0001
RTF_GATEWAY = 0x0002
RTF_REJECT = 0x0200


@dataclass(frozen=True)
class DefaultRoute:
    interface: str
    gateway: str | None
    """None: a route straight onto a link with no next hop (a VPN tunnel, a point-to-point
    link)."""
    metric: int


def parse_ipv4_routes(text: str) -> list[DefaultRoute]:
    """Default routes (destination and mask 0, up, not reject) by ascending metric."""
    routes = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8:
            continue
        try:
            dest, gateway, flags = int(cols[1], 16), int(cols[2], 16), int(cols[3], 16)
            metric, mask = int(cols[6]), int(cols[7], 16)
        except ValueError:
            continue
        if dest or mask or not flags & RTF_UP or flags & RTF_REJECT:
            continue
        address = None
        if flags & RTF_GATEWAY and gateway:
            address = socket.inet_ntoa(struct.pack("=I", gateway & 0xFFFFFFFF))
        routes.append(DefaultRoute(cols[0], address, metric))
    return sorted(routes, key=lambda r: r.metric)


def parse_ipv6_routes(text: str) -> list[DefaultRoute]:
    """Default routes (::/0, up, not reject) by ascending metric."""
    routes = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 10:
            continue
        try:
            dest, plen, hop = int(cols[0], 16), int(cols[1], 16), int(cols[4], 16)
            metric, flags = int(cols[5], 16), int(cols[8], 16)
        except ValueError:
            continue
        if dest or plen or not flags & RTF_UP or flags & RTF_REJECT or cols[9] == "lo":
            continue
        address = None
        if flags & RTF_GATEWAY and hop:
            ip = ipaddress.IPv6Address(hop)
            address = f"{ip}%{cols[9]}" if ip.is_link_local else str(ip)
        routes.append(DefaultRoute(cols[9], address, metric))
    return sorted(routes, key=lambda r: r.metric)


def default_route(host: Host) -> DefaultRoute | None:
    """The default route with a gateway, IPv4 first (lowest metric); else a default route
    without one; None when there is no default route at all (offline). NoData when
    ``/proc/net/route`` cannot be read."""
    routes = parse_ipv4_routes(host.read("/proc/net/route"))
    try:
        routes += parse_ipv6_routes(host.read("/proc/net/ipv6_route"))
    except NoData:  # IPv6 disabled
        pass
    for route in routes:
        if route.gateway:
            return route
    return routes[0] if routes else None
