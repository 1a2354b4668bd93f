"""Windows device facts: one PowerShell call (Win32_ComputerSystem, Win32_OperatingSystem, the
CurrentVersion registry key), with the portable facts as the floor.

Answers in Windows PowerShell 5.1's compressed ConvertTo-Json shape of the facts script's
``$out``; values as Windows 11 23H2 on a Dell reports them (documented fields, illustrative
values). The agent's start (``device_facts`` is called once) is also checked on Linux: every
Windows module imports here.
"""

from __future__ import annotations

import importlib
import pkgutil
import platform as stdlib_platform
import socket
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent.platform import _windows

FACTS_51 = (
    '{"Manufacturer":"Dell Inc.","Model":"Latitude 7440","Caption":"Microsoft Windows 11 Pro",'
    '"DisplayVersion":"23H2","ReleaseId":"2009","CurrentBuild":"22631","UBR":4460}'
)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def test_the_exact_command() -> None:
    assert _windows.FACTS[:4] == ("powershell", "-NoProfile", "-NonInteractive", "-Command")
    script = _windows.FACTS[4]
    assert "Get-CimInstance -ClassName Win32_ComputerSystem -Property Manufacturer,Model" in script
    assert (
        "Get-ItemProperty -LiteralPath 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion'"
        in script
    )
    assert '"' not in script


def test_device_facts(machine: Machine) -> None:
    machine.answer(_windows.FACTS, FACTS_51)
    assert _windows.device_facts(machine.host) == {
        "hostname": socket.gethostname(),
        "os_version": "Windows 11 Pro 23H2",
        "os_build": "22631.4460",
        "model": "Latitude 7440",
        "manufacturer": "Dell Inc.",
    }
    assert machine.calls == [_windows.FACTS]


@pytest.mark.parametrize(
    ("answer", "rc"),
    [
        (None, 0),  # powershell missing
        ("", 1),  # blocked or failing
        ("WARNING: something\r\n{", 0),  # not JSON
    ],
)
def test_portable_facts_when_wmi_is_silent(machine: Machine, answer: str | None, rc: int) -> None:
    if answer is not None:
        machine.answer(_windows.FACTS, answer, rc=rc, stderr="Access denied")
    facts = _windows.device_facts(machine.host)
    assert facts == {
        "hostname": socket.gethostname(),
        "os_version": stdlib_platform.release() or None,
        "os_build": stdlib_platform.version() or None,
        "model": None,
        "manufacturer": None,
    }


def test_partial_answer_keeps_the_rest_portable(machine: Machine) -> None:
    machine.answer(_windows.FACTS, '{"Manufacturer":"LENOVO","Model":"20XW0055GE"}')
    facts = _windows.device_facts(machine.host)
    assert (facts["model"], facts["manufacturer"]) == ("20XW0055GE", "LENOVO")
    assert facts["os_build"] == (stdlib_platform.version() or None)


def test_the_windows_modules_of_this_change_import_on_any_os() -> None:
    names = {m.name for m in pkgutil.iter_modules(_windows.__path__)}
    mine = {"boot", "battery", "inventory", "peripherals", "powershell", "eventlog"}
    assert mine <= names
    for name in sorted(mine):
        importlib.import_module(f"{_windows.__name__}.{name}")
