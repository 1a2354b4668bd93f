"""The Linux installer: the systemd units, the ``.deb`` build, and that package installed.

The package is built once per session by ``installers/linux/build-deb.sh`` (a virtualenv of
the distribution's Python, from the package index) and then installed with the real ``dpkg``
into a scratch root (``--root`` with ``--force-script-chrootless``: the maintainer scripts run
here with ``DPKG_ROOT`` set), upgraded, removed and purged. The installed ``dexpulse`` runs at
its installed path inside a private mount namespace that puts the scratch ``/opt/dexpulse``
where the package put it. The units go through ``systemd-analyze verify`` and ``security``.

These need dpkg, systemd-analyze and the distribution's Python 3.11+; they skip on machines
without them unless ``DEXPULSE_REQUIRE_PACKAGING=1`` (set in CI) demands them.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from accounts import as_root
from shell_lint import shellcheck

from dexpulse.agent.cli import build_parser
from dexpulse.agent.config import load

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "installers" / "linux"
AGENT_UNIT = LINUX / "dexpulse-agent.service"
COLLECTOR_UNIT = LINUX / "dexpulse-collector.service"
DISTRO_PYTHON = Path("/usr/bin/python3")
REQUIRE_ENV = "DEXPULSE_REQUIRE_PACKAGING"
MAINTAINER = ("postinst", "prerm", "postrm")
SCRIPTS = [
    LINUX / "build-deb.sh",
    LINUX / "debian" / "collector" / "dexpulse-collector",
    *(LINUX / "debian" / kind / n for kind in ("agent", "collector") for n in MAINTAINER),
]


def _missing() -> str | None:
    for tool in ("dpkg", "dpkg-deb", "systemd-analyze", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        probe = [
            str(DISTRO_PYTHON),
            "-c",
            "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))",
        ]
        subprocess.run(probe, check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError):
        return f"{DISTRO_PYTHON} is not Python 3.11+ with venv"
    return None


def need_packaging() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1)")
    pytest.skip(reason)


def run(*argv: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=600, env=env
    )


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """``(section, key, value)`` in file order; systemd allows a key more than once."""
    entries, section = [], ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit(path: Path) -> dict[str, str]:
    """The last value of each key, as systemd reads most of them."""
    return {key: value for _, key, value in unit_entries(path)}


def verify_root(tmp_path: Path, deb: Path | None = None) -> Path:
    """A root for ``systemd-analyze --root``: the host's own units (the targets ours name) and
    what the package installs, or, without a package, a stand-in for the collector's program."""
    root = tmp_path / "verify"
    (root / "lib" / "systemd").mkdir(parents=True)
    shutil.copytree("/lib/systemd/system", root / "lib" / "systemd" / "system", symlinks=True)
    if deb is not None:
        assert run("dpkg-deb", "-x", deb, root).returncode == 0
    return root


def build(out: Path, package: str) -> Path:
    need_packaging()
    built = run(LINUX / "build-deb.sh", "--package", package, "--out", out)
    assert built.returncode == 0, built.stderr[-3000:]
    path = Path(built.stdout.strip())
    assert path.parent == out and path.exists()
    return path


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("deb"), "agent")


@pytest.fixture(scope="module")
def collector_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("collector-deb"), "collector")


# -- the units ---------------------------------------------------------------------------------


def test_agent_unit_runs_the_agent_least_privileged() -> None:
    entries = unit_entries(AGENT_UNIT)
    service = {key: value for section, key, value in entries if section == "Service"}
    argv = service["ExecStart"].split()
    assert argv[0] == "/usr/bin/dexpulse"
    assert build_parser().parse_args(argv[1:]).command == "run"
    assert service["Environment"] == "DEXPULSE_AGENT_CONFIG=/etc/dexpulse/agent.toml"
    assert (service["User"], service["Group"]) == ("dexpulse", "dexpulse")
    assert service["SupplementaryGroups"] == "systemd-journal"
    assert service["StateDirectory"] == "dexpulse" and service["StateDirectoryMode"] == "0711"
    assert service["AmbientCapabilities"] == service["CapabilityBoundingSet"]
    assert set(service["CapabilityBoundingSet"].split()) == {"CAP_CHOWN", "CAP_SYS_PTRACE"}
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "read-only",
        "PrivateTmp": "yes",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "78",
    }.items():
        assert service[key] == value, key
    filters = [v for s, k, v in entries if k == "SystemCallFilter"]
    assert filters[0] == "@system-service" and "@debug" not in " ".join(filters)
    # The fences sit above the agent's budget (40 MiB, 0.5 % of a core), not at it.
    assert service["MemoryMax"].endswith("M") and int(service["MemoryMax"][:-1]) > 40
    assert service["CPUQuota"].endswith("%") and 0.5 < float(service["CPUQuota"][:-1]) <= 50
    assert unit(AGENT_UNIT)["WantedBy"] == "multi-user.target"


