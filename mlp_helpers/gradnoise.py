"""The noise of the minibatch gradient, measured at fixed weights (notebook 03, section 4a).

Let g_n be the gradient of example n's loss, g their mean over a set of N examples,
and g_B the mean over a minibatch of B distinct examples (what a minibatch step of
:func:`mlp_helpers.train` uses: the loss of a batch is the mean). Then

    E |g_B - g|^2 = tr(Sigma) / B * (N - B) / (N - 1),     E |g_B|^2 = |g|^2 + E |g_B - g|^2

with tr(Sigma) = mean_n |g_n - g|^2, the variance of a single example's gradient. The
factor (N - B) / (N - 1) is the finite-population correction (about 1 while B << N,
0 at B = N). :func:`measure` checks this law by drawing minibatches; the line it is
compared with comes from every example's gradient, computed without looping over the
examples, because one example's dl/dW = x^T dl/dz is an outer product::

    |dl/dW|^2 = |x|^2 |dl/dz|^2,   |dl/dV|^2 = |h|^2 |dl/do|^2,   dl/db = dl/dz,   dl/dc = dl/do

Typical use::

    from mlp_helpers import gradnoise, plotting
    m = gradnoise.measure(net, x[:10_000], t[:10_000], batch_sizes=(1, 4, 16, 64, 256))
    plotting.gradient_noise({"at initialisation": m})
"""
import numpy as np

from ._checks import check_inputs, check_labels, check_positive_int

__all__ = ["flat", "per_example_sq_norms", "minibatch_variance", "measure"]

PARAMS = ("W", "b", "V", "c")


def flat(grads):
    """The four gradients (a dict 'W', 'b', 'V', 'c') as one float64 vector."""
    return np.concatenate([np.ravel(grads[k]) for k in PARAMS]).astype(np.float64)


def per_example_sq_norms(net, x, t):
    """|g_n|^2 for every example: the squared length of its gradient over W, b, V, c.

    Args: net, an MLP; x (N, D) inputs; t (N,) integer labels.
    Returns: float64 array (N,), in float64 arithmetic from one forward pass
    (no loop over examples; see the module docstring).
    """
    _check_net(net)
    x = check_inputs(x, "x", n_features=net.n_in)
    t = check_labels(t, net.n_out, "t", n_examples=x.shape[0])
    cache = net.forward(x)
    h = cache["h"].astype(np.float64)
    d_o = cache["y"].astype(np.float64)
    d_o[np.arange(len(t)), t] -= 1.0                                  # y - t, one row per example
    d_z = (d_o @ net.params["V"].T.astype(np.float64)) * h * (1 - h)  # dl/dz of each example
    sq_dz, sq_do = (d_z ** 2).sum(axis=1), (d_o ** 2).sum(axis=1)
    sq_x, sq_h = (x.astype(np.float64) ** 2).sum(axis=1), (h ** 2).sum(axis=1)
    return sq_x * sq_dz + sq_dz + sq_h * sq_do + sq_do                # W, b, V, c


def minibatch_variance(trace, batch_sizes, n_train):
    """E |g_B - g|^2 = tr(Sigma) / B * (N - B) / (N - 1) for B distinct examples out of N.

    Args: trace, tr(Sigma) (a number >= 0); batch_sizes, a number or an array of
    them in [1, N]; n_train, N (an integer >= 2).
    Returns: float64 array like ``batch_sizes``.
    """
    n_train = check_positive_int(n_train, "n_train", minimum=2)
    B = np.asarray(batch_sizes, dtype=np.float64)
    if np.any(~np.isfinite(B)) or np.any(B < 1) or np.any(B > n_train):
        raise ValueError(f"batch_sizes must be in [1, n_train = {n_train}], got {B.tolist()}")
    return float(trace) / B * (n_train - B) / (n_train - 1)


def measure(net, x, t, batch_sizes, draws=128, seed=0):
    """Measure the minibatch gradient's noise and length at the network's current weights.

    Args:
        net: an MLP (not changed).
        x: (N, D) inputs, t: (N,) labels: the set g and tr(Sigma) are taken over, and
            the minibatches drawn from.
        batch_sizes: the B values (integers in [1, N]).
        draws: minibatches drawn for each B (integer >= 2), each of B distinct examples.
        seed: seeds ``np.random.default_rng`` for the draws.

    Returns:
        dict with ``batch_sizes`` (list), ``variance`` and ``variance_se`` (mean and
        standard error of |g_B - g|^2 over the draws, one per B), ``sq_norm`` and
        ``sq_norm_se`` (the same for |g_B|^2), ``trace`` (tr(Sigma), from every
        example's gradient), ``full_sq_norm`` (|g|^2) and ``n_train`` (N): what
        :func:`mlp_helpers.plotting.gradient_noise` draws.
    """
    _check_net(net)
    x = check_inputs(x, "x", n_features=net.n_in)
    t = check_labels(t, net.n_out, "t", n_examples=x.shape[0])
    N = x.shape[0]
    if N < 2:
        raise ValueError(f"x must hold at least 2 examples to measure a spread, got {N}")
    if isinstance(batch_sizes, (int, np.integer)) or len(batch_sizes) == 0:
        raise ValueError(f"batch_sizes must be a non-empty sequence of integers, got {batch_sizes!r}")
    batch_sizes = [check_positive_int(B, "batch_sizes entry") for B in batch_sizes]
    if max(batch_sizes) > N:
        raise ValueError(f"batch_sizes must be at most the number of examples N = {N}, got {max(batch_sizes)}")
    draws = check_positive_int(draws, "draws", minimum=2)
    seed = check_positive_int(seed, "seed", minimum=0)

    g = flat(net.loss(x, t)[1])
    out = {"batch_sizes": batch_sizes, "trace": float(per_example_sq_norms(net, x, t).mean() - g @ g),
           "full_sq_norm": float(g @ g), "n_train": N,
           "variance": [], "variance_se": [], "sq_norm": [], "sq_norm_se": []}
    rng = np.random.default_rng(seed)
    for B in batch_sizes:
        dist, length = np.empty(draws), np.empty(draws)
        for i in range(draws):
            idx = rng.choice(N, size=B, replace=False)
            g_B = flat(net.loss(x[idx], t[idx])[1])      # the mean gradient of the minibatch
            dist[i], length[i] = (g_B - g) @ (g_B - g), g_B @ g_B
        for key, v in (("variance", dist), ("sq_norm", length)):
            out[key].append(float(v.mean()))
            out[key + "_se"].append(float(v.std(ddof=1) / np.sqrt(draws)))
    return out


def _check_net(net):
    for attr in ("params", "n_in", "n_out", "loss", "forward"):
        if not hasattr(net, attr):
            raise ValueError(f"net must be an MLP (with params, n_in, n_out, loss, forward), got {type(net).__name__}")
