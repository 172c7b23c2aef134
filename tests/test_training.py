"""train() and History: determinism, the fast loops against the plain loop, callbacks,
divergence, and every bad input. Small data throughout: the whole file takes seconds."""
import json
import os
import platform
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from mlp_helpers import MLP, History, load_mnist, load_synth, train
from mlp_helpers import _fast
from mlp_helpers.training import sgd_epoch

needs_numba = pytest.mark.skipif(not _fast.HAVE_NUMBA, reason="numba not installed (the fallback is tested)")


@pytest.fixture(scope="module")
def synth():
    (x, t), (xv, tv), k = load_synth(num_train=600, num_val=200, seed=1)
    return x, t, xv, tv, k


def sparse_data(n=200, d=30, k=4, seed=0, density=0.2):
    """MNIST-like inputs: mostly zeros, the rest in (0, 1]; a learnable labelling."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, d)) * (rng.random((n, d)) < density)
    t = (x @ rng.standard_normal((d, k))).argmax(axis=1).astype(np.int64)
    return x, t


def plain_sgd(net, x, t, order, lr):
    """The reference loop: net.loss on one example, then w -= lr * grad."""
    return sgd_epoch(net, x, t, lr, order)


# ---- the fast loops do the same maths as the plain loop ---------------------------------

@pytest.fixture(scope="module")
def mnist_2000():
    (x, t), _, _ = load_mnist(final=False, verbose=False)
    return x[:2000], t[:2000]


# float64: the compiled kernel and the reference loop round differently only in the last
# bits of a sum, so after 2,000 steps they agree to 1e-10 (measured: 4e-16 on the weights).
# float32: rounding errors of 6e-8 per operation, compounded over 2,000 steps; measured
# 3e-7 on the weights and 2e-6 on a loss, so the stated tolerance is 1e-5 on both.
KERNEL_TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_per_example_kernel_equals_the_reference_loop(mnist_2000, dtype):
    """One epoch on 2,000 MNIST images, 784-300-10, the same order: the compiled kernel
    (_fast.sgd_steps) against sgd_epoch (net.loss, then w -= lr * g)."""
    x, t = mnist_2000
    x = x.astype(dtype)
    tol = KERNEL_TOLERANCE[dtype]
    ref, fast = MLP(784, 300, 10, seed=0, dtype=dtype), MLP(784, 300, 10, seed=0, dtype=dtype)
    order = np.random.default_rng(0).permutation(len(x))
    expected = sgd_epoch(ref, x, t, 0.01, order)
    losses = np.empty(len(order))
    assert _fast.PerExampleSGD(fast, x, t, 0.01).run(order, losses) == len(order)
    np.testing.assert_allclose(losses, expected, rtol=0, atol=tol)
    for k in ref.params:
        assert fast.params[k].dtype == dtype
        np.testing.assert_allclose(fast.params[k], ref.params[k], rtol=0, atol=tol, err_msg=k)
    assert not np.allclose(fast.params["W"], MLP(784, 300, 10, seed=0, dtype=dtype).params["W"])


@needs_numba
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("data", ["sparse", "dense"])
def test_per_example_kernel_on_small_nets_and_dense_inputs(dtype, tol, data):
    x, t = sparse_data(density=0.2 if data == "sparse" else 1.0)
    x = x.astype(dtype)
    slow, fast = MLP(30, 12, 4, seed=3, dtype=dtype), MLP(30, 12, 4, seed=3, dtype=dtype)
    order = np.random.default_rng(0).permutation(200).tolist() * 2       # 400 steps, as a list
    expected = plain_sgd(slow, x, t, order, lr=0.3)
    losses = np.empty(len(order))
    assert _fast.PerExampleSGD(fast, x, t, 0.3).run(order, losses) == len(order)
    np.testing.assert_allclose(losses, expected, rtol=tol, atol=tol)
    for k in slow.params:
        np.testing.assert_allclose(fast.params[k], slow.params[k], rtol=tol, atol=tol, err_msg=k)


@needs_numba
def test_per_example_kernel_reads_the_learning_rate_at_every_run():
    x, t = sparse_data()
    ref, fast = MLP(30, 12, 4, seed=3, dtype=np.float64), MLP(30, 12, 4, seed=3, dtype=np.float64)
    stepper = _fast.PerExampleSGD(fast, x, t, 0.3)
    losses = np.empty(100)
    for rate, block in [(0.3, range(0, 100)), (0.05, range(100, 200))]:
        stepper.lr = rate
        stepper.run(list(block), losses)
        plain_sgd(ref, x, t, list(block), rate)
    for k in ref.params:
        np.testing.assert_allclose(fast.params[k], ref.params[k], rtol=1e-12, atol=1e-14, err_msg=k)


@needs_numba
def test_per_example_kernel_stops_at_a_non_finite_loss_without_updating():
    x, t = sparse_data()
    net = MLP(30, 12, 4, seed=3, dtype=np.float64)
    # finite weights (the stepper refuses others) whose logit o_0 = sum_j h_j V_j0 overflows to
    # inf for every example: the loss is nan
    net.params["V"][:, 0] = 1e308
    before = {k: v.copy() for k, v in net.params.items()}
    losses = np.zeros(10)
    assert _fast.PerExampleSGD(net, x, t, 0.1).run(list(range(10)), losses) == 1
    assert np.isnan(losses[0]) and np.all(losses[1:] == 0)
    for k in before:
        np.testing.assert_array_equal(net.params[k], before[k])


def _synth_300():
    (x, t), _, _ = load_synth(num_train=300, num_val=50, seed=0)
    return x, t


@pytest.mark.parametrize("batch_size", [1, 8])
def test_train_refuses_a_params_array_shorter_than_the_network_and_writes_nothing(batch_size):
    """issue 23: with c one number short (K = 2) the compiled kernel wrote past its end."""
    x, t = _synth_300()
    net = MLP(2, 16, 2)
    base = np.full(10, 12345, np.float32)
    base[0] = 0
    net.params["c"] = base[:1]
    with pytest.raises(ValueError, match=re.escape("net.params['c'] must have shape (K,) = (2,) to match "
                                                   "V (16, 2), got (1,)")):
        train(net, (x, t), lr=0.1, epochs=1, batch_size=batch_size, progress=False)
    assert base[0] == 0 and np.all(base[1:] == 12345)


def _bad_params(net, kind):
    p = net.params
    if kind == "float64 W":
        p["W"] = p["W"].astype(np.float64)
    elif kind == "wide W":
        p["W"] = np.zeros((2, 17), np.float32)
    elif kind == "strided V":
        p["V"] = np.zeros((2, 16), np.float32).T
    elif kind == "read-only b":
        p["b"].flags.writeable = False
    elif kind == "NaN V":
        p["V"][3, 1] = np.nan
    elif kind == "inf b":
        p["b"][0] = -np.inf
    elif kind == "list c":
        p["c"] = [0.0, 0.0]
    elif kind == "missing c":
        del p["c"]
    elif kind == "extra key":
        p["d"] = np.zeros(2, np.float32)


BAD_PARAMS = [
    ("float64 W", r"net.params\['W'\] must have dtype float32 \(the network's\), got float64"),
    ("wide W", r"net.params\['W'\] must be \(D, H\) = \(2, 16\) \(n_in, n_hidden\), got shape \(2, 17\)"),
    ("strided V", r"net.params\['V'\] must be a C-contiguous array .* got a strided view"),
    ("read-only b", r"net.params\['b'\] must be a writeable array .* got a read-only one"),
    ("NaN V", r"net.params\['V'\] must hold finite numbers, got NaN or inf \(1 of its 32 entries\)"),
    ("inf b", r"net.params\['b'\] must hold finite numbers, got NaN or inf \(1 of its 16 entries\)"),
    ("list c", r"net.params\['c'\] must be a numpy array, got \[0.0, 0.0\] \(list\)"),
    ("missing c", r"net.params must have the keys 'W', 'b', 'V', 'c'; missing c"),
    ("extra key", r"net.params must have only the keys 'W', 'b', 'V', 'c'; it also has 'd'"),
]


@pytest.mark.parametrize("batch_size", [1, 8])
@pytest.mark.parametrize("kind, match", BAD_PARAMS, ids=[kind for kind, _ in BAD_PARAMS])
def test_train_checks_every_params_array_before_any_step(kind, match, batch_size):
    x, t = _synth_300()
    net = MLP(2, 16, 2)
    _bad_params(net, kind)
    before = {k: np.array(v, copy=True) for k, v in net.params.items()}
    with pytest.raises(ValueError, match=match):
        train(net, (x, t), lr=0.1, epochs=1, batch_size=batch_size, progress=False)
    for k, v in before.items():
        np.testing.assert_array_equal(net.params[k], v)


@needs_numba
@pytest.mark.parametrize("make", [lambda net, x, t: _fast.PerExampleSGD(net, x, t, 0.1),
                                  lambda net, x, t: _fast.MinibatchSGD(net, x, t, 0.1, 8)],
                         ids=["per-example", "minibatch"])
def test_the_steppers_check_the_weights_when_made_and_at_every_run(make):
    """The compiled loops' own entry: the weights when a stepper is made (all of it), and
    at every run, since a callback can replace an array between runs (the shapes again)."""
    x, t = _synth_300()
    net = MLP(2, 16, 2)
    net.params["c"] = np.zeros(1, np.float32)
    with pytest.raises(ValueError, match=r"net.params\['c'\] must have shape \(K,\) = \(2,\)"):
        make(net, x, t)
    net = MLP(2, 16, 2)
    net.params["V"][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"net.params\['V'\] must hold finite numbers"):
        make(net, x, t)
    net = MLP(2, 16, 2)
    stepper = make(net, x, t)
    base = np.full(10, 12345, np.float32)
    net.params["c"] = base[:1]                      # replaced after the stepper was made
    order = np.arange(8)
    with pytest.raises(ValueError, match=r"net.params\['c'\] must have shape \(K,\) = \(2,\)"):
        stepper.run(*((order, np.empty(8)) if stepper.batch_size == 1 else ([order], np.empty(1))))
    assert np.all(base[1:] == 12345)


@needs_numba
def test_the_steppers_refuse_data_and_indices_out_of_range():
    x, t = _synth_300()
    net = MLP(2, 16, 2)
    with pytest.raises(ValueError, match=r"x must be an array of shape \(N, 2\) and dtype float32"):
        _fast.PerExampleSGD(net, x.astype(np.float64), t, 0.1)
    with pytest.raises(ValueError, match=r"t must be class labels in \[0, 2\), got values from 0 to 5"):
        _fast.MinibatchSGD(net, x, np.where(t == 1, 5, t), 0.1, 8)
    per_example, minibatch = _fast.PerExampleSGD(net, x, t, 0.1), _fast.MinibatchSGD(net, x, t, 0.1, 8)
    with pytest.raises(ValueError, match=r"order must hold example indices in \[0, 300\), got values from 0 to 300"):
        per_example.run([0, 300], np.empty(2))
    with pytest.raises(ValueError, match=r"losses must have room for one loss per step \(3\), got 2"):
        per_example.run([0, 1, 2], np.empty(2))
    with pytest.raises(ValueError, match=r"batches must hold example indices in \[0, 300\), got values from -1"):
        minibatch.run([np.array([-1, 2])], np.empty(1))
    with pytest.raises(ValueError, match=r"batches\[1\] must have at most batch_size = 8 examples, got 9"):
        minibatch.run([np.arange(8), np.arange(9)], np.empty(2))


@needs_numba
def test_per_example_kernel_is_stable_at_huge_pre_activations_and_logits():
    """sigmoid(+-1e4) saturates to exactly 0 or 1, and the logit gap of 4e4 is the loss:
    finite, with no overflow, and finite weights after the step."""
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    net = MLP(2, 3, 2, seed=0, dtype=np.float64)
    net.params["W"][:] = [[1e4, -1e4, 1e4], [-1e4, 1e4, -1e4]]
    net.params["V"][:] = [[1e4, -1e4], [1e4, -1e4], [1e4, -1e4]]
    ref = net.copy()
    losses = np.empty(2)
    assert _fast.PerExampleSGD(net, x, np.array([1, 1]), 1e-3).run([0, 1], losses) == 2
    np.testing.assert_allclose(losses, plain_sgd(ref, x, np.array([1, 1]), [0, 1], 1e-3), rtol=1e-12)
    assert losses[0] == pytest.approx(4e4, rel=1e-12)          # o = (2e4, -2e4), label 1
    assert all(np.isfinite(v).all() for v in net.params.values())


@needs_numba
def test_per_example_kernel_is_compiled_without_the_gil_and_cached():
    # nogil: the explorer's plots and Stop button run while a block of steps does
    assert _fast.sgd_steps.targetoptions["nogil"] is True
    assert _fast.sgd_steps._cache.__class__.__name__ == "FunctionCache"     # cache=True


# One float32 epoch on 2,000 MNIST images at lr 0.3 (a rate that amplifies the last bit),
# written to an .npz: run once compiled for this machine and once for the plain x86-64
# target (SSE2: 4 float32 numbers to a vector register instead of 8 or 16, and no fused
# multiply-add).
_ONE_EPOCH = textwrap.dedent("""
    import sys, numpy as np
    from mlp_helpers import MLP, load_mnist, _fast
    (x, t), _, _ = load_mnist(final=False, verbose=False)
    x, t = x[:2000], t[:2000]
    net = MLP(784, 300, 10, seed=0)
    losses = np.empty(len(x))
    _fast.PerExampleSGD(net, x, t, 0.3).run(np.random.default_rng(0).permutation(len(x)), losses)
    np.savez(sys.argv[1], losses=losses, **net.params)
