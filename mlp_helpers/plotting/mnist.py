"""Plotting helpers for the notebooks: loss curves, bands over runs, learning rates,
decision boundaries, digit grids, confusion matrices and first-layer weights.

Every function returns the matplotlib ``Figure`` it drew on, never calls
``plt.show()``, and takes ``save=None``: give a path (``"figures/fig1_loss.png"``)
and the figure is also written there as a PNG (the folder is created; the file
is written to a temporary name first and moved into place, so a crash never
leaves half a PNG behind). Functions that draw one panel take ``ax=None``: pass
an existing axes (a widget's, a subplot of your own) to draw into it.

Histories are ``mlp_helpers.History`` objects or their ``to_dict()`` dicts; only the
fields a plot needs are read (``train_loss``, ``val_loss``, ``val_acc``,
``running_loss``, ``running_at``, ``n_train``, ``lr``).

The style (sizes, grid, spines) is applied per figure through
``plt.rc_context``; the global ``rcParams`` are left as they were.
"""
import numbers
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.ticker import LogLocator, NullFormatter

from ._checks import check_flag, check_inputs, check_labels, check_positive_int
from ._io import atomic_write
from .paths import grading

__all__ = [
    "save_figure",
    "loss_curves",
    "running_loss",
    "log_axis",
    "gradient_noise",
    "mean_std_bands",
    "lr_comparison",
    "lr_panels",
    "accuracy_vs_lr",
    "epoch_losses",
    "seed_spread",
    "loss_readings",
    "early_stopping",
    "lr_schedules",
    "activation_histograms",
    "decision_boundary",
    "plane_grid",
    "digit_grid",
    "confusion_matrix",
    "plot_confusion_matrix",
    "weight_images",
    "histograms",
]

# ---------------------------------------------------------------- style ---

FIGSIZE = (6, 4)          # one panel
DPI_SAVE = 110
TRAIN_COLOR = "C0"        # training curves: blue, solid
VAL_COLOR = "C1"          # validation curves: orange, dashed
CLASS_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

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


# ------------------------------------------------------------- loss curves ---

