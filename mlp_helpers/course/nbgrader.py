"""The nbgrader course of the notebooks: a course folder whose source notebooks carry
nbgrader's cell metadata, with the published runs and an ``nbgrader_config.py``.

``mlp-course nbgrader COURSE`` writes COURSE/source/ASSIGNMENT/ (the solution notebooks
with nbgrader's cell metadata, hidden tests kept for nbgrader to strip; the published runs
in results/, which notebook 04 reads instead of training when nbgrader runs it) and
COURSE/nbgrader_config.py (the cell timeout, the demonstrations skipped), see
docs/instructors.md. The markers are those of :mod:`.release`.
"""
import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .release import (BEGIN_HIDDEN, BEGIN_SOLUTION, ReleaseError, _check_outdir, _read_all, _write_atomically, _write_notebook,
                      backup_lines, release_notebook)
from .release import summary_lines as release_summary

__all__ = ["CourseReport", "prepare_nbgrader", "summary_lines", "CELL_TIMEOUT", "CONFIG_NAME"]


@dataclass
class CourseReport:
    """What ``prepare_nbgrader`` wrote.

    reports: a NotebookReport per notebook; target: COURSE/source/ASSIGNMENT;
    results: (json path, npz path or None, number of runs, number of networks) of the
        published runs copied, or None;
    config: "written", or "kept" (the course had its own nbgrader_config.py);
    lacking: the settings of CONFIG_NEEDS that a kept nbgrader_config.py does not set;
    backup: the folder a replaced COURSE/source/ASSIGNMENT was moved to (--force), or None.
    """
    reports: list
    target: Path
    results: Optional[tuple]
    config: str
    lacking: tuple = ()
    backup: Optional[Path] = None


# Seconds a cell may run under `nbgrader autograde` before it is interrupted (nbgrader's
# default, 30 s, is what threw every submission away when notebook 04 trained for real).
CELL_TIMEOUT = 120
PUBLISHED_RESULTS = "mnist_experiments.json"   # and the .npz of the same name beside it
CONFIG_NAME = "nbgrader_config.py"
CONFIG_TEXT = f'''"""nbgrader settings for the mlp-from-scratch course.

Written by `mlp-course nbgrader`, only when the course had
no {CONFIG_NAME}: edit it freely, the release tool will not overwrite it.
"""
import os

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "mlp-from-scratch"

# Seconds a cell may run before nbgrader interrupts it and goes on with the next cell
# (nbgrader's default is 30). Under nbgrader (it sets NBGRADER_EXECUTION in the kernels it
# starts) notebook 04 does not train its MNIST runs: mlp_helpers.experiments.run_many
# reads the published runs from results/{PUBLISHED_RESULTS} (and .npz) of the
# assignment. With a correct solution the slowest cell then takes a few seconds; the
# margin is for slow student code on a busy machine. An endless loop costs this long.
c.Execute.timeout = {CELL_TIMEOUT}

# One BLAS thread per notebook kernel (the kernels inherit this process's environment).
# The graded cells are small; on a busy machine two BLAS threads per kernel spin-wait
# for each other: measured on the shared 2-core machine, one student took 66 s with one
# thread against 97 s with two while other jobs ran, and 53 s against 56 s when it was
# nearly idle. Set a variable yourself to choose otherwise.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

# The published runs (results/*.npz, about 1 MB a network) must be copied with the
# assignment: nbgrader skips files above this size (kB; nbgrader's default, 100 MB).
c.CourseDirectory.max_file_size = 100000

# Under `nbgrader autograde`, the lessons' demonstrations (code cells tagged
# "demonstration": every cell no grade depends on, such as trainings, sweeps and
# figures; never the student's code) are not run; on the feedback page such a cell
# says so in one line.
# Graded cells always run. Delete these two lines to run every cell for every student.
from mlp_helpers.course.autograde import preprocessors  # noqa: E402
c.Autograde.autograde_preprocessors = preprocessors()
'''
# What a course's own nbgrader_config.py should set, and what happens if it does not.
CONFIG_NEEDS = {
    "c.Execute.timeout": f"nbgrader's 30 s per cell may be too short, add c.Execute.timeout = {CELL_TIMEOUT}",
    "c.Autograde.autograde_preprocessors": "every demonstration cell runs for every student, add "
                                           "c.Autograde.autograde_preprocessors = "
                                           "mlp_helpers.course.autograde.preprocessors()",
}


