"""One ingest at a time per index: a second ``kb ingest`` (or upload) waits its turn.

An OS file lock (``flock``) is released by the kernel when its process dies, so a
``kill -9`` never leaves a stale lock behind. With ``KB_CHROMA_URL`` the lock file lives
in the local data dir, so it serialises ingests on this host only.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kb.config import Settings
from kb.errors import KBError
from kb.privacy.private_files import open_private

WAIT_MESSAGE = "Er loopt al een andere indexering op deze kennisbank; deze wacht tot die klaar is."


class IngestBusyError(KBError):
    """Another ingest held the lock for longer than we were willing to wait."""


@contextmanager
def ingest_lock(
    settings: Settings, progress: Callable[[float, str], None] | None = None, timeout_s: float = 3600
) -> Iterator[None]:
    with open_private(settings.data_dir / "ingest.lock", "a+") as handle:
        started = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told:
                    told = True
                    if progress:
                        progress(0.0, WAIT_MESSAGE)
                    else:
                        import sys

                        print(WAIT_MESSAGE, file=sys.stderr, flush=True)
                if time.monotonic() - started > timeout_s:
                    raise IngestBusyError(
                        "Een andere indexering houdt de kennisbank al meer dan een uur bezet. Probeer het later opnieuw."
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
