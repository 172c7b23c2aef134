"""Runs on disk, and the published runs a grader reads instead of training.

:func:`save_results` writes runs as JSON (the histories and the configs) with an .npz
file beside it for the trained networks; :func:`load_results` reads them back, each
network only with the History it was trained with.

**Under a grader** (``nbgrader autograde`` or ``validate``, which set the environment
variable ``NBGRADER_EXECUTION`` in the notebook's kernel, or any grader that sets
``MLP_PUBLISHED_RUNS``), :func:`published_runs_file` names the results that stand in
for training, and :func:`published_runs` reads a notebook's runs from them;
``experiments.run_many`` and ``train_run`` then train nothing.
"""
import contextlib
import json
import os
from pathlib import Path

import numpy as np

from .._io import atomic_write
from ..paths import NBGRADER_VAR, PUBLISHED_RUNS_VAR, grading, published_path
from .config import RunConfig, Runs

__all__ = ["save_results", "load_results", "missing_nets", "published_runs_file", "published_runs",
           "grading_note", "PublishedRunMissing", "PublishedNets", "PUBLISHED_RUNS_VAR", "NBGRADER_VAR", "PUBLISHED_RUNS_NAME"]

# Grading mode (paths.grading): nbgrader sets NBGRADER_EXECUTION in the environment of
# the kernels it starts; any other grader can name the published runs with PUBLISHED_RUNS_VAR.
PUBLISHED_RUNS_NAME = "mnist_experiments.json"


# --------------------------------------------------------------------------- grading mode

class PublishedRunMissing(LookupError):
    """Under a grader, a run the notebook asks for is not among the published runs."""


def _shown(path):
    """``path`` relative to the working directory when it lies inside it (shorter to read)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def grading_note(n, source):
    """The line ``run_many`` prints under a grader: why, how many runs, read from where."""
    return (f"grading mode ({grading()}): {n} run{'s' * (n != 1)} read "
            f"from the published results {_shown(source)}, none trained")


def published_runs_file():
    """The results file whose runs stand in for training, or None: train for real.

    Grading mode is on when the notebook runs under a grader:

    * ``MLP_PUBLISHED_RUNS=PATH`` in the environment: the runs in PATH (any grader);
    * ``NBGRADER_EXECUTION`` set (nbgrader sets it to 'autograde' or 'validate' for the
      kernels it starts): ``paths.published_path("mnist_experiments.json")``, i.e.
      ``results/mnist_experiments.json`` of the folder being graded, which nbgrader
      copies there from the course's ``source/ASSIGNMENT/``.

    Returns:
        Path or None.
    """
    if grading() is None:
        return None
    explicit = os.environ.get(PUBLISHED_RUNS_VAR)
    return Path(explicit) if explicit else published_path(PUBLISHED_RUNS_NAME)


def published_runs(configs, source):
    """(PublishedNets {config: MLP}, {config: History}) for ``configs`` from the published
    results ``source``: every config's History, and the networks that were published."""
    configs = list(configs)
    if not configs:
        return {}, {}
    where = f"grading mode ({grading()})"
    if not Path(source).is_file():
        raise PublishedRunMissing(
            f"{where}: the published results {source} are missing, so the runs cannot be read "
            f"instead of trained. An nbgrader course gets them from `mlp-course nbgrader "
            f"COURSE`, which copies results/ into COURSE/source/ASSIGNMENT/")
    runs, _ = load_results(source)
    for config in configs:
        if config not in runs:
            raise PublishedRunMissing(
                f"{where}: {config} is not among the {len(runs)} published runs in {source}. "
                f"Publish it: run the solution notebook that asks for it (it saves every run "
                f"there), then rebuild the course with `mlp-course nbgrader`")
    nets = {config: runs.nets[config] for config in configs if config in runs.nets}
    return PublishedNets(nets, source), {config: runs[config] for config in configs}


class PublishedNets(dict):
    """{RunConfig: MLP}: the networks of published runs, under a grader.

    Only some runs are published with their network (``save_results(nets=...)``: those
    a cell of the notebook uses); every run has its History. Asking for a network that
    was not published raises :class:`PublishedRunMissing` saying so, not a bare KeyError.
    """

    def __init__(self, nets, source):
        super().__init__(nets)
        self.source = source

    def __missing__(self, config):
        held = "; ".join(str(c) for c in self) or "none"
        raise PublishedRunMissing(
            f"grading mode ({grading()}): the network of {config} is not published: "
            f"{_nets_path(self.source)} holds the networks of {len(self)} run(s) only ({held}), "
            f"and the History of every run. Publish it with the solution notebook's "
            f"save_results(..., nets=[...]), then rebuild the course")


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


