"""The tray tokens: real files under a temporary state directory, a TokenBook over them.

The suite runs as root, so the token files are handed to real accounts (root and, where it
exists, "nobody") and their owners read back; the Windows ACL step is tested as the icacls
command line it builds.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
from accounts import ME, as_root, other_user

from dexpulse.agent.localclient import token_path, tokens_dir
from dexpulse.agent.localtokens import TokenBook, bare_user, same_user
from dexpulse.agent.platform import CommandResult
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
