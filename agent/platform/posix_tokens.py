"""Local API token files on Linux and macOS: each user can read their own token and no other.

The agent service (root on a real install) writes one token per signed-in user under
``<state_dir>/ui/tokens/``; the user's tray reads it and presents it to the loopback API
(:mod:`dexpulse.agent.localapi`). What keeps Bob from using Alice's token is the file system:

* the tokens directory is 0711 and owned by the service, so a user can open a file there by
  name but cannot list the directory (nor create or replace files in it);
* a token file is owned by its user and 0600. It is written to a temporary file that is
  ``mkstemp``'s 0600 from the start, handed to the user (``fchown``) and then moved into
  place with ``os.replace``, so there is no moment where another user could read it and a
  crash leaves either the old token or the new one.

Linux and macOS do this identically, so both backends share this module. It imports on
Windows too (``pwd`` and the POSIX-only ``os`` calls are reached only on POSIX), as every
backend must. The Windows counterpart is :mod:`dexpulse.agent.platform._windows.ui_tokens`.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

DIRECTORY_MODE = 0o711
FILE_MODE = 0o600


def _posix_only() -> None:
    if sys.platform == "win32":
        raise OSError("POSIX token files are not available on Windows")


def privileged() -> bool:
    """Whether the service runs as root, and so may hand token files to other users."""
    if sys.platform == "win32":
        return False
    return os.geteuid() == 0


def service_user() -> str:
    """The name of the account the service runs as."""
    if sys.platform == "win32":
        raise OSError("POSIX accounts are not available on Windows")
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def account(user: str) -> tuple[int, int]:
    """``(uid, gid)`` of ``user``; ValueError if there is no such account."""
    if sys.platform == "win32":
        raise OSError("POSIX accounts are not available on Windows")
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ValueError(f"no such user: {user!r}") from None
    return entry.pw_uid, entry.pw_gid


def prepare_directory(directory: Path) -> None:
    """Create the tokens directory (and its parents) and make it 0711 whatever the umask."""
    _posix_only()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, DIRECTORY_MODE)


def write_token(path: Path, user: str, token: str) -> None:
    """Replace ``path`` atomically with ``token``, owned by ``user`` and readable by them only.

    ValueError if ``user`` has no account; PermissionError if the service may not give files
    to that user (it is not root and the user is not itself).
    """
    if sys.platform == "win32":
        raise OSError("POSIX token files are not available on Windows")
    uid, gid = account(user)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(token + "\n")
            out.flush()
            if (os.geteuid(), os.getegid()) != (uid, gid):
                os.fchown(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), FILE_MODE)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def token_file_ok(path: Path, user: str) -> bool:
    """Whether ``path`` is a regular file owned by ``user`` that no one else can read or write,
    i.e. a token file worth keeping; one that fails this may have leaked and is re-issued."""
    _posix_only()
    try:
        info = path.lstat()
        uid, _ = account(user)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == uid and info.st_mode & 0o077 == 0
