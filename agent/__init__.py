"""The dexpulse endpoint agent: samplers, spool, uploader and the ``dexpulse`` command line."""
