"""The running agent's status, written to ``<state_dir>/status.json`` for ``agent status``.

The service rewrites it after every upload round, so another process (a support person's
shell, the tray) can see how uploads and samplers fare without talking to the service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .state import StateStore

STATUS = "status"


@dataclass
class SamplerStatus:
    failures: int = 0
    disabled: bool = False
    last_error: str | None = None
    last_run: str | None = None


@dataclass
class AgentStatus:
    pid: int
    written_at: str
    last_upload: str | None
    last_error: str | None
    upload_failures: int
    sent_batches: int
    sent_bytes: int
    rejected_batches: int
    needs_enrollment: bool
    samplers: dict[str, SamplerStatus] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        lines = [
            f"service          pid {self.pid}, status written {self.written_at}",
            f"uploads          {self.sent_batches} batches ({self.sent_bytes} bytes) sent, "
            f"last success {self.last_upload or 'never'}",
        ]
        if self.last_error:
            lines.append(f"upload problem   {self.last_error} ({self.upload_failures} failures)")
        if self.needs_enrollment:
            lines.append("enrollment       the collector refused the token: enroll again")
        for name, s in sorted(self.samplers.items()):
            state = "disabled" if s.disabled else "failing" if s.failures else "ok"
            detail = f": {s.last_error}" if s.last_error else ""
            lines.append(f"sampler {name:<18} {state}{detail}")
        return lines


def iso(ts: float | datetime | None) -> str | None:
    if ts is None:
        return None
    at = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return at.isoformat(timespec="seconds")


def write_status(state_dir: Path, status: AgentStatus) -> None:
    StateStore(state_dir).save(STATUS, asdict(status))


def read_status(state_dir: Path) -> AgentStatus | None:
    data: dict[str, Any] = StateStore(state_dir).load(STATUS)
    if not data:
        return None
    try:
        samplers = {k: SamplerStatus(**v) for k, v in data.pop("samplers", {}).items()}
        return AgentStatus(**data, samplers=samplers)
    except TypeError:
        return None
