"""Self-checks for students: call them on your own functions, right in the notebook.

Each check runs your function on a few small cases whose answers are known, either
exactly (softmax of equal logits is uniform) or by finite differences of a loss
that this module computes itself. No expected value comes from the kit's reference
solution (:mod:`mlp_helpers.scalar`, :mod:`mlp_helpers.network`; only
``check_sgd_epoch`` hands your training loop an ``MLP`` to drive): the expected
gradients come from the definition of a derivative,

    dl/dw ~ (8 (l(w + e) - l(w - e)) - (l(w + 2e) - l(w - 2e))) / (12 e),

so a check can only pass if your function computes the derivative of the loss.

On success a check prints one line, ``✓ check_backward passed: ...``. On failure it
raises :class:`CheckFailed` (an ``AssertionError``; the comparison and the naming
of causes are :mod:`mlp_helpers.course.diagnosis`) whose message names the quantity
(say dl/dW), the entry, the expected and the obtained value, and the likely cause:
a flipped sign, a missing transpose, a forgotten bias, a forgotten mean over the
batch, ``y`` where ``y - t`` belongs, an assignment where an update belongs.

The signatures your functions must have (rows are examples; K classes, D inputs,
H hidden units, B examples in a batch)::

    check_softmax(fn)              fn(o) -> y                o, y: (B, K) (or (K,) with batched=False)
    check_cross_entropy(fn)        fn(o, labels) -> mean loss (float); see its options
    check_softmax_grad(fn)         fn(y, t) -> dl/do         y, t, dl/do: (K,), one example
    check_softmax_jacobian(fn)     fn(y) -> J                y: (K,), J: (K, K), J[i, j] = dy_i/do_j
    check_sigmoid_grad(fn)         fn(z) -> dh/dz            elementwise, any shape (takes="h": fn(h))
    check_scalar_forward_backward(fn)
                                   fn(x, label, W, b, V, c) -> (loss, grads), nested lists,
                                   like mlp_helpers.scalar.forward_backward
    check_backward(fn)             fn(x, labels, params) -> (loss, grads); x (B, D) float,
                                   labels (B,) int, params/grads dicts 'W' (D, H), 'b' (H,),
                                   'V' (H, K), 'c' (K,); loss = MEAN cross-entropy over the batch
    check_sgd_update(fn)           fn(params, grads, lr) updates params IN PLACE (w -= lr * dl/dw)
    check_sgd_epoch(fn)            fn(net, x, y, lr, rng) -> mean loss: one epoch of per-example
                                   SGD over rng.permutation(len(x)), updating net.params in place

``grads`` may be a dict with keys 'W', 'b', 'V', 'c' or a 4-tuple in that order.

The module is some 550 lines because it holds nine checks, each with its own cases
and the slips it recognises; what they share -- the forward pass and finite
differences they compute expected values with, and the comparison that names the
likely cause (:mod:`mlp_helpers.course.diagnosis`) -- is written once.
"""

import numpy as np

from .diagnosis import ATOL, RTOL  # noqa: F401 (re-exported: the tolerance every check uses)
from .diagnosis import (PARAM_NAMES, CheckFailed, as_array, call, check_unchanged, close, compare,
                        loss_and_grads, passed, snapshot)
from ..gradcheck import numeric_gradient

__all__ = [
    "CheckFailed",
    "check_softmax",
    "check_cross_entropy",
    "check_softmax_grad",
    "check_softmax_jacobian",
    "check_sigmoid_grad",
    "check_scalar_forward_backward",
    "check_backward",
    "check_sgd_update",
    "check_sgd_epoch",
]

