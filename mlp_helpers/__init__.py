"""mlp_helpers: the small package behind the mlp-from-scratch notebooks.

The public names of DESIGN.md are plain imports, so jump-to-definition and ``help()``
lead to the code that defines them::

    from mlp_helpers import load_synth, load_mnist, MLP, train
    from mlp_helpers import scalar

The submodules with heavier imports (matplotlib, ipywidgets, nbformat, process pools)
are imported when first used, so ``import mlp_helpers`` does not pay for them:
``from mlp_helpers import plotting`` (or ``mlp_helpers.plotting``) works as usual.
The layout, one line a module, is in docs/developers.md ("The helper package").
"""
from importlib import import_module

from . import scalar
from .data import load_mnist, load_synth
from .gradcheck import grad_check
from .network import MLP
from .training import History, train

__version__ = "0.1.0"

# submodules imported on first use (each imports matplotlib, ipywidgets, nbformat or
# multiprocessing, or is only needed by some notebooks)
_ON_FIRST_USE = ("plotting", "widgets", "explorer_runs", "explorer_view", "release", "experiments",
                 "tables", "workers", "runconfig", "results", "paths", "checks", "diagnosis", "gradnoise",
                 "mnist_sources", "numpy_pickle", "blas", "autograde")

__all__ = ["History", "MLP", "grad_check", "load_mnist", "load_synth", "train",
           "scalar", "data", "network", "training", "gradcheck", *_ON_FIRST_USE]


def __getattr__(name):
    if name in _ON_FIRST_USE:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mlp_helpers' has no attribute {name!r}")


def __dir__():
    return __all__
