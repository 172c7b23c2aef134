"""The fast inner loops behind :func:`mlp_helpers.train`.

Nothing here is new maths. Each per-example step is the forward pass, y - t, the
backward pass and ``w -= lr * grad`` of :mod:`mlp_helpers.network`, written as plain
loops over numbers, like notebook 02's scalar network (:mod:`mlp_helpers.scalar`),
and compiled to machine code by numba. The tests check both steppers against the
reference loop :func:`mlp_helpers.training.sgd_epoch` (``net.loss``, then
``w -= lr * g``): in float64 to 1e-10 after an epoch on 2,000 MNIST images, in
float32 to 1e-5 (tests/test_training.py, ``KERNEL_TOLERANCE``).

Per-example SGD (batch size 1, the report's setting), :func:`sgd_steps`:

* Sparse inputs. About 81% of MNIST pixels are 0. A pixel x_i = 0 adds nothing to
  z_j = sum_i x_i W_ij + b_j, and its gradient dl/dW_ij = x_i dl/dz_j is 0, so a step
  only reads and writes the rows of W of the ~150 nonzero pixels of its image. The
  nonzeros are listed once per ``train()`` call (:func:`sparse_rows`).
* Everything in place: W, b, c are updated where they are, V as its transpose (see
  :func:`sgd_steps`), and the work vectors z, h, dl/dz, o are allocated once per
  ``train()`` call.
* Numerically stable like :mod:`mlp_helpers.network`: the sigmoid never calls exp of
  a positive number, and the loss is a log-softmax shifted by the largest logit.
* Compiled with ``nogil=True``: while a block of steps runs, other Python threads
  (the explorer's plots, its Stop button) keep running. ``cache=True`` keeps the
  machine code on disk beside this file, so only the first use ever compiles.

Minibatch SGD, :class:`MinibatchSGD`: the steps of :func:`mlp_helpers.network.forward`
and :func:`~mlp_helpers.network.backward` in numpy, with the pixels that are 0 in every
image of the batch left out and the output layer (softmax, loss, y - t) compiled in one
pass (see the class).

Without numba (``HAVE_NUMBA`` is False) ``train`` runs per-example SGD with the
reference loop instead, and says so once.
"""
import math

import numpy as np

from .network import backward, cross_entropy, forward
from .network import sigmoid as sigmoid_array
from ._checks import check_labels, check_params_of, describe

try:
    import numba
except ImportError:                    # the kit still works, per-example SGD much slower
    numba = None

__all__ = ["HAVE_NUMBA", "PerExampleSGD", "MinibatchSGD", "sparse_rows", "sgd_steps", "warm_up"]

#: numba is there and compiles (NUMBA_DISABLE_JIT=1 would run these loops as Python,
#: far slower than the reference loop, so it counts as no numba)
HAVE_NUMBA = numba is not None and not numba.config.DISABLE_JIT


#: Partial sums of o_k = sum_j h_j V_jk: lane l adds up the terms j = l, l + LANES, ...,
#: and the lanes are added in order at the end. Written out like this, the sum is
#: vectorized (one lane per vector slot) and its order, so its rounding, is the same on
#: every machine, whatever the width of its vector registers.
LANES = 8


def _compiled(f):
    """numba's ``njit(cache=True, nogil=True)`` with numba; else f unchanged.

    No "fastmath": every sum is added up in the order the loops say and no multiply-add
    is fused, so the kernel gives the same bits whatever the machine's vector width (tests/test_training.py
    runs it compiled for the plain x86-64 target, SSE2 and no FMA, against this machine's
    own). With fastmath's "reassoc" the compiler chooses the order of a sum by its vector
    width, and an MNIST run at a large learning rate, which amplifies the last bit, ends
    elsewhere on a machine with other vectors."""
    return numba.njit(cache=True, nogil=True)(f) if HAVE_NUMBA else f


@_compiled
def sparse_rows(x):
    """The nonzero pixels of every row of x, in compressed-row (CSR) form.

    Args: x, (N, D) array.
    Returns (indptr, pixels, values): row n's nonzero pixels are
    ``pixels[indptr[n]:indptr[n + 1]]`` (int64 column numbers, in order) with values
    ``values[indptr[n]:indptr[n + 1]]`` (x's dtype). indptr is (N + 1,) int64.
    """
    N, D = x.shape
    indptr = np.zeros(N + 1, np.int64)
    for n in range(N):                               # first pass: how many in each row
        count = 0
        for i in range(D):
            if x[n, i] != 0:
                count += 1
        indptr[n + 1] = indptr[n] + count
    pixels = np.empty(indptr[N], np.int64)
    values = np.empty(indptr[N], x.dtype)
    p = 0
    for n in range(N):                               # second pass: where and what they are
        for i in range(D):
            if x[n, i] != 0:
                pixels[p], values[p] = i, x[n, i]
                p += 1
    return indptr, pixels, values


