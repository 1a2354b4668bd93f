"""The local HTTP receiver fixture for the delivery tests (see ``http_receiver``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from http_receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 for one test; stopped and its socket closed afterwards."""
    with receiving() as receiver:
        yield receiver
