"""Student self-checks: the kit's reference code passes; each classic mistake is named."""
import math

import numpy as np
import pytest

from mlp_helpers import checks, scalar
from mlp_helpers.course.checks import CheckFailed
from mlp_helpers.network import MLP, cross_entropy, sigmoid, softmax


# ---- a 'student' vectorized backward pass, with one switchable mistake ------------------

def student_backward(fault=None):
    """fn(x, labels, params) -> (loss, grads), correct unless ``fault`` names a mistake."""
    def fn(x, labels, p):
        W, b, V, c = p["W"], p["b"], p["V"], p["c"]
        B, K = len(labels), c.size
        z = x @ W + (0 if fault == "no_bias_b" else b)
        h = 1 / (1 + np.exp(-z))
        o = h @ V + (0 if fault == "no_bias_c" else c)
        y = softmax(o)
        t = np.eye(K)[labels]
        loss = -np.log(y[np.arange(B), labels]).mean()
        d_o = {"sign": t - y, "y_not_y_minus_t": y}.get(fault, y - t)
        d_o = d_o if fault == "no_mean" else d_o / B
        dV = h.T @ d_o
        dc = d_o.sum(axis=0)
        dz = (d_o @ V.T) * h * (1 - h)
        dW = dz.T @ x if fault == "transpose_W" else x.T @ dz
        db = dz if fault == "bias_not_summed" else dz.sum(axis=0)
        return loss, {"W": dW, "b": db, "V": dV, "c": dc}
    return fn


def reference_backward(x, labels, p):
    """The kit's MLP as the 'correct student' (float64, params taken as given)."""
    net = MLP(p["W"].shape[0], p["W"].shape[1], p["V"].shape[1], dtype=np.float64)
    net.params = p
    return net.loss(x, labels)


# ---- the reference implementations pass every check ------------------------------------

def test_reference_implementations_pass(capsys):
    checks.check_softmax(softmax)
    checks.check_softmax(lambda o: softmax(o[None])[0], batched=False)
    checks.check_cross_entropy(cross_entropy)
    checks.check_cross_entropy(lambda o, label: float(scalar.cross_entropy(list(o), label)), batched=False)
    checks.check_cross_entropy(lambda y, t: -np.mean(np.sum(t * np.log(y), axis=1)),
                               from_logits=False, one_hot=True)
    checks.check_softmax_grad(lambda y, t: scalar.loss_grad_o_via_jacobian(list(y), int(np.argmax(t))))
    checks.check_softmax_jacobian(lambda y: scalar.softmax_jacobian(list(y)))
    checks.check_sigmoid_grad(lambda z: sigmoid(z) * (1 - sigmoid(z)))
    checks.check_sigmoid_grad(lambda h: h * (1 - h), takes="h")
    checks.check_scalar_forward_backward(scalar.forward_backward)
    checks.check_backward(reference_backward)
    checks.check_backward(student_backward())

    def sgd(params, grads, lr):
        for k in params:
            params[k] -= lr * grads[k]

    checks.check_sgd_update(sgd)
    checks.check_sgd_update(scalar.sgd_step, lists=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 14 and all(line.startswith("✓ check_") and " passed" in line for line in lines)


def test_check_failed_is_an_assertion_error():
    assert issubclass(CheckFailed, AssertionError)


# ---- the vectorized backward pass: each fault is named ----------------------------------

@pytest.mark.parametrize("fault, pattern", [
    ("sign", r"dl/dc\[\d\] is wrong.*\n  expected .*\n  obtained .*\n  likely cause: a flipped sign"),
    ("transpose_W", r"dl/dW has the wrong shape.*expected \(3, 5\), obtained \(5, 3\)"
                    r"[\s\S]*missing transpose: dl/dW has shape \(H, D\) = \(5, 3\) instead of \(D, H\)"),
    ("no_mean", r"dl/dc\[\d\] is wrong \(batch of B = 6.*[\s\S]*forgotten mean over the batch: every "
                r"entry is 6 \(the batch size B\) times too large"),
    ("no_bias_b", r"the loss is wrong[\s\S]*likely cause: a forgotten bias b"),
    ("no_bias_c", r"the loss is wrong[\s\S]*likely cause: a forgotten bias c"),
    ("y_not_y_minus_t", r"dl/dc\[\d\] is wrong[\s\S]*y instead of y - t: dl/dc is off by t"),
    ("bias_not_summed", r"dl/db has the wrong shape[\s\S]*sum it over the batch \(axis=0\)"),
])
def test_backward_fault_is_named(fault, pattern):
    with pytest.raises(CheckFailed, match=pattern):
        checks.check_backward(student_backward(fault))


def test_backward_message_gives_entry_expected_and_obtained():
    with pytest.raises(CheckFailed) as info:
        checks.check_backward(student_backward("sign"))
    msg = str(info.value)
    head, expected, obtained, cause = msg.splitlines()
    e = float(expected.split()[1])
    o = float(obtained.split()[1])
    assert o == pytest.approx(-e, rel=1e-6) and abs(e) > 1e-3
    assert head.startswith("check_backward: dl/dc[")


def test_backward_that_modifies_params_is_caught():
    def fn(x, labels, p):
        loss, grads = reference_backward(x, labels, {k: v.copy() for k, v in p.items()})
        p["W"] -= 0.1 * grads["W"]
        return loss, grads
    with pytest.raises(CheckFailed, match=r"changed its argument params'W'"):
        checks.check_backward(fn)


def test_backward_returning_one_value_is_explained():
    with pytest.raises(CheckFailed, match=r"must return \(loss, grads\)"):
        checks.check_backward(lambda x, labels, p: 1.0)


# ---- the scalar version ------------------------------------------------------------------

def _scalar_with(fault):
    def fn(x, label, W, b, V, c):
        loss, g = scalar.forward_backward(x, label, W, b, V, c)
        if fault == "sign":
            g = {k: [[-v for v in row] for row in m] if isinstance(m[0], list) else [-v for v in m]
                 for k, m in g.items()}
        if fault == "transpose_V":
            g["V"] = [list(col) for col in zip(*g["V"])]
        return loss, g
    return fn


def test_scalar_worked_example_is_the_first_case():
    seen = []

    def fn(x, label, W, b, V, c):
        seen.append((x, label, W, b, V, c))
        return scalar.forward_backward(x, label, W, b, V, c)

    checks.check_scalar_forward_backward(fn)
    assert seen[0] == ([1.0, -1.0], 0, [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]], [0.0, 0.0, 0.0],
                       [[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]], [0.0, 0.0])


