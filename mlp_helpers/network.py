"""The two-layer network in numpy: the same maths as :mod:`mlp_helpers.scalar`, a batch at a time.

Rows are examples. For a batch x of shape (B, D)::

    z = x @ W + b          (B, H)   hidden pre-activation
    h = sigmoid(z)         (B, H)   hidden activation
    o = h @ V + c          (B, K)   logits
    y = softmax(o)         (B, K)   class probabilities
    l = mean_n -log y[n, t_n]       mean cross-entropy over the batch (t_n: row n's label)

and the backward pass, for the mean loss (t as one-hot rows)::

    dl/do = (y - t) / B                    (B, K)
    dl/dV = h.T @ dl/do,  dl/dc = sum_n dl/do       (H, K), (K,)
    dl/dh = dl/do @ V.T                    (B, H)
    dl/dz = dl/dh * h * (1 - h)            (B, H)
    dl/dW = x.T @ dl/dz,  dl/db = sum_n dl/dz       (D, H), (H,)

Numerically stable by construction: the sigmoid uses tanh (no exp to overflow), the
loss uses log-softmax (no log of 0), and softmax subtracts the row maximum. Logits
and pre-activations up to +-1e4 give finite results and no warnings.
"""
import numpy as np

from ._checks import check_inputs, check_labels, check_params, check_positive_int, check_seed

__all__ = ["sigmoid", "softmax", "log_softmax", "cross_entropy", "forward", "backward", "MLP"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------------------
# Activations and loss
# --------------------------------------------------------------------------------------

def sigmoid(z):
    """The logistic function 1 / (1 + e^-z), elementwise, without overflow.

    Written as 0.5 * (1 + tanh(z / 2)), which is the same function: tanh saturates
    at +-1 instead of overflowing, so sigmoid(+-1e4) is exactly 1 or 0 with no
    warning, in float32 and float64.
    Args: z, array of any shape (float32 or float64). Returns an array like z.
    """
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def log_softmax(o):
    """log y for each row of logits: (o - max) - log(sum(exp(o - max))).

    Subtracting each row's maximum leaves softmax unchanged and makes every
    exponent <= 0, so exp never overflows; working with logs means a tiny
    probability is a large negative number rather than log(0) = -inf.
    Args: o, (B, K) float array. Returns (B, K), same dtype.
    """
    shifted = o - o.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):          # exp(-huge) = 0 is the right answer
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(o):
    """Class probabilities y = exp(o) / sum(exp(o)), row by row, without overflow.

    Args: o, (B, K) float array. Returns (B, K), same dtype; each row sums to 1.
    """
    shifted = o - o.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):          # tiny probabilities underflow to 0, as they should
        e = np.exp(shifted)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def cross_entropy(o, t):
    """Mean cross-entropy -log softmax(o)[n, t_n] over the rows, computed via log-softmax.

    Args: o, (B, K) logits; t, (B,) integer labels in [0, K).
    Returns a 0-d numpy float of o's dtype. Finite for any finite logits: a hugely
    wrong logit gives a large loss (about the size of the logit gap), never inf.
    """
    log_y = log_softmax(o)
    return -log_y[np.arange(len(t)), t].mean()


# --------------------------------------------------------------------------------------
# The forward and backward passes, as plain functions of the weights
# --------------------------------------------------------------------------------------
#
# MLP's methods wrap these two. The fast steppers of ``mlp_helpers._fast`` restate them:
# ``sgd_steps``, one per-example SGD step as loops over one example's nonzero pixels,
# compiled by numba; ``MinibatchSGD.run``, these lines on the pixels a batch uses, with
# the softmax, loss and y - t in one compiled pass (``softmax_cross_entropy``). Change
# the maths here (say, another activation) and change it there too.
# tests/test_training.py checks that they agree: test_per_example_kernel_equals_the_reference_loop
# (sgd_steps against training.sgd_epoch, which calls these),
# test_minibatch_path_equals_hand_written_loop and test_minibatch_path_equals_the_reference_on_mnist.

