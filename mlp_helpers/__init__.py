"""mlp_helpers: the small package behind the mlp-from-scratch notebooks.

The public names (the API the notebooks, tests and outside checks rely on) are plain imports, so jump-to-definition and ``help()``
lead to the code that defines them::

    from mlp_helpers import load_synth, load_mnist, MLP, train
    from mlp_helpers import scalar

The submodules with heavier imports (matplotlib, ipywidgets, nbformat, process pools)
are imported when first used, so ``import mlp_helpers`` does not pay for them:
``from mlp_helpers import plotting`` (or ``mlp_helpers.plotting``) works as usual.
The layout -- the core a student reads, and its wings (mnist, plotting, experiments,
explorer, course) -- is in docs/developers.md ("The helper package"), with the rule of
who imports whom that ``lint-imports`` checks. ``mlp-course`` (:mod:`mlp_helpers.cli`)
is the command line.
"""
from importlib import import_module

from . import scalar
from .data import load_mnist, load_synth
from .gradcheck import grad_check
from .network import MLP
from .training import History, train

__version__ = "0.1.0"

# modules imported on first use (they import matplotlib, ipywidgets, nbformat or
# multiprocessing, or only some notebooks need them). The names of the flat layout before
# the wings (issue 29) still work: ``from mlp_helpers import checks`` is course.checks.
_ON_FIRST_USE = {
    "gradnoise": "gradnoise", "paths": "paths", "blas": "blas", "plotting": "plotting",
    "mnist": "mnist", "experiments": "experiments", "explorer": "explorer", "course": "course",
    "mnist_sources": "mnist.sources", "numpy_pickle": "mnist.numpy_pickle",
    "runconfig": "experiments.config", "results": "experiments.results", "tables": "experiments.tables",
    "workers": "experiments.workers",
    "widgets": "explorer.widget", "explorer_runs": "explorer.runs", "explorer_view": "explorer.view",
    "checks": "course.checks", "diagnosis": "course.diagnosis", "release": "course.release",
    "autograde": "course.autograde",
}

__all__ = ["History", "MLP", "grad_check", "load_mnist", "load_synth", "train",
           "scalar", "data", "network", "training", "gradcheck", *_ON_FIRST_USE]


def __getattr__(name):
    if name in _ON_FIRST_USE:
        return import_module(f".{_ON_FIRST_USE[name]}", __name__)
    raise AttributeError(f"module 'mlp_helpers' has no attribute {name!r}")


def __dir__():
    return __all__
