"""The pure-Python network: the worked example, stability, gradients, SGD, bad input."""
import copy
import math
import random

import pytest

from mlp_helpers import scalar
from mlp_helpers.gradcheck import TOLERANCE, check_scalar

S2 = 1.0 / (1.0 + math.exp(-2.0))          # sigmoid(2) = 0.8807970779778823
TIGHT = dict(rel=1e-15, abs=1e-15)


def _random_net(D, H, K, seed):
    """Weights drawn with N(0, 1) entries (bigger than the init, so gradients are not tiny)."""
    rng = random.Random(seed)
    W = [[rng.gauss(0, 1) for _ in range(H)] for _ in range(D)]
    V = [[rng.gauss(0, 1) for _ in range(K)] for _ in range(H)]
    b = [rng.gauss(0, 0.5) for _ in range(H)]
    c = [rng.gauss(0, 0.5) for _ in range(K)]
    x = [rng.gauss(0, 1) for _ in range(D)]
    return x, W, b, V, c


# ---- the worked example ---------------------------------------------------------------

@pytest.fixture
def worked():
    ex = scalar.worked_example()
    cache = scalar.forward(ex["x"], ex["W"], ex["b"], ex["V"], ex["c"])
    d = scalar.backward(cache=cache, **ex)
    return ex, cache, d


def test_worked_example_forward(worked):
    _, cache, _ = worked
    assert cache["z"] == [2.0, 2.0, 2.0]
    assert cache["h"] == pytest.approx([S2] * 3, **TIGHT)
    assert cache["h"][0] == pytest.approx(0.8808, abs=5e-5)
    assert cache["o"] == pytest.approx([-S2, -S2], **TIGHT)    # h - h - h for both classes
    assert cache["y"] == [0.5, 0.5]


def test_worked_example_loss():
    loss, _ = scalar.forward_backward(**scalar.worked_example())
    assert loss == pytest.approx(math.log(2), **TIGHT)


def test_worked_example_output_layer_derivatives(worked):
    _, cache, d = worked
    assert d["y"] == [-2.0, 0.0]                               # -1 / y_0 at the true class
    assert d["o"] == [-0.5, 0.5]                               # y - t
    assert d["c"] == [-0.5, 0.5]
    for row in d["V"]:                                         # h_j * dl/do_k
        assert row == pytest.approx([-S2 / 2, S2 / 2], **TIGHT)
        assert row == pytest.approx([-0.4404, 0.4404], abs=5e-5)


def test_worked_example_dl_do_through_jacobian_agrees(worked):
    _, cache, d = worked
    assert scalar.loss_grad_o_via_jacobian(cache["y"], 0) == pytest.approx(d["o"], **TIGHT)


def test_worked_example_hidden_layer_derivatives_are_zero(worked):
    # V's two columns are equal, so o_0 = o_1 whatever h is: the loss is log 2 for
    # every W and b, and every derivative below the output layer is exactly 0.
    # dl/dh_j = sum_k dl/do_k V_jk = -0.5 * V_j0 + 0.5 * V_j1 = 0. (Values such as
    # dl/dh = (-1, 1, 1), dl/dz = +-0.105 sometimes quoted for this example skip
    # the second logit's path and are not the derivative.)
    _, _, d = worked
    assert d["h"] == [0.0, 0.0, 0.0]
    assert d["z"] == [0.0, 0.0, 0.0]
    assert d["b"] == [0.0, 0.0, 0.0]
    assert d["W"] == [[0.0] * 3, [0.0] * 3]


def test_worked_example_loss_does_not_move_with_W():
    # The finite-difference confirmation of the zeros above.
    ex = scalar.worked_example()
    for i, j in [(0, 0), (1, 2)]:
        for step in (0.5, -3.0):
            ex2 = scalar.worked_example()
            ex2["W"][i][j] += step
            ex2["b"][j] += step
            assert scalar.forward_backward(**ex2)[0] == pytest.approx(math.log(2), **TIGHT)
    assert check_scalar(**ex).passed