def _chosen_nets(runs, nets):
    """The configs whose networks ``save_results`` writes: all of ``runs.nets`` (None),
    else those named in ``nets``, each checked to be a run with a network."""
    held = getattr(runs, "nets", {})
    if nets is None:
        return [config for config in runs if config in held]
    if isinstance(nets, (RunConfig, str, bytes)) or not hasattr(nets, "__iter__"):
        raise ValueError(f"nets must be None or a list of RunConfig, got {nets!r}")
    chosen = list(dict.fromkeys(nets))
    for config in chosen:
        if not isinstance(config, RunConfig):
            raise ValueError(f"nets must hold RunConfig values, got {config!r}")
        if config not in runs:
            raise ValueError(f"nets names {config}, which is not among the {len(runs)} runs saved")
        if config not in held:
            raise ValueError(f"nets names {config}, whose network is not in runs.nets "
                             f"(its run was reused without its network, or read from a file without it)")
    return [config for config in runs if config in chosen]       # in the order of the runs


def _net_arrays(runs, chosen):
    """{name: array} for np.savez: the networks of the ``chosen`` runs (in their order)
    and an index naming them."""
    index, arrays = [], {}
    for n, config in enumerate(chosen):
        index.append({"config": config.to_dict(), **_fingerprint(runs[config])})
        arrays.update({f"{name}_{n}": np.asarray(value) for name, value in runs.nets[config].params.items()})
    arrays["index"] = np.array(json.dumps(index, default=_json_default))
    return arrays


def _read_npz(path):
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files}


def _same_arrays(a, b):
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k])
                                        for k in a)


def _load_nets(path, runs):
    """{config: MLP} from the .npz beside ``path``, for the runs whose History it was saved with."""
    from ..network import MLP

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


def save_results(path, runs, nets=None, **extra):
    """Write runs (configs + histories) and any extra final metrics to a JSON file, atomically.

    The JSON is written to a temporary file in the same folder and moved over ``path``
    with ``os.replace``, so a reader never sees half a file and an interrupted write
    leaves the old file (if any) in place and no temporary file behind.

    A file that already holds the same results, apart from the wall times per epoch
    (which no two runs share), is left as it is: re-running the notebook, as the
    tests do, changes the committed results file only when a result changed.

    The trained networks in ``runs.nets`` (all, or those named by ``nets``) go to the
    .npz file of the same name beside it (``mnist_experiments.npz``: W, b, V, c of each,
    in their dtype, about 0.9 MB compressed a 784-300-10 float32 network), also
    atomically and only if changed, and before the JSON, which lists them under
    ``"networks"``. Each is stored with its run's config and losses, so ``load_results``
    gives a network back only with the History it was trained with. These are the
    published runs a grader reads instead of training (see ``published_runs_file``):
    publish the networks that a cell of the notebook uses, and only those, to keep
    the repository small.

    Args:
        path: str or Path of the .json file (its folder is created if missing).
        runs: mapping {RunConfig: History}.
        nets: None (save every network in ``runs.nets``) or a list of RunConfig: save
            the networks of these runs only (each must be in ``runs.nets``).
        extra: JSON-safe values (numbers, strings, lists, dicts; numpy scalars and
            arrays are converted), e.g. chosen_lr=0.03, final={"test_acc": 0.981}.
    Returns:
        Path of the file (written, or kept because it held the same results).
    """
    path = Path(path)
    if "networks" in extra:
        raise ValueError("'networks' is the list save_results writes of the saved networks; "
                         "name the extra value otherwise")
    chosen = _chosen_nets(runs, nets)
    document = {
        "format": "mlp-from-scratch experiment results",
        "version": 1,
        "runs": [{"config": config.to_dict(), "history": history.to_dict()}
                 for config, history in runs.items()],
        "networks": [config.to_dict() for config in chosen],
        **extra,
    }
    text = json.dumps(document, indent=1, default=_json_default)  # fails before any file is touched
    npz = _nets_path(path)
    if not chosen:
        with contextlib.suppress(FileNotFoundError):
            npz.unlink()        # an earlier save's networks: not this file's any more
    else:
        arrays, old_arrays = _net_arrays(runs, chosen), None
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
    from ..training import History

    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format") != "mlp-from-scratch experiment results":
        raise ValueError(f"{path} is not a results file written by save_results")
    runs = Runs((RunConfig(**item["config"]), History.from_dict(item["history"]))
                for item in document["runs"])
    runs.requested = len(runs)
    runs.nets = _load_nets(path, runs)
    extra = {k: v for k, v in document.items() if k not in ("format", "version", "runs", "networks")}
    return runs, extra


def missing_nets(path, runs=None):
    """The runs whose network the results file ``path`` lists as saved but whose .npz
    beside it lacks (missing, or written by another run): [] for a consistent pair.

    Args:
        path: a results .json file; runs: what ``load_results(path)`` gave, if read
            already (else it is read here).
    Returns:
        list of RunConfig, in the file's order.
    """
    runs = load_results(path)[0] if runs is None else runs
    listed = [RunConfig(**item) for item in json.loads(Path(path).read_text(encoding="utf-8")).get("networks", [])]
    return [config for config in listed if config not in runs.nets]
