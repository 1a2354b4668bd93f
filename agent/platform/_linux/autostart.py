"""Start the tray at login on Linux: an XDG autostart entry (``dexpulse-tray.desktop``).

The agent service runs once per machine; the tray (``dexpulse tray``) must run once per signed-in
user, in that user's graphical session. Every XDG-compliant desktop (GNOME, KDE, Xfce, Cinnamon,
MATE, LXQt) starts, at login, the Desktop Entry files found in ``$XDG_CONFIG_HOME/autostart``
(default ``~/.config/autostart``) and in ``/etc/xdg/autostart``; a user's file hides the
system's file of the same name. So the package installs :func:`system_path` for every user, and
:func:`install_for_user` writes the user's own copy (which wins over the system's).

:func:`definition` is pure and renders the entry for an executable path; the file shipped in
``installers/linux/`` is that rendering for the packaged path and a test keeps the two equal.
``TryExec`` makes a desktop skip the entry once the executable is gone: Debian keeps files under
``/etc`` (conffiles) after ``apt remove``, and the entry must not then fail at every login.

Exec quoting follows the Desktop Entry Specification ("The Exec key"): an argument holding a
reserved character (a space, a quote, a dollar ...) is put in double quotes with each double
quote, backtick, dollar and backslash escaped by a backslash; a percent sign is written twice (a
literal, not a field code); the whole line then takes the string escapes (each backslash
doubled), which readers undo first. So ``/opt/a\\b c`` is written
``"/opt/a\\\\\\\\b c"`` (a literal backslash takes four).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "dexpulse-tray.desktop"
MODE = 0o644
"""Readable by everyone, writable by the owner: what desktops expect of an autostart entry."""

_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = frozenset('"`$\\')


def _check(executable: str) -> None:
    if not executable:
        raise ValueError("the executable path is empty")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in executable):
        raise ValueError(f"the executable path {executable!r} holds a control character")
    if "=" in executable:  # the specification forbids it in the program of Exec
        raise ValueError(f"the executable path {executable!r} holds '='")


def _string_value(text: str) -> str:
    """A Desktop Entry string value: the only escape our values can need is the backslash."""
    return text.replace("\\", "\\\\")


def exec_argument(argument: str) -> str:
    """One argument of an Exec command line, quoted if it must be (before the string escapes)."""
    out = argument.replace("%", "%%")
    if argument and not _RESERVED.intersection(argument):
        return out
    escaped = "".join("\\" + char if char in _ESCAPED_IN_QUOTES else char for char in out)
    return f'"{escaped}"'


def definition(executable: str) -> str:
    """The autostart entry starting ``<executable> tray`` in every desktop that honours XDG
    autostart; ValueError for an empty path, a control character or ``=`` in it."""
    _check(executable)
    command = " ".join(exec_argument(argument) for argument in (executable, "tray"))
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=dexpulse\n"
        "Comment=Pulse surveys and device health from the dexpulse agent\n"
        f"TryExec={_string_value(executable)}\n"
        f"Exec={_string_value(command)}\n"
        "Icon=dexpulse\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def system_path() -> Path:
    """Where the package puts the entry for every user."""
    return Path("/etc/xdg/autostart") / FILE_NAME


def user_path(home: Path, env: Mapping[str, str] | None = None) -> Path:
    """The user's entry: under ``$XDG_CONFIG_HOME`` when it is set to an absolute path (the
    XDG Base Directory spec says to ignore a relative one), else under ``home/.config``."""
    env = os.environ if env is None else env
    config = env.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else home / ".config"
    return base / "autostart" / FILE_NAME


def write_entry(path: Path, text: str) -> bool:
    """Put ``text`` at ``path``, mode 0644, atomically (a crash leaves the old file or the new
    one); whether the file already held exactly this text. Creates the directory if missing."""
    try:
        unchanged = path.read_text(encoding="utf-8") == text
    except (FileNotFoundError, UnicodeDecodeError):
        unchanged = False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, MODE)  # mkstemp makes it 0600, whatever the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return unchanged


def remove_entry(path: Path) -> bool:
    """Remove ``path``; whether there was one to remove."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def install_for_user(executable: str, home: Path, *, env: Mapping[str, str] | None = None) -> str:
    """Write the user's autostart entry; a sentence saying what was done."""
    path = user_path(home, env)
    if write_entry(path, definition(executable)):
        return f"The dexpulse tray already starts when you log in ({path} is up to date)."
    return f"The dexpulse tray will start when you next log in ({path} written)."


def remove_for_user(
    home: Path, *, env: Mapping[str, str] | None = None, system: Path | None = None
) -> str:
    """Remove the user's autostart entry; a sentence saying what was done, and whether the
    system-wide entry (``system``, by default :func:`system_path`) still starts the tray."""
    return removal(
        user_path(home, env),
        system_path() if system is None else system,
        "the dexpulse tray no longer starts when you log in (a tray already running keeps "
        "running until you quit it)",
    )


def removal(path: Path, system: Path, stopped: str) -> str:
    """Remove the user's entry at ``path``; what was done, ``stopped`` saying what that means
    for the user, unless the system-wide entry at ``system`` still starts the tray."""
    removed = remove_entry(path)
    if system.exists():
        done = f"Removed {path}" if removed else f"Nothing to remove: {path} does not exist"
        return f"{done}; the dexpulse tray still starts at login from {system}, set for every user."
    if removed:
        return f"Removed {path}: {stopped}."
    return f"Nothing to remove: {path} does not exist."