# backprop order: the first wrong gradient in this order is the one to fix first,
# because every later one is computed from it
BACKWARD_ORDER = ("c", "V", "b", "W")
PARAM_SHAPES = {"W": ("D", "H"), "b": ("H",), "V": ("H", "K"), "c": ("K",)}
FORMULAS = {
    "W": "dl/dW = x^T dl/dz, shape (D, H)",
    "b": "dl/db = dl/dz summed over the batch (axis 0), shape (H,)",
    "V": "dl/dV = h^T dl/do, shape (H, K)",
    "c": "dl/dc = dl/do summed over the batch (axis 0), shape (K,)",
}


# --------------------------------------------------------------------------------------
# The maths the checks need: a forward pass and finite differences (no backward pass)
# --------------------------------------------------------------------------------------

def _softmax(o):
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(o):
    s = o - o.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _mean_loss(x, labels, p):
    """Mean cross-entropy of the 2-layer network, float64, rows are examples."""
    o = _sigmoid(x @ p["W"] + p["b"]) @ p["V"] + p["c"]
    return float(-_log_softmax(o)[np.arange(len(labels)), labels].mean())


def _numeric_param_grads(x, labels, p):
    return {name: numeric_gradient(lambda: _mean_loss(x, labels, p), p[name]) for name in PARAM_NAMES}


def _random_case(rng, B, D=3, H=5, K=4):
    """A batch and a network with N(0, 1)-ish weights and nonzero biases (so a
    forgotten bias shows). D, H, K differ, so a missing transpose changes the shape."""
    p = {"W": rng.normal(0, 1, (D, H)), "b": rng.normal(0, 0.5, H),
         "V": rng.normal(0, 1, (H, K)), "c": rng.normal(0, 0.5, K)}
    x = rng.normal(0, 1, (B, D))
    labels = rng.integers(0, K, B)
    return x, labels, p


def _worked_example():
    """x = (1, -1), W = [[1,1,1],[-1,-1,-1]], b = 0, V = [[1,1],[-1,-1],[-1,-1]], c = 0, class 0."""
    p = {"W": np.array([[1.0, 1, 1], [-1, -1, -1]]), "b": np.zeros(3),
         "V": np.array([[1.0, 1], [-1, -1], [-1, -1]]), "c": np.zeros(2)}
    return np.array([[1.0, -1.0]]), np.array([0]), p


# --------------------------------------------------------------------------------------
# Softmax and cross-entropy
# --------------------------------------------------------------------------------------

def check_softmax(fn, batched=True):
    """Check a softmax: fn(o) -> y, probabilities of the same shape.

    Args:
        fn: your function. With ``batched=True`` it gets logits o of shape (B, K),
            one row per example, and must return y of shape (B, K), each ROW summing
            to 1. With ``batched=False`` it gets one vector (K,) and returns (K,).
    Cases: equal logits (uniform answer), a few ordinary rows, and logits of +-1000,
    which overflow exp unless the row maximum is subtracted first. fn must not change
    its argument (``o -= o.max(...)`` would change the caller's logits).
    """
    name = "check_softmax"
    cases = [np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-2.0, 0.5, 1.0]]), np.zeros((1, 3)),
             np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 999.0]])]
    for o in cases:
        arg = o if batched else o[0]
        expected = _softmax(arg)
        given = arg.copy()
        obtained = as_array(call(name, fn, given), name, "y")
        if not np.array_equal(given, arg):
            raise CheckFailed(
                f"{name}: your softmax changed its input: o was {arg.tolist()} before the call and is "
                f"{np.round(given, 6).tolist()} after it; a softmax must leave the caller's logits "
                f"as they were.\n  likely cause: `o -= ...`, `o /= ...` or `np.exp(o, out=o)` "
                f"works on the caller's array; write `shifted = o - o.max(axis=-1, keepdims=True)`, "
                f"a new array")
        with np.errstate(all="ignore"):   # the wrong versions may overflow; only compared
            e = np.exp(arg)
            hypotheses = [(e, "the exponentials are not normalised: divide by their sum")]
            if batched and o.shape[0] > 1:
                hypotheses += [
                    (e / e.sum(axis=0, keepdims=True),
                     "normalised each COLUMN: rows are examples, so sum over axis=1 (keepdims=True)"),
                    (e / e.sum(), "divided by the sum over the whole batch: normalise each row "
                                  "(axis=1, keepdims=True)")]
        compare(name, "y = softmax(o)", expected, obtained, hypotheses=hypotheses,
                 context=f"o = {arg.tolist()}",
                 hint="y_k = exp(o_k - max(o)) / sum_j exp(o_j - max(o))")
    passed(f"{name} passed: known values, rows sum to 1, no overflow at logits of +-1000")


