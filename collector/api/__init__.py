"""HTTP routes of the collector, one router per module, mounted by ``app.create_app``."""