def loss_curves(histories, *, labels=None, val=True, running=False, title=None,
                train_label="training loss", val_label="validation loss", ax=None, save=None):
    """Training vs validation loss per epoch (the report's experiment 1).

    Args:
        histories: a History (or its ``to_dict()``), or a list of them (one colour each).
        labels: list of str, one per history; default "lr = ..." from ``history.lr``.
        val: also draw ``val_loss`` (dashed) when the history has it.
        running: False; True or "panel" adds the running loss per ``log_every``
            examples on a second panel; "same" draws it thin on the same axes. Its
            x is ``running_at / n_train`` in epochs.
        title: axes title; ax: axes to draw into (not with running="panel").
        train_label, val_label: legend names of the two curves, e.g.
            val_label="test loss" for a final model evaluated on the test set.
        save: optional PNG path.

    x is the epoch, 1-based: ``train_loss[e-1]`` is the mean loss over epoch e (as
    seen during it), ``val_loss[e-1]`` the loss after it.

    Returns:
        matplotlib.figure.Figure
    """
    hs = _as_list(histories)
    if running not in (False, True, "panel", "same"):
        raise ValueError(f"running must be False, True, 'panel' or 'same', got {running!r}")
    if running is True:
        running = "panel"
    if labels is not None and len(labels) != len(hs):
        raise ValueError(f"labels must have one entry per history ({len(hs)}), got {len(labels)}")
    with _style():
        if running == "panel":
            if ax is not None:
                raise ValueError("running='panel' draws two panels; pass ax=None or use running='same'")
            fig, (ax, ax_run) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        else:
            fig, ax = _axes(ax)
            ax_run = ax if running == "same" else None
        for i, h in enumerate(hs):
            one = len(hs) == 1
            color_t = TRAIN_COLOR if one else f"C{i % 10}"
            color_v = VAL_COLOR if one else f"C{i % 10}"
            name = "" if one else (labels[i] if labels is not None else _default_label(h, i)) + ": "
            train = _series(h, "train_loss")
            if train.size == 0:
                raise ValueError("history has no epochs (train_loss is empty)")
            ax.plot(_epochs(train.size), train, "o-", color=color_t, label=f"{name}{train_label}")
            v = _series(h, "val_loss") if val and _field(h, "val_loss", required=False) is not None else None
            if v is not None and v.size:
                ax.plot(_epochs(v.size), v, "s--", color=color_v, label=f"{name}{val_label}")
            if ax_run is not None:
                r = _series(h, "running_loss")
                ax_run.plot(_running_x(h), r, "-", lw=0.8, alpha=0.6, color=color_t,
                            label=f"{name}running loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel(LOSS_LABEL)
        ax.set_title(title or "Training and validation loss per epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
        if running == "panel":
            ax_run.set_xlabel("epoch (examples seen / $n_{train}$)")
            ax_run.set_ylabel(LOSS_LABEL)
            ax_run.set_title("Running loss during training")
            ax_run.grid(True, alpha=0.3)
            ax_run.legend()
    return _finish(fig, save)


def _default_label(history, i):
    lr = _field(history, "lr", required=False)
    return f"lr = {lr:g}" if isinstance(lr, numbers.Real) else f"run {i + 1}"


# ------------------------------------------- losses at the same weights ---

def epoch_losses(history, *, eval_name="validation", running=True, title=None, ax=None, save=None):
    """Training and validation (or test) loss measured with the same weights, per epoch.

    Four curves of one run (a History with ``eval_train``: ``train_loss_after``):

    * training loss with the weights after epoch e (solid, at x = e);
    * ``eval_name`` loss with the same weights (dashed, at x = e);
    * the training loss as recorded: the mean over epoch e of each example's loss
      before its step (hollow markers, at x = e - 0.5, the middle of the epoch it
      averages over, which is why it lags the two above);
    * with ``running``, the running mean per ``log_every`` examples (thin, grey).

    The y-range is set by the per-epoch curves (from 0), so the running loss of the
    first few thousand examples (about ln 10 = 2.3) runs off the top instead of
    squashing the rest; the caption of the axes says where it starts.

    Args:
        history: a History (or its dict) with train_loss, train_loss_after, val_loss.
        eval_name: what the "val" fields hold, for the legend: "validation" or "test".
        running: also draw the running loss. title, ax, save: as everywhere here.
    Returns:
        matplotlib.figure.Figure
    """
    if eval_name not in ("validation", "test"):
        raise ValueError(f"eval_name must be 'validation' or 'test', got {eval_name!r}")
    recorded, after = _series(history, "train_loss"), _series(history, "train_loss_after")
    held_out = _series(history, "val_loss")
    if recorded.size == 0 or after.size != recorded.size or held_out.size != recorded.size:
        raise ValueError("history needs train_loss, train_loss_after (train with eval_train=True) and "
                         f"val_loss of equal, non-zero length; got {recorded.size}, {after.size} and "
                         f"{held_out.size}")
    epochs = _epochs(recorded.size)
    with _style():
        fig, ax = _axes(ax)
        top = 1.15 * float(max(recorded.max(), after.max(), held_out.max()))
        if running:
            r = _series(history, "running_loss")
            ax.plot(_running_x(history), r, "-", lw=0.7, color="0.6", alpha=0.8, zorder=1,
                    label=f"running mean (starts at {r[0]:.2f}, off the top)" if r.size and r[0] > top
                    else "running mean")
        ax.plot(epochs - 0.5, recorded, "o:", mfc="white", color=TRAIN_COLOR, zorder=3,
                label="training loss, mean during the epoch")
        ax.plot(epochs, after, "o-", color=TRAIN_COLOR, zorder=3, label="training loss, weights after epoch")
        ax.plot(epochs, held_out, "s--", color=VAL_COLOR, zorder=3,
                label=f"{eval_name} loss, weights after epoch")
        ax.set_ylim(0, top)
        ax.set_xlim(0, recorded.size + 0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(LOSS_LABEL)
        ax.set_title(title or f"Training and {eval_name} loss")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right")
    return _finish(fig, save)


# ------------------------------------------------------------ running loss ---

def _rebin(at, loss, every):
    """Mean loss per ``every`` examples from means logged at ``at`` (examples seen).

    Each logged value is the mean over the examples since the previous log; a bin
    (k-1)*every < at <= k*every takes the example-weighted mean of its logs.
    Returns (bin ends in examples, bin means).
    """
    widths = np.diff(np.concatenate([[0.0], at]))
    if np.any(widths <= 0):
        raise ValueError("history field 'running_at' must be strictly increasing")
    if every < widths.min() * (1 - 1e-9) and not np.allclose(widths, every):
        raise ValueError(f"every must be >= the logging interval ({int(widths.min())} examples), "
                         f"got {every}: the history has no finer record")
    bins = np.ceil(at / every - 1e-9).astype(np.int64)           # 1-based bin of each log
    ids, inverse = np.unique(bins, return_inverse=True)
    total = np.bincount(inverse, weights=loss * widths)
    count = np.bincount(inverse, weights=widths)
    ends = np.minimum(ids * every, at[-1])
    return ends, total / count


def running_loss(histories, every=1000, *, labels=None, title=None, ax=None, save=None):
    """Mean loss per ``every`` examples against examples seen (the report's figure 1).

    Args:
        histories: a History (or dict), or a list of them (one line each).
        every: int, examples per point; a multiple of the history's ``log_every``
            (logs are merged, weighted by the examples they cover).
        labels: one str per history (default "lr = ..." / "run i").
        title, ax, save: as everywhere in this module.

    Returns:
        matplotlib.figure.Figure
    """
    hs = _as_list(histories)
    every = check_positive_int(every, "every")
    if labels is not None and len(labels) != len(hs):
        raise ValueError(f"labels must have one entry per history ({len(hs)}), got {len(labels)}")
    with _style():
        fig, ax = _axes(ax)
        for i, h in enumerate(hs):
            at, loss = _series(h, "running_at"), _series(h, "running_loss")
            if at.size == 0 or at.size != loss.size:
                raise ValueError(f"history needs running_loss and running_at of equal, non-zero length; "
                                 f"got {loss.size} and {at.size}")
            x, m = _rebin(at, loss, every)
            label = labels[i] if labels is not None else (None if len(hs) == 1 else _default_label(h, i))
            ax.plot(x, m, "-", lw=1.2, color=TRAIN_COLOR if len(hs) == 1 else f"C{i % 10}", label=label)
        ax.set_xlabel("examples seen")
        ax.set_ylabel(f"mean loss $\\ell$ per {every:,} examples")
        ax.set_title(title or f"Training loss, mean per {every:,} examples")
        ax.grid(True, alpha=0.3)
        if len(hs) > 1 or labels is not None:
            ax.legend()
    return _finish(fig, save)


# ------------------------------------------- log axes, minibatch gradient noise ---

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
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

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


_NOISE_KEYS = ("batch_sizes", "variance", "variance_se", "sq_norm", "sq_norm_se", "trace", "full_sq_norm",
               "n_train")


def _noise_arrays(label, m):
    """The checked arrays of one gradient_noise measurement."""
    if not isinstance(m, dict):
        raise ValueError(f"measurements[{label!r}] must be a dict with keys {', '.join(_NOISE_KEYS)}, "
                         f"got {type(m).__name__}")
    missing = [k for k in _NOISE_KEYS if k not in m]
    if missing:
        raise ValueError(f"measurements[{label!r}] is missing {', '.join(missing)}")
    arrays = {k: np.asarray(m[k], dtype=np.float64).reshape(-1) for k in _NOISE_KEYS[:5]}
    n = arrays["batch_sizes"].size
    if n == 0 or any(a.size != n for a in arrays.values()):
        raise ValueError(f"measurements[{label!r}]: batch_sizes, variance, variance_se, sq_norm and "
                         f"sq_norm_se must be non-empty and of equal length, got lengths "
                         f"{[a.size for a in arrays.values()]}")
    if np.any(arrays["batch_sizes"] < 1) or np.any(arrays["variance"] <= 0) or np.any(arrays["sq_norm"] <= 0):
        raise ValueError(f"measurements[{label!r}]: batch sizes must be >= 1 and variance, sq_norm > 0 "
                         "(they are drawn on log axes)")
    n_train = check_positive_int(m["n_train"], f"measurements[{label!r}]['n_train']")
    trace, full = float(m["trace"]), float(m["full_sq_norm"])
    if not (np.isfinite(trace) and trace > 0 and np.isfinite(full) and full >= 0):
        raise ValueError(f"measurements[{label!r}]: trace must be > 0 and full_sq_norm >= 0, "
                         f"got {trace!r} and {full!r}")
    return arrays, trace, full, n_train


def gradient_noise(measurements, *, title=None, save=None):
    """The minibatch gradient at fixed weights: its noise and its length against B.

    Args:
        measurements: dict label -> dict, one per set of weights (e.g. "at
            initialisation"), with
            ``batch_sizes`` (B values), ``variance`` (measured mean of |g_B - g|^2 over
            the minibatches drawn for each B) and ``variance_se`` (its standard
            error), ``sq_norm`` and ``sq_norm_se`` (the same for |g_B|^2),
            ``trace`` (tr(Sigma), the variance of one example's gradient over the
            whole set), ``full_sq_norm`` (|g|^2, g the full-set mean gradient) and
            ``n_train`` (N, the set the minibatches were drawn from): what
            :func:`mlp_helpers.gradnoise.measure` returns.
        title: figure title; save: optional PNG path.

    Left panel: the measured variance (markers, +- 2 standard errors) and the law
    tr(Sigma) / B (N - B) / (N - 1) (line). Right: the measured E|g_B|^2 and the
    prediction |g|^2 + that variance (line), with |g|^2, the part that no
    averaging removes, dotted. Both axes logarithmic with plain-number labels.

    Returns:
        matplotlib.figure.Figure with two axes.
    """
    if not isinstance(measurements, dict) or not measurements:
        raise ValueError("measurements must be a non-empty dict {label: measurement dict}, "
                         f"got {type(measurements).__name__}")
    from .gradnoise import minibatch_variance

    checked = {label: _noise_arrays(label, m) for label, m in measurements.items()}
    all_B = np.unique(np.concatenate([a["batch_sizes"] for a, *_ in checked.values()]))
    with _style():
        fig, (ax_v, ax_n) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
        for i, (label, (a, trace, full, n_train)) in enumerate(checked.items()):
            color = f"C{i % 10}"
            B = a["batch_sizes"]
            grid = np.geomspace(B.min(), B.max(), 100)
            law = minibatch_variance(trace, grid, n_train)
            ax_v.plot(grid, law, "-", color=color, lw=1.2, alpha=0.8,
                      label=f"{label}: tr$(\\Sigma)/B$ = {trace:.3g}$/B$")
            ax_v.errorbar(B, a["variance"], yerr=2 * a["variance_se"], fmt="o", color=color, ms=5,
                          capsize=3, label=f"{label}: measured")
            ax_n.plot(grid, full + law, "-", color=color, lw=1.2, alpha=0.8,
                      label=f"{label}: $|g|^2$ + tr$(\\Sigma)/B$")
            ax_n.errorbar(B, a["sq_norm"], yerr=2 * a["sq_norm_se"], fmt="o", color=color, ms=5,
                          capsize=3, label=f"{label}: measured")
            if full > 0:
                ax_n.axhline(full, color=color, ls=":", lw=1.2, label=f"{label}: $|g|^2$ = {full:.3g}")
        ax_v.set_ylabel(r"$E\,|g_B - g|^2$ (noise of the minibatch gradient)")
        ax_v.set_title("Variance of the minibatch gradient")
        ax_n.set_ylabel(r"$E\,|g_B|^2$ (squared length of a minibatch step / $\alpha^2$)")
        ax_n.set_title("Squared length of the mean gradient")
        for ax in (ax_v, ax_n):
            ax.set_xlabel("batch size $B$")
            log_axis(ax, "x", ticks=all_B)
            log_axis(ax, "y")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=8)
        if title:
            fig.suptitle(title)
    return _finish(fig, save)


# ------------------------------------------------------- bands over runs ---

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


def mean_std_bands(histories, key="train_loss", *, n_std=1.0, show_runs=False, title=None,
                   ax=None, save=None):
    """Mean +- std over runs (seeds) per epoch, as a line and a shaded band (experiment 2).

    Args:
        histories: list of Histories (or dicts) of the same length, one per run.
        key: a field name or a list of them, e.g. ``("train_loss", "val_loss")``;
            losses and accuracies cannot share the axes. ``"running_loss"`` is
            plotted against ``running_at / n_train`` (epochs).
        n_std: band half-width in sample standard deviations (ddof=1).
        show_runs: also draw every run thinly.
        title, ax, save: as everywhere in this module.

    Returns:
        matplotlib.figure.Figure
    """
    hs = _as_list(histories)
    keys = _keys(key)
    with _style():
        fig, ax = _axes(ax)
        for j, k in enumerate(keys):
            values = _stack(hs, k)
            x = _running_x(hs[0]) if k == "running_loss" else _epochs(values.shape[1])
            if x.size != values.shape[1]:
                raise ValueError("running_at and running_loss must have the same length")
            color = {"train_loss": TRAIN_COLOR, "val_loss": VAL_COLOR}.get(k, f"C{(j + 2) % 10}")
            style = "--" if k.startswith("val") else "-"
            label = f"{_key_label(k)}: mean" + (f" $\\pm$ {n_std:g} std" if len(hs) > 1 else "")
            _band(ax, x, values, color, label, style, n_std)
            if show_runs:
                for row in values:
                    ax.plot(x, row, style, lw=0.6, alpha=0.5, color=color)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_ylabel(keys))
        ax.set_title(title or f"Mean and spread over {len(hs)} run{'s' * (len(hs) > 1)}")
        if all(k != "running_loss" for k in keys):
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    return _finish(fig, save)


def seed_spread(histories, keys=("train_loss", "val_loss", "val_acc"), *, title=None, save=None):
    """The spread between runs (seeds), one column per quantity, made visible.

    Top row: every run (thin) and the mean +- 1 sample std band over runs, on an axis
    zoomed to that quantity. Bottom row: each run minus the mean over runs, with the
    +- 1 std band around 0, so a spread far narrower than the curve's fall (a training
    loss that drops from 0.4 to 0.1 with a std of 0.002) can still be seen.

    Args:
        histories: list of at least 2 Histories (or dicts) with the same number of epochs.
        keys: History fields, one column each (losses and accuracies may be mixed:
            each has its own axes; accuracies are shown in percent).
        title: figure title; save: optional PNG path.
    Returns:
        matplotlib.figure.Figure with 2 * len(keys) axes.
    """
    hs = _as_list(histories)
    if len(hs) < 2:
        raise ValueError(f"histories must hold at least 2 runs to show a spread, got {len(hs)}")
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    if not keys:
        raise ValueError("keys must name at least one History field")
    with _style():
        fig, axes = plt.subplots(2, len(keys), figsize=(4.2 * len(keys), 5.6), sharex=True,
                                 squeeze=False, layout="constrained", height_ratios=(1.6, 1))
        for j, key in enumerate(keys):
            scale = 100.0 if key.endswith("acc") else 1.0
            values = scale * _stack(hs, key)
            x = _epochs(values.shape[1])
            mean, std = _mean_std(values)
            color = {"train_loss": TRAIN_COLOR, "train_loss_after": TRAIN_COLOR,
                     "val_loss": VAL_COLOR}.get(key, "C2")
            top, bottom = axes[0, j], axes[1, j]
            for row in values:
                top.plot(x, row, "-", lw=0.7, alpha=0.6, color=color)
                bottom.plot(x, row - mean, "-", lw=0.7, alpha=0.6, color=color)
            top.plot(x, mean, "o-", ms=4, color=color, label="mean")
            top.fill_between(x, mean - std, mean + std, color=color, alpha=0.25, lw=0,
                             label="mean $\\pm$ 1 std over runs")
            bottom.fill_between(x, -std, std, color=color, alpha=0.25, lw=0)
            bottom.axhline(0, color=color, lw=1)
            name = _key_label(key) + (" (%)" if scale != 1 else "")
            top.set_title(name)
            top.set_ylabel("accuracy (%)" if scale != 1 else LOSS_LABEL)
            bottom.set_ylabel("run $-$ mean")
            bottom.set_xlabel("epoch")
            bottom.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
            for a in (top, bottom):
                a.grid(True, alpha=0.3)
            if j == 0:
                top.legend(loc="best")
        fig.suptitle(title or f"Spread over {len(hs)} runs")
    return _finish(fig, save)


def loss_readings(losses, *, title=None, save=None):
    """Two readings of "the mean and standard deviation of the loss per epoch" over runs.

    Left, *between runs*: the mean loss of each run in each epoch, then the mean and
    sample std of those per-run means (what a seed-to-seed spread is). Right, *pooled*:
    every example's loss in the epoch, of every run, put together, then their mean and
    std (how much single examples differ, whatever the seed).

    Args:
        losses: array (runs, epochs, examples) of per-example losses as seen during
            training (e.g. ``train(..., log_every=1).running_loss`` reshaped).
        title: figure title; save: optional PNG path.
    Returns:
        matplotlib.figure.Figure with two axes sharing the y-axis.
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 3 or min(losses.shape) < 1 or losses.shape[0] < 2:
        raise ValueError(f"losses must be an array (runs >= 2, epochs, examples), got shape {losses.shape}")
    x = _epochs(losses.shape[1])
    per_run = losses.mean(axis=2)                             # (runs, epochs)
    between_mean, between_std = _mean_std(per_run)
    pooled = losses.transpose(1, 0, 2).reshape(losses.shape[1], -1)   # (epochs, runs * examples)
    pooled_mean, pooled_std = pooled.mean(axis=1), pooled.std(axis=1, ddof=1)
    with _style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.9), sharey=True, layout="constrained")
        for ax, mean, std, what in (
                (left, between_mean, between_std, f"between runs: std of the {losses.shape[0]} per-run means"),
                (right, pooled_mean, pooled_std,
                 f"pooled: std of all {losses.shape[0]} x {losses.shape[2]:,} per-example losses")):
            ax.plot(x, mean, "o-", color=TRAIN_COLOR, label="mean")
            ax.fill_between(x, mean - std, mean + std, color=TRAIN_COLOR, alpha=0.25, lw=0,
                            label="mean $\\pm$ 1 std")
            ax.set_title(what, fontsize=10)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
        left.set_ylabel(LOSS_LABEL)
        left.legend(loc="upper right")
        fig.suptitle(title or "Two readings of a loss band over runs")
    return _finish(fig, save)


# ---------------------------------------------------------- learning rates ---

def lr_colors(lrs, cmap="viridis"):
    """One colour per learning rate, log-spaced on a sequential colormap."""
    lrs = np.asarray(sorted(lrs), dtype=np.float64)
    cm = plt.get_cmap(cmap)
    if lrs.size == 1 or lrs[0] == lrs[-1]:
        return [cm(0.5)] * lrs.size
    pos = LogNorm(vmin=lrs[0], vmax=lrs[-1])(lrs)
    return [cm(0.1 + 0.8 * float(p)) for p in pos]     # skip the palest/darkest ends


def lr_comparison(histories_by_lr, key="val_loss", *, n_std=1.0, cmap="viridis", title=None,
                  ax=None, save=None):
    """Several learning rates on one axes (experiment 3), with bands over seeds.

    Args:
        histories_by_lr: dict lr (float > 0) -> a History (or dict) or a list of
            them (several seeds: mean line and mean +- n_std std band).
        key: field to plot, or a list (e.g. ``("train_loss", "val_loss")``: solid
            and dashed in each learning rate's colour).
        n_std, cmap: band half-width; sequential colormap (log-spaced in lr).
        title, ax, save: as everywhere in this module.

    Returns:
        matplotlib.figure.Figure
    """
    if not isinstance(histories_by_lr, dict) or not histories_by_lr:
        raise ValueError("histories_by_lr must be a non-empty dict {lr: history or list of histories}, "
                         f"got {type(histories_by_lr).__name__}")
    for lr in histories_by_lr:
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"histories_by_lr keys must be learning rates (finite numbers > 0), got {lr!r}")
    keys = _keys(key)
    lrs = sorted(histories_by_lr)
    colors = lr_colors(lrs, cmap)
    with _style():
        fig, ax = _axes(ax)
        for lr, color in zip(lrs, colors):
            hs = _as_list(histories_by_lr[lr], name=f"histories_by_lr[{lr!r}]")
            for j, k in enumerate(keys):
                values = _stack(hs, k)
                label = f"lr = {lr:g}" + (f" ({_key_label(k)})" if len(keys) > 1 else "")
                _band(ax, _epochs(values.shape[1]), values, color, label, ["-", "--", ":"][j % 3], n_std)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_ylabel(keys))
        what = " and ".join(_key_label(k) for k in keys)
        ax.set_title(title or f"{what[0].upper()}{what[1:]} for each learning rate")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    return _finish(fig, save)


# Okabe & Ito's colour-blind-safe palette without its yellow (unreadable on white),
# in an order that runs from cool to warm; a marker per colour so that no reading
# depends on telling two colours apart.
SAFE_COLORS = ("#0072B2", "#56B4E9", "#009E73", "#E69F00", "#D55E00", "#CC79A7", "#000000")
SAFE_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _log_y(ax):
    """A log y-axis labelled at 1, 2 and 5 times each power of ten, as plain numbers."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_locator(LogLocator(subs=np.arange(1.0, 10.0)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def lr_panels(histories_by_lr, keys=("train_loss", "val_loss"), *, log=True, title=None, save=None):
    """Learning rates side by side: one panel per quantity, one line per rate.

    Each rate is the mean over its runs (seeds) with a +- 1 std band, in a colour-blind
    -safe colour and marker of its own; the legend sits outside, right of the panels,
    so it covers no curve.

    Args:
        histories_by_lr: dict lr (float > 0) -> a History (or dict) or a list of them.
        keys: History fields, one panel each (e.g. ``("train_loss", "val_loss")``).
        log: log-scale losses (the rates' losses differ by a factor of ten or more).
        title: figure title; save: optional PNG path.
    Returns:
        matplotlib.figure.Figure with len(keys) axes.
    """
    if not isinstance(histories_by_lr, dict) or not histories_by_lr:
        raise ValueError("histories_by_lr must be a non-empty dict {lr: history or list of histories}, "
                         f"got {type(histories_by_lr).__name__}")
    lrs = sorted(histories_by_lr)
    if len(lrs) > len(SAFE_COLORS):
        raise ValueError(f"lr_panels draws at most {len(SAFE_COLORS)} rates, got {len(lrs)}")
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    with _style():
        fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys) + 1.4, 3.9), squeeze=False,
                                 layout="constrained")
        for ax, key in zip(axes[0], keys):
            for lr, color, marker in zip(lrs, SAFE_COLORS, SAFE_MARKERS):
                hs = _as_list(histories_by_lr[lr], name=f"histories_by_lr[{lr!r}]")
                values = _stack(hs, key) * (100.0 if key.endswith("acc") else 1.0)
                x = _epochs(values.shape[1])
                mean, std = _mean_std(values)
                ax.plot(x, mean, "-", marker=marker, ms=4, color=color, label=f"lr = {lr:g}")
                if values.shape[0] > 1:
                    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)
            if log and not key.endswith("acc"):
                _log_y(ax)
            ax.set_title(_key_label(key))
            ax.set_xlabel("epoch")
            ax.set_ylabel("accuracy (%)" if key.endswith("acc") else LOSS_LABEL)
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
            ax.grid(True, which="both", alpha=0.25)
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center")
        if title:
            fig.suptitle(title)
    return _finish(fig, save)


