"""The frozen build the macOS and Windows packages ship (``installers/frozen/dexpulse.spec``).

PyInstaller builds the onedir once for this module on this machine (Linux here; the spec's
macOS and Windows branches differ only in the pystray backend and pywin32), then the tests run
the frozen program as a package would: its version from the bundled distribution metadata,
the sample config, the parsers and samplers it must discover at run time, and one sampling
round into a scratch state directory, checked against the same commands run from the source
tree. The bundle must hold the agent and the tray and nothing of the collector's server stack.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from dexpulse.agent.config_sample import render
from dexpulse.agent.parsers import load_all

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "installers" / "frozen" / "dexpulse.spec"
EXE_NAME = "dexpulse.exe" if sys.platform == "win32" else "dexpulse"
VERSION = version("dexpulse")

# The collector's third-party dependencies (all installed in the development environment), as
# top-level import names; none may be bundled.
COLLECTOR_DEPENDENCIES = [
    "alembic",
    "apscheduler",
    "argon2",
    "fastapi",
    "httpx",
    "jinja2",
    "orjson",
    "prometheus_client",
    "psycopg",
    "pwdlib",
    "pydantic_settings",
    "sqlalchemy",
    "starlette",
    "uvicorn",
]

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Frozen:
    exe: Path
    internal: Path
    pyz: Path  # the build's module archive, as embedded in the executable
    seconds: float


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Frozen:
    """One PyInstaller build for the module (about 10-30 s with a warm PyInstaller cache)."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.fail("PyInstaller is missing: it is a dev dependency (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("frozen")
    started = time.monotonic()
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
        + ["--distpath", str(out / "dist"), "--workpath", str(out / "work"), str(SPEC)],
        # not from the repository root, where `python -m` would put the editable install's
        # dexpulse.egg-info on sys.path ahead of the installed dist-info
        cwd=out,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.monotonic() - started
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    onedir = out / "dist" / "dexpulse"
    return Frozen(
        exe=onedir / EXE_NAME,
        internal=onedir / "_internal",
        pyz=out / "work" / "dexpulse" / "PYZ-00.pyz",
        seconds=seconds,
    )


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment for the frozen program: no config path or display from the caller."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DEXPULSE_", "PYSTRAY_")) and key not in {"DISPLAY", "PYTHONPATH"}
    }
    env["HOME"] = str(tmp_path / "home")
    return env


def run(frozen: Frozen, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(frozen.exe), *args], capture_output=True, text=True, timeout=120, env=env
    )


def bundled_modules(frozen: Frozen) -> set[str]:
    from PyInstaller.archive.readers import ZlibArchiveReader

    return set(ZlibArchiveReader(str(frozen.pyz)).toc)


def test_layout(frozen: Frozen) -> None:
    assert frozen.exe.is_file() and os.access(frozen.exe, os.X_OK)
    assert frozen.internal.is_dir()
    assert (frozen.internal / f"dexpulse-{VERSION}.dist-info" / "METADATA").is_file()
    print(f"frozen build: {frozen.seconds:.1f} s")


