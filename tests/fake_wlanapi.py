"""A fake wlanapi.dll (and the two iphlpapi.dll alias calls) for the Windows Wi-Fi backend.

Every function is a ctypes function pointer built from the module's own PROTOTYPES, so the
reading code's arguments go through the same conversions as with the DLL, and the fake answers
as the DLL does: it allocates real structures, writes them through the out pointers, and
expects each one back in WlanFreeMemory. It records what is still allocated, what was freed
twice or never allocated, and which handles are still open, so a test can assert that a read
leaves nothing behind, whatever path it took.
"""

from __future__ import annotations

import ctypes
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dexpulse.agent.platform._windows import wlanapi as w

HANDLE_VALUE = 0x5EED
ERROR_NOT_SUPPORTED = 50
ERROR_NOT_ENOUGH_MEMORY = 8


@dataclass
class Connection:
    """What WlanQueryInterface(current_connection) answers for an interface."""

    ssid: bytes = b"Office"
    bssid: bytes = bytes.fromhex("fedcba987601")
    phy: int = 10  # dot11_phy_type_he
    signal: int = 76
    rx_kbps: int = 866_700
    tx_kbps: int = 576_000
    auth: int = 7  # RSNA_PSK
    cipher: int = 4  # CCMP
    security_enabled: bool = True
    bss_type: int = 1  # infrastructure
    state: int = 1  # connected
    ssid_length: int | None = None  # what uSSIDLength says, if not len(ssid)


@dataclass
class Bss:
    """One WLAN_BSS_ENTRY of the BSS list."""

    bssid: bytes
    ssid: bytes = b"Office"
    rssi: int = -58
    frequency_khz: int = 5_180_000
    link_quality: int = 84


@dataclass
class Interface:
    guid: uuid.UUID = field(default_factory=uuid.uuid4)
    description: str = "Intel(R) Wi-Fi 6 AX201 160MHz"
    alias: str | None = "Wi-Fi"
    state: int = 1  # wlan_interface_state_connected
    connection: Connection | None = field(default_factory=Connection)
    connection_rc: int = 0
    connection_size: int | None = None  # the size reported, if not the structure's
    channel: int | None = 36
    channel_rc: int = 0
    rssi: int | None = -57
    rssi_rc: int = 0
    bss: list[Bss] = field(default_factory=list)
    bss_rc: int = 0
    bss_items: int | None = None  # dwNumberOfItems, if not len(bss)
    bss_total: int | None = None  # dwTotalSize, if not the size of what was allocated


def make_guid(value: uuid.UUID) -> w.GUID:
    data1, data2, data3 = value.fields[:3]
    return w.GUID(data1, data2, data3, (w.UCHAR * 8)(*value.bytes[8:]))


def write_utf16(address: int, text: str, units: int, *, terminate: bool = True) -> None:
    """``text`` as UTF-16 at ``address``, at most ``units`` code units (NUL included)."""
    data = text.encode("utf-16-le")[: 2 * (units - 1 if terminate else units)]
    ctypes.memmove(address, data + (b"\0\0" if terminate else b""), len(data) + 2 * terminate)


