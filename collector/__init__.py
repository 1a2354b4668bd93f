"""The dexpulse collector: enrollment, ingestion, storage and the IT API (FastAPI)."""
