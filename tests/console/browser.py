"""A real headless Chromium for the console tests, driven by Playwright's Python package.

The browser is the system's (``/usr/bin/chromium`` from Debian's ``chromium`` package, or
``$DEXPULSE_CHROMIUM``); Playwright's own browser download is not used. Tests skip when the
browser or Playwright is missing, unless ``DEXPULSE_REQUIRE_CHROMIUM=1`` (CI sets it), where
they fail instead. Screenshots go to ``$DEXPULSE_SCREENSHOT_DIR`` (default
``build/screenshots/``), as the tray's do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

REQUIRE_ENV = "DEXPULSE_REQUIRE_CHROMIUM"
CHROMIUM = os.environ.get("DEXPULSE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]


def unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1)")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright's Python package is not installed")
    if not Path(CHROMIUM).is_file():
        unavailable(f"no Chromium at {CHROMIUM} (apt install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    folder = Path(os.environ.get("DEXPULSE_SCREENSHOT_DIR") or REPO / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class Watch:
    """What a page did that it must not: dialogs (alert, confirm), script errors and
    Content-Security-Policy violations (which would mean our own page needs inline code)."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        # a 4xx page (the wrong password's 401) is logged as a failed load: not a fault
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)
