"""The report's MNIST experiments as data: configurations, runs, tables, results on disk.

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

Then the numbers the report reads off its figures become functions of those runs:
``summarize`` (mean +- std over seeds per learning rate), ``choose_lr`` (the rate for
the final model, chosen by validation accuracy), ``comparison_table`` (these runs next
to the report's printed numbers), and ``save_results`` / ``load_results`` (JSON for
the histories, an .npz file beside it for the trained networks).

**Under a grader** (``nbgrader autograde`` or ``validate``, which set the environment
variable ``NBGRADER_EXECUTION`` in the notebook's kernel), ``run_many`` and ``train_run``
train nothing: they return the *published* runs, the histories and networks that the
solution notebook saved to ``results/mnist_experiments.json`` (and ``.npz``) and that
ship with the assignment. The runs do not depend on the student's code, so grading
them again for every student would only cost time (about a minute a student on 2 cores). A student
running the notebook trains for real. See :func:`published_runs_file`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np

from ._checks import check_positive_float, check_positive_int, check_seed
from ._io import atomic_write

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
    "PublishedRunMissing",
    "published_runs_file",
    "PUBLISHED_RUNS_VAR",
]

# Environment variables that cap the BLAS / OpenMP thread pools. They are read once,
# when numpy (and its BLAS) is first loaded, so a worker must have them from birth.
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# Grading mode: nbgrader sets NBGRADER_EXECUTION ('autograde' or 'validate') in the
# environment of the kernels it starts; any other grader can name the published runs
# itself with PUBLISHED_RUNS_VAR.
NBGRADER_VAR = "NBGRADER_EXECUTION"
PUBLISHED_RUNS_VAR = "MLP_PUBLISHED_RUNS"
PUBLISHED_RUNS_NAME = "mnist_experiments.json"


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
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
            set_(self, name, bool(value))
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
    if len(factors) != epochs:
        raise ValueError(f"lr_schedule must have one factor per epoch ({epochs}), got {len(factors)}")
    return tuple(check_positive_float(f, f"lr_schedule[{i}]") for i, f in enumerate(factors))


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
        History from ``train`` (no progress bar). Under a grader (see
        :func:`published_runs_file`) and with ``data=None``: the published run's network
        and History instead, or :class:`PublishedRunMissing` if it was not published.
    """
    from .network import MLP
    from .training import train

    if not isinstance(config, RunConfig):
        raise ValueError(f"config must be a RunConfig, got {type(config).__name__}")
    source = published_runs_file() if data is None else None
    if source is not None:      # under a grader: the published run, not a new one
        nets, histories = _published([config], source)
        return nets[config], histories[config]
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
        nets: dict ``{RunConfig: MLP}``, the trained networks (after ``load_results``:
            those saved in the .npz file beside the JSON, if there is one).
    and about the ``run_many`` call that made it:
        requested: int, configs asked for, duplicates included.
        trained: list[RunConfig], the configs trained by that call (each once); under a
            grader, the configs it took from the published runs instead.
        reused: list[RunConfig], the configs taken from ``done`` instead of trained.
        seconds: float, wall time of the call.
        workers: int, processes used for training (0: none, the runs were published).
        published: Path of the published results the runs came from, or None (trained).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nets = {}

    requested = 0
    trained = ()
    reused = ()
    seconds = 0.0
    workers = 1
    published = None


