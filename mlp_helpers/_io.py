"""Atomic file writes, for every file the kit writes (data cache, figures, results).

A file is written to a temporary name in the target's folder and renamed over the
target only once it is complete: ``os.replace`` is atomic on one filesystem, so a
reader sees the old file or the new one, never half of one, and an interrupted
write leaves the old file as it was and no temporary file behind. A write killed
outright (SIGKILL) cannot clean up after itself; its temporary file carries the
writer's pid, and ``remove_stale_temps`` deletes it once that process is gone.
"""
import contextlib
import os
import re
import socket
import tempfile
import time
from pathlib import Path

__all__ = ["atomic_write", "owner_tag", "pid_alive", "remove_stale_temps", "temp_pattern"]

# A temporary file or folder named without an owner tag (by an older version of the kit)
# is removed once it is this old: no write or fill takes anywhere near as long.
LEGACY_TEMP_AGE = 3600.0


def owner_tag():
    """'pid<pid>-<host>': put in temporary names, so a later process can tell whether the
    writer is still alive (see ``remove_stale_temps``)."""
    host = re.sub(r"[^A-Za-z0-9_-]", "", socket.gethostname().split(".")[0])[:40]
    return f"pid{os.getpid()}-{host}"


def pid_alive(pid):
    """True unless process ``pid`` of this machine is known to be gone (POSIX; elsewhere True)."""
    if os.name != "posix":
        return True                      # (on Windows os.kill(pid, 0) would send Ctrl-C)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                      # EPERM: alive, another user's
        return True
    return True


def _stale(match, entry, now):
    """Is a temporary entry (its name matched by an owner-tag pattern) left by a dead process?"""
    if not match.groupdict().get("pid"):  # no owner tag: an older version's leftover, judged by age
        try:
            return now - entry.stat(follow_symlinks=False).st_mtime > LEGACY_TEMP_AGE
        except OSError:
            return False
    host = owner_tag().split("-", 1)[1]
    return match.group("host") == host and not pid_alive(int(match.group("pid")))


def remove_stale_temps(folder, pattern):
    """Delete the entries of ``folder`` whose names fully match ``pattern`` and whose owner is
    gone: the process named by the pattern's ``pid`` group (on this host, group ``host``) is
    not alive, or, for names without a pid, the entry is older than LEGACY_TEMP_AGE.

    For leftovers of a process killed mid-write (SIGKILL, the OOM killer, a kernel restart):
    files are unlinked, folders removed with their contents. Returns the names removed;
    errors (a file vanishing, no permission) are skipped silently.
    """
    import shutil
    regex = re.compile(pattern)
    removed, now = [], time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = regex.fullmatch(entry.name)
        if match is None or not _stale(match, entry, now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            pass
    return removed


def temp_pattern(name):
    """The names ``atomic_write`` gives its temporary files for a target called ``name``
    (and those of older versions, without the owner tag), as a regex for remove_stale_temps."""
    return rf"\.{re.escape(name)}\.(?:pid(?P<pid>\d+)-(?P<host>[A-Za-z0-9_-]*)\.)?[a-z0-9_]+\.tmp"


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
        An OSError that names no file (a full disk, say: a failed write has no file
        name) is raised again as an OSError of the same errno naming ``path``.

    Example::

        with atomic_write(FIGURES / "fig7.png", "wb") as f:
            fig.savefig(f, format="png")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the owner tag lets a later process remove this file if we are killed mid-write
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{owner_tag()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:
            raise _naming(e, path) from e
        raise


def _naming(error, path):
    """``error``, an OSError without a file name, as one that names ``path``: the same
    errno and text ("[Errno 28] No space left on device: 'figures/fig7.png'")."""
    if error.errno is None:
        return OSError(f"{error} (writing {path})")
    return OSError(error.errno, error.strerror or os.strerror(error.errno), str(path))
