"""Linux backend: device facts from DMI and os-release; one module per area beside this."""

from __future__ import annotations

import platform
import socket

from ..host import Host, NoData

OS_NAME = "linux"


def _first_line(host: Host, path: str) -> str | None:
    try:
        return host.read(path).strip() or None
    except NoData:
        return None


def os_release(host: Host) -> dict[str, str]:
    try:
        text = host.read("/etc/os-release")
    except NoData:
        return {}
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


def device_facts(host: Host) -> dict[str, str | None]:
    """hostname, os_version, os_build, model, manufacturer of this machine."""
    release = os_release(host)
    return {
        "hostname": socket.gethostname(),
        "os_version": release.get("PRETTY_NAME") or release.get("VERSION_ID"),
        "os_build": platform.release(),  # the kernel release, as uname -r
        "model": _first_line(host, "/sys/class/dmi/id/product_name"),
        "manufacturer": _first_line(host, "/sys/class/dmi/id/sys_vendor"),
    }
