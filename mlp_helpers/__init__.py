"""mlp_helpers: the small package behind the mlp-from-scratch notebooks.

The public names (see DESIGN.md) are imported lazily, so ``import mlp_helpers``
is quick and a notebook pays only for what it uses::

    from mlp_helpers import load_synth, load_mnist, MLP, train
    from mlp_helpers import scalar
"""
from importlib import import_module

__version__ = "0.1.0"

# public name -> submodule that defines it
_LAZY = {
    "load_synth": "data",
    "load_mnist": "data",
    "MLP": "network",
    "train": "training",
    "History": "training",
    "grad_check": "gradcheck",
}

__all__ = sorted(_LAZY) + ["scalar", "data", "network", "training", "gradcheck", "plotting",
                          "experiments", "checks", "release", "widgets", "paths"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name in __all__:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mlp_helpers' has no attribute {name!r}")


def __dir__():
    return __all__
