"""Files at rest are for the service account only: data folder 0700, files 0600.

The index, feedback, lock files and logs live in ``KB_DATA_DIR``. A folder that others can
read would hand questions and ratings to every user of a shared server, so the folder is
created private, an existing one is tightened when the knowledge base opens, and the CLI
and app set a umask so that files Chroma creates later are private too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def private_umask() -> int:
    """Make files and folders this process creates private; returns the previous umask."""
    return os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def tighten(root: Path) -> None:
    """Make ``root`` 0700 and everything in it 0700 (folders) or 0600 (files).

    Data folders made before this existed were 755/644.
    """
    if not root.is_dir():
        return
    private_dir(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            _chmod(Path(folder) / name, DIR_MODE)
        for name in files:
            _chmod(Path(folder) / name, FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    try:
        if not path.is_symlink():
            os.chmod(path, mode)
    except OSError:  # a file Chroma replaced meanwhile, or one we do not own: not ours to fix
        pass


@contextmanager
def open_private(path: Path, mode: str = "a") -> Iterator[IO[str]]:
    """Open a text file that is created 0600 (and made 0600 if it was not)."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    if mode.startswith("a+"):
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, mode, encoding="utf-8") as handle:
        yield handle
