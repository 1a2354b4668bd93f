"""The local HTTP receiver fixture for the delivery tests (see ``notify_support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notify_support import Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 for one test; stopped and its socket closed afterwards."""
    receiver, server, thread = serve()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
