"""Windows Wi-Fi events: WLAN-AutoConfig's own log of connects, drops and failed attempts.

Why: polling sees a disconnect only if it lasts across a poll, and never sees a failed attempt
(wrong password, a RADIUS server that does not answer); WLAN AutoConfig writes each one, with
its time to the 100 ns and a reason code. A real event (``wevtutil qe
Microsoft-Windows-WLAN-AutoConfig/Operational /q:*[System[(EventID=8001)]] /f:xml``, Windows
10 19044, shortened)::

    <Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>
      <Provider Name="Microsoft-Windows-WLAN-AutoConfig" Guid="{9580d7dd-...}" />
      <EventID>8001</EventID><TimeCreated SystemTime="2022-10-27T04:37:47.1583133Z" />
      <Channel>Microsoft-Windows-WLAN-AutoConfig/Operational</Channel></System>
    <EventData>
      <Data Name="InterfaceGuid">{a7d8885d-10c1-43d4-9e1e-0a7b2678f020}</Data>
      <Data Name="InterfaceDescription">Intel(R) Wi-Fi 6 AX200 160MHz</Data>
      <Data Name="SSID">SSID_TEST</Data> ... <Data Name="ConnectionId">0x2</Data>
    </EventData></Event>

One source, ``wlan_autoconfig``: ``wevtutil qe`` of the Operational channel for 8001
(connected), 8003 (disconnected, with Reason and ReasonCode), 8002 (connection failed),
11002 (association failed), 11006 (security failed) and 12013 (802.1X failed), since the wifi
sampler's mark (:mod:`.eventlog` for the query, the count cap and NoData), each mapped by
:func:`dexpulse.agent.parsers.wevt.event_samples` to a WifiEventSample (the failures are
``auth_failed``). The channel is enabled by default and readable without admin rights
[to confirm on a managed 24H2 laptop: whether location consent also gates the SSID in these
events].

The fingerprint is the event's id, time, interface GUID and connection id, so two adapters
logging in the same 100 ns stay two events. Roams are not in this list (no documented event
id for them in this channel): the sampler keeps detecting roams by polling.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dexpulse.schema.events import WifiEventSample

from ...parsers.wevt import event_samples
from ..host import Host
from ..logbatch import EPOCH, WALL, Batch, Entry, fingerprint
from .eventlog import MAX_EVENTS, read_events

WLAN_LOG = "Microsoft-Windows-WLAN-AutoConfig/Operational"
WLAN_EVENTS = (8001, 8002, 8003, 11002, 11006, 12013)
EVENT_KINDS = frozenset({"connected", "disconnected", "auth_failed"})
"""What this source reports; the sampler leaves these to it and keeps polling for roams."""


def wlan_events(host: Host, since: datetime, now: datetime) -> Batch:
    """WLAN-AutoConfig events since ``since`` as WifiEventSamples, oldest first."""
    events = read_events(host, WLAN_LOG, WLAN_EVENTS, since, now)
    entries: list[Entry] = []
    for event in events:
        for sample in event_samples(event):
            if isinstance(sample, WifiEventSample):
                d = event.data
                fp = fingerprint(
                    "wlan", event.event_id, sample.ts.isoformat(),
                    d.get("InterfaceGuid", ""), d.get("ConnectionId", ""),
                )  # fmt: skip
                entries.append(Entry((sample.ts - EPOCH).total_seconds(), fp, sample))
    horizon = (now - EPOCH).total_seconds()
    if len(events) >= MAX_EVENTS:  # cut by /c: the newest are still to come
        horizon = (max(e.ts for e in events) - EPOCH).total_seconds()
    return Batch(WALL, entries, horizon, EPOCH)


SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {
    "wlan_autoconfig": wlan_events,
}
