"""The agent's footprint on a laptop: memory, CPU, open files and bytes uploaded per day.

Starts a collector on loopback (SQLite in a temp dir), then runs ``dexpulse agent run``
enrolled against it, installed as a laptop installs it (``pip install '.[agent]'`` into a fresh
virtualenv, so no collector or test packages sit in its site-packages), twice: at the default
intervals, and with every interval divided by ``--factor`` (to see the cost per cycle and any
growth sooner). The process is read from /proc once a second. Beside it runs the floor: a
bare Python process that imports psutil.

Targets (issue 3): <= 40 MiB RSS, <= 0.5 % of one core at default intervals, <= 5 MB uploaded
per device-day, a flat count of open files.

    .venv/bin/python bench/agent_footprint.py [--duration 300] [--accelerated 120] [--factor 20]
        [--python PATH]   # measure an agent already installed there instead
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness import Server, serve

ROOT = Path(__file__).resolve().parent.parent

TICK = os.sysconf("SC_CLK_TCK")
DEFAULTS = {
    "system": 60,
    "wifi": 60,
    "network_probe": 60,
    "throughput": 4 * 3600,
    "app_crash": 60,
    "app_hang": 60,
    "peripheral_failure": 60,
    "boot": 3600,
    "battery": 86400,
    "inventory": 3600,
    "upload": 60,
}
SAMPLERS = [name for name in DEFAULTS if name != "upload"]


@dataclass
class Footprint:
    rss_mib: list[float]
    pss_mib: list[float]
    fds: list[int]
    cpu_s: float
    wall_s: float
    sent_bytes: int

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def proc_pss_mib(pid: int) -> float:
    """Proportional set size: shared library pages divided among the processes sharing them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def agent_config(server: Server, state: Path, factor: float) -> Path:
    secret = server.cli("collector", "enrollment-secret", "create", "--name", state.name)
    lines = [
        f'collector_url = "{server.url}"',
        f'enrollment_secret = "{secret}"',
        f'state_dir = "{state}"',
        "",
        "[tags]",
        'site = "bench"',
        "",
    ]
    for name in SAMPLERS:
        every = DEFAULTS[name] / factor
        lines += [
            f"[samplers.{name}]",
            f"interval_s = {max(1.0, every)}",
            # throughput moves megabytes by design; it is measured on its own
            f"enabled = {'false' if name == 'throughput' else 'true'}",
            "",
        ]
    lines += ["[upload]", f"interval_s = {max(1.0, DEFAULTS['upload'] / factor)}"]
    path = state.with_suffix(".toml")
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(
    cmd: list[str], duration: float, warmup: float, status: Path | None = None
) -> Footprint:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(warmup)
        cpu0, t0, sent0 = proc_cpu_s(proc.pid), time.monotonic(), sent_bytes(status)
        rss, pss, fds = [], [], []
        while time.monotonic() - t0 < duration:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited with {proc.returncode}")
            rss.append(proc_rss_mib(proc.pid))
            pss.append(proc_pss_mib(proc.pid))
            fds.append(len(os.listdir(f"/proc/{proc.pid}/fd")))
            time.sleep(1)
        cpu, wall = proc_cpu_s(proc.pid) - cpu0, time.monotonic() - t0
        sent = sent_bytes(status) - sent0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return Footprint(rss, pss, fds, cpu, wall, sent)


def sent_bytes(status: Path | None) -> int:
    """Bytes the agent has uploaded so far, from the status file it rewrites each round."""
    if status is None or not status.exists():
        return 0
    return int(json.loads(status.read_text())["sent_bytes"])


def report(name: str, fp: Footprint, per_day_factor: float) -> None:
    per_day_mb = fp.sent_bytes / fp.wall_s * 86400 / per_day_factor / 1e6 if fp.sent_bytes else 0
    print(
        f"{name:<28} RSS median {statistics.median(fp.rss_mib):5.1f} MiB, "
        f"max {max(fp.rss_mib):5.1f} MiB (PSS median {statistics.median(fp.pss_mib):5.1f}); "
        f"CPU {fp.cpu_percent:6.3f} % of one core; "
        f"open files {min(fp.fds)}..{max(fp.fds)} (first {fp.fds[0]}, last {fp.fds[-1]})"
        + (f"; uploaded {per_day_mb:.2f} MB per device-day" if fp.sent_bytes else "")
    )


def agent_python(work: Path) -> str:
    """A fresh virtualenv holding only ``dexpulse[agent]``, as on a laptop; its python."""
    venv = work / "agent-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", f"{ROOT}[agent]"], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds at defaults")
    parser.add_argument("--accelerated", type=float, default=120, help="seconds accelerated")
    parser.add_argument("--factor", type=float, default=20, help="interval divisor")
    parser.add_argument("--warmup", type=float, default=20, help="seconds before measuring")
    parser.add_argument("--python", help="an interpreter with dexpulse[agent] installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        python = args.python or agent_python(work)
        with serve(f"sqlite:///{work / 'c.db'}", work) as server:
            floor = measure(
                [python, "-c", "import psutil, time; time.sleep(1e6)"],
                min(args.duration, 30),
                2,
            )
            results = {}
            for label, factor, duration in (
                ("default intervals", 1.0, args.duration),
                (f"intervals / {args.factor:g}", args.factor, args.accelerated),
            ):
                state = work / f"agent-{int(factor)}"
                config = agent_config(server, state, factor)
                results[label] = (
                    measure(
                        [
                            python,
                            "-m",
                            "dexpulse.agent.cli",
                            "agent",
                            "--config",
                            f"{config}",
                            "run",
                        ],
                        duration,
                        args.warmup,
                        state / "status.json",
                    ),
                    factor,
                )
    report("floor: python + psutil", floor, 1)
    for label, (fp, factor) in results.items():
        report(f"agent, {label}", fp, factor)
    default = results["default intervals"][0]
    over = statistics.median(default.rss_mib) - statistics.median(floor.rss_mib)
    print(f"agent RSS over the floor: {over:.1f} MiB")


if __name__ == "__main__":
    main()
