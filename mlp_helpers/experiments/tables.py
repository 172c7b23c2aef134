"""What the runs say, as numbers and as tables: groupings, summaries over seeds, the report beside ours.

Runs (``{RunConfig: History}``, from :func:`mlp_helpers.experiments.run_many`) become
numbers here -- :func:`settings` and :func:`histories_by_lr` group them,
:func:`summarize` gives the mean and standard deviation over seeds per setting,
:func:`choose_lr` / :func:`choose_setting` pick the final model's by validation
accuracy, :func:`sampling_error` says how finely an accuracy can be read -- and
numbers become text: :func:`format_table`, :func:`epoch_table`, :func:`summary_table`,
and :func:`comparison_table`, which sets them beside the report's printed numbers,
:data:`REPORT`. Notebook 04 reaches all of these as ``experiments.<name>`` too.
"""
import dataclasses
import math
from types import MappingProxyType

import numpy as np

from .._checks import check_positive_int

__all__ = ["REPORT", "settings", "histories_by_lr", "epoch_mean_std", "final_metrics", "summarize",
           "choose_setting", "choose_lr", "sampling_error", "format_table", "epoch_table",
           "summary_table", "report_numbers", "comparison_table"]


# --------------------------------------------------------------------------- summaries

def settings(runs, final=False):
    """Group runs that differ only in their seed.

    Args:
        runs: mapping {RunConfig: History} (e.g. a Runs).
        final: keep only configs with this ``final`` flag (validation runs by default).
    Returns:
        dict {setting: [RunConfig, ...]}: the setting is the config with seed 0 (it names
        everything but the seed); settings in order of lr, then of their other fields;
        each list ordered by seed.
    """
    groups = {}
    for config in sorted(runs, key=_sort_key):
        if config.final == final:
            groups.setdefault(dataclasses.replace(config, seed=0), []).append(config)
    return groups


def _sort_key(config):
    return (config.lr, config.init, config.lr_schedule or (), config.n_train or 0, config.epochs,
            config.batch_size, config.n_hidden, config.eval_train, config.seed)


def _configs_by_lr(runs, final):
    """{lr: [configs by seed]}, refusing two settings at one rate (they would be mixed)."""
    groups = {}
    for setting, configs in settings(runs, final).items():
        if setting.lr in groups:
            other = dataclasses.replace(groups[setting.lr][0], seed=0)
            fields = [f.name for f in dataclasses.fields(setting)
                      if getattr(other, f.name) != getattr(setting, f.name)]
            raise ValueError(
                f"runs holds two settings at lr {setting.lr:g} that differ in {', '.join(fields)}: "
                "grouping by lr would mix them; pass one experiment's runs (ex.select(runs, configs))")
        groups[setting.lr] = configs
    return groups


def histories_by_lr(runs, final=False):
    """Group runs by learning rate.

    Args:
        runs: mapping {RunConfig: History} (e.g. a Runs) with one setting per rate
            (runs that differ in more than lr and seed: pass ``select(runs, configs)``).
        final: keep only configs with this ``final`` flag (validation runs by default).
    Returns:
        dict {lr: [History, ...]} with rates ascending and each list ordered by seed.
    """
    return {lr: [runs[config] for config in configs]
            for lr, configs in _configs_by_lr(runs, final).items()}


def epoch_mean_std(histories, key):
    """Mean and standard deviation over runs of a per-epoch History field.

    Args:
        histories: list of History, all with the same number of epochs.
        key: "train_loss", "val_loss", "val_acc", "train_loss_after" or "train_acc_after".
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
        dict with float ``train_loss`` (mean over the last epoch, as seen during it),
        ``train_loss_after`` (on the training set with the final weights; NaN unless the
        run had ``eval_train``), ``val_loss`` and ``val_acc`` (after the last epoch;
        val_acc in [0, 1]), and bool ``diverged``. A diverged run, or one without
        validation data, reports NaN where it has no value.
    """
    def last(values):
        return float(values[-1]) if len(values) else math.nan

    return {
        "train_loss": last(history.train_loss),
        "train_loss_after": last(getattr(history, "train_loss_after", [])),
        "val_loss": last(history.val_loss),
        "val_acc": last(history.val_acc),
        "diverged": bool(history.diverged),
    }


