"""The fast inner loops behind :func:`mlp_helpers.train`.

Nothing here is new maths: each step is the forward pass, y - t, the backward pass
and ``w -= lr * grad`` of :mod:`mlp_helpers.network`, written so that numpy spends
its time on arithmetic rather than on allocating arrays and on Python overhead.
Tests check both loops against a plain ``net.loss`` + update loop.

Per-example SGD (batch size 1, the report's setting), :class:`PerExampleSGD`:

* Sparse inputs. About 81% of MNIST pixels are 0. For one example x with nonzero
  pixels ``idx``, z = x W + b only needs the rows ``W[idx]``, and dl/dW = x^T dl/dz
  is zero outside those rows. So each step gathers the ~150 rows it needs, uses them
  for the forward pass, updates them, and writes them back: a fifth of the work of
  the dense step. The nonzeros of the whole training set are found once per
  ``train()`` call (a CSR-like layout: ``indptr``, ``indices``, values).
* Everything in place, in preallocated buffers of the network's dtype (float32
  halves the memory traffic of float64).
* The outer product dl/dW = x^T dl/dz is computed as a (n, 2) @ (2, H) matrix
  product with a zero second column: numpy hands that to BLAS, which is several
  times quicker than a broadcast multiply over n short rows.
* V is kept transposed, VT (K, H), during a run of steps (so its outer-product update
  is K long rows) and copied back into ``params['V']`` at the end of every run,
  also when the run is interrupted.
* The learning rate is folded into dl/do once: g = -lr (y - t); every later
  gradient is then already a step, and each update is a single in-place add.
* The softmax of K = 10 logits is done with Python floats (numpy's per-call cost
  is larger than the arithmetic for 10 numbers), shifted by the max so exp never
  overflows; the sigmoid is 0.5 (1 + tanh(z / 2)), which cannot overflow.

Minibatch SGD, :class:`MinibatchSGD`: the batch is gathered into a preallocated
array, ``net.loss`` writes the gradients into preallocated arrays (``out=``), and the
update is in place: no array of parameter size is allocated per step. With sparse
inputs each batch drops the pixels that are 0 in all its images (see the class).
"""
import copy
import math

import numpy as np

__all__ = ["PerExampleSGD", "MinibatchSGD", "sparse_rows", "is_sparse"]

#: Below this fraction of nonzero entries the per-example loop uses the sparse rows.
SPARSE_DENSITY = 0.5


def is_sparse(x):
    """True when x (N, D) is mostly zeros, so gathering rows of W pays off."""
    return x.shape[1] >= 8 and np.count_nonzero(x) <= SPARSE_DENSITY * x.size


def sparse_rows(x, dtype):
    """The nonzeros of each row of x, in a CSR-like layout.

    Args: x (N, D) array; dtype of the values (the network's).
    Returns (indptr, indices, values2): row i's nonzero columns are
    ``indices[indptr[i]:indptr[i+1]]`` (intp) and its values
    ``values2[indptr[i]:indptr[i+1], 0]``; ``values2`` is (nnz, 2) with a zero second
    column, the left factor of the outer product x^T dl/dz. ``indptr`` is a list.
    """
    nonzero = x != 0
    indptr = np.zeros(x.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(nonzero, axis=1), out=indptr[1:])
    flat = np.flatnonzero(nonzero)                  # row-major: row by row, columns in order
    values2 = np.zeros((flat.size, 2), dtype=dtype)
    values2[:, 0] = np.ravel(x)[flat]
    return indptr.tolist(), (flat % x.shape[1]).astype(np.intp), values2


