"""The Tk dialogs of the tray: answer a pulse survey, or volunteer feedback.

A survey dialog shows the question, five rating buttons (1 = very poor ... 5 = excellent) or
Yes/No, a comment box when the survey offers one, whether the answer is anonymous, and
"Submit", "Remind me later" and "Dismiss". Closing the window counts as "Remind me later"
(the service then waits at least 12 h): the user said "not now", not "never".

The dialog sends through the client itself and stays open with a message when the service
refuses or is not running, so nothing the user typed is lost. It is driven by people and by
tests alike: every widget a test needs is an attribute, and :meth:`choose_rating`,
:meth:`set_comment`, :meth:`submit` ... do what the matching clicks do. Keys: 1-5 pick a
rating and Y/N an answer (outside the comment box), Return submits, Escape means "later",
Alt+S / Alt+L / Alt+D press the buttons.

Widgets are created in the thread that runs Tk (the main thread, see :mod:`.app`).
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont
from typing import Literal, TypeAlias

from .logic import (
    RATING_LABELS,
    Answer,
    Client,
    InvalidAnswer,
    SurveyOffer,
    anonymity_line,
    error_status,
    failure_text,
    validate_answer,
    validate_feedback,
)

log = logging.getLogger(__name__)

Outcome: TypeAlias = Literal["answered", "snoozed", "dismissed", "sent", "cancelled", "gone"]
"""How a dialog ended; ``gone`` is a survey the service no longer has."""
OnClose: TypeAlias = Callable[[Outcome], None]

SURVEY_TITLE = "dexpulse survey"
FEEDBACK_TITLE = "dexpulse feedback"
FEEDBACK_QUESTION = "How well is your computer working for you?"
_PAD = 12
_SELECTED = "#cfe3ff"
_ERROR = "#b00020"


def _on_event(command: Callable[[], object]) -> Callable[[tk.Event[tk.Misc]], None]:
    def handler(_event: tk.Event[tk.Misc]) -> None:
        command()

    return handler


def _alt_held(event: tk.Event[tk.Misc]) -> bool:
    return isinstance(event.state, int) and bool(event.state & 0x8)  # Mod1 is Alt on X11


class _Dialog:
    """The parts the survey and feedback dialogs share: window, rating row, comment box,
    message line, sending through the client and closing."""

    def __init__(self, master: tk.Misc, client: Client, title: str, on_close: OnClose | None):
        self.client = client
        self.on_close = on_close
        self.outcome: Outcome | None = None
        self.window = tk.Toplevel(master, padx=_PAD, pady=_PAD)
        self.window.withdraw()  # mapped by _place once its size and position are known
        self.window.title(title)
        self.window.resizable(False, False)
        self.rating = tk.IntVar(self.window, value=0)
        self.rating_buttons: dict[int, tk.Radiobutton] = {}
        self.comment_box: tk.Text | None = None
        self.message_label = tk.Label(self.window, fg=_ERROR, anchor="w", justify="left")
        self.window.bind("<Key>", self._key)
        self.window.bind("<Escape>", lambda _e: self._escape())

    # building blocks -------------------------------------------------------------------

    def _heading(self, text: str, question: str) -> None:
        tk.Label(self.window, text=text, fg="#555555", anchor="w").pack(fill="x")
        self._question_font = tkfont.nametofont("TkDefaultFont", root=self.window).copy()
        self._question_font.configure(size=12, weight="bold")
        tk.Label(
            self.window,
            text=question,
            font=self._question_font,
            wraplength=440,
            justify="left",
            anchor="w",
        ).pack(fill="x", pady=(4, _PAD))

    def _rating_row(self) -> None:
        row = tk.Frame(self.window)
        row.pack(fill="x")
        for value, label in RATING_LABELS.items():
            button = tk.Radiobutton(
                row,
                text=f"{value}\n{label}",
                value=value,
                variable=self.rating,
                indicatoron=False,
                selectcolor=_SELECTED,
                width=9,
                pady=6,
                command=self._changed,
            )
            button.pack(side="left", padx=2)
            self.rating_buttons[value] = button

    def _comment(self, label: str) -> None:
        tk.Label(self.window, text=label, anchor="w").pack(fill="x", pady=(_PAD, 2))
        self.comment_box = tk.Text(
            self.window, height=4, width=56, wrap="word", undo=True, font="TkDefaultFont"
        )
        self.comment_box.pack(fill="x")

    def _buttons(self, *specs: tuple[str, int, Callable[[], object]]) -> list[tk.Button]:
        """Buttons right-aligned in the order given, the last being the default action."""
        self.message_label.pack(fill="x", pady=(6, 0))
        row = tk.Frame(self.window)
        row.pack(fill="x", pady=(_PAD, 0))
        made = []
        for text, underline, command in specs:
            button = tk.Button(row, text=text, underline=underline, command=command, padx=10)
            self.window.bind(f"<Alt-{text[underline].lower()}>", _on_event(command))
            made.append(button)
        for button in reversed(made):
            button.pack(side="right", padx=(6, 0))
        made[-1].configure(default="active")
        return made

    def _place(self) -> None:
        """Show centred on the screen, in front, with the keyboard focus."""
        self.window.update_idletasks()
        width, height = self.window.winfo_reqwidth(), self.window.winfo_reqheight()
        x = max(0, (self.window.winfo_screenwidth() - width) // 2)
        y = max(0, (self.window.winfo_screenheight() - height) // 3)
        self.window.geometry(f"+{x}+{y}")
        self.window.deiconify()
        self.window.attributes("-topmost", True)
        self.window.lift()
        self.window.focus_force()

    # what the user does ----------------------------------------------------------------

    def choose_rating(self, value: int) -> None:
        self.rating_buttons[value].invoke()

    def set_comment(self, text: str) -> None:
        if self.comment_box is None:
            raise ValueError("this dialog has no comment box")
        self.comment_box.delete("1.0", "end")
        self.comment_box.insert("1.0", text)

    def comment(self) -> str | None:
        return self.comment_box.get("1.0", "end-1c") if self.comment_box is not None else None

    def _chosen_rating(self) -> int | None:
        return self.rating.get() or None

    def _changed(self) -> None:
        self.message_label.configure(text="")

    def _key(self, event: tk.Event[tk.Misc]) -> None:
        if event.widget is self.comment_box or _alt_held(event):
            return
        if event.char in ("1", "2", "3", "4", "5") and self.rating_buttons:
            self.choose_rating(int(event.char))
        elif event.keysym == "Return":
            self._default()

    def _default(self) -> None:
        raise NotImplementedError

    def _escape(self) -> None:
        raise NotImplementedError

    def _send(self, call: Callable[[], None]) -> bool:
        """Run ``call``; on failure say why in the dialog (which stays open) and log it."""
        try:
            call()
        except Exception as exc:  # a LocalApiError, or anything else: the UI must not die
            status, message = error_status(exc)
            text, gone = failure_text(status, message)
            log.warning("tray: sending to the service failed: %s (%s)", message, status)
            self.message_label.configure(text=text)
            if gone:
                self._gone()
            return False
        return True

    def _gone(self) -> None:
        self.outcome = "gone"

    def close(self, outcome: Outcome) -> None:
        """Destroy the window and report ``outcome`` (once)."""
        if self.outcome not in (None, "gone"):
            return
        self.outcome = outcome
        if self.window.winfo_exists():
            self.window.destroy()
        if self.on_close is not None:
            self.on_close(outcome)


class SurveyDialog(_Dialog):
    """One survey offer; sends answer/snooze/dismiss for ``offer.id`` through ``client``."""

    def __init__(
        self,
        master: tk.Misc,
        offer: SurveyOffer,
        client: Client,
        on_close: OnClose | None = None,
    ) -> None:
        super().__init__(master, client, SURVEY_TITLE, on_close)
        self.offer = offer
        self.yes_no = tk.StringVar(self.window, value="unset")  # "" would look half-selected
        self.yes_button: tk.Radiobutton | None = None
        self.no_button: tk.Radiobutton | None = None
        self._heading("A quick question from your IT team", offer.question)
        if offer.answer == "rating":
            self._rating_row()
        else:
            row = tk.Frame(self.window)
            row.pack(fill="x")
            self.yes_button, self.no_button = (
                tk.Radiobutton(
                    row,
                    text=text,
                    value=text.lower(),
                    variable=self.yes_no,
                    indicatoron=False,
                    selectcolor=_SELECTED,
                    width=9,
                    pady=6,
                    command=self._changed,
                )
                for text in ("Yes", "No")
            )
            self.yes_button.pack(side="left", padx=2)
            self.no_button.pack(side="left", padx=2)
        if offer.comment:
            self._comment("Comment (optional)")
        self.anonymity_label = tk.Label(
            self.window, text=anonymity_line(offer.anonymous), fg="#555555", anchor="w"
        )
        self.anonymity_label.pack(fill="x", pady=(_PAD, 0))
        self.dismiss_button, self.later_button, self.submit_button = self._buttons(
            ("Dismiss", 0, self.dismiss),
            ("Remind me later", 10, self.later),
            ("Submit", 0, self.submit),
        )
        self.window.protocol("WM_DELETE_WINDOW", self._window_closed)
        self._place()

    def choose_yes_no(self, value: bool) -> None:
        button = self.yes_button if value else self.no_button
        if button is None:
            raise ValueError("this survey asks for a rating, not yes/no")
        button.invoke()

    def _key(self, event: tk.Event[tk.Misc]) -> None:
        if self.yes_button is not None and event.widget is not self.comment_box:
            if not _alt_held(event) and event.char.lower() in ("y", "n"):
                self.choose_yes_no(event.char.lower() == "y")
                return
        super()._key(event)

    def answer(self) -> Answer:
        """What the dialog would send now; InvalidAnswer if the question is unanswered."""
        chosen = self.yes_no.get()
        return validate_answer(
            self.offer,
            self._chosen_rating(),
            None if chosen not in ("yes", "no") else chosen == "yes",
            self.comment(),
        )

    def submit(self) -> bool:
        """Send the answer; False (and a message in the dialog) if it was not sent."""
        if self.outcome == "gone":
            return False
        try:
            answer = self.answer()
        except InvalidAnswer as why:
            self.message_label.configure(text=str(why))
            return False
        sent = self._send(
            lambda: self.client.answer(
                self.offer.id, rating=answer.rating, yes_no=answer.yes_no, comment=answer.comment
            )
        )
        if sent:
            self.close("answered")
        return sent

    def later(self) -> bool:
        """Remind me later (the service waits at least 12 h)."""
        if self.outcome == "gone":
            self.close("gone")
            return True
        if self._send(lambda: self.client.snooze(self.offer.id)):
            self.close("snoozed")
            return True
        return False

    def dismiss(self) -> bool:
        """Do not ask this survey again."""
        if self.outcome == "gone":
            self.close("gone")
            return True
        if self._send(lambda: self.client.dismiss(self.offer.id)):
            self.close("dismissed")
            return True
        return False

    def _default(self) -> None:
        self.submit()

    def _escape(self) -> None:
        self._window_closed()

    def _window_closed(self) -> None:
        """The window's close button: "later" if it can be sent, and closed regardless."""
        if not self.later():
            self.close("gone" if self.outcome == "gone" else "cancelled")

    def _gone(self) -> None:
        super()._gone()
        for button in (self.submit_button, self.later_button):
            button.configure(state="disabled")
        self.dismiss_button.configure(text="Close")


