"""Build the student release of the notebooks: solutions out, hidden tests out, outputs cleared.

Usage (from the repository root)::

    python -m mlp_helpers.release                 # notebooks/*.ipynb -> release/
    python -m mlp_helpers.release OUTDIR --notebooks notebooks/01_derivatives.ipynb ...
    python -m mlp_helpers.release OUTDIR --force  # replace a non-empty OUTDIR
    python -m mlp_helpers.release --nbgrader-course COURSE   # an nbgrader course dir instead

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
notebook has been written: a failure leaves no half-written OUTDIR behind.
"""
import argparse
import copy
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["ReleaseError", "NotebookReport", "release_notebook", "release", "prepare_nbgrader", "main"]

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
    hidden_tests: int = 0         # hidden-test blocks removed

    @property
    def exercises(self):
        return self.code_exercises + self.written_exercises

    def __str__(self):
        hidden = f", {self.hidden_tests} hidden test block{'s' * (self.hidden_tests != 1)} removed"
        return (f"{self.name}: {self.exercises} exercise{'s' * (self.exercises != 1)} "
                f"({self.code_exercises} code, {self.written_exercises} written){hidden}")


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


def _check_outdir(outdir, sources, force):
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ReleaseError(f"OUTDIR {outdir} exists and is not a folder")
    if outdir.exists() and any(outdir.iterdir()):
        if not force:
            raise ReleaseError(f"OUTDIR {outdir} exists and is not empty; pass --force to replace it "
                               f"(its contents are deleted), or choose another folder")
        resolved = outdir.resolve()
        protected = [Path.cwd().resolve()] + [s.resolve() for s in sources]
        if any(resolved == p or resolved in p.parents for p in protected) or (outdir / ".git").exists():
            raise ReleaseError(f"refusing to replace {outdir}: it holds the source notebooks, the "
                               f"current folder or a git repository")


def _write_notebook(nb, path):
    nbformat.write(nb, str(path))


def _write_atomically(outdir, write_all):
    """Run write_all(tmpdir), then move tmpdir to outdir (replacing it); clean up on failure."""
    outdir = Path(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
    try:
        write_all(tmp)
        os.chmod(tmp, 0o755)             # mkdtemp makes it 0700
        old = None
        if outdir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old-", dir=outdir.parent))
            os.rmdir(old)
            os.rename(outdir, old)
        try:
            os.rename(tmp, outdir)
        except OSError:
            if old is not None:
                os.rename(old, outdir)   # put the previous release back
            raise
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def release(notebooks, outdir="release", force=False):
    """Write the student version of each notebook into ``outdir`` (flat, same file names).

    Args:
        notebooks: paths of solution notebooks.
        outdir: the folder to create; if it exists and is not empty, ``force`` must be True
            and its contents are replaced.
        force: allow replacing a non-empty ``outdir``.
    Returns:
        list of :class:`NotebookReport`, one per notebook, in order.
    Raises:
        ReleaseError: bad markers (naming notebook, cell index, line), a missing notebook,
        or ``outdir`` in the way. Nothing is written then.
    """
    sources = _read_all(notebooks)
    _check_outdir(outdir, [p for p, _ in sources], force)
    released = [(p.name, *release_notebook(nb, p.name)) for p, nb in sources]

    def write_all(folder):
        for name, nb, _ in released:
            _write_notebook(nb, folder / name)

    _write_atomically(outdir, write_all)
    return [report for _, _, report in released]


# --------------------------------------------------------------------------------------
# The nbgrader route: a course folder whose source notebooks carry nbgrader's cell metadata
# --------------------------------------------------------------------------------------

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


def prepare_nbgrader(notebooks, course_dir, assignment="mlp", force=False):
    """Lay out an nbgrader course folder: COURSE/source/ASSIGNMENT/*.ipynb with nbgrader metadata.

    Marked cells get nbgrader's cell metadata (solution cells, autograded test cells
    = code cells with a HIDDEN TESTS block or the tag ``autograde``, 1 point each;
    written answers, 1 point each, graded by hand), so ``nbgrader generate_assignment``
    and ``nbgrader autograde`` work on the kit's notebooks unchanged. Also writes a
    minimal ``nbgrader_config.py`` if there is none.
    Returns the list of :class:`NotebookReport` (checked with the same marker rules).
    """
    sources = _read_all(notebooks)
    course = Path(course_dir)
    target = course / "source" / assignment
    _check_outdir(target, [p for p, _ in sources], force)
    prepared, reports = [], []
    for p, nb in sources:
        reports.append(release_notebook(nb, p.name)[1])      # validates the markers
        nb = copy.deepcopy(nb)
        for index, cell in enumerate(nb.cells):
            meta = _nbgrader_metadata(cell, f"{p.stem}-{cell.get('id') or index}")
            if meta is not None:
                cell.metadata["nbgrader"] = meta
        prepared.append((p.name, nb))

    def write_all(folder):
        for name, nb in prepared:
            _write_notebook(nb, folder / name)

    _write_atomically(target, write_all)
    config = course / "nbgrader_config.py"
    if not config.exists():
        config.write_text('c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = "mlp-from-scratch"\n')
    return reports


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

def _default_notebooks():
    here = Path("notebooks")
    folder = here if here.is_dir() else Path(__file__).resolve().parent.parent / "notebooks"
    return sorted(folder.glob("*.ipynb"))


def main(argv=None):
    """``python -m mlp_helpers.release [OUTDIR] [--notebooks ...] [--force]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m mlp_helpers.release",
        description="Build the student release: solutions replaced by stubs, hidden tests removed, "
                    "outputs cleared.")
    parser.add_argument("outdir", nargs="?", default="release",
                        help="folder to write the released notebooks to (default: release/)")
    parser.add_argument("--notebooks", nargs="+", metavar="NB",
                        help="solution notebooks to release (default: notebooks/*.ipynb)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty OUTDIR")
    parser.add_argument("--nbgrader-course", metavar="COURSE",
                        help="instead of a release, write COURSE/source/ASSIGNMENT/ with nbgrader "
                             "metadata, for `nbgrader generate_assignment` (OUTDIR is then ignored)")
    parser.add_argument("--assignment", default="mlp", help="nbgrader assignment name (default: mlp)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or _default_notebooks()
    try:
        if args.nbgrader_course:
            reports = prepare_nbgrader(notebooks, args.nbgrader_course, args.assignment, args.force)
            dest = Path(args.nbgrader_course) / "source" / args.assignment
        else:
            reports = release(notebooks, args.outdir, args.force)
            dest = Path(args.outdir)
    except ReleaseError as e:
        print(f"release: error: {e}", file=sys.stderr)
        return 2
    total = sum(r.exercises for r in reports)
    print(f"Released {len(reports)} notebook{'s' * (len(reports) != 1)} with {total} exercises to {dest}/:")
    for r in reports:
        print(f"  {r}")
    if args.nbgrader_course:
        print(f"Next: cd {args.nbgrader_course} && nbgrader generate_assignment {args.assignment}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
