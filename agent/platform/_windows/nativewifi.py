"""The current Wi-Fi link of every interface through the Native Wifi API (wlanapi.dll).

The reading half of the Windows Wi-Fi backend (:mod:`.wifi` chooses between this and netsh;
:mod:`.wlanapi` holds the layouts and loads the DLL). It takes the API as an object, so tests
hand it a fake that answers through ctypes function pointers with the DLL's prototypes.

One handle per read (WlanOpenHandle, client version 2), closed at the end; every buffer the DLL
allocates goes back to WlanFreeMemory on every path, exceptions included. Per interface of
WlanEnumInterfaces (at most MAX_INTERFACES):

* ``interface``: the alias ("Wi-Fi", netsh's ``Name``) from the GUID through iphlpapi's
  ConvertInterfaceGuidToLuid/ConvertInterfaceLuidToAlias, so both sources label an interface
  alike and the sampler sees no interface come and go when the source changes; the description
  ("Intel(R) Wi-Fi 6 AX201 160MHz") only where the alias cannot be had.
* Not connected (a state other than connected / ad hoc network formed, as the netsh parser
  counts them, or the connection query answering ERROR_NOT_FOUND / ERROR_INVALID_STATE):
  ``connected`` False and nothing else.
* WlanQueryInterface(current_connection): ssid (dot11Ssid's bytes as UTF-8; empty -> None),
  bssid (all zeros -> None), signal_percent, rx/tx rates (kbit/s / 1000), radio_type from the
  PHY type and security from the auth algorithm, both in netsh's words (``802.11ax``,
  ``WPA2-Personal``). Denied (ERROR_ACCESS_DENIED): Unavailable, netsh answers.
* Opcode channel_number: channel. Opcode rssi: rssi_dbm.
* WlanGetNetworkBssList for the connected SSID, entry of the connected BSSID: its centre
  frequency (kHz / 1000: frequency_mhz, band_ghz, the channel if the opcode gave none) and its
  lRssi where the opcode gave none. Without either RSSI, rssi_dbm is estimated from the
  percentage as the netsh parser does (-100 dBm at 0 %, -50 dBm at 100 %).

A driver's answer is not trusted: counts are capped (MAX_INTERFACES, MAX_BSS_ENTRIES and what
the BSS list's dwTotalSize can hold), lengths checked against the declared arrays (an SSID of
more than 32 bytes is dropped), answers shorter than their structure ignored, and values kept
only within plausible ranges (RSSI -150..-1 dBm, channel 1..233, frequency in the 2.4/5/6 GHz
bands). BSS entries are indexed as the header declares them, a C array of 360-byte entries; the
documentation's warning that padding "may" sit between entries is not acted on (none is needed
at that size and alignment) and is to be confirmed on a real machine.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from datetime import datetime

from dexpulse.schema import WifiSample

from ...parsers.wifi_common import (
    band_from_frequency,
    channel_from_frequency,
    clean_text,
    guess_band_from_channel,
    in_range,
    percent_to_dbm,
)
from . import wlanapi as w

log = logging.getLogger(__name__)

MAX_INTERFACES = 8
MAX_BSS_ENTRIES = 128


class Unavailable(Exception):
    """The Native Wifi API cannot give this reading: netsh is to be asked instead."""


@dataclass(frozen=True)
class _Interface:
    guid: w.GUID
    description: str
    state: int


def read_native(api: w.WlanApi, now: datetime) -> list[WifiSample]:
    """One WifiSample per interface through ``api`` (empty: no wireless interface).

    Raises Unavailable where the API cannot answer and netsh must be asked instead.
    """
    negotiated, handle = w.DWORD(0), w.HANDLE()
    rc = api.WlanOpenHandle(
        w.WLAN_CLIENT_VERSION_VISTA, None, ctypes.byref(negotiated), ctypes.byref(handle)
    )
    if rc != w.ERROR_SUCCESS:
        raise Unavailable(f"WlanOpenHandle returned {rc}")
    try:
        return [_sample(api, handle, iface, now) for iface in _interfaces(api, handle)]
    finally:
        api.WlanCloseHandle(handle, None)


def _interfaces(api: w.WlanApi, handle: w.HANDLE) -> list[_Interface]:
    found = ctypes.POINTER(w.WLAN_INTERFACE_INFO_LIST)()
    rc = api.WlanEnumInterfaces(handle, None, ctypes.byref(found))
    try:
        if rc != w.ERROR_SUCCESS or not found:
            raise Unavailable(f"WlanEnumInterfaces returned {rc}")
        head = found.contents
        count = min(head.dwNumberOfItems, MAX_INTERFACES)
        infos = (w.WLAN_INTERFACE_INFO * count).from_address(ctypes.addressof(head.InterfaceInfo))
        return [
            _Interface(
                w.GUID.from_buffer_copy(info.InterfaceGuid),
                w.utf16(info.strInterfaceDescription),
                info.isState,
            )
            for info in infos
        ]
    finally:
        if found:
            api.WlanFreeMemory(found)


def _sample(api: w.WlanApi, handle: w.HANDLE, iface: _Interface, now: datetime) -> WifiSample:
    label = _label(api, iface)
    if iface.state not in w.CONNECTED_STATES:
        return WifiSample(ts=now, interface=label, connected=False)
    size = ctypes.sizeof(w.WLAN_CONNECTION_ATTRIBUTES)
    rc, raw = _query(api, handle, iface.guid, w.wlan_intf_opcode_current_connection, size)
    if rc == w.ERROR_ACCESS_DENIED:
        raise Unavailable("the current connection is withheld (location permission)")
    attributes = w.WLAN_CONNECTION_ATTRIBUTES.from_buffer_copy(raw) if raw else None
    if rc in (w.ERROR_NOT_FOUND, w.ERROR_INVALID_STATE) or (
        attributes is not None and attributes.isState not in w.CONNECTED_STATES
    ):
        return WifiSample(ts=now, interface=label, connected=False)  # it just left
    channel = _number(api, handle, iface.guid, w.wlan_intf_opcode_channel_number, w.ULONG)
    rssi = _number(api, handle, iface.guid, w.wlan_intf_opcode_rssi, w.LONG)
    bss = _bss_entry(api, handle, iface.guid, attributes) if attributes is not None else None
    return _link(now, label, attributes, channel, rssi, bss)


def _link(
    now: datetime,
    label: str,
    attributes: w.WLAN_CONNECTION_ATTRIBUTES | None,
    channel_number: int | None,
    rssi_opcode: int | None,
    bss: w.WLAN_BSS_ENTRY | None,
) -> WifiSample:
    """The sample of a connected interface from what its queries answered (None: nothing)."""
    link: dict[str, object] = {}  # what the connection attributes say
    percent: float | None = None
    if attributes is not None:
        association = attributes.wlanAssociationAttributes
        percent = in_range(association.wlanSignalQuality, 0, 100)
        link = {
            "ssid": _ssid(association.dot11Ssid),
            "bssid": _mac(bytes(association.dot11Bssid)),
            "rx_rate_mbps": in_range(association.ulRxRate / 1000, 0, 1e6),
            "tx_rate_mbps": in_range(association.ulTxRate / 1000, 0, 1e6),
            "radio_type": w.PHY_TYPES.get(association.dot11PhyType),
            "security": w.AUTH_ALGORITHMS.get(attributes.wlanSecurityAttributes.dot11AuthAlgorithm),
        }
    rssi = in_range(rssi_opcode, -150, -1)
    if rssi is None and bss is not None:
        rssi = in_range(bss.lRssi, -150, -1)
    if rssi is None and percent is not None:
        rssi = percent_to_dbm(percent)
    frequency = bss.ulChCenterFrequency / 1000 if bss is not None else None
    if frequency is not None and band_from_frequency(frequency) is None:
        frequency = None
    channel = channel_number if channel_number is not None and 1 <= channel_number <= 233 else None
    if channel is None and frequency is not None:
        channel = channel_from_frequency(frequency)
    band = band_from_frequency(frequency) if frequency is not None else None
    if band is None and channel is not None:
        band = guess_band_from_channel(channel)
    return WifiSample.model_validate(
        {
            "ts": now,
            "interface": label,
            "connected": True,
            "rssi_dbm": rssi,
            "signal_percent": percent,
            "channel": channel,
            "band_ghz": band,
            "frequency_mhz": frequency,
            **link,
        }
    )


def _query(
    api: w.WlanApi, handle: w.HANDLE, guid: w.GUID, opcode: int, size: int
) -> tuple[int, bytes | None]:
    """WlanQueryInterface: its return code and the first ``size`` bytes of its answer (None if
    it failed or gave less)."""
    got, data, value_type = w.DWORD(0), ctypes.c_void_p(), w.ENUM(0)
    rc = api.WlanQueryInterface(
        handle,
        ctypes.byref(guid),
        opcode,
        None,
        ctypes.byref(got),
        ctypes.byref(data),
        ctypes.byref(value_type),
    )
    try:
        if rc != w.ERROR_SUCCESS or not data.value or got.value < size:
            return rc, None
        return rc, ctypes.string_at(data.value, size)
    finally:
        if data.value:
            api.WlanFreeMemory(data)


def _number(
    api: w.WlanApi,
    handle: w.HANDLE,
    guid: w.GUID,
    opcode: int,
    kind: type[w.ULONG] | type[w.LONG],
) -> int | None:
    rc, raw = _query(api, handle, guid, opcode, ctypes.sizeof(kind))
    if raw is None:
        log.debug("wifi: WlanQueryInterface(%#x) returned %s", opcode, rc)
        return None
    return int(kind.from_buffer_copy(raw).value)


def _bss_entry(
    api: w.WlanApi, handle: w.HANDLE, guid: w.GUID, attributes: w.WLAN_CONNECTION_ATTRIBUTES
) -> w.WLAN_BSS_ENTRY | None:
    """The BSS list's entry of the connected access point (matched on its BSSID), if any."""
    association = attributes.wlanAssociationAttributes
    bssid = bytes(association.dot11Bssid)
    if _mac(bssid) is None:
        return None
    ssid = w.DOT11_SSID.from_buffer_copy(association.dot11Ssid)
    named = 0 < ssid.uSSIDLength <= w.DOT11_SSID_MAX_LENGTH and association.dot11BssType in (
        w.dot11_BSS_type_infrastructure,
        w.dot11_BSS_type_independent,
    )
    found = ctypes.POINTER(w.WLAN_BSS_LIST)()
    rc = api.WlanGetNetworkBssList(
        handle,
        ctypes.byref(guid),
        ctypes.byref(ssid) if named else None,
        association.dot11BssType if named else w.dot11_BSS_type_any,
        attributes.wlanSecurityAttributes.bSecurityEnabled,
        None,
        ctypes.byref(found),
    )
    try:
        if rc != w.ERROR_SUCCESS or not found:
            log.debug("wifi: WlanGetNetworkBssList returned %s", rc)
            return None
        head = found.contents
        offset = w.WLAN_BSS_LIST.wlanBssEntries.offset
        fits = max(0, head.dwTotalSize - offset) // ctypes.sizeof(w.WLAN_BSS_ENTRY)
        count = min(head.dwNumberOfItems, fits, MAX_BSS_ENTRIES)
        entries = (w.WLAN_BSS_ENTRY * count).from_address(ctypes.addressof(head) + offset)
        match = next((e for e in entries if bytes(e.dot11Bssid) == bssid), None)
        return w.WLAN_BSS_ENTRY.from_buffer_copy(match) if match is not None else None
    finally:
        if found:
            api.WlanFreeMemory(found)