def test_version_comes_from_the_bundled_metadata(frozen: Frozen, clean_env: dict[str, str]) -> None:
    result = run(frozen, "--version", env=clean_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"dexpulse {VERSION}"


def test_sample_config(frozen: Frozen, clean_env: dict[str, str]) -> None:
    result = run(frozen, "agent", "config", "--sample", env=clean_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    parsed = tomllib.loads(result.stdout)
    assert "system" in parsed["samplers"]
    assert result.stdout == render()


def test_every_parser_is_discovered(frozen: Frozen, clean_env: dict[str, str]) -> None:
    """The parsers are found with pkgutil at run time, which a frozen build must support."""
    result = run(frozen, "agent", "parse", "--list", env=clean_env)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert listed == set(load_all())


def sampling_round(command: list[str], tmp: Path, env: dict[str, str]) -> list[dict[str, object]]:
    state = tmp / "state"
    config = tmp / "agent.toml"
    tmp.mkdir()
    config.write_text(f"state_dir = {json.dumps(str(state))}\n", encoding="utf-8")
    result = subprocess.run(
        [*command, "agent", "--config", str(config), "once", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    samples: list[dict[str, object]] = json.loads(result.stdout)
    assert (state / "spool.db").is_file()
    return samples


def test_one_sampling_round(frozen: Frozen, clean_env: dict[str, str], tmp_path: Path) -> None:
    """``once`` runs every sampler; the frozen program finds the same kinds of samples as the
    source tree on this machine (each from its own empty state directory)."""
    samples = sampling_round([str(frozen.exe)], tmp_path / "frozen", clean_env)
    kinds = {str(sample["kind"]) for sample in samples}
    assert "system" in kinds
    system = next(sample for sample in samples if sample["kind"] == "system")
    assert isinstance(system["cpu_percent"], int | float)
    source = sampling_round(
        [sys.executable, "-m", "dexpulse.agent.cli"], tmp_path / "source", clean_env
    )
    assert kinds == {str(sample["kind"]) for sample in source}


def test_configure_as_the_packages_run_it(
    frozen: Frozen, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """The install-time config (the macOS postinstall's command line, settings from the
    environment), then ``--if-missing`` keeping it."""
    config = tmp_path / "dexpulse" / "agent.toml"
    clean_env.update(
        DEXPULSE_COLLECTOR_URL="https://dex.example.com",
        DEXPULSE_ENROLLMENT_SECRET="s3cr3t",
        DEXPULSE_TAGS="site=HQ,department=Sales",
    )
    command = ["agent", "--config", str(config), "configure", "--if-missing"]
    result = run(frozen, *command, env=clean_env)
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(config.read_text(encoding="utf-8")) == {
        "collector_url": "https://dex.example.com",
        "enrollment_secret": "s3cr3t",
        "tags": {"site": "HQ", "department": "Sales"},
    }
    if sys.platform != "win32":
        assert config.stat().st_mode & 0o777 == 0o600
    clean_env["DEXPULSE_COLLECTOR_URL"] = "https://other.example.com"
    again = run(frozen, *command, env=clean_env)
    assert again.returncode == 0, again.stderr
    assert "dex.example.com" in config.read_text(encoding="utf-8")


@pytest.mark.skipif(sys.platform == "win32", reason="Windows stops the service otherwise")
def test_the_service_runs_until_sigterm(
    frozen: Frozen, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """``agent run`` as launchd runs it: in the foreground until SIGTERM, then exit 0."""
    config = tmp_path / "agent.toml"
    config.write_text(f"state_dir = {json.dumps(str(tmp_path / 'state'))}\n", encoding="utf-8")
    logged: list[str] = []
    started = threading.Event()
    with subprocess.Popen(
        [str(frozen.exe), "agent", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env,
    ) as service:
        stderr = service.stderr
        assert stderr is not None

        def read() -> None:
            for line in stderr:
                logged.append(line)
                if f"dexpulse agent {VERSION} running" in line:
                    started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert started.wait(60), "no start message: " + "".join(logged)
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)
            reader.join(timeout=10)
        finally:
            if service.poll() is None:
                service.kill()
    output = "".join(logged)
    assert service.returncode == 0, output
    assert "dexpulse agent stopped" in output
    assert (tmp_path / "state" / "spool.db").is_file()


@pytest.mark.parametrize(
    ("command", "missing"),
    [(["collector", "migrate"], "alembic"), (["collector", "api-key", "list"], "sqlalchemy")],
)
def test_collector_commands_say_what_is_missing(
    frozen: Frozen, clean_env: dict[str, str], tmp_path: Path, command: list[str], missing: str
) -> None:
    """The collector's modules are bundled, its dependencies are not: a collector command stops
    with the CLI's own message (a scratch data directory in case one did run)."""
    clean_env["DEXPULSE_DATA_DIR"] = str(tmp_path)
    result = run(frozen, *command, env=clean_env)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"dexpulse: missing dependency {missing!r}; "
        "install the collector with: pip install 'dexpulse[collector]'\n"
    )


def test_the_collector_server_stack_is_not_bundled(frozen: Frozen) -> None:
    top_level = {name.split(".")[0] for name in bundled_modules(frozen)}
    on_disk = {path.name.split(".")[0].split("-")[0].lower() for path in frozen.internal.iterdir()}
    for name in COLLECTOR_DEPENDENCIES:
        assert name not in top_level, f"{name} is in the frozen build's module archive"
        assert name not in on_disk, f"{name} is in {frozen.internal}"


def test_the_agent_and_the_tray_are_bundled(frozen: Frozen) -> None:
    modules = bundled_modules(frozen)
    for name in [
        "dexpulse.agent.service",
        "dexpulse.agent.platform._linux",
        "dexpulse.agent.platform._macos",
        "dexpulse.agent.platform._windows",
        "dexpulse.agent.tray.app",
        "dexpulse.agent.tray.dialog",
        "dexpulse.schema.samples",
        "pystray",
        "PIL.Image",
        "PIL.ImageDraw",
        "tkinter",
        "psutil",
    ]:
        assert name in modules, f"{name} is missing from the frozen build"
    backend = {"darwin": "pystray._darwin", "win32": "pystray._win32"}.get(
        sys.platform, "pystray._xorg"
    )
    assert backend in modules
    assert list(frozen.internal.rglob("_tkinter*")), "Tk's extension module is not bundled"