def check_cross_entropy(fn, batched=True, from_logits=True, one_hot=False):
    """Check a cross-entropy loss: the mean of -log y_label over the examples.

    Args:
        fn: your function, called as ``fn(inputs, targets)``:
            inputs are logits o (``from_logits=True``) or probabilities y (False);
            targets are integer labels (``one_hot=False``) or one-hot rows t (True).
            With ``batched=True``: inputs (B, K), targets (B,) or (B, K); return the
            MEAN loss over the B examples (a float). With ``batched=False``: inputs
            (K,), target an int or a (K,) one-hot vector; return the loss of that example.
        batched, from_logits, one_hot: see above.
    Cases: uniform logits (loss log K), ordinary values, and (from logits) a logit
    gap of 1000, where the loss is 1000 and exp/log without log-softmax gives inf.
    """
    name = "check_cross_entropy"
    cases = [(np.zeros((2, 4)), np.array([0, 3])),
             (np.array([[2.0, 0.0, 0.0], [0.5, -1.0, 1.5], [0.0, 0.0, 3.0]]), np.array([0, 2, 1]))]
    if from_logits:
        cases.append((np.array([[0.0, 1000.0], [1000.0, 0.0]]), np.array([0, 0])))
    for o, labels in cases:
        if not batched:
            o, labels = o[:1], labels[:1]
        K = o.shape[1]
        logp = _log_softmax(o)
        per_example = -logp[np.arange(len(labels)), labels]
        expected = np.array(per_example.mean())
        inputs = o if from_logits else np.exp(logp)
        t = np.eye(K)[labels]
        targets = t if one_hot else labels
        if not batched:
            inputs, targets = inputs[0], (targets[0] if one_hot else int(targets[0]))
        obtained = as_array(call(name, fn, inputs.copy(), targets), name, "the loss")
        if obtained.shape != ():
            raise CheckFailed(f"{name}: the loss must be one number, got shape {obtained.shape}.\n"
                              f"  likely cause: " + ("take the mean over the examples (and the sum over "
                                                     "the classes)" if batched else
                                                     "pick -log y[label] (or sum t * -log y over the classes)"))
        hypotheses = [(expected / np.log(10), "log base 10: use the natural log (np.log)"),
                      (expected / np.log(2), "log base 2: use the natural log (np.log)"),
                      (expected / K, f"averaged over the K = {K} classes as well: sum over the classes "
                                     "(only the true class counts), average over the examples")]
        if batched and len(labels) > 1:
            hypotheses.append((per_example.sum(), f"a forgotten mean over the batch: this is the SUM "
                                                  f"over the {len(labels)} examples; divide by B"))
        compare(name, "the loss", expected, obtained, hypotheses=hypotheses,
                 context=f"{'logits' if from_logits else 'y'} = {inputs.tolist()}, targets = "
                         f"{np.asarray(targets).tolist()}",
                 hint="l = -log y_label = -(o_label - max o) + log sum_k exp(o_k - max o)")
    stable = " and a logit gap of 1000" if from_logits else ""
    passed(f"{name} passed: log K for uniform logits, known values{stable}")


def _one_hot(label, K):
    t = np.zeros(K)
    t[label] = 1.0
    return t