def accuracy_vs_lr(rows, *, n_eval=None, chosen=None, report=None, title=None, ax=None, save=None):
    """Final validation accuracy against the learning rate (log x), error bars over seeds.

    Args:
        rows: ``experiments.summarize`` rows (lr, val_acc_mean, val_acc_std, runs).
        n_eval: None, or the number of images the accuracy is measured on: a grey band
            of +- 1 binomial sampling error sqrt(p (1 - p) / n) around each mean.
        chosen: None or the chosen lr, marked with a ring.
        report: None or {lr: percent}, the report's one-run numbers (crosses).
        title, ax, save: as everywhere in this module.
    Returns:
        matplotlib.figure.Figure
    """
    if not rows:
        raise ValueError("rows is empty; give experiments.summarize output")
    lr = np.array([row["lr"] for row in rows], dtype=np.float64)
    order = np.argsort(lr)
    lr = lr[order]
    acc = 100 * np.array([rows[i]["val_acc_mean"] for i in order])
    std = 100 * np.array([rows[i]["val_acc_std"] for i in order])
    runs = {rows[i]["runs"] for i in order}
    with _style():
        fig, ax = _axes(ax)
        if n_eval is not None:
            n_eval = check_positive_int(n_eval, "n_eval")
            p = acc / 100
            error = 100 * np.sqrt(p * (1 - p) / n_eval)
            ax.fill_between(lr, acc - error, acc + error, color="0.8", lw=0,
                            label=f"$\\pm$ sampling error of {n_eval:,} images")
        ax.errorbar(lr, acc, yerr=std, fmt="o-", color=SAFE_COLORS[0], capsize=4, ms=5,
                    label="mean $\\pm$ 1 std over " + "/".join(map(str, sorted(runs))) + " seeds")
        if report:
            rl = sorted(report)
            ax.plot(rl, [report[r] for r in rl], "x", color=SAFE_COLORS[4], ms=8, mew=2,
                    label="the report (one run each)")
        if chosen is not None:
            k = int(np.argmin(np.abs(np.log(lr / chosen))))
            ax.plot([lr[k]], [acc[k]], "o", ms=14, mfc="none", mec="k", mew=1.5,
                    label=f"chosen: lr = {lr[k]:g}")
        ax.set_xscale("log")
        ax.set_xticks(lr)
        ax.set_xticklabels([f"{v:g}" for v in lr])
        ax.minorticks_off()
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("validation accuracy after the last epoch (%)")
        ax.set_title(title or "Validation accuracy against the learning rate")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower center", fontsize=8)
    return _finish(fig, save)


