"""Linux inventory: the apps people run (with their package versions) and what is plugged in.

**Apps in use** are the distinct executables of the processes of human users: real uid at least
``UID_MIN`` of ``/etc/login.defs`` (1000) and, where logind runs, a uid with a login session
(``/run/systemd/users/<uid>``), which also admits directory users (SSSD/AD uids are far above
``UID_MAX``) and leaves out rootless-container uids; without logind, ``UID_MIN..UID_MAX`` plus
systemd-homed's 60001-60513. Kernel threads (no executable), ``memfd:`` programs and the agent
itself are skipped. psutil reads ``exe`` and ``uids`` (not ``username``, whose lookup goes to
NSS, i.e. to LDAP/SSSD on corporate laptops, for every process). The app name is the
executable's basename, as in crash reports, so a crash and its exposure share a key.

Versions, looked up once per executable file and cached by the caller (key: path, value:
``[stamp, version]``, stamp = mtime and ctime, which a package upgrade changes):

* ``/snap/<name>/<rev>/...``: ``version:`` of ``/snap/<name>/<rev>/meta/snap.yaml``.
* dpkg (``/var/lib/dpkg/status`` exists): one ``dpkg-query -S <path>...`` for all new paths
  (also asking for ``/bin/x`` when the kernel says ``/usr/bin/x``: on merged-/usr systems dpkg
  still records many files under their old path), then one ``dpkg-query -W`` for all owners.
* RPM (``/var/lib/rpm`` or ``/usr/lib/sysimage/rpm``): ``rpm -qf`` over all new paths; rpm
  prints one line per path in order, so when the line count does not match (a file with two
  owners) each path of that batch is asked alone.

Not covered: Flatpak apps (their ``/app/...`` paths exist only in their namespace; the
runtime's ``/usr/...`` may be misattributed to the host package owning the same path), AppImages
and tarball installs in home directories (no version). A process started before its package was
upgraded is reported with the new version. An hourly look misses short-lived programs.

**Peripherals**: USB devices from ``/sys/bus/usb/devices/<bus>-<port>[.<port>...]`` (root hubs
``usbN`` skipped): ``idVendor``, ``idProduct``, ``manufacturer`` + ``product`` as the name, and
one entry per driver bound to its interfaces (``<dev>:<cfg>.<n>/driver`` links), with the
driver's ``/sys/module/<module>/version`` where the module declares one (most in-tree modules
do not: their version is the kernel's, ``os_build``). A device with no bound driver gives one
entry with ``driver`` None. Serial numbers are never read.

Bluetooth without D-Bus: ``/sys/class/bluetooth`` lists adapters and anonymous ACL links only.
Connected Bluetooth *input* devices (keyboards, mice, pens; classic HID and BLE HoG alike) are
HID devices on bus 0005 in ``/sys/bus/hid/devices/0005:VVVV:PPPP.NNNN`` with ``HID_NAME`` and a
driver: those are listed. Headsets and speakers have no kernel device (audio goes through
BlueZ and PipeWire): listing them needs BlueZ's D-Bus ``org.bluez.Device1.Connected``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import psutil

from dexpulse.schema import InventoryApp, InventoryPeripheral

from ..host import Host, NoData
from ..portable import VersionCache, cached_versions, running_apps

MAX_APPS = 300
MAX_PERIPHERALS = 200
LOOKUP_CHUNK = 100
LOGIN_DEFS = "/etc/login.defs"
LOGIND_USERS = "/run/systemd/users"
HOMED_UIDS = range(60001, 60514)
USB_DEVICES = "/sys/bus/usb/devices"
HID_DEVICES = "/sys/bus/hid/devices"
DPKG_STATUS = "/var/lib/dpkg/status"
RPM_DBS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")


_USB_DEVICE = re.compile(r"^\d+-\d+(?:\.\d+)*$")
_BT_HID = re.compile(r"^0005:(?P<vendor>[0-9A-Fa-f]{4}):(?P<product>[0-9A-Fa-f]{4})\.[0-9A-Fa-f]+$")
_SNAP = re.compile(r"^/snap/(?P<name>[^/]+)/(?P<rev>[^/]+)/")
_SNAP_VERSION = re.compile(r"""^version:\s*['"]?(?P<version>[^'"\n#]+?)['"]?\s*(?:#.*)?$""", re.M)
_USR_ALIAS = re.compile(r"^/usr(?P<rest>/(?:s?bin|lib|lib32|lib64|libx32)/.+)$")
_GLOB = re.compile(r"[*?\[\\]")


# -- apps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HumanUids:
    uid_min: int = 1000
    uid_max: int = 60000
    logged_in: frozenset[int] | None = None
    """uids with a logind session; None where logind is not running."""

    def __contains__(self, uid: object) -> bool:
        if not isinstance(uid, int) or uid < self.uid_min:
            return False
        if self.logged_in is not None:
            return uid in self.logged_in
        return uid <= self.uid_max or uid in HOMED_UIDS


def human_uids(host: Host) -> HumanUids:
    limits = {"UID_MIN": 1000, "UID_MAX": 60000}
    try:
        for line in host.read(LOGIN_DEFS).splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] in limits and parts[1].isdigit():
                limits[parts[0]] = int(parts[1])
    except NoData:
        pass
    try:
        users = host.path(LOGIND_USERS).iterdir()
        logged_in: frozenset[int] | None = frozenset(
            int(entry.name) for entry in users if entry.name.isdigit()
        )
    except OSError:
        logged_in = None
    return HumanUids(limits["UID_MIN"], limits["UID_MAX"], logged_in)


