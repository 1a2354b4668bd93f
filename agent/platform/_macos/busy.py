"""Is the user busy? On macOS: not known, so always None ("cannot tell").

macOS offers no public, permission-free API that says "the user is presenting / in a
full-screen app / in a Focus": the Focus state is only readable from private files (and
needs Full Disk Access), full-screen detection through ``CGWindowListCopyWindowInfo`` depends on
window bounds heuristics and Screen Recording permission for window names, and the display
sleep assertions of ``pmset -g assertions`` are also held by any video call or playing
video, so they would hold surveys back far too often. None here makes the tray rely on the
service's throttling (one survey a day at most, quiet hours, weekends); the notification the
tray shows through Notification Center is itself silenced by the user's Focus.
"""

from __future__ import annotations

from ..host import Host


def user_busy(host: Host) -> bool | None:
    return None