def forward(params, x):
    """Every intermediate of the forward pass, for a batch of rows x.

    Args: params, dict 'W' (D, H), 'b' (H,), 'V' (H, K), 'c' (K,); x, (B, D) of their dtype.
    Returns: dict 'z' (B, H), 'h' (B, H), 'o' (B, K) and 'y' (B, K) class probabilities.
    """
    z = x @ params["W"] + params["b"]  # each hidden unit: weighted sum of the inputs, plus bias
    h = sigmoid(z)                     # squashed into (0, 1)
    o = h @ params["V"] + params["c"]  # each output: weighted sum of the hidden units
    y = softmax(o)                     # logits -> probabilities
    return {"z": z, "h": h, "o": o, "y": y}


def backward(params, x, t, cache):
    """Gradients of the mean cross-entropy over the batch with respect to W, b, V, c.

    Args: params and x as for :func:`forward`; t, (B,) integer labels in [0, K);
    cache, the dict ``forward(params, x)`` returned.
    Returns: dict 'W' (D, H), 'b' (H,), 'V' (H, K), 'c' (K,).
    """
    h, y, B = cache["h"], cache["y"], x.shape[0]
    t_onehot = np.eye(y.shape[1], dtype=y.dtype)[t]   # row n: 1 at class t_n, else 0
    d_o = (y - t_onehot) / B        # softmax and cross-entropy together (report eq. 1.5); / B: the mean
    d_V = h.T @ d_o                 # o = h V + c
    d_c = d_o.sum(axis=0)
    d_h = d_o @ params["V"].T       # every o_k depends on every h_j
    d_z = d_h * h * (1 - h)         # h = sigmoid(z), sigmoid' = h (1 - h)
    d_W = x.T @ d_z                 # z = x W + b
    d_b = d_z.sum(axis=0)
    return {"W": d_W, "b": d_b, "V": d_V, "c": d_c}


# --------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------

