"""The numpy network: shapes, initialisation, gradients, agreement with the scalar version,
stability at +-1e4, preallocated gradient buffers, and every bad-input error."""
import warnings

import numpy as np
import pytest

from mlp_helpers import scalar
from mlp_helpers.gradcheck import TOLERANCE, check_mlp
from mlp_helpers.network import MLP, cross_entropy, log_softmax, sigmoid, softmax

DTYPES = [np.float32, np.float64]


def _batch(B=6, D=4, K=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, D)).astype(dtype)
    t = rng.integers(0, K, size=B)
    return x, t


@pytest.fixture
def strict():
    """Every floating-point event (overflow, invalid, divide, underflow) and every warning is an error."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


# ---- shapes and basics ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_shapes_and_dtypes(dtype):
    net = MLP(4, 5, 3, seed=0, dtype=dtype)
    assert (net.n_in, net.n_hidden, net.n_out, net.dtype) == (4, 5, 3, np.dtype(dtype))
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {"W": (4, 5), "b": (5,), "V": (5, 3), "c": (3,)}
    x, t = _batch(B=6)
    out = net.forward(x)
    assert {k: v.shape for k, v in out.items()} == {"z": (6, 5), "h": (6, 5), "o": (6, 3), "y": (6, 3)}
    assert all(v.dtype == dtype for v in out.values())
    loss, grads = net.loss(x, t)
    assert type(loss) is float
    assert all(grads[k].shape == net.params[k].shape and grads[k].dtype == dtype for k in grads)
    assert net.predict(x).dtype == np.int64 and net.predict(x).shape == (6,)
    assert net.predict_proba(x).shape == (6, 3)
    acc = net.accuracy(x, t)
    assert type(acc) is float and acc == np.mean(out["y"].argmax(1) == t)


def test_forward_follows_the_equations():
    net = MLP(4, 5, 3, seed=2, dtype=np.float64)
    net.params["b"][:] = np.linspace(-1, 1, 5)
    net.params["c"][:] = [0.3, -0.2, 0.1]
    x, _ = _batch(B=2, dtype=np.float64)
    W, b, V, c = (net.params[k] for k in "WbVc")
    out = net.forward(x)
    z = x @ W + b
    h = 1 / (1 + np.exp(-z))
    o = h @ V + c
    y = np.exp(o) / np.exp(o).sum(1, keepdims=True)
    for name, want in dict(z=z, h=h, o=o, y=y).items():
        np.testing.assert_allclose(out[name], want, rtol=1e-13, atol=1e-15)
    loss, _ = net.loss(x, np.array([2, 0]))
    assert loss == pytest.approx(-(np.log(y[0, 2]) + np.log(y[1, 0])) / 2, rel=1e-13)


def test_input_of_other_dtype_is_cast():
    net = MLP(4, 5, 3, dtype=np.float32)
    x64, t = _batch(dtype=np.float64)
    assert net.forward(x64)["y"].dtype == np.float32
    assert net.loss(x64, t)[1]["W"].dtype == np.float32
    assert net.loss(x64, t)[0] == net.loss(x64.astype(np.float32), t)[0]
    assert net.predict(np.zeros((2, 4), dtype=np.uint8)).shape == (2,)


# ---- initialisation ----------------------------------------------------------------

def test_init_is_seeded_xavier_uniform_with_zero_biases():
    net = MLP(784, 300, 10, seed=0)
    a_W, a_V = np.sqrt(6 / (784 + 300)), np.sqrt(6 / (300 + 10))
    W, V = net.params["W"], net.params["V"]
    assert np.abs(W).max() <= a_W and np.abs(W).max() > 0.99 * a_W
    assert np.abs(V).max() <= a_V and np.abs(V).max() > 0.95 * a_V
    assert W.std() == pytest.approx(a_W / np.sqrt(3), rel=0.01)   # variance of U(-a, a) is a^2 / 3
    assert not net.params["b"].any() and not net.params["c"].any()
    again, other = MLP(784, 300, 10, seed=0), MLP(784, 300, 10, seed=1)
    assert all(np.array_equal(net.params[k], again.params[k]) for k in "WbVc")
    assert not np.array_equal(net.params["W"], other.params["W"])


def test_float32_and_float64_nets_share_their_initial_weights():
    a, b = MLP(4, 5, 3, seed=3, dtype=np.float32), MLP(4, 5, 3, seed=3, dtype=np.float64)
    for k in "WbVc":
        np.testing.assert_array_equal(a.params[k], b.params[k].astype(np.float32))


def test_copy_and_astype_are_independent():
    net = MLP(4, 5, 3, seed=0)
    twin = net.copy()
    assert twin.dtype == net.dtype and (twin.n_in, twin.n_hidden, twin.n_out) == (4, 5, 3)
    twin.params["W"][0, 0] += 1
    assert twin.params["W"][0, 0] != net.params["W"][0, 0]
    net64 = net.astype(np.float64)
    assert net64.dtype == np.float64 and net.dtype == np.float32
    np.testing.assert_array_equal(net64.params["V"], net.params["V"])


# ---- gradients ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_check_float64(seed):
    net = MLP(4, 5, 3, seed=seed, dtype=np.float64)
    x, t = _batch(B=4, seed=seed + 10, dtype=np.float64)
    report = check_mlp(net, x, t)
    assert report.max_rel_error < TOLERANCE, report


def test_gradient_check_after_some_training_and_on_a_subset_of_a_wide_layer():
    # A random subset of a 20 x 30 W, with biases moved away from 0.
    net = MLP(20, 30, 4, seed=5, dtype=np.float64)
    rng = np.random.default_rng(0)
    net.params["b"][:] = rng.normal(size=30)
    net.params["c"][:] = rng.normal(size=4)
    x, t = _batch(B=3, D=20, K=4, seed=1, dtype=np.float64)
    report = check_mlp(net, x, t, max_entries=40, seed=0)
    assert report["W"].n_checked == 40 and report["V"].n_checked == 40 and report["c"].n_checked == 4
    assert report.max_rel_error < TOLERANCE, report


@pytest.mark.parametrize("seed", [0, 1])
def test_scalar_and_numpy_agree_on_one_example(seed):
    net = MLP(4, 5, 3, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    net.params["b"][:] = rng.normal(size=5)
    net.params["c"][:] = rng.normal(size=3)
    x, t = _batch(B=1, seed=seed, dtype=np.float64)
    loss, grads = net.loss(x, t)
    p = {k: v.tolist() for k, v in net.params.items()}
    s_loss, s_grads = scalar.forward_backward(x[0].tolist(), int(t[0]), p["W"], p["b"], p["V"], p["c"])
    assert abs(loss - s_loss) < 1e-12
    for k in "WbVc":
        np.testing.assert_allclose(grads[k], np.array(s_grads[k]), rtol=1e-12, atol=1e-12)
    s_cache = scalar.forward(x[0].tolist(), p["W"], p["b"], p["V"], p["c"])
    n_cache = net.forward(x)
    for k in "zhoy":
        np.testing.assert_allclose(n_cache[k][0], s_cache[k], rtol=1e-12, atol=1e-12)


def test_batch_gradient_is_the_mean_of_scalar_gradients():
    net = MLP(3, 4, 2, seed=4, dtype=np.float64)
    x, t = _batch(B=5, D=3, K=2, seed=4, dtype=np.float64)
    loss, grads = net.loss(x, t)
    p = {k: v.tolist() for k, v in net.params.items()}
    per_row = [scalar.forward_backward(xi.tolist(), int(ti), p["W"], p["b"], p["V"], p["c"])
               for xi, ti in zip(x, t)]
    assert loss == pytest.approx(np.mean([l for l, _ in per_row]), abs=1e-12)
    for k in "WbVc":
        mean = np.mean([np.array(g[k]) for _, g in per_row], axis=0)
        np.testing.assert_allclose(grads[k], mean, rtol=1e-12, atol=1e-12)


def test_float32_gradients_close_to_float64():
    net32 = MLP(10, 8, 4, seed=0, dtype=np.float32)
    net64 = net32.astype(np.float64)
    x, t = _batch(B=16, D=10, K=4, seed=0, dtype=np.float32)
    l32, g32 = net32.loss(x, t)
    l64, g64 = net64.loss(x, t)
    assert l32 == pytest.approx(l64, rel=1e-6)
    for k in "WbVc":
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-4, atol=1e-6 * np.abs(g64[k]).max())


# ---- backward: the maths alone ---------------------------------------------------------

def test_backward_with_cache_matches_loss_and_the_chain_rule():
    net = MLP(4, 5, 3, seed=1, dtype=np.float64)
    x, t = _batch(dtype=np.float64)
    _, grads = net.loss(x, t)
    cache = net.forward(x)
    back = net.backward(x, t, cache)
    p, h, B = net.params, cache["h"], len(x)
    d_o = (cache["y"] - np.eye(3)[t]) / B            # dl/do = (y - t) / B
    d_h = d_o @ p["V"].T                             # dl/dh
    d_z = d_h * h * (1 - h)
    want = {"W": x.T @ d_z, "b": d_z.sum(0), "V": h.T @ d_o, "c": d_o.sum(0)}
    for k in "WbVc":
        np.testing.assert_array_equal(back[k], grads[k])
        np.testing.assert_allclose(back[k], want[k], rtol=1e-14, atol=1e-16)
    # fresh arrays every call: nothing is shared with the weights or an earlier call
    assert all(back[k] is not grads[k] and back[k] is not p[k] for k in "WbVc")


# ---- evaluation -------------------------------------------------------------------------

def test_mean_loss_in_chunks_equals_the_loss():
    net = MLP(4, 5, 3, seed=0, dtype=np.float64)
    x, t = _batch(B=10, dtype=np.float64)
    whole, _ = net.loss(x, t)
    assert net.mean_loss(x, t, batch=3) == pytest.approx(whole, rel=1e-14)
    assert net.mean_loss(x, t) == pytest.approx(whole, rel=1e-14)
    np.testing.assert_allclose(net.predict_proba(x, batch=4), net.forward(x)["y"], rtol=1e-15)
    np.testing.assert_array_equal(net.predict(x, batch=3), net.forward(x)["y"].argmax(1))


@pytest.mark.parametrize("batch", [3, 10_000])
def test_evaluate_gives_mean_loss_and_accuracy_in_one_pass(batch):
    net = MLP(4, 5, 3, seed=0)
    x, t = _batch(B=10)
    assert net.evaluate(x, t, batch=batch) == (net.mean_loss(x, t, batch=batch), net.accuracy(x, t, batch=batch))
    loss, acc = net.evaluate(x, t, batch=batch)
    assert type(loss) is float and type(acc) is float and 0 <= acc <= 1


# ---- stability ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_at_plus_minus_1e4(dtype, strict):
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    h = sigmoid(z)
    assert h.dtype == dtype
    np.testing.assert_array_equal(h[0, [0, 2, 4]], [0.0, 0.5, 1.0])
    o = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [0.0, 1.0, 2.0]], dtype=dtype)
    y = softmax(o)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(y[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-6)
    logp = log_softmax(o)
    assert np.isfinite(logp).all()
    assert logp[0, 2] == pytest.approx(-2e4, rel=1e-6)
    assert float(cross_entropy(o[:1], np.array([2]))) == pytest.approx(2e4, rel=1e-6)
    assert float(cross_entropy(o[:1], np.array([0]))) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_network_with_huge_pre_activations_and_logits(dtype, strict):
    # Weights that push z to +-1e4 and the logits to +-1e4 (and a gap of 2e4).
    net = MLP(2, 3, 3, seed=0, dtype=dtype)
    net.params["W"][:] = [[1e4, -1e4, 1e4], [0.0, 0.0, 0.0]]
    net.params["V"][:] = [[1e4, 0.0, -1e4], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    x = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=dtype)
    out = net.forward(x)
    assert np.abs(out["z"]).max() == 1e4 and np.abs(out["o"]).max() == 1e4
    np.testing.assert_array_equal(out["h"], [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(out["y"][0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(out["y"][1], [1 / 3] * 3, rtol=1e-6)
    # right and confident: loss 0; hugely wrong: loss 2e4, finite
    loss_right, grads = net.loss(x[:1], np.array([0]))
    assert loss_right == 0.0 and all(np.isfinite(g).all() for g in grads.values())
    loss_wrong, grads = net.loss(x[:1], np.array([2]))
    assert loss_wrong == pytest.approx(2e4, rel=1e-6)
    assert all(np.isfinite(g).all() for g in grads.values())
    np.testing.assert_array_equal(grads["c"], [1.0, 0.0, -1.0])      # y - t
    assert np.isfinite(net.mean_loss(x, np.array([2, 1])))


def test_softmax_rows_sum_to_one():
    rng = np.random.default_rng(0)
    for dtype, rtol in [(np.float32, 1e-6), (np.float64, 1e-14)]:
        o = (rng.normal(size=(50, 10)) * 30).astype(dtype)
        y = softmax(o)
        assert (y >= 0).all() and (y <= 1).all()
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=rtol)
        np.testing.assert_allclose(np.exp(log_softmax(o)), y, rtol=100 * rtol, atol=1e-30)


# ---- bad input --------------------------------------------------------------------------

@pytest.fixture
def net():
    return MLP(4, 5, 3, seed=0)


def test_bad_x(net):
    x, t = _batch()
    with pytest.raises(ValueError, match=r"x must have 4 columns \(one per input\), got shape \(6, 3\)"):
        net.loss(x[:, :3], t)
    with pytest.raises(ValueError, match=r"x must be 2-D with shape \(N, D\).*got shape \(4,\)"):
        net.forward(x[0])
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 4\)\)"):
        net.predict(x[:0])
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"x must be finite, but 1 entries are NaN or inf "
                                         r"\(the first, at row 2, column 1, is nan\)"):
        net.loss(bad, t)
    bad[3, 0] = np.inf
    with pytest.raises(ValueError, match=r"x must be finite, but 2 entries"):
        net.accuracy(bad, t)
    for value in (np.inf, -np.inf):          # alone, an inf is the largest or the smallest entry
        one = x.copy()
        one[5, 3] = value
        with pytest.raises(ValueError, match=rf"x must be finite, but 1 entries .* column 3, is {value!r}\)"):
            net.predict(one)
    with pytest.raises(ValueError, match=r"x must be a numpy array"):
        net.forward(x.tolist())


def test_bad_labels(net):
    x, t = _batch()
    with pytest.raises(ValueError, match=r"t must be class labels in \[0, 3\), got values from -1"):
        net.loss(x, np.array([0, 1, 2, -1, 0, 1]))
    with pytest.raises(ValueError, match=r"t must be class labels in \[0, 3\), got values from 0 to 3"):
        net.accuracy(x, np.array([0, 1, 2, 3, 0, 1]))
    with pytest.raises(ValueError, match=r"t must hold integer class labels, got dtype float64"):
        net.loss(x, t.astype(np.float64))
    with pytest.raises(ValueError, match=r"t must have one label per row of x \(6\), got 5"):
        net.mean_loss(x, t[:5])
    with pytest.raises(ValueError, match=r"t must be 1-D integer labels"):
        net.loss(x, t[:, None])


@pytest.mark.parametrize("args,kwargs,match", [
    ((4, 5, 3), dict(dtype=np.int8), r"dtype must be np.float32 or np.float64, got <class 'numpy.int8'>"),
    ((4, 5, 3), dict(dtype=np.float16), r"dtype must be np.float32 or np.float64"),
    ((4, 5, 3), dict(dtype=None), r"dtype must be np.float32 or np.float64, got None"),
    ((4, 5, 3), dict(dtype="not a dtype"), r"dtype must be np.float32 or np.float64, got 'not a dtype'"),
    ((4, 0, 3), {}, r"n_hidden must be an integer >= 1, got 0"),
    ((0, 5, 3), {}, r"n_in must be an integer >= 1, got 0"),
    ((4, 5, 2.0), {}, r"n_out must be an integer >= 2, got 2.0"),
    ((4, 5, 1), {}, r"n_out must be an integer >= 2, got 1"),          # one class: loss always 0
    ((4, 5, 3), dict(seed="abc"), r"seed must be an integer >= 0, got 'abc' \(str\)"),
    ((4, 5, 3), dict(seed=-1), r"seed must be an integer >= 0, got -1"),
    ((4, 5, 3), dict(seed=1.5), r"seed must be an integer >= 0, got 1.5 \(float\)"),
])
def test_bad_constructor_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(*args, **kwargs)


def test_bad_mean_loss_batch(net):
    x, t = _batch()
    with pytest.raises(ValueError, match=r"batch must be an integer >= 1, got 0"):
        net.mean_loss(x, t, batch=0)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "accuracy", "evaluate"])
@pytest.mark.parametrize("batch, match", [
    (0, r"batch must be an integer >= 1, got 0"),
    (-3, r"batch must be an integer >= 1, got -3"),
    (2.5, r"batch must be an integer >= 1, got 2.5 \(float\)"),
])
def test_bad_prediction_batch(net, method, batch, match):
    x, t = _batch()
    args = (x, t) if method in ("accuracy", "evaluate") else (x,)
    with pytest.raises(ValueError, match=match):
        getattr(net, method)(*args, batch=batch)
    assert net.predict(x, batch=4).tolist() == net.predict(x).tolist()     # chunks agree


def test_finiteness_is_checked_after_the_cast_to_the_network_dtype(net):
    x, t = _batch(dtype=np.float64)
    x[4, 2] = 1e39                          # finite in float64, inf in float32
    for call in (lambda: net.loss(x, t), lambda: net.predict(x), lambda: net.mean_loss(x, t)):
        with pytest.raises(ValueError, match=r"x must be finite in float32 \(\|x\| <= 3.403e\+38.*"
                                             r"1 entries are out of that range \(the first, at row 4, "
                                             r"column 2, is 1e\+39, which would become inf\)"):
            call()
    # a float64 network takes the same value, and float32 takes its own largest finite number
    assert np.isfinite(MLP(4, 5, 3, dtype=np.float64).loss(x, t)[0])
    x[4, 2] = np.finfo(np.float32).max
    net.predict(x)


def test_a_network_with_non_finite_weights_refuses_to_predict(net):
    x, t = _batch()
    net.params["V"][1, 2] = np.nan
    for call in (lambda: net.predict(x), lambda: net.predict_proba(x), lambda: net.accuracy(x, t),
                 lambda: net.evaluate(x, t)):
        with pytest.raises(ValueError, match=r"the network's weights are not finite \(params 'V' hold "
                                             r"NaN or inf\).*training diverged.*smaller learning rate"):
            call()
    assert not net.params_finite()
    assert np.isnan(net.mean_loss(x, t))    # the loss says NaN itself: no plausible number


# ---- MLP.from_params: the scalar network's nested lists -> a numpy network ----------------

def test_from_params_takes_scalar_lists_and_agrees_with_the_scalar_forward():
    p = scalar.init_params(3, 4, 2, seed=1)
    p["b"] = [0.1, -0.2, 0.3, 0.05]
    p["c"] = [0.5, -0.5]
    net = MLP.from_params(p)
    assert (net.n_in, net.n_hidden, net.n_out, net.dtype) == (3, 4, 2, np.dtype(np.float64))
    assert {k: v.shape for k, v in net.params.items()} == {"W": (3, 4), "b": (4,), "V": (4, 2), "c": (2,)}
    xs = [[0.5, -1.0, 2.0], [1.5, 0.0, -0.3]]
    expected = [scalar.forward(x, p["W"], p["b"], p["V"], p["c"])["y"] for x in xs]
    np.testing.assert_allclose(net.predict_proba(np.array(xs)), expected, rtol=0, atol=1e-15)
    net.params["W"][0, 0] += 1.0                        # a copy: the lists are untouched
    assert net.params["W"][0, 0] == p["W"][0][0] + 1.0


def test_from_params_copies_arrays_and_casts_to_the_dtype():
    src = MLP(4, 3, 2, seed=0, dtype=np.float64)
    net = MLP.from_params(src.params, dtype=np.float32)
    assert net.dtype == np.float32 and all(v.dtype == np.float32 for v in net.params.values())
    for k, v in src.params.items():
        np.testing.assert_array_equal(net.params[k], v.astype(np.float32))
        assert not np.shares_memory(net.params[k], v)


@pytest.mark.parametrize("change, match", [
    ({"b": [0.0, 0.0]}, r"params\['b'\] must have shape \(H,\) = \(3,\)"),
    ({"V": np.zeros((2, 2))}, r"params\['V'\] must be \(H, K\) with H = 3 rows"),
    ({"c": np.zeros(3)}, r"params\['c'\] must have shape \(K,\) = \(2,\)"),
    ({"W": np.zeros(4)}, r"params\['W'\] must be \(D, H\)"),
    ({"W": [[1.0, 2.0, 3.0], [1.0]]}, r"params must hold numbers in the shapes"),
    ({"V": np.full((3, 2), np.nan)}, r"params\['V'\] must hold finite numbers, got NaN or inf"),
    ({"V": np.zeros((3, 1)), "c": np.zeros(1)}, r"params\['V'\] must be \(H, K\).*K >= 2 classes"),
    ({"d": np.zeros(2)}, r"params must have only the keys 'W', 'b', 'V', 'c'; it also has 'd'"),
])
def test_from_params_names_the_entry_that_does_not_fit(change, match):
    p = dict(MLP(4, 3, 2).params, **change)
    with pytest.raises(ValueError, match=match):
        MLP.from_params(p)


def test_from_params_missing_key_and_bad_dtype():
    p = MLP(4, 3, 2).params
    with pytest.raises(ValueError, match="missing c"):
        MLP.from_params({k: v for k, v in p.items() if k != "c"})
    with pytest.raises(ValueError, match="dtype must be np.float32 or np.float64"):
        MLP.from_params(p, dtype=np.int64)


# ---- initialisations ------------------------------------------------------------------------

def test_init_normal_and_zeros():
    normal = MLP(784, 300, 10, seed=0, dtype=np.float64, init="normal")
    assert abs(normal.params["W"].std() - 1.0) < 0.01 and abs(normal.params["W"].mean()) < 0.01
    assert abs(normal.params["V"].std() - 1.0) < 0.05
    zeros = MLP(5, 4, 3, init="zeros")
    assert all(not w.any() for w in zeros.params.values())
    glorot = MLP(5, 4, 3, seed=2)
    assert np.array_equal(glorot.params["W"], MLP(5, 4, 3, seed=2, init="glorot").params["W"])
    assert np.all(normal.params["b"] == 0) and np.all(normal.params["c"] == 0)


@pytest.mark.parametrize("init", ["Glorot", "uniform", None, 3])
def test_unknown_init_is_refused(init):
    with pytest.raises(ValueError, match=r"init must be one of 'glorot', 'normal', 'zeros', got "):
        MLP(5, 4, 3, init=init)
