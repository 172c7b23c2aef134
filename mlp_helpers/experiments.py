"""The report's MNIST experiments as data: configurations, runs, and the runs on disk.

Notebook 04 asks four questions of one network (784-300-10, sigmoid hidden layer,
softmax output, cross-entropy, per-example SGD, 5 epochs). Each question is a set of
training runs, and a run is fully described by a few numbers::

    RunConfig(lr=0.01, seed=0)               # one run: 5 epochs, batch_size=1, 300 hidden
    RunConfig(lr=0.03, seed=0, final=True)   # trained on all 60,000, evaluated on the test set

Because a configuration is a frozen (hashable) dataclass, runs that the experiments
share are trained once: experiment 1's run (lr 0.01, seed 0) is also one of
experiment 2's three seeds and one of experiment 3's twelve runs::

    runs = run_many(exp1 + exp2 + exp3)      # 16 requested, 12 unique, trained in 2 processes
    runs[RunConfig(lr=0.01, seed=0)]         # -> History

``select`` picks one experiment's runs, and ``save_results`` / ``load_results`` keep
them on disk (JSON). The numbers the report reads off its figures become functions of
the runs in :mod:`mlp_helpers.tables` (``summarize``, ``choose_lr``,
``comparison_table``, ...); they are importable from here too, so that notebook 04
reaches everything as ``ex.<name>``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os  # noqa: F401 (test_save_results_is_atomic patches os.replace as experiments.os.replace)
import time
from pathlib import Path

import numpy as np

from ._checks import check_factors, check_flag, check_positive_float, check_positive_int, check_seed
from ._io import atomic_write
from .blas import BLAS_THREAD_VARS  # noqa: F401 (re-exported)
from .tables import (REPORT, choose_lr, choose_setting, comparison_table, epoch_mean_std,  # noqa: F401
                     epoch_table, final_metrics, format_table, histories_by_lr, report_numbers,
                     sampling_error, settings, summarize, summary_table)  # (re-exported: ex.<name>)
from .training import sgd_as_printed  # noqa: F401 (re-exported: notebook 04 calls ex.sgd_as_printed)
from .workers import EpochProgress, train_in_processes

__all__ = [
    "RunConfig",
    "Runs",
    "grid",
    "run",
    "train_run",
    "run_many",
    "settings",
    "select",
    "histories_by_lr",
    "epoch_mean_std",
    "final_metrics",
    "summarize",
    "choose_lr",
    "choose_setting",
    "sampling_error",
    "format_table",
    "epoch_table",
    "summary_table",
    "report_numbers",
    "comparison_table",
    "save_results",
    "load_results",
    "sgd_as_printed",
]


# --------------------------------------------------------------------------- configs

@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that decides one training run (and nothing that does not).

    Args:
        lr: float > 0, the SGD step size alpha (the rate of the first epoch when
            ``lr_schedule`` is given).
        seed: int >= 0, seeds both the weight initialisation (``MLP(seed=)``) and the
            per-epoch shuffling (``train(seed=)``), so a run is reproducible.
        epochs: int >= 1 passes over the training set (the report: 5).
        batch_size: int >= 1 examples per update (the report's SGD: 1).
        n_hidden: int >= 1 sigmoid units in the hidden layer (the report: 300).
        final: bool. False: train on 55,000 images, validate on 5,000 held out.
            True: train on all 60,000, evaluate on the 10,000 test images (only used
            to pick the MNIST split when ``run`` loads the data itself).
        init: how the weights start, ``MLP(init=)``: "glorot" (default), "normal"
            (N(0, 1), saturates the sigmoid) or "zeros".
        lr_schedule: None (the same rate every epoch) or a tuple of ``epochs`` factors
            > 0: epoch e trains with ``lr * lr_schedule[e]`` (``train(lr_schedule=)``).
            A list is accepted and stored as a tuple, so the config stays hashable.
        n_train: None (all training images of the split) or an int >= 1: train on the
            first ``n_train`` of them only (a small subset, e.g. to show overfitting).
            The evaluation set is unchanged.
        eval_train: bool, also measure loss and accuracy on the (whole, or subset)
            training set with the weights at the end of every epoch
            (``History.train_loss_after``, ``train_acc_after``); costs one forward pass
            over the training images an epoch.

    Two configs with equal fields are equal and hash alike, which is what lets
    ``run_many`` train each distinct run once. Invalid values raise ValueError.
    """

    lr: float
    seed: int = 0
    epochs: int = 5
    batch_size: int = 1
    n_hidden: int = 300
    final: bool = False
    init: str = "glorot"
    lr_schedule: tuple = None
    n_train: int = None
    eval_train: bool = False

    def __post_init__(self):
        # Normalise types too: RunConfig(lr=1) and RunConfig(lr=1.0) are the same run.
        set_ = object.__setattr__  # the dataclass is frozen; this is its documented escape
        set_(self, "lr", check_positive_float(self.lr, "lr"))
        set_(self, "seed", check_seed(self.seed))
        set_(self, "epochs", check_positive_int(self.epochs, "epochs"))
        set_(self, "batch_size", check_positive_int(self.batch_size, "batch_size"))
        set_(self, "n_hidden", check_positive_int(self.n_hidden, "n_hidden"))
        for name in ("final", "eval_train"):
            set_(self, name, check_flag(getattr(self, name), name))
        from .network import INITS  # (lazy: keeps importing this module light)

        if not isinstance(self.init, str) or self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {self.init!r}")
        if self.lr_schedule is not None:
            set_(self, "lr_schedule", _check_factors(self.lr_schedule, self.epochs))
        if self.n_train is not None:
            set_(self, "n_train", check_positive_int(self.n_train, "n_train"))

    def to_dict(self):
        """The fields as a JSON-safe dict (inverse: ``RunConfig(**d)``)."""
        return dataclasses.asdict(self)

    @property
    def label(self):
        """A short description of what sets this run apart, e.g. 'lr 0.1, x(1, 0.5, 0.25)'.

        Names the learning rate, then any field that is not the report's setting (the
        seed and ``final`` are left out: they pick a run and a split, not a setting).
        """
        parts = [f"lr {self.lr:g}"]
        if self.lr_schedule is not None:
            parts.append("factors " + ", ".join(f"{f:g}" for f in self.lr_schedule))
        if self.init != "glorot":
            parts.append(f"init {self.init}")
        if self.n_train is not None:
            parts.append(f"{self.n_train:,} images")
        for name, default in (("epochs", 5), ("batch_size", 1), ("n_hidden", 300)):
            if getattr(self, name) != default:
                parts.append(f"{name} {getattr(self, name)}")
        return ", ".join(parts)

    def replace(self, **changes):
        """A copy with some fields changed, e.g. ``config.replace(seed=1, final=True)`` (validated)."""
        return dataclasses.replace(self, **changes)

    def rate(self, epoch):
        """The learning rate of epoch ``epoch`` (0-based): lr times its schedule factor."""
        return self.lr * (1.0 if self.lr_schedule is None else self.lr_schedule[epoch])


