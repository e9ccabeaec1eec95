"""CoP Kennisbank: a grounded Dutch knowledge base for civic-integration practice.

Pipeline: ``ingest`` (load → clean → chunk → embed) → ``kb.index.store`` (Chroma) →
``kb.search.retrieve`` (hybrid dense + BM25) → ``kb.answer.extractive`` (extractive, cited) → CLI / chat / eval.

Importing ``kb`` changes nothing in ``os.environ``: the offline variables
(:mod:`kb.offline`) are set by the entry points (``kb`` CLI, ``chat_app.py``, ``kb eval``).
"""

__version__ = "0.1.0"
