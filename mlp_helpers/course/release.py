"""Build the student release of the notebooks: solutions out, hidden tests out, outputs cleared.

Usage (from the repository root)::

    mlp-course release                 # notebooks/*.ipynb -> release/
    mlp-course release --lab           # ... and open it in JupyterLab (kept if it exists)
    mlp-course release OUTDIR --notebooks notebooks/01_derivatives.ipynb ...
    mlp-course release OUTDIR --force  # replace a release (the old one moved aside)
    mlp-course nbgrader COURSE --assignment mlp   # for nbgrader

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

What nbgrader needs to grade the same notebooks is :mod:`.nbgrader`'s (``mlp-course nbgrader``).
"""
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

__all__ = ["ReleaseError", "NotebookReport", "Released", "release_notebook", "release",
           "default_notebooks", "summary_lines", "backup_lines", "open_in_lab"]

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
                  outputs=RELEASE_OUTPUTS, course_hint=f"; to prepare an nbgrader course, run `mlp-course nbgrader {outdir}`")
    released = [(p.name, *release_notebook(nb, p.name)) for p, nb in sources]

    def write_all(folder):
        for name, nb, _ in released:
            _write_notebook(nb, folder / name)

    done = Released(report for _, _, report in released)
    done.backup = _write_atomically(outdir, write_all)
    return done


# --------------------------------------------------------------------------------------
# What the command line (mlp_helpers.cli) prints and opens
# --------------------------------------------------------------------------------------

def default_notebooks():
    """notebooks/*.ipynb of the current folder, else of the repository this package is in."""
    here = Path("notebooks")
    folder = here if here.is_dir() else Path(__file__).resolve().parent.parent / "notebooks"
    return sorted(folder.glob("*.ipynb"))


def summary_lines(reports, dest, what="Released"):
    """The lines the command prints after a release: one per notebook, under a total."""
    total = sum(r.exercises for r in reports)
    lines = [f"{what} {len(reports)} notebook{'s' * (len(reports) != 1)} with {total} exercises to {dest}/:"]
    lines += [f"  {r}" for r in reports]
    return lines


def backup_lines(backup, dest):
    """The summary's line saying where a replaced folder went (none if none was replaced)."""
    if backup is None:
        return []
    return [f"The previous {dest}/ was moved aside to {backup}/ (delete it when you no longer need it)."]


def open_in_lab(folder):
    """Start JupyterLab on ``folder`` (this Python's); its exit code."""
    import subprocess

    try:
        return subprocess.call([sys.executable, "-m", "jupyterlab", str(folder)])
    except KeyboardInterrupt:
        return 0
