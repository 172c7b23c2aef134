"""The gradient checker: it passes right gradients, catches wrong ones, and says where."""
import numpy as np
import pytest

from mlp_helpers import gradcheck, scalar
from mlp_helpers.gradcheck import TOLERANCE, check_mlp, check_scalar, grad_check, relative_error
from mlp_helpers.network import MLP, cross_entropy


def _quadratic():
    """f(p) = sum(a * A**2) + sum(sin(B)): gradients 2 a A and cos(B), known exactly."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, size=(3, 4))
    params = {"A": rng.normal(size=(3, 4)), "B": rng.normal(size=5)}

    def f(p):
        return float(np.sum(a * p["A"] ** 2) + np.sum(np.sin(p["B"])))

    def grads(p):
        return {"A": 2 * a * p["A"], "B": np.cos(p["B"])}

    return f, params, grads


def _mlp_problem(seed=0):
    net = MLP(4, 5, 3, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 4))
    t = rng.integers(0, 3, size=3)

    def f(p):                     # p is net.params, perturbed in place by grad_check
        return float(cross_entropy(net.forward(x)["o"], t))

    return net, x, t, f


def test_tolerance_is_stated():
    assert TOLERANCE == 1e-7
    assert "1e-7" in gradcheck.__doc__ or "TOLERANCE" in gradcheck.__doc__


def test_relative_error():
    np.testing.assert_array_equal(relative_error([1.0, -1.0, 0.0, 2.0], [1.0, 1.0, 0.0, 1.0]),
                                  [0.0, 1.0, 0.0, 1 / 3])


@pytest.mark.parametrize("order", [2, 4])
def test_right_gradients_pass(order):
    f, params, grads = _quadratic()
    report = grad_check(f, params, grads(params), order=order)
    assert report.passed and report.max_rel_error < 1e-8, report
    assert report.eps == (1e-4 if order == 4 else 1e-6)
    np.testing.assert_allclose(report["A"].numeric, grads(params)["A"], rtol=1e-8)


def test_params_are_restored_exactly():
    f, params, grads = _quadratic()
    before = {k: v.copy() for k, v in params.items()}
    grad_check(f, params, grads(params))
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def test_flipped_sign_is_caught_and_named():
    net, x, t, f = _mlp_problem()
    _, grads = net.loss(x, t)
    grads["W"] = -grads["W"]                       # the report's w + alpha * grad, in spirit
    report = grad_check(f, net.params, grads)
    assert not report.passed
    assert report.worst == "W"
    assert report["W"].max_rel_error == pytest.approx(1.0, abs=1e-6)   # |a - (-a)| / 2|a|
    assert report["V"].max_rel_error < TOLERANCE and report["b"].max_rel_error < TOLERANCE
    text = str(report)
    assert "FAILED: W[" in text and "WRONG?" in text
    assert repr(report) == text


def test_a_single_wrong_entry_is_located():
    net, x, t, f = _mlp_problem(seed=1)
    _, grads = net.loss(x, t)
    grads["V"][2, 1] *= 2                          # a missing 1/2 somewhere: relative error 1/3
    report = grad_check(f, net.params, grads)
    assert report.worst == "V"
    worst = report["V"]
    assert worst.worst_index == (2, 1)
    assert worst.max_rel_error == pytest.approx(1 / 3, rel=1e-6)
    assert worst.worst_analytic == pytest.approx(2 * worst.worst_numeric, rel=1e-8)
    assert "FAILED: V[2, 1] has relative error 3.33e-01" in str(report)
    # every other entry of V is fine
    others = np.delete(worst.rel_error.ravel(), 2 * 3 + 1)
    assert others.max() < TOLERANCE


def test_f_may_return_loss_and_grads():
    net, x, t, _ = _mlp_problem(seed=2)
    report = grad_check(lambda p: net.loss(x, t), net.params)
    assert report.passed, report


def test_random_subset_of_entries_is_seeded():
    net = MLP(30, 20, 4, seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(2, 30)), np.array([1, 3])
    r1 = check_mlp(net, x, t, max_entries=10, seed=3)
    r2 = check_mlp(net, x, t, max_entries=10, seed=3)
    r3 = check_mlp(net, x, t, max_entries=10, seed=4)
    assert r1["W"].n_checked == 10 and r1["c"].n_checked == 4
    assert np.isnan(r1["W"].numeric).sum() == 30 * 20 - 10
    np.testing.assert_array_equal(np.isnan(r1["W"].numeric), np.isnan(r2["W"].numeric))
    assert not np.array_equal(np.isnan(r1["W"].numeric), np.isnan(r3["W"].numeric))
    assert "10/600" in str(r1)
    assert r1.passed, r1


def test_check_mlp_leaves_the_network_alone():
    net = MLP(4, 5, 3, seed=0, dtype=np.float32)
    before = {k: v.copy() for k, v in net.params.items()}
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    report = check_mlp(net, x, np.array([0, 1, 2]))
    assert report.max_rel_error < TOLERANCE, report
    assert net.dtype == np.float32
    for k in before:
        np.testing.assert_array_equal(net.params[k], before[k])


def test_check_scalar_on_a_random_network():
    p = scalar.init_params(4, 5, 3, seed=1)
    report = check_scalar([0.3, -1.2, 0.8, 2.0], 1, **p)
    assert report.max_rel_error < TOLERANCE, report
    assert [c.name for c in report] == ["W", "b", "V", "c"]


def test_bad_arguments():
    f, params, grads = _quadratic()
    g = grads(params)
    with pytest.raises(ValueError, match=r"params\['A'\] must be a float64 numpy array.*got dtype float32"):
        grad_check(f, {"A": params["A"].astype(np.float32), "B": params["B"]}, g)
    with pytest.raises(ValueError, match=r"grads\['B'\] has shape \(4,\), but params\['B'\] has shape \(5,\)"):
        grad_check(f, params, {"A": g["A"], "B": g["B"][:4]})
    with pytest.raises(ValueError, match=r"grads has no entry for parameter 'B'"):
        grad_check(f, params, {"A": g["A"]})
    with pytest.raises(ValueError, match=r"f\(params\) must return \(loss, grads\)"):
        grad_check(f, params)
    with pytest.raises(ValueError, match=r"order must be 2 or 4, got 3"):
        grad_check(f, params, g, order=3)
    with pytest.raises(ValueError, match=r"eps must be a number in \(0, 1\), got 0"):
        grad_check(f, params, g, eps=0)
    with pytest.raises(ValueError, match=r"max_entries must be None or an integer >= 1, got 0"):
        grad_check(f, params, g, max_entries=0)


def test_bad_seed_is_refused_like_everywhere_else():
    net = MLP(3, 4, 2, dtype=np.float64)
    x, t = np.ones((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got 'a' \(str\)"):
        check_mlp(net, x, t, seed="a")
