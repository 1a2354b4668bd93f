"""A pulse survey end to end, with no fakes between the parts: IT creates a campaign in a real
collector process; a real agent service process checks in and learns of it; the real tray
(pystray + Tk, on a private X server) sees it through the agent's loopback API and opens the
dialog; the answer is given with real X input; the agent spools and uploads it; the collector
shows it in the campaign's results and in the device's experience score.

Four other devices answer too (over the ingest API, as their agents would), since results are
only shown from five answers. Screenshots of the dialog and of the tray menu are saved
(``build/screenshots/`` unless ``DEXPULSE_SCREENSHOT_DIR`` says otherwise).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import CLI, Server, serve, stop
from support import iso, make_batch
from xvfb import HAVE_XDOTOOL, Xvfb, click, screenshot, unavailable, wait_for, xdotool

from dexpulse.agent.enroll import load_credentials

pytestmark = pytest.mark.slow

QUESTION = "How well did your laptop work for you this week?"
COMMENT = "Teams froze twice on Monday"


def poll(what: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    """``what()`` once it is truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def collector(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    # one day slot: the device's day score follows its hour at the next scoring run
    monkeypatch.setenv("DEXPULSE_SCORING_DAY_SLOTS", "1")
    with serve(db_url, tmp_path) as server:
        yield server


def agent_config(tmp_path: Path, server: Server) -> Path:
    secret = server.cli("collector", "enrollment-secret", "create", "--name", "e2e")
    path = tmp_path / "agent.toml"
    path.write_text(
        f'collector_url = "{server.url}"\n'
        f'enrollment_secret = "{secret}"\n'
        f'state_dir = "{tmp_path / "agent"}"\n'
        '[tags]\nsite = "lab"\n'
        "[upload]\ninterval_s = 1.0\n"
        # whenever CI runs: no quiet hours, weekends included
        "[surveys]\nquiet_start = 09:00:00\nquiet_end = 09:00:00\nweekend_quiet = false\n"
        "[samplers.throughput]\nenabled = false\n",
        encoding="utf-8",
    )
    return path


def peer_answers(server: Server, ratings: list[int]) -> list[tuple[str, dict[str, str]]]:
    """Other laptops at the same site, enrolled before the campaign so it asks them too."""
    peers = []
    for n, _ in enumerate(ratings):
        secret = server.cli("collector", "enrollment-secret", "create", "--name", f"peer-{n}")
        enrolled = httpx.post(
            f"{server.url}/api/v1/enroll",
            json={
                "enrollment_secret": secret,
                "hostname": f"peer-{n}",
                "os": "windows",
                "tags": {"site": "lab"},
            },
        ).json()
        headers = {
            "Authorization": f"Bearer {enrolled['device_token']}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        peers.append((str(enrolled["device_id"]), headers))
    return peers


def post_answer(server: Server, peer: tuple[str, dict[str, str]], survey: str, rating: int) -> None:
    device_id, headers = peer
    sample = {"kind": "survey_response", "ts": iso(datetime.now(UTC)), "survey_id": survey,
              "status": "answered", "rating": rating}  # fmt: skip
    batch = make_batch(device_id, [sample], tags={"site": "lab"})
    body = gzip.compress(json.dumps(batch).encode())
    answer = httpx.post(f"{server.url}/api/v1/ingest", content=body, headers=headers)
    assert answer.status_code == 200, answer.text


def test_a_survey_from_campaign_to_dialog_to_results_and_score(
    collector: Server, tmp_path: Path, xvfb: Xvfb, tk_root: Any
) -> None:
    if not HAVE_XDOTOOL:
        unavailable("xdotool is not installed (real X input for the dialog)")
    from pystray._xorg import Icon as XorgIcon

    from dexpulse.agent.localclient import LocalClient
    from dexpulse.agent.tray.app import TkUi, TrayApp

    server = collector
    admin = {"Authorization": "Bearer " + server.cli("collector", "api-key", "create",
                                                      "--role", "admin")}  # fmt: skip
    viewer = {"Authorization": "Bearer " + server.cli("collector", "api-key", "create",
                                                       "--role", "viewer")}  # fmt: skip
    config = agent_config(tmp_path, server)
    state_dir = tmp_path / "agent"
    subprocess.run([*CLI, "agent", "--config", str(config), "enroll"], check=True, timeout=60)
    device_id = load_credentials(state_dir).device_id  # type: ignore[union-attr]
    peers = peer_answers(server, [1, 2, 3, 5])

    created = httpx.post(
        f"{server.url}/api/v1/surveys",
        headers=admin,
        json={"name": "weekly pulse", "question": QUESTION, "answer": "rating",
              "comment": True, "target": {"sites": ["lab"]}},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    campaign = created.json()["id"]

    def results() -> dict[str, Any] | None:
        got = httpx.get(f"{server.url}/api/v1/surveys/{campaign}/results", headers=viewer).json()
        return got if (got["overall"] or {}).get("answered") == 5 else None

    with (tmp_path / "agent.log").open("wb") as log:
        agent = subprocess.Popen(
            [*CLI, "agent", "--config", str(config), "run"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        ui = TkUi(tk_root)
        tray = TrayApp(
            lambda: LocalClient.discover(state_dir), ui=ui, poll_s=1.0, icon_factory=XorgIcon
        )  # pystray's X11 backend by name: other tests may have made the dummy one the default
        try:
            try:
                tray.start()
                wait_for(tk_root, lambda: ui.dialog is not None, timeout=60)
                dialog = ui.dialog
                assert dialog is not None and tray.dialog_offer is not None
                assert tray.dialog_offer.question == QUESTION
                survey_id = tray.dialog_offer.id
                wait_for(tk_root, lambda: dialog.window.winfo_viewable(), timeout=10)
                screenshot("e2e-survey-dialog.png")
                tray.icon()  # a click on the icon: the menu (Tk's popup where X has no tray host)
                wait_for(tk_root, lambda: ui.popup is not None and ui.popup.winfo_viewable(), 10)
                labels = [e.text for e in tray.entries() if e.visible]
                assert labels[0] == "Connected" and any(QUESTION[:20] in x for x in labels)
                screenshot("e2e-tray-menu.png")
                popup = ui.popup
                xdotool("key", "Escape")  # closed as a user would, releasing its grab
                wait_for(tk_root, lambda: not popup.winfo_viewable(), 10)

                click(dialog.rating_buttons[4])
                click(dialog.comment_box)
                xdotool("type", "--delay", "20", COMMENT)
                wait_for(
                    tk_root, lambda: COMMENT in dialog.comment_box.get("1.0", "end"), timeout=10
                )
                click(dialog.submit_button)
                wait_for(tk_root, lambda: ui.dialog is None, timeout=15)

            finally:
                tray.stop()
                for _ in range(20):
                    tk_root.update()
            for peer, rating in zip(peers, [1, 2, 3, 5], strict=True):
                post_answer(server, peer, survey_id, rating)
            found = poll(results, timeout=60)  # the agent uploads the answer within seconds
        finally:
            stop(agent)

    assert found["asked"] == 5
    assert found["overall"]["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
    assert found["overall"]["response_rate"] == 1.0
    assert COMMENT in found["comments"]

    def sentiment() -> float | None:
        got = httpx.get(f"{server.url}/api/v1/scores/devices/{device_id}", headers=viewer).json()
        return (got.get("components") or {}).get("sentiment")

    assert poll(sentiment, timeout=150, every=3) == 75.0  # 4 of 5 on the 0-100 scale
    log_text = (tmp_path / "agent.log").read_text(errors="replace")
    assert "Traceback" not in log_text, log_text[-3000:]
