"""Windows peripheral failures: devices that "had a problem starting" (Kernel-PnP 411).

One log source, ``pnp``: ``wevtutil qe Microsoft-Windows-Kernel-PnP/Configuration`` for
EventID 411 since the sampler's mark (see :mod:`.eventlog`), each event mapped by
:func:`dexpulse.agent.parsers.wevt.event_samples` to a PeripheralFailureSample: the device
instance id, ``problem code N`` (CM_PROB_*) and the NTSTATUS, the driver service, vendor and
product ids, the device class. 410 ("device started") is not a failure and is not read.

Kernel-PnP writes 410/411 to its ``Configuration`` channel (not the System log, which has no
such events); the channel is enabled by default and readable by users. Not readable: NoData.

No file sources (printers and Bluetooth failures have their own logs, not read yet).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dexpulse.schema.events import PeripheralFailureSample

from ..host import Host
from ..logbatch import Batch
from .eventlog import event_batch

PNP_LOG = "Microsoft-Windows-Kernel-PnP/Configuration"
PNP_EVENTS = (411,)


def pnp_failures(host: Host, since: datetime, now: datetime) -> Batch:
    """Kernel-PnP 411 events since ``since`` as PeripheralFailureSamples."""
    return event_batch(host, "pnp", PNP_LOG, PNP_EVENTS, PeripheralFailureSample, since, now)


LOG_SOURCES: dict[str, Callable[[Host, datetime, datetime], Batch]] = {"pnp": pnp_failures}
FILE_SOURCES: dict[
    str,
    Callable[
        [Host, dict[str, Any] | None, datetime],
        tuple[list[PeripheralFailureSample], dict[str, Any]],
    ],
] = {}
