"""macOS Wi-Fi: the current link of each Wi-Fi interface, from ``wdutil`` or ``system_profiler``.

Sources, in order of preference (see :mod:`dexpulse.agent.parsers.macos_wifi` for formats):

1. ``wdutil info``, only when the agent runs as root (it refuses otherwise): quick, and the
   richest reading (RSSI, noise, Tx rate, PHY mode, security, ``5g44/40`` channels). It
   describes the primary Wi-Fi interface only. Not installed (before macOS 12), failing, or
   printing no WIFI section: the next source.
2. ``system_profiler SPAirPortDataType -json``: unprivileged, on every release, one entry per
   interface (``awdl0``/``llw0`` are skipped by the parser), but slow (a second or more).

Since macOS 14.4/15 both print ``<redacted>`` for SSID and BSSID when the calling process has no
Location permission: the parser turns those into None (never the literal text). A root
daemon usually has no such permission, so SSID/BSSID are often None on current releases.

``ap_security`` is accepted for the shape every backend shares; both sources already name the
security of the current network, so it is not used. No Wi-Fi interface at all: NoData.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, MutableMapping
from datetime import datetime

from dexpulse.schema import WifiSample

from ...parsers import ParseContext, ParseError
from ...parsers.macos_wifi import parse_system_profiler_airport, parse_wdutil
from ..host import Host, NoData

log = logging.getLogger(__name__)

WDUTIL = ("wdutil", "info")
SYSTEM_PROFILER = ("system_profiler", "SPAirPortDataType", "-json")


def running_as_root() -> bool:
    """Whether this process has effective uid 0 (False where the OS has no uids)."""
    geteuid: Callable[[], int] | None = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def _wdutil(host: Host, ctx: ParseContext) -> list[WifiSample]:
    try:
        text = host.command(*WDUTIL)
        samples = parse_wdutil(text, ctx)
    except (NoData, ParseError) as exc:
        log.debug("wifi: wdutil: %s", exc)
        return []
    return [s for s in samples if isinstance(s, WifiSample) and s.interface]


def _system_profiler(host: Host, ctx: ParseContext) -> list[WifiSample]:
    text = host.command(*SYSTEM_PROFILER)  # NoData when missing or failing
    try:
        samples = parse_system_profiler_airport(text, ctx)
    except ParseError as exc:
        raise NoData(f"system_profiler SPAirPortDataType: {exc}") from None
    return [s for s in samples if isinstance(s, WifiSample)]


def read_wifi(
    host: Host,
    now: datetime,
    *,
    ap_security: MutableMapping[str, str | None] | None = None,
    as_root: bool | None = None,
) -> list[WifiSample]:
    """One WifiSample per Wi-Fi interface; NoData if the Mac has none or no tool answers.

    ``as_root`` says whether ``wdutil`` may be tried (None: ask :func:`running_as_root`).
    """
    del ap_security  # both sources name the security themselves
    ctx = ParseContext(now=now)
    root = running_as_root() if as_root is None else as_root
    samples = _wdutil(host, ctx) if root else []
    if not samples:
        samples = _system_profiler(host, ctx)
    if not samples:
        raise NoData("no Wi-Fi interface")
    return samples
