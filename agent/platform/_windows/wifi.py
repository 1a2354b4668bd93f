"""Windows Wi-Fi: the current link of every wireless interface, from the Native Wifi API or netsh.

Which source, when:

1. **The Native Wifi API** (wlanapi.dll through ctypes; :mod:`.nativewifi` reads it,
   :mod:`.wlanapi` holds the layouts): no process to spawn, no translated text, a real RSSI
   (dBm), the centre frequency. Used whenever it answers.
2. **``netsh wlan show interfaces``** (unprivileged, answers from wlansvc's state: no scan; read
   by :func:`dexpulse.agent.parsers.netsh.parse_netsh_wlan`, which knows the translated labels
   and the location gate) when the API cannot: not Windows or no wlanapi.dll (a Server without
   the Wireless LAN Service), WlanOpenHandle or WlanEnumInterfaces failing (wlansvc stopped:
   ERROR_SERVICE_NOT_ACTIVE), or the current connection denied (below).

No wireless interface (the API lists none, or netsh says "There is no wireless interface on
the system"), a stopped wlansvc with netsh missing or failing: NoData (the sampler then reports
no Wi-Fi, and a disconnect if there was one). netsh's interfaces without a name (its answer
under the location gate) are kept, named ``""``, so the sampler knows Wi-Fi exists and keeps its
last known state. Both sources label an interface by its alias ("Wi-Fi"), the API falling back
on the adapter's description where iphlpapi cannot give the alias.

Windows 11 24H2+ without location permission, call by call (the calls that can reveal SSIDs and
BSSIDs answer ERROR_ACCESS_DENIED; which ones a given build gates is not documented per call):

* WlanOpenHandle, WlanEnumInterfaces: not gated (the interface list and states carry no
  network identity) **[unverified on 24H2]**;
* WlanQueryInterface(current_connection) denied: the whole read goes to netsh, itself gated,
  so typically one unnamed sample with ``connected`` None;
* WlanGetNetworkBssList denied: no frequency (the band guessed from the channel), RSSI from the
  rssi opcode;
* the rssi / channel_number opcodes denied: those fields are None, the rest is kept;
* a build that answers the connection with the SSID emptied or the BSSID zeroed: those are
  None, the rest of the link is kept.

A fault inside wlanapi.dll (an access violation, which ctypes raises as OSError) falls back to
netsh as well, with one warning per process, so a broken driver stack costs the link's RSSI
and frequency, not the whole Wi-Fi sampler.

Events: ``EVENT_SOURCES``/``EVENT_KINDS`` offer the wifi sampler WLAN-AutoConfig's own log of
connects, drops and failed attempts (:mod:`.wifi_events`); polling adds roams.

``ap_security``: every read states the security of the linked access point, so the cache is
only filled (BSSID -> security), never needed to run anything more.

Verified here (Linux, tests/agent/platform): struct sizes and member offsets against the
documented layouts; the whole reading code against a fake layer that answers through ctypes
function pointers built from the DLL's prototypes, writing real structures through the out
pointers and counting WlanFreeMemory/WlanCloseHandle calls; the fallback to netsh. Still to be
checked on a real Windows machine: loading and binding the DLLs (WinDLL, argtypes on x64 and
ARM64), the rates' unit (kbit/s), the alias calls, the exact 24H2 gating per call, and netsh's
wording for WPA3 and OWE (the names used are ours).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from datetime import datetime

from dexpulse.schema import WifiSample

from ...parsers import ParseContext, ParseError
from ...parsers.netsh import parse_netsh_wlan
from ..host import Host, NoData
from . import wlanapi
from .nativewifi import MAX_INTERFACES, Unavailable, read_native
from .wifi_events import EVENT_KINDS, SOURCES

EVENT_SOURCES = SOURCES
"""WLAN-AutoConfig's log, offered to the wifi sampler with the kinds it covers (EVENT_KINDS)."""
__all__ = ["EVENT_KINDS", "EVENT_SOURCES", "NETSH", "read_wifi"]

log = logging.getLogger(__name__)

NETSH = ("netsh", "wlan", "show", "interfaces")
_faulted: set[str] = set()
"""Faults of the DLL seen by this process: the first is logged as a warning, not every poll."""


def read_wifi(
    host: Host,
    now: datetime,
    *,
    ap_security: MutableMapping[str, str | None] | None = None,
    api: wlanapi.WlanApi | None = None,
) -> list[WifiSample]:
    """One WifiSample per wireless interface; NoData if the machine has none.

    ``api`` is the Native Wifi API (tests pass a fake); by default wlanapi.dll where it exists.
    """
    layer = api if api is not None else wlanapi.load()
    samples: list[WifiSample] | None = None
    if layer is not None:
        try:
            samples = read_native(layer, now)
        except Unavailable as exc:
            log.debug("wifi: Native Wifi API: %s; reading netsh", exc)
        except OSError as exc:  # a fault inside the DLL (ctypes reports it as OSError)
            if not _faulted:
                log.warning("wifi: Native Wifi API failed (%s); reading netsh instead", exc)
            _faulted.add(type(exc).__name__)
    if samples is None:
        samples = _read_netsh(host, now)
    if not samples:
        raise NoData("no wireless interface")
    for sample in samples:
        if ap_security is not None and sample.connected and sample.bssid:
            ap_security[sample.bssid] = sample.security
    return samples


def _read_netsh(host: Host, now: datetime) -> list[WifiSample]:
    text = host.command(*NETSH)
    try:
        parsed = parse_netsh_wlan(text, ParseContext(now=now))
    except ParseError as exc:
        raise NoData(f"netsh wlan: {exc}") from None
    samples = [s for s in parsed if isinstance(s, WifiSample)][:MAX_INTERFACES]
    return [
        s if s.interface is not None else s.model_copy(update={"interface": ""}) for s in samples
    ]
