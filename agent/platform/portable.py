"""What every backend shares: facts any OS can give through the standard library (the floor
for every backend), and the shape of the running-apps inventory."""

from __future__ import annotations

import platform
import socket
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence

from dexpulse.schema import InventoryApp

from .host import Host

VersionCache = MutableMapping[str, list[str | None]]
"""exe path -> [stamp, version or None]; hits are moved to the end (least recent first)."""


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


def cached_versions(
    paths: Sequence[str],
    cache: VersionCache,
    stamp: Callable[[str], str | None],
    lookup: Callable[[list[str]], Mapping[str, str | None]],
) -> dict[str, str | None]:
    """Version per path: from ``cache`` while the file's ``stamp`` is unchanged, the rest
    through one ``lookup`` of all of them (a package query, a PowerShell call). A path without
    a stamp (not visible from here) has no version; a path the lookup left out (it could not
    run) is not cached, so it is asked again next time."""
    result: dict[str, str | None] = {}
    todo: dict[str, str] = {}
    for path in paths:
        mark = stamp(path)
        if mark is None:
            result[path] = None
            continue
        hit = cache.pop(path, None)
        if hit is not None and hit[0] == mark:
            cache[path] = hit
            result[path] = hit[1]
        else:
            todo[path] = mark
    found = lookup(list(todo)) if todo else {}
    for path, mark in todo.items():
        version = (found.get(path) or "")[:256] or None
        if path in found:
            cache[path] = [mark, version]
        result[path] = version
    return result
