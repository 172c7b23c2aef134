"""How fast is mlp_helpers.train on MNIST? One run, side by side, printed as ratios.

    python benchmarks/bench_train.py              # one epoch of each (about a minute)
    python benchmarks/bench_train.py --full       # also 5 epochs at lr 0.03 (+ a few minutes)
    python benchmarks/bench_train.py --n-examples 5000   # a quick look on a subset

It measures, in this one process:

1. Per-example SGD (batch 1, the report's setting), 784-300-10, float32:
   ``train(...)`` for one epoch (wall time, set-up included) against the report-style
   numpy loop in ``report_style.py`` (column vectors, full softmax Jacobian, new
   arrays every step, float64), from the same initial weights in the same example
   order, timed A-B-A (ours before and after the baseline, averaged). Target: ours /
   baseline <= 0.15, validation accuracies within 0.2 points.
2. Minibatch SGD, batch 64, float32: ``train(..., batch_size=64)`` against PyTorch CPU
   (nn.Linear 784-300, sigmoid, nn.Linear 300-10, CrossEntropyLoss, optim.SGD, the
   same initial weights, lr and example order), interleaved, best of ``--repeats``.
   Target: ours / torch <= 0.70. PyTorch is optional (``pip install torch==2.13.0``).
3. The same minibatch epoch against the single-thread BLAS floor: the epoch's FLOPs
   (forward x W and h V, backward h^T dl/do, dl/do V^T and x^T dl/dz, 2 m n k each)
   divided by the float32 matmul throughput measured on a 2048^3 product with one
   BLAS thread. Target: ours / floor <= 1.6.

Timings are noisy on a shared machine; the ratios compare runs made within seconds
of each other. Nothing in the environment is changed; the BLAS threads in use are
printed (per-example training limits itself to one BLAS thread via threadpoolctl).
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report_style  # noqa: E402  (the baseline, beside this file)

from mlp_helpers import MLP, load_mnist, train  # noqa: E402

H = 300
TARGETS = {"per_example": 0.15, "accuracy_gap": 0.002, "torch": 0.70, "floor": 1.6}


def blas_info():
    """One line per BLAS library numpy uses (via threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed: cannot report or limit BLAS threads"]
    return [f"{d.get('internal_api')} {d.get('version')} kernel={d.get('architecture')} "
            f"threads={d.get('num_threads')}" for d in threadpool_info() if d.get("user_api") == "blas"]


def blas_limit(n):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


# ---- 1. per-example SGD ---------------------------------------------------------------------

def per_example(x, y, xv, yv, lr, seed=0):
    """(ours seconds, baseline seconds, ours val acc, baseline val acc) for one epoch."""
    net0 = MLP(784, H, 10, seed=seed, dtype=np.float32)
    order = np.random.default_rng(seed).permutation(len(x))   # train()'s first-epoch order

    def ours():
        net = net0.copy()
        start = time.perf_counter()
        train(net, (x, y), lr=lr, epochs=1, batch_size=1, seed=seed, progress=False)
        return time.perf_counter() - start, net.accuracy(xv, yv)

    t_ours1, acc_ours = ours()
    params = report_style.params_from_net(net0)
    start = time.perf_counter()
    params, _ = report_style.train_epoch(x, y, params, order, alpha=lr)
    t_base = time.perf_counter() - start
    acc_base = report_style.accuracy(xv, yv, params)
    t_ours2, acc_ours2 = ours()
    assert acc_ours2 == acc_ours, "train() is not deterministic"
    return (t_ours1 + t_ours2) / 2, t_base, acc_ours, acc_base


# ---- 2. minibatch against PyTorch ------------------------------------------------------------

def ours_minibatch(net0, x, y, lr, batch, threads=None):
    net = net0.copy()
    with blas_limit(threads) if threads else _nothing():
        start = time.perf_counter()
        train(net, (x, y), lr=lr, epochs=1, batch_size=batch, seed=0, progress=False)
        return time.perf_counter() - start


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def torch_minibatch(torch, net0, x, y, lr, batch, threads):
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
    X, Y = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))   # writable copies for torch
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(x)))
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        idx = order[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(X[idx]), Y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


# ---- 3. the BLAS floor -----------------------------------------------------------------------

def sgemm_gflops(n=2048, repeats=5):
    """Single-thread float32 matmul throughput, GFLOP/s (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    out = np.empty_like(a)
    with blas_limit(1):
        np.matmul(a, b, out=out)
        best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def epoch_flops(n, d=784, h=H, k=10):
    """FLOPs of one minibatch epoch: forward x W, h V; backward h^T g, g V^T, x^T dz."""
    return 2 * n * (d * h + h * k) + 2 * n * (h * k + k * h + d * h)


# ---- the run ---------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-examples", type=int, default=55_000, help="training examples used (default all 55,000)")
    ap.add_argument("--epochs-limit", type=int, default=0,
                    help="epochs of the per-example lr 0.03 accuracy run (0 = skip; --full: 5)")
    ap.add_argument("--full", action="store_true", help="all examples and the 5-epoch accuracy run")
    ap.add_argument("--repeats", type=int, default=3, help="minibatch timings: best of this many")
    ap.add_argument("--skip-baseline", action="store_true", help="skip the slow report-style baseline")
    args = ap.parse_args(argv)
    if args.full:
        args.n_examples, args.epochs_limit = 55_000, args.epochs_limit or 5

    (x, y), (xv, yv), _ = load_mnist(final=False, verbose=False)
    x, y = x[:args.n_examples], y[:args.n_examples]
    n = len(x)
    print(f"MNIST train {n} x 784, validation {len(xv)}; 784-{H}-10, float32")
    print("numpy", np.__version__, "| BLAS:", "; ".join(blas_info()))
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}
    print("environment:", env or "no OPENBLAS_*/OMP_*/MKL_* variables set")
    rows, verdicts = [], []

    # 1. per-example
    lr = 0.01
    if not args.skip_baseline:
        t_ours, t_base, acc_ours, acc_base = per_example(x, y, xv, yv, lr)
        ratio = t_ours / t_base
        gap = abs(acc_ours - acc_base)
        rows += [("per-example epoch, ours (train, batch 1)", f"{t_ours:8.2f} s", f"{t_ours / n * 1e6:6.1f} us/example"),
                 ("per-example epoch, report-style baseline", f"{t_base:8.2f} s", f"{t_base / n * 1e6:6.1f} us/example"),
                 ("  ratio ours / baseline", f"{ratio:8.3f}", f"target <= {TARGETS['per_example']}"),
                 ("  val accuracy after 1 epoch (lr 0.01)", f"{acc_ours:.4f}", f"baseline {acc_base:.4f}, gap {gap * 100:.2f} pts")]
        verdicts += [("per-example <= 0.15 x baseline", ratio <= TARGETS["per_example"]),
                     ("same accuracy within 0.2 points", gap <= TARGETS["accuracy_gap"])]

    # 2 and 3. minibatch
    batch, lr_mb = 64, 0.1
    net0 = MLP(784, H, 10, seed=0, dtype=np.float32)
    try:
        import torch
    except ImportError:
        torch = None
    times = {"ours": [], "ours_1thread": [], "torch": [], "torch_1thread": []}
    default_threads = torch.get_num_threads() if torch else None
    for _ in range(args.repeats):
        times["ours"].append(ours_minibatch(net0, x, y, lr_mb, batch))
        times["ours_1thread"].append(ours_minibatch(net0, x, y, lr_mb, batch, threads=1))
        if torch is not None:
            times["torch"].append(torch_minibatch(torch, net0, x, y, lr_mb, batch, default_threads))
            times["torch_1thread"].append(torch_minibatch(torch, net0, x, y, lr_mb, batch, 1))
    best = {k: min(v) for k, v in times.items() if v}
    rows.append(("minibatch 64 epoch, ours (default BLAS threads)", f"{best['ours']:8.3f} s",
                 f"best of {args.repeats}"))
    rows.append(("minibatch 64 epoch, ours (1 BLAS thread)", f"{best['ours_1thread']:8.3f} s", ""))
    if torch is not None:
        rows.append((f"minibatch 64 epoch, torch {torch.__version__} ({default_threads} threads)",
                     f"{best['torch']:8.3f} s", ""))
        rows.append(("minibatch 64 epoch, torch (1 thread)", f"{best['torch_1thread']:8.3f} s", ""))
        ratio = best["ours"] / best["torch"]
        rows.append(("  ratio ours / torch (default threads each)", f"{ratio:8.3f}", f"target <= {TARGETS['torch']}"))
        ratio1 = best["ours_1thread"] / best["torch_1thread"]
        rows.append(("  ratio ours / torch (1 thread each)", f"{ratio1:8.3f}", f"target <= {TARGETS['torch']}"))
        verdicts.append((f"minibatch <= 0.70 x torch ({default_threads} threads each)", ratio <= TARGETS["torch"]))
        verdicts.append(("minibatch <= 0.70 x torch (1 thread each)", ratio1 <= TARGETS["torch"]))
    else:
        rows.append(("torch", "skipped", "not installed: pip install torch==2.13.0 (benchmark only)"))
    gflops = sgemm_gflops()
    floor = epoch_flops(n) / (gflops * 1e9)
    ratio = best["ours_1thread"] / floor
    rows.append(("BLAS floor (1 thread)", f"{floor:8.3f} s",
                 f"{epoch_flops(n) / 1e9:.1f} GFLOP at {gflops:.0f} GFLOP/s"))
    rows.append(("  ratio ours (1 thread) / floor", f"{ratio:8.3f}", f"target <= {TARGETS['floor']}"))
    rows.append(("  ratio ours (default threads) / floor", f"{best['ours'] / floor:8.3f}", ""))
    verdicts.append(("minibatch (1 thread) <= 1.6 x single-thread BLAS floor", ratio <= TARGETS["floor"]))

    # the report's setting, all the way: per-example SGD, lr 0.03, validation after each epoch
    if args.epochs_limit:
        net = MLP(784, H, 10, seed=0, dtype=np.float32)
        start = time.perf_counter()
        hist = train(net, (x, y), val=(xv, yv), lr=0.03, epochs=args.epochs_limit, progress=False)
        took = time.perf_counter() - start
        accs = " ".join(f"{a:.4f}" for a in hist.val_acc)
        rows.append((f"per-example lr 0.03, {args.epochs_limit} epochs: val acc", accs,
                     f"{took:.1f} s, {took / (args.epochs_limit * n) * 1e6:.1f} us/example incl. validation"))

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
