"""The ``system`` sampler: CPU, memory, swap, disk, load and uptime, through psutil.

A real sample (a laptop with two busy browser tabs)::

    {"kind": "system", "cpu_percent": 23.5, "cpu_max_core_percent": 71.0, "load_avg_1m": 1.9,
     "memory_percent": 68.2, "memory_available_mb": 4969.1, "memory_available_percent": 31.8,
     "memory_pressure_percent": 0.4, "swap_percent": 3.1, "disk_free_percent": 41.7,
     "disk_free_gb": 194.3, "uptime_s": 183522.0, "process_count": 311}

CPU percentages cover the time since the previous run. When the machine is busy
(``cpu_percent`` >= 80) the names of the three processes using most CPU are added, measured
over half a second: enough to name the culprit without scanning processes every minute.
"""

from __future__ import annotations

import os
import sys
import time

import psutil

from dexpulse.schema import SampleBase, SystemSample

from ..parsers import ParseError
from ..parsers.psi import parse_pressure_some_avg60
from ..platform import NoData
from .base import Context, Sampler, register

HIGH_CPU_PERCENT = 80.0
MiB = 1024 * 1024


def system_volume() -> str:
    return os.environ.get("SystemDrive", "C:") + "\\" if sys.platform == "win32" else "/"


def top_processes(window_s: float = 0.5, count: int = 3) -> list[str]:
    """Names of the processes using most CPU over ``window_s`` seconds."""
    procs = list(psutil.process_iter(["name"]))
    for proc in procs:
        try:
            proc.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(window_s)
    usage: list[tuple[float, str]] = []
    for proc in procs:
        try:
            usage.append((proc.cpu_percent(None), proc.info["name"] or str(proc.pid)))
        except psutil.Error:
            continue
    usage.sort(reverse=True)
    return [name[:256] for share, name in usage[:count] if share > 0]


@register
class SystemSampler(Sampler):
    name = "system"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        psutil.cpu_percent(percpu=True)  # the first call only starts the measurement

    def _memory_pressure(self) -> float | None:
        try:
            return parse_pressure_some_avg60(self.ctx.host.read("/proc/pressure/memory"))
        except (NoData, ParseError):
            return None

    def collect(self) -> list[SampleBase]:
        cores = psutil.cpu_percent(percpu=True)
        cpu = sum(cores) / len(cores) if cores else None
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disk_free_percent: float | None
        disk_free_gb: float | None
        try:
            disk = psutil.disk_usage(system_volume())
            disk_free_percent, disk_free_gb = 100.0 - disk.percent, disk.free / 1024**3
        except OSError:
            disk_free_percent = disk_free_gb = None
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        return [
            SystemSample(
                ts=self.ctx.clock(),
                cpu_percent=round(cpu, 1) if cpu is not None else None,
                cpu_max_core_percent=max(cores) if cores else None,
                load_avg_1m=round(load, 2) if load is not None else None,
                memory_percent=memory.percent,
                memory_available_mb=round(memory.available / MiB, 1),
                memory_available_percent=round(100.0 * memory.available / memory.total, 1),
                memory_pressure_percent=self._memory_pressure(),
                swap_percent=swap.percent if swap.total else None,
                disk_free_percent=round(disk_free_percent, 1)
                if disk_free_percent is not None
                else None,
                disk_free_gb=round(disk_free_gb, 2) if disk_free_gb is not None else None,
                uptime_s=round(time.time() - psutil.boot_time()),
                process_count=len(psutil.pids()),
                top_processes=top_processes()
                if cpu is not None and cpu >= HIGH_CPU_PERCENT
                else None,
            )
        ]
