"""Windows inventory: the programs people run (with their file versions) and what is plugged in.

**Apps in use** are the distinct executables of processes in interactive sessions: psutil
lists them with ``exe`` and ``username``; the session comes from ``ProcessIdToSessionId``
(:data:`SESSION_OF`, injectable; psutil has no session on Windows). Left out: session 0
(services, whatever account they run as), the service and window-manager accounts that also
run in user sessions (``NT AUTHORITY\\SYSTEM``'s winlogon and csrss, ``Window Manager\\DWM-1``,
``Font Driver Host\\UMFD-1``), processes whose executable cannot be read (protected
processes; an agent running as LocalService may be refused other users' processes
[unverified]: LocalSystem gives the complete list) and the agent itself. The app name is the
file name of the process image as Windows reports it, ``OUTLOOK.EXE``, which is what
Application Error 1000 names as AppName, so a crash and the exposure to it share a key.

**Versions** come from the executables' version resources, looked up once per file and cached
by the caller (key: path, value ``[stamp, version]``, stamp = mtime and size, which an update
changes). All paths not in the cache go to ONE PowerShell call per run (:func:`versions_argv`):
``(Get-Item -LiteralPath $p).VersionInfo`` per path, the paths passed as base64 of UTF-8 JSON
(never as script text: a path may hold quotes, ``$`` or backticks), the answer read by
:func:`dexpulse.agent.parsers.windows_cim.file_versions`. The command line is bounded
(CreateProcess takes 32767 characters), so on a first run with very many programs the paths
that do not fit wait for the next run: they are sent without a version meanwhile and their
version then arrives as a "change" inventory. A lookup that cannot run, or answers nonsense,
is logged and retried next run; the inventory is still sent, without those versions. A file
the lookup could not open (access denied) is cached as versionless until it changes.

**Peripherals**: one PowerShell call (:data:`PERIPHERALS`): ``Win32_PnPSignedDriver`` (name,
setup class, device id, INF, driver version) with the device's driver service and presence
from ``Win32_PnPEntity`` joined in (WMI lists devices that are not plugged in too), filtered
and mapped by :func:`dexpulse.agent.parsers.windows_pnp.signed_drivers`. It fails the run
(NoData or ParseError) rather than returning nothing: an inventory without its peripherals
would tell the collector they were all unplugged.

Cost, per hourly run: one PowerShell start for the peripherals plus one when there are new or
changed executables (~0.3-1 s of CPU each [unverified]); Win32_PnPSignedDriver itself keeps
the WMI provider busy for a second or more [unverified], in WmiPrvSE rather than the agent.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import PureWindowsPath
from typing import Any

import psutil

from dexpulse.schema import InventoryApp, InventoryPeripheral

from ...parsers import ParseError
from ...parsers.windows_cim import file_versions
from ...parsers.windows_pnp import signed_drivers
from ..host import Host, NoData
from ..portable import VersionCache, cached_versions, running_apps
from .powershell import MAX_COMMAND_LINE, b64_json, command_line_length, run_text, script_argv

log = logging.getLogger(__name__)

MAX_APPS = 300
SERVICE_DOMAINS = frozenset({"nt authority", "nt service", "window manager", "font driver host"})

PERIPHERALS = script_argv(
    "$classes = @('USB','HIDClass','Bluetooth','Image','Camera','Media','Printer','Keyboard',"
    "'Mouse','Monitor','Net')",
    "$pnp = @{}",
    "foreach ($e in Get-CimInstance -ClassName Win32_PnPEntity "
    "-Property DeviceID,Service,Present,ConfigManagerErrorCode) { $pnp[[string]$e.DeviceID] "
    "= $e }",
    "$out = @(Get-CimInstance -ClassName Win32_PnPSignedDriver "
    "| Where-Object { $_.DeviceClass -in $classes } "
    "| Select-Object DeviceName,DeviceClass,DeviceID,ClassGuid,InfName,DriverVersion,"
    "@{n='Service';e={ $pnp[[string]$_.DeviceID].Service }},"
    "@{n='Present';e={ $d = $pnp[[string]$_.DeviceID]; [bool]$d -and $d.Present -ne $false "
    "-and $d.ConfigManagerErrorCode -ne 45 }})",
)
"""The exact argv of the peripherals lookup."""


def versions_argv(paths: Sequence[str]) -> tuple[str, ...]:
    """The exact argv of the version lookup of ``paths``."""
    return script_argv(
        "$paths = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String("
        f"'{b64_json(list(paths))}')) | ConvertFrom-Json",
        "$out = @(foreach ($p in $paths) { try { $v = (Get-Item -LiteralPath $p -Force)"
        ".VersionInfo; [ordered]@{Path = $p; Major = $v.FileMajorPart; Minor = $v.FileMinorPart; "
        "Build = $v.FileBuildPart; Private = $v.FilePrivatePart; FileVersion = $v.FileVersion} } "
        "catch { [ordered]@{Path = $p; Error = $_.Exception.GetType().Name} } })",
    )


def _windows_session(pid: int) -> int | None:
    if sys.platform == "win32":
        import ctypes
        from ctypes import wintypes

        session = wintypes.DWORD()
        if ctypes.windll.kernel32.ProcessIdToSessionId(pid, ctypes.byref(session)):
            return int(session.value)
    return None


SESSION_OF: Callable[[int], int | None] = _windows_session
"""pid -> Terminal Services session id, None when it cannot be read."""


def _human(username: Any, session: int | None) -> bool:
    if session == 0:
        return False
    if isinstance(username, str) and username:
        domain = username.split("\\", 1)[0].strip().lower() if "\\" in username else ""
        return domain not in SERVICE_DOMAINS
    return session is not None  # in a user session, owner unreadable: a user's program


def running_executables(
    processes: Iterable[Any] | None = None,
    *,
    session_of: Callable[[int], int | None] | None = None,
    exclude_pid: int | None = None,
) -> list[str]:
    """Sorted distinct executable paths of interactive users' processes, at most MAX_APPS."""
    own = os.getpid() if exclude_pid is None else exclude_pid
    session_of = session_of or SESSION_OF
    if processes is None:
        processes = psutil.process_iter(["exe", "username"])
    exes: set[str] = set()
    for proc in processes:
        if proc.pid == own:
            continue
        exe = proc.info.get("exe")
        if not exe or not isinstance(exe, str) or "\x00" in exe:
            continue  # System, Registry, protected, exited
        if _human(proc.info.get("username"), session_of(proc.pid)):
            exes.add(exe)
    return sorted(exes)[:MAX_APPS]


