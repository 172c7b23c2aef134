"""How fast is mlp_helpers.train on MNIST? One run, side by side, printed as ratios.

    python benchmarks/bench_train.py              # everything once (a minute or two)
    python benchmarks/bench_train.py --full       # also 5 epochs at lr 0.03 (+ about 10 s)
    python benchmarks/bench_train.py --n-examples 5000 --skip-baseline   # a quick look

It measures, in this one process (and two short child processes for the compile cost):

1. Compile cost of the numba kernels: the first ``train()`` call in a fresh process
   with an empty cache (cold: numba compiles) and with the cache on disk (warm), each
   against a second call in the same process; and the time ``import numba`` takes.
   Target: warm first call + numba import <= 0.5 s extra.
2. Per-example SGD (batch 1, the report's setting), 784-300-10, float32: one epoch of
   ``train(...)`` (wall time, set-up included) against the report-style numpy loop in
   ``report_style.py`` (column vectors, full softmax Jacobian, new arrays every step,
   float64), the same initial weights and example order, timed A-B-A (ours before and
   after the baseline, averaged). Targets: ours / baseline <= 0.04 (aim 0.02);
   validation accuracies within 0.1 points. Also printed: the time per example, and an
   estimate of the hardware limit: the multiply-adds of one step over the rate at
   which this machine runs the kernel's two W loops (z += x_i W_i, W_i -= s dl/dz) on
   one thread with nothing else in the loop.
3. Minibatch SGD, batch 64, float32, one BLAS thread: ``train(..., batch_size=64)``
   against (a) the floor: the five matrix products of a dense epoch at its exact
   shapes (x W, h V; h^T dl/do, dl/do V^T, x^T dl/dz; 859 batches of 64 and one of 24
   for 55,000 images) plus the in-place update w -= lr g, on preallocated arrays;
   (b) PyTorch CPU (nn.Linear 784-300, sigmoid, nn.Linear 300-10, CrossEntropyLoss,
   optim.SGD, the same weights, lr and example order). Interleaved, best of
   ``--repeats``. Targets: ours / floor <= 1.0; ours / torch <= 0.8. With
   ``--default-threads`` also both with their default thread counts, for information
   (on a busy machine, threads waiting on each other make these slow). PyTorch is optional
   (``pip install torch==2.13.0``; not a requirement of the kit).

Timings are noisy on a shared machine; the ratios compare runs made within seconds
of each other. Nothing in the environment is changed; the BLAS threads in use are
printed (per-example training limits itself to one BLAS thread via threadpoolctl).
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import report_style  # noqa: E402  (the baseline, beside this file)

H = 300
TARGETS = {"warm_first_call": 0.5, "per_example": 0.04, "per_example_aim": 0.02, "accuracy_gap": 0.001,
           "floor": 1.0, "torch": 0.8}


def blas_info():
    """One line per BLAS library numpy uses (via threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed: cannot report or limit BLAS threads"]
    return [f"{d.get('internal_api')} {d.get('version')} kernel={d.get('architecture')} "
            f"threads={d.get('num_threads')}" for d in threadpool_info() if d.get("user_api") == "blas"]


def blas_limit(n):
    """Limit BLAS to n threads inside the block (n None: no limit)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return contextlib.nullcontext() if n is None else threadpool_limits(limits=n, user_api="blas")


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


# ---- 1. compile cost, in fresh processes -------------------------------------------------------

def first_call_probe(batch):
    """Run in a child process: seconds for ``import numba``, and for the first and the
    second ``train()`` call at this batch size on 2,000 MNIST images (one BLAS thread,
    so that BLAS threads waiting on a busy machine do not count); printed as JSON."""
    start = time.perf_counter()
    import numba  # noqa: F401
    import_numba = time.perf_counter() - start
    from mlp_helpers import MLP, load_mnist, train
    (x, t), _, _ = load_mnist(final=False, verbose=False)
    x, t = x[:2000], t[:2000]
    with blas_limit(1):
        calls = [timed(lambda: train(MLP(784, H, 10, seed=0), (x, t), lr=0.01, epochs=1,
                                     batch_size=batch, progress=False)) for _ in range(2)]
    print(json.dumps({"import_numba": import_numba, "first": calls[0], "second": calls[1]}))


def run_probe(batch, cache_dir=None):
    """first_call_probe(batch) in a fresh Python; cache_dir: a NUMBA_CACHE_DIR (None: the default)."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    done = subprocess.run([sys.executable, __file__, "--first-call-probe", str(batch)],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compile_cost(batch):
    """(cold, warm) probe results at this batch size: with an empty cache directory, then
    with the default cache (filled first)."""
    with tempfile.TemporaryDirectory() as empty:
        cold = run_probe(batch, empty)
    run_probe(batch)                               # make sure the default cache is filled
    return cold, run_probe(batch)


# ---- 2. per-example SGD --------------------------------------------------------------------

def per_example(x, t, xv, tv, lr, seed=0):
    """(ours seconds, baseline seconds, ours val acc, baseline val acc) for one epoch."""
    from mlp_helpers import MLP, train
    net0 = MLP(784, H, 10, seed=seed, dtype=np.float32)
    order = np.random.default_rng(seed).permutation(len(x))   # train()'s first-epoch order

    def ours():
        net = net0.copy()
        seconds = timed(lambda: train(net, (x, t), lr=lr, epochs=1, batch_size=1, seed=seed, progress=False))
        return seconds, net.accuracy(xv, tv)

    ours()                                         # load the compiled kernel (cost reported in 1.)
    t_ours1, acc_ours = ours()
    params = report_style.params_from_net(net0)
    start = time.perf_counter()
    params, _ = report_style.train_epoch(x, t, params, order, alpha=lr)
    t_base = time.perf_counter() - start
    acc_base = report_style.accuracy(xv, tv, params)
    t_ours2, acc_ours2 = ours()
    assert acc_ours2 == acc_ours, "train() is not deterministic"
    return (t_ours1 + t_ours2) / 2, t_base, acc_ours, acc_base


def multiply_adds_per_example(nnz, d_hidden=H, k=10):
    """Multiply-adds of one per-example step with nnz nonzero pixels.

    forward z (nnz H) and o (H K); backward dl/dh (H K), the updates of V (H K) and of
    the nnz touched rows of W (nnz H); b, c and the sigmoid's h (1 - h) are small.
    """
    return 2 * nnz * d_hidden + 3 * d_hidden * k


def w_stream_rate(x, repeats=3):
    """Multiply-adds per second of the kernel's two loops over W's rows, alone.

    For each of 20,000 MNIST images: z += x_i W_i over its nonzero pixels i, then
    W_i -= s z for the same rows (s tiny, so W stays put): the reads and writes of W
    every step makes, with no sigmoid, softmax or V. One thread, best of ``repeats``.
    """
    import numba
    from mlp_helpers._fast import sparse_rows

    @numba.njit(nogil=True, fastmath={"reassoc", "contract"})
    def w_loops(order, indptr, pixels, values, W, z, s):
        for n in range(len(order)):
            i = order[n]
            z[:] = 0
            for p in range(indptr[i], indptr[i + 1]):
                row, x_i = pixels[p], values[p]
                for j in range(W.shape[1]):
                    z[j] += x_i * W[row, j]
            for p in range(indptr[i], indptr[i + 1]):
                row, step = pixels[p], s * values[p]
                for j in range(W.shape[1]):
                    W[row, j] -= step * z[j]

    x = x[:20_000]
    indptr, pixels, values = sparse_rows(x)
    W = np.random.default_rng(0).uniform(-0.07, 0.07, (784, H)).astype(np.float32)
    z = np.zeros(H, np.float32)
    order = np.random.default_rng(1).permutation(len(x))
    w_loops(order[:10], indptr, pixels, values, W, z, np.float32(1e-12))     # compile
    best = min(timed(lambda: w_loops(order, indptr, pixels, values, W, z, np.float32(1e-12)))
               for _ in range(repeats))
    return 2 * int(indptr[-1]) * H / best


# ---- 3. minibatch: the floor and PyTorch -------------------------------------------------------

def batch_sizes(n, batch):
    return [min(batch, n - start) for start in range(0, n, batch)]


def floor_epoch(n, batch, lr=0.1, d=784, k=10):
    """Seconds for the five matrix products of a dense minibatch epoch at its exact shapes,
    plus the updates w -= lr g in place, on preallocated float32 arrays (the current BLAS
    thread setting)."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    W, V = rng.random((d, H), dtype=f32) * 0.01, rng.random((H, k), dtype=f32) * 0.01
    b, c = np.zeros(H, f32), np.zeros(k, f32)
    gW, gV, gb, gc = np.empty_like(W), np.empty_like(V), np.empty_like(b), np.empty_like(c)
    arrays = {}
    for m in set(batch_sizes(n, batch)):
        arrays[m] = dict(x=rng.random((m, d), dtype=f32), z=np.empty((m, H), f32),
                         h=rng.random((m, H), dtype=f32), o=np.empty((m, k), f32),
                         d_o=rng.random((m, k), dtype=f32) * 1e-3, d_h=np.empty((m, H), f32))
    lr = f32(lr)
    start = time.perf_counter()
    for m in batch_sizes(n, batch):
        a = arrays[m]
        np.matmul(a["x"], W, out=a["z"])                 # forward: z = x W
        np.matmul(a["h"], V, out=a["o"])                 #          o = h V
        np.matmul(a["h"].T, a["d_o"], out=gV)            # backward: dl/dV = h^T dl/do
        np.matmul(a["d_o"], V.T, out=a["d_h"])           #           dl/dh = dl/do V^T
        np.matmul(a["x"].T, a["d_h"], out=gW)            #           dl/dW = x^T dl/dz
        for w, g in ((W, gW), (b, gb), (V, gV), (c, gc)):
            np.multiply(g, lr, out=g)                    # update: w -= lr g
            np.subtract(w, g, out=w)
    return time.perf_counter() - start


def ours_minibatch(net0, x, t, lr, batch):
    from mlp_helpers import train
    net = net0.copy()
    return timed(lambda: train(net, (x, t), lr=lr, epochs=1, batch_size=batch, seed=0, progress=False))


def torch_minibatch(torch, net0, x, t, lr, batch, threads):
    """One epoch of the same model in PyTorch; returns seconds."""
    torch.set_num_threads(threads)
    model = torch.nn.Sequential(torch.nn.Linear(784, H), torch.nn.Sigmoid(), torch.nn.Linear(H, 10))
    with torch.no_grad():                           # the same initial weights as ours
        model[0].weight.copy_(torch.from_numpy(net0.params["W"].T.copy()))
        model[0].bias.copy_(torch.from_numpy(net0.params["b"]))
        model[2].weight.copy_(torch.from_numpy(net0.params["V"].T.copy()))
        model[2].bias.copy_(torch.from_numpy(net0.params["c"]))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    X, Y = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(t))   # writable copies for torch
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(x)))
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(X[idx]), Y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


# ---- the run ---------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-examples", type=int, default=55_000, help="training examples used (default all 55,000)")
    ap.add_argument("--epochs-limit", type=int, default=0,
                    help="epochs of the per-example lr 0.03 accuracy run (0 = skip; --full: 5)")
    ap.add_argument("--full", action="store_true", help="all examples and the 5-epoch accuracy run")
    ap.add_argument("--repeats", type=int, default=5, help="minibatch timings: best of this many")
    ap.add_argument("--skip-baseline", action="store_true", help="skip the slow report-style baseline")
    ap.add_argument("--skip-compile", action="store_true", help="skip the compile-cost child processes")
    ap.add_argument("--default-threads", action="store_true",
                    help="also time minibatch ours and torch with their default thread counts (for information; "
                         "on a busy machine threads waiting on each other can take minutes)")
    ap.add_argument("--first-call-probe", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.first_call_probe:
        first_call_probe(args.first_call_probe)
        return 0
    if args.full:
        args.n_examples, args.epochs_limit = 55_000, args.epochs_limit or 5

    from mlp_helpers import MLP, load_mnist, train
    from mlp_helpers import _fast
    (x, t), (xv, tv), _ = load_mnist(final=False, verbose=False)
    x, t = x[:args.n_examples], t[:args.n_examples]
    n = len(x)
    try:
        import numba
        numba_version = numba.__version__
    except ImportError:
        numba_version = "not installed (train() uses the reference loop)"
    print(f"MNIST train {n} x 784, validation {len(xv)}; 784-{H}-10, float32")
    print("numpy", np.__version__, "| numba", numba_version, "| BLAS:", "; ".join(blas_info()))
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "NUMBA_"))}
    print("environment:", env or "no OPENBLAS_*/OMP_*/MKL_*/NUMBA_* variables set")
    print("load average:", " ".join(f"{v:.2f}" for v in os.getloadavg()), f"on {os.cpu_count()} CPUs")
    rows, verdicts = [], []

    def row(name, value="", note=""):
        rows.append((name, value, note))

    def verdict(name, ok):
        verdicts.append((name, bool(ok)))

    # 1. compile cost
    if not args.skip_compile and _fast.HAVE_NUMBA:
        for batch in (1, 64):
            cold, warm = compile_cost(batch)
            for name, probe in (("cold (empty cache)", cold), ("warm (cache on disk)", warm)):
                row(f"first train() call, batch {batch}, {name}", f"{probe['first'] - probe['second']:8.3f} s",
                    f"extra over the 2nd call ({probe['first']:.3f} s vs {probe['second']:.3f} s, 2,000 images)")
            extra = warm["first"] - warm["second"] + warm["import_numba"]
            row(f"  warm, batch {batch}: first-call extra + import numba", f"{extra:8.3f} s",
                f"import numba {warm['import_numba']:.3f} s; target <= {TARGETS['warm_first_call']}")
            verdict(f"warm cache, batch {batch}: first call + import numba <= {TARGETS['warm_first_call']} s extra",
                    extra <= TARGETS["warm_first_call"])

    # 2. per-example
    lr = 0.01
    if not args.skip_baseline:
        t_ours, t_base, acc_ours, acc_base = per_example(x, t, xv, tv, lr)
        ratio = t_ours / t_base
        gap = abs(acc_ours - acc_base)
        row("per-example epoch, ours (train, batch 1)", f"{t_ours:8.3f} s", f"{t_ours / n * 1e6:6.1f} us/example")
        row("per-example epoch, report-style baseline", f"{t_base:8.2f} s", f"{t_base / n * 1e6:6.1f} us/example")
        row("  ratio ours / baseline", f"{ratio:8.4f}",
            f"target <= {TARGETS['per_example']}, aim {TARGETS['per_example_aim']}")
        row("  val accuracy after 1 epoch (lr 0.01)", f"{acc_ours:.4f}", f"baseline {acc_base:.4f}, gap {gap * 100:.2f} pts")
        verdict(f"per-example <= {TARGETS['per_example']} x baseline", ratio <= TARGETS["per_example"])
        verdict(f"per-example <= {TARGETS['per_example_aim']} x baseline (the aim)", ratio <= TARGETS["per_example_aim"])
        verdict("same validation accuracy within 0.1 points", gap <= TARGETS["accuracy_gap"] + 1e-12)
    if _fast.HAVE_NUMBA:
        nnz = float(np.count_nonzero(x)) / n
        madds = multiply_adds_per_example(nnz)
        rate = w_stream_rate(x)
        limit = madds / rate * n
        row("hardware limit, per-example epoch (estimate)", f"{limit:8.3f} s",
            f"{madds / 1e3:.0f}k multiply-adds/example ({nnz:.0f} nonzero pixels) "
            f"at {rate / 1e9:.1f} G/s, the W loops alone")
        if not args.skip_baseline:
            row("  ratio ours / limit", f"{t_ours / limit:8.2f}", "how far from the limit (set-up included)")

    # 3. minibatch
    batch, lr_mb = 64, 0.1
    net0 = MLP(784, H, 10, seed=0, dtype=np.float32)
    try:
        import torch
    except ImportError:
        torch = None
    times = {"ours": [], "floor": [], "torch": [], "ours_default": [], "torch_default": []}
    default_threads = torch.get_num_threads() if torch else None
    ours_minibatch(net0, x[:2000], t[:2000], lr_mb, batch)        # load the compiled helpers
    for _ in range(args.repeats):
        with blas_limit(1):
            times["ours"].append(ours_minibatch(net0, x, t, lr_mb, batch))
            times["floor"].append(floor_epoch(n, batch))
        if torch is not None:
            times["torch"].append(torch_minibatch(torch, net0, x, t, lr_mb, batch, 1))
    for _ in range(max(1, args.repeats // 2) if args.default_threads else 0):   # for information
        times["ours_default"].append(ours_minibatch(net0, x, t, lr_mb, batch))
        if torch is not None:
            times["torch_default"].append(torch_minibatch(torch, net0, x, t, lr_mb, batch, default_threads))
    best = {k: min(v) for k, v in times.items() if v}
    row("minibatch 64 epoch, ours (1 BLAS thread)", f"{best['ours']:8.3f} s",
        f"best of {args.repeats}, train() wall time, set-up included")
    row("minibatch 64 epoch, floor (1 BLAS thread)", f"{best['floor']:8.3f} s",
        f"5 dense GEMMs at the epoch's shapes + update ({len(batch_sizes(n, batch))} batches)")
    ratio = best["ours"] / best["floor"]
    row("  ratio ours / floor", f"{ratio:8.3f}", f"target <= {TARGETS['floor']}")
    verdict(f"minibatch (1 thread) <= {TARGETS['floor']} x the dense floor (1 thread)", ratio <= TARGETS["floor"])
    if torch is not None:
        row(f"minibatch 64 epoch, torch {torch.__version__} (1 thread)", f"{best['torch']:8.3f} s", "")
        ratio = best["ours"] / best["torch"]
        row("  ratio ours / torch (1 thread each)", f"{ratio:8.3f}", f"target <= {TARGETS['torch']}")
        verdict(f"minibatch <= {TARGETS['torch']} x torch (1 thread each)", ratio <= TARGETS["torch"])
        if args.default_threads:
            row(f"minibatch 64 epoch, default threads: ours / torch ({default_threads})",
                f"{best['ours_default'] / best['torch_default']:8.3f}",
                f"{best['ours_default']:.3f} s vs {best['torch_default']:.3f} s, for information")
    else:
        row("torch", "skipped", "not installed: pip install torch==2.13.0 (benchmark only)")
        if args.default_threads:
            row("minibatch 64 epoch, ours (default threads)", f"{best['ours_default']:8.3f} s", "for information")

    # the report's setting, all the way: per-example SGD, lr 0.03, validation after each epoch
    if args.epochs_limit:
        net = MLP(784, H, 10, seed=0, dtype=np.float32)
        start = time.perf_counter()
        hist = train(net, (x, t), val=(xv, tv), lr=0.03, epochs=args.epochs_limit, progress=False)
        took = time.perf_counter() - start
        accs = " ".join(f"{a:.4f}" for a in hist.val_acc)
        row(f"per-example lr 0.03, {args.epochs_limit} epochs: val acc", accs,
            f"{took:.1f} s, {took / (args.epochs_limit * n) * 1e6:.1f} us/example incl. validation")

    width = max(len(r[0]) for r in rows) + 2
    print()
    for name, value, note in rows:
        print(f"{name:<{width}}{value:>10}   {note}")
    print()
    for name, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
