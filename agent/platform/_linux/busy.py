"""Is the user busy (a full-screen window in front)? On X11, as the window manager says.

The tray holds a survey back while the user presents or watches something full screen. On
X11 the window manager publishes the focused window on the root window
(``_NET_ACTIVE_WINDOW``) and each window's state (``_NET_WM_STATE``, which lists
``_NET_WM_STATE_FULLSCREEN`` for a full-screen one), both from the EWMH specification; they
are read with two ``xprop`` calls through the injectable :class:`Host` runner.

Under Wayland there is no such public signal (XWayland only sees X11 clients), and without
``xprop`` or an EWMH window manager there is nothing to read: the answer is then None, "cannot
tell", and the tray prompts as the service's throttling allows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..host import Host, NoData

ACTIVE_WINDOW = ("xprop", "-root", "_NET_ACTIVE_WINDOW")
FULLSCREEN = "_NET_WM_STATE_FULLSCREEN"
_WINDOW_ID = re.compile(r"window id #\s*(0x[0-9a-fA-F]+)")


def state_argv(window_id: str) -> tuple[str, ...]:
    """The exact argv reading one window's ``_NET_WM_STATE``."""
    return ("xprop", "-id", window_id, "_NET_WM_STATE")


def active_window(text: str) -> str | None:
    """The id in ``_NET_ACTIVE_WINDOW(WINDOW): window id # 0x3a00007``; "0x0" when nothing is
    focused; None when the property is missing (``_NET_ACTIVE_WINDOW:  not found.``)."""
    found = _WINDOW_ID.search(text)
    return found.group(1).lower() if found else None


def is_fullscreen(text: str) -> bool:
    """``_NET_WM_STATE(ATOM) = _NET_WM_STATE_FULLSCREEN, _NET_WM_STATE_FOCUSED`` -> True;
    an empty list or ``_NET_WM_STATE:  not found.`` -> False."""
    _, sep, atoms = text.partition("=")
    return bool(sep) and FULLSCREEN in (atom.strip() for atom in atoms.split(","))


def user_busy(host: Host, env: Mapping[str, str] | None = None) -> bool | None:
    """True if the focused window is full screen, False if not, None if it cannot be told."""
    env = os.environ if env is None else env
    if not env.get("DISPLAY"):
        return None
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return None
    try:
        window = active_window(host.command(*ACTIVE_WINDOW))
        if window is None:
            return None
        if int(window, 16) == 0:
            return False
        return is_fullscreen(host.command(*state_argv(window)))
    except NoData:  # no xprop, no X server, or the window closed in between
        return None