def early_stopping(history, *, title=None, save=None):
    """Overfitting in one run: losses (left) and validation accuracy (right) per epoch.

    Left: training loss with the weights after each epoch (``train_loss_after``; train
    with eval_train=True) and validation loss, log scale, the validation minimum
    marked. Right: validation accuracy, with the epoch of the loss minimum (where early
    stopping would stop) and the best accuracy marked.

    Args:
        history: a History (or dict) with train_loss_after, val_loss and val_acc.
        title: figure title; save: optional PNG path.
    Returns:
        matplotlib.figure.Figure with two axes.
    """
    after, val, acc = (_series(history, k) for k in ("train_loss_after", "val_loss", "val_acc"))
    if val.size == 0 or after.size != val.size or acc.size != val.size:
        raise ValueError("history needs train_loss_after (eval_train=True), val_loss and val_acc of equal, "
                         f"non-zero length; got {after.size}, {val.size} and {acc.size}")
    x = _epochs(val.size)
    stop, best = int(np.argmin(val)), int(np.argmax(acc))
    with _style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.9), layout="constrained")
        left.plot(x, after, "-", color=TRAIN_COLOR, label="training loss")
        left.plot(x, val, "--", color=VAL_COLOR, label="validation loss")
        left.plot([x[stop]], [val[stop]], "o", ms=9, mfc="none", mec="k", mew=1.5,
                  label=f"minimum: epoch {x[stop]}, {val[stop]:.3f}")
        left.set_yscale("log")
        left.yaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
        left.set_ylabel(LOSS_LABEL + ", weights after epoch")
        left.set_title("Losses (log scale)")
        right.plot(x, 100 * acc, "-", color=VAL_COLOR, label="validation accuracy")
        right.axvline(x[stop], color="k", lw=1, ls=":", label=f"early stop (epoch {x[stop]}): "
                      f"{100 * acc[stop]:.2f}%")
        right.plot([x[best]], [100 * acc[best]], "*", ms=11, color=SAFE_COLORS[4],
                   label=f"best: epoch {x[best]}, {100 * acc[best]:.2f}%")
        right.plot([x[-1]], [100 * acc[-1]], "s", ms=6, color=VAL_COLOR,
                   label=f"last: epoch {x[-1]}, {100 * acc[-1]:.2f}%")
        lo = np.percentile(100 * acc, 5)
        right.set_ylim(lo - 0.5, 100 * acc.max() + 0.4)
        right.set_ylabel("validation accuracy (%)")
        right.set_title("Validation accuracy (zoomed)")
        for ax in (left, right):
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
            ax.legend(loc="best", fontsize=8)
        if title:
            fig.suptitle(title)
    return _finish(fig, save)


