"""Start the tray at login on macOS: a launchd LaunchAgent (``com.dexpulse.tray.plist``).

The agent service is a LaunchDaemon, once per machine; the tray (``dexpulse tray``) must run
once per signed-in user, in that user's GUI session. launchd starts the LaunchAgents of
``/Library/LaunchAgents`` (every user) and ``~/Library/LaunchAgents`` (one user) in each login
session. So the package installs :func:`system_path`, and :func:`install_for_user` writes the
user's own copy.

The job (:func:`definition`, pure, written with ``plistlib``): ``RunAtLoad`` starts it at login;
``KeepAlive`` ``{SuccessfulExit: false}`` restarts it after a crash but not after the user
chose Quit (exit status 0); ``LimitLoadToSessionType`` ``Aqua`` keeps it to GUI logins (not
ssh sessions, where there is no menu bar); ``ProcessType`` ``Interactive`` tells launchd it
serves the user directly, so it is not throttled as a background job. ProgramArguments is an
array, so a path with spaces ("Application Support") needs no quoting.

No ``launchctl`` is run: a plist put in a LaunchAgents folder is loaded at the user's next
login, which the returned sentences say. The file handling (atomic write, mode 0644, which
launchd requires: it refuses a group- or world-writable plist) is the XDG autostart one.
"""

from __future__ import annotations

import plistlib
import shlex
from pathlib import Path

from .._linux.autostart import removal, write_entry

LABEL = "com.dexpulse.tray"
FILE_NAME = f"{LABEL}.plist"


def definition(executable: str) -> str:
    """The LaunchAgent running ``<executable> tray`` in each GUI login (XML plist text);
    ValueError for an empty path."""
    if not executable:
        raise ValueError("the executable path is empty")
    job = {
        "Label": LABEL,
        "ProgramArguments": [executable, "tray"],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "LimitLoadToSessionType": "Aqua",
        "ProcessType": "Interactive",
    }
    return plistlib.dumps(job, fmt=plistlib.FMT_XML, sort_keys=True).decode("utf-8")


def system_path() -> Path:
    """Where the package puts the LaunchAgent for every user."""
    return Path("/Library/LaunchAgents") / FILE_NAME


def user_path(home: Path) -> Path:
    """The user's LaunchAgent."""
    return home / "Library" / "LaunchAgents" / FILE_NAME


def install_for_user(executable: str, home: Path) -> str:
    """Write the user's LaunchAgent; a sentence saying what was done."""
    path = user_path(home)
    if write_entry(path, definition(executable)):
        return f"The dexpulse tray already starts when you log in ({path} is up to date)."
    return (
        f"The dexpulse tray will start when you next log in: launchd loads {path} then "
        f"(to start it now: launchctl bootstrap gui/$(id -u) {shlex.quote(str(path))})."
    )


def remove_for_user(home: Path, *, system: Path | None = None) -> str:
    """Remove the user's LaunchAgent; a sentence saying what was done, and whether the
    system-wide one (``system``, by default :func:`system_path`) still starts the tray."""
    return removal(
        user_path(home),
        system_path() if system is None else system,
        "the dexpulse tray no longer starts when you next log in (launchd keeps the job "
        "already loaded until you log out; to stop it now: "
        f"launchctl bootout gui/$(id -u)/{LABEL})",
    )