class FakeWlan:
    """The DLL's functions as attributes, answering from ``interfaces``."""

    WlanOpenHandle: Callable[..., int]
    WlanCloseHandle: Callable[..., int]
    WlanEnumInterfaces: Callable[..., int]
    WlanQueryInterface: Callable[..., int]
    WlanGetNetworkBssList: Callable[..., int]
    WlanFreeMemory: Callable[..., None]

    def __init__(self, *interfaces: Interface, aliases: bool = True) -> None:
        self.interfaces = list(interfaces)
        self.open_rc = 0
        self.enum_rc = 0
        self.interface_items: int | None = None  # dwNumberOfItems, if not len(interfaces)
        self.live: dict[int, Any] = {}  # address -> buffer allocated and not yet freed
        self.allocated = 0
        self.bad_frees: list[int] = []
        self.handles: set[int] = set()
        self.closed = 0
        self.calls: list[tuple[str, Any]] = []
        shapes = dict(w.PROTOTYPES)
        if aliases:
            shapes |= w.ALIAS_PROTOTYPES
        for name, (restype, argtypes) in shapes.items():
            implementation: Callable[..., Any] = getattr(self, "_" + name)
            setattr(self, name, ctypes.CFUNCTYPE(restype, *argtypes)(implementation))

    # --- bookkeeping ----------------------------------------------------------------------

    def assert_clean(self) -> None:
        """Every allocation freed exactly once and every handle closed."""
        assert self.live == {}, f"not freed: {sorted(self.live)}"
        assert self.bad_frees == []
        assert self.handles == set()

    def called(self, name: str) -> list[Any]:
        return [detail for called, detail in self.calls if called == name]

    def _allocate(self, size: int) -> int:
        buffer = ctypes.create_string_buffer(size)
        address = ctypes.addressof(buffer)
        self.live[address] = buffer
        self.allocated += 1
        return address

    def _interface(self, guid: Any) -> Interface | None:
        wanted = bytes(guid.contents)
        return next((i for i in self.interfaces if bytes(make_guid(i.guid)) == wanted), None)

    # --- wlanapi.dll ----------------------------------------------------------------------

    def _WlanOpenHandle(self, version: int, reserved: Any, negotiated: Any, handle: Any) -> int:
        self.calls.append(("WlanOpenHandle", version))
        if self.open_rc:
            return self.open_rc
        negotiated[0] = 2
        handle[0] = HANDLE_VALUE
        self.handles.add(HANDLE_VALUE)
        return 0

    def _WlanCloseHandle(self, handle: int, reserved: Any) -> int:
        self.calls.append(("WlanCloseHandle", handle))
        self.closed += 1
        if handle not in self.handles:
            return 6  # ERROR_INVALID_HANDLE
        self.handles.remove(handle)
        return 0

    def _WlanEnumInterfaces(self, handle: int, reserved: Any, out: Any) -> int:
        self.calls.append(("WlanEnumInterfaces", handle))
        assert handle in self.handles
        if self.enum_rc:
            return self.enum_rc
        offset = w.WLAN_INTERFACE_INFO_LIST.InterfaceInfo.offset
        size = ctypes.sizeof(w.WLAN_INTERFACE_INFO)
        address = self._allocate(offset + max(1, len(self.interfaces)) * size)
        head = w.WLAN_INTERFACE_INFO_LIST.from_address(address)
        head.dwNumberOfItems = (
            len(self.interfaces) if self.interface_items is None else self.interface_items
        )
        infos = (w.WLAN_INTERFACE_INFO * len(self.interfaces)).from_address(address + offset)
        text_offset = w.WLAN_INTERFACE_INFO.strInterfaceDescription.offset
        for index, interface in enumerate(self.interfaces):
            infos[index].InterfaceGuid = make_guid(interface.guid)
            text_at = address + offset + index * size + text_offset
            write_utf16(text_at, interface.description, w.WLAN_MAX_NAME_LENGTH, terminate=False)
            infos[index].isState = interface.state
        out[0] = ctypes.cast(address, ctypes.POINTER(w.WLAN_INTERFACE_INFO_LIST))
        return 0

    def _WlanQueryInterface(
        self, handle: int, guid: Any, opcode: int, reserved: Any, size: Any, data: Any, kind: Any
    ) -> int:
        self.calls.append(("WlanQueryInterface", opcode))
        assert handle in self.handles
        interface = self._interface(guid)
        if interface is None:
            return 1168  # ERROR_NOT_FOUND
        if opcode == w.wlan_intf_opcode_current_connection:
            if interface.connection_rc or interface.connection is None:
                return interface.connection_rc or w.ERROR_INVALID_STATE
            address = self._connection(interface.connection)
            answered = interface.connection_size
            size[0] = ctypes.sizeof(w.WLAN_CONNECTION_ATTRIBUTES) if answered is None else answered
        elif opcode in (w.wlan_intf_opcode_channel_number, w.wlan_intf_opcode_rssi):
            rssi = opcode == w.wlan_intf_opcode_rssi
            rc, value = (
                (interface.rssi_rc, interface.rssi)
                if rssi
                else (
                    interface.channel_rc,
                    interface.channel,
                )
            )
            if rc or value is None:
                return rc or ERROR_NOT_SUPPORTED
            number = w.LONG(value) if rssi else w.ULONG(value)
            address = self._allocate(4)
            ctypes.memmove(address, ctypes.addressof(number), 4)
            size[0] = 4
        else:
            return ERROR_NOT_SUPPORTED
        data[0] = address
        if kind:
            kind[0] = 0  # wlan_opcode_value_type_query_only
        return 0

    def _connection(self, connection: Connection) -> int:
        address = self._allocate(ctypes.sizeof(w.WLAN_CONNECTION_ATTRIBUTES))
        attributes = w.WLAN_CONNECTION_ATTRIBUTES.from_address(address)
        attributes.isState = connection.state
        attributes.wlanConnectionMode = 0  # profile
        profile_at = address + w.WLAN_CONNECTION_ATTRIBUTES.strProfileName.offset
        write_utf16(profile_at, connection.ssid.decode("utf-8", "replace"), w.WLAN_MAX_NAME_LENGTH)
        association = attributes.wlanAssociationAttributes
        association.dot11Ssid = _ssid(connection.ssid, connection.ssid_length)
        association.dot11BssType = connection.bss_type
        association.dot11Bssid = (w.UCHAR * 6)(*connection.bssid)
        association.dot11PhyType = connection.phy
        association.uDot11PhyIndex = 0
        association.wlanSignalQuality = connection.signal
        association.ulRxRate = connection.rx_kbps
        association.ulTxRate = connection.tx_kbps
        security = attributes.wlanSecurityAttributes
        security.bSecurityEnabled = int(connection.security_enabled)
        security.bOneXEnabled = 0
        security.dot11AuthAlgorithm = connection.auth
        security.dot11CipherAlgorithm = connection.cipher
        return address

    def _WlanGetNetworkBssList(
        self,
        handle: int,
        guid: Any,
        ssid: Any,
        bss_type: int,
        secure: int,
        reserved: Any,
        out: Any,
    ) -> int:
        wanted = bytes(ssid.contents.ucSSID)[: ssid.contents.uSSIDLength] if ssid else None
        self.calls.append(("WlanGetNetworkBssList", (wanted, bss_type, secure)))
        assert handle in self.handles
        interface = self._interface(guid)
        if interface is None:
            return 1168
        if interface.bss_rc:
            return interface.bss_rc
        entries = [b for b in interface.bss if wanted is None or b.ssid == wanted]
        offset = w.WLAN_BSS_LIST.wlanBssEntries.offset
        size = ctypes.sizeof(w.WLAN_BSS_ENTRY)
        total = offset + len(entries) * size
        address = self._allocate(max(total, ctypes.sizeof(w.WLAN_BSS_LIST)))
        head = w.WLAN_BSS_LIST.from_address(address)
        head.dwTotalSize = total if interface.bss_total is None else interface.bss_total
        head.dwNumberOfItems = len(entries) if interface.bss_items is None else interface.bss_items
        for index, bss in enumerate(entries):
            entry = w.WLAN_BSS_ENTRY.from_address(address + offset + index * size)
            entry.dot11Ssid = _ssid(bss.ssid, None)
            entry.dot11Bssid = (w.UCHAR * 6)(*bss.bssid)
            entry.dot11BssType = 1
            entry.dot11BssPhyType = 10
            entry.lRssi = bss.rssi
            entry.uLinkQuality = bss.link_quality
            entry.bInRegDomain = 1
            entry.usBeaconPeriod = 100
            entry.ulChCenterFrequency = bss.frequency_khz
        out[0] = ctypes.cast(address, ctypes.POINTER(w.WLAN_BSS_LIST))
        return 0

    def _WlanFreeMemory(self, address: int | None) -> None:
        self.calls.append(("WlanFreeMemory", address))
        if address is None or self.live.pop(address, None) is None:
            self.bad_frees.append(address or 0)

    # --- iphlpapi.dll ---------------------------------------------------------------------

    def _ConvertInterfaceGuidToLuid(self, guid: Any, luid: Any) -> int:
        interface = self._interface(guid)
        if interface is None:
            return 87  # ERROR_INVALID_PARAMETER
        luid[0] = 0x47_0000_0000 + self.interfaces.index(interface)  # IfType 71: Wi-Fi
        return 0

    def _ConvertInterfaceLuidToAlias(self, luid: Any, alias: Any, length: int) -> int:
        index = luid[0] - 0x47_0000_0000
        if not 0 <= index < len(self.interfaces) or self.interfaces[index].alias is None:
            return 87
        text = self.interfaces[index].alias or ""
        if len(text) + 1 > length:
            return ERROR_NOT_ENOUGH_MEMORY
        write_utf16(ctypes.cast(alias, ctypes.c_void_p).value or 0, text, length)
        return 0


def _ssid(value: bytes, length: int | None) -> w.DOT11_SSID:
    ssid = w.DOT11_SSID()
    ssid.uSSIDLength = len(value) if length is None else length
    ctypes.memmove(ssid.ucSSID, value[: w.DOT11_SSID_MAX_LENGTH], min(len(value), 32))
    return ssid
