"""Outage detection as a collector job: the IO around the pure core in :mod:`..detection`.

* :mod:`.reader`: the sample rows ingest wrote since the last run, in arrival order, as the
  wire-format batches the core's featurizer reads.
* :mod:`.job`: the scheduled job: one replica at a time, once a minute, resumable.
* :mod:`.store`: outages, their events and the notification outbox in the database.
* :mod:`.replay`: recorded batches through ingest and the job, in event time.
* :mod:`.delivery`: the outbox sent to webhooks, Slack, Teams and TOPdesk.
"""
