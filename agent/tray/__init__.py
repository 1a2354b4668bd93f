"""The per-user tray app: pulse surveys and a status line, talking only to the local agent.

The agent service runs once per machine with the rights to collect; the tray runs once per
logged-in user, with that user's rights, and reaches the service only over its loopback API
(``dexpulse.agent.localclient``). It is split so that the service, which imports
``dexpulse.agent`` on every laptop, never pays for a GUI toolkit:

* :mod:`.logic` is pure: the menu, the status wording, when to prompt, answer validation;
* :mod:`.dialog` is the Tk survey and feedback dialog;
* :mod:`.app` wires them to a pystray icon and a poll loop (``dexpulse tray``).

pystray, Pillow and Tk are imported only when the tray actually starts.
"""