""")


@needs_numba
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="an x86-64 target")
def test_per_example_kernel_gives_the_same_bits_whatever_the_vector_width(tmp_path):
    """The committed MNIST results must come out the same on the next machine: no sum is
    reordered by the compiler (no fastmath), so the generic x86-64 build and this
    machine's build agree to the last bit (with fastmath they differed by 0.4 in W)."""
    results = {}
    for target, extra in {"this machine": {}, "x86-64": {"NUMBA_CPU_NAME": "x86-64",
                                                         "NUMBA_CPU_FEATURES": "+sse,+sse2"}}.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU")}
        env.update(extra, NUMBA_CACHE_DIR=str(tmp_path / f"cache-{len(results)}"))
        out = tmp_path / f"{len(results)}.npz"
        subprocess.run([sys.executable, "-c", _ONE_EPOCH, str(out)], env=env, check=True, timeout=300)
        results[target] = np.load(out)
    mine, generic = results.values()
    for k in ("losses", "W", "b", "V", "c"):
        np.testing.assert_array_equal(mine[k], generic[k], err_msg=k)
    assert np.isfinite(mine["losses"]).all() and mine["losses"][-500:].mean() < mine["losses"][:500].mean()


def test_without_numba_train_falls_back_to_the_reference_loop_and_warns_once():
    """numba made unimportable in a fresh process: train() still trains, with sgd_epoch."""
    code = textwrap.dedent("""
        import sys, warnings
        sys.modules["numba"] = None                  # import numba now raises ImportError
        import numpy as np
        from mlp_helpers import MLP, train
        from mlp_helpers import _fast
        from mlp_helpers.training import sgd_epoch
        assert not _fast.HAVE_NUMBA
        rng = np.random.default_rng(0)
        x = rng.random((50, 6)) * (rng.random((50, 6)) < 0.3)
        y = (x.sum(axis=1) > 0.9).astype(np.int64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            nets = [MLP(6, 5, 2, seed=0, dtype=np.float64) for _ in range(2)]
            for net in nets:
                train(net, (x, y), lr=0.2, epochs=2, seed=3, progress=False)
        messages = [str(w.message) for w in caught]
        assert len(messages) == 1 and "numba is not available" in messages[0], messages
        assert caught[0].category is RuntimeWarning
        ref = MLP(6, 5, 2, seed=0, dtype=np.float64)
        rng = np.random.default_rng(3)
        for _ in range(2):
            sgd_epoch(ref, x, y, 0.2, rng.permutation(50))
        for k in ref.params:
            assert np.array_equal(ref.params[k], nets[0].params[k]), k
            assert np.array_equal(ref.params[k], nets[1].params[k]), k
        # minibatch SGD without numba: the same steps on all the pixels
        net, ref = MLP(6, 5, 2, seed=0, dtype=np.float64), MLP(6, 5, 2, seed=0, dtype=np.float64)
        train(net, (x, y), lr=0.2, epochs=1, batch_size=8, seed=3, progress=False)
        order = np.random.default_rng(3).permutation(50)
        for start in range(0, 50, 8):
            _, grads = ref.loss(x[order[start:start + 8]], y[order[start:start + 8]])
            for k, w in ref.params.items():
                w -= 0.2 * grads[k]
        for k in ref.params:
            assert np.allclose(ref.params[k], net.params[k], rtol=1e-12, atol=1e-14), k
        print("fallback ok")
    """)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fallback ok"


