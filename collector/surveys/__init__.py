"""Pulse surveys on the collector: campaigns, the surveys put to devices, answers, results.

``plan`` decides, purely, who is asked what and when; ``results`` adds answers up, hiding
small groups; ``store`` and ``job`` are the database edges; the HTTP API is ``api.surveys``.
"""
