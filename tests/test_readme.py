"""The README is a front page, the documents' links resolve, and the README's MNIST table
says what results/ says.

Fast: nothing is trained. The results are read with the package's own loader from a copy
of results/mnist_experiments.json alone, so the networks' .npz beside the original is
never opened, and the tables are built from them as notebook 04 builds them.
"""
import math
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from mlp_helpers import experiments as ex
from mlp_helpers.experiments import RunConfig

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "results" / "mnist_experiments.json"
MAX_README_LINES = 120

# notebook 04's grid (its cell "LRS = ..."): the learning rates of experiment 3 and the seeds
LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
SEEDS = [0, 1, 2]
TABLE_HEADER = "| learning rate | report | this kit |"


def documents():
    """The Markdown files whose links are checked: the README, docs/*.md, benchmarks/README.md."""
    return [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]


# --------------------------------------------------------------------------- front page

def test_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines, at most {MAX_README_LINES}"


def test_readme_links_every_document_it_moved_detail_to():
    text = README.read_text(encoding="utf-8")
    for target in ("docs/developers.md", "docs/speed.md", "docs/instructors.md", "benchmarks/README.md"):
        assert f"]({target}" in text, f"README.md does not link {target}"


# --------------------------------------------------------------------------- links

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.I)
_HTML_ID = re.compile(r"<[a-z][^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _without_code(text):
    """Markdown text with fenced blocks and code spans blanked: links there are not links."""
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return _CODE_SPAN.sub("", text)


def github_slug(heading):
    """The anchor GitHub gives a heading (github-slugger): the rendered text, lower-case,
    punctuation dropped, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)      # a link: its text
    text = re.sub(r"<[^>]+>", "", text)                             # inline HTML
    text = re.sub(r"(\*{1,3}|_{1,3})(\S(?:.*?\S)?)\1", r"\2", text)  # emphasis
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)                            # \w: letters, digits, _
    return text.replace(" ", "-")


def anchors(path):
    """Every #anchor of a Markdown file: its headings' slugs (repeats get -1, -2, ...) and HTML ids."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    seen, out = {}, set()
    for heading in _HEADING.findall(text):
        slug = github_slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out | set(_HTML_ID.findall(text))


def links(text):
    """The link targets of a Markdown text, outside code: inline, reference-style and HTML."""
    text = _without_code(text)
    return _INLINE_LINK.findall(text) + _REFERENCE.findall(text) + _HTML_LINK.findall(text)


def link_errors(path, text=None):
    """What is wrong with the relative links of the Markdown file ``path`` (its text, or ``text``)."""
    text = path.read_text(encoding="utf-8") if text is None else text
    errors = []
    for target in links(text):
        if not target or _SCHEME.match(target) or target.startswith("//"):
            continue                                    # a web address: not checked here
        file_part, _, anchor = target.partition("#")
        where = f"{path.relative_to(ROOT)}: link {target!r}"
        resolved = (path.parent / unquote(file_part)).resolve() if file_part else path
        try:
            resolved.relative_to(ROOT)
        except ValueError:
            errors.append(f"{where} points outside the repository")
            continue
        if not resolved.exists():
            errors.append(f"{where}: no such file {resolved.relative_to(ROOT)}")
            continue
        if anchor:
            if resolved.suffix.lower() == ".md":
                if unquote(anchor).lower() not in anchors(resolved):
                    errors.append(f"{where}: no heading with the anchor #{anchor} "
                                  f"in {resolved.relative_to(ROOT)}")
            elif resolved.is_dir() or not re.fullmatch(r"L\d+(-L\d+)?", anchor):
                errors.append(f"{where}: #{anchor} is not an anchor of {resolved.relative_to(ROOT)}")
    return errors


def test_github_slugs():
    assert github_slug("The MNIST experiments (notebook 04)") == "the-mnist-experiments-notebook-04"
    assert github_slug("For instructors: classroom mode") == "for-instructors-classroom-mode"
    assert github_slug("Why a small tool of our own, and nbgrader as an option") == \
        "why-a-small-tool-of-our-own-and-nbgrader-as-an-option"
    assert github_slug("The `mlp_helpers` package") == "the-mlp_helpers-package"
    assert github_slug("04 · MNIST: what **they** teach") == "04--mnist-what-they-teach"


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    assert path.is_file()
    assert link_errors(path) == []


def test_link_check_catches_a_broken_link_and_anchor():
    doc = ROOT / "docs" / "developers.md"
    good = "[tests](#tests) [speed](speed.md#no-fastmath) [site](https://example.org/x.md#nope) `[x](nowhere.md)`"
    assert link_errors(doc, good) == []
    bad = "[a](nowhere.md) [b](speed.md#no-such-heading) [c](#no-such-heading) [d](../../outside.md)"
    errors = link_errors(doc, bad)
    assert len(errors) == 4, errors


# --------------------------------------------------------------------------- the MNIST table

@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """(runs, extra) from results/mnist_experiments.json, through ``experiments.load_results``.

    ``load_results`` also reads the networks from the .npz beside the JSON when there is one;
    the copy has none beside it, so only the JSON is read (the 33 MB .npz is not needed here).
    """
    copy = tmp_path_factory.mktemp("results") / RESULTS.name
    shutil.copyfile(RESULTS, copy)
    runs, extra = ex.load_results(copy)
    assert runs.nets == {}
    return runs, extra


def expected_numbers(runs, extra):
    """What the README's table must say, built from the results as notebook 04 builds it.

    Returns a dict: ``rows`` (experiment 3's ``summarize`` rows), ``chosen_lr``,
    ``val`` {lr: "mean ± std"}, ``final`` "mean ± std" of the chosen rate's final models,
    ``report_rate`` {"lr", "acc"} (the final model at the report's rate, seed 0),
    ``schedule`` {"config", "acc"} (the chosen schedule's final models), in the
    notebook's rounding (``tables.comparison_table``: two decimals of a percent).
    """
    exp3 = ex.grid(LRS, SEEDS, eval_train=True)
    exp3_runs = ex.select(runs, exp3)
    rows = ex.summarize(exp3_runs)
    chosen_lr = ex.choose_lr(exp3_runs)
    assert chosen_lr == extra["chosen_lr"]

    final_configs = ex.grid([chosen_lr], SEEDS, final=True, eval_train=True)
    test_accs = [runs[config].val_acc[-1] for config in final_configs]
    assert test_accs == extra["final"]["test_acc"]
    table = ex.comparison_table(rows, chosen_lr, test_accs)

    def ours(entry):                                    # "97.88 ± 0.18 (n=3)" -> "97.88 ± 0.18"
        return re.sub(r" \(n=\d+\)$", "", entry["ours"])

    report = ex.report_numbers()
    report_rate = RunConfig(lr=report["final_lr_text"], seed=0, final=True)

    schedules = [config for config in runs if config.lr_schedule is not None and not config.final]
    best_schedule = ex.choose_setting(ex.select(runs, schedules))
    assert best_schedule == RunConfig(**extra["chosen_schedule"])
    schedule_accs = [runs[best_schedule.replace(seed=seed, final=True)].val_acc[-1] for seed in SEEDS]
    assert schedule_accs == extra["schedule_final"]["test_acc"]

    return {
        "rows": rows,
        "chosen_lr": chosen_lr,
        "val": {row["lr"]: ours(entry) for row, entry in zip(rows, table)},
        "final": ours(table[-1]),
        "report_rate": {"lr": report["final_lr_text"], "acc": f"{100 * runs[report_rate].val_acc[-1]:.2f}"},
        "schedule": {"config": best_schedule,
                     "acc": ours(ex.comparison_table([], best_schedule.lr, schedule_accs)[-1])},
        "test_accs": test_accs,
    }


def readme_table(text):
    """The README's MNIST table as a list of [first, report, ours] cells (bold marks removed)."""
    lines = text.splitlines()
    assert lines.count(TABLE_HEADER) == 1, f"README.md needs exactly one table headed {TABLE_HEADER!r}"
    start = lines.index(TABLE_HEADER) + 2                       # past the header and its rule
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.replace("**", "").strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"a row of the MNIST table needs 3 cells: {line!r}"
        table.append(cells)
    return table


def numbers(text):
    """The numbers in a cell, as written (thousands separators dropped)."""
    return re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))


