"""The figures' shared parts: the style, colours, axes, saving, history fields, log axes, bands."""
import numbers
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

from .._io import atomic_write
from ..paths import grading


FIGSIZE = (6, 4)          # one panel
DPI_SAVE = 110
TRAIN_COLOR = "C0"        # training curves: blue, solid
VAL_COLOR = "C1"          # validation curves: orange, dashed
CLASS_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

# Okabe & Ito's colour-blind-safe palette without its yellow (unreadable on white),
# in an order that runs from cool to warm; a marker per colour so that no reading
# depends on telling two colours apart.
SAFE_COLORS = ("#0072B2", "#56B4E9", "#009E73", "#E69F00", "#D55E00", "#CC79A7", "#000000")
SAFE_MARKERS = ("o", "s", "^", "D", "v", "P", "X")

_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
}

LOSS_LABEL = r"loss $\ell$ (mean cross-entropy)"
_KEY_NAMES = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "val_acc": "validation accuracy",
    "running_loss": "running loss",
}



def _style():
    """The kit's small style, for the duration of one plot only."""
    return plt.rc_context(_RC)


def _figure_of(ax):
    """The top-level Figure an axes belongs to (also inside a SubFigure)."""
    try:
        return ax.get_figure(root=True)
    except TypeError:                      # matplotlib < 3.10: a SubFigure's .figure is the root
        fig = ax.figure
        return getattr(fig, "figure", None) or fig