def lr_schedules(histories_by_label, *, eval_name="validation", title=None, save=None):
    """Learning-rate schedules: the rate of each epoch (left), accuracy per epoch (right).

    Args:
        histories_by_label: dict label -> list of Histories (seeds) of one setting; each
            History's ``epoch_lr`` gives the rates, its ``val_acc`` the accuracy (mean
            +- 1 std over the seeds).
        eval_name: "validation" or "test", what ``val_acc`` measured (labels only).
        title: figure title; save: optional PNG path.
    Returns:
        matplotlib.figure.Figure with two axes.
    """
    if not isinstance(histories_by_label, dict) or not histories_by_label:
        raise ValueError("histories_by_label must be a non-empty dict {label: [History, ...]}")
    if len(histories_by_label) > len(SAFE_COLORS):
        raise ValueError(f"lr_schedules draws at most {len(SAFE_COLORS)} settings, got {len(histories_by_label)}")
    with _style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.9), layout="constrained")
        for (label, hs), color, marker in zip(histories_by_label.items(), SAFE_COLORS, SAFE_MARKERS):
            hs = _as_list(hs, name=f"histories_by_label[{label!r}]")
            rates = _series(hs[0], "epoch_lr")
            left.step(_epochs(rates.size), rates, where="mid", color=color, marker=marker, ms=4, label=label)
            acc = 100 * _stack(hs, "val_acc")
            x = _epochs(acc.shape[1])
            mean, std = _mean_std(acc)
            right.plot(x, mean, "-", marker=marker, ms=4, color=color, label=label)
            if acc.shape[0] > 1:
                right.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)
        _log_y(left)
        left.set_ylabel("learning rate of the epoch (log scale)")
        left.set_title("The schedules")
        right.set_ylabel(f"{eval_name} accuracy after the epoch (%)")
        right.set_title(f"{eval_name[0].upper()}{eval_name[1:]} accuracy (mean $\\pm$ 1 std over seeds)")
        for ax in (left, right):
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
            ax.grid(True, which="both", alpha=0.25)
        fig.legend(*right.get_legend_handles_labels(), loc="outside right center")
        if title:
            fig.suptitle(title)
    return _finish(fig, save)


