"""The two-layer network with Python floats: lists, loops and the ``math`` module only.

Every number is a Python ``float`` and every sum is an explicit loop, so each line
can be read against the report's equations. The notation is the report's:

    z_j = sum_i x_i W_ij + b_j          hidden pre-activation   (H values)
    h_j = sigmoid(z_j)                  hidden activation       (H values)
    o_k = sum_j h_j V_jk + c_k          logits                  (K values)
    y_k = softmax(o)_k                  class probabilities     (K values)
    l   = -log y_label                  cross-entropy loss of one example

Shapes as nested lists: ``x`` has D floats, ``W`` is D lists of H floats, ``b`` has
H floats, ``V`` is H lists of K floats, ``c`` has K floats. Any D, H, K >= 1 work.

The numpy version of the same network is :class:`mlp_helpers.network.MLP`; the
tests check that both agree to 1e-12 on the same float64 weights.

Typical use::

    from mlp_helpers import scalar
    loss, grads = scalar.forward_backward(**scalar.worked_example())
    params = scalar.init_params(2, 3, 2, seed=0)
    running = scalar.train_sgd(xs, labels, params, lr=0.01, epochs=1, log_every=1000)
"""
import math
import numbers
import random

from ._checks import check_label, check_positive_float, check_positive_int, check_seed

__all__ = [
    "sigmoid",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "one_hot",
    "weighted_sums",
    "forward",
    "loss_grad_y",
    "softmax_jacobian",
    "loss_grad_o_via_jacobian",
    "backward",
    "forward_backward",
    "layer_sizes",
    "zeros",
    "init_params",
    "sgd_step",
    "train_sgd",
    "worked_example",
]

PARAM_NAMES = ("W", "b", "V", "c")


# --------------------------------------------------------------------------------------
# Activations and loss, one number or one list at a time
# --------------------------------------------------------------------------------------

def sigmoid(z):
    """The logistic function 1 / (1 + e^-z) of one float, without overflow.

    For z >= 0 we use 1 / (1 + e^-z); for z < 0 the same value written as
    e^z / (1 + e^z). Either way the exponent is <= 0, so ``math.exp`` never
    overflows, and sigmoid(-1000) is 0.0 rather than an OverflowError.
    """
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def softmax(o):
    """Class probabilities y_k = e^{o_k} / sum_j e^{o_j} for K logits (list of floats).

    Softmax does not change when the same number is subtracted from every logit,
    so we subtract the largest: every exponent is then <= 0 and nothing overflows.
    Returns a list of K floats that sum to 1.
    """
    top = max(o)
    exps = [math.exp(o_k - top) for o_k in o]
    total = sum(exps)
    return [e / total for e in exps]


def log_softmax(o):
    """log y_k = (o_k - max) - log(sum_j e^{o_j - max}) for K logits (list of floats).

    The log of a probability computed straight from the logits: no exp of a large
    number and no log of 0, so the loss stays finite even for a hugely wrong logit.
    """
    top = max(o)
    log_total = math.log(sum(math.exp(o_k - top) for o_k in o))
    return [(o_k - top) - log_total for o_k in o]


def cross_entropy(o, label):
    """The loss of one example, l = -log y_label, from the K logits ``o`` (via log-softmax)."""
    return -log_softmax(o)[label]


def one_hot(label, K):
    """The target vector t: K floats, t_k = 1 if k == label else 0."""
    return [1.0 if k == label else 0.0 for k in range(K)]


# --------------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------------

def forward(x, W, b, V, c):
    """Run the network on one example and keep every intermediate value.

    Args:
        x: D floats. W: D lists of H floats. b: H floats. V: H lists of K floats. c: K floats.
    Returns:
        dict with 'z' (H floats), 'h' (H floats), 'o' (K floats), 'y' (K floats).
    """
    x, W, b, V, c = _as_floats(x, W, b, V, c)
    return _forward(x, W, b, V, c)


def weighted_sums(inputs, weights, bias):
    """One layer's weighted sums: out_j = sum_i inputs_i weights_ij + bias_j.

    Args: inputs, n floats; weights, n lists of m floats; bias, m floats.
    Returns m floats. z = weighted_sums(x, W, b) and o = weighted_sums(h, V, c).
    """
    out = [0.0] * len(bias)
    for j in range(len(bias)):
        total = bias[j]
        for i in range(len(inputs)):
            total += inputs[i] * weights[i][j]
        out[j] = total
    return out


