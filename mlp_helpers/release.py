"""Build the student release of the notebooks: solutions out, hidden tests out, outputs cleared.

Usage (from the repository root)::

    python -m mlp_helpers.release                 # notebooks/*.ipynb -> release/
    python -m mlp_helpers.release --lab           # ... and open it in JupyterLab (kept if it exists)
    python -m mlp_helpers.release OUTDIR --notebooks notebooks/01_derivatives.ipynb ...
    python -m mlp_helpers.release OUTDIR --force  # replace a release (the old one moved aside)
    python -m mlp_helpers.release --nbgrader-course COURSE --assignment mlp   # for nbgrader

The markers are nbgrader's, so the same solution notebooks work with nbgrader too:

* in a code cell, the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become
  ``# YOUR CODE HERE`` and ``raise NotImplementedError()``, indented like the BEGIN line;
* in a markdown cell, the same region becomes ``YOUR ANSWER HERE``;
* the lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` are removed
  (markers too): the instructor's copy keeps them, the student's does not;
* a cell whose nbgrader metadata says ``solution: true`` but has no markers is replaced
  whole, as nbgrader does.

As in nbgrader, any line that contains a marker text counts as that marker. Regions
may not nest or overlap; an unbalanced or nested marker stops the release with an
error naming the notebook, the cell index and the line.

Every output and execution count is cleared, and the notebook's saved widget state is
dropped, so nothing computed by a solution survives in the release. The release is
built in a temporary folder beside OUTDIR and renamed into place only when every
notebook has been written: a failure leaves no half-written OUTDIR behind (nor any
folder the tool created for it). A filesystem error (read-only, disk full, a parent
that is a file) is reported in one line that names the path.

``--force`` replaces only a release: the notebooks the tool writes, with what they
write when run (figures/, results/) and Jupyter's .ipynb_checkpoints/. A folder holding
anything else (a student's own files, an nbgrader course's gradebook.db, submitted/,
autograded/ or nbgrader_config.py) is refused, with nothing changed. Nor is the
replaced release deleted: it is moved aside, whole, to OUTDIR.bak-YYYYmmdd-HHMMSS/
beside it (the summary says where), so a student's edited notebooks and runs survive.

``--nbgrader-course COURSE`` writes, instead, what nbgrader needs to grade these
notebooks: COURSE/source/ASSIGNMENT/ (the solution notebooks with nbgrader's cell
metadata, hidden tests kept for nbgrader to strip; the published runs in results/,
which notebook 04 reads instead of training when nbgrader runs it) and
COURSE/nbgrader_config.py (the cell timeout), see docs/instructors.md.
"""
import argparse
import contextlib
import copy
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import nbformat

__all__ = ["ReleaseError", "NotebookReport", "Released", "CourseReport", "release_notebook", "release",
           "prepare_nbgrader", "main"]

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = "YOUR ANSWER HERE"

_MARKERS = ((BEGIN_HIDDEN, "begin", "hidden tests"), (END_HIDDEN, "end", "hidden tests"),
            (BEGIN_SOLUTION, "begin", "solution"), (END_SOLUTION, "end", "solution"))


class ReleaseError(Exception):
    """The release cannot be built (bad markers, OUTDIR in the way, a missing notebook)."""


@dataclass
class NotebookReport:
    """What was done to one notebook: its name and how many regions of each kind."""
    name: str
    code_exercises: int = 0       # code solution regions (and whole solution cells)
    written_exercises: int = 0    # markdown solution regions
    hidden_tests: int = 0         # hidden-test blocks (removed by a release, kept for nbgrader)
    test_cells: Optional[int] = None   # nbgrader route: autograded test cells; None for a release

    @property
    def exercises(self):
        return self.code_exercises + self.written_exercises

    def __str__(self):
        head = (f"{self.name}: {self.exercises} exercise{'s' * (self.exercises != 1)} "
                f"({self.code_exercises} code, {self.written_exercises} written)")
        blocks = f"{self.hidden_tests} hidden test block{'s' * (self.hidden_tests != 1)}"
        if self.test_cells is None:
            return f"{head}, {blocks} removed"
        tests = f"{self.test_cells} autograded test cell{'s' * (self.test_cells != 1)}"
        if not self.hidden_tests:
            return f"{head}, {tests}"
        return f"{head}, {tests}; {blocks} kept for nbgrader generate_assignment to strip"


class Released(list):
    """What ``release`` wrote: a list of :class:`NotebookReport`, one per notebook, and
    ``backup``, the folder the replaced release was moved to (None if there was none)."""
    backup = None


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