class PerExampleSGD:
    """Per-example SGD on one dataset, in place on ``net.params``.

    Args:
        net: an MLP (params 'W' (D, H), 'b' (H,), 'V' (H, K), 'c' (K,)).
        x: (N, D) array of ``net.dtype``, checked finite; y: (N,) int labels, checked.
        lr: the learning rate (> 0).
        sparse: use the sparse-row kernel (default: when x is mostly zeros).

    ``run(order, losses)`` takes one SGD step per example index in ``order`` (in that
    order) and writes each example's loss (before its update) into ``losses``. It
    stops after the first non-finite loss and returns the number of steps taken.
    """

    def __init__(self, net, x, y, lr, sparse=None):
        self.params = net.params
        self.lr = float(lr)
        self.labels = y.tolist()
        W = self.params["W"]
        dtype, (D, H), K = W.dtype, W.shape, self.params["V"].shape[1]
        self.sparse = is_sparse(x) if sparse is None else bool(sparse)
        if self.sparse:
            self.indptr, self.indices, self.values2 = sparse_rows(x, dtype)
            self.rows = np.empty((D, H), dtype)         # gathered rows W[idx]
        else:
            self.x2 = np.zeros((x.shape[0], D, 2), dtype) if D <= 64 else None
            if self.x2 is not None:                      # small D: each x as a (D, 2) column
                self.x2[:, :, 0] = x
            self.x = x
            self.xcol = np.zeros((D, 2), dtype)
        self.step_W = np.empty((D, H), dtype)           # the update -lr dl/dW (rows used)
        self.z = np.empty(H, dtype)
        self.h = np.empty(H, dtype)
        self.dh = np.empty(H, dtype)
        self.hh = np.empty(H, dtype)
        self.dz2 = np.zeros((2, H), dtype)              # row 0: -lr dl/dz, row 1: zeros
        self.o = np.empty(K, dtype)
        self.g = np.empty(K, dtype)                     # -lr dl/do
        self.g_col = self.g[:, None]                    # the same, as a (K, 1) column
        self.step_VT = np.empty((K, H), dtype)
        self.half = dtype.type(0.5)
        self.one = dtype.type(1.0)

    def run(self, order, losses):
        """SGD steps for the examples ``order`` (list or array of ints); returns steps taken."""
        VT = np.ascontiguousarray(self.params["V"].T)   # (K, H), private during the run
        try:
            kernel = self._run_sparse if self.sparse else self._run_dense
            return kernel(order, losses, VT)
        finally:
            self.params["V"][...] = VT.T

    def _softmax_step(self, label):
        """From the logits in self.o: the loss, and self.g = -lr (y - t). Python floats."""
        o = self.o.tolist()
        m = max(o)                                       # shift: exp never overflows
        e = [math.exp(v - m) for v in o]
        total = sum(e)
        loss = math.log(total) + m - o[label]            # -log y_label = log sum e^o - o_label
        scale = -self.lr / total
        g = [v * scale for v in e]                       # -lr y
        g[label] += self.lr                              # -lr (y - t)
        self.g[:] = g
        return loss

    def _step(self, VT, losses):
        """The middle of a per-example step, shared by both kernels, as a closure.

        ``step(n, label)``, called once the kernel has put x W into ``self.z``: the rest
        of the forward pass (z += b, h = sigmoid(z) = (1 + tanh(z/2)) / 2, o = h V + c),
        the loss into ``losses[n]`` and g = -lr (y - t), the backward pass down to
        ``dz2[0]`` = -lr dl/dz, and the in-place updates of V (as VT), c and b. Returns
        False, having updated nothing, when the loss is not finite. The kernel then
        updates the rows of W, which it alone knows (all of them, or the gathered ones).
        """
        b, c = self.params["b"], self.params["c"]
        z, h, hh, dh, o, g, step_VT = self.z, self.h, self.hh, self.dh, self.o, self.g, self.step_VT
        dz, g_col = self.dz2[0], self.g_col
        half, one = self.half, self.one
        add, dot, multiply, subtract, tanh = np.add, np.dot, np.multiply, np.subtract, np.tanh
        softmax_step, isfinite = self._softmax_step, math.isfinite

        def step(n, label):
            # forward: z = x W + b, h = sigmoid(z), o = h V + c
            add(z, b, out=z)
            multiply(z, half, out=h)
            tanh(h, out=h)
            multiply(h, half, out=h)
            add(h, half, out=h)
            dot(VT, h, out=o)
            add(o, c, out=o)
            loss = softmax_step(label)
            losses[n] = loss
            if not isfinite(loss):
                return False
            # backward, already times -lr: g = -lr dl/do
            dot(g, VT, out=dh)                           # -lr dl/dh = g V^T (V before its update)
            subtract(one, h, out=hh)
            multiply(hh, h, out=hh)
            multiply(hh, dh, out=dz)                     # -lr dl/dz = -lr dl/dh * h (1 - h)
            multiply(g_col, h, out=step_VT)              # -lr dl/dV^T = g h^T
            add(VT, step_VT, out=VT)
            add(c, g, out=c)
            add(b, dz, out=b)
            return True

        return step

    def _run_sparse(self, order, losses, VT):
        W, dz2, labels = self.params["W"], self.dz2, self.labels
        indptr, indices, values2 = self.indptr, self.indices, self.values2
        values = values2[:, 0]
        rows_buf, step_buf = self.rows, self.step_W
        z, take, dot, matmul = self.z, np.take, np.dot, np.matmul
        step = self._step(VT, losses)
        for n, i in enumerate(order):
            start, stop = indptr[i], indptr[i + 1]
            idx, x2, xi = indices[start:stop], values2[start:stop], values[start:stop]
            Wi, step_W = rows_buf[:stop - start], step_buf[:stop - start]
            take(W, idx, axis=0, out=Wi, mode="clip")   # the rows of W this x touches
            dot(xi, Wi, out=z)                           # x W, from those rows only
            if not step(n, labels[i]):
                return n + 1
            matmul(x2, dz2, out=step_W)                  # -lr dl/dW[idx] = x[idx]^T (-lr dl/dz)
            Wi += step_W
            W[idx] = Wi                                  # write the updated rows back
        return len(order)

    def _run_dense(self, order, losses, VT):
        W, dz2, labels = self.params["W"], self.dz2, self.labels
        x, x2all, xcol = self.x, self.x2, self.xcol
        step_W, z, dot, matmul = self.step_W, self.z, np.dot, np.matmul
        step = self._step(VT, losses)
        for n, i in enumerate(order):
            if x2all is not None:
                x2 = x2all[i]
            else:
                xcol[:, 0] = x[i]
                x2 = xcol
            dot(x2[:, 0], W, out=z)
            if not step(n, labels[i]):
                return n + 1
            matmul(x2, dz2, out=step_W)                  # -lr dl/dW = x^T (-lr dl/dz)
            W += step_W
        return len(order)