def _nbgrader_metadata(cell, grade_id):
    """nbgrader cell metadata for a cell, from its markers; None for an ordinary cell."""
    text = cell.source
    solution = BEGIN_SOLUTION in text
    tests = BEGIN_HIDDEN in text or "autograde" in cell.get("metadata", {}).get("tags", [])
    if not (solution or tests):
        return None
    meta = {"grade_id": grade_id, "schema_version": 3, "solution": solution, "locked": False,
            "grade": False}
    if cell.cell_type == "code" and tests and not solution:
        meta.update(grade=True, locked=True, points=1)     # an autograded test cell
    elif cell.cell_type == "code" and tests:
        raise ReleaseError(f"{grade_id}: a code cell holds both a solution and hidden tests; "
                           f"nbgrader needs them in separate cells")
    elif cell.cell_type != "code":
        meta.update(grade=True, points=1, task=False)      # a manually graded written answer
    return meta


def _uses_experiments(nb):
    """True if a code cell of ``nb`` uses mlp_helpers.experiments (so it may train MNIST runs)."""
    return any(cell.cell_type == "code" and "experiments" in cell.source for cell in nb.cells)


def _default_results(notebooks):
    """results/mnist_experiments.json of the course root the first notebook belongs to."""
    from ..paths import published_path

    folder = Path(notebooks[0]).resolve().parent if notebooks else Path.cwd()
    return published_path(PUBLISHED_RESULTS, folder)


def _check_published(results, needed_by):
    """(json path, npz path or None, number of runs, number of networks): the published
    runs, with every network the JSON lists (an .npz is needed only if it lists any)."""
    from ..experiments.results import load_results, missing_nets

    results = Path(results)
    npz = results.with_suffix(".npz")
    hint = (f"run {needed_by} (the solution notebook saves its runs and networks there), "
            f"or pass --results PATH")
    if not results.is_file():
        raise ReleaseError(f"{needed_by} runs its MNIST experiments through mlp_helpers.experiments; "
                           f"under nbgrader they are read from the published results instead of "
                           f"trained, but {results} does not exist: {hint}")
    try:
        runs, _ = load_results(results)
        missing = missing_nets(results, runs)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ReleaseError(f"{results}: not readable as published results ({e})") from None
    if missing:
        state = "does not exist" if not npz.is_file() else "lacks"
        raise ReleaseError(f"the networks of the published runs: {results.name} lists {len(missing) + len(runs.nets)}, "
                           f"but {npz} {state}{f' {len(missing)} of them' if npz.is_file() else ''} "
                           f"(first missing: {missing[0]}; a network counts only beside the history "
                           f"it was trained with): {hint}")
    return results, (npz if runs.nets else None), len(runs), len(runs.nets)