def check_softmax_grad(fn):
    """Check dl/do for softmax followed by cross-entropy, one example: fn(y, t) -> dl/do.

    Args:
        fn: your function; y (K,) probabilities (softmax of the logits), t (K,) the
            one-hot target; returns dl/do (K,) where l = -log y_label. (The answer,
            report eq. 1.5, is short; the check compares with finite differences of l(o).)
    """
    name = "check_softmax_grad"
    rng = np.random.default_rng(1)
    for o, label in [(np.array([0.0, 0.0]), 0), (rng.normal(0, 1, 4), 2), (rng.normal(0, 2, 5), 0)]:
        K = len(o)
        y, t = _softmax(o), _one_hot(label, K)
        w = o.copy()
        expected = numeric_gradient(lambda: float(-_log_softmax(w)[label]), w)
        obtained = as_array(call(name, fn, y.copy(), t.copy()), name, "dl/do")
        hypotheses = [(y, "y instead of y - t: off by t (1 at the true class); dl/do = y - t"),
                      (-t / y, "this is dl/dy (eq. 1.1); multiply by the softmax Jacobian dy/do "
                               "to get dl/do")]
        compare(name, "dl/do", expected, obtained, hypotheses=hypotheses,
                 context=f"y = {np.round(y, 6).tolist()}, t = {t.tolist()}",
                 hint="dl/do_j = sum_i dl/dy_i dy_i/do_j")
    passed(f"{name} passed: dl/do matches finite differences for K = 2, 4, 5")


def check_softmax_jacobian(fn):
    """Check the softmax Jacobian: fn(y) -> J with J[i, j] = dy_i / do_j, shape (K, K).

    Args: fn, your function; y (K,) probabilities. Compared with finite differences.
    """
    name = "check_softmax_jacobian"
    rng = np.random.default_rng(2)
    for o in (np.array([0.0, 0.0]), rng.normal(0, 1, 3), rng.normal(0, 1, 5)):
        K = len(o)
        y = _softmax(o)
        expected = np.empty((K, K))
        for i in range(K):
            w = o.copy()
            expected[i] = numeric_gradient(lambda: float(_softmax(w)[i]), w)
        obtained = as_array(call(name, fn, y.copy()), name, "J")
        if obtained.shape == (K + 1, K + 1):
            raise CheckFailed(f"{name}: J has shape {obtained.shape}, expected ({K}, {K}).\n"
                              f"  likely cause: one class too many: the classes are 0 .. K-1 "
                              f"(the report's matrix (1.4) runs y_0 .. y_C, a slip)")
        hypotheses = [(-np.outer(y, y), "the diagonal term is missing: dy_i/do_i = y_i (1 - y_i), "
                                        "i.e. J = diag(y) - y y^T"),
                      (np.diag(y * (1 - y)), "the off-diagonal entries are missing: "
                                             "dy_i/do_j = -y_i y_j for i != j")]
        compare(name, "J = dy/do", expected, obtained, hypotheses=hypotheses,
                 context=f"y = {np.round(y, 6).tolist()}", hint="J[i, j] = y_i (delta_ij - y_j)")
    passed(f"{name} passed: J matches finite differences for K = 2, 3, 5")


# --------------------------------------------------------------------------------------
# Sigmoid
# --------------------------------------------------------------------------------------