def summarize(runs, final=False):
    """Final validation numbers per setting (one per learning rate, usually), mean +- std over seeds.

    Args:
        runs: mapping {RunConfig: History}; final: which kind of runs to summarise.
    Returns:
        list of dicts, one per setting (see ``settings``; lr ascending), with keys lr,
        label (``RunConfig.label`` of the setting), runs (count), seeds,
        train_loss_mean/_std, train_loss_after_mean/_std (NaN without eval_train),
        val_loss_mean/_std, val_acc_mean/_std (accuracy in [0, 1]; std over seeds with
        ddof=1, 0 for a single run) and diverged (count).
    """
    rows = []
    for setting, configs in settings(runs, final).items():
        metrics = [final_metrics(runs[config]) for config in configs]
        row = {"lr": setting.lr, "label": setting.label, "runs": len(configs),
               "seeds": [config.seed for config in configs]}
        for key in ("train_loss", "train_loss_after", "val_loss", "val_acc"):
            values = np.array([m[key] for m in metrics], dtype=np.float64)
            row[f"{key}_mean"] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        row["diverged"] = sum(m["diverged"] for m in metrics)
        rows.append(row)
    return rows


def _rank(row):
    """Sort key of a summary row: no divergence, then accuracy, then loss, then rate."""
    def finite_or(value, worst):
        return value if math.isfinite(value) else worst

    return (row["diverged"] > 0,
            -round(finite_or(row["val_acc_mean"], -math.inf), 9),
            finite_or(row["val_loss_mean"], math.inf),
            row["lr"])


def choose_setting(runs):
    """The setting with the best mean final validation accuracy over its seeds.

    Ranked as in ``choose_lr``, over every setting in ``runs`` (e.g. constant rates and
    learning-rate schedules side by side).

    Args:
        runs: mapping {RunConfig: History} of validation runs (``final=False``).
    Returns:
        RunConfig with seed 0: the chosen setting (``dataclasses.replace(it, seed=s)``
        gives its run with seed s).
    """
    groups = settings(runs)
    if not groups:
        raise ValueError("runs holds no validation runs (final=False) to choose from")
    rows = summarize(runs)
    best = min(range(len(rows)), key=lambda i: _rank(rows[i]))
    return list(groups)[best]


def choose_lr(runs):
    """The learning rate with the best mean final validation accuracy over its seeds.

    Ties in mean accuracy (equal to 1e-9) go to the lower mean validation loss, then
    to the smaller rate. A rate with a diverged run ranks below every rate without one.

    Args:
        runs: mapping {RunConfig: History} of validation runs (``final=False``), one
            setting per rate (else ``select`` one experiment's runs first).
    Returns:
        float, the chosen lr.
    """
    _configs_by_lr(runs, final=False)  # one setting per rate, or a clear error
    rows = summarize(runs)
    if not rows:
        raise ValueError("runs holds no validation runs (final=False) to choose a learning rate from")
    return min(rows, key=_rank)["lr"]


def sampling_error(accuracy, n):
    """The binomial standard error sqrt(p (1 - p) / n) of an accuracy p measured on n examples.

    Even a fixed network's accuracy on n images drawn from the same source would vary
    by about this much from one set of n images to another; it is the resolution of an
    accuracy measured on that set (about 0.0024 at p = 0.97 on 5,000 images, 0.0017 on
    10,000).

    Args:
        accuracy: float (or array) in [0, 1]; n: int >= 1, the images it was measured on.
    Returns:
        float (or array) in [0, 0.5], in the units of ``accuracy``.
    """
    n = check_positive_int(n, "n")
    p = np.asarray(accuracy, dtype=np.float64)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"accuracy must be in [0, 1], got {accuracy!r}")
    error = np.sqrt(p * (1 - p) / n)
    return float(error) if error.ndim == 0 else error


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


