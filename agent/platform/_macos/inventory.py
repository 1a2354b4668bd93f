"""macOS inventory: the apps people run (with their bundle versions) and what is plugged in.

**Apps in use** are the distinct executables of the processes of human users: real uid at least
501 (the first account macOS creates; system accounts and daemons are below, ``nobody`` is
-2, i.e. 4294967294) and below 2**31 (directory accounts have large uids). The agent itself
and processes without a readable executable are skipped. psutil reads ``exe`` and ``uids``
(no user-name lookups, which would go to the directory service).

The app name is the executable's basename, i.e. the process name that crash and hang reports
use (``Command:``, the ``.ips`` header's ``app_name``), so a crash and its exposure share a key
(``Google Chrome Helper (Renderer)``, not the bundle's display name). The version comes from
the bundle that encloses the executable:

* ``<bundle>.app|.appex|.xpc/Contents/MacOS/<exe>`` (the macOS layout): the bundle's
  ``Contents/Info.plist``;
* ``<bundle>.app/<exe>`` (iOS apps on Apple silicon, e.g. ``.../Wrapper/Transit.app/Transit``):
  ``<bundle>.app/Info.plist``.

``CFBundleShortVersionString`` (the marketing version, "131.0.6778.86") else
``CFBundleVersion``, read with the standard library's plistlib (XML and binary plists). A plist
over :data:`MAX_PLIST_BYTES` or unreadable gives None. Executables outside a bundle
(``/usr/bin/ssh``, Homebrew, ``/usr/libexec/*``) keep their basename with version None.

Versions are cached by the caller per executable path as ``[stamp, version]``, the stamp being
the plist's mtime and ctime (an app update rewrites it), so a plist is read once, not hourly.
More than :data:`MAX_APPS` executables: those under ``/System`` go last (Apple's own, whose
version is the OS's).

**Peripherals**: :func:`...parsers.macos_system_profiler.parse_system_profiler_usb` over
``system_profiler SPUSBDataType -json``, and when that lists no device (macOS 26 dropped the
data type), over ``SPUSBHostDataType``; connected Bluetooth devices from
``system_profiler SPBluetoothDataType -json``. A call can take a second or more; the inventory
runs hourly. A call that fails or times out makes the whole peripheral list NoData for this
run (asked again next run) rather than a shorter list that would read as a change; output
that is not the expected JSON (a format change) is logged and that source left out.
"""

from __future__ import annotations

import logging
import os
import plistlib
import struct
import subprocess
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any
from xml.parsers.expat import ExpatError

import psutil

from dexpulse.schema import InventoryApp, InventoryPeripheral

from ...parsers import ParseError
from ...parsers.macos_system_profiler import (
    parse_system_profiler_bluetooth,
    parse_system_profiler_usb,
)
from ..host import Host, NoData
from ..portable import VersionCache, running_apps

log = logging.getLogger(__name__)

MAX_APPS = 300
MAX_PERIPHERALS = 200
MAX_PLIST_BYTES = 1024 * 1024
FIRST_HUMAN_UID = 501
SP_USB = ("system_profiler", "SPUSBDataType", "-json")
SP_USB_HOST = ("system_profiler", "SPUSBHostDataType", "-json")
SP_BLUETOOTH = ("system_profiler", "SPBluetoothDataType", "-json")
BUNDLE_SUFFIXES = (".app", ".appex", ".xpc")


_PLIST_ERRORS = (
    plistlib.InvalidFileException, ValueError, ExpatError, struct.error, IndexError, KeyError,
    TypeError, OverflowError, RecursionError, EOFError,
)  # fmt: skip


# -- apps ------------------------------------------------------------------------------------


def is_human(uid: object) -> bool:
    return isinstance(uid, int) and FIRST_HUMAN_UID <= uid < 2**31


def running_executables(
    processes: Iterable[Any] | None = None, *, exclude_pid: int | None = None
) -> list[str]:
    """Distinct executable paths of human users' processes, at most MAX_APPS."""
    own = os.getpid() if exclude_pid is None else exclude_pid
    if processes is None:
        processes = psutil.process_iter(["exe", "uids"])
    exes: set[str] = set()
    for proc in processes:
        if proc.pid == own:
            continue
        exe, uids = proc.info.get("exe"), proc.info.get("uids")
        if not exe or not isinstance(exe, str) or not exe.startswith("/") or "\x00" in exe:
            continue  # exited, or not permitted to look
        if uids is not None and is_human(uids[0]):  # real uid
            exes.add(exe)
    return sorted(exes, key=lambda p: (p.startswith("/System/"), p))[:MAX_APPS]