def table_mismatches(text, expected):
    """Every difference between the README's MNIST table and ``expected``; [] when it agrees."""
    report = ex.report_numbers()
    wrong = []

    def check(row, what, written, should):
        if written != should:
            wrong.append(f"row {row[0]!r}, {what}: README {written}, results {should}")

    seen = []
    for row in readme_table(text):
        first, printed, ours = row
        if re.fullmatch(r"\d+(?:\.\d+)?", first):              # a validation row: one learning rate
            lr = float(first)
            if lr not in expected["val"]:
                wrong.append(f"row {first!r}: no validation runs at lr {first} in the results")
                continue
            seen.append(("val", lr))
            should = report["val_acc"].get(lr)
            check(row, "report", printed, "-" if should is None else f"{should:.2f}%")
            check(row, "this kit", numbers(ours), numbers(expected["val"][lr]))
            check(row, "marked (chosen)", "(chosen)" in ours, lr == expected["chosen_lr"])
        elif "1/(1 + epoch)" in first:                          # the decaying learning rate
            seen.append(("schedule",))
            config = expected["schedule"]["config"]
            factors = [1 / (1 + epoch) for epoch in range(config.epochs)]
            check(row, "schedule", np.allclose(config.lr_schedule, factors), True)
            check(row, "schedule's lr", numbers(first), [f"{config.lr:g}", "1", "1"])
            check(row, "report", printed, "-")
            check(row, "this kit", numbers(ours), numbers(expected["schedule"]["acc"]))
        elif "report's rate" in first:                          # the final model at the report's rate
            seen.append(("report rate",))
            check(row, "rate", numbers(first), [f"{expected['report_rate']['lr']:g}"])
            check(row, "report", printed, f"{report['final_test_acc']:.2f}%")
            check(row, "this kit", numbers(ours), [expected["report_rate"]["acc"]])
        elif first.startswith("final model"):                   # the final model at the chosen rate
            seen.append(("final",))
            check(row, "report", printed, f"{report['final_test_acc']:.2f}%")
            check(row, "this kit", numbers(ours), numbers(expected["final"]) + [f"{expected['chosen_lr']:g}"])
        else:
            wrong.append(f"row {first!r}: not a row the test knows")
    should_see = [("val", lr) for lr in expected["val"]] + [("final",), ("report rate",), ("schedule",)]
    if sorted(seen, key=str) != sorted(should_see, key=str):
        wrong.append(f"the table's rows are {seen}, the results' {should_see}")
    return wrong


