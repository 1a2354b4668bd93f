"""The tray tokens: real files under a temporary state directory, a TokenBook over them.

The suite runs as root, so the token files are handed to real accounts (root and, where it
exists, "nobody") and their owners read back; the Windows ACL step is tested as the icacls
command line it builds.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import shutil
import stat
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from accounts import ME, as_root, other_user

from dexpulse.agent.localclient import token_path, tokens_dir
from dexpulse.agent.localtokens import TokenBook, bare_user, same_user
from dexpulse.agent.platform import CommandResult, posix_tokens
from dexpulse.agent.platform._windows import ui_tokens as windows_tokens


@pytest.fixture
def book(tmp_path: Path) -> TokenBook:
    return TokenBook(tokens_dir(tmp_path))


def test_user_names_compare_without_their_domain() -> None:
    assert bare_user("CORP\\alice") == "alice" and bare_user("alice") == "alice"
    assert same_user("CORP\\alice", "alice") and not same_user("alice", "bob")


def test_token_file_is_private_and_stable(tmp_path: Path, book: TokenBook) -> None:
    token = book.issue(ME)
    path = token_path(tmp_path, ME)
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.geteuid()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o711
    assert path.read_text().strip() == token and len(token) == 43
    assert book.issue(ME) == token and TokenBook(tokens_dir(tmp_path)).issue(ME) == token
    forged = token[:-1] + ("B" if token.endswith("A") else "A")
    assert book.user_of(token) == ME and book.user_of(forged) is None
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


@as_root
def test_token_file_belongs_to_its_user(tmp_path: Path, book: TokenBook) -> None:
    user = other_user()
    token = book.issue(user)
    info = token_path(tmp_path, user).stat()
    entry = pwd.getpwnam(user)
    assert (info.st_uid, info.st_gid) == (entry.pw_uid, entry.pw_gid)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert token != book.issue(ME)
    assert book.user_of(token) == user


def test_a_token_file_others_could_read_is_replaced(tmp_path: Path, book: TokenBook) -> None:
    token = book.issue(ME)
    path = token_path(tmp_path, ME)
    path.chmod(0o644)
    fresh = book.issue(ME)
    assert fresh != token and book.user_of(token) is None and book.user_of(fresh) == ME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("garbage\n")
    assert book.issue(ME) not in (fresh, "garbage")


def test_tokens_issued_elsewhere_are_found_on_disk(tmp_path: Path, book: TokenBook) -> None:
    assert book.user_of(book.issue(ME)) == ME
    reissued = token_path(tmp_path, ME)
    reissued.unlink()
    token = TokenBook(tokens_dir(tmp_path)).issue(ME)  # another process, e.g. the CLI
    assert book.user_of(token) == ME


@pytest.mark.parametrize("user", ["", ".", "..", "../etc", "a/b", "a\\b", "c:x", ".hidden", "a\0"])
def test_unsafe_user_names_are_refused(tmp_path: Path, book: TokenBook, user: str) -> None:
    with pytest.raises(ValueError):
        book.issue(user)
    with pytest.raises(ValueError):
        token_path(tmp_path, user)
    assert not tokens_dir(tmp_path).exists()


@as_root
def test_issue_for_sessions(tmp_path: Path) -> None:
    sessions = [ME, other_user(), ME, "no-such-user-xyz", "../evil"]
    book = TokenBook(tokens_dir(tmp_path), sessions=lambda: sessions, privileged=True)
    assert book.issue_for_sessions() == [ME, other_user()]
    assert sorted(p.name for p in tokens_dir(tmp_path).iterdir()) == sorted(
        [f"{ME}.token", f"{other_user()}.token"]
    )
    alone = TokenBook(tokens_dir(tmp_path / "dev"), sessions=lambda: sessions, privileged=False)
    assert alone.issue_for_sessions() == [ME]


def test_windows_acl_command_lines(tmp_path: Path) -> None:
    token_file = r"C:\ProgramData\dexpulse\ui\tokens\alice.token"
    assert windows_tokens.icacls_argv(token_file, "alice") == [
        "icacls",
        token_file,
        "/inheritance:r",
        "/grant:r",
        "alice:(R)",
        "*S-1-5-18:(F)",
    ]
    assert windows_tokens.directory_argv("D") == [
        "icacls",
        "D",
        "/inheritance:r",
        "/grant:r",
        "*S-1-5-18:(OI)(CI)(F)",
        "*S-1-5-32-544:(OI)(CI)(F)",
    ]
    runs: list[list[str]] = []

    def icacls(argv: Sequence[str], timeout: float) -> CommandResult:
        runs.append(list(argv))
        assert Path(argv[1]).read_text() == "T\n"  # the ACL is set before the file is in place
        assert not (tmp_path / argv[4].replace(":(R)", ".token")).exists()
        return CommandResult(0 if argv[4] == "alice:(R)" else 1332, "", "No mapping")

    windows_tokens.write_token(tmp_path / "alice.token", "alice", "T", run=icacls)
    assert (tmp_path / "alice.token").read_text() == "T\n"
    assert runs[0][2:] == ["/inheritance:r", "/grant:r", "alice:(R)", "*S-1-5-18:(F)"]
    with pytest.raises(OSError, match="icacls exited 1332"):
        windows_tokens.write_token(tmp_path / "ghost.token", "ghost", "T", run=icacls)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.token"]


def test_cap_chown_is_read_from_the_effective_set() -> None:
    status = "Name:\tdexpulse\nCapInh:\t0000000000000001\nCapPrm:\t0000000000000001\n"
    assert posix_tokens.has_cap_chown(status + "CapEff:\t0000000000000001\n")
    assert posix_tokens.has_cap_chown(status + "CapEff:\t000001ffffffffff\n")  # root's
    assert not posix_tokens.has_cap_chown(status + "CapEff:\t0000000000000000\n")
    assert not posix_tokens.has_cap_chown(status + "CapEff:\t0000000000000020\n")  # CAP_KILL
    assert not posix_tokens.has_cap_chown(status) and not posix_tokens.has_cap_chown("CapEff: x")


# Run as the packaged service runs: an unprivileged account ("daemon" here) whose only
# capability is CAP_CHOWN (systemd's AmbientCapabilities=CAP_CHOWN). A forked child drops to
# it, so the code under test is already in memory: a new process could not import it from a
# checkout that other accounts cannot read.
CAP_CHOWN = 1 << 0
_CAPABILITY_V3 = 0x20080522  # linux/capability.h
_PR_SET_KEEPCAPS = 8


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]


def _as_account(uid: int, gid: int, caps: int, work: Callable[[], Any]) -> Any:
    """``work()`` in a child running as ``uid``/``gid`` with only the capabilities in the
    mask ``caps``; its result, or the exception's type name and message as a string."""
    libc = ctypes.CDLL(None, use_errno=True)
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() in a threaded process
        pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            data = (_CapData * 2)()
            data[0].effective = data[0].permitted = caps
            if libc.capset(ctypes.byref(_CapHeader(_CAPABILITY_V3, 0)), data) != 0:
                raise OSError(ctypes.get_errno(), "capset")
            result = work()
        except BaseException as exc:
            result = f"{type(exc).__name__}: {exc}"
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(answer)