def running_executables(
    host: Host, processes: Iterable[Any] | None = None, *, exclude_pid: int | None = None
) -> list[str]:
    """Sorted distinct executable paths of human users' processes, at most MAX_APPS."""
    humans = human_uids(host)
    own = os.getpid() if exclude_pid is None else exclude_pid
    if processes is None:
        processes = psutil.process_iter(["exe", "uids"])
    exes: set[str] = set()
    for proc in processes:
        if proc.pid == own:
            continue
        exe, uids = proc.info.get("exe"), proc.info.get("uids")
        if not exe or not isinstance(exe, str) or uids is None:
            continue  # kernel thread, exited, or not permitted to look
        if not exe.startswith("/") or exe.startswith("/memfd:") or "\x00" in exe:
            continue
        if uids[0] in humans:  # real uid
            exes.add(exe)
    return sorted(exes)[:MAX_APPS]


def _stamp(host: Host, path: str) -> str | None:
    try:
        st = host.path(path).stat()
    except OSError:
        return None
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}"


def _run_stdout(host: Host, *argv: str) -> str | None:
    """A tool's stdout whatever its exit code (lookups exit 1 when one path is unknown)."""
    try:
        return host.run(argv, host.timeout_s).stdout
    except NoData:
        return None
    except subprocess.TimeoutExpired:
        return None


def _usr_alias(path: str) -> str | None:
    match = _USR_ALIAS.match(path)
    return match["rest"] if match else None


def _dpkg_versions(host: Host, paths: Sequence[str]) -> dict[str, str | None] | None:
    queries = [p for p in paths if not _GLOB.search(p)]
    queries += [a for p in queries if (a := _usr_alias(p)) is not None]
    owners: dict[str, str] = {}
    for start in range(0, len(queries), LOOKUP_CHUNK):
        out = _run_stdout(host, "dpkg-query", "-S", *queries[start : start + LOOKUP_CHUNK])
        if out is None:
            return None
        for line in out.splitlines():
            if line.startswith(("diversion by ", "local diversion ")):
                continue
            packages, sep, path = line.partition(": ")
            if sep and packages:
                owners.setdefault(path.strip(), packages.split(",")[0].strip())
    owner_of = {
        p: owner
        for p in paths
        if (owner := owners.get(p) or owners.get(_usr_alias(p) or "")) is not None
    }
    versions: dict[str, str] = {}
    wanted = sorted(set(owner_of.values()))
    fmt = "${binary:Package}\t${Package}\t${Version}\n"
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        out = _run_stdout(
            host, "dpkg-query", "-W", "-f", fmt, *wanted[start : start + LOOKUP_CHUNK]
        )
        if out is None:
            return None
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) == 3 and fields[2].strip():
                versions.setdefault(fields[0], fields[2].strip())
                versions.setdefault(fields[1], fields[2].strip())
    return {p: versions.get(owner_of[p]) if p in owner_of else None for p in paths}