def test_scalar_worked_example_wrong_loss():
    def fn(x, label, W, b, V, c):
        _, g = scalar.forward_backward(x, label, W, b, V, c)
        return -math.log(2), g
    with pytest.raises(CheckFailed, match=r"the loss is wrong \(the worked example[\s\S]*"
                                          r"expected \+0\.69314718[\s\S]*flipped sign"):
        checks.check_scalar_forward_backward(fn)


def test_scalar_sign_flip_named():
    with pytest.raises(CheckFailed, match=r"dl/dc\[\d\] is wrong \(the worked example.*[\s\S]*"
                                          r"expected -0\.5\n  obtained \+0\.5\n  likely cause: a flipped sign"):
        checks.check_scalar_forward_backward(_scalar_with("sign"))


def test_scalar_missing_transpose_named():
    with pytest.raises(CheckFailed, match=r"dl/dV has the wrong shape[\s\S]*missing transpose"):
        checks.check_scalar_forward_backward(_scalar_with("transpose_V"))


# ---- the update --------------------------------------------------------------------------

def report_sgd(params, grads, alpha):
    """The report's snippet: W -= ..., but b, V, c ASSIGNED alpha * grad."""
    W, b, V, c = (params[k] for k in "WbVc")
    gW, gb, gV, gc = (grads[k] for k in "WbVc")
    W -= alpha * gW
    b = alpha * gb
    V = alpha * gV
    c = alpha * gc
    params = {"W": W, "b": b, "V": V, "c": c}
    return params


def test_sgd_report_slip_assignment_named():
    with pytest.raises(CheckFailed, match=r"the updated b\[\d\] is wrong[\s\S]*b was ASSIGNED alpha \* grad "
                                          r"\(b = alpha \* db\)[\s\S]*report's snippet"):
        checks.check_sgd_update(report_sgd)


def test_sgd_report_slip_without_return_named():
    def fn(params, grads, alpha):
        report_sgd(params, grads, alpha)          # returns nothing to the caller
    with pytest.raises(CheckFailed, match=r"updated b.*[\s\S]*b did not change: .*rebinds a local name"):
        checks.check_sgd_update(fn)


