"""``dexpulse tray``: the system-tray icon, its menu, the poll loop and the survey prompt.

Three threads, one rule: only the Tk thread touches Tk or the app's state.

* Tk runs in the main thread (:class:`TkUi`; Tk must on macOS, and every dialog lives there).
* pystray runs its own loop in a daemon thread (``Icon.run``). Its menu callbacks only
  :meth:`TrayApp.post` an action onto a queue that the Tk thread drains every 100 ms
  (``root.after``). On macOS the status item must live on the main thread's NSApplication,
  which Tk's event loop already runs, so there the icon is started with
  ``Icon.run_detached()`` instead of a thread (not exercised by the Linux test suite).
  pystray's own ``run_detached`` is avoided elsewhere: on X11 it starts the setup callback
  twice and leaves one thread waiting forever.
* A poller thread asks the service for its status and the due survey every ``poll_s``
  seconds (and right after a dialog closes), checks whether the user is busy when a survey
  is due, and queues the result: a slow or dead service never freezes the UI.

pystray's X11 backend (``_xorg``, the one a pip install gets on Linux) has no menu
(``HAS_MENU`` is False), no notifications, and shows nothing at all when no tray host owns
the ``_NET_SYSTEM_TRAY_S<n>`` selection (it logs "Failed to dock icon"); a click on the
icon runs the menu's default entry. There the default entry is a hidden "Open menu", and
the same menu model is shown as a Tk popup menu at the pointer. Surveys still pop up as
dialogs without any tray host.

pystray, Pillow and Tk are imported only inside functions, so this module imports anywhere.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .logic import (
    Action,
    Client,
    MenuEntry,
    SurveyOffer,
    Tone,
    TrayView,
    decide,
    error_status,
    menu_model,
    notification,
    parse_offer,
    status_line,
    tone,
)

if TYPE_CHECKING:
    import tkinter as tk

    from PIL.Image import Image

    from .dialog import FeedbackDialog, OnClose, Outcome, SurveyDialog

log = logging.getLogger(__name__)

Chooser = Callable[[Action], None]
POLL_S = 60.0
PUMP_S = 0.1
TONE_COLOURS: dict[Tone, tuple[int, int, int]] = {
    "connected": (46, 157, 87),
    "issues": (224, 161, 0),
    "offline": (138, 143, 152),
    "not_enrolled": (138, 143, 152),
    "down": (192, 57, 43),
}
SURVEY_BADGE = (37, 99, 235)


def draw_icon(kind: Tone, survey: bool, size: int = 64) -> Image:
    """A filled circle in the state's colour with a white pulse line; a blue badge when a
    survey is waiting."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((2, 2, size - 3, size - 3), fill=TONE_COLOURS[kind] + (255,))
    s = size / 64
    pulse = [(12, 34), (22, 34), (27, 22), (34, 44), (39, 30), (52, 30)]
    draw.line([(x * s, y * s) for x, y in pulse], fill="white", width=max(2, round(5 * s)))
    if survey:
        r = size * 0.2
        draw.ellipse((size - 2 * r - 1, 1, size - 1, 2 * r + 1), fill=SURVEY_BADGE + (255,))
    return image


@dataclass(frozen=True)
class Snapshot:
    """What one poll learnt (built in the poller thread, applied in the Tk thread)."""

    status: dict[str, Any] | None = None
    failure: int | None = None
    message: str | None = None
    offer: SurveyOffer | None = None
    busy: bool | None = None


class Ui(Protocol):
    """What the app asks of the toolkit; :class:`TkUi`, or a fake in tests."""

    def open_survey(self, offer: SurveyOffer, client: Client, on_close: OnClose) -> None: ...
    def open_feedback(self, client: Client, on_close: OnClose) -> None: ...
    def raise_dialog(self) -> None: ...
    def show_menu(self, entries: Sequence[MenuEntry], choose: Chooser) -> None: ...
    def every(self, interval_s: float, fn: Callable[[], None]) -> None: ...
    def run(self) -> None: ...
    def quit(self) -> None: ...