@needs_numba
def test_sparse_rows_layout():
    x = np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 3.0]], dtype=np.float32)
    indptr, pixels, values = _fast.sparse_rows(x)
    assert indptr.tolist() == [0, 1, 1, 3]
    assert pixels.tolist() == [1, 0, 2] and pixels.dtype == np.int64
    assert values.tolist() == [2.0, 1.0, 3.0] and values.dtype == np.float32


def test_train_batch_size_1_equals_plain_sgd_on_both_kinds_of_data(synth):
    x, t, *_ = synth
    for data in [(x.astype(np.float64), t), sparse_data()]:
        d = data[0].shape[1]
        net, ref = MLP(d, 8, 4, seed=0, dtype=np.float64), MLP(d, 8, 4, seed=0, dtype=np.float64)
        h = train(net, data, lr=0.1, epochs=2, seed=5, progress=False)
        rng = np.random.default_rng(5)
        losses = [plain_sgd(ref, *data, rng.permutation(len(data[0])), 0.1) for _ in range(2)]
        np.testing.assert_allclose(h.train_loss, [l.mean() for l in losses], rtol=1e-12)
        for k in ref.params:
            np.testing.assert_allclose(net.params[k], ref.params[k], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("kind", ["synth", "sparse"])
def test_minibatch_path_equals_hand_written_loop(synth, kind):
    x, t = (synth[0], synth[1]) if kind == "synth" else sparse_data(n=600, d=30, k=4)
    x = x.astype(np.float64)
    d, k = x.shape[1], t.max() + 1
    net, ref = MLP(d, 8, k, seed=0, dtype=np.float64), MLP(d, 8, k, seed=0, dtype=np.float64)
    batches = np.array_split(np.random.default_rng(0).permutation(600), 150)     # sizes 4
    batches[3] = np.arange(100)                     # one big batch: every column in use
    losses = np.empty(len(batches))
    stepper = _fast.MinibatchSGD(net, x, t, 0.5, 100)
    assert stepper.run(batches, losses) == len(batches)
    for b, got in zip(batches, losses):
        loss, grads = ref.loss(x[b], t[b])          # mean loss over the batch
        assert got == pytest.approx(loss, rel=1e-12)
        for name, w in ref.params.items():
            w -= 0.5 * grads[name]
    for name in ref.params:
        np.testing.assert_allclose(net.params[name], ref.params[name], rtol=1e-11, atol=1e-13)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_minibatch_path_equals_the_reference_on_mnist(mnist_2000, dtype):
    """An epoch of batches of 64 on 2,000 MNIST images, 784-300-10: the fast path (used
    pixels only, the output layer compiled) against net.loss, then w -= lr * g."""
    x, t = mnist_2000
    x = x.astype(dtype)
    tol = KERNEL_TOLERANCE[dtype]
    ref, fast = MLP(784, 300, 10, seed=0, dtype=dtype), MLP(784, 300, 10, seed=0, dtype=dtype)
    stepper = _fast.MinibatchSGD(fast, x, t, 0.1, 64)
    batches, _ = stepper.split(np.random.default_rng(0).permutation(len(x)))
    losses = np.empty(len(batches))
    assert stepper.run(batches, losses) == len(batches) == 32
    expected = []
    for b in batches:
        loss, grads = ref.loss(x[b], t[b])
        expected.append(loss)
        for name, w in ref.params.items():
            w -= dtype(0.1) * grads[name]
    np.testing.assert_allclose(losses, expected, rtol=0, atol=tol)
    for name in ref.params:
        np.testing.assert_allclose(fast.params[name], ref.params[name], rtol=0, atol=tol)


def test_train_minibatch_keeps_the_last_partial_batch(synth):
    x, t, *_ = synth
    net = MLP(2, 8, 2, seed=0)
    h = train(net, (x, t), lr=0.1, epochs=1, batch_size=64, log_every=100, progress=False)
    assert h.examples_seen == 600                   # 9 batches of 64 and one of 24
    assert h.running_at == [128, 256, 384, 512]     # logged at the first batch boundary past each 100
    assert np.all(np.isfinite(h.running_loss))


# ---- History -------------------------------------------------------------------------------

def test_history_is_deterministic_for_a_seed(synth):
    x, t, xv, tv, k = synth
    runs = [train(MLP(2, 8, k, seed=0), (x, t), val=(xv, tv), lr=0.1, epochs=2, seed=s,
                  log_every=100, progress=False) for s in (7, 7, 8)]
    a, b, c = (r.to_dict() for r in runs)
    for d in (a, b, c):
        d.pop("epoch_time")
    assert a == b
    assert a["running_loss"] != c["running_loss"] and a["train_loss"] != c["train_loss"]


def test_history_fields_and_json_roundtrip(synth):
    x, t, xv, tv, k = synth
    h = train(MLP(2, 8, k), (x, t), val=(xv, tv), lr=0.1, epochs=3, log_every=250, progress=False)
    assert (h.lr, h.batch_size, h.epochs, h.seed, h.n_train) == (0.1, 1, 3, 0, 600)
    assert len(h.train_loss) == len(h.val_loss) == len(h.val_acc) == len(h.epoch_time) == 3
    assert h.running_at == list(range(250, 1801, 250))
    assert all(0 <= a <= 1 for a in h.val_acc) and all(t > 0 for t in h.epoch_time)
    assert not h.diverged and not h.stopped and h.epochs_done == 3
    d = json.loads(json.dumps(h.to_dict()))
    back = History.from_dict(d)
    assert back == h and isinstance(back.train_loss[0], float)
    with pytest.raises(ValueError, match="keys History does not know"):
        History.from_dict({**d, "colour": "red"})


def test_train_loss_is_the_mean_of_the_losses_seen_in_the_epoch(synth):
    x, t, *_ = synth
    h = train(MLP(2, 8, 2), (x, t), lr=0.1, epochs=2, log_every=1, progress=False)
    per_example = np.array(h.running_loss)          # log_every=1: every example's loss
    assert len(per_example) == 1200 and h.running_at[-1] == 1200
    assert h.train_loss == pytest.approx([per_example[:600].mean(), per_example[600:].mean()], rel=1e-12)


def test_without_val_the_val_lists_stay_empty(synth):
    x, t, *_ = synth
    h = train(MLP(2, 8, 2), (x, t), lr=0.1, epochs=1, progress=False)
    assert h.val_loss == [] and h.val_acc == [] and len(h.train_loss) == 1


# ---- learning ------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size, lr", [(1, 0.05), (16, 0.5)])
def test_loss_drops_and_accuracy_beats_chance(batch_size, lr):
    (x, t), (xv, tv), k = load_synth(num_train=3000, num_val=1000, seed=2)
    net = MLP(2, 16, k, seed=0)
    before = net.mean_loss(xv, tv)
    h = train(net, (x, t), val=(xv, tv), lr=lr, epochs=2, batch_size=batch_size, progress=False)
    assert h.val_loss[-1] < 0.8 * before
    assert h.train_loss[1] < h.train_loss[0]
    assert h.val_acc[-1] > 0.75                      # half the points are in each class


def test_per_example_sgd_learns_sparse_inputs():
    x, t = sparse_data(n=1000, d=50, k=3, seed=1)
    net = MLP(50, 20, 3, seed=0)
    h = train(net, (x, t), lr=0.1, epochs=3, progress=False)
    assert h.train_loss[-1] < 0.6 * h.train_loss[0]
    assert net.accuracy(x, t) > 0.8


# ---- callbacks and stopping ----------------------------------------------------------------

def test_callback_events_in_order(synth):
    x, t, xv, tv, k = synth
    seen = []

    def callback(event, history):
        seen.append((event, history.running_at[-1] if event == "log" else len(history.val_acc)))

    train(MLP(2, 8, k), (x, t), val=(xv, tv), lr=0.1, epochs=2, log_every=200, progress=False,
          callback=callback)
    assert seen == [("log", 200), ("log", 400), ("log", 600), ("epoch", 1),
                    ("log", 800), ("log", 1000), ("log", 1200), ("epoch", 2)]


def test_callback_returning_true_stops_training(synth):
    x, t, *_ = synth
    calls = []

    def stop_at_second_log(event, history):
        calls.append(event)
        return len(history.running_loss) == 2

    net = MLP(2, 8, 2)
    h = train(net, (x, t), lr=0.1, epochs=3, log_every=100, progress=False, callback=stop_at_second_log)
    assert h.stopped and not h.diverged
    assert calls == ["log", "log"] and h.examples_seen == 200
    assert h.train_loss == [] and h.epoch_time == []        # the cut-short epoch leaves no entry

    h = train(MLP(2, 8, 2), (x, t), lr=0.1, epochs=3, progress=False,
              callback=lambda event, hist: event == "epoch")
    assert h.stopped and h.epochs_done == 1 and h.examples_seen == 600


def test_callback_that_returns_none_or_truthy_non_bool_does_not_stop(synth):
    x, t, *_ = synth
    h = train(MLP(2, 8, 2), (x, t), lr=0.1, epochs=2, progress=False, callback=lambda e, hist: "yes")
    assert not h.stopped and h.epochs_done == 2


@pytest.mark.parametrize("batch_size", [1, 8])
def test_divergence_warns_with_the_lr_and_stops(synth, batch_size):
    x, t, *_ = synth
    net = MLP(2, 8, 2, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = train(net, (x * 1e3, t), lr=1e38, epochs=3, batch_size=batch_size, progress=False)
    assert [w.category for w in caught] == [RuntimeWarning]           # ours alone, no numpy noise
    assert re.search(r"diverged.*lr=1e\+38.*too large", str(caught[0].message))
    assert h.diverged and not h.stopped
    assert h.examples_seen < 3 * 600 and h.epochs_done < 3
    assert np.all(np.isfinite(h.running_loss))
    json.dumps(h.to_dict())


def test_no_warning_and_no_output_when_progress_is_off(synth, capsys):
    x, t, xv, tv, k = synth
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(MLP(2, 8, k), (x, t), val=(xv, tv), lr=0.1, epochs=2, progress=False)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_progress_bar_writes_to_stderr(synth, capsys):
    x, t, *_ = synth
    train(MLP(2, 8, 2), (x, t), lr=0.1, epochs=1, progress=True)
    out, err = capsys.readouterr()
    assert "600/600" in err and out == ""


def test_training_updates_the_net_in_place(synth):
    x, t, *_ = synth
    net = MLP(2, 8, 2)
    arrays = {k: v for k, v in net.params.items()}
    before = {k: v.copy() for k, v in net.params.items()}
    train(net, (x, t), lr=0.1, epochs=1, progress=False)
    for k in arrays:
        assert net.params[k] is arrays[k]
        assert not np.array_equal(net.params[k], before[k]), k


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0), r"lr must be a finite number > 0, got 0"),
    (dict(lr=-1), r"lr must be a finite number > 0, got -1"),
    (dict(lr=float("nan")), r"lr must be a finite number > 0, got nan"),
    (dict(lr="fast"), r"lr must be a finite number > 0, got 'fast'"),
    (dict(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=2.5), r"batch_size must be an integer >= 1, got 2.5"),
    (dict(batch_size=601), r"batch_size must be at most the number of training examples N = 600"),
    (dict(epochs=0), r"epochs must be an integer >= 1, got 0"),
    (dict(log_every=0), r"log_every must be an integer >= 1"),
    (dict(seed=-1), r"seed must be an integer >= 0"),
    (dict(progress="no"), r"progress must be True or False"),
    (dict(callback=3), r"callback must be None or a function"),
])
def test_bad_settings_raise_value_error_naming_them(synth, kwargs, match):
    x, t, *_ = synth
    with pytest.raises(ValueError, match=match):
        train(MLP(2, 4, 2), (x, t), **{"progress": False, **kwargs})