def test_sgd_sign_flip_named():
    def fn(params, grads, lr):
        for k in params:
            params[k] += lr * grads[k]
    with pytest.raises(CheckFailed, match=r"the updated W.*[\s\S]*a flipped sign: W \+ alpha \* grad "
                                          r"climbs uphill"):
        checks.check_sgd_update(fn)


def test_sgd_not_in_place_named():
    def fn(params, grads, lr):
        return {k: params[k] - lr * grads[k] for k in params}
    with pytest.raises(CheckFailed, match=r"values you return are right, but the array W .*not updated in place"):
        checks.check_sgd_update(fn)


def test_sgd_lists_assignment_named():
    def fn(params, grads, lr):
        scalar.sgd_step(params, dict(grads, c=[0.0] * len(grads["c"])), lr)   # W, b, V stepped
        params["c"] = [lr * g for g in grads["c"]]                             # c assigned
    with pytest.raises(CheckFailed, match=r"the updated c.*[\s\S]*c was ASSIGNED alpha \* grad"):
        checks.check_sgd_update(fn, lists=True)


# ---- derivatives ---------------------------------------------------------------------------

def test_softmax_faults_named():
    with pytest.raises(CheckFailed, match=r"normalised each COLUMN"):
        checks.check_softmax(lambda o: np.exp(o) / np.exp(o).sum(axis=0, keepdims=True))
    with pytest.raises(CheckFailed, match=r"not finite[\s\S]*subtract the row maximum"):
        checks.check_softmax(lambda o: np.exp(o) / np.exp(o).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("batched", [True, False])
def test_softmax_that_overwrites_its_input_fails(batched):
    """issue 23: a softmax working in place on o gave the right y, and passed."""
    def in_place(o):
        o -= o.max(axis=-1, keepdims=True)
        np.exp(o, out=o)
        o /= o.sum(axis=-1, keepdims=True)
        return o
    with pytest.raises(CheckFailed, match=r"check_softmax: your softmax changed its input: o was \[\[?1\.0, "
                                          r"2\.0, 3\.0\]?.* before the call and is .* after it[\s\S]*"
                                          r"likely cause: `o -= \.\.\.`"):
        checks.check_softmax(in_place, batched=batched)
    checks.check_softmax(lambda o: in_place(o.copy()), batched=batched)     # on a copy: passes


def test_cross_entropy_faults_named():
    with pytest.raises(CheckFailed, match=r"forgotten mean over the batch"):
        checks.check_cross_entropy(lambda o, y: float(cross_entropy(o, y)) * len(y))
    with pytest.raises(CheckFailed, match=r"flipped sign"):
        checks.check_cross_entropy(lambda o, y: -float(cross_entropy(o, y)))
    with pytest.raises(CheckFailed, match=r"averaged over the K = 4 classes"):
        checks.check_cross_entropy(lambda y, t: -np.mean(t * np.log(y)), from_logits=False, one_hot=True)


def test_softmax_grad_faults_named():
    with pytest.raises(CheckFailed, match=r"dl/do\[0\] is wrong[\s\S]*expected -0\.5\n  obtained \+0\.5\n"
                                          r"  likely cause: a flipped sign"):
        checks.check_softmax_grad(lambda y, t: t - y)
    with pytest.raises(CheckFailed, match=r"y instead of y - t: off by t"):
        checks.check_softmax_grad(lambda y, t: y)
    with pytest.raises(CheckFailed, match=r"this is dl/dy"):
        checks.check_softmax_grad(lambda y, t: -t / y)


def test_jacobian_faults_named():
    with pytest.raises(CheckFailed, match=r"diagonal term is missing"):
        checks.check_softmax_jacobian(lambda y: -np.outer(y, y))
    with pytest.raises(CheckFailed, match=r"one class too many"):
        checks.check_softmax_jacobian(lambda y: np.zeros((len(y) + 1, len(y) + 1)))


def test_sigmoid_grad_faults_named():
    with pytest.raises(CheckFailed, match=r"needs h = sigmoid\(z\), not z"):
        checks.check_sigmoid_grad(lambda z: z * (1 - z))
    with pytest.raises(CheckFailed, match=r"sigmoid\(z\) itself"):
        checks.check_sigmoid_grad(sigmoid)
    with pytest.raises(CheckFailed, match=r"flipped sign"):
        checks.check_sigmoid_grad(lambda h: -h * (1 - h), takes="h")
    with pytest.raises(ValueError, match=r"takes must be 'z' or 'h'"):
        checks.check_sigmoid_grad(sigmoid, takes="x")


def test_non_numeric_result_is_explained():
    with pytest.raises(CheckFailed, match=r"returned None \(a missing `return`\?\)"):
        checks.check_softmax(lambda o: None)


def test_unstable_cross_entropy_named():
    def naive(o, labels):
        e = np.exp(o)
        return -np.log((e / e.sum(axis=1, keepdims=True))[np.arange(len(labels)), labels]).mean()
    with pytest.raises(CheckFailed, match=r"the loss is (nan|inf) \(not finite\).*expected \+500\.\n"
                                          r"  likely cause: an overflow"):
        checks.check_cross_entropy(naive)


# ---- the training loop: check_sgd_epoch ------------------------------------------------

def sgd_epoch(net, x, y, lr, rng, *, order=None, update=None):
    """A correct epoch of per-example SGD; ``order`` / ``update`` swap in a slip."""
    total = 0.0
    for n in (rng.permutation(len(x)) if order is None else order(len(x))):
        loss, grads = net.loss(x[n:n + 1], y[n:n + 1])
        for k in net.params:
            if update is None:
                net.params[k] -= lr * grads[k]
            else:
                update(net.params, k, lr * grads[k])
        total += loss
    return total / len(x)


def test_sgd_epoch_passes_a_correct_loop(capsys):
    checks.check_sgd_epoch(sgd_epoch)
    assert "✓ check_sgd_epoch passed" in capsys.readouterr().out


def test_sgd_epoch_matches_train_on_one_pass():
    """The loop the check accepts is the loop train() runs (same order, same steps)."""
    from mlp_helpers import MLP, train, load_synth
    (x, y), _, _ = load_synth(num_train=300, num_val=10, seed=1)
    a, b = MLP(2, 4, 2, seed=3, dtype=np.float64), MLP(2, 4, 2, seed=3, dtype=np.float64)
    mean_loss = sgd_epoch(a, x, y, 0.1, np.random.default_rng(7))
    history = train(b, (x, y), lr=0.1, epochs=1, batch_size=1, seed=7, progress=False)
    for k in a.params:
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-10, atol=1e-12)
    assert mean_loss == pytest.approx(history.train_loss[0], rel=1e-10)


