"""The Native Wifi API (wlanapi.dll) as ctypes sees it: types, structures, constants, prototypes.

Only the layouts and the loading live here; :mod:`.nativewifi` holds the reading code, which
takes the API as an object (:class:`WlanApi`) so that tests hand it a fake with the same C
calling shapes (built from PROTOTYPES).

Layouts follow the SDK headers as Microsoft documents them (wlanapi.h, wlantypes.h, windot11.h).
Every Windows integer type is spelled with its fixed width: ``ctypes.wintypes.LONG``/``ULONG``
are C ``long``, 8 bytes on Linux, and ``c_wchar`` is 4 bytes there, so the Windows sizes hold
on every platform and the tests on Linux check the real offsets. Strings are WCHAR arrays read
as UTF-16. Sizes (x86 and x64 alike: no member is a pointer): WLAN_INTERFACE_INFO 532,
WLAN_ASSOCIATION_ATTRIBUTES 68, WLAN_SECURITY_ATTRIBUTES 16, WLAN_CONNECTION_ATTRIBUTES 604,
WLAN_BSS_ENTRY 360 (8-aligned: two ULONGLONG timestamps), entries of WLAN_BSS_LIST from offset 8.

wlanapi.dll is loaded only on Windows, by :func:`load`; importing this module loads nothing.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Protocol, cast

DWORD = ctypes.c_uint32
ULONG = ctypes.c_uint32
LONG = ctypes.c_int32
BOOL = ctypes.c_int32
BOOLEAN = ctypes.c_uint8
UCHAR = ctypes.c_uint8
USHORT = ctypes.c_uint16
ULONGLONG = ctypes.c_uint64
WCHAR = ctypes.c_uint16  # one UTF-16 code unit, as on Windows
ENUM = ctypes.c_uint32  # C enums are int-sized; some have values up to 0xffffffff
HANDLE = ctypes.c_void_p
NET_LUID = ctypes.c_uint64  # a union whose whole value is one ULONG64

WLAN_MAX_NAME_LENGTH = 256
DOT11_SSID_MAX_LENGTH = 32
DOT11_RATE_SET_MAX_LENGTH = 126
IF_MAX_STRING_SIZE = 256  # NDIS_IF_MAX_STRING_SIZE: an interface alias without its NUL

WLAN_CLIENT_VERSION_VISTA = 2
wlan_intf_opcode_current_connection = 7
wlan_intf_opcode_channel_number = 8
wlan_intf_opcode_rssi = 0x10000102  # msm_start 0x10000100, statistics +1, rssi +2
dot11_BSS_type_infrastructure = 1
dot11_BSS_type_independent = 2
dot11_BSS_type_any = 3

wlan_interface_state_connected = 1
wlan_interface_state_ad_hoc_network_formed = 2
CONNECTED_STATES = frozenset(
    {wlan_interface_state_connected, wlan_interface_state_ad_hoc_network_formed}
)

ERROR_SUCCESS = 0
ERROR_ACCESS_DENIED = 5
ERROR_SERVICE_NOT_ACTIVE = 1062
ERROR_NOT_FOUND = 1168
ERROR_INVALID_STATE = 5023

PHY_TYPES = {
    4: "802.11a",  # ofdm
    5: "802.11b",  # hrdsss
    6: "802.11g",  # erp
    7: "802.11n",  # ht
    8: "802.11ac",  # vht
    9: "802.11ad",  # dmg
    10: "802.11ax",  # he
    11: "802.11be",  # eht
}
"""DOT11_PHY_TYPE -> the name netsh prints as "Radio type"."""

AUTH_ALGORITHMS = {
    1: "Open",  # DOT11_AUTH_ALGO_80211_OPEN
    2: "Shared",  # 80211_SHARED_KEY (WEP)
    3: "WPA-Enterprise",  # WPA
    4: "WPA-Personal",  # WPA_PSK
    5: "WPA-None",  # WPA_NONE
    6: "WPA2-Enterprise",  # RSNA
    7: "WPA2-Personal",  # RSNA_PSK
    8: "WPA3-Enterprise 192-bit",  # WPA3 = WPA3_ENT_192
    9: "WPA3-Personal",  # WPA3_SAE
    10: "OWE",  # opportunistic wireless encryption ("Enhanced Open")
    11: "WPA3-Enterprise",  # WPA3_ENT
}
"""DOT11_AUTH_ALGORITHM -> the wording of netsh's "Authentication" (vendor values: none)."""


