"""A private X server for GUI tests: Xvfb on a free display number, stopped afterwards.

GUI tests skip when Xvfb is not installed, unless ``DEXPULSE_REQUIRE_XVFB=1`` (set in CI
images that have it), where they fail instead: a missing X server must not silently turn
the GUI tests off. :func:`screenshot` saves PNGs of the whole screen into
``$DEXPULSE_SCREENSHOT_DIR`` (default ``build/screenshots/`` in the repository) for people to
look at; :func:`xdotool` and :func:`click` give real X input when xdotool is installed.
"""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

REQUIRE_ENV = "DEXPULSE_REQUIRE_XVFB"
SCREENSHOT_ENV = "DEXPULSE_SCREENSHOT_DIR"
SCREEN = "1280x800x24"
REPO = Path(__file__).resolve().parents[1]
HAVE_XDOTOOL = shutil.which("xdotool") is not None


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when ``DEXPULSE_REQUIRE_XVFB=1``."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Xvfb:
    display: str
    """``":N"``, for ``DISPLAY``."""
    process: subprocess.Popen[bytes]


def _socket_path(number: int) -> str:
    return f"/tmp/.X11-unix/X{number}"


def _taken(number: int) -> bool:
    return Path(f"/tmp/.X{number}-lock").exists() or Path(_socket_path(number)).exists()


def _accepts(number: int) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(_socket_path(number))
        except OSError:
            return False
    return True


@contextmanager
def xvfb_server(timeout: float = 10.0, first: int = 90) -> Iterator[Xvfb]:
    """Start ``Xvfb :N -screen 0 1280x800x24 -nolisten tcp`` on the first free N from
    ``first``, wait until it accepts connections, and stop it on exit. It does not touch
    ``DISPLAY``; :func:`xvfb_display` does."""
    exe = shutil.which("Xvfb")
    if exe is None:
        unavailable("Xvfb is not installed")
    with tempfile.TemporaryFile() as log:
        for number in range(first, first + 50):
            if _taken(number):
                continue
            argv = [exe, f":{number}", "-screen", "0", SCREEN, "-nolisten", "tcp"]
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
            deadline = time.monotonic() + timeout
            while proc.poll() is None and not _accepts(number):
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise RuntimeError(f"Xvfb :{number} did not start within {timeout} s")
                time.sleep(0.02)
            if proc.poll() is not None:  # lost a race for the number: try the next one
                continue
            try:
                yield Xvfb(f":{number}", proc)
            finally:
                gc.collect()  # X clients left in reference cycles close while the server is up
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            return
        log.seek(0)
        raise RuntimeError("no Xvfb display could be started: " + log.read().decode()[-2000:])


@contextmanager
def xvfb_display(timeout: float = 10.0) -> Iterator[Xvfb]:
    """:func:`xvfb_server` with ``DISPLAY`` set to it meanwhile (and restored after)."""
    before = os.environ.get("DISPLAY")
    with xvfb_server(timeout) as server:
        os.environ["DISPLAY"] = server.display
        try:
            yield server
        finally:
            if before is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = before


def screenshot(name: str) -> Path:
    """The whole X screen of ``$DISPLAY`` as ``name`` (a .png) in the screenshot directory."""
    from PIL import ImageGrab

    folder = Path(os.environ.get(SCREENSHOT_ENV) or REPO / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    ImageGrab.grab(xdisplay=os.environ["DISPLAY"]).save(path)
    return path


def xdotool(*args: str) -> str:
    done = subprocess.run(
        ["xdotool", *args], capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout


def wait_for(widget: Any, condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Run Tk's event loop (``widget.update()``) until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        widget.update()
        time.sleep(0.01)


def click(widget: Any) -> None:
    """A real left click in the middle of a Tk widget (xdotool moves the X pointer there)."""
    widget.update()
    x = widget.winfo_rootx() + widget.winfo_width() // 2
    y = widget.winfo_rooty() + widget.winfo_height() // 2
    xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
