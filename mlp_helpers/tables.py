"""The experiments' numbers and tables: summaries over seeds, the chosen rate, the report beside ours.

Runs (``{RunConfig: History}``, from :func:`mlp_helpers.experiments.run_many`) become
numbers here: :func:`histories_by_lr` groups them, :func:`summarize` gives the mean
and standard deviation over seeds per learning rate, :func:`choose_lr` picks the rate
for the final model by validation accuracy; and numbers become text:
:func:`format_table`, :func:`epoch_table`, :func:`summary_table`, and
:func:`comparison_table`, which sets them beside the report's printed numbers,
:data:`REPORT`. Notebook 04 reaches all of these as ``experiments.<name>`` too.
"""
import math
from types import MappingProxyType

import numpy as np

__all__ = ["REPORT", "histories_by_lr", "epoch_mean_std", "final_metrics", "summarize", "choose_lr",
           "format_table", "epoch_table", "summary_table", "report_numbers", "comparison_table"]
# --------------------------------------------------------------------------- summaries

def histories_by_lr(runs, final=False):
    """Group runs by learning rate.

    Args:
        runs: mapping {RunConfig: History} (e.g. a Runs).
        final: keep only configs with this ``final`` flag (validation runs by default).
    Returns:
        dict {lr: [History, ...]} with rates ascending and each list ordered by seed.
    """
    return {lr: [runs[config] for config in configs]
            for lr, configs in _configs_by_lr(runs, final).items()}


def _configs_by_lr(runs, final):
    groups = {}
    for config in sorted(runs, key=lambda c: (c.lr, c.seed, c.epochs, c.batch_size, c.n_hidden)):
        if config.final == final:
            groups.setdefault(config.lr, []).append(config)
    return groups


def epoch_mean_std(histories, key):
    """Mean and standard deviation over runs of a per-epoch History field.

    Args:
        histories: list of History, all with the same number of epochs.
        key: "train_loss", "val_loss" or "val_acc".
    Returns:
        (mean, std): float64 arrays of shape (epochs,). std is the sample standard
        deviation over runs (ddof=1); a single run has no spread and gets zeros.
    """
    values = [list(getattr(h, key)) for h in histories]
    if not values:
        raise ValueError("histories is empty; give at least one History")
    lengths = {len(v) for v in values}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"every History needs the same, non-zero number of {key} values, "
                         f"got lengths {sorted(len(v) for v in values)}")
    table = np.asarray(values, dtype=np.float64)  # (runs, epochs)
    std = table.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(table.shape[1])
    return table.mean(axis=0), std


def final_metrics(history):
    """The numbers a run ends with.

    Returns:
        dict with float ``train_loss`` (mean over the last epoch), ``val_loss`` and
        ``val_acc`` (after the last epoch; val_acc in [0, 1]), and bool ``diverged``.
        A diverged run, or one without validation data, reports NaN where it has no value.
    """
    def last(values):
        return float(values[-1]) if len(values) else math.nan

    return {
        "train_loss": last(history.train_loss),
        "val_loss": last(history.val_loss),
        "val_acc": last(history.val_acc),
        "diverged": bool(history.diverged),
    }


def summarize(runs, final=False):
    """Final validation numbers per learning rate, mean +- std over seeds.

    Args:
        runs: mapping {RunConfig: History}; final: which kind of runs to summarise.
    Returns:
        list of dicts, one per lr ascending, with keys lr, runs (count), seeds,
        train_loss_mean/_std, val_loss_mean/_std, val_acc_mean/_std (accuracy in
        [0, 1]; std over seeds with ddof=1, 0 for a single run) and diverged (count).
    """
    rows = []
    for lr, configs in _configs_by_lr(runs, final).items():
        metrics = [final_metrics(runs[config]) for config in configs]
        row = {"lr": lr, "runs": len(configs), "seeds": [config.seed for config in configs]}
        for key in ("train_loss", "val_loss", "val_acc"):
            values = np.array([m[key] for m in metrics], dtype=np.float64)
            row[f"{key}_mean"] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        row["diverged"] = sum(m["diverged"] for m in metrics)
        rows.append(row)
    return rows


def choose_lr(runs):
    """The learning rate with the best mean final validation accuracy over its seeds.

    Ties in mean accuracy (equal to 1e-9) go to the lower mean validation loss, then
    to the smaller rate. A rate with a diverged run ranks below every rate without one.

    Args:
        runs: mapping {RunConfig: History} of validation runs (``final=False``).
    Returns:
        float, the chosen lr.
    """
    rows = summarize(runs)
    if not rows:
        raise ValueError("runs holds no validation runs (final=False) to choose a learning rate from")

    def finite_or(value, worst):
        return value if math.isfinite(value) else worst

    def rank(row):
        return (row["diverged"] > 0,
                -round(finite_or(row["val_acc_mean"], -math.inf), 9),
                finite_or(row["val_loss_mean"], math.inf),
                row["lr"])

    return min(rows, key=rank)["lr"]


# --------------------------------------------------------------------------- tables

def _cell(value, fmt):
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt) if fmt else str(value)