@pytest.mark.parametrize("slip, kwargs, cause", [
    ("no shuffle", dict(order=np.arange), r"visited in their stored order, not shuffled"),
    ("sign", dict(update=lambda p, k, step: p[k].__iadd__(step)), r"a flipped sign: the weights moved UP"),
    ("printed", dict(update=lambda p, k, step: p[k].__isub__(step) if k == "W"
                     else p[k].__setitem__(Ellipsis, step)),
     r"b, V and c were ASSIGNED lr \* grad .*the report's\s+printed snippet"),
    ("bias", dict(update=lambda p, k, step: p[k].__isub__(step) if k in "WV" else None),
     r"a forgotten bias: b and c never changed"),
])
def test_sgd_epoch_slips_named(slip, kwargs, cause):
    with pytest.raises(CheckFailed, match=r"after the epoch\[[\d, ]+\] is wrong[\s\S]*likely cause: .*" + cause):
        checks.check_sgd_epoch(lambda net, x, y, lr, rng: sgd_epoch(net, x, y, lr, rng, **kwargs))


def test_sgd_epoch_update_that_never_reaches_the_network():
    def fn(net, x, y, lr, rng):
        for n in rng.permutation(len(x)):
            loss, grads = net.loss(x[n:n + 1], y[n:n + 1])
            W = net.params["W"]
            W = W - lr * grads["W"]          # rebinds a local name; the network keeps its W
        return 0.0
    with pytest.raises(CheckFailed, match=r"weights are unchanged[\s\S]*rebinds a name"):
        checks.check_sgd_epoch(fn)


def test_sgd_epoch_sum_instead_of_mean():
    with pytest.raises(CheckFailed, match=r"the returned mean loss is wrong[\s\S]*the SUM of the losses"):
        checks.check_sgd_epoch(lambda net, x, y, lr, rng: len(x) * sgd_epoch(net, x, y, lr, rng))


def test_sgd_epoch_missing_return():
    with pytest.raises(CheckFailed, match=r"returned None \(a missing `return`\?\)"):
        checks.check_sgd_epoch(lambda net, x, y, lr, rng: sgd_epoch(net, x, y, lr, rng) and None)
