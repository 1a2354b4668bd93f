"""``dexpulse agent configure``: the config file packages write at install time."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from dexpulse.agent import installconfig
from dexpulse.agent.cli import main
from dexpulse.agent.config import default_state_dir, load, service_state_dir


def configure(path: Path, *args: str) -> int:
    return main(["agent", "--config", str(path), "configure", *args])


def test_writes_a_private_config_the_agent_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "etc" / "agent.toml"
    secret = 'we"ird\\secret\u00e9'
    code = configure(
        path,
        "--url",
        "https://dex.example.com/",
        "--secret",
        secret,
        "--tag",
        "site=HQ, department=Sales",
        "--tag",
        "floor=3",
    )
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = load(path)
    assert config.collector_url == "https://dex.example.com"
    assert config.enrollment_secret is not None
    assert config.enrollment_secret.get_secret_value() == secret
    assert dict(config.tags) == {"site": "HQ", "department": "Sales", "floor": "3"}
    assert [p.name for p in path.parent.iterdir()] == ["agent.toml"]  # no temporary left


def test_settings_come_from_the_environment_when_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEXPULSE_COLLECTOR_URL", "http://10.0.0.5:8470")
    monkeypatch.setenv("DEXPULSE_ENROLLMENT_SECRET", "from-env")
    monkeypatch.setenv("DEXPULSE_TAGS", "site=Lyon,department=Finance")
    path = tmp_path / "agent.toml"
    assert configure(path, "--tag", "site=Paris") == 0  # an option wins over the variable
    config = load(path)
    assert config.collector_url == "http://10.0.0.5:8470"
    assert dict(config.tags) == {"site": "Paris"}


def test_an_existing_file_is_kept_or_replaced_only_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('collector_url = "https://mine.example.com"\n# by hand\n')
    before = path.read_text()
    assert configure(path, "--url", "https://x.example.com", "--secret", "s", "--if-missing") == 0
    assert path.read_text() == before and "kept" in capsys.readouterr().out
    assert configure(path, "--url", "https://x.example.com", "--secret", "s") == 1
    assert "--force" in capsys.readouterr().err and path.read_text() == before
    assert configure(path, "--url", "https://x.example.com", "--secret", "s", "--force") == 0
    assert load(path).collector_url == "https://x.example.com"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --url (or DEXPULSE_COLLECTOR_URL) and --secret"),
        (("--url", "https://x.example.com"), "give --secret"),
        (("--url", "dex.example.com", "--secret", "s"), "must start with https://"),
        (("--url", "https://x", "--secret", "s", "--tag", "site"), "KEY=VALUE, not 'site'"),
        (("--url", "https://x", "--secret", "s", "--tag", "=HQ"), "KEY=VALUE"),
    ],
)
def test_unusable_settings_are_refused_and_nothing_is_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    for name in (installconfig.ENV_URL, installconfig.ENV_SECRET, installconfig.ENV_TAGS):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "agent.toml"
    assert configure(path, *args) == 2
    assert message in capsys.readouterr().err
    assert not path.exists()


def test_a_tag_the_collector_would_refuse_is_refused_here() -> None:
    with pytest.raises(installconfig.InstallConfigError, match="tags"):
        installconfig.render("https://x", "s", {"x" * 500: "v"})


def test_systemd_state_directory_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/dexpulse:/var/lib/other")
    assert default_state_dir() == Path("/var/lib/dexpulse")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", "/home/dev/.state")
    root = sys.platform == "win32" or os.geteuid() == 0
    expected = service_state_dir() if root else Path("/home/dev/.state/dexpulse")
    assert default_state_dir() == expected


def test_a_config_the_agent_cannot_use_exits_78_for_systemd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """EX_CONFIG: the unit's RestartPreventExitStatus=78 stops it retrying a bad file."""
    path = tmp_path / "agent.toml"
    path.write_text('collector_url = "https://x"\n[upload]\ninterval_s = "soon"\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["agent", "--config", str(path), "status"])
    assert exit_info.value.code == 78
    assert "upload.interval_s" in capsys.readouterr().err
