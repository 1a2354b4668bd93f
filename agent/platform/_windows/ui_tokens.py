"""Local API token files on Windows: each user can read their own token and no other.

The agent service (LocalSystem on a real install) writes one token per signed-in user under
``<state_dir>\\ui\\tokens\\`` (``C:\\ProgramData\\dexpulse`` by default, which every user may
read); the user's tray reads it and presents it to the loopback API
(:mod:`dexpulse.agent.localapi`). The file system keeps Bob away from Alice's token:

* the tokens directory inherits nothing and grants SYSTEM and Administrators only
  (:func:`directory_argv`), so users cannot list it; they can still open their own file by
  its full path, since Windows grants "bypass traverse checking" to everyone by default;
* a token is written to a temporary file in that directory (so it starts with the directory's
  SYSTEM/Administrators-only ACL), its ACL is then cut down to the user (read) and SYSTEM
  (full) by ``icacls`` (:func:`icacls_argv`), and only then is it moved into place with
  ``os.replace``, which keeps the ACL. There is no moment when another user could read it.

Run unprivileged (a developer's own service), the directory is left as the user's profile
has it. ``icacls`` runs through an injectable runner (the :class:`~..host.Host` convention),
so the argv is tested on any OS; nothing here has run on a real Windows machine yet
[unverified]: the ACL effects above are as documented for icacls and NTFS.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import psutil

from ..host import Runner, run_command

SYSTEM_SID = "*S-1-5-18"
ADMINISTRATORS_SID = "*S-1-5-32-544"
TIMEOUT_S = 30.0


def privileged() -> bool:
    """Whether the service runs elevated (LocalSystem is), so may hand tokens to other users."""
    if sys.platform != "win32":
        return False
    import ctypes

    return bool(ctypes.windll.shell32.IsUserAnAdmin())


def service_user() -> str:
    """The name of the account the service runs as, without its ``DOMAIN\\`` prefix."""
    return psutil.Process().username().rsplit("\\", 1)[-1]


def icacls_argv(path: Path | str, user: str) -> list[str]:
    """Limit ``path``'s ACL to ``user`` (read) and SYSTEM (full), dropping inherited entries."""
    return ["icacls", str(path), "/inheritance:r", "/grant:r", f"{user}:(R)", f"{SYSTEM_SID}:(F)"]


def directory_argv(directory: Path | str) -> list[str]:
    """Limit the tokens directory to SYSTEM and Administrators, inherited by what is created in
    it (so a token file starts unreadable to users until :func:`icacls_argv` grants one)."""
    return [
        "icacls",
        str(directory),
        "/inheritance:r",
        "/grant:r",
        f"{SYSTEM_SID}:(OI)(CI)(F)",
        f"{ADMINISTRATORS_SID}:(OI)(CI)(F)",
    ]


def _run(run: Runner, argv: list[str]) -> None:
    result = run(argv, TIMEOUT_S)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[:200]
        raise OSError(f"icacls exited {result.returncode}: {detail}")


def prepare_directory(directory: Path, run: Runner = run_command) -> None:
    """Create the tokens directory (and its parents); restrict it when running elevated."""
    directory.mkdir(parents=True, exist_ok=True)
    if privileged():
        _run(run, directory_argv(directory))


def write_token(path: Path, user: str, token: str, run: Runner = run_command) -> None:
    """Replace ``path`` atomically with ``token``, readable by ``user`` and SYSTEM only.

    OSError if icacls fails (e.g. no such account): the token is then not put in place.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(token + "\n")
            out.flush()
            os.fsync(out.fileno())
        _run(run, icacls_argv(tmp, user))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def token_file_ok(path: Path, user: str) -> bool:
    """Whether ``path`` is a token file worth keeping. Only that it is a regular file: the ACL
    is not read back here, it was set by :func:`write_token` before the file was in place."""
    del user
    return path.is_file() and not path.is_symlink()
