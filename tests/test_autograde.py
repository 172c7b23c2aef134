"""The demonstration cells that `nbgrader autograde` leaves out (mlp_helpers.course.autograde).

Two things must hold for grading to stay right when those cells do not run:

* in the notebooks, a cell tagged ``demonstration`` is no exercise and no test, calls none
  of the functions the student writes, and defines nothing that a later untagged cell
  reads (checked here from the code, name by name);
* the preprocessor skips exactly the tagged, ungraded cells and runs the rest as
  nbgrader's Execute does (checked here on a small notebook, in a real kernel).

``tests/test_grading.py`` then grades the real notebooks end to end and checks that the
solved submission's autograded notebooks hold no error at all.
"""
import ast
from pathlib import Path

import nbformat
import pytest

from mlp_helpers.course.autograde import SKIPPED, TAG, is_demonstration

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _names(source):
    """(names a cell binds, names it reads), from its code (IPython magics left out)."""
    code = "\n".join(line for line in source.split("\n") if not line.lstrip().startswith(("%", "!")))
    bound, read = set(), set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return bound, read


def _exercises(code):
    """The names of the functions the student writes, from the (index, cell) code cells."""
    return {node.name for _, c in code if "### BEGIN SOLUTION" in c.source
            for node in ast.parse(c.source).body if isinstance(node, ast.FunctionDef)}


def _graded(cell):
    """An exercise or a test cell, as mlp_helpers.course.release recognises them."""
    return ("### BEGIN SOLUTION" in cell.source or "BEGIN HIDDEN TESTS" in cell.source
            or "autograde" in cell.metadata.get("tags", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_demonstrations_are_not_needed_by_the_graded_cells(path):
    nb = nbformat.read(path, as_version=4)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    tagged = [i for i, c in enumerate(nb.cells) if TAG in c.metadata.get("tags", [])]
    assert all(nb.cells[i].cell_type == "code" for i in tagged), f"{path.name}: tag a code cell only"
    assert not [i for i in tagged if _graded(nb.cells[i])], f"{path.name}: an exercise or test is tagged"
    exercises = _exercises(code)
    only_in_demos = {}                       # name -> the demonstration cell that bound it last
    for i, cell in code:
        bound, read = _names(cell.source)
        if i in tagged:
            called = read & exercises
            assert not called, f"{path.name} cell {i}: a demonstration calls the exercise {sorted(called)}"
            only_in_demos.update(dict.fromkeys(bound, i))
        else:
            needed = {name: only_in_demos[name] for name in read - bound if name in only_in_demos}
            assert not needed, (f"{path.name} cell {i} reads {sorted(needed)}, bound only by "
                                f"demonstration cell(s) {sorted(set(needed.values()))}: tag it too, or untag those")
            for name in bound:
                only_in_demos.pop(name, None)


def _could_be_demonstrations(nb):
    """The largest set of cells that may carry the tag: no exercise or test, no call of an
    exercise function, and no name bound there that a later cell outside the set reads."""
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    exercises = _exercises(code)
    names = {i: _names(c.source) for i, c in code}
    chosen = {i for i, c in code if not _graded(c) and not names[i][1] & exercises}
    while True:                   # drop the cells whose names a cell outside the set needs
        bound_by, needed = {}, set()
        for i, _ in code:
            bound, read = names[i]
            if i not in chosen:
                needed |= {bound_by[n] for n in read - bound if bound_by.get(n) in chosen}
            bound_by.update(dict.fromkeys(bound, i))
        if not needed:
            return chosen
        chosen -= needed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_that_no_grade_needs_is_a_demonstration(path):
    # what grading runs is what the grade depends on: the exercises, their tests, the cells
    # those read, and the cells that call the student's functions; a new lesson cell left
    # untagged would run once for every student
    nb = nbformat.read(path, as_version=4)
    tagged = {i for i, c in enumerate(nb.cells) if TAG in c.metadata.get("tags", [])}
    untagged = sorted(_could_be_demonstrations(nb) - tagged)
    assert not untagged, (f"{path.name}: cells {untagged} are no exercise or test, call no exercise "
                          f"and no graded cell needs them: tag them '{TAG}'")


def test_the_lessons_have_their_demonstrations():
    counts = {p.stem[:2]: sum(TAG in c.metadata.get("tags", []) for c in nbformat.read(p, 4).cells)
              for p in NOTEBOOKS}
    assert counts == {"00": 12, "01": 18, "02": 24, "03": 33, "04": 40, "05": 10}, counts


def test_is_demonstration_never_holds_for_a_graded_cell():
    tagged = {"cell_type": "code", "source": "", "metadata": {"tags": [TAG]}}
    assert is_demonstration(tagged)
    assert not is_demonstration({**tagged, "metadata": {"tags": ["other"]}})
    assert not is_demonstration({**tagged, "cell_type": "markdown"})
    for flag in ("grade", "solution"):           # a student cannot skip a test by tagging it
        assert not is_demonstration({**tagged, "metadata": {"tags": [TAG], "nbgrader": {flag: True}}})


def test_skip_demonstrations_runs_the_rest_in_a_kernel(tmp_path):
    pytest.importorskip("nbgrader")
    from mlp_helpers.course.autograde import SkipDemonstrations, preprocessors
    from nbgrader.preprocessors import Execute

    assert preprocessors()[0] is SkipDemonstrations and Execute not in preprocessors()
    cells = [nbformat.v4.new_code_cell("x = 41"),
             nbformat.v4.new_code_cell("x = 1 / 0", metadata={"tags": [TAG]}),
             nbformat.v4.new_code_cell("x += 1\nprint(x)"),
             nbformat.v4.new_code_cell("assert x == 0", metadata={"tags": [TAG], "nbgrader": {
                 "grade": True, "grade_id": "t", "locked": True, "points": 1, "schema_version": 3,
                 "solution": False}})]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb, _ = SkipDemonstrations(timeout=60).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    outputs = [[o.get("text", o.get("ename")) for o in c.outputs] for c in nb.cells]
    assert outputs == [[], [SKIPPED], ["42\n"], ["AssertionError"]]
    assert nb.cells[1].execution_count is None and nb.cells[2].execution_count == 2


def test_a_notebook_of_demonstrations_only_starts_no_kernel(tmp_path):
    pytest.importorskip("nbgrader")
    from mlp_helpers.course.autograde import SkipDemonstrations

    cells = [nbformat.v4.new_markdown_cell("# only lessons"),
             nbformat.v4.new_code_cell("import os; os._exit(1)", metadata={"tags": [TAG]}),
             nbformat.v4.new_code_cell("   ")]
    nb = nbformat.v4.new_notebook(cells=cells)
    skip = SkipDemonstrations(timeout=60, kernel_name="no-such-kernel")   # starting one would fail
    nb, _ = skip.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert [o.get("text") for o in nb.cells[1].outputs] == [SKIPPED] and skip.km is None


def test_the_instructors_guide_quotes_the_skip_note():
    guide = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    assert SKIPPED.strip() in guide