def _check_factors(factors, epochs):
    """A sequence of ``epochs`` finite factors > 0 -> a tuple of floats, else ValueError."""
    if isinstance(factors, (str, bytes)) or not hasattr(factors, "__len__"):
        raise ValueError(f"lr_schedule must be None or a sequence of {epochs} factors > 0 "
                         f"(one per epoch), got {factors!r}")
    return check_factors(factors, epochs, "lr_schedule")


def grid(lrs, seeds, **fixed):
    """All combinations of learning rates and seeds, rate-major.

    Args:
        lrs: iterable of floats > 0; seeds: iterable of ints >= 0;
        fixed: other RunConfig fields shared by every run (epochs=, final=, ...).
    Returns:
        list[RunConfig] of length len(lrs) * len(seeds).
    """
    return [RunConfig(lr=lr, seed=seed, **fixed) for lr in lrs for seed in seeds]


# --------------------------------------------------------------------------- one run

def _check_data(data):
    """((x_train, y_train), (x_val, y_val), n_classes) -> the same, checked loosely."""
    try:
        (x_train, y_train), (x_val, y_val), n_classes = data
    except (TypeError, ValueError):
        raise ValueError(
            "data must be ((x_train, y_train), (x_val, y_val), n_classes) as returned by "
            f"load_mnist / load_synth, or None to load MNIST; got {type(data).__name__}"
        ) from None
    check_positive_int(n_classes, "n_classes (third item of data)", minimum=2)
    return (x_train, y_train), (x_val, y_val), int(n_classes)


def _load_data(config, data):
    """The data a run trains on: ``data`` if given, else MNIST's split for ``config.final``."""
    if data is None:
        from .data import load_mnist  # memoised per process: a warm cache reads in well under 1 s

        data = load_mnist(final=config.final)
    return _check_data(data)


