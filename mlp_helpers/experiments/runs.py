"""Run the report's MNIST experiments: one configuration, or many in worker processes.

Under a grader nothing trains: the published runs come back instead (see the package's
docstring, :mod:`mlp_helpers.experiments`).
"""
import time

from .._checks import check_flag, check_positive_int
from .config import RunConfig, Runs
from .results import PublishedNets, grading_note, published_runs, published_runs_file  # noqa: F401
from .workers import EpochProgress, train_in_processes

__all__ = ["train_run", "run", "run_many", "select"]


# --------------------------------------------------------------------------- one run

def _check_data(data):
    """((x_train, t_train), (x_val, t_val), n_classes) -> the same, checked loosely."""
    try:
        (x_train, t_train), (x_val, t_val), n_classes = data
    except (TypeError, ValueError):
        raise ValueError(
            "data must be ((x_train, t_train), (x_val, t_val), n_classes) as returned by "
            f"load_mnist / load_synth, or None to load MNIST; got {type(data).__name__}"
        ) from None
    check_positive_int(n_classes, "n_classes (third item of data)", minimum=2)
    return (x_train, t_train), (x_val, t_val), int(n_classes)


def _load_data(config, data):
    """The data a run trains on: ``data`` if given, else MNIST's split for ``config.final``."""
    if data is None:
        from ..data import load_mnist  # memoised per process: a warm cache reads in well under 1 s

        data = load_mnist(final=config.final)
    return _check_data(data)


def train_run(config, data=None, callback=None):
    """Train one network as ``config`` says and return it with its History.

    Args:
        config: RunConfig.
        data: ((x_train (N, D) float, t_train (N,) int64), (x_val (M, D), t_val (M,)),
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
    from ..network import MLP
    from ..training import train

    if not isinstance(config, RunConfig):
        raise ValueError(f"config must be a RunConfig, got {type(config).__name__}")
    source = published_runs_file() if data is None else None
    if source is not None:      # under a grader: the published run, not a new one
        nets, histories = published_runs([config], source)
        return nets[config], histories[config]
    (x_train, t_train), (x_val, t_val), n_classes = _load_data(config, data)
    if config.n_train is not None:
        if config.n_train > len(x_train):
            raise ValueError(f"config.n_train must be at most the {len(x_train)} training images, "
                             f"got {config.n_train}")
        x_train, t_train = x_train[:config.n_train], t_train[:config.n_train]
    net = MLP(x_train.shape[1], config.n_hidden, n_classes, seed=config.seed, init=config.init)
    history = train(net, (x_train, t_train), val=(x_val, t_val), lr=config.lr,
                    epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
                    progress=False, lr_schedule=config.lr_schedule, eval_train=config.eval_train,
                    callback=callback)
    return net, history


def run(config, data=None):
    """Train one run and keep only its History (see ``train_run`` for the arguments)."""
    return train_run(config, data)[1]


# --------------------------------------------------------------------------- many runs


def run_many(configs, data=None, workers=2, done=None, progress=False):
    """Train every distinct config once, in up to ``workers`` processes.

    Per-example SGD is a long chain of small, single-threaded steps, so on a machine
    with 2 cores two processes (each capped at one BLAS thread) roughly halve the
    wall time of a batch of runs. Runs are independent and seeded, so the result does
    not depend on ``workers``. Workers are started with 'spawn' (see
    :mod:`mlp_helpers.experiments.workers`): in a script (not a notebook), call run_many under
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

    Under a grader (``NBGRADER_EXECUTION`` or ``MLP_PUBLISHED_RUNS`` set, see
    :func:`published_runs_file`) and with ``data=None``, nothing is trained: every
    config not in ``done`` is looked up in the published runs, with its network if
    that was published, and the Runs has ``workers=0`` and ``published`` set. A config
    that was not published raises :class:`PublishedRunMissing` naming it, and so does
    ``runs.nets[config]`` for a network that was not. (Runs on data you pass in are
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
    progress = check_flag(progress, "progress")
    done = {} if done is None else done

    unique = list(dict.fromkeys(configs))  # dedupe, keeping first-request order
    todo = [config for config in unique if config not in done]
    histories = {config: done[config] for config in unique if config in done}
    done_nets = getattr(done, "nets", {})
    nets = {config: done_nets[config] for config in histories if config in done_nets}

    source = published_runs_file() if data is None else None
    n_proc = 0 if source is not None else min(workers, len(todo))
    if source is not None:      # under a grader: the published runs, none trained
        published_nets, published_histories = published_runs(todo, source)
        nets.update(published_nets)
        histories.update(published_histories)
        print(grading_note(len(todo), source))
    else:
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
                trained = train_in_processes(train_run, todo, data, n_proc, bar)
                nets.update({config: net for config, (net, _) in trained.items()})
                histories.update({config: history for config, (_, history) in trained.items()})
        finally:
            bar.close()

    runs = Runs((config, histories[config]) for config in unique)
    runs.nets = {config: nets[config] for config in unique if config in nets}
    if source is not None:      # a network that was not published: PublishedRunMissing, saying so
        runs.nets = PublishedNets(runs.nets, source)
    runs.requested = len(configs)
    runs.trained = todo
    runs.reused = [config for config in unique if config in done]
    runs.seconds = time.perf_counter() - start
    runs.workers = 0 if source is not None else max(n_proc, 1)
    runs.published = source
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
