"""The macOS package: the launchd plists, the package build script, the installer scripts and
the uninstaller, checked on any OS.

The plists are read with ``plistlib`` and checked against the keys launchd.plist(5) documents
and against the agent's own idea of its paths. Every shell script passes shellcheck (a dev
dependency: missing is a failure). What needs a Mac (pkgbuild, productbuild, launchctl,
pkgutil) cannot run here, so the scripts' file handling is run against scratch roots instead:
``build-pkg.sh --payload-only`` lays out the payload from a fake PyInstaller onedir,
``postinstall`` runs with a scratch target volume (where it writes files but, as for any volume
other than "/", leaves launchd alone), and ``uninstall.sh`` runs with ``DEXPULSE_ROOT``.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from accounts import as_root
from shell_lint import shellcheck

from dexpulse.agent import config as agent_config

REPO = Path(__file__).resolve().parents[2]
MACOS = REPO / "installers" / "macos"
DAEMON_PLIST = MACOS / "com.dexpulse.agent.plist"
TRAY_PLIST = MACOS / "com.dexpulse.tray.plist"
BUILD_PKG = MACOS / "build-pkg.sh"
UNINSTALL = MACOS / "uninstall.sh"
PREINSTALL = MACOS / "scripts" / "preinstall"
POSTINSTALL = MACOS / "scripts" / "postinstall"
SCRIPTS = [BUILD_PKG, UNINSTALL, PREINSTALL, POSTINSTALL]

HOME = "Library/Application Support/dexpulse"
EXE = f"/{HOME}/bin/dexpulse"

# The top-level keys of launchd.plist(5) (macOS 13-15), less the deprecated OnDemand and
# ServiceIPC.
LAUNCHD_KEYS = {
    "AbandonProcessGroup",
    "AssociatedBundleIdentifiers",
    "Debug",
    "Disabled",
    "EnableGlobbing",
    "EnablePressuredExit",
    "EnableTransactions",
    "EnvironmentVariables",
    "ExitTimeOut",
    "GroupName",
    "HardResourceLimits",
    "InitGroups",
    "KeepAlive",
    "Label",
    "LaunchEvents",
    "LaunchOnlyOnce",
    "LegacyTimers",
    "LimitLoadFromHardware",
    "LimitLoadFromHosts",
    "LimitLoadToHardware",
    "LimitLoadToHosts",
    "LimitLoadToSessionType",
    "LowPriorityBackgroundIO",
    "LowPriorityIO",
    "MachServices",
    "MaterializeDatalessFiles",
    "Nice",
    "ProcessType",
    "Program",
    "ProgramArguments",
    "QueueDirectories",
    "RootDirectory",
    "RunAtLoad",
    "SessionCreate",
    "Sockets",
    "SoftResourceLimits",
    "StandardErrorPath",
    "StandardInPath",
    "StandardOutPath",
    "StartCalendarInterval",
    "StartInterval",
    "StartOnMount",
    "ThrottleInterval",
    "TimeOut",
    "Umask",
    "UserName",
    "WaitForDebugger",
    "WatchPaths",
    "WorkingDirectory",
    "inetdCompatibility",
}
KEEPALIVE_KEYS = {"SuccessfulExit", "NetworkState", "PathState", "OtherJobEnabled", "Crashed"}
PROCESS_TYPES = {"Background", "Standard", "Adaptive", "Interactive"}


def load(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        data: dict[str, Any] = plistlib.load(f)
    return data


# -- the plists ----------------------------------------------------------------------------


def test_the_daemon_runs_the_agent_from_the_trays_program_path() -> None:
    daemon, tray = load(DAEMON_PLIST), load(TRAY_PLIST)
    assert daemon["Label"] == "com.dexpulse.agent" == DAEMON_PLIST.stem
    assert tray["Label"] == "com.dexpulse.tray" == TRAY_PLIST.stem
    assert daemon["ProgramArguments"] == [EXE, "agent", "run"]
    assert daemon["ProgramArguments"][0] == tray["ProgramArguments"][0]
    assert "Program" not in daemon  # ProgramArguments[0] is the program
    assert "UserName" not in daemon  # root: the agent reads system logs and owns its state


def test_the_daemon_starts_at_boot_and_is_restarted() -> None:
    daemon = load(DAEMON_PLIST)
    assert daemon["RunAtLoad"] is True
    # the agent exits only when told to (SIGTERM): whatever ends it, launchd starts it again
    assert daemon["KeepAlive"] is True
    assert isinstance(daemon["ThrottleInterval"], int) and daemon["ThrottleInterval"] >= 10
    assert daemon["ProcessType"] == "Background"
    assert daemon["LowPriorityIO"] is True
    assert isinstance(daemon["Nice"], int) and 0 < daemon["Nice"] <= 20
    assert "LimitLoadToSessionType" not in daemon  # a daemon: the system domain, no session


def test_the_daemons_logs_and_config(monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = load(DAEMON_PLIST)
    assert daemon["StandardOutPath"] == "/Library/Logs/dexpulse/agent.log"
    assert daemon["StandardErrorPath"] == daemon["StandardOutPath"]
    env = daemon["EnvironmentVariables"]
    assert env == {"DEXPULSE_AGENT_CONFIG": f"/{HOME}/agent.toml"}
    # the same paths the agent uses on a Mac when nothing says otherwise
    monkeypatch.delenv("DEXPULSE_AGENT_CONFIG", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert str(agent_config.default_config_path()) == env["DEXPULSE_AGENT_CONFIG"]
    assert agent_config.service_state_dir() == Path(EXE).parents[1]


@pytest.mark.parametrize("path", [DAEMON_PLIST, TRAY_PLIST], ids=lambda p: p.name)
def test_only_keys_launchd_knows(path: Path) -> None:
    job = load(path)
    assert set(job) <= LAUNCHD_KEYS, set(job) - LAUNCHD_KEYS
    keep_alive = job.get("KeepAlive", False)
    if isinstance(keep_alive, dict):
        assert set(keep_alive) <= KEEPALIVE_KEYS
    else:
        assert isinstance(keep_alive, bool)
    assert job.get("ProcessType", "Standard") in PROCESS_TYPES
    for key in ("RunAtLoad", "LowPriorityIO"):
        assert isinstance(job.get(key, False), bool)
    for key in ("ThrottleInterval", "Nice"):
        assert isinstance(job.get(key, 0), int)
    assert all(isinstance(arg, str) for arg in job["ProgramArguments"])
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert job.get(key, "/").startswith("/")


@pytest.mark.parametrize("path", [DAEMON_PLIST, TRAY_PLIST], ids=lambda p: p.name)
def test_plist_is_written_as_plistlib_writes_it(path: Path) -> None:
    """XML, keys sorted, tab-indented: the form of the tray's plist rendered by the code."""
    raw = path.read_bytes()
    assert raw == plistlib.dumps(plistlib.loads(raw), fmt=plistlib.FMT_XML, sort_keys=True)