def _rpm_lines(host: Host, paths: Sequence[str]) -> list[str] | None:
    out = _run_stdout(host, "rpm", "-qf", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n", *paths)
    return None if out is None else [line for line in out.splitlines() if line.strip()]


def _rpm_versions(host: Host, paths: Sequence[str]) -> dict[str, str | None] | None:
    found: dict[str, str | None] = {}
    for start in range(0, len(paths), LOOKUP_CHUNK):
        chunk = paths[start : start + LOOKUP_CHUNK]
        lines = _rpm_lines(host, chunk)
        if lines is None:
            return None
        if len(lines) != len(chunk):  # a path with two owners or an error: one by one
            lines = []
            for path in chunk:
                alone = _rpm_lines(host, [path]) or [""]
                lines.append(alone[0])
        for path, line in zip(chunk, lines, strict=True):
            _, tab, version = line.partition("\t")
            found[path] = (version.strip() or None) if tab else None
    return found


def _snap_version(host: Host, path: str) -> str | None:
    match = _SNAP.match(path)
    if match is None:
        return None
    try:
        meta = host.read(f"/snap/{match['name']}/{match['rev']}/meta/snap.yaml")
    except NoData:
        return None
    version = _SNAP_VERSION.search(meta)
    return version["version"].strip() if version else None


def lookup_versions(host: Host, paths: Sequence[str]) -> dict[str, str | None]:
    """Package version per path (None: owned by no package); paths whose lookup could not run
    (package tool missing or timed out) are left out, to be asked again next time."""
    found: dict[str, str | None] = {p: _snap_version(host, p) for p in paths if _SNAP.match(p)}
    rest = [p for p in paths if p not in found]
    if not rest:
        return found
    if host.path(DPKG_STATUS).is_file():
        packaged = _dpkg_versions(host, rest)
    elif any(host.path(db).is_dir() for db in RPM_DBS):
        packaged = _rpm_versions(host, rest)
    else:
        packaged = dict.fromkeys(rest)  # no package manager we know: no versions, cache that
    return {**found, **(packaged or {})}


def app_versions(host: Host, paths: Sequence[str], cache: VersionCache) -> dict[str, str | None]:
    """Version per path, from ``cache`` when the file is unchanged; the rest in one lookup."""
    return cached_versions(
        paths, cache, lambda path: _stamp(host, path), lambda todo: lookup_versions(host, todo)
    )


def apps_in_use(
    host: Host, cache: VersionCache, processes: Iterable[Any] | None = None
) -> list[InventoryApp]:
    exes = running_executables(host, processes)
    versions = app_versions(host, exes, cache)
    return running_apps(exes, versions, lambda exe: PurePosixPath(exe).name)


# -- peripherals -----------------------------------------------------------------------------


def _attr(host: Host, path: str) -> str | None:
    try:
        value = host.read(path).replace("\x00", "").strip()
    except NoData:
        return None
    return value[:256] or None


def _link_name(host: Host, path: str) -> str | None:
    try:
        return PurePosixPath(os.readlink(host.path(path))).name or None
    except OSError:
        return None


def _hex4(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower().removeprefix("0x")
    return value if re.fullmatch(r"[0-9a-f]{4}", value) else None


def _listdir(host: Host, path: str) -> list[str]:
    try:
        return sorted(entry.name for entry in host.path(path).iterdir())
    except OSError:
        return []


class _DriverVersions:
    """``/sys/module/<module>/version`` per driver, read once per inventory."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.known: dict[tuple[str, str], str | None] = {}

    def __call__(self, bus: str, driver: str | None) -> str | None:
        if driver is None:
            return None
        if (bus, driver) not in self.known:
            module = _link_name(self.host, f"/sys/bus/{bus}/drivers/{driver}/module")
            module = module or driver.replace("-", "_")
            self.known[bus, driver] = _attr(self.host, f"/sys/module/{module}/version")
        return self.known[bus, driver]


def _usb_name(manufacturer: str | None, product: str | None) -> str | None:
    if manufacturer and product and manufacturer.lower() not in product.lower():
        return f"{manufacturer} {product}"[:256]
    return product or manufacturer


def usb_peripherals(host: Host, versions: _DriverVersions) -> list[InventoryPeripheral]:
    entries = _listdir(host, USB_DEVICES)
    drivers: dict[str, set[str]] = {}
    for entry in entries:
        device, colon, _ = entry.partition(":")
        if colon and (driver := _link_name(host, f"{USB_DEVICES}/{entry}/driver")):
            drivers.setdefault(device, set()).add(driver)
    out: list[InventoryPeripheral] = []
    for device in (entry for entry in entries if _USB_DEVICE.match(entry)):
        base = f"{USB_DEVICES}/{device}"
        name = _usb_name(_attr(host, f"{base}/manufacturer"), _attr(host, f"{base}/product"))
        vendor, product = (
            _hex4(_attr(host, f"{base}/idVendor")),
            _hex4(_attr(host, f"{base}/idProduct")),
        )
        bound: list[str | None] = [*sorted(drivers.get(device, ()))] or [None]
        out += [
            InventoryPeripheral(
                device_class="usb",
                name=name,
                vendor_id=vendor,
                product_id=product,
                driver=driver,
                driver_version=versions("usb", driver),
            )
            for driver in bound
        ]
    return out


def bluetooth_peripherals(host: Host, versions: _DriverVersions) -> list[InventoryPeripheral]:
    out: list[InventoryPeripheral] = []
    for entry in _listdir(host, HID_DEVICES):
        match = _BT_HID.match(entry)
        if match is None:
            continue
        fields: dict[str, str] = {}
        try:
            for line in host.read(f"{HID_DEVICES}/{entry}/uevent").splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    fields[key.strip()] = value.replace("\x00", "").strip()
        except NoData:
            pass
        driver = _link_name(host, f"{HID_DEVICES}/{entry}/driver") or fields.get("DRIVER") or None
        out.append(
            InventoryPeripheral(
                device_class="bluetooth",
                name=fields.get("HID_NAME", "")[:256] or None,
                vendor_id=match["vendor"].lower(),
                product_id=match["product"].lower(),
                driver=driver,
                driver_version=versions("hid", driver),
            )
        )
    return out


def peripherals(host: Host) -> list[InventoryPeripheral]:
    """USB devices and connected Bluetooth input devices, distinct and sorted."""
    versions = _DriverVersions(host)
    found = usb_peripherals(host, versions) + bluetooth_peripherals(host, versions)
    distinct = {item.model_dump_json(): item for item in found}
    return [distinct[key] for key in sorted(distinct)][:MAX_PERIPHERALS]
