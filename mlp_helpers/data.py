"""The two datasets of the course.

``load_synth`` draws two classes of 2-D points split by an ellipse, with noisy
labels near the boundary, so a small network cannot reach 100% (``synth_inside`` is
the noiseless rule, ``synth_boundary`` the ellipse, for plots).

``load_mnist`` returns the real MNIST digits, split as the course uses them (55,000
train / 5,000 validation, or 60,000 / 10,000 test with ``final=True``), checked against
the facts of :mod:`mlp_helpers.mnist.facts` (label counts, first labels, shapes, the
sha256 of each array; :func:`verify_mnist`). Where the bytes come from -- the cache, IDX
files, mirrors, the package registry -- is :mod:`mlp_helpers.mnist.sources`;
``mlp-course mnist`` fills the cache ahead of a class or a CI run.
"""
import numpy as np

from ._checks import check_flag, check_positive_int, check_seed
from .mnist.facts import (FIRST_TEST_LABELS, FIRST_TRAIN_LABELS, IDX_FILES, MNIST_SHA256,  # noqa: F401
                          MNIST_SHAPES, NUM_VAL, TEST_COUNTS, TRAIN_COUNTS, NotMNIST, array_sha256,
                          verify_mnist)  # (re-exported: data.TRAIN_COUNTS, data.verify_mnist)

__all__ = [
    "load_synth", "synth_boundary", "synth_inside",
    "load_mnist", "load_mnist_head", "verify_mnist", "NotMNIST", "array_sha256",
    "TRAIN_COUNTS", "TEST_COUNTS", "FIRST_TRAIN_LABELS", "FIRST_TEST_LABELS",
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
    """n points and their noisy labels: x float32 (n, 2), t int64 (n,)."""
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
    t = (rng_labels.random(n) < p_inside).astype(np.int64)
    return x.astype(np.float32), t


def load_synth(num_train=60_000, num_val=10_000, seed=0):
    """Two overlapping classes of 2-D points: inside (1) or outside (0) an ellipse.

    Args:
        num_train, num_val: int >= 1, number of training / validation points.
        seed: int >= 0; the same seed gives the same data (numpy Generator, no
            global state). Train and validation come from independent streams of
            the seed, so the validation set does not depend on ``num_train`` and
            the first n training points are the same for every ``num_train >= n``.

    Returns:
        ((x_train, t_train), (x_val, t_val), 2) with x float32 (N, 2) and
        t int64 (N,). About half the points are in each class; about 8% of the
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
# MNIST: the loader (the facts it is checked against: mlp_helpers.mnist.facts)
# --------------------------------------------------------------------------

_MEMO = {}   # resolved cache file -> read-only float32/int64 arrays (60k train, 10k test)


def _pixels_and_labels(images, labels):
    """uint8 images (N, 28, 28) and labels (N,) -> read-only x (N, 784) float32 in [0, 1]
    (byte / 255) and t (N,) int64: the one conversion of every MNIST loader here."""
    x = images.reshape(-1, 784).astype(np.float32)
    x /= 255.0                                      # pixels 0..255 -> [0, 1]
    t = labels.astype(np.int64)
    x.flags.writeable = t.flags.writeable = False
    return x, t


def load_mnist(final=False, flatten=True, cache_dir=None, idx_dir=None, verbose=True):
    """MNIST digits as float32 pixels in [0, 1] (byte / 255) and int64 labels.

    Args:
        final: False -> ((x_train, t_train), (x_val, t_val), 10) with the first
            55,000 training images as train and the last 5,000 as validation;
            True -> ((x_train, t_train), (x_test, t_test), 10), 60,000 / 10,000.
        flatten: True -> x of shape (N, 784); False -> (N, 28, 28).
        cache_dir: where the verified cache lives (default: see
            ``mlp_helpers.mnist.sources.default_cache_dir``).
        idx_dir: a directory holding the four standard IDX files, if you have them
            (gzipped or not).
        verbose: progress bars and a one-line report on stderr for each source that
            fails; False is silent (a total failure still raises
            ``mlp_helpers.mnist.sources.MNISTUnavailable``).

    The arrays are READ-ONLY views of one in-process copy, so a second call is
    instant; use ``x.copy()`` before changing them in place.
    """
    final = check_flag(final, "final")
    flatten = check_flag(flatten, "flatten")
    verbose = check_flag(verbose, "verbose")
    from .mnist.sources import cache_file, fetch_mnist   # (the sources import the facts above)
    key = str(cache_file(cache_dir).resolve())
    if key not in _MEMO:
        arrays = fetch_mnist(cache_dir, idx_dir, verbose)
        _MEMO[key] = {split: _pixels_and_labels(arrays[f"{split}_images"], arrays[f"{split}_labels"])
                      for split in ("train", "test")}
    (x_train, t_train), (x_test, t_test) = _MEMO[key]["train"], _MEMO[key]["test"]
    if not final:   # hold out the last 5,000 training images for validation
        x_train, x_test = x_train[:-NUM_VAL], x_train[-NUM_VAL:]
        t_train, t_test = t_train[:-NUM_VAL], t_train[-NUM_VAL:]
    if not flatten:
        x_train, x_test = x_train.reshape(-1, 28, 28), x_test.reshape(-1, 28, 28)
    return (x_train, t_train), (x_test, t_test), 10


def load_mnist_head(n_train, n_val, cache_dir=None, verbose=True):
    """The first ``n_train`` training and first ``n_val`` validation images of
    ``load_mnist(final=False)``, the same values, converted alone.

    For a small subset (the explorer's 5,000 images): only these rows become float32,
    so a process that needs no more does not hold ``load_mnist``'s 220 MB of float32
    arrays (5,000 + 1,000 images: 19 MB). Most of the time of a first call is reading
    the cache either way (about 0.2 s on the 2-core machine).

    Args:
        n_train: int in [1, 55000]; n_val: int in [1, 5000]; cache_dir, verbose: as for
            ``load_mnist``.
    Returns:
        ((x_train (n_train, 784) float32, t_train (n_train,) int64), (x_val, t_val), 10),
        read-only arrays.
    """
    n_train = check_positive_int(n_train, "n_train")
    n_val = check_positive_int(n_val, "n_val")
    n_split = MNIST_SHAPES["train_images"][0] - NUM_VAL          # 55,000 (final=False)
    if n_train > n_split:
        raise ValueError(f"n_train must be at most the {n_split} training images, got {n_train}")
    if n_val > NUM_VAL:
        raise ValueError(f"n_val must be at most the {NUM_VAL} validation images, got {n_val}")
    from .mnist.sources import fetch_mnist
    arrays = fetch_mnist(cache_dir, None, check_flag(verbose, "verbose"))
    images, labels = arrays["train_images"], arrays["train_labels"]
    start = len(images) - NUM_VAL
    return (_pixels_and_labels(images[:n_train], labels[:n_train]),
            _pixels_and_labels(images[start:start + n_val], labels[start:start + n_val]), 10)
