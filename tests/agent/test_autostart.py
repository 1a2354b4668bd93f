"""Starting the tray at login: the autostart definitions of each OS, the shipped files, and a
user's own entry written into and removed from a scratch home.

The shipped files under installers/ must be exactly what the code renders for the packaged
executable path, so the two cannot drift. The ``.desktop`` entry is read back with
``configparser`` and its Exec line with a reader of the Desktop Entry rules written here from
the specification (not with the module's own quoting), and checked with
``desktop-file-validate`` when installed. The LaunchAgent is read back with ``plistlib``. The
Windows Run value is written through a fake key: ``winreg`` exists only on Windows.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dexpulse.agent import platform
from dexpulse.agent.platform._linux import autostart as linux
from dexpulse.agent.platform._macos import autostart as macos
from dexpulse.agent.platform._windows import autostart as windows

INSTALLERS = Path(__file__).resolve().parents[2] / "installers"
LINUX_EXE = "/usr/bin/dexpulse"
MACOS_EXE = "/Library/Application Support/dexpulse/bin/dexpulse"
WINDOWS_EXE = "C:\\Program Files\\dexpulse\\dexpulse.exe"
WINDOWS_TRAY_EXE = "C:\\Program Files\\dexpulse\\dexpulse-tray.exe"  # the windowed twin

AWKWARD_PATHS = [
    "/usr/bin/dexpulse",
    "/opt/my apps/dexpulse",
    "/opt/it's/dexpulse",
    '/opt/say "hi"/dexpulse',
    "/opt/$HOME/`id`/dexpulse",
    "/opt/back\\slash/dexpulse",
    "/opt/100%/dexpulse",
    "/opt/a;b|c&d>e<f~g*h?i#j(k)l/dexpulse",
    "/opt/caf\u00e9 \u00fcber/dexpulse",
]


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A umask that would leave a plainly created file 0600: the code must set 0644 itself."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


# -- a reader of Desktop Entry values, from the specification ------------------------------


def unescape_string(value: str) -> str:
    r"""The string escapes: \s \n \t \r \\."""
    out, chars = [], iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars)
        out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[following])
    return "".join(out)


def split_exec(value: str) -> list[str]:
    """The argv of an Exec value as a launcher builds it: string escapes first, then quoting,
    then ``%%``; an unquoted reserved character or a field code fails the test."""
    line = unescape_string(value)
    args: list[str] = []
    current: list[str] | None = None
    i = 0
    while i < len(line):
        char = line[i]
        if char == " ":
            if current is not None:
                args.append("".join(current))
                current = None
        elif char == '"':
            current = [] if current is None else current
            i += 1
            while line[i] != '"':
                if line[i] == "\\":
                    i += 1
                    assert line[i] in '"`$\\', f"bad escape in {line!r}"
                current.append(line[i])
                i += 1
        else:
            assert char not in "\t\n'\\><~|&;$*?#()`", f"unquoted {char!r} in {line!r}"
            current = [] if current is None else current
            current.append(char)
        i += 1
    if current is not None:
        args.append("".join(current))
    for arg in args:
        assert "%" not in arg.replace("%%", ""), f"field code in {arg!r}"
    return [arg.replace("%%", "%") for arg in args]


def read_desktop(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(text)
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def desktop_file_validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (package desktop-file-utils)")
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


# -- Linux ---------------------------------------------------------------------------------


def test_linux_shipped_file_is_the_definition() -> None:
    shipped = (INSTALLERS / "linux" / "dexpulse-tray.desktop").read_text(encoding="utf-8")
    assert shipped == linux.definition(LINUX_EXE)


def test_linux_entry_keys() -> None:
    entry = read_desktop(linux.definition(LINUX_EXE))
    assert entry == {
        "Type": "Application",
        "Name": "dexpulse",
        "Comment": "Pulse surveys and device health from the dexpulse agent",
        "TryExec": "/usr/bin/dexpulse",
        "Exec": "/usr/bin/dexpulse tray",
        "Icon": "dexpulse",
        "Terminal": "false",
        "NoDisplay": "true",
        "X-GNOME-Autostart-enabled": "true",
    }
    assert "OnlyShowIn" not in entry and "Hidden" not in entry


@pytest.mark.parametrize("executable", AWKWARD_PATHS)
def test_linux_exec_reads_back_as_the_path_and_tray(executable: str) -> None:
    entry = read_desktop(linux.definition(executable))
    assert split_exec(entry["Exec"]) == [executable, "tray"]
    assert unescape_string(entry["TryExec"]) == executable


def test_linux_exec_quotes_a_path_with_spaces() -> None:
    entry = read_desktop(linux.definition("/opt/my apps/dexpulse"))
    assert entry["Exec"] == '"/opt/my apps/dexpulse" tray'
    entry = read_desktop(linux.definition("/opt/a\\b c/dexpulse"))
    assert entry["Exec"] == '"/opt/a\\\\\\\\b c/dexpulse" tray'  # \ -> \\ (quoting) -> \\\\


@pytest.mark.parametrize("executable", ["", "/opt/new\nline", "/opt/tab\there", "/opt/a=b"])
def test_linux_refuses_what_an_entry_cannot_hold(executable: str) -> None:
    with pytest.raises(ValueError):
        linux.definition(executable)


def test_linux_validates(tmp_path: Path) -> None:
    shipped = INSTALLERS / "linux" / "dexpulse-tray.desktop"
    desktop_file_validate(shipped)
    for n, executable in enumerate(AWKWARD_PATHS):
        rendered = tmp_path / f"t{n}.desktop"
        rendered.write_text(linux.definition(executable), encoding="utf-8")
        desktop_file_validate(rendered)


def test_linux_paths(tmp_path: Path) -> None:
    assert linux.system_path() == Path("/etc/xdg/autostart/dexpulse-tray.desktop")
    home = tmp_path / "home"
    expected = home / ".config" / "autostart" / "dexpulse-tray.desktop"
    assert linux.user_path(home, {}) == expected
    assert linux.user_path(home, {"XDG_CONFIG_HOME": ""}) == expected
    assert linux.user_path(home, {"XDG_CONFIG_HOME": "relative/cfg"}) == expected  # ignored
    assert linux.user_path(home, {"XDG_CONFIG_HOME": "/srv/cfg"}) == Path(
        "/srv/cfg/autostart/dexpulse-tray.desktop"
    )


@pytest.mark.usefixtures("strict_umask")
def test_linux_install_and_remove_for_user(tmp_path: Path) -> None:
    home = tmp_path / "the home"
    env = {"XDG_CONFIG_HOME": str(home / "my config")}
    path = home / "my config" / "autostart" / "dexpulse-tray.desktop"
    absent = tmp_path / "no-system-entry.desktop"
    executable = str(tmp_path / "opt" / "dex pulse" / "dexpulse")

    said = linux.install_for_user(executable, home, env=env)
    assert said == f"The dexpulse tray will start when you next log in ({path} written)."
    assert path.read_text(encoding="utf-8") == linux.definition(executable)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert split_exec(read_desktop(path.read_text(encoding="utf-8"))["Exec"]) == [
        executable,
        "tray",
    ]

    path.chmod(0o600)
    said = linux.install_for_user(executable, home, env=env)
    assert said == f"The dexpulse tray already starts when you log in ({path} is up to date)."
    assert path.read_text(encoding="utf-8") == linux.definition(executable)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left

    linux.install_for_user("/usr/bin/dexpulse", home, env=env)  # a new path replaces the old
    assert path.read_text(encoding="utf-8") == linux.definition("/usr/bin/dexpulse")

    said = linux.remove_for_user(home, env=env, system=absent)
    assert said == (
        f"Removed {path}: the dexpulse tray no longer starts when you log in "
        "(a tray already running keeps running until you quit it)."
    )
    assert not path.exists()
    said = linux.remove_for_user(home, env=env, system=absent)
    assert said == f"Nothing to remove: {path} does not exist."


def test_linux_remove_says_the_system_entry_still_starts_it(tmp_path: Path) -> None:
    system = tmp_path / "etc" / "dexpulse-tray.desktop"
    system.parent.mkdir()
    system.write_text(linux.definition(LINUX_EXE), encoding="utf-8")
    home = tmp_path / "home"
    linux.install_for_user(LINUX_EXE, home, env={})
    said = linux.remove_for_user(home, env={}, system=system)
    path = linux.user_path(home, {})
    assert said == (
        f"Removed {path}; the dexpulse tray still starts at login from {system}, "
        "set for every user."
    )
    said = linux.remove_for_user(home, env={}, system=system)
    assert said == (
        f"Nothing to remove: {path} does not exist; the dexpulse tray still starts at login "
        f"from {system}, set for every user."
    )


def test_linux_failed_write_keeps_the_old_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails at the last step leaves the old entry whole and no temporary."""
    home = tmp_path / "home"
    linux.install_for_user(LINUX_EXE, home, env={})
    path = linux.user_path(home, {})

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(linux.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        linux.install_for_user("/opt/other/dexpulse", home, env={})
    assert path.read_text(encoding="utf-8") == linux.definition(LINUX_EXE)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


# -- macOS ---------------------------------------------------------------------------------


def test_macos_shipped_file_is_the_definition() -> None:
    shipped = (INSTALLERS / "macos" / "com.dexpulse.tray.plist").read_text(encoding="utf-8")
    assert shipped == macos.definition(MACOS_EXE)


@pytest.mark.parametrize("executable", [MACOS_EXE, "/Applications/a <b> & 'c' \"d\"/dexpulse"])
def test_macos_plist_keys(executable: str) -> None:
    job = plistlib.loads(macos.definition(executable).encode("utf-8"))
    assert job == {
        "Label": "com.dexpulse.tray",
        "ProgramArguments": [executable, "tray"],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "LimitLoadToSessionType": "Aqua",
        "ProcessType": "Interactive",
    }


def test_macos_paths(tmp_path: Path) -> None:
    assert macos.system_path() == Path("/Library/LaunchAgents/com.dexpulse.tray.plist")
    assert macos.user_path(tmp_path) == (
        tmp_path / "Library" / "LaunchAgents" / "com.dexpulse.tray.plist"
    )


@pytest.mark.usefixtures("strict_umask")
def test_macos_install_and_remove_for_user(tmp_path: Path) -> None:
    home = tmp_path / "the home"
    path = home / "Library" / "LaunchAgents" / "com.dexpulse.tray.plist"
    absent = tmp_path / "no-system-agent.plist"

    said = macos.install_for_user(MACOS_EXE, home)
    assert said == (
        f"The dexpulse tray will start when you next log in: launchd loads {path} then "
        f"(to start it now: launchctl bootstrap gui/$(id -u) '{path}')."
    )
    assert plistlib.loads(path.read_bytes())["ProgramArguments"] == [MACOS_EXE, "tray"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644

    said = macos.install_for_user(MACOS_EXE, home)
    assert said == f"The dexpulse tray already starts when you log in ({path} is up to date)."
    assert path.read_text(encoding="utf-8") == macos.definition(MACOS_EXE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == [path.name]

    said = macos.remove_for_user(home, system=absent)
    assert said.startswith(f"Removed {path}: the dexpulse tray no longer starts when you next")
    assert "launchctl bootout gui/$(id -u)/com.dexpulse.tray" in said
    assert not path.exists()
    said = macos.remove_for_user(home, system=absent)
    assert said == f"Nothing to remove: {path} does not exist."

    absent.write_text(macos.definition(MACOS_EXE), encoding="utf-8")
    said = macos.remove_for_user(home, system=absent)
    assert said == (
        f"Nothing to remove: {path} does not exist; the dexpulse tray still starts at login "
        f"from {absent}, set for every user."
    )


# -- Windows -------------------------------------------------------------------------------


class FakeRunKey:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.writes = 0

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, command: str) -> None:
        self.values[name] = command
        self.writes += 1

    def delete(self, name: str) -> bool:
        return self.values.pop(name, None) is not None


def test_windows_command_line() -> None:
    assert windows.definition(WINDOWS_EXE) == '"C:\\Program Files\\dexpulse\\dexpulse.exe" tray'
    assert windows.definition("D:\\dexpulse.exe") == '"D:\\dexpulse.exe" tray'


@pytest.mark.parametrize("executable", ["", 'C:\\a"b\\dexpulse.exe', "C:\\a\nb.exe", "C:\\" * 130])
def test_windows_refuses_what_a_run_value_cannot_hold(executable: str) -> None:
    with pytest.raises(ValueError):
        windows.definition(executable)


def test_windows_shipped_notes_hold_the_definition() -> None:
    notes = (INSTALLERS / "windows" / "tray-autostart.md").read_text(encoding="utf-8")
    assert f"```\n{windows.definition(WINDOWS_TRAY_EXE)}\n```" in notes
    assert (
        "`dexpulse-tray`" in notes and "Software\\Microsoft\\Windows\\CurrentVersion\\Run" in notes
    )


def test_windows_paths(tmp_path: Path) -> None:
    run = "Software\\Microsoft\\Windows\\CurrentVersion\\Run"
    assert windows.system_path() == f"HKLM\\{run}\\dexpulse-tray"
    assert windows.user_path(tmp_path) == f"HKCU\\{run}\\dexpulse-tray"


def test_windows_install_and_remove_for_user(tmp_path: Path) -> None:
    key, machine = FakeRunKey({"OneDrive": '"C:\\o.exe" /background'}), FakeRunKey()
    where = windows.user_path(tmp_path)

    said = windows.install_for_user(WINDOWS_EXE, tmp_path, run_key=key)
    assert said == f"The dexpulse tray will start when you next sign in ({where} set)."
    assert key.values["dexpulse-tray"] == windows.definition(WINDOWS_EXE)
    said = windows.install_for_user(WINDOWS_EXE, tmp_path, run_key=key)
    assert said == f"The dexpulse tray already starts when you sign in ({where} is up to date)."
    assert key.writes == 1

    said = windows.remove_for_user(tmp_path, run_key=key, machine_key=machine)
    assert said == (
        f"Removed {where}: the dexpulse tray no longer starts when you sign in "
        "(a tray already running keeps running until you quit it)."
    )
    assert key.values == {"OneDrive": '"C:\\o.exe" /background'}  # others untouched
    said = windows.remove_for_user(tmp_path, run_key=key, machine_key=machine)
    assert said == f"Nothing to remove: {where} is not set."

    windows.install_for_user(WINDOWS_EXE, tmp_path, run_key=key)
    machine.set("dexpulse-tray", windows.definition(WINDOWS_EXE))
    said = windows.remove_for_user(tmp_path, run_key=key, machine_key=machine)
    assert said == (
        f"Removed {where}; the dexpulse tray still starts at sign-in from "
        f"{windows.system_path()}, set for every user."
    )


@pytest.mark.skipif(sys.platform == "win32", reason="would write this machine's registry")
def test_windows_registry_is_only_reached_on_windows(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="only on Windows"):
        windows.install_for_user(WINDOWS_EXE, tmp_path)
    with pytest.raises(OSError, match="only on Windows"):
        windows.remove_for_user(tmp_path)


# -- every OS ------------------------------------------------------------------------------


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_each_os_offers_autostart_through_select(os_name: str) -> None:
    previous = platform.select(os_name)  # type: ignore[arg-type]
    try:
        module = platform.area("autostart")
        assert module.__name__.endswith(f"_{os_name}.autostart")
        for name in ("definition", "system_path", "user_path", "install_for_user"):
            assert callable(getattr(module, name))
        assert callable(module.remove_for_user)
    finally:
        platform.current = previous
        platform.OS_NAME = previous.OS_NAME