class FeedbackDialog(_Dialog):
    """The menu's "Give feedback": a 1-5 rating and an optional comment."""

    def __init__(self, master: tk.Misc, client: Client, on_close: OnClose | None = None) -> None:
        super().__init__(master, client, FEEDBACK_TITLE, on_close)
        self._heading("Tell your IT team", FEEDBACK_QUESTION)
        self._rating_row()
        self._comment("What works, what does not? (optional)")
        self.anonymity_label = tk.Label(
            self.window, text=anonymity_line(False), fg="#555555", anchor="w"
        )  # feedback is named: it counts in this device's experience score
        self.anonymity_label.pack(fill="x", pady=(_PAD, 0))
        self.cancel_button, self.submit_button = self._buttons(
            ("Cancel", 0, self.cancel), ("Submit", 0, self.submit)
        )
        self.window.protocol("WM_DELETE_WINDOW", self.cancel)
        self._place()

    def submit(self) -> bool:
        try:
            answer = validate_feedback(self._chosen_rating(), self.comment())
        except InvalidAnswer as why:
            self.message_label.configure(text=str(why))
            return False
        rating = answer.rating
        assert rating is not None
        if self._send(lambda: self.client.feedback(rating, answer.comment)):
            self.close("sent")
            return True
        return False

    def cancel(self) -> None:
        self.close("cancelled")

    def _default(self) -> None:
        self.submit()

    def _escape(self) -> None:
        self.cancel()