def train_run(config, data=None, callback=None):
    """Train one network as ``config`` says and return it with its History.

    Args:
        config: RunConfig.
        data: ((x_train (N, D) float, y_train (N,) int64), (x_val (M, D), y_val (M,)),
            n_classes), or None for ``load_mnist(final=config.final)``. With
            ``final=True`` the "val" pair is the test set, so the History's
            val_loss / val_acc are test loss / accuracy after each epoch.
        callback: None or ``callback(event, history)``, passed on to ``train``.
    Returns:
        (net, history): the trained MLP (n_in=D, config.n_hidden, n_classes) and the
        History from ``train`` (no progress bar).
    """
    from .network import MLP
    from .training import train

    if not isinstance(config, RunConfig):
        raise ValueError(f"config must be a RunConfig, got {type(config).__name__}")
    (x_train, y_train), (x_val, y_val), n_classes = _load_data(config, data)
    if config.n_train is not None:
        if config.n_train > len(x_train):
            raise ValueError(f"config.n_train must be at most the {len(x_train)} training images, "
                             f"got {config.n_train}")
        x_train, y_train = x_train[:config.n_train], y_train[:config.n_train]
    net = MLP(x_train.shape[1], config.n_hidden, n_classes, seed=config.seed, init=config.init)
    history = train(net, (x_train, y_train), val=(x_val, y_val), lr=config.lr,
                    epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
                    progress=False, lr_schedule=config.lr_schedule, eval_train=config.eval_train,
                    callback=callback)
    return net, history


def run(config, data=None):
    """Train one run and keep only its History (see ``train_run`` for the arguments)."""
    return train_run(config, data)[1]


# --------------------------------------------------------------------------- many runs