def check_sigmoid_grad(fn, takes="z"):
    """Check the derivative of the sigmoid, elementwise.

    Args:
        fn: your function. With ``takes="z"``: fn(z) -> dh/dz = sigmoid'(z), same shape
            as z. With ``takes="h"``: fn(h) -> dh/dz written in terms of h = sigmoid(z).
    Cases: a (2, 4) array including z = 0 (slope 1/4) and z = +-30 (slope ~0).
    """
    if takes not in ("z", "h"):
        raise ValueError(f"takes must be 'z' or 'h', got {takes!r}")
    name = "check_sigmoid_grad"
    z = np.array([[0.0, 1.0, -2.0, 0.5], [3.0, -0.25, 30.0, -30.0]])
    h = _sigmoid(z)
    # each h_ij depends on z_ij only, so d(sum of h)/dz_ij is dh_ij/dz_ij
    w = z.copy()
    expected = numeric_gradient(lambda: float(_sigmoid(w).sum()), w)
    arg = z if takes == "z" else h
    obtained = as_array(call(name, fn, arg.copy()), name, "dh/dz")
    hypotheses = [(h, "this is sigmoid(z) itself, not its derivative h (1 - h)"),
                  (1 - h, "the factor h is missing: sigmoid'(z) = h (1 - h)")]
    if takes == "z":
        hypotheses.append((z * (1 - z), "z (1 - z): the formula needs h = sigmoid(z), not z: "
                                        "sigmoid'(z) = h (1 - h)"))
    compare(name, "dh/dz", expected, obtained, hypotheses=hypotheses,
             context=f"{takes} = {np.round(arg, 6).tolist()}", hint="sigmoid'(z) = h (1 - h), h = sigmoid(z)")
    passed(f"{name} passed: sigmoid'(0) = 1/4, and matches finite differences elsewhere")


# --------------------------------------------------------------------------------------
# The network: scalar and vectorized backward passes
# --------------------------------------------------------------------------------------

def _bias_hypotheses(x, labels, p):
    """What the loss would be with b or c left out of the forward pass."""
    return [(_mean_loss(x, labels, dict(p, b=np.zeros_like(p["b"]))),
             "a forgotten bias b: the loss is what z = x W (without + b) gives; z = x W + b"),
            (_mean_loss(x, labels, dict(p, c=np.zeros_like(p["c"]))),
             "a forgotten bias c: the loss is what o = h V (without + c) gives; o = h V + c")]


def _check_network(name, x, labels, p, loss, grads, context):
    """Compare a (loss, grads) pair with the forward pass's loss and finite differences."""
    B = len(labels)
    expected_loss = np.array(_mean_loss(x, labels, p))
    compare(name, "the loss", expected_loss, loss, context=context, batch=B,
             hypotheses=[(np.array(a), c) for a, c in _bias_hypotheses(x, labels, p)],
             hint="l = mean over the batch of -log softmax(o)[label], o = sigmoid(x W + b) V + c")
    expected = _numeric_param_grads(x, labels, p)
    t_mean = np.eye(p["c"].size)[labels].mean(axis=0)
    for pname in BACKWARD_ORDER:
        obtained = as_array(grads[pname], name, f"dl/d{pname}")
        hypotheses = []
        if pname == "c":
            hypotheses = [(expected["c"] + t_mean, "y instead of y - t: dl/dc is off by t "
                                                   "(averaged over the batch); dl/do = (y - t) / B")]
        compare(name, f"dl/d{pname}", expected[pname], obtained, context=context, batch=B,
                 hypotheses=hypotheses, hint=FORMULAS[pname], dims=PARAM_SHAPES[pname])


def check_scalar_forward_backward(fn):
    """Check a one-example forward and backward pass with Python lists.

    Args:
        fn: your function, ``fn(x, label, W, b, V, c) -> (loss, grads)`` like
            :func:`mlp_helpers.scalar.forward_backward`: x is D floats, label an int,
            W D lists of H floats, b H floats, V H lists of K floats, c K floats;
            loss = -log y_label (a float); grads a dict 'W', 'b', 'V', 'c' (or a
            4-tuple) in the same nested-list shapes.
    Cases: the worked example (x = (1, -1), W = [[1,1,1],[-1,-1,-1]], b = 0,
    V = [[1,1],[-1,-1],[-1,-1]], c = 0, class 0: loss log 2, dl/do = (-1/2, 1/2)),
    then two random 3-5-4 networks with nonzero biases, against finite differences.
    """
    name = "check_scalar_forward_backward"
    rng = np.random.default_rng(3)
    cases = [("the worked example", *_worked_example())]
    cases += [(f"random 3-5-4 network #{i + 1}", *_random_case(rng, 1)) for i in range(2)]
    for label_text, x, labels, p in cases:
        args = [x[0].tolist(), int(labels[0])] + [p[k].tolist() for k in PARAM_NAMES]
        before = snapshot(dict(zip(PARAM_NAMES, args[2:])))
        out = call(name, fn, *args)
        check_unchanged(name, before, dict(zip(PARAM_NAMES, args[2:])), "")
        loss, grads = loss_and_grads(name, out)
        _check_network(name, x, labels, p, loss, grads, context=f"{label_text}, label {int(labels[0])}")
    passed(f"{name} passed: the worked example (loss log 2) and two random networks; "
            f"dl/dW, dl/db, dl/dV, dl/dc match finite differences")