class GUID(ctypes.Structure):
    _fields_ = [("Data1", DWORD), ("Data2", USHORT), ("Data3", USHORT), ("Data4", UCHAR * 8)]


class DOT11_SSID(ctypes.Structure):
    _fields_ = [("uSSIDLength", ULONG), ("ucSSID", UCHAR * DOT11_SSID_MAX_LENGTH)]


DOT11_MAC_ADDRESS = UCHAR * 6


class WLAN_INTERFACE_INFO(ctypes.Structure):
    _fields_ = [
        ("InterfaceGuid", GUID),
        ("strInterfaceDescription", WCHAR * WLAN_MAX_NAME_LENGTH),
        ("isState", ENUM),  # WLAN_INTERFACE_STATE
    ]


class WLAN_INTERFACE_INFO_LIST(ctypes.Structure):
    _fields_ = [
        ("dwNumberOfItems", DWORD),
        ("dwIndex", DWORD),
        ("InterfaceInfo", WLAN_INTERFACE_INFO * 1),  # really dwNumberOfItems entries
    ]


class WLAN_ASSOCIATION_ATTRIBUTES(ctypes.Structure):
    _fields_ = [
        ("dot11Ssid", DOT11_SSID),
        ("dot11BssType", ENUM),
        ("dot11Bssid", DOT11_MAC_ADDRESS),
        ("dot11PhyType", ENUM),
        ("uDot11PhyIndex", ULONG),
        ("wlanSignalQuality", ULONG),  # 0..100, linear from -100 dBm to -50 dBm
        ("ulRxRate", ULONG),  # kbit/s
        ("ulTxRate", ULONG),
    ]


class WLAN_SECURITY_ATTRIBUTES(ctypes.Structure):
    _fields_ = [
        ("bSecurityEnabled", BOOL),
        ("bOneXEnabled", BOOL),
        ("dot11AuthAlgorithm", ENUM),
        ("dot11CipherAlgorithm", ENUM),
    ]


class WLAN_CONNECTION_ATTRIBUTES(ctypes.Structure):
    _fields_ = [
        ("isState", ENUM),
        ("wlanConnectionMode", ENUM),
        ("strProfileName", WCHAR * WLAN_MAX_NAME_LENGTH),
        ("wlanAssociationAttributes", WLAN_ASSOCIATION_ATTRIBUTES),
        ("wlanSecurityAttributes", WLAN_SECURITY_ATTRIBUTES),
    ]


class WLAN_RATE_SET(ctypes.Structure):
    _fields_ = [("uRateSetLength", ULONG), ("usRateSet", USHORT * DOT11_RATE_SET_MAX_LENGTH)]


class WLAN_BSS_ENTRY(ctypes.Structure):
    _fields_ = [
        ("dot11Ssid", DOT11_SSID),
        ("uPhyId", ULONG),
        ("dot11Bssid", DOT11_MAC_ADDRESS),
        ("dot11BssType", ENUM),
        ("dot11BssPhyType", ENUM),
        ("lRssi", LONG),  # dBm
        ("uLinkQuality", ULONG),
        ("bInRegDomain", BOOLEAN),
        ("usBeaconPeriod", USHORT),
        ("ullTimestamp", ULONGLONG),
        ("ullHostTimestamp", ULONGLONG),
        ("usCapabilityInformation", USHORT),
        ("ulChCenterFrequency", ULONG),  # kHz
        ("wlanRateSet", WLAN_RATE_SET),
        ("ulIeOffset", ULONG),
        ("ulIeSize", ULONG),
    ]