# --------------------------------------------------------------------------------------
# One cell, one notebook
# --------------------------------------------------------------------------------------

def _marker(line):
    """('begin' | 'end', 'solution' | 'hidden tests') if the line holds a marker, else None."""
    for text, kind, region in _MARKERS:
        if text in line:
            return kind, region
    return None


def _regions(lines, where):
    """[(region, first, last)] line spans (markers included); ReleaseError if unbalanced/nested."""
    spans, open_at, open_region = [], None, None
    for n, line in enumerate(lines):
        m = _marker(line)
        if m is None:
            continue
        kind, region = m
        if kind == "begin":
            if open_region is not None:
                raise ReleaseError(f"{where}, line {n + 1}: BEGIN {region.upper()} inside the "
                                   f"{open_region} region opened at line {open_at + 1} (regions cannot nest)")
            open_at, open_region = n, region
        else:
            if open_region != region:
                raise ReleaseError(f"{where}, line {n + 1}: END {region.upper()} without a matching "
                                   f"BEGIN {region.upper()}" + (f" (the {open_region} region opened at "
                                                                f"line {open_at + 1} is still open)"
                                                                if open_region else ""))
            spans.append((region, open_at, n))
            open_at, open_region = None, None
    if open_region is not None:
        raise ReleaseError(f"{where}, line {open_at + 1}: BEGIN {open_region.upper()} has no "
                           f"END {open_region.upper()}")
    return spans


def _strip_cell(cell, where, report):
    """The released source of one cell (and counts the regions in ``report``)."""
    lines = cell.source.split("\n")
    spans = _regions(lines, where)
    out, start = [], 0
    for region, first, last in spans:
        out.extend(lines[start:first])
        start = last + 1
        if region == "hidden tests":
            report.hidden_tests += 1
        elif cell.cell_type == "code":
            indent = lines[first][:len(lines[first]) - len(lines[first].lstrip())]
            out.extend(indent + stub for stub in CODE_STUB)
            report.code_exercises += 1
        else:
            out.append(TEXT_STUB)
            report.written_exercises += 1
    out.extend(lines[start:])
    has_solution = any(region == "solution" for region, _, _ in spans)
    if not has_solution and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
        # nbgrader's rule: a solution cell without markers is an exercise as a whole
        if cell.cell_type == "code":
            report.code_exercises += 1
            return "\n".join(CODE_STUB)
        report.written_exercises += 1
        return TEXT_STUB
    return "\n".join(out)


def release_notebook(nb, name="notebook"):
    """The student version of a notebook (a new object; ``nb`` is not modified).

    Args:
        nb: an ``nbformat.NotebookNode`` (version 4), the solution notebook.
        name: used in error messages and the report.
    Returns:
        (released NotebookNode, NotebookReport).
    Raises:
        ReleaseError naming the notebook, cell index and line of a bad marker.
    """
    nb = copy.deepcopy(nb)
    report = NotebookReport(name)
    for index, cell in enumerate(nb.cells):
        cell.source = _strip_cell(cell, f"{name}: cell {index} ({cell.cell_type})", report)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.get("metadata", {}).pop("execution", None)   # timings of the solution run
    nb.metadata.pop("widgets", None)                      # saved widget state of the solution run
    nbformat.validate(nb)
    return nb, report


# --------------------------------------------------------------------------------------
# A whole release, written atomically
# --------------------------------------------------------------------------------------

def _read_all(notebooks):
    """[(path, NotebookNode)] for the given paths; ReleaseError if one is missing or repeated."""
    paths = [Path(p) for p in notebooks]
    if not paths:
        raise ReleaseError("no notebooks to release (give --notebooks, or run from the repository "
                           "root so notebooks/*.ipynb is found)")
    names = [p.name for p in paths]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ReleaseError(f"two notebooks have the same file name: {', '.join(dup)}")
    out = []
    for p in paths:
        if not p.is_file():
            raise ReleaseError(f"notebook not found: {p}")
        try:
            out.append((p, nbformat.read(p, as_version=4)))
        except Exception as e:   # nbformat raises several kinds for a broken file
            raise ReleaseError(f"{p}: not a readable notebook ({e})") from None
    return out


#: What marks a folder as an nbgrader course (or part of one): the tool never writes these
#: where it replaces a folder, and they hold the grades and the students' submissions.
NBGRADER_WORK = ("gradebook.db", "submitted", "autograded", "feedback", "nbgrader_config.py")
#: What Jupyter writes beside notebooks it opened: no one's work, replaced with the release.
JUPYTER_FILES = (".ipynb_checkpoints",)
#: What the released notebooks write into their own folder when a student runs them (see
#: mlp_helpers.paths): the student's runs, kept with the release when it is moved aside.
RELEASE_OUTPUTS = ("figures", "results")


