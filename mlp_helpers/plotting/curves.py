"""Loss curves of one training run (notebooks 01-04): per epoch, running, and the minibatch gradient noise (03)."""
import numbers

import matplotlib.pyplot as plt
import numpy as np

from .._checks import check_positive_int
from .style import (LOSS_LABEL, TRAIN_COLOR, VAL_COLOR, _as_list, _axes, _epochs, _field, _finish,
                    _running_x, _series, _style, log_axis)


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
        title, ax, save: as everywhere in mlp_helpers.plotting.

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



# ------------------------------------------------- minibatch gradient noise ---

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
    from ..gradnoise import minibatch_variance

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
