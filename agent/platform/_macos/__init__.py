"""macOS backend: device facts from ``sw_vers`` and ``sysctl hw.model``; one module per area
beside this (wifi, crashes, hangs, peripherals, battery, boot, inventory)."""

from __future__ import annotations

from ..host import Host, NoData
from ..portable import portable_facts

OS_NAME = "macos"

SW_VERS = ("sw_vers",)
HW_MODEL = ("sysctl", "-n", "hw.model")


def _sw_vers(host: Host) -> dict[str, str]:
    """``ProductName: macOS`` / ``ProductVersion: 15.5`` / ``BuildVersion: 24F74`` lines."""
    try:
        text = host.command(*SW_VERS)
    except NoData:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip():
            out[key.strip()] = value.strip()
    return out


def device_facts(host: Host) -> dict[str, str | None]:
    """hostname, os_version ("macOS 15.5"), os_build ("24F74"), model ("Mac15,3"),
    manufacturer ("Apple"); the portable facts where a tool does not answer."""
    facts = portable_facts(host)
    release = _sw_vers(host)
    if version := release.get("ProductVersion"):
        facts["os_version"] = f"{release.get('ProductName', 'macOS')} {version}"
    if build := release.get("BuildVersion"):
        facts["os_build"] = build
    try:
        model = host.command(*HW_MODEL).strip()
    except NoData:
        model = ""
    if model:
        facts["model"] = model[:128]
        facts["manufacturer"] = "Apple"
    return facts