def _check_outdir(outdir, sources, force, written=(), outputs=(), course_hint=""):
    """ReleaseError unless ``outdir`` may be written: absent, empty, or (with ``force``) a
    folder holding only what the tool writes there.

    ``written``: what the tool writes into the folder, as relative paths (the notebooks'
    file names; "results/NAME" for a file in a subfolder) and ``outputs``, the folders its
    notebooks write into when they run (kept whole with the folder it moves aside);
    anything else in the folder is someone's work and is not replaced. ``course_hint``:
    added to the message when the folder is an nbgrader course.
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ReleaseError(f"OUTDIR {outdir} exists and is not a folder")
    if outdir.exists() and any(outdir.iterdir()):
        if not force:
            raise ReleaseError(f"OUTDIR {outdir} exists and is not empty; pass --force to replace it "
                               f"(the old one is moved aside to {outdir.name}.bak-<date>-<time>/), "
                               f"or choose another folder")
        resolved = outdir.resolve()
        protected = [Path.cwd().resolve()] + [s.resolve() for s in sources]
        if any(resolved == p or resolved in p.parents for p in protected) or (outdir / ".git").exists():
            raise ReleaseError(f"refusing to replace {outdir}: it holds the source notebooks, the "
                               f"current folder or a git repository")
        _check_only_written(outdir, written, outputs, course_hint)


def _check_only_written(outdir, written, outputs, course_hint):
    """ReleaseError if ``outdir`` holds anything but ``written``, the folders ``outputs``
    and Jupyter's checkpoints."""
    nbgrader = [name + "/" * (outdir / name).is_dir() for name in NBGRADER_WORK
                if (outdir / name).exists() or (outdir / name).is_symlink()]
    if nbgrader:
        raise ReleaseError(f"refusing to replace {outdir}: it is an nbgrader course or part of one "
                           f"(it holds {', '.join(nbgrader)}, which the release tool did not write: "
                           f"a course's grades, submissions or settings){course_hint}")
    allowed = {Path(w) for w in written}
    folders = {p for w in allowed for p in w.parents if p != Path(".")}
    others, todo = [], [Path(".")]
    while todo:                          # the top level, and the subfolders the tool writes into
        sub = todo.pop()
        for path in sorted((outdir / sub).iterdir()):
            rel = path.relative_to(outdir)
            if rel in allowed or (sub == Path(".") and rel.name in JUPYTER_FILES) or \
                    (sub == Path(".") and rel.name in outputs and path.is_dir() and not path.is_symlink()):
                continue
            if rel in folders and path.is_dir() and not path.is_symlink():
                todo.append(rel)
                continue
            others.append(rel)
    if others:
        shown = ", ".join(f"{p}{'/' * (outdir / p).is_dir()}" for p in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        raise ReleaseError(f"refusing to replace {outdir}: it holds files the release tool did not "
                           f"write ({shown}{more}); move them or the folder away yourself, or choose "
                           f"another folder")


def _backup_name(outdir):
    """A free name beside ``outdir`` for the release it replaces: NAME.bak-YYYYmmdd-HHMMSS."""
    outdir = Path(outdir)
    base = outdir.with_name(f"{outdir.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
    backup, n = base, 1
    while backup.exists() or backup.is_symlink():
        n += 1
        backup = base.with_name(f"{base.name}-{n}")
    return backup


def _write_notebook(nb, path):
    nbformat.write(nb, str(path))


def _make_dirs(folder, target=None):
    """Create ``folder`` and its missing parents; return the folders created, outermost first.

    ReleaseError (naming ``target``, default ``folder``) if one of the parents is a file. If creating one fails, the ones
    already created are removed again and the OSError propagates.
    """
    folder = Path(folder)
    missing, f = [], folder
    while not f.exists() and not f.is_symlink():
        missing.append(f)
        f = f.parent
    if not f.is_dir():
        raise ReleaseError(f"cannot create {target or folder}: {f} is a file, not a folder")
    created = []
    try:
        for d in reversed(missing):
            d.mkdir()
            created.append(d)
    except BaseException:
        _remove_dirs(created)
        raise
    return created


def _remove_dirs(created):
    """Remove the folders ``_make_dirs`` created (innermost first), if they are still empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            break


def _write_atomically(outdir, write_all, files=()):
    """Run write_all(tmpdir), then move tmpdir to outdir; clean up on failure.

    An existing, non-empty outdir is not deleted but moved aside, to
    :func:`_backup_name`; an empty one is removed. Returns the backup folder, or None.

    ``files``: optional (text, path) pairs of *new* files (none may exist yet) written
    with the folder: each goes to a temporary file first and is renamed into place right
    after the folder, so that the folder and the files appear together or not at all.
    Folders created for ``outdir`` are removed again on failure (and a moved-aside
    outdir is put back).
    """
    outdir = Path(outdir)
    created = _make_dirs(outdir.parent, outdir)
    tmp, old, moved_in, pending, placed = None, None, False, [], []
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
        write_all(tmp)
        os.chmod(tmp, 0o755)             # mkdtemp makes it 0700
        for text, path in files:
            fd, name = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".tmp", dir=Path(path).parent)
            pending.append((Path(name), Path(path)))
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(name, 0o644)
        if outdir.exists():
            if any(outdir.iterdir()):
                old = _backup_name(outdir)
            else:
                old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old-", dir=outdir.parent))
                os.rmdir(old)
            os.rename(outdir, old)
        os.rename(tmp, outdir)
        moved_in = True
        for name, path in pending:
            os.rename(name, path)        # a rename in one folder: it cannot run out of space
            placed.append(path)
    except BaseException:
        for path in placed:
            with contextlib.suppress(OSError):
                os.unlink(path)
        for name, _ in pending:
            with contextlib.suppress(OSError):
                os.unlink(name)
        if moved_in:
            shutil.rmtree(outdir, ignore_errors=True)
        elif tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not outdir.exists():
            os.rename(old, outdir)       # put the previous release back
        _remove_dirs(created)
        raise
    if old is not None and not any(old.iterdir()):
        os.rmdir(old)                    # an empty folder: nothing to keep
        return None
    return old                           # the previous release, kept


def release(notebooks, outdir="release", force=False):
    """Write the student version of each notebook into ``outdir`` (flat, same file names).

    Args:
        notebooks: paths of solution notebooks.
        outdir: the folder to create; if it exists and is not empty, ``force`` must be True,
            it must hold only notebooks of this release, what they write when run (figures/,
            results/) and Jupyter's .ipynb_checkpoints/, and it is moved aside to
            ``OUTDIR.bak-YYYYmmdd-HHMMSS`` (not deleted).
        force: allow replacing a non-empty ``outdir``.
    Returns:
        :class:`Released`: a list of :class:`NotebookReport`, one per notebook, in order;
        its ``backup`` is where the replaced release went (None if there was none).
    Raises:
        ReleaseError: bad markers (naming notebook, cell index, line), a missing notebook,
        or ``outdir`` in the way (not empty without ``force``; with it, holding other
        files, such as a student's own or an nbgrader course's). Nothing is written then.
    """
    sources = _read_all(notebooks)
    _check_outdir(outdir, [p for p, _ in sources], force, written=[p.name for p, _ in sources],
                  outputs=RELEASE_OUTPUTS, course_hint=f"; to prepare an nbgrader course, pass --nbgrader-course {outdir}")
    released = [(p.name, *release_notebook(nb, p.name)) for p, nb in sources]

    def write_all(folder):
        for name, nb, _ in released:
            _write_notebook(nb, folder / name)

    done = Released(report for _, _, report in released)
    done.backup = _write_atomically(outdir, write_all)
    return done


# --------------------------------------------------------------------------------------
# The nbgrader route: a course folder whose source notebooks carry nbgrader's cell metadata
# --------------------------------------------------------------------------------------

# Seconds a cell may run under `nbgrader autograde` before it is interrupted (nbgrader's
# default, 30 s, is what threw every submission away when notebook 04 trained for real).
CELL_TIMEOUT = 120
PUBLISHED_RESULTS = "mnist_experiments.json"   # and the .npz of the same name beside it
CONFIG_NAME = "nbgrader_config.py"
CONFIG_TEXT = f'''"""nbgrader settings for the mlp-from-scratch course.

Written by `python -m mlp_helpers.release --nbgrader-course`, only when the course had
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
from mlp_helpers.autograde import preprocessors  # noqa: E402
c.Autograde.autograde_preprocessors = preprocessors()
'''
# What a course's own nbgrader_config.py should set, and what happens if it does not.
CONFIG_NEEDS = {
    "c.Execute.timeout": f"nbgrader's 30 s per cell may be too short, add c.Execute.timeout = {CELL_TIMEOUT}",
    "c.Autograde.autograde_preprocessors": "every demonstration cell runs for every student, add "
                                           "c.Autograde.autograde_preprocessors = "
                                           "mlp_helpers.autograde.preprocessors()",
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
    from .paths import published_path

    folder = Path(notebooks[0]).resolve().parent if notebooks else Path.cwd()
    return published_path(PUBLISHED_RESULTS, folder)


def _check_published(results, needed_by):
    """(json path, npz path or None, number of runs, number of networks): the published
    runs, with every network the JSON lists (an .npz is needed only if it lists any)."""
    from .results import load_results, missing_nets

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


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

def _default_notebooks():
    here = Path("notebooks")
    folder = here if here.is_dir() else Path(__file__).resolve().parent.parent / "notebooks"
    return sorted(folder.glob("*.ipynb"))


def _summary(reports, dest, what="Released"):
    total = sum(r.exercises for r in reports)
    lines = [f"{what} {len(reports)} notebook{'s' * (len(reports) != 1)} with {total} exercises to {dest}/:"]
    lines += [f"  {r}" for r in reports]
    return lines


def _nbgrader_summary(done, course, assignment):
    reports, target = done.reports, done.target
    lines = _summary(reports, target, "Prepared")
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
    lines += _backup_lines(done.backup, target)
    lines.append(f"Next: cd {course} && nbgrader generate_assignment {assignment}")
    return lines


def _backup_lines(backup, dest):
    """The summary's line saying where a replaced folder went (none if none was replaced)."""
    if backup is None:
        return []
    return [f"The previous {dest}/ was moved aside to {backup}/ (delete it when you no longer need it)."]


def _open_in_lab(folder):
    """Start JupyterLab on ``folder`` (this Python's); its exit code."""
    import subprocess

    try:
        return subprocess.call([sys.executable, "-m", "jupyterlab", str(folder)])
    except KeyboardInterrupt:
        return 0


def main(argv=None):
    """``python -m mlp_helpers.release [OUTDIR] [--notebooks ...] [--force] [--lab]``; the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m mlp_helpers.release",
        description="Build the student release: solutions replaced by stubs, hidden tests removed, "
                    "outputs cleared.")
    parser.add_argument("outdir", nargs="?", default="release",
                        help="folder to write the released notebooks to (default: release/)")
    parser.add_argument("--notebooks", nargs="+", metavar="NB",
                        help="solution notebooks to release (default: notebooks/*.ipynb)")
    parser.add_argument("--force", action="store_true",
                        help="replace a non-empty OUTDIR that holds only a release (it is moved aside "
                             "to OUTDIR.bak-<date>-<time>/; a folder with other files is refused)")
    parser.add_argument("--lab", action="store_true",
                        help="then open OUTDIR in JupyterLab; an OUTDIR that exists already holds "
                             "your work and is opened as it is (not rebuilt, unless --force)")
    parser.add_argument("--nbgrader-course", metavar="COURSE",
                        help="instead of a release, write COURSE/source/ASSIGNMENT/ with nbgrader "
                             "metadata and the published runs, and COURSE/nbgrader_config.py, for "
                             "`nbgrader generate_assignment` (OUTDIR is then ignored)")
    parser.add_argument("--assignment", default="mlp", help="nbgrader assignment name (default: mlp)")
    parser.add_argument("--results", metavar="JSON",
                        help="with --nbgrader-course: the published runs (default: "
                             "results/mnist_experiments.json of the repository, and the .npz beside it)")
    args = parser.parse_args(argv)
    if args.lab and args.nbgrader_course:
        parser.error("--lab opens a student release; it does not go with --nbgrader-course")
    notebooks = args.notebooks or _default_notebooks()
    dest = Path(args.nbgrader_course) / "source" / args.assignment if args.nbgrader_course else Path(args.outdir)
    try:
        if args.nbgrader_course:
            done = prepare_nbgrader(notebooks, args.nbgrader_course, args.assignment, args.force,
                                    args.results)
            lines = _nbgrader_summary(done, args.nbgrader_course, args.assignment)
        elif args.lab and not args.force and dest.is_dir() and any(dest.iterdir()):
            lines = [f"{dest}/ exists: opening it as it is (your work is kept; to start afresh, "
                     f"move it away or pass --force)."]
        else:
            done = release(notebooks, dest, args.force)
            lines = _summary(done, dest) + _backup_lines(done.backup, dest)
    except ReleaseError as e:
        print(f"release: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:       # read-only, disk full, permissions: one line, nothing left behind
        print(f"release: error: cannot write {dest}: {e.strerror or e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    if args.lab:
        return _open_in_lab(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
