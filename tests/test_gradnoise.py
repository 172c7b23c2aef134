"""Tests of mlp_helpers.gradnoise: per-example gradient lengths, the 1/B law, the measurement."""
import itertools

import numpy as np
import pytest

from mlp_helpers import MLP
from mlp_helpers import gradnoise


@pytest.fixture
def small():
    """A float64 4-5-3 network and 7 examples."""
    rng = np.random.default_rng(3)
    net = MLP(4, 5, 3, seed=1, dtype=np.float64)
    x = rng.normal(size=(7, 4))
    t = np.array([0, 1, 2, 0, 1, 2, 2])
    return net, x, t


def _per_example_gradients(net, x, t):
    """(N, P) matrix: row n is example n's gradient, from net.loss on that example alone."""
    return np.array([gradnoise.flat(net.loss(x[n:n + 1], t[n:n + 1])[1]) for n in range(len(x))])


def test_per_example_sq_norms_equal_the_gradients_of_single_examples(small):
    net, x, t = small
    g_n = _per_example_gradients(net, x, t)
    np.testing.assert_allclose(gradnoise.per_example_sq_norms(net, x, t), (g_n ** 2).sum(axis=1), rtol=1e-12)


def test_minibatch_variance_exact_values():
    np.testing.assert_allclose(gradnoise.minibatch_variance(12.0, [1, 4, 10], 10), [12.0, 2.0, 0.0])


def test_minibatch_variance_is_the_mean_over_every_minibatch(small):
    # the mean of |g_B - g|^2 over all subsets of B distinct examples is tr(Sigma)/B (N-B)/(N-1)
    net, x, t = small
    g_n = _per_example_gradients(net, x, t)
    g = g_n.mean(axis=0)
    trace = ((g_n - g) ** 2).sum(axis=1).mean()
    for B in range(1, 8):
        dist = [((g_n[list(s)].mean(axis=0) - g) ** 2).sum() for s in itertools.combinations(range(7), B)]
        np.testing.assert_allclose(np.mean(dist), gradnoise.minibatch_variance(trace, B, 7),
                                   rtol=1e-10, atol=1e-15)


def test_measure_trace_and_full_gradient(small):
    net, x, t = small
    g_n = _per_example_gradients(net, x, t)
    m = gradnoise.measure(net, x, t, batch_sizes=[1, 7], draws=5, seed=0)
    g = g_n.mean(axis=0)
    assert m["n_train"] == 7 and m["batch_sizes"] == [1, 7]
    np.testing.assert_allclose(m["full_sq_norm"], g @ g, rtol=1e-12)
    np.testing.assert_allclose(m["trace"], ((g_n - g) ** 2).sum(axis=1).mean(), rtol=1e-10)
    # B = N: every draw is the whole set, so no noise and |g_B|^2 = |g|^2
    assert m["variance"][1] < 1e-25 and m["variance_se"][1] < 1e-25
    np.testing.assert_allclose(m["sq_norm"][1], g @ g, rtol=1e-12)
    # B = 1: each draw is one example's gradient
    assert min((g_n ** 2).sum(axis=1)) <= m["sq_norm"][0] <= max((g_n ** 2).sum(axis=1))


def test_measure_is_seeded_and_leaves_the_net_alone(small):
    net, x, t = small
    before = {k: v.copy() for k, v in net.params.items()}
    a = gradnoise.measure(net, x, t, batch_sizes=[2, 3], draws=10, seed=4)
    b = gradnoise.measure(net, x, t, batch_sizes=[2, 3], draws=10, seed=4)
    assert a == b
    assert all(np.array_equal(net.params[k], before[k]) for k in before)


def test_measure_follows_the_law_on_average(small):
    # many draws at B = 2 and 3: the measured mean within 4 standard errors of the law
    net, x, t = small
    m = gradnoise.measure(net, x, t, batch_sizes=[2, 3], draws=4000, seed=0)
    law = gradnoise.minibatch_variance(m["trace"], [2, 3], 7)
    assert np.all(np.abs(np.array(m["variance"]) - law) < 4 * np.array(m["variance_se"]))


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_sizes=[1, 8]), r"batch_sizes must be at most the number of examples N = 7, got 8"),
    (dict(batch_sizes=[0]), r"batch_sizes entry must be an integer >= 1, got 0"),
    (dict(batch_sizes=[]), r"batch_sizes must be a non-empty sequence of integers"),
    (dict(batch_sizes=4), r"batch_sizes must be a non-empty sequence of integers, got 4"),
    (dict(batch_sizes=[1], draws=1), r"draws must be an integer >= 2, got 1"),
    (dict(batch_sizes=[1], seed=-1), r"seed must be an integer >= 0, got -1"),
])
def test_measure_bad_arguments(small, kwargs, message):
    net, x, t = small
    with pytest.raises(ValueError, match=message):
        gradnoise.measure(net, x, t, **kwargs)


def test_bad_inputs():
    net = MLP(4, 5, 3, seed=1, dtype=np.float64)
    with pytest.raises(ValueError, match=r"net must be an MLP"):
        gradnoise.measure(object(), np.zeros((3, 4)), np.zeros(3, int), [1])
    with pytest.raises(ValueError, match=r"t must be class labels in \[0, 3\)"):
        gradnoise.per_example_sq_norms(net, np.zeros((3, 4)), np.array([0, 1, 3]))
    with pytest.raises(ValueError, match=r"x must hold at least 2 examples"):
        gradnoise.measure(net, np.zeros((1, 4)), np.zeros(1, int), [1])
    with pytest.raises(ValueError, match=r"batch_sizes must be in \[1, n_train = 10\], got \[11.0\]"):
        gradnoise.minibatch_variance(1.0, [11], 10)
    with pytest.raises(ValueError, match=r"n_train must be an integer >= 2, got 1"):
        gradnoise.minibatch_variance(1.0, [1], 1)