def info_plist(exe: str) -> str | None:
    """The Info.plist of the bundle that encloses ``exe``; None outside a bundle."""
    path = PurePosixPath(exe)
    parents = path.parents
    if len(parents) >= 3 and parents[0].name == "MacOS" and parents[1].name == "Contents":
        if parents[2].name.endswith(BUNDLE_SUFFIXES):
            return str(parents[1] / "Info.plist")
    if len(parents) >= 1 and parents[0].name.endswith(".app"):
        return str(parents[0] / "Info.plist")
    return None


def bundle_version(data: bytes) -> str | None:
    """``CFBundleShortVersionString``, else ``CFBundleVersion``, of a plist's bytes."""
    try:
        plist = plistlib.loads(data)
    except _PLIST_ERRORS:
        return None
    if not isinstance(plist, dict):
        return None
    for key in ("CFBundleShortVersionString", "CFBundleVersion"):
        value = plist.get(key)
        if isinstance(value, str) and value.strip():
            return value.replace("\x00", "").strip()[:256]
    return None


def _stamp(host: Host, path: str) -> str | None:
    try:
        st = host.path(path).stat()
    except OSError:
        return None
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}"


def _read_version(host: Host, plist: str) -> str | None:
    try:
        with host.path(plist).open("rb") as handle:
            data = handle.read(MAX_PLIST_BYTES + 1)
    except OSError:
        return None
    return None if len(data) > MAX_PLIST_BYTES else bundle_version(data)


def app_versions(host: Host, exes: list[str], cache: VersionCache) -> dict[str, str | None]:
    """Bundle version per executable, from ``cache`` while its Info.plist is unchanged."""
    result: dict[str, str | None] = {}
    for exe in exes:
        plist = info_plist(exe)
        stamp = _stamp(host, plist) if plist else None
        if plist is None or stamp is None:
            result[exe] = None  # not in a bundle, or a bundle without a readable plist
            continue
        hit = cache.pop(exe, None)
        if hit is None or hit[0] != stamp:
            hit = [stamp, _read_version(host, plist)]
        cache[exe] = hit
        result[exe] = hit[1]
    return result


def apps_in_use(
    host: Host, cache: VersionCache, processes: Iterable[Any] | None = None
) -> list[InventoryApp]:
    exes = running_executables(processes)
    versions = app_versions(host, exes, cache)
    return running_apps(exes, versions, lambda exe: PurePosixPath(exe).name)


# -- peripherals -----------------------------------------------------------------------------


def _profile(host: Host, argv: tuple[str, ...]) -> str:
    """system_profiler's JSON; NoData when it fails or does not answer in time."""
    try:
        return host.command(*argv)
    except subprocess.TimeoutExpired:
        raise NoData(f"{' '.join(argv)} timed out") from None


def usb_peripherals(host: Host) -> list[InventoryPeripheral]:
    """USB devices from SPUSBDataType, else SPUSBHostDataType; NoData if neither answers
    (failed, timed out or printed nothing)."""
    answered = False
    for argv in (SP_USB, SP_USB_HOST):
        try:
            text = _profile(host, argv)
        except NoData as why:
            log.debug("%s", why)
            continue
        if not text.strip():
            continue  # the data type does not exist on this release
        answered = True
        try:
            found = parse_system_profiler_usb(text)
        except ParseError as exc:
            log.warning("%s: %s", argv[1], exc)
            continue
        if found:
            return found
    if not answered:
        raise NoData("system_profiler lists no USB data type")
    return []


def bluetooth_peripherals(host: Host) -> list[InventoryPeripheral]:
    text = _profile(host, SP_BLUETOOTH)
    try:
        return parse_system_profiler_bluetooth(text)
    except ParseError as exc:
        log.warning("SPBluetoothDataType: %s", exc)
        return []


def peripherals(host: Host) -> list[InventoryPeripheral]:
    """USB devices and connected Bluetooth devices, distinct and sorted."""
    found = usb_peripherals(host) + bluetooth_peripherals(host)
    distinct = {item.model_dump_json(): item for item in found}
    return [distinct[key] for key in sorted(distinct)][:MAX_PERIPHERALS]
