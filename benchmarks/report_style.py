"""The baseline: per-example SGD written the way the report's code snippet does it.

This is the "straightforward" implementation that ``bench_train.py`` times our fast
path against. It follows section 6 of the report line by line -- column vectors
(x is (D, 1), W is (H, D), z = W @ x + b), the full softmax Jacobian
``-y @ y.T + diagflat(y)`` multiplied by dl/dy = -t / y, new arrays at every step,
float64 -- with the report's two slips fixed so that it learns like ours:
every parameter is updated, and the update subtracts (w -= alpha * grad).

It is a benchmark yardstick, not part of the course package.
"""
import math

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(o):
    e = np.exp(o - o.max())
    return e / e.sum()


def forward(x, t, params):
    W, b, V, c = params
    z = W @ x + b
    h = sigmoid(z)
    o = V @ h + c
    y = softmax(o)
    loss = -math.log((y.T @ t)[0][0])
    cache = z, h, o
    return params, loss, y, cache


def backward(x, t, params, y, cache):
    W, b, V, c = params
    z, h, o = cache
    gy = t * (-1 / y)
    go = (-y @ y.T + np.diagflat(y)) @ gy      # the full K x K softmax Jacobian
    gc = go
    gV = go @ h.T
    gh = V.T @ go
    gz = gh * h * (1 - h)
    gW = gz @ x.T
    gb = gz
    return gW, gb, gV, gc


def sgd_step(x, t, params, alpha=1e-2):
    params, loss, y, cache = forward(x, t, params)
    gW, gb, gV, gc = backward(x, t, params, y, cache)
    W, b, V, c = params
    W = W - alpha * gW          # new arrays every step, as in a straightforward script
    b = b - alpha * gb
    V = V - alpha * gV
    c = c - alpha * gc
    return (W, b, V, c), loss


def params_from_net(net):
    """The report's column-vector layout, float64, from an MLP's params (same weights)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in net.params.items()}
    return (p["W"].T.copy(), p["b"][:, None].copy(), p["V"].T.copy(), p["c"][:, None].copy())


def train_epoch(x, labels, params, order, alpha=1e-2):
    """One epoch of per-example SGD in the given example order; returns params and mean loss.

    x: (N, D) rows; labels: (N,) int; order: (N,) example indices.
    """
    K = params[3].shape[0]
    total = 0.0
    for i in order:
        xi = x[i].astype(np.float64).reshape(-1, 1)   # column vector (D, 1)
        t = np.zeros((K, 1))
        t[labels[i]] = 1.0                            # one-hot target (K, 1)
        params, loss = sgd_step(xi, t, params, alpha)
        total += loss
    return params, total / len(order)


def accuracy(x, labels, params):
    """Fraction of rows of x classified correctly by the column-vector network."""
    W, b, V, c = params
    h = sigmoid(W @ x.T.astype(np.float64) + b)
    o = V @ h + c
    return float(np.mean(o.argmax(axis=0) == labels))