def _bad_data(synth):
    x, t, xv, tv, k = synth
    nan_x = x.copy()
    nan_x[3, 1] = np.nan
    return [
        (dict(data=x), r"data must be a pair \(x, t\).*got ndarray"),
        (dict(data=(x, t, t)), r"data must be a pair \(x, t\).*length 3"),
        (dict(data=(x, t[:-1])), r"data t must have one label per row of x \(600\), got 599"),
        (dict(data=(x, t + 5)), r"data t must be class labels in \[0, 2\), got values from 5 to 6"),
        (dict(data=(x, -t)), r"data t must be class labels in \[0, 2\)"),
        (dict(data=(x, t.astype(float))), r"data t must hold integer class labels"),
        (dict(data=(np.hstack([x, x]), t)), r"data x must have 2 columns.*got shape \(600, 4\)"),
        (dict(data=(x[:, 0], t)), r"data x must be 2-D"),
        (dict(data=(nan_x, t)), r"data x must be finite, but 1 entries are NaN or inf"),
        (dict(data=(x[:0], t[:0])), r"data x is empty"),
        (dict(data=(x.tolist(), t)), r"data x must be a numpy array"),
        (dict(val=(xv[:, :1], tv)), r"val x must have 2 columns.*got shape \(200, 1\)"),
        (dict(val=(xv, tv[:10])), r"val t must have one label per row of x \(200\), got 10"),
        (dict(val=xv), r"val must be a pair \(x, t\)"),
    ]