class MLP:
    """A two-layer perceptron: D inputs -> H sigmoid units -> K softmax outputs.

    Args:
        n_in, n_hidden: layer sizes D, H (integers >= 1); n_out: the number of classes
            K (an integer >= 2: with one class the loss is always 0).
        seed: an integer >= 0, seeds ``np.random.default_rng`` for the initial weights.
        dtype: np.float32 (default, fast) or np.float64 (for gradient checks).
        init: how W (D, H) and V (H, K) start; b and c always start at zero.

            * ``"glorot"`` (default): Glorot/Xavier uniform, U(-a, a) with
              a = sqrt(6 / (fan_in + fan_out)). Named after Xavier Glorot, who chose
              a so that the variance of the signal stays about the same through each
              layer: small enough that z = xW + b sits where the sigmoid is not flat.
            * ``"normal"``: every weight drawn from N(0, 1), the textbook mistake: with
              784 inputs z has a standard deviation of about sqrt(sum x^2) (~9 on MNIST),
              so most hidden units start saturated, h near 0 or 1.
            * ``"zeros"``: every weight 0. All hidden units then compute the same h and
              receive the same gradient, so they stay identical forever (symmetry).

    The draws are made in float64 and then cast, so float32 and float64 networks with
    the same seed hold the same weights (up to rounding).

    Attributes:
        params: dict 'W' (D, H), 'b' (H,), 'V' (H, K), 'c' (K,), arrays of ``dtype``.
            Training updates these arrays in place.
        n_in, n_hidden, n_out, dtype.
    """

    def __init__(self, n_in, n_hidden, n_out, seed=0, dtype=np.float32, init="glorot"):
        self.n_in = check_positive_int(n_in, "n_in")
        self.n_hidden = check_positive_int(n_hidden, "n_hidden")
        self.n_out = check_positive_int(n_out, "n_out", minimum=2)
        self.dtype = _check_dtype(dtype)
        draw = _check_init(init)
        rng = np.random.default_rng(check_seed(seed))
        D, H, K = self.n_in, self.n_hidden, self.n_out
        self.params = {
            "W": draw(rng, D, H).astype(self.dtype),
            "b": np.zeros(H, dtype=self.dtype),
            "V": draw(rng, H, K).astype(self.dtype),
            "c": np.zeros(K, dtype=self.dtype),
        }

    @classmethod
    def from_params(cls, params, dtype=np.float64):
        """A new MLP holding a copy of the given weights (numpy arrays or nested lists).

        Turns the scalar network of notebook 02 (``mlp_helpers.scalar``: nested lists
        of Python floats) into a numpy network, for fast evaluation on many points.
        Args:
            params: dict with 'W' (D, H), 'b' (H,), 'V' (H, K), 'c' (K,): arrays or
                nested lists of numbers (W: D lists of H numbers, V: H lists of K).
            dtype: np.float64 (default: the scalar code's precision) or np.float32.
        Returns: an MLP with n_in, n_hidden, n_out = D, H, K and params copied to ``dtype``
            (later changes to ``params`` do not reach the network, nor the other way round).
        Raises: ValueError naming the entry that is missing (or not one of the four), has
            the wrong shape or is not finite (:func:`mlp_helpers._checks.check_params`).
        """
        dtype = _check_dtype(dtype)
        p = check_params(params, dtype=dtype, convert=True)
        (D, H), K = p["W"].shape, p["V"].shape[1]
        net = cls(D, H, K, dtype=dtype, init="zeros")   # the constructor sets every attribute ...
        net.params = p                                  # ... and its weights are replaced
        return net

    def __repr__(self):
        return f"MLP({self.n_in}, {self.n_hidden}, {self.n_out}, dtype={self.dtype.name})"

    # ---- forward and backward --------------------------------------------------------

    def forward(self, x):
        """Every intermediate of the forward pass.

        Args: x, (B, D) array (cast to ``self.dtype``).
        Returns: dict with 'z' (B, H), 'h' (B, H), 'o' (B, K), 'y' (B, K).
        """
        x, _, _ = self._checked(x)
        return forward(self.params, x)

    def backward(self, x, t, cache):
        """Gradients of the mean cross-entropy with respect to W, b, V, c.

        Args: x, (B, D) inputs; t, (B,) integer labels in [0, K); cache, the dict from
        ``forward(x)``.
        Returns: dict 'W' (D, H), 'b' (H,), 'V' (H, K), 'c' (K,) of ``self.dtype``.
        """
        x, t, _ = self._checked(x, t)
        return backward(self.params, x, t, cache)

    def loss(self, x, t):
        """Mean cross-entropy over the batch, and its gradients.

        Args: x, (B, D) inputs (any float or integer dtype; cast to ``self.dtype``);
        t, (B,) integer labels in [0, K).
        Returns: (loss, grads): loss a Python float; grads a dict 'W', 'b', 'V', 'c' of
        new arrays of ``self.dtype``.
        """
        x, t, _ = self._checked(x, t)
        cache = forward(self.params, x)
        return float(cross_entropy(cache["o"], t)), backward(self.params, x, t, cache)

    # ---- prediction and evaluation ---------------------------------------------------

    def predict_proba(self, x, batch=10_000):
        """Class probabilities y, (B, K) of ``self.dtype``, for x of shape (B, D), in chunks of
        ``batch`` rows (an integer >= 1). Raises ValueError if the weights are not finite."""
        x, _, batch = self._checked(x, batch=batch, finite=True)
        return np.concatenate([cache["y"] for cache in self._passes(x, batch)])

    def predict(self, x, batch=10_000):
        """The most probable class for each row: (B,) int64 (``batch`` as in predict_proba).

        Raises ValueError if the weights are not finite (after a NaN divergence every
        argmax would be class 0: a plausible-looking answer that means nothing)."""
        x, _, batch = self._checked(x, batch=batch, finite=True)
        return np.concatenate([cache["o"].argmax(axis=1) for cache in self._passes(x, batch)]).astype(np.int64)

    def accuracy(self, x, t, batch=10_000):
        """Fraction of rows whose predicted class equals the label t, a float in [0, 1].

        Raises ValueError if the weights are not finite (see ``predict``)."""
        x, t, batch = self._checked(x, t, batch, finite=True)
        return self._sums(x, t, batch)[1] / len(x)

    def mean_loss(self, x, t, batch=10_000):
        """Mean cross-entropy over a (possibly large) set, in chunks of ``batch`` rows, no grads.

        Args: x (N, D); t (N,) integer labels; batch, rows per chunk (>= 1).
        Returns a Python float (chunk sums are accumulated in float64).
        """
        x, t, batch = self._checked(x, t, batch)
        return self._sums(x, t, batch)[0] / len(x)

    def evaluate(self, x, t, batch=10_000):
        """(mean_loss(x, t), accuracy(x, t)) from one forward pass instead of two.

        Args as :meth:`mean_loss`. Returns (loss, accuracy): Python floats, the same
        numbers the two methods give. Raises ValueError if the weights are not finite
        (see ``predict``)."""
        x, t, batch = self._checked(x, t, batch, finite=True)
        total, correct = self._sums(x, t, batch)
        return total / len(x), correct / len(x)

    def params_finite(self):
        """True if every weight and bias is finite (False after a NaN or inf divergence)."""
        return all(np.isfinite(v).all() for v in self.params.values())

    def _passes(self, x, batch):
        """forward() on x, ``batch`` rows at a time: one cache per chunk."""
        for i in range(0, len(x), batch):
            yield forward(self.params, x[i:i + batch])

    def _sums(self, x, t, batch):
        """(summed cross-entropy, number of rows whose argmax is the label), in chunks."""
        total, correct = 0.0, 0
        for i, cache in zip(range(0, len(x), batch), self._passes(x, batch)):
            o, t_chunk = cache["o"], t[i:i + batch]
            total += float(cross_entropy(o, t_chunk)) * len(t_chunk)
            correct += int(np.count_nonzero(o.argmax(axis=1) == t_chunk))
        return total, correct

    # ---- copies ----------------------------------------------------------------------

    def copy(self):
        """A new MLP with the same sizes, dtype and a deep copy of the params."""
        return self.astype(self.dtype)

    def astype(self, dtype):
        """A new MLP with params cast to ``dtype`` (np.float32 or np.float64); always a copy."""
        new = MLP(self.n_in, self.n_hidden, self.n_out, dtype=dtype, init="zeros")  # sets every attribute
        new.params = {k: v.astype(new.dtype, copy=True) for k, v in self.params.items()}
        return new

    # ---- checks ----------------------------------------------------------------------

    def _checked(self, x, t=None, batch=None, finite=False):
        """The arguments of a public method, checked: x (B, D) cast to ``self.dtype``, t (B,)
        labels in [0, K) (when given), batch an integer >= 1 (when given); with ``finite``,
        the weights must be finite. Returns (x, t, batch)."""
        x = check_inputs(x, "x", n_features=self.n_in, dtype=self.dtype).astype(self.dtype, copy=False)
        if t is not None:
            t = check_labels(t, self.n_out, "t", n_examples=x.shape[0])
        if batch is not None:
            batch = check_positive_int(batch, "batch")
        if finite and not self.params_finite():
            bad = [k for k, v in self.params.items() if not np.isfinite(v).all()]
            raise ValueError(
                f"the network's weights are not finite (params {', '.join(map(repr, bad))} hold NaN or "
                f"inf), so it has no prediction to give: training diverged. Train a new network "
                f"with a smaller learning rate")
        return x, t, batch


def _glorot_uniform(rng, fan_in, fan_out):
    """(fan_in, fan_out) float64 draws from U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def _standard_normal(rng, fan_in, fan_out):
    """(fan_in, fan_out) float64 draws from N(0, 1), whatever the layer's size."""
    return rng.standard_normal(size=(fan_in, fan_out))


def _zeros(rng, fan_in, fan_out):
    """(fan_in, fan_out) zeros (rng unused: every network starts the same)."""
    return np.zeros((fan_in, fan_out))


#: MLP(init=...) -> the function that draws one weight matrix (rng, fan_in, fan_out)
INITS = {"glorot": _glorot_uniform, "normal": _standard_normal, "zeros": _zeros}


def _check_init(init):
    """One of the names in INITS -> its draw function, else ValueError."""
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
    return INITS[init]


def _check_dtype(dtype):
    """np.float32 or np.float64 (any spelling numpy understands) -> np.dtype, else ValueError."""
    try:
        # (np.dtype(None) would be float64, so None is refused explicitly)
        ok = dtype is not None and any(np.dtype(dtype) == d for d in _DTYPES)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
    return np.dtype(dtype)