# -- the shell scripts ---------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_passes_shellcheck(script: Path) -> None:
    result = subprocess.run(
        [shellcheck(), "--shell=bash", "--severity=style", str(script)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_an_executable_bash_script(script: Path) -> None:
    assert script.read_text(encoding="utf-8").startswith("#!/bin/bash\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert "set -euo pipefail" in script.read_text(encoding="utf-8")


def run(
    cmd: list[str | Path], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run with the caller's environment less any DEXPULSE_ variable, plus ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("DEXPULSE_")}
    full.update(env or {})
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=60, env=full
    )


# -- build-pkg.sh --------------------------------------------------------------------------


@pytest.fixture
def onedir(tmp_path: Path) -> Path:
    """A stand-in for PyInstaller's onedir, with modes the payload must normalise."""
    root = tmp_path / "onedir"
    (root / "_internal" / "lib").mkdir(parents=True)
    exe = root / "dexpulse"
    exe.write_text("#!/bin/sh\necho 'dexpulse 0.1.0'\n")
    exe.chmod(0o700)
    library = root / "_internal" / "libpython.dylib"
    library.write_bytes(b"\0fake")
    library.chmod(0o775)
    data = root / "_internal" / "lib" / "base_library.zip"
    data.write_bytes(b"PK")
    data.chmod(0o600)
    (root / "_internal" / "Python").symlink_to("libpython.dylib")
    return root


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.skipif(sys.platform == "darwin", reason="on a Mac build-pkg.sh builds the package")
def test_build_pkg_refuses_to_build_off_macos(tmp_path: Path, onedir: Path) -> None:
    result = run([BUILD_PKG, "--output", tmp_path / "out", "--frozen", onedir])
    assert result.returncode == 2
    assert "can only be built on macOS" in result.stderr
    assert "--payload-only" in result.stderr
    assert not (tmp_path / "out").exists()
    result = run([BUILD_PKG, "--payload-only", "--output", tmp_path / "out"])
    assert result.returncode == 2
    assert "needs --frozen" in result.stderr


def test_build_pkg_rejects_what_is_not_a_onedir(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run(
        [BUILD_PKG, "--payload-only", "--output", tmp_path / "out", "--frozen", tmp_path / "empty"]
    )
    assert result.returncode == 2
    assert "not a PyInstaller onedir" in result.stderr


def test_payload_layout(tmp_path: Path, onedir: Path) -> None:
    out = tmp_path / "out"
    result = run([BUILD_PKG, "--payload-only", "--frozen", onedir, "--output", out])
    assert result.returncode == 0, result.stderr
    root, scripts = out / "root", out / "scripts"
    bin_dir = root / HOME / "bin"
    assert tree(root) == {
        "Library",
        "Library/Application Support",
        HOME,
        f"{HOME}/bin",
        f"{HOME}/bin/dexpulse",
        f"{HOME}/bin/uninstall.sh",
        f"{HOME}/bin/_internal",
        f"{HOME}/bin/_internal/lib",
        f"{HOME}/bin/_internal/lib/base_library.zip",
        f"{HOME}/bin/_internal/libpython.dylib",
        f"{HOME}/bin/_internal/Python",
        "Library/LaunchDaemons",
        "Library/LaunchDaemons/com.dexpulse.agent.plist",
        "Library/LaunchAgents",
        "Library/LaunchAgents/com.dexpulse.tray.plist",
    }
    assert tree(scripts) == {"preinstall", "postinstall"}
    # the program is where both plists start it
    assert "/" + str((bin_dir / "dexpulse").relative_to(root)) == EXE
    for directory in [p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()] + [root]:
        assert mode(directory) == 0o755, directory
    assert mode(bin_dir / "dexpulse") == 0o755
    assert mode(bin_dir / "uninstall.sh") == 0o755
    assert mode(bin_dir / "_internal" / "libpython.dylib") == 0o755  # x kept, group write not
    assert mode(bin_dir / "_internal" / "lib" / "base_library.zip") == 0o644
    assert os.readlink(bin_dir / "_internal" / "Python") == "libpython.dylib"
    for plist, source in [
        (root / "Library/LaunchDaemons/com.dexpulse.agent.plist", DAEMON_PLIST),
        (root / "Library/LaunchAgents/com.dexpulse.tray.plist", TRAY_PLIST),
    ]:
        assert mode(plist) == 0o644  # launchd ignores a plist others may write
        assert plist.read_bytes() == source.read_bytes()
    assert (bin_dir / "uninstall.sh").read_bytes() == UNINSTALL.read_bytes()
    for name in ("preinstall", "postinstall"):
        assert mode(scripts / name) == 0o755
        assert (scripts / name).read_bytes() == (MACOS / "scripts" / name).read_bytes()
    # a second run replaces the payload rather than adding to it
    (onedir / "_internal" / "lib" / "base_library.zip").unlink()
    result = run([BUILD_PKG, "--payload-only", "--frozen", onedir, "--output", out])
    assert result.returncode == 0, result.stderr
    assert not (bin_dir / "_internal" / "lib" / "base_library.zip").exists()


# -- uninstall.sh --------------------------------------------------------------------------


def payload(tmp_path: Path, onedir: Path, name: str) -> Path:
    """A scratch root (``tmp_path/name``) with the package's payload laid down in it."""
    root = tmp_path / name
    root.mkdir()
    result = run(
        [BUILD_PKG, "--payload-only", "--frozen", onedir, "--output", tmp_path / "out"],
        env={"DEXPULSE_ROOT": str(root)},
    )
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def installed(tmp_path: Path, onedir: Path) -> Path:
    """A scratch root as a Mac has it after installing and running dexpulse for a while."""
    root = payload(tmp_path, onedir, "mac")
    home = root / HOME
    (home / "agent.toml").write_text('collector_url = "https://dex.example.com"\n')
    (home / "state").mkdir()
    (home / "spool.db").write_bytes(b"sqlite")
    (root / "Library/Logs/dexpulse").mkdir(parents=True)
    (root / "Library/Logs/dexpulse/agent.log").write_text("log\n")
    user_agent = root / "Users/ana/Library/LaunchAgents/com.dexpulse.tray.plist"
    user_agent.parent.mkdir(parents=True)
    user_agent.write_bytes(TRAY_PLIST.read_bytes())
    other = root / "Users/ana/Library/LaunchAgents/com.example.other.plist"
    other.write_text("not ours")
    return root


@as_root  # uninstall.sh refuses to run unless root, and these tests run it
def test_uninstall_keeps_config_and_state(installed: Path) -> None:
    script = installed / HOME / "bin" / "uninstall.sh"
    result = run([script], env={"DEXPULSE_ROOT": str(installed)})
    assert result.returncode == 0, result.stderr
    assert tree(installed) == {
        "Library",
        "Library/Application Support",
        HOME,
        f"{HOME}/agent.toml",
        f"{HOME}/state",
        f"{HOME}/spool.db",
        "Library/LaunchDaemons",
        "Library/LaunchAgents",
        "Library/Logs",
        "Users",
        "Users/ana",
        "Users/ana/Library",
        "Users/ana/Library/LaunchAgents",
        "Users/ana/Library/LaunchAgents/com.example.other.plist",
    }
    assert "skipped stopping the agent and the trays" in result.stdout
    assert "skipped forgetting the package receipt" in result.stdout
    assert "kept the config and state" in result.stdout
    # a second run has nothing left to do and says so without failing
    again = run([UNINSTALL], env={"DEXPULSE_ROOT": str(installed)})
    assert again.returncode == 0, again.stderr
    assert "removed" not in again.stdout


@as_root  # uninstall.sh refuses to run unless root, and these tests run it
def test_uninstall_purge_removes_config_and_state(installed: Path) -> None:
    result = run([UNINSTALL, "--purge"], env={"DEXPULSE_ROOT": str(installed)})
    assert result.returncode == 0, result.stderr
    assert not (installed / HOME).exists()
    assert (installed / "Library/Application Support").is_dir()
    assert not (installed / "Library/Logs/dexpulse").exists()
    assert not list(installed.rglob("com.dexpulse.*"))
    assert (installed / "Users/ana/Library/LaunchAgents/com.example.other.plist").exists()


@as_root  # uninstall.sh refuses to run unless root, and these tests run it
def test_uninstall_needs_launchctl_without_a_scratch_root(tmp_path: Path) -> None:
    if shutil.which("launchctl"):
        pytest.skip("this machine has launchctl: the test would uninstall for real")
    result = run([UNINSTALL])
    assert result.returncode == 1
    assert "launchctl not found" in result.stderr


def test_uninstall_refuses_to_run_unless_root(tmp_path: Path, installed: Path) -> None:
    fake_bin = tmp_path / "fakebin"
    fake_bin.mkdir()
    fake_id = fake_bin / "id"
    fake_id.write_text("#!/bin/sh\necho 501\n")
    fake_id.chmod(0o755)
    env = {"DEXPULSE_ROOT": str(installed), "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    result = run([UNINSTALL, "--purge"], env=env)
    assert result.returncode == 1
    assert "must run as root: sudo " in result.stderr and "--purge" in result.stderr
    assert (installed / HOME / "bin" / "dexpulse").exists()
    assert run([UNINSTALL, "--bogus"], env=env).returncode == 2


# -- preinstall and postinstall ------------------------------------------------------------

FAKE_DEXPULSE = """#!{python}
# a stand-in for the frozen dexpulse: records its call, and for `configure` writes the config
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
env = {{k: v for k, v in os.environ.items() if k.startswith("DEXPULSE_")}}
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(json.dumps({{"args": args, "env": env}}) + "\\n")
if "configure" in args:
    if not env.get("DEXPULSE_COLLECTOR_URL", "").startswith("https://"):
        print("dexpulse: bad URL", file=sys.stderr)
        sys.exit(2)
    path = Path(args[args.index("--config") + 1])
    path.write_text("collector_url = %s\\n" % json.dumps(env["DEXPULSE_COLLECTOR_URL"]))
"""


@pytest.fixture
def target(tmp_path: Path, onedir: Path) -> Path:
    """A scratch target volume with the payload laid down and a fake dexpulse in it."""
    volume = payload(tmp_path, onedir, "volume")
    exe = volume / HOME / "bin" / "dexpulse"
    exe.write_text(FAKE_DEXPULSE.format(python=sys.executable))
    return volume


def postinstall(
    volume: Path, tmp_path: Path, script: Path = POSTINSTALL
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    calls = tmp_path / "calls.jsonl"
    result = run(
        [script, "/tmp/dexpulse.pkg", "/", str(volume)],
        env={"FAKE_CALLS": str(calls), "DEXPULSE_ENROLLMENT_SECRET": "from-the-caller"},
    )
    made = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    return result, made


def test_postinstall_writes_the_config_from_a_seed_file(target: Path, tmp_path: Path) -> None:
    home = target / HOME
    seed = home / "install.env"
    seed.write_text(
        "# from the MDM\r\n"
        'DEXPULSE_COLLECTOR_URL="https://dex.example.com"\r\n'
        "export DEXPULSE_ENROLLMENT_SECRET='s3cr3t value'\n"
        "\n"
        "DEXPULSE_TAGS=site=HQ,department=Sales\n"
        "PATH=/evil\n"
        "no equals sign"
    )
    result, calls = postinstall(target, tmp_path)
    assert result.returncode == 0, result.stderr
    config = home / "agent.toml"
    assert calls == [
        {
            "args": ["agent", "--config", str(config), "configure", "--if-missing"],
            "env": {
                "DEXPULSE_COLLECTOR_URL": "https://dex.example.com",
                "DEXPULSE_ENROLLMENT_SECRET": "s3cr3t value",
                "DEXPULSE_TAGS": "site=HQ,department=Sales",
            },
        }
    ]
    assert mode(config) == 0o600
    assert config.stat().st_uid == 0 or os.geteuid() != 0
    assert not seed.exists()
    assert "s3cr3t" not in result.stdout + result.stderr
    assert "ignored the unknown setting PATH" in result.stderr
    assert "ignored a line without '='" in result.stderr
    assert mode(target / "Library/Logs/dexpulse") == 0o755
    assert "not the running system" in result.stdout  # a scratch volume: launchd left alone


def test_postinstall_keeps_an_existing_config(target: Path, tmp_path: Path) -> None:
    home = target / HOME
    config = home / "agent.toml"
    config.write_text('collector_url = "https://old.example.com"\n')
    config.chmod(0o644)
    (home / "install.env").write_text("DEXPULSE_COLLECTOR_URL=https://new.example.com\n")
    result, calls = postinstall(target, tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == []
    assert tomllib.loads(config.read_text()) == {"collector_url": "https://old.example.com"}
    assert mode(config) == 0o600
    assert not (home / "install.env").exists()  # a seed holds a secret: never left behind


def test_postinstall_without_settings_installs_an_unenrolled_agent(
    target: Path, tmp_path: Path
) -> None:
    result, calls = postinstall(target, tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == []
    assert not (target / HOME / "agent.toml").exists()
    assert "no settings given" in result.stdout
    assert "configure --url URL --secret SECRET" in result.stdout


def test_postinstall_survives_a_bad_seed(target: Path, tmp_path: Path) -> None:
    (target / HOME / "install.env").write_text("DEXPULSE_COLLECTOR_URL=ftp://nope\n")
    result, calls = postinstall(target, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(calls) == 1
    assert "no config written" in result.stderr
    assert not (target / HOME / "agent.toml").exists()
    assert not (target / HOME / "install.env").exists()


def test_postinstall_fails_when_the_program_is_missing(target: Path, tmp_path: Path) -> None:
    (target / HOME / "bin" / "dexpulse").unlink()
    result, _ = postinstall(target, tmp_path)
    assert result.returncode == 1
    assert "the package is damaged" in result.stderr


def test_postinstall_with_the_real_configure_command(target: Path, tmp_path: Path) -> None:
    """The command line postinstall uses is one `dexpulse agent configure` accepts: the
    program here is the source tree's dexpulse."""
    exe = target / HOME / "bin" / "dexpulse"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dexpulse.agent.cli "$@"\n')
    (target / HOME / "install.env").write_text(
        "DEXPULSE_COLLECTOR_URL=https://dex.example.com/\n"
        "DEXPULSE_ENROLLMENT_SECRET=s3cr3t\n"
        "DEXPULSE_TAGS=site=HQ,department=Sales\n"
    )
    result, _ = postinstall(target, tmp_path)
    assert result.returncode == 0, result.stderr
    config = target / HOME / "agent.toml"
    assert mode(config) == 0o600
    assert tomllib.loads(config.read_text()) == {
        "collector_url": "https://dex.example.com",
        "enrollment_secret": "s3cr3t",
        "tags": {"site": "HQ", "department": "Sales"},
    }
    assert "s3cr3t" not in result.stdout + result.stderr


def test_preinstall_removes_the_old_program_only(installed: Path) -> None:
    """On an upgrade: Installer never deletes files a new version no longer ships, so the old
    bin/ goes; the config and state stay. A scratch volume: launchd is left alone."""
    result = run([PREINSTALL, "/tmp/dexpulse.pkg", "/", f"{installed}/"])
    assert result.returncode == 0, result.stderr
    assert "nothing to stop" in result.stdout
    home = installed / HOME
    assert not (home / "bin").exists()
    assert {p.name for p in home.iterdir()} == {"agent.toml", "state", "spool.db"}
    assert (installed / "Library/LaunchDaemons/com.dexpulse.agent.plist").exists()
    again = run([PREINSTALL, "/tmp/dexpulse.pkg", "/", str(installed)])  # a first install
    assert again.returncode == 0, again.stderr
