"""The tray tokens of the agent's loopback API: who may call it, as files each user can read.

The service (root or SYSTEM) writes one bearer token per signed-in user to
``<state_dir>/ui/tokens/<user>.token``, a file only that user can read; the tray presents it to
:mod:`dexpulse.agent.localapi`, which asks :meth:`TokenBook.user_of` whose it is. The per-OS
file rights are in ``platform.posix_tokens`` and ``platform._windows.ui_tokens``; the layout of
the files (names, directory) is in :mod:`dexpulse.agent.localclient`, which the tray imports.

Kept apart from the HTTP server so that each stays small and the book can be tested without a
socket. Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from .localclient import TOKEN_SUFFIX, safe_user_name

if sys.platform == "win32":
    from .platform._windows import ui_tokens as ostokens
else:
    from .platform import posix_tokens as ostokens

log = logging.getLogger(__name__)

__all__ = [
    "UI_DIR_MODE",
    "TokenBook",
    "bare_user",
    "public_dir",
    "same_user",
    "service_user",
    "session_users",
]

UI_DIR_MODE = 0o755
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def bare_user(name: str) -> str:
    """``name`` without a Windows ``DOMAIN\\`` prefix."""
    return name.rsplit("\\", 1)[-1]


def same_user(a: str, b: str) -> bool:
    """Whether two account names are one user (domain prefix ignored; case too on Windows)."""
    a, b = bare_user(a), bare_user(b)
    return a.casefold() == b.casefold() if sys.platform == "win32" else a == b


def session_users() -> list[str]:
    """The users with a session on this machine, as the OS lists them."""
    return [user.name for user in psutil.users()]


def service_user() -> str:
    """The account this process runs as."""
    return ostokens.service_user()


def public_dir(directory: Path) -> None:
    """Create ``directory`` (the ``ui`` one) readable by every user: each tray looks in it."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, UI_DIR_MODE)


class TokenBook:
    """The tray tokens: one file per user in ``directory`` (``<state_dir>/ui/tokens``)."""

    def __init__(
        self,
        directory: Path,
        *,
        sessions: Callable[[], Iterable[str]] = session_users,
        privileged: bool | None = None,
    ) -> None:
        self.directory = directory
        self._sessions = sessions
        self._privileged = ostokens.privileged() if privileged is None else privileged
        self._users: dict[str, str] = {}  # token -> user; replaced, never mutated
        self._lock = threading.Lock()

    def issue(self, user: str) -> str:
        """``user``'s token: the one on disk if it is intact, else a new one written for them.

        ValueError for a name that is not a safe file name or an unknown account; OSError if
        the file cannot be written or handed to that user.
        """
        path = self.directory / (safe_user_name(user) + TOKEN_SUFFIX)
        with self._lock:
            public_dir(self.directory.parent)
            ostokens.prepare_directory(self.directory)
            token = _read_token(path, user)
            if token is None:
                token = secrets.token_urlsafe(32)
                ostokens.write_token(path, user, token)
                log.info("issued a local API token for %s", user)
            kept = {known: owner for known, owner in self._users.items() if owner != user}
            self._users = kept | {token: user}
        return token

    def issue_for_sessions(self) -> list[str]:
        """Issue a token for every user with a session, or only for the service's own user
        when it is not privileged; the users that have one. Failures are logged, not raised."""
        if self._privileged:  # the service's own account too: root or SYSTEM may run a tray
            names = [*self._sessions(), ostokens.service_user()]
            users = list(dict.fromkeys(bare_user(name) for name in names))
        else:
            users = [bare_user(ostokens.service_user())]
        issued = []
        for user in users:
            try:
                self.issue(user)
            except (OSError, ValueError) as exc:
                log.warning("no local API token for user %r: %s", user, exc)
            else:
                issued.append(user)
        return issued

    def user_of(self, token: str) -> str | None:
        """The user ``token`` was issued to, or None. An unknown well-formed token makes the book
        reload the directory first: the files may have been re-issued by another process."""
        if not _TOKEN.fullmatch(token):
            return None
        user = _lookup(self._users, token)
        if user is None:
            with self._lock:
                self._users = self._load()
            user = _lookup(self._users, token)
        return user

    def _load(self) -> dict[str, str]:
        found: dict[str, str] = {}
        try:
            paths = sorted(self.directory.glob("*" + TOKEN_SUFFIX))
        except OSError:
            return found
        for path in paths:
            user = path.name[: -len(TOKEN_SUFFIX)]
            try:
                safe_user_name(user)
            except ValueError:
                continue
            token = _read_token(path, user)
            if token is not None:
                found[token] = user
        return found


def _lookup(users: dict[str, str], token: str) -> str | None:
    """Compare with every known token, in constant time each, without stopping at a match."""
    wanted = token.encode("utf-8", "replace")
    match = None
    for known, user in users.items():
        if hmac.compare_digest(known.encode("ascii"), wanted):
            match = user
    return match


def _read_token(path: Path, user: str) -> str | None:
    """The token in ``path`` if the file is intact (right owner and rights, right shape)."""
    if not ostokens.token_file_ok(path, user):
        return None
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return token if _TOKEN.fullmatch(token) else None