def check_backward(fn):
    """Check a vectorized forward + backward pass on batches (rows are examples).

    Args:
        fn: your function, ``fn(x, labels, params) -> (loss, grads)``: x (B, D) float64,
            labels (B,) int64 in [0, K), params a dict 'W' (D, H), 'b' (H,), 'V' (H, K),
            'c' (K,) of float64 arrays. loss is the MEAN cross-entropy over the batch
            (a float); grads a dict like params (or a tuple (dW, db, dV, dc)) with the
            gradients of that mean. ``params`` must not be modified.
            (To check a network object, pass ``lambda x, y, p: my_loss(x, y, p)``.)
    Cases: batches of B = 6 and B = 1 on random 3-5-4 networks with nonzero biases;
    D, H, K all differ, so a missing transpose shows up as a wrong shape.
    """
    name = "check_backward"
    rng = np.random.default_rng(4)
    for B in (6, 1):
        x, labels, p = _random_case(rng, B)
        before = snapshot(p)
        given = {k: v.copy() for k, v in p.items()}
        out = call(name, fn, x.copy(), labels.copy(), given)
        check_unchanged(name, before, given, "params")
        loss, grads = loss_and_grads(name, out)
        _check_network(name, x, labels, p, loss, grads, context=f"batch of B = {B}, D=3, H=5, K=4")
    passed(f"{name} passed: the mean loss and dl/dW, dl/db, dl/dV, dl/dc match finite "
            f"differences on batches of 6 and 1")


# --------------------------------------------------------------------------------------
# The update
# --------------------------------------------------------------------------------------

def _update_hypotheses(p, g, lr, name):
    return [
        (lr * g, f"{name} was ASSIGNED alpha * grad ({name} = alpha * d{name}) instead of updated: "
                 f"the old weights are thrown away (the report's snippet has this slip for b, V and c); "
                 f"write {name} -= alpha * d{name}"),
        (-lr * g, f"{name} = -alpha * d{name} drops the old value: write {name} -= alpha * d{name}"),
        (p + lr * g, f"a flipped sign: {name} + alpha * grad climbs uphill (the report's printed rule "
                     f"w_new = w + alpha grad is a slip); gradient descent subtracts: "
                     f"{name} -= alpha * d{name}"),
        (p - g, f"the learning rate is missing: {name} -= alpha * d{name}"),
        (p, f"{name} did not change: if you wrote `{name} = {name} - alpha * d{name}` (or "
            f"`{name} = alpha * d{name}`) inside the function, that rebinds a local name and "
            f"the network's array is untouched; update in place: {name} -= alpha * d{name}"),
    ]


def _make_params(rng, lists):
    p = {"W": rng.normal(0, 1, (3, 5)), "b": rng.normal(0, 1, 5),
         "V": rng.normal(0, 1, (5, 4)), "c": rng.normal(0, 1, 4)}
    g = {k: rng.normal(0, 1, v.shape) for k, v in p.items()}
    if lists:
        return ({k: v.tolist() for k, v in p.items()}, {k: v.tolist() for k, v in g.items()})
    return p, g


