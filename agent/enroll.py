"""Enrollment: trade the fleet's enrollment secret for this device's own token, and keep it.

The token is written to ``<state_dir>/credentials.json`` readable by the agent's user only,
atomically (a crash mid-write leaves the old file or the new one, never half of one).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from dexpulse.schema import EnrollRequest, EnrollResponse

from . import platform
from .platform import Host
from .transport import HttpResponse, Transport, TransportError

CREDENTIALS_FILE = "credentials.json"


class EnrollError(RuntimeError):
    """Enrollment failed; the message says what the collector or the network answered."""


@dataclass(frozen=True)
class Credentials:
    collector_url: str
    device_id: str
    device_token: str


def load_credentials(state_dir: Path) -> Credentials | None:
    path = state_dir / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(data["collector_url"], data["device_id"], data["device_token"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EnrollError(f"{path} is unreadable ({exc}); enroll again") from None


def save_credentials(state_dir: Path, credentials: Credentials) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / CREDENTIALS_FILE
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".credentials-")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(credentials), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def enroll(
    transport: Transport,
    collector_url: str,
    secret: str,
    *,
    host: Host,
    agent_version: str,
    tags: dict[str, str],
    timeout_s: float = 30.0,
) -> Credentials:
    """Enroll this machine; its new credentials (not yet saved)."""
    facts = platform.current.device_facts(host)
    request = EnrollRequest(
        enrollment_secret=secret,
        hostname=facts["hostname"] or "unknown",
        os=platform.OS_NAME,
        os_version=facts["os_version"],
        os_build=facts["os_build"],
        model=facts["model"],
        manufacturer=facts["manufacturer"],
        agent_version=agent_version,
        tags=tags,
    )
    url = collector_url.rstrip("/") + "/api/v1/enroll"
    try:
        response = transport.request(
            "POST",
            url,
            body=request.model_dump_json().encode(),
            timeout=timeout_s,
            headers={"Content-Type": "application/json"},
        )
    except TransportError as exc:
        raise EnrollError(f"cannot reach {url}: {exc}") from None
    if response.status != 201:
        raise EnrollError(f"{url} answered {response.status}: {_detail(response)}")
    try:
        answer = EnrollResponse.model_validate_json(response.body)
    except ValueError:
        raise EnrollError(f"{url} did not answer like a dexpulse collector") from None
    return Credentials(collector_url.rstrip("/"), str(answer.device_id), answer.device_token)


def _detail(response: HttpResponse) -> str:
    try:
        body = json.loads(response.body)
        return f"{body.get('error')}: {body.get('detail')}"
    except (ValueError, AttributeError):
        return response.body[:200].decode("utf-8", "replace")
