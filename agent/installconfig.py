"""The agent's config file written at install time, so a fleet enrolls unattended.

Every package calls ``dexpulse agent configure`` (the ``.deb``'s postinst, the macOS
postinstall, the MSI's custom action) with what the deployment tool handed it: the collector
URL, the enrollment secret and tags such as site and department, from command-line options or
from the environment (``DEXPULSE_COLLECTOR_URL``, ``DEXPULSE_ENROLLMENT_SECRET``,
``DEXPULSE_TAGS`` as ``site=HQ,department=Sales``). The service enrolls by itself once the file
names a collector and a secret, so nothing else has to run.

The file is written whole, never edited: a config an administrator wrote by hand (or pushed
with config management) is kept as it is with ``--if-missing``, and replaced only with
``--force``. It holds a secret, so it is created 0600 (the package then lets the service's own
group read it) and moved into place atomically: a crash leaves the old file or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from .config import AgentConfig

ENV_URL = "DEXPULSE_COLLECTOR_URL"
ENV_SECRET = "DEXPULSE_ENROLLMENT_SECRET"
ENV_TAGS = "DEXPULSE_TAGS"
FILE_MODE = 0o600

__all__ = [
    "ENV_SECRET",
    "ENV_TAGS",
    "ENV_URL",
    "InstallConfigError",
    "parse_tags",
    "render",
    "settings_from",
    "write",
]


class InstallConfigError(ValueError):
    """The settings cannot make a usable config; the message says which and why."""


def parse_tags(items: list[str]) -> dict[str, str]:
    """``["site=HQ,department=Sales", "floor=3"]`` as a dict; each item may hold several pairs
    separated by commas. A later key replaces an earlier one."""
    tags: dict[str, str] = {}
    for item in items:
        for pair in item.split(","):
            if not pair.strip():
                continue
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise InstallConfigError(f"a tag must be KEY=VALUE, not {pair.strip()!r}")
            tags[key.strip()] = value.strip()
    return tags


def _string(value: str) -> str:
    # A JSON string with ASCII escapes is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def render(url: str, secret: str, tags: Mapping[str, str]) -> str:
    """The config file's text; InstallConfigError if the agent would not accept it."""
    if not url.startswith(("http://", "https://")):
        raise InstallConfigError(f"the collector URL must start with https:// or http://: {url!r}")
    if not secret:
        raise InstallConfigError("the enrollment secret is empty")
    lines = [
        "# Written by `dexpulse agent configure` at install time.",
        "# `dexpulse agent config --sample` prints every setting with its default.",
        f"collector_url = {_string(url)}",
        f"enrollment_secret = {_string(secret)}",
    ]
    if tags:
        lines += ["", "[tags]"]
        lines += [f"{_string(key)} = {_string(value)}" for key, value in tags.items()]
    text = "\n".join(lines) + "\n"
    try:
        AgentConfig.model_validate(tomllib.loads(text))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InstallConfigError(problems) from None
    return text


def settings_from(
    env: Mapping[str, str],
    *,
    url: str | None = None,
    secret: str | None = None,
    tags: list[str] | None = None,
) -> tuple[str, str, dict[str, str]]:
    """The URL, secret and tags: options first, then the environment. InstallConfigError when
    the URL or the secret is given by neither."""
    url = (url or env.get(ENV_URL, "")).strip().rstrip("/")
    secret = secret or env.get(ENV_SECRET, "").strip()
    if not url or not secret:
        missing = " and ".join(
            name
            for name, value in (
                (f"--url (or {ENV_URL})", url),
                (f"--secret (or {ENV_SECRET})", secret),
            )
            if not value
        )
        raise InstallConfigError(f"give {missing}")
    items = tags if tags else [env.get(ENV_TAGS, "")]
    return url, secret, parse_tags(items)


def write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".agent-", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
