"""Run an ingest in a child process that writes slowly, so a test can kill -9 it mid-write.

Usage: python tests/crash_ingest.py DATA_DIR PATH...  — prints "upsert N" after each batch.
The store writes 4 records per batch and pauses after each one: the process, the store
and the files are real; only the pace is slowed to give the kill a wide window.
"""

import sys
import time
from pathlib import Path

from kb.config import Settings
from kb.index.store import ChunkStore
from kb.service import build_kb

ChunkStore.UPSERT_BATCH = 4
_original_add = ChunkStore.add_document


def slow_add(self, *args, **kwargs):
    collection = self._collection
    original_upsert = collection.upsert
    counter = {"n": 0}

    def upsert(**kw):
        original_upsert(**kw)
        counter["n"] += 1
        print(f"upsert {counter['n']}", flush=True)
        time.sleep(0.4)

    self._collection = type(
        "Slow", (), {"upsert": staticmethod(upsert), "__getattr__": lambda s, n: getattr(collection, n)}
    )()
    try:
        return _original_add(self, *args, **kwargs)
    finally:
        self._collection = collection


ChunkStore.add_document = slow_add

if __name__ == "__main__":
    kb = build_kb(Settings().with_(data_dir=Path(sys.argv[1])))
    print("ready", flush=True)
    report = kb.ingest([Path(p) for p in sys.argv[2:]])
    print("done", report.summary_nl(), flush=True)