class TrayApp:
    """The tray's state and behaviour; the toolkit behind :class:`Ui`, the icon from
    ``icon_factory`` (``pystray.Icon`` by default; called as ``(name, icon, title, menu)``).

    Tests drive it without threads: :meth:`poll_once` polls and applies, :meth:`pump` runs
    what pystray callbacks queued, :meth:`choose` acts as a menu click in the Tk thread.
    """

    def __init__(
        self,
        connect: Callable[[], Client],
        *,
        ui: Ui,
        busy: Callable[[], bool | None] | None = None,
        poll_s: float = POLL_S,
        icon_factory: Callable[..., Any] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.connect = connect
        self.ui = ui
        self.busy = busy or (lambda: None)
        self.poll_s = poll_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self.view = TrayView()
        self.client: Client | None = None
        self.dialog: Literal["survey", "feedback"] | None = None
        self.dialog_offer: SurveyOffer | None = None
        self.prompted: dict[str, datetime] = {}
        self.decisions: list[str] = []  # the last poll decisions, newest last (for tests/logs)
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None
        self._icon_thread: threading.Thread | None = None
        self._icon_look: tuple[Tone, bool] | None = None
        self._logged_line: str | None = None
        if icon_factory is None:
            import pystray

            icon_factory = pystray.Icon
        self.icon: Any = icon_factory(
            "dexpulse", draw_icon("down", False), "dexpulse", self._pystray_menu()
        )
        self._icon_look = ("down", False)

    # the menu ----------------------------------------------------------------------------

    @property
    def native_menu(self) -> bool:
        return bool(getattr(self.icon, "HAS_MENU", True))

    def entries(self) -> tuple[MenuEntry, ...]:
        """The menu now: the due survey, or the one whose dialog is open."""
        view = self.view
        if self.dialog_offer is not None:
            view = replace(view, offer=self.dialog_offer)
        return menu_model(view, native_menu=self.native_menu)

    def _pystray_menu(self) -> Any:
        import pystray

        def items() -> Iterator[Any]:
            for entry in self.entries():
                if entry.separator:
                    yield pystray.Menu.SEPARATOR
                    continue
                yield pystray.MenuItem(
                    entry.text,
                    self._menu_callback(entry.action),
                    enabled=entry.enabled,
                    default=entry.default,
                    visible=entry.visible,
                )

        return pystray.Menu(lambda: tuple(items()))

    def _menu_callback(self, action: Action | None) -> Callable[[Any, Any], None]:
        def callback(icon: Any, item: Any) -> None:  # in pystray's thread
            if action is not None:
                self.post(action)

        return callback

    # polling -----------------------------------------------------------------------------

    def fetch(self) -> Snapshot:
        """Ask the service (any thread): status, the due survey, and if one is due, whether
        the user is busy. A failure drops the client so the next poll discovers the
        service afresh (it may have restarted on another port or token)."""
        try:
            client = self.client
            if client is None:
                client = self.client = self.connect()
            status = client.status()
            raw = client.due()
        except Exception as exc:  # LocalApiError, or a bug: the tray stays up either way
            self.client = None
            code, message = error_status(exc)
            if not hasattr(exc, "status"):
                log.warning("tray: polling the service failed", exc_info=True)
            return Snapshot(failure=code, message=message)
        offer = None
        if raw:
            try:
                offer = parse_offer(raw)
            except ValueError as why:
                log.warning("tray: ignoring a malformed survey offer: %s", why)
        return Snapshot(status=dict(status), offer=offer, busy=self._busy() if offer else None)

    def _busy(self) -> bool | None:
        try:
            return self.busy()
        except Exception:
            log.warning("tray: cannot tell whether the user is busy", exc_info=True)
            return None

    def apply(self, snapshot: Snapshot) -> str:
        """Show what a poll learnt and prompt the due survey if the rules allow (Tk thread)."""
        self.view = TrayView(snapshot.status, snapshot.failure, snapshot.offer)
        if (line := status_line(self.view)) != self._logged_line:
            self._logged_line = line
            log.info("tray: %s%s", line, f" ({snapshot.message})" if snapshot.message else "")
        decision = decide(
            snapshot.offer,
            snapshot.busy,
            dialog_open=self.dialog is not None,
            prompted=self.prompted,
            now=self.clock(),
        )
        if decision == "prompt" and snapshot.offer is not None:
            if not self.open_survey(snapshot.offer, notify=True):
                decision = "nothing"
        elif decision == "hold_back" and "hold_back" not in self.decisions[-1:]:
            log.info("tray: survey %s held back while the user is busy", snapshot.offer)
        self.decisions = [*self.decisions[-19:], decision]
        self.refresh()
        return decision

    def poll_once(self) -> str:
        return self.apply(self.fetch())

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            self._queue.put(("snapshot", self.fetch()))
            self._wake.wait(self.poll_s)
            self._wake.clear()

    # acting ------------------------------------------------------------------------------

    def post(self, action: Action) -> None:
        """Queue a menu action (any thread); :meth:`pump` runs it in the Tk thread."""
        self._queue.put(("action", action))

    def pump(self) -> None:
        while not self._stopping.is_set():
            try:
                kind, item = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                if kind == "snapshot":
                    self.apply(item)
                else:
                    self.choose(item)
            except Exception:
                log.exception("tray: handling %s failed", kind)

    def choose(self, action: Action) -> None:
        """A menu entry was chosen (Tk thread)."""
        if action == "open_menu":
            self.ui.show_menu(self.entries(), self.choose)
        elif action == "survey":
            offer = self.dialog_offer or self.view.offer
            if self.dialog is not None:
                self.ui.raise_dialog()
            elif offer is not None:
                self.open_survey(offer, notify=False)
        elif action == "feedback":
            if self.dialog is not None:
                self.ui.raise_dialog()
            elif self.client is not None:
                self.dialog = "feedback"
                self.ui.open_feedback(self.client, self._dialog_closed)
        elif action == "quit":
            self.stop()

    def open_survey(self, offer: SurveyOffer, *, notify: bool) -> bool:
        """Tell the service the survey is shown, notify, and open the dialog."""
        client = self.client
        if client is None or self.dialog is not None:
            return False
        try:
            client.shown(offer.id)
        except Exception as exc:
            code, message = error_status(exc)
            log.warning("tray: cannot prompt survey %s: %s (%s)", offer.id, message, code)
            if code in (404, 409):
                self.view = replace(self.view, offer=None)
                self.refresh()
            return False
        self.prompted[offer.id] = self.clock()
        self.dialog, self.dialog_offer = "survey", offer
        if notify:
            self._notify(offer)
        self.ui.open_survey(offer, client, self._dialog_closed)
        self.refresh()
        return True

    def _notify(self, offer: SurveyOffer) -> None:
        if not getattr(self.icon, "HAS_NOTIFICATION", False):
            return
        title, message = notification(offer)
        try:
            self.icon.notify(message, title)
        except Exception:
            log.info("tray: notification not shown", exc_info=True)

    def _dialog_closed(self, outcome: Outcome) -> None:
        if outcome != "cancelled" and self.dialog == "survey":
            self.view = replace(self.view, offer=None)
        self.dialog = self.dialog_offer = None
        self.refresh()
        self._wake.set()

    def refresh(self) -> None:
        """Bring the icon's image, title and menu up to date (pystray calls log failures)."""
        look = (tone(self.view), self.dialog_offer is not None or self.view.offer is not None)
        if self._stopping.is_set() or not self._icon_alive():
            return  # pystray hands these calls to its loop's thread and waits for it
        try:
            if look != self._icon_look:
                self._icon_look = look
                self.icon.icon = draw_icon(*look)
            title = "dexpulse — " + status_line(self.view)
            if self.icon.title != title:
                self.icon.title = title
            self.icon.update_menu()
        except Exception:
            log.debug("tray: icon update failed", exc_info=True)

    # lifecycle ---------------------------------------------------------------------------

    def _icon_alive(self) -> bool:
        return self._icon_thread is None or self._icon_thread.is_alive()

    def start(self) -> None:
        """Show the icon, start polling, and have the Tk loop drain the queue."""
        self._stopping.clear()
        _quiet_dock_failures()

        def setup(icon: Any) -> None:
            try:
                icon.visible = True
            except Exception as exc:
                log.warning("tray: the icon cannot be shown: %r", exc)

        if sys.platform == "darwin":
            self.icon.run_detached(setup)
        else:
            self._icon_thread = threading.Thread(
                target=self.icon.run, args=(setup,), name="dexpulse-tray-icon", daemon=True
            )
            self._icon_thread.start()
        self._poller = threading.Thread(
            target=self._poll_loop, name="dexpulse-tray-poll", daemon=True
        )
        self._poller.start()
        self.ui.every(PUMP_S, self.pump)

    def stop(self) -> None:
        """Stop polling and the icon, and end the Tk loop (idempotent)."""
        self._stopping.set()
        self._wake.set()
        if self._icon_alive():  # a wedged pystray loop must not keep the tray from quitting
            stopper = threading.Thread(target=self._stop_icon, name="dexpulse-tray-stop")
            stopper.daemon = True
            stopper.start()
            stopper.join(timeout=2.0)
        self.ui.quit()
        for thread in (self._icon_thread, self._poller):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=1.0)

    def _stop_icon(self) -> None:
        try:
            self.icon.stop()
        except Exception:
            log.debug("tray: stopping the icon failed", exc_info=True)

    def run(self) -> int:
        self.start()
        try:
            self.ui.run()
        finally:
            self.stop()
        return 0


