"""Windows battery: charge and status from Win32_Battery, wear from the battery driver's WMI.

One PowerShell call (:data:`BATTERY`, daily by default) prints, as one JSON object:

* ``Battery``: ``Win32_Battery`` DeviceID, EstimatedChargeRemaining, BatteryStatus (any
  user may read it);
* ``Static``, ``Full``, ``Cycles``, ``Status``: the battery class driver's ``root\\wmi``
  classes BatteryStaticData (DesignedCapacity, Capabilities), BatteryFullChargedCapacity
  (FullChargedCapacity), BatteryCycleCount (CycleCount) and BatteryStatus (PowerOnline,
  Charging, Discharging), each keyed by InstanceName (the reference's source:
  ``Get-MyLaptopBatteryStatus.ps1``; the struct: BATTERY_WMI_STATIC_DATA). Each is read in
  its own ``try``: a class that is missing (some firmwares have no cycle count) or refused
  (these classes may need administrator rights) is an empty list, and the sample is sent
  without what it would have given.

Every list is wrapped in ``@(...)`` and is a property value, so it stays a JSON array even
with one battery; the parser still takes a bare object (see
:mod:`dexpulse.agent.parsers.ps_json`). Reading and joining:
:func:`dexpulse.agent.parsers.windows_cim.battery_samples`. No Win32_Battery item (a desktop,
a VM): NoData. PowerShell unavailable: NoData. An answer that is not the expected JSON:
ParseError (the sampler reports it as a failure, with the parser's message).
"""

from __future__ import annotations

from datetime import datetime

from dexpulse.schema import BatterySample

from ...parsers import ParseContext
from ...parsers.windows_cim import battery_samples as parse_battery
from ..host import Host, NoData
from .powershell import POWERSHELL, run_text, script

WMI_CLASSES = (
    ("Static", "BatteryStaticData", "InstanceName,DesignedCapacity,Capabilities"),
    ("Full", "BatteryFullChargedCapacity", "InstanceName,FullChargedCapacity"),
    ("Cycles", "BatteryCycleCount", "InstanceName,CycleCount"),
    ("Status", "BatteryStatus", "InstanceName,PowerOnline,Charging,Discharging"),
)


def _wmi(key: str, cls: str, props: str) -> str:
    return (
        f"${key} = @(try {{ Get-CimInstance -Namespace root\\wmi -ClassName {cls} "
        f"| Select-Object {props} }} catch {{ }})"
    )


BATTERY_SCRIPT = script(
    "$Battery = @(Get-CimInstance -ClassName Win32_Battery "
    "| Select-Object DeviceID,EstimatedChargeRemaining,BatteryStatus)",
    *(_wmi(key, cls, props) for key, cls, props in WMI_CLASSES),
    "$out = [ordered]@{Battery = $Battery; Static = $Static; Full = $Full; "
    "Cycles = $Cycles; Status = $Status}",
)
BATTERY = (*POWERSHELL, BATTERY_SCRIPT)
"""The exact argv run."""


def battery_samples(host: Host, now: datetime) -> list[BatterySample]:
    """One BatterySample per system battery; NoData on a machine without one."""
    samples = parse_battery(run_text(host, BATTERY, "battery"), ParseContext(now=now))
    if not samples:
        raise NoData("no battery in Win32_Battery")
    return samples
