"""Windows backend: device facts from WMI and the registry; one module per area beside this
(wifi, crashes, hangs, peripherals, boot, battery, inventory).

:func:`device_facts` runs one PowerShell call (:data:`FACTS`, once at agent start):
``Win32_ComputerSystem`` Manufacturer and Model, ``Win32_OperatingSystem`` Caption, and
``HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion`` DisplayVersion, ReleaseId,
CurrentBuild and UBR, read by :func:`dexpulse.agent.parsers.windows_cim.device_facts`:
``os_version`` "Windows 11 Pro 23H2", ``os_build`` "22631.4460", ``model`` "Latitude 7440",
``manufacturer`` "Dell Inc.". (Lenovo puts the machine type, "20XW0055GE", in Model; the
marketing name is elsewhere and not read.) Whatever cannot be read keeps the portable facts
(``platform.release()``/``platform.version()``): the agent must start regardless.

The facts, boot, battery, inventory and device-problem readings go through PowerShell
(:mod:`.powershell`); their one Windows-only import (``ctypes.windll`` for a process's
session, in :mod:`.inventory`) sits in a function guarded by ``sys.platform``, so they import,
and are tested, on Linux.
"""

from __future__ import annotations

import logging

from ...parsers import ParseError
from ...parsers.windows_cim import device_facts as parse_facts
from ..host import Host, NoData
from ..portable import portable_facts
from .powershell import run_text, script_argv

log = logging.getLogger(__name__)

OS_NAME = "windows"
FACTS = script_argv(
    "$cs = Get-CimInstance -ClassName Win32_ComputerSystem -Property Manufacturer,Model",
    "$os = Get-CimInstance -ClassName Win32_OperatingSystem -Property Caption",
    "$cv = Get-ItemProperty -LiteralPath 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion'",
    "$out = [ordered]@{Manufacturer = $cs.Manufacturer; Model = $cs.Model; "
    "Caption = $os.Caption; DisplayVersion = $cv.DisplayVersion; ReleaseId = $cv.ReleaseId; "
    "CurrentBuild = $cv.CurrentBuild; UBR = $cv.UBR}",
)
"""The exact argv of the facts lookup."""


def device_facts(host: Host) -> dict[str, str | None]:
    """hostname, os_version, os_build, model, manufacturer; portable facts where WMI is silent."""
    facts = portable_facts(host)
    try:
        found = parse_facts(run_text(host, FACTS, "device facts"))
    except (NoData, ParseError) as why:
        log.warning("device facts from WMI unavailable, using the portable ones: %s", why)
        return facts
    facts.update({key: value for key, value in found.items() if value is not None})
    return facts