def activation_histograms(h_by_name, *, near=0.01, title=None, save=None):
    """Histograms of hidden activations h, one panel per initialisation (or network).

    Args:
        h_by_name: dict name -> array of hidden activations h in [0, 1] (any shape).
        near: the share of h within ``near`` of 0 or 1 (saturated: sigma' = h (1 - h)
            is then below about ``near``) is printed in each panel's title.
        title: figure title; save: optional PNG path.
    Returns:
        matplotlib.figure.Figure with one axes per entry.
    """
    if not isinstance(h_by_name, dict) or not h_by_name:
        raise ValueError("h_by_name must be a non-empty dict {name: array of h}")
    with _style():
        fig, axes = plt.subplots(1, len(h_by_name), figsize=(4.2 * len(h_by_name), 3.4), squeeze=False,
                                 sharey=True, layout="constrained")
        for ax, (name, h) in zip(axes[0], h_by_name.items()):
            h = np.asarray(h, dtype=np.float64).ravel()
            if h.size == 0 or np.any(~np.isfinite(h)) or h.min() < 0 or h.max() > 1:
                raise ValueError(f"h_by_name[{name!r}] must hold finite activations in [0, 1]")
            saturated = np.mean((h < near) | (h > 1 - near))
            ax.hist(h, bins=np.linspace(0, 1, 51), color=SAFE_COLORS[0], weights=np.full(h.size, 100 / h.size))
            ax.set_title(f"{name}: {100 * saturated:.0f}% within {near:g} of 0 or 1", fontsize=10)
            ax.set_xlabel("hidden activation h")
            ax.grid(True, alpha=0.3)
        axes[0, 0].set_ylabel("share of all h (%)")
        if title:
            fig.suptitle(title)
    return _finish(fig, save)


# ----------------------------------------------------- decision boundary ---

def _predictor(model):
    """A function X (M, 2) -> integer labels (M,) from a net or a callable."""
    if hasattr(model, "predict"):
        fn = model.predict
    elif callable(model):
        fn = model
    else:
        raise ValueError(f"model must be a network with .predict or a callable x -> labels, "
                         f"got {type(model).__name__}")

    def predict(points):
        out = np.asarray(fn(points))
        if out.ndim == 2:                   # class probabilities: take the likeliest class
            out = out.argmax(axis=1)
        if out.shape != (points.shape[0],):
            raise ValueError(f"model must return one label per point ({points.shape[0]}), "
                             f"got shape {out.shape}")
        return out.astype(np.int64)
    return predict


def plane_grid(x, resolution=200, margin=0.05):
    """A square grid over the bounding box of 2-D points, a little wider, for a model's picture.

    Args: x (N, 2) points; resolution, grid points per axis; margin, the fraction of
    the data's range added on every side (0: the bounding box itself).
    Returns (xx1, xx2, points): the (resolution, resolution) coordinate arrays of
    ``np.meshgrid`` (float64) and the same points as rows, (resolution**2, 2) of x's
    float dtype (float64 for integer x), ready for ``net.predict_proba(points)``.
    """
    lo, hi = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)
    xx1, xx2 = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                           np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    points = np.column_stack([xx1.ravel(), xx2.ravel()])
    return xx1, xx2, points.astype(x.dtype if x.dtype.kind == "f" else np.float64)