def _has(histories, key):
    return all(len(getattr(h, key, ())) for h in histories)


def epoch_table(histories, eval_name="val"):
    """Per-epoch numbers as text: training loss, validation loss, validation accuracy (%).

    Args:
        histories: one History (its values), or a list of Histories of equal length
            (mean ± std over them, as in ``epoch_mean_std``).
        eval_name: what the History's "val" fields hold: "val" (validation set) or
            "test" (a final model, evaluated on the test set). Only the headers change.
    Returns:
        str, one line per epoch. With ``train_loss_after`` in every History (runs with
        eval_train), a column of the training loss at the weights after the epoch,
        the same weights as the validation (test) loss beside it.
    """
    eval_name = _check_eval_name(eval_name)
    many = isinstance(histories, (list, tuple))
    histories = list(histories) if many else [histories]
    keys = ["train_loss"] + (["train_loss_after"] if _has(histories, "train_loss_after") else [])
    keys += ["val_loss", "val_acc"]
    columns = {key: epoch_mean_std(histories, key) for key in keys}

    def cell(key, e, scale=1.0, digits=4):
        mean, std = columns[key][0][e], columns[key][1][e]
        return _pm(mean, std, scale, digits) if many else f"{mean * scale:.{digits}f}"

    rows = [{key: cell(key, e, *((100, 2) if key == "val_acc" else ())) for key in keys} | {"epoch": e + 1}
            for e in range(len(columns["train_loss"][0]))]
    headers = {"train_loss": "train loss (mean during epoch)",
               "train_loss_after": "train loss (after epoch)",
               "val_loss": f"{eval_name} loss (after epoch)", "val_acc": f"{eval_name} acc %"}
    return format_table(rows, [("epoch", "epoch")] + [(key, headers[key]) for key in keys])


def _check_eval_name(eval_name):
    if eval_name not in ("val", "test"):
        raise ValueError(f"eval_name must be 'val' or 'test', got {eval_name!r}")
    return eval_name


def summary_table(rows, eval_name="val", n_eval=None):
    """``summarize``'s rows as text: setting, runs, final losses and accuracy (%) mean ± std.

    Args:
        rows: ``summarize`` output.
        eval_name: "val" or "test", what the runs were evaluated on (headers only).
        n_eval: None, or the number of images the accuracy was measured on: adds a
            column with its binomial sampling error (``sampling_error``), in points,
            beside the spread over seeds.
    Returns:
        str. The first column is the lr, or the setting's label when some row is more
        than a learning rate; a training-loss column at the final weights is added when
        the runs had eval_train.
    """
    eval_name = _check_eval_name(eval_name)
    labels = any(row.get("label", f"lr {row['lr']:g}") != f"lr {row['lr']:g}" for row in rows)
    after = bool(rows) and all(math.isfinite(row.get("train_loss_after_mean", math.nan)) for row in rows)
    table = [{"lr": row["label"] if labels else f"{row['lr']:g}", "runs": row["runs"],
              "train_loss": _pm(row["train_loss_mean"], row["train_loss_std"], digits=4),
              "train_loss_after": _pm(row.get("train_loss_after_mean", math.nan),
                                      row.get("train_loss_after_std", math.nan), digits=4),
              "val_loss": _pm(row["val_loss_mean"], row["val_loss_std"], digits=4),
              "val_acc": _pm(row["val_acc_mean"], row["val_acc_std"], scale=100),
              "binomial": None if n_eval is None else
                          f"{100 * sampling_error(row['val_acc_mean'], n_eval):.2f}"}
             for row in rows]
    columns = [("lr", "setting" if labels else "lr"), ("runs", "runs"),
               ("train_loss", "train loss (mean during last epoch)")]
    if after:
        columns.append(("train_loss_after", "train loss (final weights)"))
    columns += [("val_loss", f"{eval_name} loss"),
                ("val_acc", f"{eval_name} acc % (mean ± std over seeds)")]
    if n_eval is not None:
        columns.append(("binomial", f"sampling error ± (n={n_eval:,})"))
    return format_table(table, columns, left=["lr"] if labels else ())


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
