"""Atomic file writes, for every file the kit writes (data cache, figures, results).

A file is written to a temporary name in the target's folder and renamed over the
target only once it is complete: ``os.replace`` is atomic on one filesystem, so a
reader sees the old file or the new one, never half of one, and an interrupted
write leaves the old file as it was and no temporary file behind.
"""
import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path, mode="w", *, encoding="utf-8", permissions=0o644):
    """Open a temporary file to write ``path`` through; it replaces ``path`` on success.

    Args:
        path: str or Path of the file to create or replace (its folder is created).
        mode: "w" (text, ``encoding``) or "wb" (bytes).
        permissions: of the finished file; readable by everyone by default (a class
            cache, a figure, a results file are meant to be shared; mkstemp alone
            would make it private).
    Yields:
        the open file object. If the ``with`` body raises (KeyboardInterrupt included),
        the temporary file is deleted, ``path`` is untouched and the error propagates.

    Example::

        with atomic_write(FIGURES / "fig7.png", "wb") as f:
            fig.savefig(f, format="png")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
