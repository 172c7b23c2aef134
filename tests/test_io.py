"""Atomic writes (mlp_helpers._io): a whole new file, or the old one untouched, and no debris."""
import errno
import os
import stat

import pytest

from mlp_helpers._io import atomic_write


def test_writes_text_and_bytes_readable_by_everyone(tmp_path):
    target = tmp_path / "new" / "folder" / "results.json"
    with atomic_write(target) as f:
        f.write("ℓ = -log y_c\n")
    assert target.read_text(encoding="utf-8") == "ℓ = -log y_c\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with atomic_write(target, "wb") as f:
        f.write(b"\x89PNG")
    assert target.read_bytes() == b"\x89PNG" and os.listdir(target.parent) == ["results.json"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_interrupted_write_keeps_the_old_file_and_leaves_nothing(tmp_path, error):
    target = tmp_path / "cache.npz"
    target.write_bytes(b"old")
    with pytest.raises(error):
        with atomic_write(target, "wb") as f:
            f.write(b"half a fi")
            raise error()
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["cache.npz"]


def test_mode_is_checked(tmp_path):
    with pytest.raises(ValueError, match=r"mode must be 'w' or 'wb', got 'a'"):
        with atomic_write(tmp_path / "x.txt", "a"):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error, shown", [
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "[Errno 28] No space left on device: '{}'"),
    (PermissionError(errno.EACCES, os.strerror(errno.EACCES)), "[Errno 13] Permission denied: '{}'"),
    (OSError("disk gone"), "disk gone (writing {})"),
], ids=["full disk", "permission", "no errno"])
def test_an_error_that_names_no_file_is_raised_naming_the_target(tmp_path, error, shown):
    """issue 23: a full disk while a figure was written said "No space left on device", not where."""
    target = tmp_path / "fig.png"
    with pytest.raises(OSError) as raised:
        with atomic_write(target, "wb") as f:
            f.write(b"\x89PNG")
            raise error
    assert str(raised.value) == shown.format(target)
    assert type(raised.value) is type(error) and raised.value.errno == error.errno
    assert raised.value.__cause__ is error and os.listdir(tmp_path) == []


def test_an_error_that_names_a_file_is_left_as_it_is(tmp_path):
    error = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/elsewhere")
    with pytest.raises(FileNotFoundError) as raised:
        with atomic_write(tmp_path / "x.txt"):
            raise error
    assert raised.value is error