def test_collector_unit_serves_from_its_own_state_directory() -> None:
    service = unit(COLLECTOR_UNIT)
    argv = service["ExecStart"].split()
    assert argv[0].startswith("/") and argv[1:3] == ["collector", "serve"]
    assert build_parser().parse_args(argv[1:]).command == "serve"
    assert service["User"] == "dexpulse-collector"
    assert service["StateDirectory"] == "dexpulse-collector"
    assert "DEXPULSE_DATA_DIR=/var/lib/dexpulse-collector" in service["Environment"]
    assert service["EnvironmentFile"] == "-/etc/dexpulse/collector.env"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["Restart"] == "on-failure"


def packaged_unit(tmp_path: Path, package: Path, source: Path) -> tuple[Path, float]:
    """The unit as ``package`` installs it, verified by systemd-analyze (no warning allowed),
    and its exposure as ``systemd-analyze security`` rates it (0-10; 9.6 for a bare root
    service)."""
    root = verify_root(tmp_path, package)
    installed = root / "lib" / "systemd" / "system" / source.name
    assert installed.read_text() == source.read_text()
    verified = run("systemd-analyze", "verify", f"--root={root}", "--man=no", installed)
    assert (verified.returncode, verified.stderr) == (0, "")
    security = run("systemd-analyze", "security", "--offline=yes", f"--root={root}", source.name)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    assert found, security.stdout[-2000:] + security.stderr
    return installed, float(found.group(1))


def test_the_packaged_agent_unit_verifies_and_is_well_confined(tmp_path: Path, deb: Path) -> None:
    assert packaged_unit(tmp_path, deb, AGENT_UNIT)[1] <= 3.0  # 2.3 when written


def test_the_packaged_collector_unit_verifies(tmp_path: Path, collector_deb: Path) -> None:
    installed, exposure = packaged_unit(tmp_path, collector_deb, COLLECTOR_UNIT)
    assert exposure <= 2.0  # 1.4 when written: no capability at all
    # And verify fails on a unit systemd would not load (so the check above can fail).
    installed.write_text(installed.read_text().replace("[Service]", "[Service]\nNoSuchKey=1", 1))
    broken = run(
        "systemd-analyze", "verify", f"--root={installed.parents[3]}", "--man=no", installed
    )
    assert "Unknown key" in broken.stderr


# -- the package -------------------------------------------------------------------------------


def test_shell_scripts_pass_shellcheck() -> None:
    checked = run(shellcheck(), *SCRIPTS)
    assert checked.returncode == 0, checked.stdout
    for script in SCRIPTS:
        assert script.stat().st_mode & stat.S_IXUSR, f"{script.name} is not executable"


