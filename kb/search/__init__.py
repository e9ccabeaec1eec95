"""Retrieval: dense + keyword fusion, keyword scoring, lexicon, passage quality."""