def format_table(rows, columns=None, formats=None, left=()):
    """A plain-text table that prints well in a notebook or a terminal.

    Args:
        rows: list of dicts.
        columns: list of (key, header) pairs or keys; default: the first row's keys.
        formats: optional {key: format spec}, e.g. {"val_acc": ".2%"}.
        left: keys of columns to align left (labels); the others align right (numbers).
    Returns:
        str: a header line, a rule, then one line per row.
    """
    if columns is None:
        columns = list(rows[0]) if rows else []
    columns = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    formats = formats or {}
    cells = [[header for _, header in columns]]
    cells += [[_cell(row.get(key), formats.get(key, "")) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    align = [str.ljust if key in left else str.rjust for key, _ in columns]
    lines = ["  ".join(pad(text, width) for text, width, pad in zip(line, widths, align)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _pm(mean, std, scale=1.0, digits=2):
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def epoch_table(histories):
    """Per-epoch numbers as text: training loss, validation loss, validation accuracy (%).

    Args:
        histories: one History (its values), or a list of Histories of equal length
            (mean ± std over them, as in ``epoch_mean_std``).
    Returns:
        str, one line per epoch.
    """
    many = isinstance(histories, (list, tuple))
    histories = list(histories) if many else [histories]
    columns = {key: epoch_mean_std(histories, key) for key in ("train_loss", "val_loss", "val_acc")}

    def cell(key, e, scale=1.0, digits=4):
        mean, std = columns[key][0][e], columns[key][1][e]
        return _pm(mean, std, scale, digits) if many else f"{mean * scale:.{digits}f}"

    rows = [{"epoch": e + 1, "train": cell("train_loss", e), "val": cell("val_loss", e),
             "acc": cell("val_acc", e, scale=100, digits=2)}
            for e in range(len(columns["train_loss"][0]))]
    return format_table(rows, [("epoch", "epoch"), ("train", "train loss (mean during epoch)"),
                               ("val", "val loss (after epoch)"), ("acc", "val acc %")])


def summary_table(rows):
    """``summarize``'s rows as text: lr, runs, final val loss and val accuracy (%) mean ± std."""
    table = [{"lr": f"{row['lr']:g}", "runs": row["runs"],
              "train_loss": _pm(row["train_loss_mean"], row["train_loss_std"], digits=4),
              "val_loss": _pm(row["val_loss_mean"], row["val_loss_std"], digits=4),
              "val_acc": _pm(row["val_acc_mean"], row["val_acc_std"], scale=100)}
             for row in rows]
    return format_table(table, [("lr", "lr"), ("runs", "runs"),
                                ("train_loss", "train loss (last epoch)"),
                                ("val_loss", "val loss"), ("val_acc", "val acc %")])


# --------------------------------------------------------------------------- the report

#: The numbers the report prints, exactly as printed (accuracies in percent): ``val_acc``
#: {lr: percent} (experiment 3), ``exp1_val_acc`` (experiment 1's accuracy at lr 0.01,
#: which differs from experiment 3's figure for the same rate), ``final_test_acc``
#: (experiment 4), and the final model's learning rate as named in the text and in the
#: caption of figure 7 (they disagree). Read-only; :func:`report_numbers` gives a copy.
REPORT = MappingProxyType({
    "val_acc": MappingProxyType({0.001: 89.82, 0.003: 94.8, 0.01: 92.60, 0.03: 96.14}),
    "exp1_val_acc": 91.2,
    "final_test_acc": 91.55,
    "final_lr_text": 0.003,
    "final_lr_caption": 0.01,
    "runs_per_setting": 1,
    "epochs": 5,
})


def report_numbers():
    """:data:`REPORT` as a plain dict (a fresh copy, to change freely)."""
    return {k: dict(v) if isinstance(v, MappingProxyType) else v for k, v in REPORT.items()}


def comparison_table(rows, final_lr, final_test_acc, report=None):
    """This notebook's numbers next to the report's, one row per lr and one for the final model.

    Args:
        rows: ``summarize`` output (validation runs).
        final_lr: float, the rate this notebook chose for its final model.
        final_test_acc: float in [0, 1], its test accuracy, or a list of them (one per
            seed: shown as mean ± std).
        report: a dict like :data:`REPORT` (the default).
    Returns:
        list of dicts with keys setting, report (percent, str), ours (percent, mean ±
        std over seeds for validation rows), difference (ours - report, points).
    """
    report = REPORT if report is None else report
    table = []
    for row in rows:
        printed = report["val_acc"].get(row["lr"])
        ours = 100 * row["val_acc_mean"]
        table.append({
            "setting": f"val, lr {row['lr']:g}",
            "report": "-" if printed is None else f"{printed:.2f}",
            "ours": _pm(row["val_acc_mean"], row["val_acc_std"], scale=100)
                    + f" (n={row['runs']})",
            "difference": "-" if printed is None else f"{ours - printed:+.2f}",
        })
    accs = np.atleast_1d(np.asarray(final_test_acc, dtype=np.float64))
    ours = 100 * accs.mean()
    spread = accs.std(ddof=1) if accs.size > 1 else 0.0
    table.append({
        "setting": (f"test, final model (lr: report {report['final_lr_text']:g} in text, "
                    f"{report['final_lr_caption']:g} in caption; ours {final_lr:g})"),
        "report": f"{report['final_test_acc']:.2f}",
        "ours": (_pm(accs.mean(), spread, scale=100) if accs.size > 1 else f"{ours:.2f}")
                + f" (n={accs.size})",
        "difference": f"{ours - report['final_test_acc']:+.2f}",
    })
    return table
