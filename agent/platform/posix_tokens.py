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

The Linux package runs the service as its own unprivileged user with one capability,
``CAP_CHOWN`` (``installers/linux/dexpulse-agent.service``), rather than as root. Such a
service can give a file away but not read it back, so it keeps the file's group: the token is
0640, owned by the user and by the service's own group, which no person is a member of. Root
needs no group: it reads any file, and its tokens stay 0600 in the user's group.

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
SHARED_FILE_MODE = 0o640  # owner: the user; group: the unprivileged service's own


def _posix_only() -> None:
    if sys.platform == "win32":
        raise OSError("POSIX token files are not available on Windows")


CAP_CHOWN = 0  # bit number in the kernel's capability sets (linux/capability.h)


def has_cap_chown(status: str) -> bool:
    """Whether ``/proc/<pid>/status`` text shows CAP_CHOWN in the effective set (``CapEff``)."""
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            try:
                return bool(int(line.split(":", 1)[1].strip(), 16) >> CAP_CHOWN & 1)
            except ValueError:
                return False
    return False


def privileged() -> bool:
    """Whether the service may hand token files to other users: it is root, or (Linux) it
    holds CAP_CHOWN, as the packaged service does."""
    if sys.platform == "win32":
        return False
    if os.geteuid() == 0:
        return True
    try:
        return has_cap_chown(Path("/proc/self/status").read_text(encoding="ascii"))
    except OSError:  # macOS has no /proc: only root may give files away there
        return False


def _shares_group(uid: int) -> bool:
    """Whether a token file given to ``uid`` stays in the service's group (0640) so that the
    service, not being root, can read it back. Its own files need no group: it owns them."""
    if sys.platform == "win32":
        return False
    return os.geteuid() not in (0, uid)


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
    mode = FILE_MODE
    if _shares_group(uid):
        gid, mode = os.getegid(), SHARED_FILE_MODE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(token + "\n")
            out.flush()
            # The mode first: once the file is the user's, only root could still change it.
            os.fchmod(out.fileno(), mode)
            if (os.geteuid(), os.getegid()) != (uid, gid):
                os.fchown(out.fileno(), uid, gid)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def token_file_ok(path: Path, user: str) -> bool:
    """Whether ``path`` is a regular file owned by ``user`` that no one else can read or write
    (but for the unprivileged service's own group reading it), i.e. a token file worth keeping;
    one that fails this may have leaked and is re-issued."""
    if sys.platform == "win32":  # not _posix_only(): mypy narrows only on this test
        raise OSError("POSIX token files are not available on Windows")
    try:
        info = path.lstat()
        uid, _ = account(user)
    except (OSError, ValueError):
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_uid != uid:
        return False
    if info.st_mode & 0o077 == 0:
        return True
    shared = _shares_group(uid) and info.st_gid == os.getegid()
    return shared and stat.S_IMODE(info.st_mode) == SHARED_FILE_MODE