def test_hidden_derivatives_on_a_variant_with_distinct_columns():
    # Same inputs, V = [[1, -1], [-1, 1], [-1, 1]]: o = (-h, h) with h = sigmoid(2).
    ex = scalar.worked_example()
    ex["V"] = [[1.0, -1.0], [-1.0, 1.0], [-1.0, 1.0]]
    cache = scalar.forward(ex["x"], ex["W"], ex["b"], ex["V"], ex["c"])
    d = scalar.backward(cache=cache, **ex)
    y0 = 1 / (1 + math.exp(2 * S2))                              # softmax(-h, h)[0]
    assert cache["y"] == pytest.approx([y0, 1 - y0], **TIGHT)
    assert d["o"] == pytest.approx([y0 - 1, 1 - y0], **TIGHT)
    g = 2 * (y0 - 1)                                             # dl/dh_0 = (y0-1) - (1-y0)
    assert d["h"] == pytest.approx([g, -g, -g], **TIGHT)
    dz = [g * S2 * (1 - S2), -g * S2 * (1 - S2), -g * S2 * (1 - S2)]
    assert d["z"] == pytest.approx(dz, **TIGHT)
    assert d["b"] == pytest.approx(dz, **TIGHT)
    assert d["W"][0] == pytest.approx(dz, **TIGHT)               # x_0 = 1
    assert d["W"][1] == pytest.approx([-v for v in dz], **TIGHT)  # x_1 = -1
    assert check_scalar(**ex).max_rel_error < TOLERANCE


# ---- activations and loss ---------------------------------------------------------------

def test_sigmoid_values_and_no_overflow():
    assert scalar.sigmoid(0.0) == 0.5
    assert scalar.sigmoid(2.0) == pytest.approx(S2, **TIGHT)
    assert scalar.sigmoid(-2.0) == pytest.approx(1 - S2, **TIGHT)
    assert scalar.sigmoid(1e4) == 1.0
    assert scalar.sigmoid(-1e4) == 0.0          # math.exp(1e4) would raise OverflowError
    assert scalar.sigmoid(-30.0) == pytest.approx(math.exp(-30.0), rel=1e-12)


def test_softmax_stable_and_sums_to_one():
    assert scalar.softmax([1e4, 0.0, -1e4]) == [1.0, 0.0, 0.0]
    y = scalar.softmax([0.3, -1.2, 2.5, 0.0])
    assert sum(y) == pytest.approx(1.0, abs=1e-15)
    assert scalar.softmax([v + 1000 for v in [0.3, -1.2, 2.5, 0.0]]) == pytest.approx(y, rel=1e-12)


def test_cross_entropy_of_hugely_wrong_logit_is_large_but_finite():
    loss = scalar.cross_entropy([0.0, 1e4], 0)
    assert math.isfinite(loss) and loss == pytest.approx(1e4, rel=1e-12)
    assert scalar.cross_entropy([1e4, 0.0], 0) == 0.0


def test_jacobian_path_equals_y_minus_t_and_rows_sum_to_zero():
    rng = random.Random(3)
    o = [rng.gauss(0, 2) for _ in range(5)]
    y = scalar.softmax(o)
    J = scalar.softmax_jacobian(y)
    assert len(J) == 5 and all(len(r) == 5 for r in J)
    for i in range(5):
        assert sum(J[i]) == pytest.approx(0.0, abs=1e-16)      # sum_j y_i(delta_ij - y_j) = 0
        for j in range(5):
            assert J[i][j] == J[j][i]
    for label in range(5):
        t = scalar.one_hot(label, 5)
        expect = [y[k] - t[k] for k in range(5)]
        assert scalar.loss_grad_o_via_jacobian(y, label) == pytest.approx(expect, abs=1e-15)


# ---- gradients --------------------------------------------------------------------------

@pytest.mark.parametrize("sizes,seed", [((4, 5, 3), 0), ((3, 2, 4), 1), ((1, 1, 2), 2)])
def test_gradient_check_random_network(sizes, seed):
    x, W, b, V, c = _random_net(*sizes, seed=seed)
    report = check_scalar(x, seed % sizes[2], W, b, V, c)
    assert report.passed, report
    assert report.max_rel_error < 1e-7


def test_gradient_check_at_the_initialisation():
    p = scalar.init_params(4, 5, 3, seed=0)
    report = check_scalar([0.5, -1.0, 2.0, 0.1], 2, **p)
    assert report.max_rel_error < TOLERANCE, report


def test_backward_returns_every_symbol_in_its_shape():
    x, W, b, V, c = _random_net(4, 5, 3, seed=7)
    d = scalar.backward(x, 1, W, b, V, c, scalar.forward(x, W, b, V, c))
    assert sorted(d) == sorted(["y", "o", "c", "V", "h", "z", "b", "W"])
    assert [len(d[k]) for k in ("y", "o", "c", "h", "z", "b")] == [3, 3, 3, 5, 5, 5]
    assert len(d["W"]) == 4 and all(len(r) == 5 for r in d["W"])
    assert len(d["V"]) == 5 and all(len(r) == 3 for r in d["V"])
    loss, grads = scalar.forward_backward(x, 1, W, b, V, c)
    assert sorted(grads) == ["V", "W", "b", "c"]
    assert all(grads[k] == d[k] for k in grads)