@_compiled
def sigmoid(z):
    """1 / (1 + e^-z) of one number; exp is only taken of a number <= 0, so never overflows.

    With e = e^-|z|: 1 / (1 + e) for z >= 0, and e / (1 + e) = 1 / (e^-z + 1) for z < 0.
    One exp and a choice of numerator rather than two branches: the processor does not
    guess the sign of each z (what that saves: benchmarks/README.md).
    """
    e = math.exp(-abs(z))
    return (1.0 if z >= 0 else e) / (1.0 + e)


@_compiled
def sgd_steps(order, losses, lr, indptr, pixels, values, labels, W, b, VT, c, z, h, dz, o, part):
    """Per-example SGD steps, in place: one step for each example index in ``order``.

    Args:
        order: (n,) int64 example indices, in the order of the steps.
        losses: (n,) float64, filled with each example's loss l = -log y_label,
            measured before the step that learns from it.
        lr: the learning rate, a number of W's dtype.
        indptr, pixels, values: the nonzero pixels of the examples (:func:`sparse_rows`).
        labels: (N,) int64 class labels.
        W (D, H), b (H,), VT (K, H) = V transposed, c (K,): the weights, updated in place.
            (With V's column k as the row VT[k], every loop below over j runs along
            contiguous memory.)
        z, h, dz (H,), o (K,) and part (LANES,): work vectors of W's dtype (overwritten).
    Returns the number of steps done: n, or fewer if a loss was not finite (that
    step's loss is in ``losses`` and it updated nothing).

    One function of some 60 lines on purpose: it is one SGD step written out in the
    order of :func:`mlp_helpers.network.forward`, ``backward`` and the update, so it
    reads against them line by line (and numba keeps every work vector in reach).
    """
    K, H = VT.shape
    for n in range(len(order)):
        i = order[n]
        first, last = indptr[i], indptr[i + 1]       # the nonzero pixels of x are these
        label = labels[i]

        # forward: z_j = sum_i x_i W_ij + b_j, over the nonzero pixels i only
        for j in range(H):
            z[j] = b[j]
        for p in range(first, last):
            row, x_i = pixels[p], values[p]
            for j in range(H):
                z[j] += x_i * W[row, j]
        # h_j = sigmoid(z_j)
        for j in range(H):
            h[j] = sigmoid(z[j])
        # o_k = sum_j h_j V_jk + c_k, in LANES partial sums (see LANES), then c_k
        tail = H - H % LANES
        for k in range(K):
            part[:] = 0
            for j0 in range(0, tail, LANES):
                for lane in range(LANES):
                    part[lane] += h[j0 + lane] * VT[k, j0 + lane]
            o_k = part[0]
            for lane in range(1, LANES):
                o_k += part[lane]
            for j in range(tail, H):
                o_k += h[j] * VT[k, j]
            o[k] = o_k + c[k]

        # loss: l = -log y_label = log sum_k e^(o_k - top) + top - o_label (log-softmax;
        # subtracting the largest logit, top, keeps every exponent <= 0)
        top = o[0]
        for k in range(1, K):
            top = max(top, o[k])
        total = 0.0
        for k in range(K):
            total += math.exp(o[k] - top)
        loss = math.log(total) + top - o[label]
        losses[n] = loss
        if not math.isfinite(loss):
            return n + 1

        # backward: dl/do_k = y_k - t_k, with y_k = e^(o_k - top) / total; kept in o
        for k in range(K):
            o[k] = math.exp(o[k] - top) / total
        o[label] -= 1.0
        # dl/dh_j = sum_k V_jk dl/do_k (in W's dtype, as the reference loop), kept in dz,
        # then V_jk -= lr h_j dl/do_k and c_k -= lr dl/do_k
        dz[:] = 0
        for k in range(K):
            for j in range(H):
                dz[j] += VT[k, j] * o[k]
            step = lr * o[k]
            for j in range(H):
                VT[k, j] -= step * h[j]
            c[k] -= step
        # through the sigmoid: dl/dz_j = dl/dh_j h_j (1 - h_j); then b_j -= lr dl/dz_j
        for j in range(H):
            dz[j] *= h[j] * (1.0 - h[j])
            b[j] -= lr * dz[j]
        # W_ij -= lr x_i dl/dz_j, for the nonzero pixels i (the other rows' gradient is 0)
        for p in range(first, last):
            row, step = pixels[p], lr * values[p]
            for j in range(H):
                W[row, j] -= step * dz[j]
    return len(order)