@pytest.mark.parametrize("case", range(14))
def test_bad_data_raises_value_error_naming_the_argument(synth, case):
    x, t, *_ = synth
    kwargs, match = _bad_data(synth)[case]
    kwargs = {"data": (x, t), **kwargs}
    with pytest.raises(ValueError, match=match):
        train(MLP(2, 4, 2), kwargs.pop("data"), progress=False, **kwargs)


def test_not_a_network_is_rejected(synth):
    x, t, *_ = synth
    with pytest.raises(ValueError, match="net must be an MLP"):
        train("net", (x, t), progress=False)


# ---- learning-rate schedules and the training loss at the epoch's final weights ------------

@pytest.mark.parametrize("batch_size", [1, 16])
def test_lr_schedule_equals_training_epoch_by_epoch_at_each_rate(synth, batch_size):
    """A schedule is the same as chaining one-epoch runs at the scheduled rates
    (the shuffles differ, so compare with the plain loop over the same orders)."""
    x, t, xv, tv, k = synth
    schedule = [1.0, 0.5, 0.25]
    net = MLP(2, 6, k, seed=3, dtype=np.float64)
    h = train(net, (x, t), lr=0.4, epochs=3, batch_size=batch_size, seed=7, progress=False,
              lr_schedule=schedule)
    assert h.epoch_lr == [0.4, 0.2, 0.1]
    ref = MLP(2, 6, k, seed=3, dtype=np.float64)
    rng = np.random.default_rng(7)
    for rate in h.epoch_lr:
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            _, grads = ref.loss(x[idx], t[idx])
            for name, w in ref.params.items():
                w -= rate * grads[name]
    for name in "WbVc":
        np.testing.assert_allclose(net.params[name], ref.params[name], rtol=1e-10, atol=1e-12)