def check_sgd_update(fn, lists=False, lr=0.1):
    """Check one step of gradient descent: fn(params, grads, lr) updates params IN PLACE.

    Args:
        fn: your function. params and grads are dicts 'W', 'b', 'V', 'c' of numpy
            arrays (``lists=False``, shapes (3, 5), (5,), (5, 4), (4,)) or nested lists
            of floats (``lists=True``, as in notebook 02). After the call every array
            (list) in params must hold w - lr * dl/dw: the SAME objects, changed in
            place, because the network (and the training loop) keeps referring to them.
            A return value is allowed but not needed.
        lists: see above. lr: the learning rate passed to fn.
    """
    name = "check_sgd_update"
    rng = np.random.default_rng(5)
    params, grads = _make_params(rng, lists)
    p0, g0 = snapshot(params), snapshot(grads)
    objects = dict(params)                    # the arrays / lists the network holds
    returned = call(name, fn, params, grads, lr)
    check_unchanged(name, g0, grads, "grads")
    if isinstance(returned, (tuple, list)) and len(returned) == 4 and not lists:
        returned = dict(zip(PARAM_NAMES, returned))
    after = returned if isinstance(returned, dict) else params
    for k in PARAM_NAMES:
        expected = p0[k] - lr * g0[k]
        obtained = as_array(after[k], name, f"the new {k}")
        compare(name, f"the updated {k}", expected, obtained, context=f"lr = {lr}",
                 hypotheses=_update_hypotheses(p0[k], g0[k], lr, k), hint=f"{k} -= lr * d{k}")
    for k in PARAM_NAMES:
        held = np.array(objects[k], dtype=np.float64)
        if not close(held, p0[k] - lr * g0[k]) or params[k] is not objects[k]:
            raise CheckFailed(
                f"{name}: the values you return are right, but the array {k} that the network holds "
                f"was not updated in place (it still has its old values, or params[{k!r}] now points "
                f"to a new array).\n  likely cause: `{k} = {k} - lr * d{k}` or `params[{k!r}] = ...` "
                f"makes a new object; write `params[{k!r}] -= lr * grads[{k!r}]`"
                + (" (with lists: loop and do row[j] -= lr * grow[j])" if lists else ""))
    passed(f"{name} passed: every parameter moved by -lr * grad, in place")


# --------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------

def _epoch(x, labels, p, lr, order, *, sign=-1.0, assigned=(), frozen=()):
    """Per-example SGD over ``order`` on a copy of p, gradients by finite differences.

    The keyword arguments make the usual slips on purpose: ``sign=+1`` climbs the
    gradient, ``assigned`` names parameters set to lr * grad (the report's snippet),
    ``frozen`` names parameters never updated.
    Returns (new params, mean of the losses seen before each step).
    """
    p = {k: v.copy() for k, v in p.items()}
    losses = []
    for n in order:
        xn, ln = x[n:n + 1], labels[n:n + 1]
        losses.append(_mean_loss(xn, ln, p))
        grads = _numeric_param_grads(xn, ln, p)
        for k in PARAM_NAMES:
            if k in frozen:
                continue
            if k in assigned:
                p[k][...] = lr * grads[k]
            else:
                p[k] += sign * lr * grads[k]
    return p, float(np.mean(losses))


