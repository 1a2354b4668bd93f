"""Experience scores in the collector: the job that materializes them from samples (the
arithmetic is the pure core in :mod:`dexpulse.collector.scoring`)."""