def test_lr_schedule_as_a_function_of_the_epoch(synth):
    x, t, _, _, k = synth
    h = train(MLP(2, 4, k, seed=0), (x, t), lr=0.1, epochs=4, progress=False,
              lr_schedule=lambda epoch: 0.5 ** epoch)
    assert h.epoch_lr == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    constant = train(MLP(2, 4, k, seed=0), (x, t), lr=0.1, epochs=2, progress=False)
    assert constant.epoch_lr == [0.1, 0.1]


@pytest.mark.parametrize("schedule, match", [
    ([1.0, 0.5], r"lr_schedule must have one factor per epoch \(3\), got 2"),
    ([1.0, -0.5, 1.0], r"lr_schedule\[1\] must be a finite number > 0, got -0.5"),
    ([1.0, float("nan"), 1.0], r"lr_schedule\[1\] must be a finite number > 0, got nan"),
    (lambda e: 1.0 if e < 2 else 0.0, r"lr_schedule\(2\) must be a finite number > 0, got 0.0"),
    (lambda e: 1 / (1 - e), r"lr_schedule\(1\) raised ZeroDivisionError"),
    (0.5, r"lr_schedule must be None, a function of the epoch, or a sequence of 3 factors"),
    ("abc", r"lr_schedule must be None, a function of the epoch, or a sequence of 3 factors"),
])
def test_bad_lr_schedule_is_refused_before_training(synth, schedule, match):
    x, t, _, _, k = synth
    net = MLP(2, 4, k, seed=0)
    before = {name: w.copy() for name, w in net.params.items()}
    with pytest.raises(ValueError, match=match):
        train(net, (x, t), lr=0.1, epochs=3, progress=False, lr_schedule=schedule)
    assert all(np.array_equal(before[name], net.params[name]) for name in before)


