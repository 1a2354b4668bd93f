"""What every backend shares: facts any OS can give through the standard library (the floor
for every backend), and the shape of the running-apps inventory."""

from __future__ import annotations

import platform
import socket
from collections.abc import Callable, Iterable, Mapping

from dexpulse.schema import InventoryApp

from .host import Host


def portable_facts(host: Host) -> dict[str, str | None]:
    del host
    return {
        "hostname": socket.gethostname(),
        "os_version": platform.release() or None,
        "os_build": platform.version() or None,
        "model": None,
        "manufacturer": None,
    }


def running_apps(
    exes: Iterable[str], versions: Mapping[str, str | None], file_name: Callable[[str], str]
) -> list[InventoryApp]:
    """One entry per distinct (name, version) of the running executables ``exes``, sorted.

    The name is the executable's file name (``file_name`` splits the OS's paths), the key crash
    reports use too, so a crash and the exposure to it meet; ``versions`` is the per-path
    lookup of the OS backend (missing or empty: no version)."""
    apps = {
        (file_name(exe)[:256] or exe[:256], (versions.get(exe) or "")[:256] or None) for exe in exes
    }
    return [
        InventoryApp(name=name, version=version, running=True)
        for name, version in sorted(apps, key=lambda app: (app[0], app[1] or ""))
    ]
