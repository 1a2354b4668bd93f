"""Is the user busy? On Windows, as ``SHQueryUserNotificationState`` says.

The shell tells any process of the user's session whether it is a good moment for a
notification: it answers QUNS_BUSY (a full-screen application), QUNS_RUNNING_D3D_FULL_SCREEN
(a full-screen game or video), QUNS_PRESENTATION_MODE (presentation settings are on),
QUNS_QUIET_TIME (the quiet hours after a first sign-in), QUNS_NOT_PRESENT (screen saver, locked
screen, or another user's session in front), QUNS_ACCEPTS_NOTIFICATIONS, or QUNS_APP (a Store
app is running). The first five hold a survey back: nobody could see it, or it would
interrupt. The tray runs in the user's session, where the call means something (in the
service's session 0 it would not).

``ctypes.windll`` exists only on Windows; it is loaded inside :func:`_query`, so the module
imports, and :func:`state_busy` is tested, everywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..host import Host

QUNS_NOT_PRESENT = 1
QUNS_BUSY = 2
QUNS_RUNNING_D3D_FULL_SCREEN = 3
QUNS_PRESENTATION_MODE = 4
QUNS_ACCEPTS_NOTIFICATIONS = 5
QUNS_QUIET_TIME = 6
QUNS_APP = 7

BUSY = frozenset(
    {
        QUNS_NOT_PRESENT,
        QUNS_BUSY,
        QUNS_RUNNING_D3D_FULL_SCREEN,
        QUNS_PRESENTATION_MODE,
        QUNS_QUIET_TIME,
    }
)
FREE = frozenset({QUNS_ACCEPTS_NOTIFICATIONS, QUNS_APP})


def state_busy(state: int | None) -> bool | None:
    """True/False for a known QUERY_USER_NOTIFICATION_STATE value, None for anything else."""
    if state in BUSY:
        return True
    if state in FREE:
        return False
    return None


def _query() -> int | None:
    if sys.platform == "win32":
        import ctypes

        state = ctypes.c_int(0)
        if ctypes.windll.shell32.SHQueryUserNotificationState(ctypes.byref(state)) == 0:
            return int(state.value)
    return None


QUERY: Callable[[], int | None] = _query
"""The shell call (S_OK -> the state, else None); replaced in tests."""


def user_busy(host: Host) -> bool | None:
    try:
        return state_busy(QUERY())
    except OSError:
        return None
