"""Learning rates (notebook 04): comparison, panels, accuracy against lr, early stopping, schedules."""
import numbers

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import LogLocator, NullFormatter

from .._checks import check_positive_int
from .style import (LOSS_LABEL, SAFE_COLORS, SAFE_MARKERS, TRAIN_COLOR, VAL_COLOR, _as_list, _axes, _band,
                    _epochs, _finish, _key_label, _keys, _mean_std, _series, _stack, _style, _ylabel)


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
        title, ax, save: as everywhere in mlp_helpers.plotting.

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
        title, ax, save: as everywhere in mlp_helpers.plotting.
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
