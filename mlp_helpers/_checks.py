"""Validation at the boundary: the one place for the argument checks the package shares.

Every check raises ``ValueError`` -- for a wrong kind of object as well (a string
where a number belongs, a list where an array belongs), so a caller catches one
exception type -- with a message that names the argument, says what it was, and
what is allowed. On success a check returns the value, converted where it says so.

The checks: :func:`check_flag` (True/False), :func:`check_positive_int`,
:func:`check_positive_float`, :func:`check_factors` (one per epoch), :func:`check_seed`, :func:`check_label` (one class
number), :func:`check_labels` (an array of them), :func:`check_inputs` (an (N, D)
array); :func:`describe` words a value for such a message.
"""
import math
import numbers

import numpy as np


def describe(value):
    """A value as a message shows it: an array by its shape and dtype, else repr and type."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{value!r} ({type(value).__name__})"


def check_flag(value, name):
    """True or False (a Python or numpy bool; 0 and 1 are refused); returns a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_label(label, n_classes, name="label"):
    """One class number: an integer in [0, n_classes) (not a bool); returns it as int."""
    if isinstance(label, bool) or not isinstance(label, numbers.Integral):
        raise ValueError(f"{name} must be an integer class in [0, {n_classes}), got {describe(label)}")
    if not 0 <= label < n_classes:
        raise ValueError(f"{name} must be a class in [0, {n_classes}), got {label!r}")
    return int(label)


def check_positive_float(value, name):
    """A finite real number > 0 (a learning rate, say); returns it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number > 0, got {describe(value)}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def check_positive_int(value, name, minimum=1):
    """A whole number >= minimum (batch size, epochs, layer sizes); returns it as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_factors(factors, epochs, name="lr_schedule"):
    """One learning-rate factor per epoch: a sequence of ``epochs`` finite numbers > 0.

    ``factors`` must already be a sequence (the callers word that check: each allows
    different things besides); returns the factors as a tuple of floats.
    """
    if len(factors) != epochs:
        raise ValueError(f"{name} must have one factor per epoch ({epochs}), got {len(factors)}")
    return tuple(check_positive_float(f, f"{name}[{i}]") for i, f in enumerate(factors))


def check_seed(value, name="seed"):
    """A seed for ``np.random.default_rng``: a whole number >= 0; returns it as int.

    The one seed check of the package (MLP, train, load_synth, RunConfig use it).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= 0, got {describe(value)}")
    if value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _first_bad(mask):
    """(row, column) of the first True entry of a 2-D boolean mask."""
    i, j = np.unravel_index(int(np.argmax(mask)), mask.shape)
    return int(i), int(j)


def check_inputs(x, name="x", n_features=None, allow_1d=False, dtype=None):
    """A real-valued, finite array of shape (N, D) with N >= 1 (D == n_features if given).

    With ``dtype`` (the dtype the caller will cast x to, e.g. a network's float32),
    finiteness is checked for the cast values: an entry such as 1e39 is finite in
    float64 but inf in float32, and is refused, naming the value.

    Returns the array unchanged (no copy); a 1-D array of length D is accepted as
    one row when ``allow_1d``.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of shape (N, D), got {describe(x)}")
    if x.ndim == 1 and allow_1d:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (N, D) (rows are examples), got shape {x.shape}")
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); give at least one example")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} columns (one per input), got shape {x.shape}")
    if x.dtype.kind != "f":
        return x
    # every entry is finite exactly when the smallest and the largest are (a NaN makes both
    # NaN, an inf is one of them): two passes, no (N, D) mask (43 MB for MNIST) unless bad
    low, high = x.min(), x.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = ~np.isfinite(x)
        i, j = _first_bad(bad)
        raise ValueError(f"{name} must be finite, but {int(np.count_nonzero(bad))} entries are NaN or inf "
                         f"(the first, at row {i}, column {j}, is {float(x[i, j])!r})")
    if dtype is not None and max(-low, high) > np.finfo(dtype).max:   # finite here, inf once cast
        limit = np.finfo(dtype).max
        big = np.abs(x) > limit
        i, j = _first_bad(big)
        raise ValueError(
            f"{name} must be finite in {np.dtype(dtype).name} (|x| <= {float(limit):.4g}, the "
            f"network's dtype), but {int(np.count_nonzero(big))} entries are out of that range "
            f"(the first, at row {i}, column {j}, is {float(x[i, j])!r}, which would become inf)")
    return x


def check_labels(y, n_classes, name="y", n_examples=None):
    """Integer class labels of shape (N,) with values in [0, n_classes)."""
    if not isinstance(y, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of integer labels, shape (N,), got {describe(y)}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D integer labels of shape (N,), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if n_examples is not None and y.shape[0] != n_examples:
        raise ValueError(f"{name} must have one label per row of x ({n_examples}), got {y.shape[0]}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        lo, hi = int(y.min()), int(y.max())
        raise ValueError(f"{name} must be class labels in [0, {n_classes}), got values from {lo} to {hi}")
    return y