def test_deb_holds_the_agent_and_nothing_of_the_collector(deb: Path) -> None:
    info = run("dpkg-deb", "--field", deb, "Package", "Version", "Architecture", "Depends").stdout
    fields = dict(line.split(": ", 1) for line in info.splitlines())
    assert fields["Package"] == "dexpulse"
    assert fields["Version"] == f"{version('dexpulse')}-1"
    assert fields["Architecture"] == run("dpkg", "--print-architecture").stdout.strip()
    minor = run(DISTRO_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])")
    assert f"python{minor.stdout.strip()}" in fields["Depends"].split(", ")
    with tarfile.open(fileobj=_archive(deb, "--fsys-tarfile")) as tar:
        members = {m.name.removeprefix("./").rstrip("/"): m for m in tar.getmembers()}
        desktop = tar.extractfile(members["etc/xdg/autostart/dexpulse-tray.desktop"])
        assert (
            desktop is not None and desktop.read() == (LINUX / "dexpulse-tray.desktop").read_bytes()
        )
    assert all((m.uname, m.gname) == ("root", "root") for m in members.values())
    link = members["usr/bin/dexpulse"]
    assert link.issym() and link.linkname == "/opt/dexpulse/venv/bin/dexpulse"
    for path in (
        "lib/systemd/system/dexpulse-agent.service",
        "usr/lib/sysusers.d/dexpulse.conf",
        "usr/share/icons/hicolor/64x64/apps/dexpulse.png",
        "usr/share/doc/dexpulse/README.md",
    ):
        assert members[path].isfile() and stat.S_IMODE(members[path].mode) == 0o644, path
    site = "opt/dexpulse/venv/lib/python"
    packages = {
        name.split("/")[6] for name in members if name.startswith(site) and name.count("/") > 6
    }
    assert {"dexpulse", "pydantic", "psutil", "pystray", "PIL"} <= packages
    heavy = {"fastapi", "sqlalchemy", "uvicorn", "starlette", "alembic", "psycopg", "pip"}
    assert not heavy & packages
    assert not any(name.endswith("etc/dexpulse/agent.toml") for name in members)  # a secret
    with tarfile.open(fileobj=_archive(deb, "--ctrl-tarfile")) as tar:
        scripts = {m.name.removeprefix("./"): stat.S_IMODE(m.mode) for m in tar.getmembers()}
    assert {name: scripts.get(name) for name in MAINTAINER} == dict.fromkeys(MAINTAINER, 0o755)


def _archive(deb: Path, part: str) -> io.BytesIO:
    """The package's files (``--fsys-tarfile``) or its control part (``--ctrl-tarfile``)."""
    data = subprocess.run(["dpkg-deb", part, str(deb)], capture_output=True, check=True)
    return io.BytesIO(data.stdout)


# -- installed into a scratch root ------------------------------------------------------------


class Root:
    """A scratch root with its own dpkg database; dpkg runs the maintainer scripts here."""

    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"):
            (path / sub).mkdir(parents=True)
        for name in ("status", "available"):
            (path / "var" / "lib" / "dpkg" / name).touch()

    def dpkg(self, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("DEXPULSE_")}
        argv = ["dpkg", f"--root={self.path}", "--force-script-chrootless", "--log=/dev/null"]
        return run(*argv, "--force-depends", *args, env=base | env)

    def installed(self, *argv: str, more: str = "") -> subprocess.CompletedProcess[str]:
        """``argv`` with the packages' /opt/dexpulse* mounted where they belong (in a mount
        namespace of its own: the host's /opt is not touched)."""
        mounts = ["mount -t tmpfs tmpfs /opt"]
        for name in ("dexpulse", "dexpulse-collector"):
            if not (self.path / "opt" / name).is_dir():
                continue
            mounts += [f"mkdir /opt/{name}", f'mount --bind "$0/opt/{name}" /opt/{name}']
        script = " && ".join([*mounts, 'shift && exec "$@"'])
        return run("unshare", "--mount", "sh", "-c", script, self.path, "-", *argv)

    def account(self, name: str) -> list[str] | None:
        for line in (self.path / "etc" / "passwd").read_text().splitlines():
            if line.split(":")[0] == name:
                return line.split(":")
        return None

    def files(self) -> set[str]:
        skip = ("var/lib/dpkg", "etc/passwd", "etc/group", "etc/shadow", "etc/gshadow")
        return {
            str(p.relative_to(self.path))
            for p in self.path.rglob("*")
            if not str(p.relative_to(self.path)).startswith(skip)
            and p.name != ".pwd.lock"
            and not (p.is_dir() and not p.is_symlink())
        }


@pytest.fixture
def root() -> Iterator[Root]:
    """In a directory any account may traverse (pytest's are 0700): one test runs the
    installed programs as an unprivileged user."""
    scratch = Path(tempfile.mkdtemp(prefix="dexpulse-root-"))
    scratch.chmod(0o755)
    try:
        yield Root(scratch / "root")
    finally:
        shutil.rmtree(scratch)


SETTINGS = {
    "DEXPULSE_COLLECTOR_URL": "https://dex.example.com",
    "DEXPULSE_ENROLLMENT_SECRET": "s3cret-from-the-installer",
    "DEXPULSE_TAGS": "site=HQ,department=Sales",
}