def _label(api: w.WlanApi, iface: _Interface) -> str:
    """The interface's alias ("Wi-Fi") where iphlpapi gives it, else its description; ``""``
    (as netsh's unnamed interfaces) rather than None, which the sampler would not match."""
    to_luid = getattr(api, "ConvertInterfaceGuidToLuid", None)
    to_alias = getattr(api, "ConvertInterfaceLuidToAlias", None)
    if to_luid is not None and to_alias is not None:
        luid = w.NET_LUID(0)
        alias = (w.WCHAR * (w.IF_MAX_STRING_SIZE + 1))()
        if (
            to_luid(ctypes.byref(iface.guid), ctypes.byref(luid)) == w.ERROR_SUCCESS
            and to_alias(ctypes.byref(luid), alias, len(alias)) == w.ERROR_SUCCESS
        ):
            name = clean_text(w.utf16(alias))
            if name:
                return name
    return clean_text(iface.description) or ""


def _ssid(ssid: w.DOT11_SSID) -> str | None:
    length = ssid.uSSIDLength
    if not 0 < length <= w.DOT11_SSID_MAX_LENGTH:
        return None
    return clean_text(bytes(ssid.ucSSID)[:length].decode("utf-8", errors="replace"), strip=False)


def _mac(octets: bytes) -> str | None:
    if len(octets) != 6 or not any(octets):
        return None
    return ":".join(f"{octet:02x}" for octet in octets)