def per_example_steps(order):
    """The steps of an epoch of per-example SGD: one per example index of ``order``,
    each of one example. Returns (steps, sizes): ``order`` itself and float64 ones."""
    return order, np.ones(len(order))


def _check_data(net, x, t):
    """x (N, D) of net.dtype and labels t (N,) in [0, K), as the compiled loops index them
    (``train`` checked their values; here only what keeps every index in bounds)."""
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != net.n_in or x.dtype != net.dtype:
        raise ValueError(f"x must be an array of shape (N, {net.n_in}) and dtype {np.dtype(net.dtype).name} "
                         f"(the network's n_in and dtype), got {describe(x)}")
    return check_labels(t, net.n_out, "t", n_examples=len(x))


def _check_indices(indices, n, name):
    """Example indices for the compiled loops: every one in [0, n) (they index without
    bounds checks)."""
    if len(indices) and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"{name} must hold example indices in [0, {n}), got values from "
                         f"{int(indices.min())} to {int(indices.max())}")


class PerExampleSGD:
    """Per-example SGD on one dataset with the compiled :func:`sgd_steps`, in place on
    ``net.params``.

    Args:
        net: an MLP (params 'W' (D, H), 'b' (H,), 'V' (H, K), 'c' (K,)).
        x: (N, D) array of ``net.dtype``, checked finite; t: (N,) int labels, checked.
        lr: the learning rate (> 0); ``train`` sets ``stepper.lr`` before each epoch,
            and every ``run`` uses the value it finds there.

    ``run(order, losses)`` takes one SGD step per example index in ``order`` (in that
    order) and writes each example's loss (before its update) into ``losses``. It
    stops after the first non-finite loss and returns the number of steps taken.
    The compiled code releases the GIL while it runs. ``split(order)`` gives the
    steps of an epoch (:func:`per_example_steps`); the interface is the one every
    stepper of ``train`` shares (see ``mlp_helpers.training._ReferenceSGD``).
    """

    batch_size = 1
    split = staticmethod(per_example_steps)

    def __init__(self, net, x, t, lr):
        if not HAVE_NUMBA:
            raise RuntimeError("PerExampleSGD needs numba (pip install numba); "
                               "train() falls back to the reference loop without it")
        check_params_of(net)                 # the kernel writes into them without bounds checks
        self.net, self.params = net, net.params
        self.lr = float(lr)
        self.labels = np.ascontiguousarray(_check_data(net, x, t), dtype=np.int64)
        self.indptr, self.pixels, self.values = sparse_rows(x)
        H, K = self.params["V"].shape
        dtype = self.params["W"].dtype
        self.work = (np.empty(H, dtype), np.empty(H, dtype), np.empty(H, dtype), np.empty(K, dtype),
                     np.empty(LANES, dtype))

    def run(self, order, losses):
        """SGD steps for the examples ``order`` (ints in [0, N)); returns the number of steps taken.

        Raises ValueError, before any step, if ``net.params`` no longer fits the network
        (an array replaced by one of another shape, dtype or layout) or an index of
        ``order`` is out of range."""
        # the arrays may have been replaced since (a callback can): their shapes again, cheaply
        p = self.params = check_params_of(self.net, finite=False)
        order = np.ascontiguousarray(order, dtype=np.int64)
        _check_indices(order, len(self.labels), "order")
        if len(losses) < len(order):
            raise ValueError(f"losses must have room for one loss per step ({len(order)}), got {len(losses)}")
        out = losses if isinstance(losses, np.ndarray) and losses.dtype == np.float64 \
            and losses.flags.c_contiguous else np.empty(len(order))
        lr = p["W"].dtype.type(self.lr)
        VT = np.ascontiguousarray(p["V"].T)          # (K, H), private to this block of steps
        try:
            done = sgd_steps(order, out, lr, self.indptr, self.pixels, self.values, self.labels,
                             p["W"], p["b"], VT, p["c"], *self.work)
        finally:
            p["V"][...] = VT.T                        # V updated in place, as the other weights
        if out is not losses:
            losses[:done] = out[:done]
        return done