def decision_boundary(model, x, y, boundary=None, *, resolution=200, max_points=2000, seed=0,
                      margin=0.05, contour=False, title=None, ax=None, save=None):
    """Predicted class over the plane, the data on top, and the true boundary (2-D data).

    Args:
        model: an MLP (anything with ``.predict(x) -> (M,) int``) or a callable
            ``x (M, 2) -> labels (M,)`` (or probabilities (M, K)).
        x: float array (N, 2), the points; y: int array (N,), their labels.
        boundary: optional true class boundary: an (M, 2) array of points along it,
            or a callable returning one; drawn as a black dashed line.
        resolution: grid points per axis; the grid covers the data plus ``margin``
            (a fraction of the range) on every side.
        max_points: scatter at most this many points (a seeded random subsample).
        contour: also draw the model's own boundary, where its predicted class changes,
            as a solid black line (for two classes: where P(class 1) = 0.5).
        title, ax, save: as everywhere in this module.

    Returns:
        matplotlib.figure.Figure
    """
    x = check_inputs(x, "x", n_features=2)
    y = check_labels(np.asarray(y) if isinstance(y, (list, tuple)) else y,
                     np.iinfo(np.int64).max, "y", n_examples=x.shape[0])
    resolution = check_positive_int(resolution, "resolution", minimum=2)
    max_points = check_positive_int(max_points, "max_points")
    predict = _predictor(model)

    xx1, xx2, grid = plane_grid(x, resolution, margin)
    g1, g2 = xx1[0], xx2[:, 0]
    pred = predict(grid).reshape(xx1.shape)

    n_classes = int(max(y.max(), pred.max())) + 1
    if pred.min() < 0:
        raise ValueError(f"model returned negative class labels (min {int(pred.min())})")
    palette = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(n_classes)]
    contour = check_flag(contour, "contour")

    if boundary is not None:
        pts = np.asarray(boundary() if callable(boundary) else boundary, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 2:
            raise ValueError(f"boundary must be an (M, 2) array of points (M >= 2) or a callable "
                             f"returning one, got shape {pts.shape}")

    with _style():
        fig, ax = _axes(ax, figsize=(5.5, 5))
        # filled regions: one colour per predicted class (levels centred on the integers)
        ax.contourf(xx1, xx2, pred, levels=np.arange(n_classes + 1) - 0.5,
                    cmap=ListedColormap(palette), alpha=0.25)
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(x.shape[0], size=min(max_points, x.shape[0]), replace=False))
        for k in range(n_classes):
            sel = idx[y[idx] == k]
            if sel.size:
                ax.scatter(x[sel, 0], x[sel, 1], s=6, color=palette[k], alpha=0.7, lw=0,
                           label=f"class {k}")
        if boundary is not None:
            ax.plot(pts[:, 0], pts[:, 1], "k--", lw=1.5, label="true boundary")
        if contour and n_classes > 1:
            ax.contour(xx1, xx2, pred, levels=np.arange(n_classes - 1) + 0.5, colors="k",
                       linewidths=1.5)
            ax.plot([], [], "k-", lw=1.5, label="predicted boundary")   # legend entry for the contour
        ax.set_xlim(g1[0], g1[-1])
        ax.set_ylim(g2[0], g2[-1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        shown = f" ({idx.size:,} of {x.shape[0]:,} points)" if idx.size < x.shape[0] else ""
        ax.set_title(title or f"Predicted class (shaded) and data{shown}")
        ax.legend(loc="upper right", markerscale=2, framealpha=0.8, frameon=True)
    return _finish(fig, save)


# ----------------------------------------------------------------- digits ---

def _images(images, name="images"):
    """(N, side, side) float images from (N, side*side) or (N, side, side)."""
    if not isinstance(images, np.ndarray) or images.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a numpy array of pixels, shape (N, 784) or (N, 28, 28), "
                         f"got {type(images).__name__}")
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"{name} of shape {images.shape}: rows must be square images "
                             f"(784 = 28*28 pixels), got {images.shape[1]} pixels")
        images = images.reshape(images.shape[0], side, side)
    elif images.ndim != 3:
        raise ValueError(f"{name} must have shape (N, 784) or (N, 28, 28), got {images.shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty; give at least one image")
    return images


def _opt_labels(values, name, n):
    if values is None:
        return None
    values = np.asarray(values)
    check_labels(values, np.iinfo(np.int64).max, name)
    if values.shape[0] != n:
        raise ValueError(f"{name} must have one label per image ({n}), got {values.shape[0]}")
    return values


def digit_grid(images, labels=None, predictions=None, *, probabilities=None, n_cols=10, cmap="gray_r",
               title=None, save=None):
    """A grid of images with their labels (and predictions: wrong ones in red).

    Args:
        images: array (N, 784) or (N, 28, 28), pixels (MNIST: float32 in [0, 1]).
            Pass a slice, e.g. ``x[:30]``; every image is drawn.
        labels: int array (N,) or None; titles read "3".
        predictions: int array (N,) or None; with labels, titles read
            "true 3 / pred 5", in red when they differ.
        probabilities: float array (N,) in [0, 1] or None: the probability the network
            gave its prediction; shown under the title as "p = 0.97".
        n_cols: images per row.
        title: figure title; save: optional PNG path.

    Returns:
        matplotlib.figure.Figure with one (axis-less) axes per image.
    """
    images = _images(images)
    n = images.shape[0]
    labels = _opt_labels(labels, "labels", n)
    predictions = _opt_labels(predictions, "predictions", n)
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if probabilities.shape[0] != n or np.any(~(probabilities >= 0)) or np.any(probabilities > 1):
            raise ValueError(f"probabilities must be {n} numbers in [0, 1], one per image")
    n_cols = min(check_positive_int(n_cols, "n_cols"), n)
    n_rows = -(-n // n_cols)
    lo, hi = float(images.min()), float(images.max())
    vmin, vmax = (0.0, 1.0) if lo >= 0 and hi <= 1 else (lo, hi)
    with _style():
        tall = 0.15 * (probabilities is not None)
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(0.95 * n_cols, (1.1 + tall) * n_rows + 0.3 * bool(title)),
                                 squeeze=False)
        for i, ax in enumerate(axes.ravel()):
            if i >= n:
                fig.delaxes(ax)                 # no empty boxes after the last image
                continue
            ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_axis_off()
            if labels is not None and predictions is not None:
                wrong = labels[i] != predictions[i]
                ax.set_title(f"true {labels[i]} / pred {predictions[i]}"
                             + ("" if probabilities is None else f"\np = {probabilities[i]:.2f}"),
                             fontsize=7, color="red" if wrong else "black")
            elif labels is not None:
                ax.set_title(f"{labels[i]}", fontsize=8)
            elif predictions is not None:
                ax.set_title(f"pred {predictions[i]}", fontsize=7)
        if title:
            fig.suptitle(title)
        fig.tight_layout(pad=0.3)
    return _finish(fig, save)


# ------------------------------------------------------- confusion matrix ---