class _DockFailures(logging.Filter):
    """pystray's X11 backend logs "Failed to dock icon" with a traceback every time it draws
    the icon while no tray host exists; one warning that says what it means is enough."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "Failed to dock icon":
            return True
        if self.seen:
            return False
        self.seen = True
        record.msg = "no system tray on this desktop: the icon is not shown; surveys still pop up"
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


def _quiet_dock_failures() -> None:
    logger = logging.getLogger("pystray._base")
    if not any(isinstance(f, _DockFailures) for f in logger.filters):
        logger.addFilter(_DockFailures())


class TkUi:
    """:class:`Ui` on Tk. The root stays withdrawn; ``dialog`` and ``popup`` are the open
    dialog and the last popup menu, for tests to drive."""

    def __init__(self, root: tk.Tk | None = None) -> None:
        import tkinter

        self.root = root if root is not None else tkinter.Tk(className="dexpulse")
        self.root.withdraw()
        self.dialog: SurveyDialog | FeedbackDialog | None = None
        self.popup: tk.Menu | None = None

    def _closing(self, on_close: OnClose) -> OnClose:
        def closed(outcome: Outcome) -> None:
            self.dialog = None
            on_close(outcome)

        return closed

    def open_survey(self, offer: SurveyOffer, client: Client, on_close: OnClose) -> None:
        from .dialog import SurveyDialog

        self.dialog = SurveyDialog(self.root, offer, client, self._closing(on_close))

    def open_feedback(self, client: Client, on_close: OnClose) -> None:
        from .dialog import FeedbackDialog

        self.dialog = FeedbackDialog(self.root, client, self._closing(on_close))

    def raise_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.window.deiconify()
            self.dialog.window.lift()
            self.dialog.window.focus_force()

    def show_menu(self, entries: Sequence[MenuEntry], choose: Chooser) -> None:
        """The menu model as a Tk popup at the pointer (for backends without a native menu)."""
        import tkinter

        if self.popup is not None:
            self.popup.unpost()
            self.popup.destroy()
        menu = self.popup = tkinter.Menu(self.root, tearoff=False, disabledforeground="#505050")
        for entry in entries:
            if not entry.visible:
                continue
            if entry.separator:
                menu.add_separator()
                continue
            if entry.action is None or not entry.enabled:
                menu.add_command(label=entry.text, state="disabled")
            else:
                menu.add_command(label=entry.text, command=_chooser(choose, entry.action))
        x, y = self.root.winfo_pointerxy()
        menu.tk_popup(x, y)

    def every(self, interval_s: float, fn: Callable[[], None]) -> None:
        ms = max(1, round(interval_s * 1000))

        def tick() -> None:
            try:
                fn()
            finally:
                if self.root.winfo_exists():
                    self.root.after(ms, tick)

        self.root.after(ms, tick)

    def run(self) -> None:
        self.root.mainloop()

    def quit(self) -> None:
        self.root.quit()


def _chooser(choose: Chooser, action: Action) -> Callable[[], None]:
    return lambda: choose(action)


def _discover(state_dir: Path) -> Callable[[], Client]:
    from ..localclient import LocalClient

    return lambda: LocalClient.discover(state_dir)


def run_tray(state_dir: Path, *, poll_s: float = POLL_S) -> int:
    """The ``dexpulse tray`` command: run until "Quit", SIGINT or SIGTERM."""
    from .single import acquire, lock_path

    held = acquire(lock_path())
    if held is None:
        raise SystemExit("dexpulse tray is already running for this user")
    try:
        import tkinter
    except ImportError:
        raise SystemExit("dexpulse tray: Python's Tk (tkinter) is not installed") from None
    try:
        root = tkinter.Tk(className="dexpulse")
    except tkinter.TclError as exc:
        raise SystemExit(f"dexpulse tray: no graphical session ({exc})") from None
    try:
        import PIL  # noqa: F401
        import pystray  # noqa: F401
    except ImportError as exc:
        root.destroy()
        raise SystemExit(
            f"dexpulse tray: {exc}; install the tray with: pip install 'dexpulse[tray]'"
        ) from None
    except Exception as exc:  # pystray's X11 backend connects at import and may fail
        root.destroy()
        raise SystemExit(f"dexpulse tray: no system tray available ({exc})") from None
    from ..platform import Host, area

    host = Host(timeout_s=2.0)
    busy = area("busy")
    app = TrayApp(
        _discover(state_dir), ui=TkUi(root), busy=lambda: busy.user_busy(host), poll_s=poll_s
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: app.post("quit"))
    try:
        return app.run()
    finally:
        try:
            root.destroy()
        except tkinter.TclError:
            pass
