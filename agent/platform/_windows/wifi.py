"""Windows Wi-Fi: the current link of every wireless interface, from ``netsh wlan show interfaces``.

``netsh wlan show interfaces`` (unprivileged, answers from wlansvc's state: no scan) is read by
:func:`dexpulse.agent.parsers.netsh.parse_netsh_wlan`, which knows the translated labels and
the 24H2 location-permission gate. One WifiSample per interface block.

* "There is no wireless interface on the system", a stopped wlansvc, netsh missing or failing:
  NoData (the sampler then reports no Wi-Fi, and a disconnect if there was one).
* Windows 11 24H2+ without location permission: the parser gives one sample with only ``ts``
  (no interface name, ``connected`` None): it is kept, named ``""``, so the sampler knows Wi-Fi
  exists but keeps its last known state.
* ``ap_security``: netsh already prints the Authentication of the linked access point on every
  call, so the cache is only filled (BSSID -> security), never needed to run anything more.

Later (noted, not written): the Native Wifi API (``WlanQueryInterface`` through ctypes, wlanapi.dll)
gives the same link without spawning a process and without the display-language problem; it
belongs behind an injectable function like :data:`NETSH` so tests can fake it.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from datetime import datetime

from dexpulse.schema import WifiSample

from ...parsers import ParseContext, ParseError
from ...parsers.netsh import parse_netsh_wlan
from ..host import Host, NoData

log = logging.getLogger(__name__)

NETSH = ("netsh", "wlan", "show", "interfaces")
MAX_INTERFACES = 8


def read_wifi(
    host: Host,
    now: datetime,
    *,
    ap_security: MutableMapping[str, str | None] | None = None,
) -> list[WifiSample]:
    """One WifiSample per wireless interface; NoData if the machine has none."""
    text = host.command(*NETSH)
    try:
        parsed = parse_netsh_wlan(text, ParseContext(now=now))
    except ParseError as exc:
        raise NoData(f"netsh wlan: {exc}") from None
    samples = [s for s in parsed if isinstance(s, WifiSample)][:MAX_INTERFACES]
    if not samples:
        raise NoData("no wireless interface")
    out: list[WifiSample] = []
    for sample in samples:
        if sample.interface is None:
            sample = sample.model_copy(update={"interface": ""})
        if ap_security is not None and sample.connected and sample.bssid:
            ap_security[sample.bssid] = sample.security
        out.append(sample)
    return out