def test_eval_train_measures_the_training_set_with_the_epochs_final_weights(synth):
    x, t, xv, tv, k = synth
    net = MLP(2, 6, k, seed=1, dtype=np.float64)
    h = train(net, (x, t), val=(xv, tv), lr=0.3, epochs=2, progress=False, eval_train=True)
    assert len(h.train_loss_after) == len(h.train_acc_after) == 2
    assert h.train_loss_after[-1] == pytest.approx(net.mean_loss(x, t), rel=1e-12)
    assert h.train_acc_after[-1] == net.accuracy(x, t)
    plain = train(MLP(2, 6, k, seed=1), (x, t), lr=0.3, epochs=2, progress=False)
    assert plain.train_loss_after == [] and plain.train_acc_after == []
    with pytest.raises(ValueError, match=r"eval_train must be True or False, got 'yes'"):
        train(MLP(2, 6, k), (x, t), progress=False, eval_train="yes")


# ---- the divergence rule: the loss held far above the untrained network's ------------------

from pathlib import Path

from mlp_helpers.training import DivergenceRule

RESULTS = Path(__file__).resolve().parents[1] / "results" / "mnist_experiments.json"


@pytest.fixture(scope="module")
def mnist_subset():
    """The first 2,000 MNIST training images (the notebooks' data, cut for speed)."""
    from mlp_helpers import load_mnist
    (x, t), _, _ = load_mnist(final=False, verbose=False)
    return x[:2000], t[:2000]


def test_divergence_rule_threshold_window_and_reasons():
    rule = DivergenceRule(initial_loss=2.5, n_classes=10)
    assert rule.threshold == pytest.approx(7.5)                          # 3 x L0
    assert DivergenceRule(0.05, 10).threshold == pytest.approx(0.05 + np.log(10))   # small L0: + ln K
    assert rule.check([]) is None and rule.check([2.0, 1.0]) is None
    assert rule.check([9.0, 9.0]) is None                  # not yet held for WINDOW = 3 entries
    assert rule.check([20.0, 1.0, 0.9, 0.8]) is None       # one spike, then learning: healthy
    assert rule.check([9.0, 20.0, 7.4]) is None            # one entry below the threshold
    reason = rule.check([1.0, 9.0, 20.0, 8.0])
    assert reason.startswith("the running loss (9, 20, 8) stayed above 7.5 (max(3 x the untrained "
                             "network's loss 2.5, that + ln 10))")
    assert rule.check([1.0, float("nan")]) == "the loss became nan"
    net = MLP(3, 4, 2)
    assert rule.check_epoch(7.0, net) is None
    assert "the epoch's mean loss (8) stayed above 7.5" in rule.check_epoch(8.0, net)
    net.params["W"][0, 0] = np.inf
    assert rule.check_epoch(1.0, net) == "the weights became NaN or inf"


def test_divergence_rule_measures_the_untrained_loss_on_the_first_examples(synth):
    x, t, *_ = synth
    net = MLP(2, 8, 2, seed=0)
    rule = DivergenceRule.for_network(net, x, t)
    assert rule.initial_loss == pytest.approx(net.mean_loss(x[:600], t[:600]))   # N < N_INITIAL: all
    assert rule.n_classes == 2


