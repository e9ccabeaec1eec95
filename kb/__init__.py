"""CoP Kennisbank: a grounded Dutch knowledge base for civic-integration practice.

Pipeline: ``ingest`` (load → clean → chunk → embed) → ``kb.store`` (Chroma) →
``kb.retrieve`` (hybrid dense + BM25) → ``kb.answer`` (extractive, cited) → CLI / chat / eval.
"""

from kb.offline import apply_offline_env

apply_offline_env()

__version__ = "0.1.0"