def test_readme_mnist_table_matches_the_results(results):
    expected = expected_numbers(*results)
    assert [row["lr"] for row in expected["rows"]] == LRS
    assert table_mismatches(README.read_text(encoding="utf-8"), expected) == []


@pytest.mark.parametrize("old, new", [
    ("| 0.1 | - | 97.77 ± 0.25% |", "| 0.1 | - | 97.66 ± 0.31% |"),      # the numbers before the fix
    ("| 0.3 | - | 89.94 ± 4.11% |", "| 0.3 | - | 93.61 ± 4.11% |"),
    ("| 0.001 | 89.82% |", "| 0.001 | 89.28% |"),                          # a report number
    ("**97.75 ± 0.01%** (lr 0.03)", "**97.75 ± 0.01%** (lr 0.1)"),          # the chosen rate
    ("93.93% (one seed)", "93.39% (one seed)"),
    ("97.99 ± 0.16%", "97.99 ± 0.61%"),
    ("**97.88 ± 0.18%** (chosen)", "97.88 ± 0.18%"),                        # the choice unmarked
    ("| 0.3 | - | 89.94 ± 4.11% |\n", ""),                                   # a row left out
])
def test_table_check_catches_a_changed_number(results, old, new):
    text = README.read_text(encoding="utf-8")
    assert old in text
    assert table_mismatches(text.replace(old, new), expected_numbers(*results)) != []


def test_readme_error_bars_are_stated_honestly(results):
    """The README's words about the noise hold for the results, and claim no more."""
    runs, _ = results
    expected = expected_numbers(*results)
    text = " ".join(README.read_text(encoding="utf-8").split())
    rows = {row["lr"]: row for row in expected["rows"]}
    chosen = rows[expected["chosen_lr"]]

    # "a standard deviation from three seeds is itself uncertain by about ±50%": 1 / sqrt(2 (n - 1))
    assert "uncertain by about ±50%" in text and round(1 / math.sqrt(2 * (len(SEEDS) - 1)), 1) == 0.5
    # "0.1 is behind it by less than two standard errors of the difference"
    assert "0.1 is behind it by less than two standard errors of the difference" in text
    difference_error = math.hypot(chosen["val_acc_std"], rows[0.1]["val_acc_std"]) / math.sqrt(len(SEEDS))
    assert 0 < chosen["val_acc_mean"] - rows[0.1]["val_acc_mean"] < 2 * difference_error
    # "a sampling error of about ±0.2-0.4 points (±0.15 on 10,000)"
    assert "±0.2-0.4 points (±0.15 on 10,000)" in text
    val_errors = [100 * ex.sampling_error(row["val_acc_mean"], 5000) for row in expected["rows"]]
    assert 0.15 <= min(val_errors) and max(val_errors) < 0.45
    assert f"{100 * ex.sampling_error(np.mean(expected['test_accs']), 10_000):.2f}" == "0.15"
    # a three-seed spread far below a sampling error is not a resolution finer than the test set's
    assert "than the test set can resolve" not in text