def _forward(x, W, b, V, c):
    # z_j = sum_i x_i W_ij + b_j: each hidden unit adds up its weighted inputs.
    z = weighted_sums(x, W, b)
    # h_j = sigmoid(z_j): squash each unit into (0, 1).
    h = [sigmoid(z_j) for z_j in z]
    # o_k = sum_j h_j V_jk + c_k: the same weighted sum, one layer up.
    o = weighted_sums(h, V, c)
    # y = softmax(o): turn the logits into probabilities.
    y = softmax(o)
    return {"z": z, "h": h, "o": o, "y": y}


# --------------------------------------------------------------------------------------
# The derivatives of the loss with respect to y and o, two ways
# --------------------------------------------------------------------------------------

def loss_grad_y(y, label):
    """dl/dy for l = -log y_label (report eq. 1.1): -1/y_label at the true class, 0 elsewhere.

    Args: y, K floats (probabilities); label, int in [0, K).
    Returns K floats. If y_label has underflowed to 0 the entry is -inf: one reason
    the network never goes through dl/dy in practice (see :func:`backward`).
    """
    g = [0.0] * len(y)
    g[label] = -1.0 / y[label] if y[label] > 0 else -math.inf
    return g


def softmax_jacobian(y):
    """The K x K Jacobian J[i][j] = dy_i/do_j of softmax (report eqs. 1.2-1.4).

    dy_i/do_i = y_i (1 - y_i) on the diagonal and dy_i/do_j = -y_i y_j off it, i.e.
    J[i][j] = y_i (delta_ij - y_j). (The report's matrix (1.4) runs y_0 .. y_C, one
    class too many: there are K = C classes, indices 0 .. K-1.)
    Args: y, K floats. Returns K lists of K floats.
    """
    K = len(y)
    return [[y[i] * ((1.0 if i == j else 0.0) - y[j]) for j in range(K)] for i in range(K)]


def loss_grad_o_via_jacobian(y, label):
    """dl/do the long way: the chain rule through the full softmax Jacobian.

    dl/do_j = sum_i dl/dy_i * dy_i/do_j. Only i = label has dl/dy_i != 0, so this
    collapses to -(1/y_label) * y_label (delta_label,j - y_j) = y_j - t_j (report
    eq. 1.5), which is what :func:`backward` uses directly. Notebook 01 computes both
    and checks they agree.
    Args: y, K floats; label, int in [0, K). Returns K floats.
    """
    dl_dy = loss_grad_y(y, label)
    J = softmax_jacobian(y)
    K = len(y)
    dl_do = [0.0] * K
    for j in range(K):
        for i in range(K):
            if dl_dy[i] != 0.0:  # skip the zeros (and avoid 0 * inf if y_label underflowed)
                dl_do[j] += dl_dy[i] * J[i][j]
    return dl_do


# --------------------------------------------------------------------------------------
# Backward pass
# --------------------------------------------------------------------------------------

def backward(x, label, W, b, V, c, cache):
    """Every derivative of the loss, by the chain rule, one scalar at a time.

    Args:
        x: D floats; label: int in [0, K); W, b, V, c as in :func:`forward`;
        cache: the dict returned by ``forward(x, W, b, V, c)``.
    Returns:
        dict keyed by symbol, each entry dl/d(symbol) in that symbol's shape:
        'y' (K), 'o' (K), 'c' (K), 'V' (H lists of K), 'h' (H), 'z' (H),
        'b' (H), 'W' (D lists of H).
    """
    x, W, b, V, c = _as_floats(x, W, b, V, c)
    check_label(label, len(c))
    return _backward(x, label, V, cache)