class MinibatchSGD:
    """Minibatch SGD on one dataset, in place on ``net.params``.

    Args: net; x (N, D) of ``net.dtype`` and t (N,) int, both checked; lr (> 0, read
    at every ``run``); batch_size (>= 1).

    Each step is :func:`mlp_helpers.network.forward` and ``backward`` on the batch,
    then ``w -= lr * dl/dw``, with two changes that leave the maths as it is:

    * A pixel that is 0 in every image of the batch adds nothing to z = x W + b, and
      its row of dl/dW = x^T dl/dz is 0; a batch of 64 MNIST images leaves about 290
      of the 784 pixels at 0 everywhere. So each step keeps only the u pixels used by
      the batch: x_u (B, u) and the matching rows W_u (u, H) of W, runs forward and
      backward on those, and updates those rows of W (:func:`batch_on_used_pixels`,
      :func:`step_rows`).
    * The softmax, the loss and dl/do = (y - t) / B are one compiled pass over the
      (B, K) logits (:func:`softmax_cross_entropy`) instead of many numpy calls on a
      small array (the time each saves: benchmarks/README.md).

    The rest is numpy, line by line as in ``network.forward`` and ``backward``; the
    result is theirs up to rounding (tests/test_training.py compares the two in float64
    and float32). Without numba, ``run`` calls ``network.forward`` and ``backward``
    themselves, on all the pixels.

    ``split(order)`` cuts an epoch's example order into batches of ``batch_size``
    (the last may be smaller) and gives their sizes; ``run(batches, losses)`` takes
    one step per batch (an array of example indices) and writes each batch's mean
    loss into ``losses``; it stops after the first non-finite loss and returns the
    number of steps taken.
    """

    def __init__(self, net, x, t, lr, batch_size):
        check_params_of(net)                 # the compiled loops write into them without bounds checks
        self.net, self.params, self.x, self.t = net, net.params, x, _check_data(net, x, t)
        self.lr = float(lr)
        self.batch_size = batch_size
        D, H = self.params["W"].shape
        self.grads = {k: np.empty_like(v) for k, v in self.params.items()}   # dl/dW_u: its first u rows
        if HAVE_NUMBA:
            self.x_u = np.empty(batch_size * D, x.dtype)        # x_u, for any u <= D
            self.W_u = np.empty((D, H), x.dtype)                # W_u, the first u rows used
            self.mark = np.empty(D, x.dtype)                    # which pixels the batch uses
            self.d_o = np.empty((batch_size, len(self.params["c"])), x.dtype)   # dl/do
            self.z = np.empty((batch_size, H), x.dtype)                         # z, then dl/dz

    def split(self, order):
        """(batches, sizes): ``order`` in consecutive batches of ``batch_size`` example
        indices, and the number of examples in each (float64)."""
        B = self.batch_size
        batches = [order[i:i + B] for i in range(0, len(order), B)]
        return batches, np.array([len(b) for b in batches], dtype=np.float64)

    def run(self, batches, losses):
        """One SGD step per batch (arrays of at most ``batch_size`` indices in [0, N));
        returns the number of steps taken. Raises ValueError, before any step, if
        ``net.params`` no longer fits the network or a batch does not fit its buffers."""
        self._check_run(batches)
        if not HAVE_NUMBA:
            return self._run_reference(batches, losses)
        p, g = self.params, self.grads
        lr = p["W"].dtype.type(self.lr)
        for n, idx in enumerate(batches):
            B, labels = len(idx), self.t[idx]
            # the batch on the u pixels it uses (B, u), and those rows of W (u, H)
            used = batch_on_used_pixels(self.x, idx, self.mark, self.x_u)
            u = len(used)
            x_u = self.x_u[:B * u].reshape(B, u)
            # mode="clip": the default mode copies through a buffer (benchmarks/README.md);
            # the indices are in range by construction, so clipping never happens
            W_u = np.take(p["W"], used, axis=0, out=self.W_u[:u], mode="clip")
            # forward, as network.forward: z = x W + b, h = sigmoid(z), o = h V + c
            z = np.matmul(x_u, W_u, out=self.z[:B])     # (in a buffer: no new array a step)
            z += p["b"]
            h = sigmoid_array(z)
            o = h @ p["V"] + p["c"]
            # the loss, and dl/do = (y - t) / B, in one pass over o (softmax_cross_entropy)
            d_o = self.d_o[:B]
            losses[n] = loss = softmax_cross_entropy(o, labels, d_o)
            if not math.isfinite(loss):
                return n + 1
            # backward, as network.backward from dl/do on
            np.matmul(h.T, d_o, out=g["V"])             # dl/dV = h^T dl/do
            np.sum(d_o, axis=0, out=g["c"])             # dl/dc
            d_z = np.matmul(d_o, p["V"].T, out=z)       # dl/dh = dl/do V^T (z is done) ...
            d_z *= h                                    # ... times h (1 - h): dl/dz
            d_z *= 1 - h
            g_W = np.matmul(x_u.T, d_z, out=g["W"][:u])  # dl/dW on the used rows: x_u^T dl/dz
            np.sum(d_z, axis=0, out=g["b"])             # dl/db
            # w -= lr dl/dw
            for name in ("b", "V", "c"):
                p[name] -= lr * g[name]
            step_rows(p["W"], used, g_W, lr)            # W_i -= lr dl/dW_i for the used i
        return len(batches)

    def _check_run(self, batches):
        """The weights (maybe replaced since, by a callback) and the batches fit the buffers."""
        self.params = check_params_of(self.net, finite=False)   # (cheap: no pass over the numbers)
        for n, idx in enumerate(batches):
            if len(idx) > self.batch_size:
                raise ValueError(f"batches[{n}] must have at most batch_size = {self.batch_size} "
                                 f"examples, got {len(idx)}")
        if len(batches):
            _check_indices(np.concatenate(batches), len(self.x), "batches")

    def _run_reference(self, batches, losses):
        """Without numba: network.forward and backward on every pixel, then w -= lr g."""
        p = self.params
        lr = p["W"].dtype.type(self.lr)
        for n, idx in enumerate(batches):
            x, labels = self.x[idx], self.t[idx]
            cache = forward(p, x)
            losses[n] = loss = float(cross_entropy(cache["o"], labels))
            if not math.isfinite(loss):
                return n + 1
            g = backward(p, x, labels, cache)
            for name in p:
                p[name] -= lr * g[name]
        return len(batches)