def prepare_nbgrader(notebooks, course_dir, assignment="mlp", force=False, results=None):
    """Lay out an nbgrader course folder: COURSE/source/ASSIGNMENT/ with nbgrader metadata.

    Marked cells get nbgrader's cell metadata (solution cells; autograded test cells
    = code cells with a HIDDEN TESTS block or the tag ``autograde``, 1 point each;
    written answers, 1 point each, graded by hand), so ``nbgrader generate_assignment``
    and ``nbgrader autograde`` work on the kit's notebooks unchanged. The hidden tests
    stay in the source notebooks: ``generate_assignment`` strips them from the
    student version and ``autograde`` puts them back.

    If a notebook uses ``mlp_helpers.experiments``, the published runs (``results``, by
    default the repository's ``results/mnist_experiments.json``, and the .npz of their
    networks beside it) are copied to COURSE/source/ASSIGNMENT/results/: under nbgrader
    the notebook reads them instead of training (see ``experiments.run_many``).
    Writes COURSE/nbgrader_config.py (cell timeout, course id) if there is none.

    Args:
        notebooks: paths of solution notebooks; course_dir: the course folder;
        assignment: nbgrader's assignment name; force: replace an existing
        COURSE/source/ASSIGNMENT/ that holds only what this tool writes there (it is
        moved aside to ASSIGNMENT.bak-YYYYmmdd-HHMMSS, see ``CourseReport.backup``);
        results: path of the published results JSON.
    Returns:
        :class:`CourseReport`.
    Raises:
        ReleaseError (bad markers, missing results, the target in the way); OSError
        from the filesystem. Nothing is written then.
    """
    if not isinstance(assignment, str) or not assignment or Path(assignment).name != assignment \
            or assignment.startswith("."):
        raise ReleaseError(f"--assignment must be a plain folder name such as 'mlp', got {assignment!r}")
    sources = _read_all(notebooks)
    course = Path(course_dir)
    if course.exists() and not course.is_dir():
        raise ReleaseError(f"COURSE {course} exists and is not a folder")
    target = course / "source" / assignment

    prepared, reports = [], []
    for p, nb in sources:
        report = release_notebook(nb, p.name)[1]      # validates the markers
        nb = copy.deepcopy(nb)
        report.test_cells = 0
        for index, cell in enumerate(nb.cells):
            meta = _nbgrader_metadata(cell, f"{p.stem}-{cell.get('id') or index}")
            if meta is not None:
                cell.metadata["nbgrader"] = meta
                report.test_cells += cell.cell_type == "code" and meta["grade"]
        prepared.append((p.name, nb))
        reports.append(report)

    needed_by = next((p.name for p, nb in sources if _uses_experiments(nb)), None)
    published = None
    if needed_by is not None:
        published = _check_published(results or _default_results([p for p, _ in sources]), needed_by)
    copied = [path for path in (published or ())[:2] if path is not None]
    written = [name for name, _ in prepared] + [f"results/{path.name}" for path in copied]
    _check_outdir(target, [p for p, _ in sources], force, written)

    config_path = course / CONFIG_NAME
    if config_path.exists():
        text = config_path.read_text(encoding="utf-8", errors="replace")
        lacking = tuple(need for need in CONFIG_NEEDS if need not in text)
        config, files = "kept", ()
    else:
        config, lacking, files = "written", (), ((CONFIG_TEXT, config_path),)

    def write_all(folder):
        for name, nb in prepared:
            _write_notebook(nb, folder / name)
        if published is not None:
            (folder / "results").mkdir()
            for path in copied:
                shutil.copyfile(path, folder / "results" / path.name)

    backup = _write_atomically(target, write_all, files)
    return CourseReport(reports, target, published, config, lacking, backup)



def summary_lines(done, course, assignment):
    """The lines the command prints after ``prepare_nbgrader``: what was written, what next."""
    reports, target = done.reports, done.target
    lines = release_summary(reports, target, "Prepared")
    tests = sum(r.test_cells for r in reports)
    hidden = sum(r.hidden_tests for r in reports)
    lines.append(f"Grading: {tests} autograded test cells, 1 point each; their {hidden} hidden test blocks "
                 f"stay in the source for nbgrader (generate_assignment strips them, autograde puts them back).")
    if done.results is not None:
        json_path, npz, n, n_nets = done.results
        files = [json_path] + ([npz] if npz is not None else [])
        size = sum(path.stat().st_size for path in files) / 1e6
        lines.append(f"Published runs: {n} runs and {n_nets} network{'s' * (n_nets != 1)} "
                     f"({', '.join(path.name for path in files)}, {size:.1f} MB) copied to {target}/results/; "
                     f"under nbgrader the experiments read them instead of training.")
    config = Path(course) / CONFIG_NAME
    if done.config == "written":
        lines.append(f"Wrote {config} (course id, {CELL_TIMEOUT} s per cell, "
                     f"demonstrations not run under autograde).")
    elif not done.lacking:
        lines.append(f"Kept the existing {config}.")
    else:
        lines.append(f"Kept the existing {config}; " + "; ".join(
            f"it does not set {need}: {CONFIG_NEEDS[need]}" for need in done.lacking) + ".")
    lines += backup_lines(done.backup, target)
    lines.append(f"Next: cd {course} && nbgrader generate_assignment {assignment}")
    return lines
