"""Linux Wi-Fi: the current link of every wireless interface, from iw, nmcli and /proc.

Interfaces are the entries of ``/sys/class/net`` with a ``wireless`` directory (or a
``phy80211`` link, which every cfg80211 device has even without Wireless Extensions); where
sysfs says nothing, the interfaces listed in ``/proc/net/wireless``. None at all: NoData.

Per interface, sources in order of preference, each filling only what the earlier ones lack:

1. ``iw dev <if> link`` (nl80211, unprivileged, no daemon needed): connected, SSID, BSSID,
   frequency/channel/band, signal, bit rates, PHY generation.
2. ``nmcli -t -f IN-USE,BSSID,SSID,MODE,CHAN,RATE,SIGNAL,BARS,SECURITY device wifi list
   --rescan no ifname <if>``: NetworkManager's cached scan list (never a new scan). The whole
   reading when iw is missing or fails; otherwise only ``security`` and ``signal_percent`` of
   the access point iw is linked to, and only when the caller passes an ``ap_security`` cache
   whose answer for that BSSID is not known yet, so nmcli runs once per new access point, not
   once per poll. An empty list (radio off, or a device NetworkManager does not manage) says
   nothing either way.
3. ``/proc/net/wireless`` (read once per call): ``noise_dbm`` (which iw link never prints) and
   ``rssi_dbm`` if still missing, unless the interface is known to be disconnected.
4. ``/sys/class/net/<if>/operstate``: only when nothing above could say whether the interface
   is connected (``up`` -> connected; ``down``/``dormant``/``lowerlayerdown`` -> not; mac80211
   turns the carrier on once associated and 802.1X keeps it ``dormant`` until authorised).

One WifiSample per wireless interface, ``interface`` always set, ``ts`` = ``now`` unless iw
prints its own clock; ``connected`` is None when no source could tell (the caller then knows
the interface exists but not its state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping, Sequence
from datetime import datetime

from dexpulse.schema import SampleBase, WifiSample

from ...parsers import ParseContext, ParseError
from ...parsers.iw import parse_iw_link
from ...parsers.nmcli import parse_nmcli_wifi
from ...parsers.proc_wireless import parse_proc_net_wireless
from ..host import Host, NoData

log = logging.getLogger(__name__)

NET_CLASS = "/sys/class/net"
PROC_WIRELESS = "/proc/net/wireless"
NMCLI_FIELDS = "IN-USE,BSSID,SSID,MODE,CHAN,RATE,SIGNAL,BARS,SECURITY"
NMCLI_LIST = ("nmcli", "-t", "-f", NMCLI_FIELDS, "device", "wifi", "list", "--rescan", "no")
MAX_INTERFACES = 8
_OPERSTATE = {"up": True, "down": False, "dormant": False, "lowerlayerdown": False}
_FROM_NMCLI_WITH_IW = ("security", "signal_percent")
_FROM_PROC = ("rssi_dbm", "noise_dbm")


def wireless_interfaces(host: Host) -> list[str]:
    """Names of the wireless network interfaces sysfs lists, sorted; [] if it lists none."""
    try:
        entries = sorted(host.path(NET_CLASS).iterdir())
    except OSError:
        return []
    names = [
        entry.name
        for entry in entries
        if (entry / "wireless").is_dir() or (entry / "phy80211").exists()
    ]
    return names[:MAX_INTERFACES]


def _parsed(
    parse: Callable[[str, ParseContext], Sequence[SampleBase]], text: str, ctx: ParseContext
) -> list[WifiSample]:
    try:
        samples = parse(text, ctx)
    except ParseError as exc:
        log.debug("wifi: %s", exc)
        return []
    return [s for s in samples if isinstance(s, WifiSample)]


def _proc_readings(host: Host, ctx: ParseContext) -> dict[str, WifiSample]:
    try:
        text = host.read(PROC_WIRELESS)
    except NoData:
        return {}
    readings = _parsed(parse_proc_net_wireless, text, ctx)
    return {s.interface: s for s in readings if s.interface}


def _iw_link(host: Host, iface: str, ctx: ParseContext) -> WifiSample | None:
    try:
        text = host.command("iw", "dev", iface, "link")
    except NoData as exc:
        log.debug("wifi: iw: %s", exc)
        return None
    for sample in _parsed(parse_iw_link, text, ctx):
        if sample.interface in (None, iface):
            return sample
    return None


def _nmcli(host: Host, iface: str, ctx: ParseContext) -> list[WifiSample]:
    try:
        text = host.command(*NMCLI_LIST, "ifname", iface)
    except NoData as exc:
        log.debug("wifi: nmcli: %s", exc)
        return []
    if not text.strip():
        return []  # radio off, nothing in range, or not managed: cannot say which
    return _parsed(parse_nmcli_wifi, text, ctx)


def _fill(base: WifiSample, extra: WifiSample | None, fields: Sequence[str]) -> WifiSample:
    """``base`` with the ``fields`` it lacks taken from ``extra``."""
    if extra is None:
        return base
    update = {
        name: getattr(extra, name)
        for name in fields
        if getattr(base, name) is None and getattr(extra, name) is not None
    }
    return base.model_copy(update=update) if update else base


def _same_ap(link: WifiSample, row: WifiSample) -> bool:
    if link.bssid and row.bssid:
        return link.bssid == row.bssid
    return bool(link.ssid) and link.ssid == row.ssid


def _operstate(host: Host, iface: str) -> bool | None:
    try:
        return _OPERSTATE.get(host.read(f"{NET_CLASS}/{iface}/operstate").strip())
    except NoData:
        return None


def read_interface(
    host: Host,
    iface: str,
    ctx: ParseContext,
    proc: WifiSample | None,
    ap_security: MutableMapping[str, str | None] | None = None,
) -> WifiSample:
    """The merged reading of one wireless interface (see the module docstring)."""
    sample = _iw_link(host, iface, ctx)
    if sample is None:
        rows = _nmcli(host, iface, ctx)
        sample = next((s for s in rows if s.connected), rows[0] if rows else None)
    elif sample.connected and (bssid := sample.bssid) and ap_security is not None:
        if bssid not in ap_security:
            rows = _nmcli(host, iface, ctx)
            row = next((s for s in rows if s.connected and _same_ap(sample, s)), None)
            sample = _fill(sample, row, _FROM_NMCLI_WITH_IW)
            ap_security[bssid] = sample.security
        elif (security := ap_security[bssid]) is not None:
            sample = sample.model_copy(update={"security": security})
    if sample is None:
        sample = WifiSample(ts=ctx.now)
    sample = sample.model_copy(update={"interface": iface})
    if sample.connected is not False:
        sample = _fill(sample, proc, _FROM_PROC)
    if sample.connected is None:
        sample = sample.model_copy(update={"connected": _operstate(host, iface)})
    return sample


def read_wifi(
    host: Host,
    now: datetime,
    *,
    ap_security: MutableMapping[str, str | None] | None = None,
) -> list[WifiSample]:
    """One WifiSample per wireless interface; NoData if the machine has none.

    ``ap_security`` (BSSID -> security, owned and bounded by the caller) lets nmcli add the
    security of the access point iw reports, once per access point; None skips that.
    """
    ctx = ParseContext(now=now)
    proc = _proc_readings(host, ctx)
    interfaces = wireless_interfaces(host) or sorted(proc)[:MAX_INTERFACES]
    if not interfaces:
        raise NoData("no wireless network interface")
    return [read_interface(host, iface, ctx, proc.get(iface), ap_security) for iface in interfaces]