@_compiled
def softmax_cross_entropy(o, labels, d_o):
    """The output layer of a batch in one pass: its mean loss, and dl/do = (y - t) / B.

    Args: o (B, K) logits; labels (B,) integer classes; d_o (B, K) of o's dtype,
    overwritten.
    Returns the mean over the rows of l = -log y_label (a float), computed as
    :func:`mlp_helpers.network.cross_entropy` does, by the log-softmax shifted by the
    row's largest logit; d_o then holds what :func:`mlp_helpers.network.backward`
    starts from, (softmax(o) - t) / B.
    """
    B, K = o.shape
    loss = 0.0
    for n in range(B):
        top = o[n, 0]
        for k in range(1, K):
            top = max(top, o[n, k])
        total = 0.0
        for k in range(K):
            total += math.exp(o[n, k] - top)
        loss += math.log(total) + top - o[n, labels[n]]
        for k in range(K):
            d_o[n, k] = (math.exp(o[n, k] - top) / total - (k == labels[n])) / B
    return loss / B


@_compiled
def batch_on_used_pixels(x, idx, mark, x_u):
    """The batch's images on the pixels that are nonzero in at least one of them.

    Args: x (N, D) the data; idx (B,) example indices; mark (D,) work array of x's
    dtype; x_u, a flat work array of at least B * D numbers of x's dtype.
    Returns used, the u used pixels in increasing order (int64); x_u's first B * u
    numbers then hold x[idx][:, used], a (B, u) array row by row.
    """
    D = x.shape[1]
    mark[:] = 0
    for n in idx:               # mark_i = sum over the batch of |x_ni|: nonzero (or NaN)
        image = x[n]            # if some image uses pixel i; no branch, so no mispredictions
        for i in range(D):      # (the row taken once, then indexed in 1-D)
            mark[i] += abs(image[i])
    used = np.flatnonzero(mark)
    u = len(used)
    for r in range(len(idx)):   # row r of x_u: image idx[r] on those pixels
        image, start = x[idx[r]], r * u
        for q in range(u):
            x_u[start + q] = image[used[q]]
    return used


@_compiled
def step_rows(W, used, grad_W_u, lr):
    """W[used[r], j] -= lr grad_W_u[r, j]: the SGD step on the rows of W the batch used."""
    for r in range(len(used)):
        i = used[r]
        for j in range(W.shape[1]):
            W[i, j] -= lr * grad_W_u[r, j]


def warm_up():
    """Load the compiled per-example kernels (from numba's cache on disk, else compile
    them) by training a tiny float32 network for two steps, so that a first run at batch
    size 1, the explorer's default, does not wait for them (the explorer calls this in a
    background thread; the minibatch kernels load at the first run that needs them).
    Without numba: nothing to do."""
    if not HAVE_NUMBA:
        return
    from .network import MLP

    x, t = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32), np.array([0, 1], np.int64)
    PerExampleSGD(MLP(2, 2, 2, seed=0), x, t, 0.1).run(np.arange(2, dtype=np.int64), np.empty(2))