def confusion_matrix(y_true, y_pred, n_classes=None):
    """Counts of (true class, predicted class) pairs.

    Args:
        y_true, y_pred: int arrays (N,) (lists are accepted), labels in [0, K).
        n_classes: K; default 1 + the largest label in either.

    Returns:
        int64 array (K, K): entry [i, j] counts examples of true class i predicted j
        (rows true, columns predicted; the diagonal is correct).
    """
    y_true = np.asarray(y_true) if isinstance(y_true, (list, tuple)) else y_true
    y_pred = np.asarray(y_pred) if isinstance(y_pred, (list, tuple)) else y_pred
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        check_labels(v, np.iinfo(np.int64).max, name)        # array, 1-D, integer, >= 0
        if v.size == 0:
            raise ValueError(f"{name} is empty; give at least one label")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"y_true and y_pred must have the same length, got {y_true.shape[0]} "
                         f"and {y_pred.shape[0]}")
    if n_classes is None:
        n_classes = int(max(y_true.max(), y_pred.max())) + 1
    else:
        n_classes = check_positive_int(n_classes, "n_classes")
        check_labels(y_true, n_classes, "y_true")
        check_labels(y_pred, n_classes, "y_pred")
    # pair (i, j) -> cell i*K + j, then count each cell
    cells = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def plot_confusion_matrix(y_true, y_pred, n_classes=None, *, normalize=False, mistakes_only=False,
                          cmap="Blues", title=None, ax=None, save=None):
    """The confusion matrix as an image, every cell annotated with its count.

    Args:
        y_true, y_pred, n_classes: as in ``confusion_matrix``.
        normalize: colour by the fraction of each true class (row) instead of
            counts; cells then read "count" over "percent".
        mistakes_only: colour only the off-diagonal cells (the mistakes), so the colour
            scale is not used up by the diagonal's large counts; the diagonal is drawn
            grey with its count (and percent, with normalize).
        cmap, title, ax, save: as everywhere in this module.

    Returns:
        matplotlib.figure.Figure (rows: true class t, columns: predicted class).
    """
    counts = confusion_matrix(y_true, y_pred, n_classes)
    k = counts.shape[0]
    rows = counts.sum(axis=1, keepdims=True)
    frac = counts / np.maximum(rows, 1)
    shown = (100 * frac if mistakes_only else frac) if normalize else counts
    accuracy = np.trace(counts) / counts.sum()
    diagonal = np.eye(k, dtype=bool)
    with _style():
        fig, ax = _axes(ax, figsize=(5.5, 4.8) if k > 4 else (4, 3.5))
        if mistakes_only:
            ax.imshow(np.where(diagonal, 1.0, np.nan), cmap=ListedColormap(["0.85"]), vmin=0, vmax=1,
                      interpolation="nearest")
            colored = np.ma.masked_where(diagonal, shown)
        else:
            colored = shown
        im = ax.imshow(colored, cmap=cmap, vmin=0, interpolation="nearest")
        what = "% of true class" if normalize and mistakes_only else \
            "fraction of true class" if normalize else "count"
        fig.colorbar(im, ax=ax, shrink=0.85, label=what + (" (mistakes)" if mistakes_only else ""))
        threshold = (colored.max() if mistakes_only else shown.max()) / 2
        size = 8 if k <= 10 else 6
        for i in range(k):
            for j in range(k):
                text = f"{counts[i, j]}" + (f"\n{100 * frac[i, j]:.0f}%" if normalize and not mistakes_only
                                            else f"\n{100 * frac[i, j]:.1f}%" if normalize and i == j else "")
                dark = not (mistakes_only and i == j) and shown[i, j] > threshold
                ax.text(j, i, text, ha="center", va="center", fontsize=size if i != j or not normalize else size - 1,
                        color="white" if dark else "black")
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.spines[:].set_visible(False)
        ax.set_title(title or f"Confusion matrix (accuracy {100 * accuracy:.2f}%)")
    return _finish(fig, save)


# -------------------------------------------------------- first-layer weights ---

def weight_images(W, n=16, *, shape=(28, 28), n_cols=8, cmap="RdBu_r", title=None, save=None):
    """First-layer weights as images: column j of W (D, H) is hidden unit j's template.

    Args:
        W: array (D, H), or a network (its ``params['W']`` is used); D == prod(shape).
        n: number of hidden units to show (the first n columns).
        shape: image shape (28, 28) for MNIST.
        n_cols: images per row; cmap: a diverging colormap.
        title, save: as everywhere in this module.

    One colour scale for all images, symmetric about 0 (red positive, blue
    negative with RdBu_r), with a colorbar.

    Returns:
        matplotlib.figure.Figure with n image axes and one colorbar axes.
    """
    if hasattr(W, "params"):
        W = W.params["W"]
    W = check_inputs(W, "W")
    side = tuple(int(s) for s in shape)
    if len(side) != 2 or int(np.prod(side)) != W.shape[0]:
        raise ValueError(f"W has {W.shape[0]} rows (inputs), which cannot be reshaped to shape {shape}")
    n = min(check_positive_int(n, "n"), W.shape[1])
    n_cols = min(check_positive_int(n_cols, "n_cols"), n)
    n_rows = -(-n // n_cols)
    vmax = float(np.abs(W[:, :n]).max()) or 1.0
    with _style():
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.1 * n_cols + 0.8, 1.15 * n_rows + 0.4),
                                 squeeze=False, layout="constrained")
        im = None
        for j, ax in enumerate(axes.ravel()):
            if j >= n:
                fig.delaxes(ax)
                continue
            im = ax.imshow(W[:, j].reshape(side), cmap=cmap, vmin=-vmax, vmax=vmax,
                           interpolation="nearest")
            ax.set_axis_off()
            ax.set_title(f"unit {j}", fontsize=7)
        fig.colorbar(im, ax=[a for a in axes.ravel()[:n]], shrink=0.8, label="weight $W_{ij}$")
        fig.suptitle(title or f"First-layer weights W: {n} hidden unit{'s' * (n > 1)}")
    return _finish(fig, save)


# ------------------------------------------------------------- histograms ---

def _sample(values, name):
    """Any array-like of finite real numbers -> a flat float64 array (at least one value)."""
    try:
        a = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {type(values).__name__}") from None
    return check_inputs(a, name).ravel()


def histograms(samples, *, labels=None, bins=50, range=None, density=True, xlabel="value",
               log=False, title=None, ax=None, save=None):
    """Overlaid step histograms of several samples (e.g. hidden activations h per init).

    Args:
        samples: an array, or a list of arrays (any shapes; each is flattened).
        labels: one str per sample (default "sample i").
        bins: number of equal-width bins (int >= 1), shared by all samples.
        range: (lo, hi) of the bins; default the smallest and largest value seen.
        density: True: each histogram integrates to 1; False: raw counts.
        xlabel: the x-axis label.
        log: a logarithmic y axis (to see small counts beside a tall bin).
        title, ax, save: as everywhere in this module.

    Returns:
        matplotlib.figure.Figure
    """
    if isinstance(samples, np.ndarray) or not isinstance(samples, (list, tuple)):
        samples = [samples]
    if len(samples) == 0:
        raise ValueError("samples must be an array or a non-empty list of arrays, got an empty list")
    arrays = [_sample(s, f"samples[{i}]") for i, s in enumerate(samples)]
    if labels is not None and len(labels) != len(arrays):
        raise ValueError(f"labels must have one entry per sample ({len(arrays)}), got {len(labels)}")
    bins = check_positive_int(bins, "bins")
    if range is None:
        lo, hi = min(a.min() for a in arrays), max(a.max() for a in arrays)
        if lo == hi:                               # one value everywhere: a bin around it
            lo, hi = lo - 0.5, hi + 0.5
    else:
        try:
            lo, hi = (float(v) for v in range)
        except (TypeError, ValueError):
            raise ValueError(f"range must be None or a pair (lo, hi) of numbers, got {range!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"range must be (lo, hi) with finite lo < hi, got {range!r}")
    edges = np.linspace(lo, hi, bins + 1)
    with _style():
        fig, ax = _axes(ax)
        for i, a in enumerate(arrays):
            label = labels[i] if labels is not None else f"sample {i + 1}"
            ax.hist(a, bins=edges, density=density, histtype="step", lw=1.5, color=f"C{i % 10}",
                    label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("density" if density else "count")
        if log:
            ax.set_yscale("log")
        ax.set_title(title or "Histograms")
        ax.grid(True, alpha=0.3)
        ax.legend()
    return _finish(fig, save)