def _backward(x, label, V, cache):
    h, y = cache["h"], cache["y"]
    D, H, K = len(x), len(h), len(y)
    t = one_hot(label, K)

    # dl/dy (eq. 1.1), kept for display; the step below does not divide by y.
    dl_dy = loss_grad_y(y, label)

    # dl/do_k = sum_i dl/dy_i dy_i/do_k = y_k - t_k (eq. 1.5): the Jacobian product
    # (see loss_grad_o_via_jacobian) simplifies to this, so we use it directly.
    dl_do = [y[k] - t[k] for k in range(K)]

    # o_k = sum_j h_j V_jk + c_k, so do_k/dc_k = 1 and do_k/dV_jk = h_j.
    dl_dc = list(dl_do)
    dl_dV = [[dl_do[k] * h[j] for k in range(K)] for j in range(H)]

    # Every o_k depends on h_j (through V_jk): sum the paths, dl/dh_j = sum_k dl/do_k V_jk.
    dl_dh = [0.0] * H
    for j in range(H):
        for k in range(K):
            dl_dh[j] += dl_do[k] * V[j][k]

    # h_j = sigmoid(z_j) and sigmoid' = sigmoid (1 - sigmoid): dl/dz_j = dl/dh_j h_j (1 - h_j).
    dl_dz = [dl_dh[j] * h[j] * (1.0 - h[j]) for j in range(H)]

    # z_j = sum_i x_i W_ij + b_j, so dz_j/db_j = 1 and dz_j/dW_ij = x_i.
    dl_db = list(dl_dz)
    dl_dW = [[x[i] * dl_dz[j] for j in range(H)] for i in range(D)]

    return {"y": dl_dy, "o": dl_do, "c": dl_dc, "V": dl_dV,
            "h": dl_dh, "z": dl_dz, "b": dl_db, "W": dl_dW}


def forward_backward(x, label, W, b, V, c):
    """Loss and parameter gradients for one example.

    Args:
        x: D floats; label: int in [0, K); W: D lists of H floats; b: H floats;
        V: H lists of K floats; c: K floats.
    Returns:
        (loss, grads): loss = -log y_label as a float; grads a dict with 'W', 'b',
        'V', 'c' holding dl/dW, dl/db, dl/dV, dl/dc in the same nested-list shapes.
    """
    x, W, b, V, c = _as_floats(x, W, b, V, c)
    check_label(label, len(c))
    return _forward_backward(x, label, W, b, V, c)


def _forward_backward(x, label, W, b, V, c):
    cache = _forward(x, W, b, V, c)
    loss = cross_entropy(cache["o"], label)
    d = _backward(x, label, V, cache)
    return loss, {name: d[name] for name in PARAM_NAMES}


# --------------------------------------------------------------------------------------
# Parameters: sizes, initialisation, the update
# --------------------------------------------------------------------------------------

def layer_sizes(W, b, V, c):
    """(D, H, K) of a network given as nested lists, after checking the shapes agree.

    W must be D lists of H numbers, b H numbers, V H lists of K numbers, c K numbers.
    Raises ValueError naming the argument that does not fit.
    """
    D = _length(W, "W")
    H = _length(b, "b")
    K = _length(c, "c")
    for i, row in enumerate(W):
        if _length(row, f"W[{i}]") != H:
            raise ValueError(f"W must be D lists of H = len(b) = {H} numbers, but W[{i}] has {len(row)}")
    if _length(V, "V") != H:
        raise ValueError(f"V must have H = len(b) = {H} rows (one per hidden unit), got {len(V)}")
    for j, row in enumerate(V):
        if _length(row, f"V[{j}]") != K:
            raise ValueError(f"V must be H lists of K = len(c) = {K} numbers, but V[{j}] has {len(row)}")
    return D, H, K


def zeros(rows, cols=None):
    """A list of ``rows`` zeros, or ``rows`` lists of ``cols`` zeros (a matrix)."""
    if cols is None:
        return [0.0] * rows
    return [[0.0] * cols for _ in range(rows)]


def init_params(n_in, n_hidden, n_out, seed=0):
    """Fresh weights for a D-H-K network as nested lists, reproducible from ``seed``.

    W (D x H) and V (H x K) are drawn from Glorot/Xavier uniform,
    U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), which keeps the variance of the
    signal roughly the same from layer to layer; b and c start at 0. Uses its own
    ``random.Random(seed)``, never the global random state.
    Returns a dict with 'W', 'b', 'V', 'c'.
    """
    D, H, K = (check_positive_int(n, name) for n, name in
               ((n_in, "n_in"), (n_hidden, "n_hidden"), (n_out, "n_out")))
    rng = random.Random(check_seed(seed))

    def glorot(fan_in, fan_out):
        a = math.sqrt(6.0 / (fan_in + fan_out))
        return [[rng.uniform(-a, a) for _ in range(fan_out)] for _ in range(fan_in)]

    W = glorot(D, H)
    V = glorot(H, K)
    return {"W": W, "b": zeros(H), "V": V, "c": zeros(K)}