@contextlib.contextmanager
def _single_thread_blas():
    """Set the BLAS thread variables to 1 while worker processes are started.

    A spawned worker copies the parent's environment when it starts, before it imports
    numpy, so this is what caps each worker at one BLAS thread. The parent's own numpy is
    already loaded and unaffected; its environment is restored afterwards.
    """
    saved = {var: os.environ.get(var) for var in BLAS_THREAD_VARS}
    os.environ.update({var: "1" for var in BLAS_THREAD_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


# Each worker process holds the data it was given once, at start-up (None: load MNIST),
# and a queue on which it reports every finished epoch (None: no progress bar).
_WORKER_DATA = None
_WORKER_EPOCHS = None
# Seconds between two looks of a worker's watchdog at its parent process.
WATCHDOG_INTERVAL = 0.5


def _watch_parent(parent_pid):
    """A worker's watchdog: end the worker as soon as the process that started it is gone.

    When the parent is killed outright (a kernel restart, the OOM killer), nothing tells
    its pool; the worker is handed to another parent (its parent pid changes), and
    without this would train the remaining runs and then wait for work forever.
    """
    while True:
        time.sleep(WATCHDOG_INTERVAL)
        if os.getppid() != parent_pid:
            os._exit(1)             # no clean-up to do: results go nowhere now


def _init_worker(data, parent_pid, epochs_queue=None):
    global _WORKER_DATA, _WORKER_EPOCHS
    _WORKER_DATA, _WORKER_EPOCHS = data, epochs_queue
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="run_many-parent-watchdog").start()


def _report_epoch(event, history):
    """train's callback in a worker: one message per finished epoch (never stops training)."""
    if event == "epoch" and _WORKER_EPOCHS is not None:
        _WORKER_EPOCHS.put(1)


def _run_in_worker(config):
    return train_run(config, _WORKER_DATA, callback=_report_epoch)  # (net, history): ~1 MB back


def _cost(config):
    """Examples a run steps through, roughly: the longest runs are started first."""
    return config.epochs * (config.n_train or 60_000)


class _Progress:
    """A tqdm.auto bar of the epochs (and runs) done, or nothing when progress is off."""

    def __init__(self, progress, configs):
        self.bar = None
        if progress and configs:
            from tqdm.auto import tqdm

            self.runs, self.done = len(configs), 0
            self.bar = tqdm(total=sum(config.epochs for config in configs), unit="epoch",
                            desc=f"training {self.runs} run{'s' * (self.runs > 1)}")

    def epochs(self, n=1):
        if self.bar is not None and n:
            self.bar.update(n)

    def run_done(self):
        if self.bar is not None:
            self.done += 1
            self.bar.set_postfix_str(f"{self.done}/{self.runs} runs done")

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_many(configs, data=None, workers=2, done=None, progress=False):
    """Train every distinct config once, in up to ``workers`` processes.

    Per-example SGD is a long chain of small, single-threaded steps, so on a machine
    with 2 cores two processes (each capped at one BLAS thread) roughly halve the
    wall time of a batch of runs. Runs are independent and seeded, so the result does
    not depend on ``workers``. Workers are started with 'spawn': in a script (not a
    notebook), call run_many under ``if __name__ == "__main__":``. If this process is
    killed (a kernel restart, an out-of-memory kill), each worker notices within
    WATCHDOG_INTERVAL seconds that its parent is gone and exits.

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

    Under a grader (``NBGRADER_EXECUTION`` or ``MLP_PUBLISHED_RUNS`` set, see
    :func:`published_runs_file`) and with ``data=None``, nothing is trained: every
    config not in ``done`` is looked up in the published runs, with its network, and
    the Runs has ``workers=0`` and ``published`` set. A config that was not published
    raises :class:`PublishedRunMissing` naming it. (Runs on data you pass in are
    trained as usual: the published file cannot tell which data a run saw.)
    """
    start = time.perf_counter()
    configs = list(configs)
    for i, config in enumerate(configs):
        if not isinstance(config, RunConfig):
            raise ValueError(f"configs[{i}] must be a RunConfig, got {type(config).__name__}")
    workers = check_positive_int(workers, "workers")
    if data is not None:
        data = _check_data(data)
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    done = {} if done is None else done

    unique = list(dict.fromkeys(configs))  # dedupe, keeping first-request order
    todo = [config for config in unique if config not in done]
    histories = {config: done[config] for config in unique if config in done}
    done_nets = getattr(done, "nets", {})
    nets = {config: done_nets[config] for config in histories if config in done_nets}

    source = published_runs_file() if data is None else None
    n_proc = 0 if source is not None else min(workers, len(todo))
    if source is not None:      # under a grader: the published runs, none trained
        published_nets, published_histories = _published(todo, source)
        nets.update(published_nets)
        histories.update(published_histories)
        print(f"grading mode ({_grading_reason()}): {len(todo)} run{'s' * (len(todo) != 1)} read "
              f"from the published results {_shown(source)}, none trained")
    else:
        bar = _Progress(progress, todo)
        try:
            if n_proc <= 1:
                # (the callback only when there is a bar: train_run's two-argument form stays the plain one)
                extra = {} if bar.bar is None else {
                    "callback": lambda event, _history: bar.epochs(int(event == "epoch"))}
                for config in todo:
                    nets[config], histories[config] = train_run(config, data, **extra)
                    bar.run_done()
            else:
                _train_in_workers(todo, data, n_proc, nets, histories, bar)
        finally:
            bar.close()

    runs = Runs((config, histories[config]) for config in unique)
    runs.nets = {config: nets[config] for config in unique if config in nets}
    runs.requested = len(configs)
    runs.trained = todo
    runs.reused = [config for config in unique if config in done]
    runs.seconds = time.perf_counter() - start
    runs.workers = 0 if source is not None else max(n_proc, 1)
    runs.published = source
    return runs


def _train_in_workers(todo, data, n_proc, nets, histories, bar):
    """Train ``todo`` in ``n_proc`` spawned processes; fill ``nets`` and ``histories``."""
    # 'spawn' starts clean interpreters: safe from a Jupyter kernel (no forked
    # threads), and they read the one-thread BLAS environment before numpy loads.
    context = multiprocessing.get_context("spawn")
    epochs_queue = context.SimpleQueue() if bar.bar is not None else None
    with _single_thread_blas(), ProcessPoolExecutor(
            max_workers=n_proc, mp_context=context,
            initializer=_init_worker, initargs=(data, os.getpid(), epochs_queue)) as pool:
        futures = {config: pool.submit(_run_in_worker, config)
                   for config in sorted(todo, key=_cost, reverse=True)}
        try:
            pending = set(futures.values())
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while epochs_queue is not None and not epochs_queue.empty():
                    bar.epochs(epochs_queue.get())
                for future in finished:
                    future.result()        # a failed run raises here, at once
                    bar.run_done()
            for config in todo:
                nets[config], histories[config] = futures[config].result()
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise


# --------------------------------------------------------------------------- grading mode

class PublishedRunMissing(LookupError):
    """Under a grader, a run the notebook asks for is not among the published runs."""


def _shown(path):
    """``path`` relative to the working directory when it lies inside it (shorter to read)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _grading_reason():
    if os.environ.get(PUBLISHED_RUNS_VAR):
        return f"{PUBLISHED_RUNS_VAR}={os.environ[PUBLISHED_RUNS_VAR]}"
    return f"{NBGRADER_VAR}={os.environ.get(NBGRADER_VAR)}"


def published_runs_file():
    """The results file whose runs stand in for training, or None: train for real.

    Grading mode is on when the notebook runs under a grader:

    * ``MLP_PUBLISHED_RUNS=PATH`` in the environment: the runs in PATH (any grader);
    * ``NBGRADER_EXECUTION`` set (nbgrader sets it to 'autograde' or 'validate' for the
      kernels it starts): ``paths.results_path("mnist_experiments.json")``, i.e.
      ``results/mnist_experiments.json`` of the folder being graded, which nbgrader
      copies there from the course's ``source/ASSIGNMENT/``.

    Returns:
        Path or None.
    """
    explicit = os.environ.get(PUBLISHED_RUNS_VAR)
    if explicit:
        return Path(explicit)
    if os.environ.get(NBGRADER_VAR):
        from .paths import results_path

        return results_path(PUBLISHED_RUNS_NAME)
    return None


def _published(configs, source):
    """({config: MLP}, {config: History}) for ``configs`` from the published results ``source``."""
    configs = list(configs)
    if not configs:
        return {}, {}
    where = f"grading mode ({_grading_reason()})"
    if not Path(source).is_file():
        raise PublishedRunMissing(
            f"{where}: the published results {source} are missing, so the runs cannot be read "
            f"instead of trained. An nbgrader course gets them from `python -m mlp_helpers.release "
            f"--nbgrader-course COURSE`, which copies results/ into COURSE/source/ASSIGNMENT/")
    runs, _ = load_results(source)
    for config in configs:
        if config not in runs:
            raise PublishedRunMissing(
                f"{where}: {config} is not among the {len(runs)} published runs in {source}. "
                f"Publish it: run the solution notebook that asks for it (it saves every run "
                f"there), then rebuild the course with `python -m mlp_helpers.release --nbgrader-course`")
        if config not in runs.nets:
            raise PublishedRunMissing(
                f"{where}: the network of {config} is not in {_nets_path(source)} (missing, or "
                f"saved by another run than the history in {Path(source).name}). Re-run the solution "
                f"notebook, which saves both, then rebuild the course")
    return ({config: runs.nets[config] for config in configs},
            {config: runs[config] for config in configs})


# --------------------------------------------------------------------------- summaries

def settings(runs, final=False):
    """Group runs that differ only in their seed.

    Args:
        runs: mapping {RunConfig: History} (e.g. a Runs).
        final: keep only configs with this ``final`` flag (validation runs by default).
    Returns:
        dict {setting: [RunConfig, ...]}: the setting is the config with seed 0 (it names
        everything but the seed); settings in order of lr, then of their other fields;
        each list ordered by seed.
    """
    groups = {}
    for config in sorted(runs, key=_sort_key):
        if config.final == final:
            groups.setdefault(dataclasses.replace(config, seed=0), []).append(config)
    return groups


def _sort_key(config):
    return (config.lr, config.init, config.lr_schedule or (), config.n_train or 0, config.epochs,
            config.batch_size, config.n_hidden, config.eval_train, config.seed)


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


def _configs_by_lr(runs, final):
    """{lr: [configs by seed]}, refusing two settings at one rate (they would be mixed)."""
    groups = {}
    for setting, configs in settings(runs, final).items():
        if setting.lr in groups:
            other = dataclasses.replace(groups[setting.lr][0], seed=0)
            fields = [f.name for f in dataclasses.fields(RunConfig)
                      if getattr(other, f.name) != getattr(setting, f.name)]
            raise ValueError(
                f"runs holds two settings at lr {setting.lr:g} that differ in {', '.join(fields)}: "
                "grouping by lr would mix them; pass one experiment's runs (ex.select(runs, configs))")
        groups[setting.lr] = configs
    return groups


def histories_by_lr(runs, final=False):
    """Group runs by learning rate.

    Args:
        runs: mapping {RunConfig: History} (e.g. a Runs) with one setting per rate
            (runs that differ in more than lr and seed: pass ``select(runs, configs)``).
        final: keep only configs with this ``final`` flag (validation runs by default).
    Returns:
        dict {lr: [History, ...]} with rates ascending and each list ordered by seed.
    """
    return {lr: [runs[config] for config in configs]
            for lr, configs in _configs_by_lr(runs, final).items()}


def epoch_mean_std(histories, key):
    """Mean and standard deviation over runs of a per-epoch History field.

    Args:
        histories: list of History, all with the same number of epochs.
        key: "train_loss", "val_loss", "val_acc", "train_loss_after" or "train_acc_after".
    Returns:
        (mean, std): float64 arrays of shape (epochs,). std is the sample standard
        deviation over runs (ddof=1); a single run has no spread and gets zeros.
    """
    values = [list(getattr(h, key)) for h in histories]
    if not values:
        raise ValueError("histories is empty; give at least one History")
    lengths = {len(v) for v in values}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"every History needs the same, non-zero number of {key} values, "
                         f"got lengths {sorted(len(v) for v in values)}")
    table = np.asarray(values, dtype=np.float64)  # (runs, epochs)
    std = table.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(table.shape[1])
    return table.mean(axis=0), std


def final_metrics(history):
    """The numbers a run ends with.

    Returns:
        dict with float ``train_loss`` (mean over the last epoch, as seen during it),
        ``train_loss_after`` (on the training set with the final weights; NaN unless the
        run had ``eval_train``), ``val_loss`` and ``val_acc`` (after the last epoch;
        val_acc in [0, 1]), and bool ``diverged``. A diverged run, or one without
        validation data, reports NaN where it has no value.
    """
    def last(values):
        return float(values[-1]) if len(values) else math.nan

    return {
        "train_loss": last(history.train_loss),
        "train_loss_after": last(getattr(history, "train_loss_after", [])),
        "val_loss": last(history.val_loss),
        "val_acc": last(history.val_acc),
        "diverged": bool(history.diverged),
    }


def summarize(runs, final=False):
    """Final validation numbers per setting (one per learning rate, usually), mean +- std over seeds.

    Args:
        runs: mapping {RunConfig: History}; final: which kind of runs to summarise.
    Returns:
        list of dicts, one per setting (see ``settings``; lr ascending), with keys lr,
        label (``RunConfig.label`` of the setting), runs (count), seeds,
        train_loss_mean/_std, train_loss_after_mean/_std (NaN without eval_train),
        val_loss_mean/_std, val_acc_mean/_std (accuracy in [0, 1]; std over seeds with
        ddof=1, 0 for a single run) and diverged (count).
    """
    rows = []
    for setting, configs in settings(runs, final).items():
        metrics = [final_metrics(runs[config]) for config in configs]
        row = {"lr": setting.lr, "label": setting.label, "runs": len(configs),
               "seeds": [config.seed for config in configs]}
        for key in ("train_loss", "train_loss_after", "val_loss", "val_acc"):
            values = np.array([m[key] for m in metrics], dtype=np.float64)
            row[f"{key}_mean"] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        row["diverged"] = sum(m["diverged"] for m in metrics)
        rows.append(row)
    return rows


def _rank(row):
    """Sort key of a summary row: no divergence, then accuracy, then loss, then rate."""
    def finite_or(value, worst):
        return value if math.isfinite(value) else worst

    return (row["diverged"] > 0,
            -round(finite_or(row["val_acc_mean"], -math.inf), 9),
            finite_or(row["val_loss_mean"], math.inf),
            row["lr"])


def choose_setting(runs):
    """The setting with the best mean final validation accuracy over its seeds.

    Ranked as in ``choose_lr``, over every setting in ``runs`` (e.g. constant rates and
    learning-rate schedules side by side).

    Args:
        runs: mapping {RunConfig: History} of validation runs (``final=False``).
    Returns:
        RunConfig with seed 0: the chosen setting (``dataclasses.replace(it, seed=s)``
        gives its run with seed s).
    """
    groups = settings(runs)
    if not groups:
        raise ValueError("runs holds no validation runs (final=False) to choose from")
    rows = summarize(runs)
    best = min(range(len(rows)), key=lambda i: _rank(rows[i]))
    return list(groups)[best]


def choose_lr(runs):
    """The learning rate with the best mean final validation accuracy over its seeds.

    Ties in mean accuracy (equal to 1e-9) go to the lower mean validation loss, then
    to the smaller rate. A rate with a diverged run ranks below every rate without one.

    Args:
        runs: mapping {RunConfig: History} of validation runs (``final=False``), one
            setting per rate (else ``select`` one experiment's runs first).
    Returns:
        float, the chosen lr.
    """
    _configs_by_lr(runs, final=False)  # one setting per rate, or a clear error
    rows = summarize(runs)
    if not rows:
        raise ValueError("runs holds no validation runs (final=False) to choose a learning rate from")
    return min(rows, key=_rank)["lr"]


def sampling_error(accuracy, n):
    """The binomial standard error sqrt(p (1 - p) / n) of an accuracy p measured on n examples.

    Even a fixed network's accuracy on n images drawn from the same source would vary
    by about this much from one set of n images to another; it is the resolution of an
    accuracy measured on that set (about 0.0024 at p = 0.97 on 5,000 images, 0.0017 on
    10,000).

    Args:
        accuracy: float (or array) in [0, 1]; n: int >= 1, the images it was measured on.
    Returns:
        float (or array) in [0, 0.5], in the units of ``accuracy``.
    """
    n = check_positive_int(n, "n")
    p = np.asarray(accuracy, dtype=np.float64)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"accuracy must be in [0, 1], got {accuracy!r}")
    error = np.sqrt(p * (1 - p) / n)
    return float(error) if error.ndim == 0 else error


# --------------------------------------------------------------------------- tables

def _cell(value, fmt):
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt) if fmt else str(value)


def format_table(rows, columns=None, formats=None, left=()):
    """A plain-text table that prints well in a notebook or a terminal.

    Args:
        rows: list of dicts.
        columns: list of (key, header) pairs or keys; default: the first row's keys.
        formats: optional {key: format spec}, e.g. {"val_acc": ".2%"}.
        left: keys of columns to align left (labels); the others align right (numbers).
    Returns:
        str: a header line, a rule, then one line per row.
    """
    if columns is None:
        columns = list(rows[0]) if rows else []
    columns = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    formats = formats or {}
    cells = [[header for _, header in columns]]
    cells += [[_cell(row.get(key), formats.get(key, "")) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    align = [str.ljust if key in left else str.rjust for key, _ in columns]
    lines = ["  ".join(pad(text, width) for text, width, pad in zip(line, widths, align)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _pm(mean, std, scale=1.0, digits=2):
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def _has(histories, key):
    return all(len(getattr(h, key, ())) for h in histories)


def epoch_table(histories, eval_name="val"):
    """Per-epoch numbers as text: training loss, validation loss, validation accuracy (%).

    Args:
        histories: one History (its values), or a list of Histories of equal length
            (mean ± std over them, as in ``epoch_mean_std``).
        eval_name: what the History's "val" fields hold: "val" (validation set) or
            "test" (a final model, evaluated on the test set). Only the headers change.
    Returns:
        str, one line per epoch. With ``train_loss_after`` in every History (runs with
        eval_train), a column of the training loss at the weights after the epoch,
        the same weights as the validation (test) loss beside it.
    """
    eval_name = _check_eval_name(eval_name)
    many = isinstance(histories, (list, tuple))
    histories = list(histories) if many else [histories]
    keys = ["train_loss"] + (["train_loss_after"] if _has(histories, "train_loss_after") else [])
    keys += ["val_loss", "val_acc"]
    columns = {key: epoch_mean_std(histories, key) for key in keys}

    def cell(key, e, scale=1.0, digits=4):
        mean, std = columns[key][0][e], columns[key][1][e]
        return _pm(mean, std, scale, digits) if many else f"{mean * scale:.{digits}f}"

    rows = [{key: cell(key, e, *((100, 2) if key == "val_acc" else ())) for key in keys} | {"epoch": e + 1}
            for e in range(len(columns["train_loss"][0]))]
    headers = {"train_loss": "train loss (mean during epoch)",
               "train_loss_after": "train loss (after epoch)",
               "val_loss": f"{eval_name} loss (after epoch)", "val_acc": f"{eval_name} acc %"}
    return format_table(rows, [("epoch", "epoch")] + [(key, headers[key]) for key in keys])


def _check_eval_name(eval_name):
    if eval_name not in ("val", "test"):
        raise ValueError(f"eval_name must be 'val' or 'test', got {eval_name!r}")
    return eval_name


def summary_table(rows, eval_name="val", n_eval=None):
    """``summarize``'s rows as text: setting, runs, final losses and accuracy (%) mean ± std.

    Args:
        rows: ``summarize`` output.
        eval_name: "val" or "test", what the runs were evaluated on (headers only).
        n_eval: None, or the number of images the accuracy was measured on: adds a
            column with its binomial sampling error (``sampling_error``), in points,
            beside the spread over seeds.
    Returns:
        str. The first column is the lr, or the setting's label when some row is more
        than a learning rate; a training-loss column at the final weights is added when
        the runs had eval_train.
    """
    eval_name = _check_eval_name(eval_name)
    labels = any(row.get("label", f"lr {row['lr']:g}") != f"lr {row['lr']:g}" for row in rows)
    after = bool(rows) and all(math.isfinite(row.get("train_loss_after_mean", math.nan)) for row in rows)
    table = [{"lr": row["label"] if labels else f"{row['lr']:g}", "runs": row["runs"],
              "train_loss": _pm(row["train_loss_mean"], row["train_loss_std"], digits=4),
              "train_loss_after": _pm(row.get("train_loss_after_mean", math.nan),
                                      row.get("train_loss_after_std", math.nan), digits=4),
              "val_loss": _pm(row["val_loss_mean"], row["val_loss_std"], digits=4),
              "val_acc": _pm(row["val_acc_mean"], row["val_acc_std"], scale=100),
              "binomial": None if n_eval is None else
                          f"{100 * sampling_error(row['val_acc_mean'], n_eval):.2f}"}
             for row in rows]
    columns = [("lr", "setting" if labels else "lr"), ("runs", "runs"),
               ("train_loss", "train loss (mean during last epoch)")]
    if after:
        columns.append(("train_loss_after", "train loss (final weights)"))
    columns += [("val_loss", f"{eval_name} loss"),
                ("val_acc", f"{eval_name} acc % (mean ± std over seeds)")]
    if n_eval is not None:
        columns.append(("binomial", f"sampling error ± (n={n_eval:,})"))
    return format_table(table, columns, left=["lr"] if labels else ())


# --------------------------------------------------------------------------- the report

def report_numbers():
    """The numbers the report prints, exactly as printed (accuracies in percent).

    Returns:
        dict with ``val_acc`` {lr: percent} (experiment 3), ``exp1_val_acc`` (experiment
        1's accuracy at lr 0.01, which differs from experiment 3's figure for the same
        rate), ``final_test_acc`` (experiment 4), and the final model's learning rate as
        named in the text and in the caption of figure 7 (they disagree).
    """
    return {
        "val_acc": {0.001: 89.82, 0.003: 94.8, 0.01: 92.60, 0.03: 96.14},
        "exp1_val_acc": 91.2,
        "final_test_acc": 91.55,
        "final_lr_text": 0.003,
        "final_lr_caption": 0.01,
        "runs_per_setting": 1,
        "epochs": 5,
    }


def comparison_table(rows, final_lr, final_test_acc, report=None):
    """This notebook's numbers next to the report's, one row per lr and one for the final model.

    Args:
        rows: ``summarize`` output (validation runs).
        final_lr: float, the rate this notebook chose for its final model.
        final_test_acc: float in [0, 1], its test accuracy, or a list of them (one per
            seed: shown as mean ± std).
        report: ``report_numbers()`` (default).
    Returns:
        list of dicts with keys setting, report (percent, str), ours (percent, mean ±
        std over seeds for validation rows), difference (ours - report, points).
    """
    report = report_numbers() if report is None else report
    table = []
    for row in rows:
        printed = report["val_acc"].get(row["lr"])
        ours = 100 * row["val_acc_mean"]
        table.append({
            "setting": f"val, lr {row['lr']:g}",
            "report": "-" if printed is None else f"{printed:.2f}",
            "ours": _pm(row["val_acc_mean"], row["val_acc_std"], scale=100)
                    + f" (n={row['runs']})",
            "difference": "-" if printed is None else f"{ours - printed:+.2f}",
        })
    accs = np.atleast_1d(np.asarray(final_test_acc, dtype=np.float64))
    ours = 100 * accs.mean()
    spread = accs.std(ddof=1) if accs.size > 1 else 0.0
    table.append({
        "setting": (f"test, final model (lr: report {report['final_lr_text']:g} in text, "
                    f"{report['final_lr_caption']:g} in caption; ours {final_lr:g})"),
        "report": f"{report['final_test_acc']:.2f}",
        "ours": (_pm(accs.mean(), spread, scale=100) if accs.size > 1 else f"{ours:.2f}")
                + f" (n={accs.size})",
        "difference": f"{ours - report['final_test_acc']:+.2f}",
    })
    return table


def sgd_as_printed(net, x, y, lr):
    """One pass of per-example SGD with the update exactly as the report's snippet prints it.

    The snippet subtracts only W's step and *assigns* the other three parameters::

        W -= alpha * gW;  b = alpha * gb;  V = alpha * gV;  c = alpha * gc

    so after every example b, V and c hold one tiny, scaled gradient instead of what
    was learned. Use it on a copy of a network to see what that does to training.

    Args:
        net: an MLP, modified in place.
        x: (N, D) float inputs; y: (N,) int64 labels; lr: float > 0.
    Returns:
        float, the mean training loss over the pass.
    """
    lr = check_positive_float(lr, "lr")
    total = 0.0
    for i in range(len(x)):
        loss, grads = net.loss(x[i:i + 1], y[i:i + 1])
        net.params["W"] -= lr * grads["W"]
        for name in ("b", "V", "c"):
            net.params[name][...] = lr * grads[name]  # the slip: '=' where '-=' was meant
        total += float(loss)
    return total / len(x)


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


def _nets_path(path):
    """The .npz file beside a results JSON that holds its runs' networks."""
    return Path(path).with_suffix(".npz")


def _fingerprint(history):
    """What ties a saved network to its History: the per-epoch losses it produced."""
    return {"train_loss": list(history.train_loss), "val_loss": list(history.val_loss)}


def _net_arrays(runs):
    """{name: array} for np.savez: the networks of ``runs.nets`` and an index naming their runs."""
    nets = getattr(runs, "nets", {})
    index, arrays = [], {}
    for config, history in runs.items():
        if config in nets:
            n = len(index)
            index.append({"config": config.to_dict(), **_fingerprint(history)})
            arrays.update({f"{name}_{n}": np.asarray(value) for name, value in nets[config].params.items()})
    arrays["index"] = np.array(json.dumps(index, default=_json_default))
    return arrays, len(index)


def _read_npz(path):
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files}


def _same_arrays(a, b):
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k])
                                        for k in a)