def _epoch_hypotheses(x, labels, p, lr, order):
    """(params after the slip, its mean loss, likely cause) for the usual training-loop slips."""
    N = len(labels)
    slips = [
        (dict(order=np.arange(N)),
         "the examples were visited in their stored order, not shuffled: visit them in the order "
         "`rng.permutation(len(x))` (one call per epoch, with the rng you were given)"),
        (dict(order=order, sign=+1.0),
         "a flipped sign: the weights moved UP the gradient; gradient descent subtracts, "
         "w -= lr * dl/dw"),
        (dict(order=order, assigned=("b", "V", "c")),
         "b, V and c were ASSIGNED lr * grad (b = lr * db, ...) instead of updated, the report's "
         "printed snippet: everything they learned is thrown away at each step; write b -= lr * db"),
        (dict(order=order, frozen=("b", "c")),
         "a forgotten bias: b and c never changed; update all four parameters W, b, V, c"),
        (dict(order=order, frozen=("W", "b")),
         "the first layer never changed: W and b must be updated too"),
    ]
    return [(*_epoch(x, labels, p, lr, **kwargs), cause) for kwargs, cause in slips]


def check_sgd_epoch(fn, lr=0.5):
    """Check one epoch of per-example SGD: fn(net, x, y, lr, rng) -> mean loss.

    Args:
        fn: your function. It gets ``net``, an :class:`mlp_helpers.MLP` (float64, 3-5-4
            with nonzero biases), x (N, D) float64 and y (N,) int64 for N = 8 examples,
            the learning rate and ``rng``, a ``np.random.default_rng(seed)``. It must
            visit the examples once each, in the order ``rng.permutation(len(x))``, and
            for each one compute the loss and gradients of that example with
            ``net.loss(x[n:n+1], y[n:n+1])`` and update every parameter in place,
            ``net.params[k] -= lr * grads[k]``. It returns the mean of the losses it saw
            (each one computed before the step that learns from it).
        lr: the learning rate passed to fn (large, so that every slip shows).

    The expected epoch is computed here with gradients by finite differences, so this
    check does not rely on any backward pass, yours or the kit's.
    """
    from ..network import MLP

    name = "check_sgd_epoch"
    rng = np.random.default_rng(6)
    x, labels, p = _random_case(rng, 8)
    order = np.random.default_rng(0).permutation(len(labels))
    expected_p, expected_loss = _epoch(x, labels, p, lr, order)

    net = MLP.from_params(p, dtype=np.float64)
    returned = call(name, fn, net, x.copy(), labels.copy(), lr, np.random.default_rng(0))
    obtained_p = {k: as_array(net.params[k], name, f"net.params[{k!r}]") for k in PARAM_NAMES}
    context = f"N = 8 examples, lr = {lr}, net 3-5-4"
    if not all(close(obtained_p[k], expected_p[k]) for k in PARAM_NAMES):
        if all(np.array_equal(obtained_p[k], p[k]) for k in PARAM_NAMES):
            raise CheckFailed(
                f"{name}: after your epoch the network's weights are unchanged ({context}).\n"
                f"  likely cause: the update never reached net.params: `W = W - lr * gW` or "
                f"`net.params['W'] = ...` on a copy rebinds a name; write "
                f"net.params[k] -= lr * grads[k] for k in 'W', 'b', 'V', 'c'")
        hypotheses = _epoch_hypotheses(x, labels, p, lr, order)
        for k in PARAM_NAMES:
            compare(name, f"{k} after the epoch", expected_p[k], obtained_p[k], context=context,
                     hypotheses=[(alt_p[k], cause) for alt_p, _, cause in hypotheses],
                     hint="for each n in rng.permutation(N): loss, g = net.loss(x[n:n+1], y[n:n+1]); "
                          "net.params[k] -= lr * g[k]")
    loss = as_array(returned, name, "the returned mean loss")
    compare(name, "the returned mean loss", np.array(expected_loss), loss, context=context,
             hypotheses=[(np.array(expected_loss * len(labels)),
                          "the SUM of the losses: divide by the number of examples"),
                         (np.array(_mean_loss(x, labels, expected_p)),
                          "the loss of the weights AFTER the epoch; return the mean of the losses "
                          "seen during it, each computed before its own update step")],
             hint="the mean over the epoch of the loss of each example before its update")
    passed(f"{name} passed: 8 examples in the order rng.permutation(8), every parameter "
            f"updated in place after each one, the mean loss returned")