def sgd_step(params, grads, lr):
    """One step of gradient descent, in place: w <- w - lr * dl/dw for every weight.

    The minus sign matters: the gradient points uphill, so descent subtracts it.
    (The report prints w + alpha * grad, and its snippet assigns b = alpha * gb
    instead of b -= alpha * gb; both are slips.)
    Args: params and grads, dicts with 'W' (D lists of H numbers), 'b' (H numbers),
    'V' (H lists of K numbers) and 'c' (K numbers), grads in the shapes of params; lr > 0.
    Returns ``params`` (the same lists, updated).
    Raises ValueError naming the entry whose shape does not fit (before changing any weight).
    """
    lr = check_positive_float(lr, "lr")
    _check_step_shapes(params, grads)
    return _sgd_step(params, grads, lr)


def _sgd_step(params, grads, lr):
    """sgd_step without its checks, for train_sgd's loop (it checked the shapes once)."""
    for name in PARAM_NAMES:
        p, g = params[name], grads[name]
        if p and isinstance(p[0], list):        # a matrix: D x H or H x K
            for p_row, g_row in zip(p, g):
                for j in range(len(p_row)):
                    p_row[j] -= lr * g_row[j]
        else:                                   # a vector: b or c
            for j in range(len(p)):
                p[j] -= lr * g[j]
    return params


def train_sgd(xs, labels, params, lr, epochs=1, log_every=1000, seed=0):
    """Per-example stochastic gradient descent over a dataset (the report's training).

    Each epoch visits every example once, in an order shuffled with
    ``random.Random(seed)``; after every example the weights take one step
    (:func:`sgd_step`). ``params`` is updated in place.

    Args:
        xs: N examples of D numbers (lists, or the rows of a numpy array).
        labels: N integer labels in [0, K).
        params: dict with 'W', 'b', 'V', 'c' (nested lists of Python floats, e.g.
            from :func:`init_params`).
        lr: learning rate > 0; epochs, log_every: integers >= 1; seed: shuffling seed.
    Returns:
        list of floats: the mean loss of the last ``log_every`` examples, recorded
        after every ``log_every`` examples (the report's running loss curve).
    """
    lr = check_positive_float(lr, "lr")
    epochs = check_positive_int(epochs, "epochs")
    log_every = check_positive_int(log_every, "log_every")
    W, b, V, c = (params[name] for name in PARAM_NAMES)
    D, H, K = layer_sizes(W, b, V, c)
    for name in PARAM_NAMES:
        _check_float_lists(params[name], f"params[{name!r}]")
    if len(xs) != len(labels):
        raise ValueError(f"xs and labels must have the same length, got {len(xs)} and {len(labels)}")
    if len(xs) == 0:
        raise ValueError("xs is empty; give at least one example")
    # Check and convert the whole dataset once, so the loop below can skip it.
    data = [(_floats(row, f"xs[{n}]", D), check_label(label, K, f"labels[{n}]"))
            for n, (row, label) in enumerate(zip(xs, labels))]

    rng = random.Random(check_seed(seed))
    order = list(range(len(data)))
    running, window = [], 0.0
    seen = 0
    for _ in range(epochs):
        rng.shuffle(order)
        for n in order:
            x, label = data[n]
            loss, grads = _forward_backward(x, label, W, b, V, c)
            _sgd_step(params, grads, lr)
            window += loss
            seen += 1
            if seen % log_every == 0:
                running.append(window / log_every)
                window = 0.0
    return running


# --------------------------------------------------------------------------------------
# The worked example
# --------------------------------------------------------------------------------------

def worked_example():
    """The classic hand-worked example: a 2-3-2 network on one input.

    x = (1, -1), W = [[1, 1, 1], [-1, -1, -1]], b = 0, V = [[1, 1], [-1, -1], [-1, -1]],
    c = 0, true class 0. Then z = (2, 2, 2), h = sigmoid(2) ~ 0.8808, o = (-h, -h),
    y = (1/2, 1/2), l = log 2, dl/do = (-1/2, 1/2), and so on.
    Returns a dict with keys x, label, W, b, V, c, so ``forward_backward(**worked_example())``
    works. Fresh lists every call.
    """
    return {
        "x": [1.0, -1.0],
        "label": 0,
        "W": [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]],
        "b": [0.0, 0.0, 0.0],
        "V": [[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]],
        "c": [0.0, 0.0],
    }