@as_root
def test_install_enrolls_from_the_environment_and_purge_removes_it_all(
    root: Root, deb: Path
) -> None:
    done = root.dpkg("-i", deb, **SETTINGS)
    assert done.returncode == 0, done.stderr
    user = root.account("dexpulse")
    assert user is not None and user[5] == "/var/lib/dexpulse" and user[6] == "/usr/sbin/nologin"
    config = root.path / "etc" / "dexpulse" / "agent.toml"
    info = config.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, int(user[3]), 0o640)
    loaded = load(config)
    assert loaded.collector_url == "https://dex.example.com"
    assert loaded.enrollment_secret is not None
    assert loaded.enrollment_secret.get_secret_value() == SETTINGS["DEXPULSE_ENROLLMENT_SECRET"]
    assert dict(loaded.tags) == {"site": "HQ", "department": "Sales"}
    wants = root.path / "etc/systemd/system/multi-user.target.wants/dexpulse-agent.service"
    assert os.readlink(wants) == "/lib/systemd/system/dexpulse-agent.service"

    shown_version = root.installed(str(root.path / "usr" / "bin" / "dexpulse"), "--version")
    assert shown_version.returncode == 0, shown_version.stderr
    assert shown_version.stdout == f"dexpulse {version('dexpulse')}\n"
    shown = root.installed(
        "/opt/dexpulse/venv/bin/dexpulse", "agent", "--config", str(config), "config"
    )
    assert shown.returncode == 0 and '"collector_url": "https://dex.example.com"' in shown.stdout
    assert SETTINGS["DEXPULSE_ENROLLMENT_SECRET"] not in shown.stdout

    # An upgrade (the same package again) keeps the config and the account as they are.
    before = config.read_bytes()
    again = root.dpkg("-i", deb, DEXPULSE_COLLECTOR_URL="https://elsewhere.example.com")
    assert again.returncode == 0, again.stderr
    assert config.read_bytes() == before and root.account("dexpulse") == user

    removed = root.dpkg("--remove", "dexpulse")
    assert removed.returncode == 0, removed.stderr
    assert not (root.path / "opt" / "dexpulse").exists() and not wants.exists()
    assert config.exists() and root.account("dexpulse") is not None  # kept for a reinstall
    purged = root.dpkg("--purge", "dexpulse")
    assert purged.returncode == 0, purged.stderr
    assert root.files() == set()
    assert root.account("dexpulse") is None
    assert "dexpulse:" not in (root.path / "etc" / "group").read_text()


@as_root
def test_install_without_settings_says_how_to_enroll(root: Root, deb: Path) -> None:
    done = root.dpkg("-i", deb)
    assert done.returncode == 0, done.stderr
    assert not (root.path / "etc" / "dexpulse" / "agent.toml").exists()
    assert "dexpulse agent --config /etc/dexpulse/agent.toml configure" in done.stderr
    assert root.dpkg("--purge", "dexpulse").returncode == 0
    assert root.files() == set()


@as_root
def test_install_keeps_a_config_put_there_first(root: Root, deb: Path) -> None:
    """Config management writes /etc/dexpulse/agent.toml, then installs the package."""
    config = root.path / "etc" / "dexpulse" / "agent.toml"
    config.parent.mkdir(parents=True)
    config.write_text('collector_url = "https://cm.example.com"\nenrollment_secret = "cm"\n')
    done = root.dpkg("-i", deb, **SETTINGS)
    assert done.returncode == 0, done.stderr
    assert load(config).collector_url == "https://cm.example.com"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert root.dpkg("--purge", "dexpulse").returncode == 0