def _axes(ax, figsize=FIGSIZE):
    """(fig, ax): a new single-panel figure, or the figure of the axes given."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    if not hasattr(ax, "plot"):
        raise ValueError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return _figure_of(ax), ax


def _finish(fig, save):
    """Write ``fig`` to ``save`` (a PNG path) atomically when given; return ``fig``.

    Under a grader (:func:`mlp_helpers.paths.grading`) nothing is written: the figure
    is still shown in the notebook, and so on the student's feedback page. A failed
    write (a full disk, a read-only folder) raises an OSError that names ``save``, and
    leaves no file behind."""
    if save is None:
        return fig
    path = Path(save)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save must be a path ending in .png, got {str(save)!r}")
    if grading():
        return fig
    with atomic_write(path, "wb") as f:   # a temporary file beside it, then a rename
        fig.savefig(f, format="png", dpi=DPI_SAVE, bbox_inches="tight")
    return fig


def save_figure(fig, path):
    """Save a figure made in a notebook as the kit's own plots are saved: a PNG at
    ``DPI_SAVE``, written atomically, and not at all under a grader. Returns ``fig``."""
    return _finish(fig, path)



# ------------------------------------------------------------ histories ---

def _field(history, name, required=True):
    """``history.name`` for a History, ``history[name]`` for its to_dict() dict."""
    if isinstance(history, dict):
        if name in history:
            return history[name]
    elif hasattr(history, name):
        return getattr(history, name)
    if required:
        raise ValueError(
            f"history must be a History or its to_dict() dict with a {name!r} field; "
            f"got {type(history).__name__} without it")
    return None


def _series(history, key):
    """One per-epoch (or per-log) field as a float64 array."""
    values = _field(history, key)
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"history field {key!r} must be a list of numbers") from None


def _as_list(histories, name="histories"):
    """A single history -> [history]; a list/tuple of them stays a list."""
    if isinstance(histories, dict) or hasattr(histories, "train_loss"):
        return [histories]
    if isinstance(histories, (list, tuple)) and len(histories) > 0:
        return list(histories)
    raise ValueError(f"{name} must be a History, its to_dict() dict, or a non-empty list of them, "
                     f"got {type(histories).__name__}"
                     + (" (empty)" if isinstance(histories, (list, tuple)) else ""))


def _epochs(n):
    """Epoch numbers 1..n for the x axis (a value after epoch e sits at x = e)."""
    return np.arange(1, n + 1)


def _key_label(key):
    return _KEY_NAMES.get(key, key.replace("_", " "))


def _keys(key):
    keys = (key,) if isinstance(key, str) else tuple(key)
    if not keys:
        raise ValueError("key must be a field name or a non-empty list of them")
    kinds = {"accuracy" if k.endswith("acc") else "loss" for k in keys}
    if len(kinds) > 1:
        raise ValueError(f"key mixes losses and accuracies on one axis: {keys}; plot them separately")
    return keys


def _ylabel(keys):
    return "accuracy" if keys[0].endswith("acc") else LOSS_LABEL


def _running_x(history):
    """x positions of the running losses, in epochs (examples seen / n_train)."""
    at = _series(history, "running_at")
    n_train = _field(history, "n_train")
    if not isinstance(n_train, numbers.Real) or n_train <= 0:
        raise ValueError(f"history field 'n_train' must be a positive number, got {n_train!r}")
    return at / float(n_train)



# --------------------------------------------------------------- log axes ---

def _plain(value, _pos=None):
    """A tick label as a plain number: 0.01, 0.5, 1, 20, 1000 (never 10^k)."""
    return f"{value:g}"


def log_axis(ax, axis="y", ticks=None):
    """Put one axis of ``ax`` on a log scale with tick labels one can read.

    Matplotlib's default log axis labels only the powers of ten as $10^k$, so an
    axis spanning 1 to 30 shows just "10^0" and "10^1". Here the labels are plain
    numbers, at 1, 2 and 5 times each power of ten when the axis spans fewer than
    three decades (else at the powers of ten only).

    Args:
        ax: a matplotlib Axes, drawn on already (its limits decide the ticks).
        axis: "x", "y" or "both".
        ticks: optional sequence of positive numbers: label exactly these (e.g. the
            batch sizes 1, 16, 64, 256) instead.

    Returns:
        ax
    """
    if not hasattr(ax, "set_yscale"):
        raise ValueError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    if axis not in ("x", "y", "both"):
        raise ValueError(f"axis must be 'x', 'y' or 'both', got {axis!r}")
    if ticks is not None:
        ticks = np.asarray(ticks, dtype=np.float64).reshape(-1)
        if ticks.size == 0 or not np.all(np.isfinite(ticks)) or np.any(ticks <= 0):
            raise ValueError(f"ticks must be a non-empty sequence of finite numbers > 0, got {ticks.tolist()}")
    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"set_{name}scale")("log")
        which = ax.xaxis if name == "x" else ax.yaxis
        if ticks is not None:
            which.set_major_locator(FixedLocator(ticks))
        else:
            lo, hi = sorted(getattr(ax, f"get_{name}lim")())
            decades = np.log10(hi / lo) if lo > 0 else np.inf
            which.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 3 else (1.0,)))
        which.set_major_formatter(FuncFormatter(_plain))
        which.set_minor_formatter(NullFormatter())
    return ax



# -------------------------------------------------------- bands over runs ---

def _stack(hs, key):
    """(runs, epochs) float array of one field; all runs must have the same length."""
    rows = [_series(h, key) for h in hs]
    lengths = sorted({r.size for r in rows})
    if len(lengths) > 1:
        raise ValueError(f"every history must have the same number of {key!r} values to average, "
                         f"got lengths {lengths} (leave out diverged or stopped runs)")
    if lengths[0] == 0:
        raise ValueError(f"history field {key!r} is empty")
    return np.vstack(rows)


def _mean_std(values):
    """Mean and sample std (ddof=1) over runs (axis 0); std 0 for a single run."""
    mean = values.mean(axis=0)
    std = values.std(axis=0, ddof=1) if values.shape[0] > 1 else np.zeros_like(mean)
    return mean, std


def _band(ax, x, values, color, label, linestyle="-", n_std=1.0, alpha=0.2):
    """Mean line and a shaded mean +- n_std * std band over runs."""
    mean, std = _mean_std(values)
    (line,) = ax.plot(x, mean, linestyle, marker="o" if x.size <= 30 else None, ms=4,
                      color=color, label=label)
    if values.shape[0] > 1:
        ax.fill_between(x, mean - n_std * std, mean + n_std * std, color=color, alpha=alpha, lw=0)
    return line
