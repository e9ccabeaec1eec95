"""Ingestion: load files, clean page furniture, chunk into quotable passages, embed, store."""

from kb.offline import apply_offline_env

apply_offline_env()
