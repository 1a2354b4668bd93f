"""The IT console: server-rendered pages under /console (see pages.py)."""
