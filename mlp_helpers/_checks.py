"""Validation at the boundary: the one place for the argument checks the package shares.

Every check raises ``ValueError`` -- for a wrong kind of object as well (a string
where a number belongs, a list where an array belongs), so a caller catches one
exception type -- with a message that names the argument, says what it was, and
what is allowed. On success a check returns the value, converted where it says so.

The checks: :func:`check_flag` (True/False), :func:`check_positive_int`,
:func:`check_positive_float`, :func:`check_factors` (one per epoch), :func:`check_seed`, :func:`check_label` (one class
number), :func:`check_labels` (an array of them, t), :func:`check_inputs` (an (N, D)
array x), :func:`check_params` (a weights dict) and :func:`check_params_of` (a
network's own); :func:`describe` words a value for such a message.
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


def check_labels(t, n_classes, name="t", n_examples=None):
    """Integer class labels t of shape (N,) with values in [0, n_classes)."""
    if not isinstance(t, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of integer labels, shape (N,), got {describe(t)}")
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D integer labels of shape (N,), got shape {t.shape}")
    if t.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class labels, got dtype {t.dtype}")
    if n_examples is not None and t.shape[0] != n_examples:
        raise ValueError(f"{name} must have one label per row of x ({n_examples}), got {t.shape[0]}")
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        lo, hi = int(t.min()), int(t.max())
        raise ValueError(f"{name} must be class labels in [0, {n_classes}), got values from {lo} to {hi}")
    return t


#: The weights of the two-layer network, in the order of the forward pass
PARAM_KEYS = ("W", "b", "V", "c")


def check_params(params, n_in=None, n_hidden=None, n_out=None, dtype=None, name="params",
                 convert=False, finite=True):
    """The weights of a D-H-K network: a dict of exactly 'W' (D, H), 'b' (H,), 'V' (H, K), 'c' (K,).

    The one weights-dict check: :meth:`mlp_helpers.MLP.from_params` uses it, and so do
    ``train`` and the compiled training loops of :mod:`mlp_helpers._fast`, through
    :func:`check_params_of` -- those loops write into the arrays in place without
    bounds checks, so a ``c`` one number short would let them write past its end.

    Args:
        params: the dict to check.
        n_in, n_hidden, n_out: the sizes D, H, K the arrays must have (a network's);
            a size not given is read from W (D, H) and V (H, K), with D, H >= 1, K >= 2.
        dtype: the dtype every array must have (np.float32 or np.float64); None: W's.
        name: how messages name the dict ("net.params", say).
        convert: False: each entry must already be a numpy array of ``dtype``,
            C-contiguous and writeable, and ``params`` itself is returned. True: entries
            may be arrays or nested lists of numbers; a new dict of C-contiguous copies
            in ``dtype`` is returned (``params`` is left as it was).
        finite: also require every number to be finite (no NaN or inf).
    Returns the checked dict (see ``convert``).
    """
    if not isinstance(params, dict):
        raise ValueError(f"{name} must be a dict with 'W', 'b', 'V', 'c', got {describe(params)}")
    missing = [k for k in PARAM_KEYS if k not in params]
    if missing:
        raise ValueError(f"{name} must have the keys 'W', 'b', 'V', 'c'; missing {', '.join(missing)}")
    extra = [k for k in params if k not in PARAM_KEYS]
    if extra:
        raise ValueError(f"{name} must have only the keys 'W', 'b', 'V', 'c'; it also has "
                         f"{', '.join(map(repr, extra))}")
    if convert:
        try:
            p = {k: np.array(params[k], dtype=dtype) for k in PARAM_KEYS}
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name} must hold numbers in the shapes W (D, H), b (H,), V (H, K), "
                             f"c (K,) (arrays or nested lists of equal length): {e}") from None
    else:
        p = params
        for k in PARAM_KEYS:
            if not isinstance(p[k], np.ndarray):
                raise ValueError(f"{name}[{k!r}] must be a numpy array, got {describe(p[k])}")
    dtype = np.dtype(p["W"].dtype if dtype is None else dtype)
    for k in PARAM_KEYS:
        if p[k].dtype != dtype:
            raise ValueError(f"{name}[{k!r}] must have dtype {dtype.name} (the network's), got {p[k].dtype}")
    _check_param_shapes(p, n_in, n_hidden, n_out, name)
    for k in PARAM_KEYS:
        v = p[k]
        if not v.flags.c_contiguous:
            raise ValueError(f"{name}[{k!r}] must be a C-contiguous array (the compiled training loops "
                             f"walk it row by row in memory), got a strided view with strides "
                             f"{v.strides}; give np.ascontiguousarray of it")
        if not v.flags.writeable:
            raise ValueError(f"{name}[{k!r}] must be a writeable array (training updates it in place), "
                             f"got a read-only one")
    if finite:
        for k in PARAM_KEYS:
            v = p[k]
            if not (np.isfinite(v.min()) and np.isfinite(v.max())):   # NaN makes both NaN
                count = int(np.count_nonzero(~np.isfinite(v)))
                raise ValueError(f"{name}[{k!r}] must hold finite numbers, got NaN or inf "
                                 f"({count} of its {v.size} entries)")
    return p


def check_params_of(net, finite=True):
    """``net.params`` checked against the network's own sizes and dtype (:func:`check_params`
    with n_in, n_hidden, n_out and dtype read from ``net``); returns the dict."""
    return check_params(net.params, net.n_in, net.n_hidden, net.n_out, net.dtype, name="net.params",
                        finite=finite)


def _check_param_shapes(p, n_in, n_hidden, n_out, name):
    """The shapes of check_params: W (D, H), b (H,), V (H, K), c (K,) with the sizes given."""
    W, V = p["W"], p["V"]
    if n_in is not None and n_hidden is not None:
        if W.shape != (n_in, n_hidden):
            raise ValueError(f"{name}['W'] must be (D, H) = ({n_in}, {n_hidden}) (n_in, n_hidden), "
                             f"got shape {W.shape}")
    elif W.ndim != 2 or W.size == 0:
        raise ValueError(f"{name}['W'] must be (D, H) = D rows of H numbers, got shape {W.shape}")
    D, H = W.shape
    if p["b"].shape != (H,):
        raise ValueError(f"{name}['b'] must have shape (H,) = ({H},) to match W {W.shape}, "
                         f"got {p['b'].shape}")
    if n_out is not None:
        if V.shape != (H, n_out):
            raise ValueError(f"{name}['V'] must be (H, K) = ({H}, {n_out}) (n_hidden, n_out), "
                             f"got shape {V.shape}")
    elif V.ndim != 2 or V.shape[0] != H or V.shape[1] < 2:
        raise ValueError(f"{name}['V'] must be (H, K) with H = {H} rows to match W {W.shape} "
                         f"and K >= 2 classes, got shape {V.shape}")
    K = V.shape[1]
    if p["c"].shape != (K,):
        raise ValueError(f"{name}['c'] must have shape (K,) = ({K},) to match V {V.shape}, "
                         f"got {p['c'].shape}")