class MinibatchSGD:
    """Minibatch SGD on one dataset, in place on ``net.params``, with no per-step
    allocation of parameter-sized arrays.

    Args: net; x (N, D) of ``net.dtype`` and y (N,) int, both checked; lr (> 0);
    batch_size (>= 1); sparse: drop the all-zero input columns of each batch
    (default: when x is mostly zeros).

    Sparse batches: a pixel that is 0 in every image of the batch adds nothing to
    z = x W + b, and its row of dl/dW = x^T dl/dz is 0. A batch of 64 MNIST images
    leaves about 290 of the 784 pixels at 0 everywhere, so each step gathers the
    other columns of x and rows of W, calls ``net.loss`` on that smaller network
    (same b, V, c arrays), updates the gathered rows and writes them back: about
    a third less arithmetic, the same result up to float rounding.

    ``run(batches, losses)`` takes one step per batch (an array of example indices)
    and writes each batch's mean loss into ``losses``; it stops after the first
    non-finite loss and returns the number of steps taken.
    """

    #: use the full network when a batch's nonzero columns exceed this fraction of D
    DENSE_ABOVE = 0.85

    def __init__(self, net, x, y, lr, batch_size, sparse=None):
        self.net, self.x, self.y = net, x, y
        self.lr = net.dtype.type(lr)
        self.sparse = is_sparse(x) if sparse is None else bool(sparse)
        D, H = net.params["W"].shape
        self.xb = np.empty((batch_size, D), x.dtype)
        self.yb = np.empty(batch_size, y.dtype)
        self.grads = {k: np.empty_like(v) for k, v in net.params.items()}
        if self.sparse:
            self.xg = np.empty(batch_size * D, x.dtype)        # x[:, cols], any number of cols
            self.Wg = np.empty((D, H), x.dtype)                # W[cols]
            self.small = copy.copy(net)                        # the network on those columns

    def run(self, batches, losses):
        params, grads, lr = self.net.params, self.grads, self.lr
        xb_buf, yb_buf, x, y = self.xb, self.yb, self.x, self.y
        D = xb_buf.shape[1]
        take, flatnonzero = np.take, np.flatnonzero
        # the unchecked loss when the network has one (the data were checked once, up front)
        loss_fn = getattr(self.net, "_loss", self.net.loss)
        if self.sparse:
            small = self.small
            small.params = dict(params)
            small_grads = dict(grads)
            small_loss = getattr(small, "_loss", small.loss)
            W, gW = params["W"], grads["W"]
        for n, idx in enumerate(batches):
            xb, yb = xb_buf[:len(idx)], yb_buf[:len(idx)]
            take(x, idx, axis=0, out=xb, mode="clip")
            take(y, idx, out=yb, mode="clip")
            cols = flatnonzero(xb.any(axis=0)) if self.sparse else None
            if cols is None or len(cols) > self.DENSE_ABOVE * D:
                loss, _ = loss_fn(xb, yb, out=grads)
                losses[n] = loss
                if not math.isfinite(loss):
                    return n + 1
                _sgd_update(params, grads, lr)
                continue
            # only the columns of x that are nonzero somewhere in the batch, and their rows of W
            u = len(cols)
            xg = take(xb, cols, axis=1, out=self.xg[:len(idx) * u].reshape(len(idx), u), mode="clip")
            Wg = take(W, cols, axis=0, out=self.Wg[:u], mode="clip")
            small.n_in = u
            small.params["W"] = Wg
            small_grads["W"] = gW[:u]
            loss, _ = small_loss(xg, yb, out=small_grads)
            losses[n] = loss
            if not math.isfinite(loss):
                return n + 1
            _sgd_update(small.params, small_grads, lr)     # b, V, c in place; W's rows in Wg
            W[cols] = Wg
        return len(batches)


def _sgd_update(params, grads, lr):
    """w -= lr * dl/dw for every parameter, in place (the gradient buffers are scaled)."""
    for k, w in params.items():
        g = grads[k]
        np.multiply(g, lr, out=g)
        np.subtract(w, g, out=w)