def _stamp(host: Host, path: str) -> str | None:
    try:
        st = host.path(path).stat()
    except (OSError, ValueError):
        return None
    return f"{st.st_mtime_ns}:{st.st_size}"


def _fitting(paths: Sequence[str]) -> list[str]:
    """The longest prefix of ``paths`` whose lookup command line fits CreateProcess."""
    chosen: list[str] = []
    for path in paths:
        if command_line_length(versions_argv([*chosen, path])) > MAX_COMMAND_LINE:
            break
        chosen.append(path)
    return chosen


def lookup_versions(host: Host, paths: Sequence[str]) -> dict[str, str | None]:
    """Version per path (None: no version resource, or not readable); paths not asked this
    time, or all of them when the lookup could not run, are left out, to be asked again."""
    batch = _fitting(paths)
    if not batch:
        return {}
    try:
        return file_versions(run_text(host, versions_argv(batch), "file versions"))
    except (NoData, ParseError) as why:
        log.warning("file versions of %d programs not read: %s", len(batch), why)
        return {}


def app_versions(host: Host, paths: Sequence[str], cache: VersionCache) -> dict[str, str | None]:
    """Version per path, from ``cache`` when the file is unchanged; the rest in one lookup."""
    return cached_versions(
        paths, cache, lambda path: _stamp(host, path), lambda todo: lookup_versions(host, todo)
    )


def apps_in_use(
    host: Host,
    cache: VersionCache,
    processes: Iterable[Any] | None = None,
    *,
    session_of: Callable[[int], int | None] | None = None,
) -> list[InventoryApp]:
    exes = running_executables(processes, session_of=session_of)
    versions = app_versions(host, exes, cache)
    return running_apps(exes, versions, lambda exe: PureWindowsPath(exe).name)


def peripherals(host: Host) -> list[InventoryPeripheral]:
    """Attached user-facing devices with their drivers (see the module notes)."""
    return signed_drivers(run_text(host, PERIPHERALS, "peripherals"))
