"""Outage detection: the pure core (no IO, no clock, no database).

Why: an access point dying, a site's WAN degrading, a bad app update or a dock driver failing
shows up as many devices that share something failing at once. The core answers, every minute,
"which group of devices that share a factor is failing more than it usually does, and which
factor explains it", and keeps the resulting outages through their lifecycle.

The flow, one module each:

* :mod:`.units`: what the core eats. A :class:`~.units.Unit` is one device's exposure to one
  thing in one minute (its Wi-Fi link, one probe target, one running app version, one attached
  peripheral) with the dimensions that describe it and whether it failed. The cohorts a unit
  belongs to (site, site+ssid, bssid, app+version, driver+version, probe target, ...) and
  their parents are declared there.
* :mod:`.minutes`: per event-time minute and cell (signal, cohort), the distinct failing and
  exposed devices; late units are folded into the minute they belong to.
* :mod:`.stats`: the beta-binomial tail test and CUSUM (device correlation makes the plain
  binomial raise alarms all day).
* :mod:`.baseline`: the expected failure rate per cell, by hour of week, shrunk toward the
  parent cohort, frozen while the cell is in an incident.
* :mod:`.localize`: which cohort explains an excess (relative risk against the rest of the
  fleet, share of the excess explained, coarsest cohort among equals).
* :mod:`.lifecycle`: open -> ongoing -> recovering -> resolved, merge and reopen.
* :mod:`.engine`: the :class:`~.engine.Detector` that runs the above minute by minute.

:mod:`.memo` holds what is derived again on demand (a unit's cells, a device's dims): caches
that pickles leave out, so a snapshot of the detector is its state only.
"""