def _load_nets(path, runs):
    """{config: MLP} from the .npz beside ``path``, for the runs whose History it was saved with."""
    from .network import MLP

    npz = _nets_path(path)
    if not npz.is_file():
        return {}
    arrays = _read_npz(npz)
    nets = {}
    for n, item in enumerate(json.loads(str(arrays["index"]))):
        config = RunConfig(**item.pop("config"))
        if config not in runs or (json.dumps(_fingerprint(runs[config]), default=_json_default)
                                  != json.dumps(item)):   # (as text: NaN equals NaN)
            continue        # not this file's run (the two files were written by different runs)
        params = {name: arrays[f"{name}_{n}"] for name in ("W", "b", "V", "c")}
        (D, H), K = params["W"].shape, params["V"].shape[1]
        net = MLP(D, H, K, seed=config.seed, dtype=params["W"].dtype)
        net.params = {name: value.copy() for name, value in params.items()}
        nets[config] = net
    return nets


def save_results(path, runs, **extra):
    """Write runs (configs + histories) and any extra final metrics to a JSON file, atomically.

    The JSON is written to a temporary file in the same folder and moved over ``path``
    with ``os.replace``, so a reader never sees half a file and an interrupted write
    leaves the old file (if any) in place and no temporary file behind.

    A file that already holds the same results, apart from the wall times per epoch
    (which no two runs share), is left as it is: re-running the notebook, as the
    tests do, changes the committed results file only when a result changed.

    The trained networks in ``runs.nets`` (if any) go to the .npz file of the same name
    beside it (``mnist_experiments.npz``: W, b, V, c of each, in their dtype, about
    0.9 MB a 784-300-10 network), also atomically and only if changed, and before the
    JSON. Each is stored with its run's config and losses, so ``load_results`` gives a
    network back only with the History it was trained with. These are the published
    runs a grader reads instead of training (see ``published_runs_file``).

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
    arrays, n_nets = _net_arrays(runs)
    if n_nets:
        npz = _nets_path(path)
        old_arrays = None
        with contextlib.suppress(OSError, ValueError):
            old_arrays = _read_npz(npz)
        if old_arrays is None or not _same_arrays(old_arrays, arrays):
            with atomic_write(npz, "wb") as f:
                np.savez_compressed(f, **arrays)
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
        (runs, extra): a Runs {RunConfig: History} and a dict of the extra values;
        ``runs.nets`` holds the networks from the .npz file beside ``path`` (see
        ``save_results``), for the runs whose History they were saved with.
    """
    from .training import History

    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format") != "mlp-from-scratch experiment results":
        raise ValueError(f"{path} is not a results file written by save_results")
    runs = Runs((RunConfig(**item["config"]), History.from_dict(item["history"]))
                for item in document["runs"])
    runs.requested = len(runs)
    runs.nets = _load_nets(path, runs)
    extra = {k: v for k, v in document.items() if k not in ("format", "version", "runs")}
    return runs, extra
