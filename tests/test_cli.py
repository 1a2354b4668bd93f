"""The ``dexpulse`` command: version, schema tools and collector administration."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support import Collector, make_batch

from dexpulse.agent.cli import main
from dexpulse.collector.app import create_app
from dexpulse.collector.migrations import head_revision
from dexpulse.collector.settings import CollectorSettings

ROOT = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("dexpulse 0.")


def test_schema_export_check_passes_on_the_committed_files(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(capsys, "schema", "export", "--check")[0] == 0


def test_admin_commands_drive_enrollment_end_to_end(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    monkeypatch.setenv("DEXPULSE_DATABASE_URL", db_url)
    code, secret, err = run(
        capsys, "collector", "enrollment-secret", "create", "--name", "hq", "--max-uses", "10"
    )
    assert code == 0 and "created enrollment secret 1 (hq)" in err
    secret = secret.strip()
    assert secret.startswith("dxe_")
    code, key, _ = run(capsys, "collector", "api-key", "create", "--role", "viewer")
    assert code == 0 and key.strip().startswith("dxk_")

    settings = CollectorSettings(database_url=db_url, _env_file=None)
    with TestClient(create_app(settings)) as client:
        collector = Collector(client)
        device = collector.enroll("cli-laptop", secret=secret.strip())
        assert collector.post(device, make_batch(device.device_id)).status_code == 200
        listed = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {key.strip()}"})
        assert [d["hostname"] for d in listed.json()["devices"]] == ["cli-laptop"]

        code, out, _ = run(capsys, "collector", "enrollment-secret", "list")
        assert code == 0 and "\thq\tactive\tuses 1/10\t" in out
        code, out, _ = run(capsys, "collector", "device", "list")
        assert device.device_id in out and "cli-laptop" in out and "active" in out
        assert run(capsys, "collector", "device", "revoke", device.device_id)[0] == 0
        assert collector.post(device, make_batch(device.device_id)).status_code == 401
        assert run(capsys, "collector", "api-key", "revoke", "1")[0] == 0
        code, out, _ = run(capsys, "collector", "api-key", "list")
        assert "\tviewer\trevoked\t" in out
        refused = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {key.strip()}"})
        assert refused.status_code == 401
        assert run(capsys, "collector", "enrollment-secret", "revoke", "1")[0] == 0
        retry = client.post(
            "/api/v1/enroll", json={"enrollment_secret": secret, "hostname": "x", "os": "linux"}
        )
        assert retry.status_code == 401


def test_migrate_command_reports_the_revision(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEXPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    code, _, err = run(capsys, "collector", "migrate")
    assert code == 0 and f"database at revision {head_revision()}" in err


def test_agent_install_needs_no_collector_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    heavy = {"fastapi", "sqlalchemy", "alembic", "uvicorn", "psycopg"}
    runtime = project["dependencies"] + project["optional-dependencies"]["agent"]
    assert not {dep.split("[")[0].split(">")[0].split("=")[0] for dep in runtime} & heavy
    # Run the CLI with the collector's libraries made unimportable, as on a laptop.
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {sorted(heavy)!r}:\n"
        "            raise ModuleNotFoundError(name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from dexpulse.agent.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    ok = subprocess.run(
        [sys.executable, "-c", blocker, "schema", "export", "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [sys.executable, "-c", blocker, "collector", "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "pip install 'dexpulse[collector]'" in missing.stderr


def test_admin_errors_are_messages_not_tracebacks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEXPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    code, _, err = run(capsys, "collector", "api-key", "revoke", "999")
    assert code == 1 and "no API key with id 999" in err
    with pytest.raises(SystemExit):
        main(["collector", "enrollment-secret", "create", "--expires-days", "1e10"])
    assert "between 0 and 3650" in capsys.readouterr().err