def test_values_are_python_floats_even_from_numpy_inputs():
    np = pytest.importorskip("numpy")
    x, W, b, V, c = _random_net(2, 3, 2, seed=1)
    loss, grads = scalar.forward_backward(np.array(x, np.float32), np.int64(1), W, b, V, c)
    assert type(loss) is float and type(grads["W"][0][0]) is float


# ---- initialisation, the update, training -----------------------------------------------

def test_init_params_shapes_bounds_and_determinism():
    p = scalar.init_params(4, 5, 3, seed=1)
    assert scalar.layer_sizes(p["W"], p["b"], p["V"], p["c"]) == (4, 5, 3)
    assert p["b"] == [0.0] * 5 and p["c"] == [0.0] * 3
    a_W, a_V = math.sqrt(6 / 9), math.sqrt(6 / 8)
    assert all(abs(w) <= a_W for row in p["W"] for w in row)
    assert all(abs(v) <= a_V for row in p["V"] for v in row)
    assert scalar.init_params(4, 5, 3, seed=1) == p
    assert scalar.init_params(4, 5, 3, seed=2)["W"] != p["W"]


def test_sgd_step_subtracts_the_gradient():
    x, W, b, V, c = _random_net(3, 4, 2, seed=5)
    params = {"W": W, "b": b, "V": V, "c": c}
    before = {k: [list(r) if isinstance(r, list) else r for r in v] for k, v in params.items()}
    loss0, grads = scalar.forward_backward(x, 0, W, b, V, c)
    W_id = id(params["W"][0])
    scalar.sgd_step(params, grads, lr=0.1)
    assert id(params["W"][0]) == W_id                                    # in place
    assert params["W"][1][2] == before["W"][1][2] - 0.1 * grads["W"][1][2]
    assert params["c"][1] == before["c"][1] - 0.1 * grads["c"][1]
    loss1, _ = scalar.forward_backward(x, 0, W, b, V, c)
    assert loss1 < loss0                                                 # downhill


def _cut(rows, i=None):
    """rows one shorter (i None), or with row i one shorter."""
    if i is None:
        return rows[:-1]
    return [r[:-1] if n == i else r for n, r in enumerate(rows)]


@pytest.mark.parametrize("which, name, change, match", [
    ("grads", "b", lambda v: _cut(v), r"grads\['b'\] must be a sequence of H = 4 numbers, got a list with 3 entries"),
    ("grads", "W", lambda v: _cut(v, 2), r"grads\['W'\] must be a sequence of D = 3 lists of H = 4 numbers, "
                                         r"but grads\['W'\]\[2\] has 3 numbers"),
    ("grads", "V", lambda v: _cut(v), r"grads\['V'\] must be a sequence of H = 4 lists of K = 2 numbers, "
                                      r"got a list with 3 entries"),
    ("params", "W", lambda v: _cut(v, 1), r"params\['W'\] must be a list of D = 3 lists of H = 4 numbers, "
                                          r"but params\['W'\]\[1\] has 3 numbers"),
    ("params", "V", lambda v: [tuple(r) for r in v], r"params\['V'\] must be a list of H = 4 lists of K = 2 "
                                                     r"numbers, but params\['V'\]\[0\] is a tuple"),
    ("grads", "c", None, r"grads must have the keys 'W', 'b', 'V', 'c'; missing c"),
], ids=["short grads b", "short grads W row", "short grads V", "ragged W", "tuple rows of V", "no grads c"])
def test_sgd_step_names_the_argument_whose_shape_does_not_fit(which, name, change, match):
    """issue 23: short grads gave an IndexError midway, and a ragged W was accepted."""
    _, W, b, V, c = _random_net(3, 4, 2, seed=5)
    params = {"W": W, "b": b, "V": V, "c": c}
    grads = {"W": scalar.zeros(3, 4), "b": scalar.zeros(4), "V": scalar.zeros(4, 2), "c": [1.0, 1.0]}
    target = params if which == "params" else grads
    if change is None:
        del target[name]
    else:
        target[name] = change(target[name])
    before = copy.deepcopy(params)
    with pytest.raises(ValueError, match=match):
        scalar.sgd_step(params, grads, lr=0.1)
    assert params == before                     # refused before any weight moved