@pytest.mark.parametrize("batch_size", [1, 64])
def test_lr_100_on_an_mnist_subset_is_flagged_diverged(mnist_subset, batch_size):
    x, t = mnist_subset
    net = MLP(784, 300, 10, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = train(net, (x, t), lr=100, epochs=3, batch_size=batch_size, progress=False)
    # the loss stays finite (stable softmax) but far above the untrained network's 2.55
    assert np.all(np.isfinite(h.running_loss)) and max(h.running_loss) > 100
    assert h.diverged and not h.stopped
    assert h.examples_seen <= 2000 and h.epochs_done == 0               # stopped within one epoch
    assert [w.category for w in caught] == [RuntimeWarning]
    message = str(caught[0].message)
    assert re.search(r"^training diverged: the (running|epoch's mean) loss .* stayed above 7.66 .* "
                     r"with lr=100; the learning rate is too large .* try a smaller one \(e.g. lr=10\)",
                     message), message


def test_the_explorers_too_large_rate_on_synthetic_data_is_flagged(synth):
    (x, t), _, _ = load_synth(num_train=5000, num_val=10, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = train(MLP(2, 16, 2, seed=0), (x, t), lr=10, epochs=10, log_every=500, progress=False)
    assert h.diverged and h.examples_seen < 5000 and "lr=10;" in str(caught[0].message)


def test_notebook_rates_are_never_flagged_on_mnist(mnist_subset):
    """Notebook 04's rates (0.001-0.03) and 0.1, its settings (784-300-10, per-example SGD,
    log_every 1000), on 2,000 images for 3 epochs: no divergence, far below the threshold."""
    x, t = mnist_subset
    for lr in (0.001, 0.003, 0.01, 0.03, 0.1):
        net = MLP(784, 300, 10, seed=0)
        rule = DivergenceRule.for_network(net, x, t)
        with warnings.catch_warnings():
            warnings.simplefilter("error")                    # no divergence warning
            h = train(net, (x, t), lr=lr, epochs=3, progress=False)
        assert not h.diverged and h.epochs_done == 3
        assert max(h.running_loss) < 0.5 * rule.threshold, lr


@pytest.mark.parametrize("B, seed", [(256, 0), (256, 2)])
def test_notebook_03s_large_batch_runs_spike_but_are_not_flagged(B, seed):
    """Notebook 03 scales the rate with the batch (lr = 0.01 B, 10,000 images, log_every 500):
    batch 256 at lr 2.56 starts with one or two entries above the threshold, then learns."""
    from mlp_helpers import load_mnist
    (x, t), _, _ = load_mnist(final=False, verbose=False)
    x, t = x[:10_000], t[:10_000]
    net = MLP(784, 300, 10, seed=seed)
    rule = DivergenceRule.for_network(net, x, t)
    h = train(net, (x, t), lr=0.01 * B, epochs=2, batch_size=B, seed=seed, log_every=500, progress=False)
    assert not h.diverged and h.epochs_done == 2
    if (B, seed) == (256, 2):                                    # 4.5 x L0 measured, threshold 3 x L0
        assert max(h.running_loss[:2]) > rule.threshold          # the spike the window lets through
    assert max(h.running_loss[2:]) < 0.5 * rule.threshold


def test_the_rule_cannot_fire_on_notebook_04s_committed_runs():
    """Every full run of notebook 04 (results/mnist_experiments.json) stays far below the rule:
    its running loss stays under half the threshold (3 L0, L0 the untrained network's loss).
    The closest is lr 0.3, seed 1, the run that starts to diverge: up to 2.87 = 1.16 L0."""
    from mlp_helpers import load_mnist
    document = json.loads(RESULTS.read_text(encoding="utf-8"))
    (x, t), _, _ = load_mnist(final=False, verbose=False)       # final runs share the first rows
    assert len(document["runs"]) >= 12
    for item in document["runs"]:
        config, running = item["config"], item["history"]["running_loss"]
        net = MLP(784, config["n_hidden"], 10, seed=config["seed"], init=config.get("init", "glorot"))
        rule = DivergenceRule.for_network(net, x, t)
        assert all(rule.check(running[:i]) is None for i in range(1, len(running) + 1)), config
        assert all(rule.check_epoch(loss, net) is None for loss in item["history"]["train_loss"])
        assert max(running) < rule.threshold / 2 and rule.initial_loss <= rule.threshold / 3, config


def test_inputs_out_of_the_network_dtype_are_refused_not_blamed_on_the_lr(synth):
    x, t, *_ = synth
    x = x.astype(np.float64)
    x[7, 1] = 1e39                       # inf in float32: NaN gradients, then "lr too large"
    with pytest.raises(ValueError, match=r"data x must be finite in float32 .*the first, at row 7, "
                                         r"column 1, is 1e\+39, which would become inf"):
        train(MLP(2, 4, 2), (x, t), progress=False)
    train(MLP(2, 4, 2, dtype=np.float64), (x[:5], t[:5]), epochs=1, progress=False)   # fits float64


def test_a_schedule_that_raises_the_rate_too_far_is_flagged_in_its_epoch(synth):
    (x, t), _, _ = load_synth(num_train=3000, num_val=10, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = train(MLP(2, 16, 2, seed=0), (x, t), lr=0.1, epochs=3, log_every=500, progress=False,
                  lr_schedule=[1.0, 1.0, 100.0])
    assert h.diverged and h.epochs_done == 2 and h.epoch_lr == [0.1, 0.1, 10.0]
    assert "with lr=0.1 (scheduled to 10 in that epoch)" in str(caught[0].message)