class Runs(dict):
    """``{RunConfig: History}`` in the order the configs were first requested.

    Attributes:
        nets: dict ``{RunConfig: MLP}``, the trained networks (empty after
            ``load_results``: the JSON file holds histories only).
    and about the ``run_many`` call that made it:
        requested: int, configs asked for, duplicates included.
        trained: list[RunConfig], the configs trained by that call (each once).
        reused: list[RunConfig], the configs taken from ``done`` instead of trained.
        seconds: float, wall time of the call.
        workers: int, processes used for training.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nets = {}

    requested = 0
    trained = ()
    reused = ()
    seconds = 0.0
    workers = 1


def run_many(configs, data=None, workers=2, done=None, progress=False):
    """Train every distinct config once, in up to ``workers`` processes.

    Per-example SGD is a long chain of small, single-threaded steps, so on a machine
    with 2 cores two processes (each capped at one BLAS thread) roughly halve the
    wall time of a batch of runs. Runs are independent and seeded, so the result does
    not depend on ``workers``. Workers are started with 'spawn' (see
    :mod:`mlp_helpers.workers`): in a script (not a notebook), call run_many under
    ``if __name__ == "__main__":``. If this process is killed (a kernel restart, an
    out-of-memory kill), each worker notices within ``workers.WATCHDOG_INTERVAL``
    seconds that its parent is gone and exits.

    Args:
        configs: iterable of RunConfig; duplicates are trained once.
        data: None (each process loads MNIST itself from the cache, for each config's
            ``final`` flag; nothing big crosses a process boundary) or a data tuple as
            for ``train_run``, sent once to each worker (fine for small data).
        workers: int >= 1; 1 trains in this process, one run after another.
        done: optional mapping ``{RunConfig: History}`` of runs already trained
            (e.g. an earlier ``Runs``); configs found there are reused, not retrained.
        progress: True shows a progress bar (tqdm.auto: a widget in Jupyter) of the
            epochs and runs done, updated as each epoch of each run ends.
    Returns:
        Runs: ``{RunConfig: History}`` for every distinct requested config, in order of
        first request, with the trained networks in ``.nets`` (for reused runs, when
        ``done`` had them) and ``requested``, ``trained``, ``reused``, ``seconds``.
    """
    start = time.perf_counter()
    configs = list(configs)
    for i, config in enumerate(configs):
        if not isinstance(config, RunConfig):
            raise ValueError(f"configs[{i}] must be a RunConfig, got {type(config).__name__}")
    workers = check_positive_int(workers, "workers")
    if data is not None:
        data = _check_data(data)
    progress = check_flag(progress, "progress")
    done = {} if done is None else done

    unique = list(dict.fromkeys(configs))  # dedupe, keeping first-request order
    todo = [config for config in unique if config not in done]
    histories = {config: done[config] for config in unique if config in done}
    done_nets = getattr(done, "nets", {})
    nets = {config: done_nets[config] for config in histories if config in done_nets}

    n_proc = min(workers, len(todo))
    bar = EpochProgress(progress, todo)
    try:
        if n_proc <= 1:
            # (the callback only when there is a bar: train_run's two-argument form stays the plain one)
            extra = {} if bar.bar is None else {
                "callback": lambda event, _history: bar.epochs(int(event == "epoch"))}
            for config in todo:
                nets[config], histories[config] = train_run(config, data, **extra)
                bar.run_done()
        else:
            for config, (net, history) in train_in_processes(train_run, todo, data, n_proc, bar).items():
                nets[config], histories[config] = net, history
    finally:
        bar.close()

    runs = Runs((config, histories[config]) for config in unique)
    runs.nets = {config: nets[config] for config in unique if config in nets}
    runs.requested = len(configs)
    runs.trained = todo
    runs.reused = [config for config in unique if config in done]
    runs.seconds = time.perf_counter() - start
    runs.workers = max(n_proc, 1)
    return runs


# --------------------------------------------------------------------------- one experiment's runs

def select(runs, configs):
    """The runs of ``configs`` only (e.g. one experiment's), as a Runs with their networks.

    Args:
        runs: mapping {RunConfig: History}; configs: iterable of RunConfig, all in runs.
    Returns:
        Runs in the order of ``configs`` (duplicates once); ``.nets`` for those runs that
        ``runs.nets`` has.
    """
    configs = list(dict.fromkeys(configs))
    missing = [config for config in configs if config not in runs]
    if missing:
        raise ValueError(f"configs holds {len(missing)} run(s) that runs does not, e.g. {missing[0]}")
    chosen = Runs((config, runs[config]) for config in configs)
    nets = getattr(runs, "nets", {})
    chosen.nets = {config: nets[config] for config in configs if config in nets}
    chosen.requested = len(configs)
    return chosen


# --------------------------------------------------------------------------- on disk

def _json_default(value):
    """json.dump hook for numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _without_wall_times(document):
    """The document with every run's ``epoch_time`` removed: the part a rerun reproduces."""
    runs = [{**item, "history": {k: v for k, v in item["history"].items() if k != "epoch_time"}}
            for item in document.get("runs", [])]
    return {**document, "runs": runs}


def save_results(path, runs, **extra):
    """Write runs (configs + histories) and any extra final metrics to a JSON file, atomically.

    The JSON is written to a temporary file in the same folder and moved over ``path``
    with ``os.replace``, so a reader never sees half a file and an interrupted write
    leaves the old file (if any) in place and no temporary file behind.

    A file that already holds the same results, apart from the wall times per epoch
    (which no two runs share), is left as it is: re-running the notebook, as the
    tests do, changes the committed results file only when a result changed.

    Args:
        path: str or Path of the .json file (its folder is created if missing).
        runs: mapping {RunConfig: History}.
        extra: JSON-safe values (numbers, strings, lists, dicts; numpy scalars and
            arrays are converted), e.g. chosen_lr=0.03, final={"test_acc": 0.981}.
    Returns:
        Path of the file (written, or kept because it held the same results).
    """
    path = Path(path)
    document = {
        "format": "mlp-from-scratch experiment results",
        "version": 1,
        "runs": [{"config": config.to_dict(), "history": history.to_dict()}
                 for config, history in runs.items()],
        **extra,
    }
    text = json.dumps(document, indent=1, default=_json_default)  # fails before any file is touched
    with contextlib.suppress(OSError, ValueError):
        old = json.loads(path.read_text(encoding="utf-8"))
        if _without_wall_times(old) == _without_wall_times(json.loads(text)):
            return path
    with atomic_write(path) as f:
        f.write(text + "\n")
    return path


def load_results(path):
    """Read a file written by ``save_results``.

    Returns:
        (runs, extra): a Runs {RunConfig: History} and a dict of the extra values.
    """
    from .training import History

    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format") != "mlp-from-scratch experiment results":
        raise ValueError(f"{path} is not a results file written by save_results")
    runs = Runs((RunConfig(**item["config"]), History.from_dict(item["history"]))
                for item in document["runs"])
    runs.requested = len(runs)
    extra = {k: v for k, v in document.items() if k not in ("format", "version", "runs")}
    return runs, extra