def _two_blobs(n, seed):
    rng = random.Random(seed)
    xs, labels = [], []
    for i in range(n):
        label = i % 2
        centre = 1.5 if label else -1.5
        xs.append([rng.gauss(centre, 1.0), rng.gauss(-centre, 1.0)])
        labels.append(label)
    return xs, labels


def test_train_sgd_learns_and_logs_running_loss():
    xs, labels = _two_blobs(400, seed=0)
    params = scalar.init_params(2, 3, 2, seed=0)
    running = scalar.train_sgd(xs, labels, params, lr=0.1, epochs=3, log_every=100, seed=0)
    assert len(running) == 12
    assert running[-1] < 0.5 * running[0]
    assert all(math.isfinite(v) and v > 0 for v in running)
    correct = sum(
        max(range(2), key=scalar.forward(x, params["W"], params["b"], params["V"], params["c"])["y"].__getitem__)
        == t for x, t in zip(xs, labels))
    assert correct / len(xs) > 0.9


def test_train_sgd_is_deterministic_per_seed():
    xs, labels = _two_blobs(60, seed=1)
    runs = []
    for seed in (0, 0, 1):
        params = scalar.init_params(2, 3, 2, seed=0)
        runs.append((scalar.train_sgd(xs, labels, params, lr=0.05, epochs=2, log_every=10, seed=seed), params))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]


# ---- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("change,match", [
    (lambda e: e.update(x=[1.0]), r"x must have D = len\(W\) = 2 numbers"),
    (lambda e: e.update(x=[1.0, float("nan")]), r"x must be finite"),
    (lambda e: e.update(x=[1.0, "a"]), r"x must hold real numbers"),
    (lambda e: e.update(label=2), r"label must be a class in \[0, 2\), got 2"),
    (lambda e: e.update(label=-1), r"label must be a class in \[0, 2\), got -1"),
    (lambda e: e.update(label=1.0), r"label must be an integer class"),
    (lambda e: e.update(label=True), r"label must be an integer class"),
    (lambda e: e["W"][1].pop(), r"W\[1\] has 2"),
    (lambda e: e.update(b=[0.0, 0.0]), r"W\[0\] has 3"),
    (lambda e: e["V"].pop(), r"V must have H = len\(b\) = 3 rows"),
    (lambda e: e["V"][2].append(1.0), r"V\[2\] has 3"),
    (lambda e: e.update(c=[]), r"c is empty"),
])
def test_forward_backward_bad_input(change, match):
    ex = scalar.worked_example()
    change(ex)
    with pytest.raises(ValueError, match=match):
        scalar.forward_backward(**ex)


def test_train_sgd_bad_input():
    xs, labels = _two_blobs(10, seed=0)
    p = scalar.init_params(2, 3, 2, seed=0)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got 0"):
        scalar.train_sgd(xs, labels, p, lr=0)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got nan"):
        scalar.train_sgd(xs, labels, p, lr=float("nan"))
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1, got 0"):
        scalar.train_sgd(xs, labels, p, lr=0.1, epochs=0)
    with pytest.raises(ValueError, match=r"same length, got 10 and 9"):
        scalar.train_sgd(xs, labels[:9], p, lr=0.1)
    with pytest.raises(ValueError, match=r"xs is empty"):
        scalar.train_sgd([], [], p, lr=0.1)
    with pytest.raises(ValueError, match=r"labels\[3\] must be a class in \[0, 2\), got 5"):
        scalar.train_sgd(xs, labels[:3] + [5] + labels[4:], p, lr=0.1)
    with pytest.raises(ValueError, match=r"xs\[0\] must have 2 numbers, got 3"):
        scalar.train_sgd([[1.0, 2.0, 3.0]] + xs[1:], labels, p, lr=0.1)
    with pytest.raises(ValueError, match=r"n_hidden must be an integer >= 1, got 0"):
        scalar.init_params(2, 0, 2)


def test_weighted_sums_is_one_layer():
    # z_j = sum_i x_i W_ij + b_j, for x = (1, -1), W 2x3, b 3: the worked example's first layer
    x, W, b = [1.0, -1.0], [[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]], [0.25, 0.0, -1.0]
    assert scalar.weighted_sums(x, W, b) == [2.25, 1.5, -2.0]
    assert scalar.weighted_sums([], [], [0.5]) == [0.5]     # no inputs: just the bias