# --------------------------------------------------------------------------------------
# Validation at the boundary: the lists are checked here; single numbers (a label, a
# layer size, a learning rate) by the package's shared checks in mlp_helpers._checks
# --------------------------------------------------------------------------------------

def _length(seq, name):
    try:
        n = len(seq)
    except TypeError:
        raise ValueError(f"{name} must be a list of numbers, got {type(seq).__name__}") from None
    if n == 0:
        raise ValueError(f"{name} is empty; every layer needs at least one unit")
    return n


def _floats(seq, name, n=None):
    """Convert one list of numbers to Python floats, checking length and finiteness."""
    if n is not None and _length(seq, name) != n:
        raise ValueError(f"{name} must have {n} numbers, got {len(seq)}")
    out = []
    for v in seq:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError(f"{name} must hold real numbers, got {v!r} ({type(v).__name__})")
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")
        out.append(v)
    return out


def _check_step_shapes(params, grads):
    """params and grads of sgd_step: dicts of W, b, V, c as D x H, H, H x K, K nested lists
    (D, H, K read from params' W, b and c), every row of a matrix as long as the others."""
    for arg in (params, grads):
        which = "params" if arg is params else "grads"
        if not isinstance(arg, dict):
            raise ValueError(f"{which} must be a dict with 'W', 'b', 'V', 'c', got {type(arg).__name__}")
        missing = [name for name in PARAM_NAMES if name not in arg]
        if missing:
            raise ValueError(f"{which} must have the keys 'W', 'b', 'V', 'c'; missing {', '.join(missing)}")
    D = _length(params["W"], "params['W']")
    H = _length(params["b"], "params['b']")
    K = _length(params["c"], "params['c']")
    shapes = {"W": (D, H, "D", "H"), "b": (H, None, "H", None), "V": (H, K, "H", "K"), "c": (K, None, "K", None)}
    for which, arg in (("params", params), ("grads", grads)):
        for name in PARAM_NAMES:
            rows, cols, row_name, col_name = shapes[name]
            _check_nested(arg[name], rows, cols, f"{which}[{name!r}]",
                          f"{row_name} = {rows} numbers" if cols is None else
                          f"{row_name} = {rows} lists of {col_name} = {cols} numbers", arg is params)


def _check_nested(value, rows, cols, name, shape, in_place):
    """value is ``rows`` numbers (cols None) or ``rows`` rows of ``cols`` numbers, as lists
    when ``in_place`` (a weight sgd_step updates), else any sequences; ValueError naming
    it and ``shape`` (the expected shape in words) otherwise."""
    kind = "list" if in_place else "sequence"
    if (in_place and not isinstance(value, list)) or not hasattr(value, "__len__") or len(value) != rows:
        got = f"{len(value)} entries" if hasattr(value, "__len__") else "no length"
        raise ValueError(f"{name} must be a {kind} of {shape}, got a {type(value).__name__} with {got}")
    if cols is None:
        if any(hasattr(v, "__len__") for v in value):
            raise ValueError(f"{name} must be a {kind} of {shape}, got a {type(value).__name__} of rows")
        return
    for i, row in enumerate(value):
        if (in_place and not isinstance(row, list)) or not hasattr(row, "__len__") or len(row) != cols:
            got = f"{len(row)} numbers" if hasattr(row, "__len__") else f"no length ({type(row).__name__})"
            raise ValueError(f"{name} must be a {kind} of {shape}, but {name}[{i}] "
                             f"{'is a ' + type(row).__name__ if in_place and not isinstance(row, list) else 'has ' + got}")


def _check_float_lists(p, name):
    """Parameters updated in place must already be lists of Python floats."""
    rows = p if p and isinstance(p[0], list) else [p]
    for row in rows:
        if not isinstance(row, list) or not all(type(v) is float for v in row):
            raise ValueError(f"{name} must be nested lists of Python floats "
                             "(e.g. from init_params) so it can be updated in place")


def _as_floats(x, W, b, V, c):
    """Check the shapes agree and return copies of x, W, b, V, c as Python floats."""
    D, H, K = layer_sizes(W, b, V, c)
    if _length(x, "x") != D:
        raise ValueError(f"x must have D = len(W) = {D} numbers (one per row of W), got {len(x)}")
    x = _floats(x, "x")
    W = [_floats(row, f"W[{i}]") for i, row in enumerate(W)]
    V = [_floats(row, f"V[{j}]") for j, row in enumerate(V)]
    return x, W, _floats(b, "b"), V, _floats(c, "c")
