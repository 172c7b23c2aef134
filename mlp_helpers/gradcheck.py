"""Gradient checking: compare hand-derived gradients with finite differences.

A backward pass can be wrong and still train a little, so we test it against the
definition of a derivative. For each weight w, the central difference

    numeric = (f(w + eps) - f(w - eps)) / (2 eps)                                   (order=2)

matches df/dw up to O(eps^2). By default we use its fourth-order sibling, which
cancels the eps^2 term too (the same idea with two more evaluations):

    numeric = (8 (f(w + eps) - f(w - eps)) - (f(w + 2eps) - f(w - 2eps))) / (12 eps)   (order=4)

We compare it with the analytic gradient through the relative error
|a - n| / max(|a| + |n|, tiny): about 1e-9 or less when the backward pass is right,
near 1 when an entry is wrong (a flipped sign gives exactly 1).

Typical use::

    from mlp_helpers.gradcheck import grad_check, check_mlp, check_scalar
    report = check_mlp(net, x[:4], t[:4])   # on a float64 copy of the network
    print(report)                           # a table, one row per parameter
    assert report.passed                    # every checked entry below TOLERANCE
"""
import numpy as np

from ._checks import check_seed

__all__ = ["TOLERANCE", "relative_error", "numeric_derivative", "numeric_gradient", "grad_check", "check_mlp", "check_scalar",
           "GradCheckReport", "ParamCheck"]

TOLERANCE = 1e-7
"""Largest relative error accepted by :func:`grad_check` (``report.passed``).

A correct backward pass checked in float64 differs from the finite difference only
by the difference's own error (rounding, about 1e-16 |f| / eps, and truncation, about
eps^2 |f'''| at order 2, eps^4 |f'''''| at order 4), far below 1e-7; a mistake gives
errors near 1 (a flipped sign exactly 1, a missing factor of 2 gives 1/3). 1e-7 is
where CS231n's notes say "you should be happy".

The defaults, order 4 at eps = 1e-4: its smaller truncation error allows a larger step,
so less rounding than order 2 at eps = 1e-6 (notebook 01 says why; the networks this
was measured on, and the script that measures it again: benchmarks/README.md).
Not meant for float32 (epsilon 1.2e-7: cast to float64 first, as :func:`check_mlp`
does), nor for entries whose true gradient is tiny (below ~1e-8, where rounding
dominates: look at the absolute error there).
"""

_TINY = np.finfo(np.float64).tiny   # only guards 0 / 0 when both gradients are exactly 0