@as_root
def test_packaged_collector_serves_and_the_packaged_agent_reports_to_it(
    root: Root, deb: Path, collector_deb: Path
) -> None:
    """The admin's path: install both packages, make an enrollment secret and an API key with
    the collector's command, start the collector, write the agent's config with `configure`
    and run the packaged agent as its unit would (an unprivileged account with the journal
    group and only CAP_CHOWN and CAP_SYS_PTRACE, its state in $STATE_DIRECTORY): it enrolls
    by itself and its samples reach the API. Then SIGTERM stops it cleanly, and purge."""
    for package in (collector_deb, deb):
        done = root.dpkg("-i", package)
        assert done.returncode == 0, done.stderr
    user = root.account("dexpulse-collector")
    assert user is not None and user[5] == "/var/lib/dexpulse-collector"
    settings = root.path / "etc" / "dexpulse" / "collector.env"
    info = settings.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, int(user[3]), 0o640)
    data = root.path / "var" / "lib" / "dexpulse-collector"
    assert (data.stat().st_uid, stat.S_IMODE(data.stat().st_mode)) == (int(user[2]), 0o750)
    wants = root.path / "etc/systemd/system/multi-user.target.wants"
    assert {p.name for p in wants.iterdir()} == {
        "dexpulse-agent.service",
        "dexpulse-collector.service",
    }

    # The host has no dexpulse or dexpulse-collector account, so "nobody" stands in for both
    # (root running the wrapper would switch to the collector's account).
    work = root.path.parent / "e2e"
    work.mkdir()
    os.chown(work, 65534, 65534)
    url = f"http://127.0.0.1:{_free_port()}"
    (work / "reported.py").write_text(_REPORTED)
    caps = "-all,+chown,+sys_ptrace"
    journal = _group_id("systemd-journal")
    script = f"""
set -e
export DEXPULSE_DATA_DIR={work} DEXPULSE_PORT={url.rsplit(":", 1)[1]} HOME={work}
as_admin="setpriv --reuid=65534 --regid=65534 --clear-groups {root.path}/usr/bin/dexpulse-collector"
secret=$($as_admin enrollment-secret create --name e2e)
key=$($as_admin api-key create --role viewer)
$as_admin serve >{work}/serve.log 2>&1 &
collector=$!
bin=/opt/dexpulse/venv/bin
up="import urllib.request as r; r.urlopen('{url}/healthz', timeout=1)"
for _ in $(seq 1 150); do $bin/python -c "$up" 2>/dev/null && break; sleep 0.2; done
config={work}/agent.toml
$bin/dexpulse agent --config $config configure --url {url} --secret "$secret" --tag site=e2e
printf '[upload]\ninterval_s = 1\nrecovery_spread_s = 0\n' >> $config
chown 65534:65534 $config
setpriv --reuid=65534 --regid=65534 --groups={journal} --inh-caps={caps} --ambient-caps={caps} \
    --bounding-set={caps} env STATE_DIRECTORY={work}/agent \
    $bin/dexpulse agent --config $config run >{work}/agent.log 2>&1 &
agent=$!
$bin/python {work}/reported.py {url} "$key"
kill -TERM "$agent"
status=0; wait "$agent" || status=$?
echo "agent exit $status"
kill "$collector"
"""
    done = root.installed("sh", "-c", script)
    logs = _read(work / "serve.log") + _read(work / "agent.log")
    assert done.returncode == 0, done.stdout + done.stderr + logs
    reported = json.loads(done.stdout.splitlines()[-2])
    assert reported["tags"] == {"site": "e2e"} and reported["os"] == "linux"
    assert "system" in reported["kinds"], reported
    assert done.stdout.splitlines()[-1] == "agent exit 0", logs
    assert "enrolled with" in logs and (work / "agent" / "spool.db").exists()
    assert (work / "agent" / "spool.db").stat().st_uid == 65534

    for package in ("dexpulse", "dexpulse-collector"):
        assert root.dpkg("--purge", package).returncode == 0
    assert root.files() == set()
    assert root.account("dexpulse-collector") is None


# Waits up to a minute for a device whose samples include a "system" one (the first batch may
# hold the inventory alone); prints it as one line of JSON, or what came last on a timeout.
_REPORTED = """
import json, sys, time, urllib.request
url, key = sys.argv[1], sys.argv[2]
def get(path):
    request = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)
seen = None
for _ in range(120):
    for device in get("/api/v1/devices")["devices"]:
        samples = get("/api/v1/devices/" + device["id"] + "/samples")["samples"]
        kinds = sorted({s["kind"] for s in samples})
        seen = {"tags": device["tags"], "os": device["os"], "kinds": kinds}
        if "system" in kinds:
            print(json.dumps(seen))
            sys.exit(0)
    time.sleep(0.5)
sys.exit(f"no system sample reached the API within a minute; last seen: {seen}")
"""


def _group_id(name: str) -> int:
    import grp

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        pytest.skip(f"no {name} group on this machine")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
