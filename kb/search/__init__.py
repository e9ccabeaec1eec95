"""Retrieval: the question analysed once (query), dense + keyword fusion (retrieve), keyword scoring,
lexicon, passage quality; the fitted defaults (defaults) and the protocol every retriever meets."""