class WLAN_BSS_LIST(ctypes.Structure):
    _fields_ = [
        ("dwTotalSize", DWORD),  # bytes, header included
        ("dwNumberOfItems", DWORD),
        ("wlanBssEntries", WLAN_BSS_ENTRY * 1),  # really dwNumberOfItems entries
    ]


P = ctypes.POINTER
PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "WlanOpenHandle": (DWORD, [DWORD, ctypes.c_void_p, P(DWORD), P(HANDLE)]),
    "WlanCloseHandle": (DWORD, [HANDLE, ctypes.c_void_p]),
    "WlanEnumInterfaces": (DWORD, [HANDLE, ctypes.c_void_p, P(P(WLAN_INTERFACE_INFO_LIST))]),
    "WlanQueryInterface": (
        DWORD,
        [HANDLE, P(GUID), ENUM, ctypes.c_void_p, P(DWORD), P(ctypes.c_void_p), P(ENUM)],
    ),
    "WlanGetNetworkBssList": (
        DWORD,
        [HANDLE, P(GUID), P(DOT11_SSID), ENUM, BOOL, ctypes.c_void_p, P(P(WLAN_BSS_LIST))],
    ),
    "WlanFreeMemory": (None, [ctypes.c_void_p]),
}
"""wlanapi.dll: name -> (restype, argtypes), for the DLL and for fakes alike."""

ALIAS_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "ConvertInterfaceGuidToLuid": (DWORD, [P(GUID), P(NET_LUID)]),
    "ConvertInterfaceLuidToAlias": (DWORD, [P(NET_LUID), P(WCHAR), ctypes.c_size_t]),
}
"""iphlpapi.dll: the interface's alias ("Wi-Fi", netsh's Name) from its GUID."""


class WlanApi(Protocol):
    """The functions :mod:`.nativewifi` calls, with the DLL's C signatures (see PROTOTYPES).

    An object may also offer the two ALIAS_PROTOTYPES functions; without them interfaces are
    labelled by their description.
    """

    def WlanOpenHandle(self, *args: Any) -> int: ...
    def WlanCloseHandle(self, *args: Any) -> int: ...
    def WlanEnumInterfaces(self, *args: Any) -> int: ...
    def WlanQueryInterface(self, *args: Any) -> int: ...
    def WlanGetNetworkBssList(self, *args: Any) -> int: ...
    def WlanFreeMemory(self, *args: Any) -> object: ...


LOAD_LIBRARY_SEARCH_SYSTEM32 = 0x800
"""LoadLibraryEx flag: System32 only, so no DLL of that name beside python.exe is picked up."""


class _Functions:
    """The bound DLL functions under their C names."""

    def __init__(self, functions: dict[str, Any]) -> None:
        self.__dict__.update(functions)


def load() -> WlanApi | None:
    """The API from wlanapi.dll (and the alias functions from iphlpapi.dll); None where there
    is no such DLL: not Windows, or a Server without the Wireless LAN Service feature."""
    if sys.platform != "win32":
        return None
    try:
        wlan = ctypes.WinDLL("wlanapi.dll", winmode=LOAD_LIBRARY_SEARCH_SYSTEM32)
    except OSError:
        return None
    functions = {name: _bind(wlan, name, shape) for name, shape in PROTOTYPES.items()}
    try:
        iphlp = ctypes.WinDLL("iphlpapi.dll", winmode=LOAD_LIBRARY_SEARCH_SYSTEM32)
        functions |= {name: _bind(iphlp, name, shape) for name, shape in ALIAS_PROTOTYPES.items()}
    except (OSError, AttributeError):
        pass  # labels fall back to the description
    return cast(WlanApi, _Functions(functions))


def _bind(dll: Any, name: str, shape: tuple[Any, list[Any]]) -> Any:
    function = getattr(dll, name)
    function.restype, function.argtypes = shape
    return function


def utf16(units: Any) -> str:
    """The text of a WCHAR array, up to its first NUL (the whole array if it has none)."""
    raw = bytes(units)
    end = next((i for i in range(0, len(raw), 2) if raw[i : i + 2] == b"\0\0"), len(raw))
    return raw[:end].decode("utf-16-le", errors="replace")
