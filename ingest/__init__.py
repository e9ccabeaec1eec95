"""Ingestion: load files, clean page furniture, chunk into quotable passages, embed, store."""
