"""Start the tray at sign-in on Windows: a value ``dexpulse-tray`` under a ``Run`` key.

The agent service runs once per machine in session 0, where nothing can be shown; the tray
(``dexpulse tray``) must run once per signed-in user, in that user's session. Explorer starts,
at each sign-in, the command line of every value under
``HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`` (every user; the MSI writes it) and
under the same key of ``HKCU`` (one user; :func:`install_for_user`). The paths here name the
value as ``<key>\\dexpulse-tray``. Both run when both are set: the tray must tolerate a second
copy of itself.

:func:`definition` is pure: ``"<executable>" tray``, the program always quoted (an unquoted
path with spaces would be split at the first one: ``C:\\Program`` ...). Microsoft documents
a limit of 260 characters for a Run command line, and a Windows path cannot hold a double quote,
so both are refused.

The registry is reached through a :class:`RunKey`; the real one, :class:`RegistryRunKey`,
imports ``winreg`` (Windows only) inside its methods, so this module imports, and its logic is
tested with a fake key, everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

RUN_KEY = "Software\\Microsoft\\Windows\\CurrentVersion\\Run"
VALUE_NAME = "dexpulse-tray"
MAX_COMMAND = 260
"""The longest Run command line Windows honours ("Run and RunOnce Registry Keys")."""


def definition(executable: str) -> str:
    """The Run command line starting ``<executable> tray``; ValueError for an empty path, a
    double quote or control character in it, or a line over 260 characters."""
    if not executable:
        raise ValueError("the executable path is empty")
    if '"' in executable or any(ord(char) < 0x20 for char in executable):
        raise ValueError(f"the executable path {executable!r} holds a quote or control character")
    command = f'"{executable}" tray'
    if len(command) > MAX_COMMAND:
        raise ValueError(f"the Run command line {command!r} is over {MAX_COMMAND} characters")
    return command


def system_path() -> str:
    """The value the MSI sets for every user."""
    return f"HKLM\\{RUN_KEY}\\{VALUE_NAME}"


def user_path(home: Path) -> str:
    """The value for the user running this; ``home`` is unused: HKCU is that user's hive."""
    return f"HKCU\\{RUN_KEY}\\{VALUE_NAME}"


class RunKey(Protocol):
    """The values of one Run key."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, command: str) -> None: ...

    def delete(self, name: str) -> bool:
        """Whether there was a value to delete."""
        ...


class RegistryRunKey:
    """``HKCU\\...\\Run`` (or, with ``machine``, ``HKLM\\...\\Run`` in its 64-bit view, where
    the MSI writes) through ``winreg``; OSError anywhere but on Windows."""

    def __init__(self, *, machine: bool = False) -> None:
        self.machine = machine

    def get(self, name: str) -> str | None:
        if sys.platform != "win32":
            raise OSError("the registry exists only on Windows")
        import winreg

        hive = winreg.HKEY_LOCAL_MACHINE if self.machine else winreg.HKEY_CURRENT_USER
        try:
            with winreg.OpenKey(hive, RUN_KEY, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as key:
                value, kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        text = isinstance(value, str) and kind in (winreg.REG_SZ, winreg.REG_EXPAND_SZ)
        return value if text else None

    def set(self, name: str, command: str) -> None:
        if sys.platform != "win32":
            raise OSError("the registry exists only on Windows")
        import winreg

        hive = winreg.HKEY_LOCAL_MACHINE if self.machine else winreg.HKEY_CURRENT_USER
        access = winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY
        # One value set is atomic: a reader sees the old command line or the new one.
        with winreg.CreateKeyEx(hive, RUN_KEY, 0, access) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, command)

    def delete(self, name: str) -> bool:
        if sys.platform != "win32":
            raise OSError("the registry exists only on Windows")
        import winreg

        hive = winreg.HKEY_LOCAL_MACHINE if self.machine else winreg.HKEY_CURRENT_USER
        try:
            with winreg.OpenKey(
                hive, RUN_KEY, 0, winreg.KEY_SET_VALUE | winreg.KEY_WOW64_64KEY
            ) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            return False
        return True


def install_for_user(executable: str, home: Path, *, run_key: RunKey | None = None) -> str:
    """Set the user's Run value (``run_key``, by default HKCU's); a sentence saying what was
    done."""
    run_key = RegistryRunKey() if run_key is None else run_key
    command = definition(executable)
    where = user_path(home)
    if run_key.get(VALUE_NAME) == command:
        return f"The dexpulse tray already starts when you sign in ({where} is up to date)."
    run_key.set(VALUE_NAME, command)
    return f"The dexpulse tray will start when you next sign in ({where} set)."


def remove_for_user(
    home: Path, *, run_key: RunKey | None = None, machine_key: RunKey | None = None
) -> str:
    """Delete the user's Run value (``run_key``, by default HKCU's); a sentence saying what was
    done, and whether the machine's value (``machine_key``, by default HKLM's) still starts
    the tray."""
    run_key = RegistryRunKey() if run_key is None else run_key
    machine_key = RegistryRunKey(machine=True) if machine_key is None else machine_key
    where = user_path(home)
    removed = run_key.delete(VALUE_NAME)
    if machine_key.get(VALUE_NAME) is not None:
        done = f"Removed {where}" if removed else f"Nothing to remove: {where} is not set"
        return (
            f"{done}; the dexpulse tray still starts at sign-in from {system_path()}, "
            "set for every user."
        )
    if removed:
        return (
            f"Removed {where}: the dexpulse tray no longer starts when you sign in (a tray "
            "already running keeps running until you quit it)."
        )
    return f"Nothing to remove: {where} is not set."