def _issue_and_reload(directory: Path, user: str) -> dict[str, Any]:
    book = TokenBook(directory)
    token = book.issue(user)
    return {
        "privileged": posix_tokens.privileged(),
        "token": token,
        "again": TokenBook(directory).issue(user),  # a restart: the file on disk read back
        "found": TokenBook(directory).user_of(token),
        "issued": book.issue_for_sessions(),
    }


@as_root
def test_an_unprivileged_service_with_cap_chown_gives_tokens_away(tmp_path: Path) -> None:
    service, user = pwd.getpwnam("daemon"), pwd.getpwnam(other_user())
    state = Path(tempfile.mkdtemp(prefix="dexpulse-tokens-"))  # tmp_path's parents are 0700
    try:
        os.chown(state, service.pw_uid, service.pw_gid)
        seen = _as_account(
            service.pw_uid,
            service.pw_gid,
            CAP_CHOWN,
            lambda: _issue_and_reload(state / "tokens", user.pw_name),
        )
        assert isinstance(seen, dict), seen
        assert seen["privileged"] and seen["token"] == seen["again"]
        assert seen["found"] == user.pw_name
        info = (state / "tokens" / f"{user.pw_name}.token").stat()
        assert (info.st_uid, info.st_gid) == (user.pw_uid, service.pw_gid)
        assert stat.S_IMODE(info.st_mode) == 0o640
        # Without the capability the same account may not give a file away.
        plain = _as_account(
            service.pw_uid,
            service.pw_gid,
            0,
            lambda: _issue_and_reload(state / "plain", user.pw_name),
        )
        assert isinstance(plain, str) and plain.startswith("PermissionError"), plain
    finally:
        shutil.rmtree(state)


@as_root
def test_a_shared_token_file_is_kept_only_for_an_unprivileged_service(tmp_path: Path) -> None:
    book = TokenBook(tokens_dir(tmp_path))
    user = other_user()
    book.issue(user)
    path = token_path(tmp_path, user)
    path.chmod(0o640)  # as root, a group-readable token is one that may have leaked
    assert not posix_tokens.token_file_ok(path, user)
