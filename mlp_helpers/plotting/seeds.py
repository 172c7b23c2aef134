"""Runs over seeds (notebook 04, experiment 2): mean and std bands, the spread, two readings of a band."""
import matplotlib.pyplot as plt
import numpy as np

from .style import (LOSS_LABEL, TRAIN_COLOR, VAL_COLOR, _as_list, _axes, _band, _epochs, _finish,
                    _key_label, _keys, _mean_std, _running_x, _stack, _style, _ylabel)


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
        title, ax, save: as everywhere in mlp_helpers.plotting.

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