def relative_error(analytic, numeric):
    """Elementwise |a - n| / max(|a| + |n|, tiny) as float64; 0 where both are exactly 0."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), _TINY)


def numeric_derivative(f_at, eps, order=4):
    """df/dw at w from f_at(step) = f(w + step), by a central difference of the given order (2 or 4)."""
    if order == 2:
        return (f_at(eps) - f_at(-eps)) / (2 * eps)
    return (8 * (f_at(eps) - f_at(-eps)) - (f_at(2 * eps) - f_at(-2 * eps))) / (12 * eps)


def numeric_gradient(f, w, eps=1e-4, order=4, entries=None):
    """The finite-difference gradient of ``f()`` with respect to the array ``w``, entry by entry.

    The one finite-difference loop of the package: :func:`grad_check` and the students'
    checks (:mod:`mlp_helpers.course.checks`) both use it.
    Args:
        f: a function of no arguments returning the loss (a float); it must read ``w``
            (e.g. a network's parameter array), which is perturbed IN PLACE one entry at
            a time (w + eps, w - eps, ...) and restored exactly.
        w: float64 array; eps, order: as for :func:`numeric_derivative`.
        entries: None (every entry) or the flat indices of the entries to perturb.
    Returns: float64 array shaped like w, the derivative at each perturbed entry (NaN
    at the others).
    """
    numeric = np.full(w.shape, np.nan)
    for i in (range(w.size) if entries is None else entries):
        idx = np.unravel_index(i, w.shape)
        old = w[idx]

        def f_at(step):                 # the loss with this one entry moved by `step`
            w[idx] = old + step
            value = f()
            w[idx] = old                # restore exactly
            return value

        numeric[idx] = numeric_derivative(f_at, eps, order)
    return numeric


class ParamCheck:
    """The result for one parameter array.

    Attributes:
        name, shape: which parameter.
        n_checked: how many entries were perturbed (all unless ``max_entries`` was given).
        max_rel_error: the largest relative error over the checked entries.
        worst_index: tuple index of that entry; worst_analytic, worst_numeric: its two values.
        analytic: float64 array of the analytic gradient.
        numeric: array like the parameter with the numeric gradient (NaN where unchecked).
        rel_error: array like the parameter with the relative errors (NaN where unchecked).
    """

    def __init__(self, name, analytic, numeric, checked):
        self.name = name
        self.shape = analytic.shape
        self.analytic = analytic
        self.numeric = numeric
        self.rel_error = np.full(analytic.shape, np.nan)
        self.rel_error[checked] = relative_error(analytic[checked], numeric[checked])
        self.n_checked = int(checked.sum())
        flat = np.where(checked, self.rel_error, -np.inf).ravel()
        worst = int(np.argmax(flat))
        self.worst_index = tuple(int(i) for i in np.unravel_index(worst, analytic.shape))
        self.max_rel_error = float(flat[worst])
        self.worst_analytic = float(analytic[self.worst_index])
        self.worst_numeric = float(numeric[self.worst_index])

    def __repr__(self):
        return (f"ParamCheck({self.name!r}, max_rel_error={self.max_rel_error:.2e}, "
                f"worst_index={self.worst_index}, analytic={self.worst_analytic:.8e}, "
                f"numeric={self.worst_numeric:.8e})")


class GradCheckReport:
    """Everything :func:`grad_check` found: one :class:`ParamCheck` per parameter.

    ``report['W']`` is the check of W; ``report.max_rel_error`` the largest error over
    all parameters; ``report.worst`` the name of the parameter holding it;
    ``report.passed`` whether every checked entry is below ``report.tol``.
    ``print(report)`` (or just ``report`` in a notebook) shows a table.
    """

    def __init__(self, checks, eps, tol, order):
        self.checks = checks          # dict name -> ParamCheck, in parameter order
        self.eps = eps
        self.tol = tol
        self.order = order

    def __getitem__(self, name):
        return self.checks[name]

    def __iter__(self):
        return iter(self.checks.values())

    @property
    def max_rel_error(self):
        return max(c.max_rel_error for c in self.checks.values())

    @property
    def worst(self):
        return max(self.checks.values(), key=lambda c: c.max_rel_error).name

    @property
    def passed(self):
        return self.max_rel_error < self.tol

    def __str__(self):
        head = (f"Gradient check: order-{self.order} central differences in float64, "
                f"eps={self.eps:g}; relative error |a-n|/(|a|+|n|), tolerance {self.tol:g}")
        cols = ("param", "shape", "checked", "max rel err", "worst entry", "analytic", "numeric", "")
        rows = [(c.name, str(c.shape), f"{c.n_checked}/{int(np.prod(c.shape))}",
                 f"{c.max_rel_error:.2e}", str(c.worst_index),
                 f"{c.worst_analytic:+.8e}", f"{c.worst_numeric:+.8e}",
                 "ok" if c.max_rel_error < self.tol else "WRONG?")
                for c in self.checks.values()]
        widths = [max(len(r[i]) for r in rows + [cols]) for i in range(len(cols))]

        def line(r):
            return "  ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip()

        if self.passed:
            verdict = f"passed: every checked entry below {self.tol:g}"
        else:
            worst = self[self.worst]
            verdict = (f"FAILED: {worst.name}{list(worst.worst_index)} has relative error "
                       f"{worst.max_rel_error:.2e} (analytic {worst.worst_analytic:+.8e}, "
                       f"numeric {worst.worst_numeric:+.8e})")
        return "\n".join([head, line(cols)] + [line(r) for r in rows] + [verdict])

    __repr__ = __str__


def grad_check(f, params, grads=None, eps=None, tol=TOLERANCE, max_entries=None, seed=0, order=4):
    """Check analytic gradients against central finite differences, entry by entry.

    Args:
        f: function of ``params`` returning the loss (a float), or ``(loss, grads)``.
        params: dict name -> float64 numpy array. Entries are perturbed IN PLACE
            (w + eps, w - eps, ...) and restored exactly afterwards, so ``f`` may read
            the same arrays (as a network reading its ``params`` dict does).
        grads: dict name -> analytic gradient (array or nested lists) shaped like
            params. If None, ``f`` must return ``(loss, grads)``; the grads of a first
            call at the unperturbed params are used.
        eps: finite-difference step; None means 1e-4 for order=4, 1e-6 for order=2
            (see :data:`TOLERANCE`).
        tol: relative error below which an entry passes (default :data:`TOLERANCE`).
        max_entries: if given, check at most this many entries of each parameter,
            drawn without replacement with ``np.random.default_rng(seed)``: enough
            to catch a wrong formula in a big matrix at a fraction of the cost.
        seed: seed for that draw.
        order: 4 (default) or 2, the order of the central difference.
    Returns:
        :class:`GradCheckReport`.
    """
    if not isinstance(params, dict) or not params:
        raise ValueError(f"params must be a non-empty dict of float64 arrays, got {type(params).__name__}")
    for name, p in params.items():
        if not isinstance(p, np.ndarray) or p.dtype != np.float64:
            got = f"dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
            raise ValueError(f"params[{name!r}] must be a float64 numpy array (finite differences "
                             f"need float64 precision: cast a copy first), got {got}")
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order!r}")
    if eps is None:
        eps = 1e-4 if order == 4 else 1e-6
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
        raise ValueError(f"eps must be a number in (0, 1), got {eps!r}")
    if max_entries is not None and (isinstance(max_entries, bool) or not isinstance(max_entries, int)
                                    or max_entries < 1):
        raise ValueError(f"max_entries must be None or an integer >= 1, got {max_entries!r}")
    seed = check_seed(seed)

    def loss_of(p):
        out = f(p)
        return float(out[0] if isinstance(out, tuple) else out)

    if grads is None:
        out = f(params)
        if not isinstance(out, tuple):
            raise ValueError("grads is None, so f(params) must return (loss, grads); it returned one value")
        grads = out[1]
    analytic = {}
    for name, p in params.items():
        if name not in grads:
            raise ValueError(f"grads has no entry for parameter {name!r}")
        g = np.array(grads[name], dtype=np.float64)   # our own copy: f may reuse its buffers
        if g.shape != p.shape:
            raise ValueError(f"grads[{name!r}] has shape {g.shape}, but params[{name!r}] has shape {p.shape}")
        analytic[name] = g

    rng = np.random.default_rng(seed)
    checks = {}
    for name, p in params.items():
        chosen = np.arange(p.size)
        if max_entries is not None and p.size > max_entries:
            chosen = np.sort(rng.choice(p.size, size=max_entries, replace=False))
        numeric = numeric_gradient(lambda: loss_of(params), p, eps, order, entries=chosen)
        checked = np.zeros(p.shape, dtype=bool)
        checked.ravel()[chosen] = True
        checks[name] = ParamCheck(name, analytic[name], numeric, checked)
    return GradCheckReport(checks, eps, tol, order)


def check_mlp(net, x, t, eps=None, tol=TOLERANCE, max_entries=None, seed=0, order=4):
    """Gradient-check an :class:`~mlp_helpers.network.MLP` on a batch, in float64.

    Works on a float64 copy of ``net`` (``net`` itself is not touched), with x cast to
    float64. The function checked is the mean cross-entropy that ``net.loss(x, t)``
    differentiates.
    Args: net, an MLP; x (B, D); t (B,) integer labels; the rest as in :func:`grad_check`.
    Returns a :class:`GradCheckReport`.

    On MNIST-sized nets many entries of dl/dW are tiny (around 1e-5), and rounding in
    the differenced losses then eats into the tolerance at the default step; pass
    ``eps=1e-3`` there (notebook 03 does), which keeps the truncation error of the
    fourth-order stencil far below TOLERANCE.
    """
    from .network import cross_entropy

    net64 = net.astype(np.float64)
    x64 = np.asarray(x, dtype=np.float64)
    _, grads = net64.loss(x64, t)          # validates x and t as well

    def f(params):                         # params IS net64.params, perturbed in place
        return float(cross_entropy(net64.forward(x64)["o"], t))

    return grad_check(f, net64.params, grads, eps=eps, tol=tol, max_entries=max_entries,
                      seed=seed, order=order)


def check_scalar(x, label, W, b, V, c, eps=None, tol=TOLERANCE, max_entries=None, seed=0, order=4):
    """Gradient-check :func:`mlp_helpers.scalar.forward_backward` on one example.

    Args: x (D floats), label (int), W, b, V, c as nested lists (see
    :mod:`mlp_helpers.scalar`); the rest as in :func:`grad_check`. The lists are not
    modified. Returns a :class:`GradCheckReport`.
    """
    from . import scalar

    params = {name: np.array(v, dtype=np.float64) for name, v in zip("WbVc", (W, b, V, c))}

    def f(p):
        return scalar.forward_backward(x, label, p["W"].tolist(), p["b"].tolist(),
                                       p["V"].tolist(), p["c"].tolist())

    return grad_check(f, params, eps=eps, tol=tol, max_entries=max_entries, seed=seed, order=order)
