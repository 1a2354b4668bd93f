"""Running the collector as a real process, for benchmarks and end-to-end tests.

The tests import this too (``bench`` is on pytest's path), so both start servers one way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "dexpulse.agent.cli"]
MiB = 1024 * 1024


def gzip_bomb(mib_of_zeros: int) -> bytes:
    """A gzip body of ``mib_of_zeros`` MiB of zeros; about 1/1000 of that on the wire."""
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(squeezer.compress(bytes(MiB)) for _ in range(mib_of_zeros)) + squeezer.flush()


@contextmanager
def work_directory(keep: Path | None, prefix: str) -> Iterator[Path]:
    """``keep`` (made if need be, left in place) or a fresh temporary directory removed
    afterwards: where a benchmark puts its database and server log."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> float:
    """Seconds until /healthz answered 200; fails if the process dies or time runs out."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"/healthz did not answer within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group politely, then firmly."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        """Run a ``dexpulse`` command against the server's database; its stdout."""
        done = subprocess.run(
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout.strip()

    def enroll(self, hostname: str, os_name: str = "linux") -> tuple[str, dict[str, str]]:
        """Enroll a device with a fresh secret: its id and the headers to post gzip batches."""
        secret = self.cli("collector", "enrollment-secret", "create", "--name", hostname)
        answer = httpx.post(
            f"{self.url}/api/v1/enroll",
            json={"enrollment_secret": secret, "hostname": hostname, "os": os_name},
        )
        answer.raise_for_status()
        enrolled = answer.json()
        headers = {
            "Authorization": f"Bearer {enrolled['device_token']}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        return str(enrolled["device_id"]), headers

    def status_kib(self, field: str) -> int:
        """A memory figure of the server process from /proc (VmRSS, VmHWM), in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"{field} not in /proc status")


@contextmanager
def serve(
    database_url: str,
    workdir: Path,
    *extra_args: str,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """``dexpulse collector serve`` on loopback (a free port unless given), run in
    ``workdir`` (no stray ``.env`` of the checkout) and logging to workdir/server.log;
    ``env`` adds settings (``DEXPULSE_*``) to the environment."""
    port = port or free_port()
    full = {
        **os.environ,
        "DEXPULSE_DATABASE_URL": database_url,
        "DEXPULSE_PORT": str(port),
        "DEXPULSE_DATA_DIR": str(workdir),
        **(env or {}),
    }
    with (workdir / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [*CLI, "collector", "serve", *extra_args],
            env=full,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc, timeout)
            yield Server(f"http://127.0.0.1:{port}", proc, full)
        finally:
            stop(proc)
