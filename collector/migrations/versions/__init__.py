"""Alembic revision scripts, applied in order by ``dexpulse collector migrate``."""
