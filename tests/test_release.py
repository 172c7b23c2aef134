"""The student release: solutions and hidden tests out, outputs cleared, written atomically."""
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mlp_helpers import release as rel
from mlp_helpers.release import ReleaseError, release, release_notebook

from nbtext import all_strings

FIXTURE = Path(__file__).parent / "fixtures" / "classroom_sample.ipynb"


def _region_lines(nb, begin, end):
    """Every non-empty line strictly inside begin/end regions, stripped."""
    found = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside and line.strip():
                found.append(line.strip())
    return found


def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src[3:]) if src.startswith("md:") else
                nbformat.v4.new_code_cell(src) for src in cells]
    return nb


def _write(tmp_path, name, nb):
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "release"
    reports = release([FIXTURE], out)
    return out, reports, nbformat.read(out / FIXTURE.name, as_version=4)


# ---- what the release contains ------------------------------------------------------------

def test_fixture_is_a_solution_notebook_with_outputs():
    nb = nbformat.read(FIXTURE, as_version=4)
    assert len(_region_lines(nb, "BEGIN SOLUTION", "END SOLUTION")) >= 5
    assert len(_region_lines(nb, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")) >= 4
    assert sum(len(c.outputs) for c in nb.cells if c.cell_type == "code") >= 3


def test_report_counts_exercises(released):
    out, reports, _ = released
    assert [(r.name, r.code_exercises, r.written_exercises, r.hidden_tests) for r in reports] == [
        ("classroom_sample.ipynb", 3, 1, 2)]
    assert sorted(p.name for p in out.iterdir()) == ["classroom_sample.ipynb"]


def test_solutions_replaced_by_stubs_with_indentation(released):
    _, _, nb = released
    src = [c.source for c in nb.cells]
    assert src[3].endswith('"""\n    # YOUR CODE HERE\n    raise NotImplementedError()')
    assert src[10].endswith("    for name in params:\n        # YOUR CODE HERE\n        raise NotImplementedError()")
    assert src[5] == "**Question.** Why subtract the row maximum before `np.exp`?\n\nYOUR ANSWER HERE"


def test_hidden_tests_removed_and_visible_checks_kept(released):
    _, _, nb = released
    assert nb.cells[4].source == "check_softmax(softmax)"
    assert nb.cells[11].source == "check_sgd_update(sgd_update)"
    text = FIXTURE.read_text()
    assert "BEGIN HIDDEN TESTS" in text
    assert not any(m in s for s in all_strings(json.loads(json.dumps(nb)))
                   for m in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN", "END HIDDEN"))


def test_no_solution_text_survives_anywhere(released):
    out, _, _ = released
    source = nbformat.read(FIXTURE, as_version=4)
    secret = (_region_lines(source, "BEGIN SOLUTION", "END SOLUTION")
              + _region_lines(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
              + [o["text"].strip() for c in source.cells if c.cell_type == "code"
                 for o in c.outputs if "text" in o])
    assert len(secret) >= 12
    strings = list(all_strings(json.loads((out / FIXTURE.name).read_text())))
    leaked = [line for line in secret if any(line in s for s in strings)]
    assert leaked == []


def test_outputs_cleared_other_cells_intact(released):
    _, _, nb = released
    source = nbformat.read(FIXTURE, as_version=4)
    assert len(nb.cells) == len(source.cells)
    for before, after in zip(source.cells, nb.cells):
        assert after.cell_type == before.cell_type
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None
        if "SOLUTION" not in before.source and "HIDDEN TESTS" not in before.source:
            assert after.source == before.source
    assert nb.metadata["kernelspec"] == source.metadata["kernelspec"]


def test_released_notebook_stops_at_first_exercise(released):
    out, _, nb = released
    client = NotebookClient(nb, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(out)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert info.value.ename == "NotImplementedError"
    ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count]
    assert ran == [1, 3, 4]            # imports, the stub definition, then its check fails
    assert nb.cells[4].outputs[-1]["ename"] == "NotImplementedError"


def test_whole_solution_cell_by_metadata():
    nb = _notebook("x = 1", "secret = 42")
    nb.cells[1].metadata["nbgrader"] = {"solution": True}
    out, report = release_notebook(nb, "meta.ipynb")
    assert out.cells[1].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert out.cells[0].source == "x = 1" and report.code_exercises == 1
    assert nb.cells[1].source == "secret = 42"          # the input is not modified


# ---- bad markers ---------------------------------------------------------------------------

@pytest.mark.parametrize("source, pattern", [
    ("a = 1\n### BEGIN SOLUTION\nb = 2", r"bad\.ipynb: cell 1 \(code\), line 2: BEGIN SOLUTION has no END SOLUTION"),
    ("### END SOLUTION", r"bad\.ipynb: cell 1 \(code\), line 1: END SOLUTION without a matching BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION",
     r"cell 1 \(code\), line 2: BEGIN SOLUTION inside the solution region opened at line 1"),
    ("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n### END SOLUTION",
     r"line 2: BEGIN HIDDEN TESTS inside the solution region"),
    ("### BEGIN HIDDEN TESTS\nx = 1\n### END SOLUTION",
     r"line 3: END SOLUTION without a matching BEGIN SOLUTION \(the hidden tests region opened at line 1"),
])
def test_unbalanced_markers_named(tmp_path, source, pattern):
    path = _write(tmp_path, "bad.ipynb", _notebook("md:intro", source))
    out = tmp_path / "out"
    with pytest.raises(ReleaseError, match=pattern):
        release([path], out)
    assert not out.exists()


def test_unbalanced_markdown_marker(tmp_path):
    path = _write(tmp_path, "bad.ipynb", _notebook("x = 1", "x = 2", "md:### BEGIN SOLUTION\nanswer"))
    with pytest.raises(ReleaseError, match=r"bad\.ipynb: cell 2 \(markdown\), line 1: BEGIN SOLUTION has no END"):
        release([path], tmp_path / "out")


# ---- OUTDIR handling -----------------------------------------------------------------------

def test_outdir_not_empty_needs_force(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.ipynb").write_text("{}")
    code = rel.main([str(out), "--notebooks", str(FIXTURE)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"release: error: OUTDIR {out} exists and is not empty; pass --force" in err
    assert sorted(p.name for p in out.iterdir()) == ["old.ipynb"]
    assert rel.main([str(out), "--notebooks", str(FIXTURE), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["classroom_sample.ipynb"]
    printed = capsys.readouterr().out
    assert "classroom_sample.ipynb: 4 exercises (3 code, 1 written), 2 hidden test blocks removed" in printed
    assert [p.name for p in tmp_path.iterdir()] == ["out"]          # no temp folders left


def test_empty_outdir_is_fine(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    release([FIXTURE], out)
    assert (out / FIXTURE.name).is_file()


def test_force_refuses_to_delete_the_sources(tmp_path):
    path = _write(tmp_path, "nb.ipynb", _notebook("x = 1"))
    with pytest.raises(ReleaseError, match="refusing to replace"):
        release([path], tmp_path, force=True)
    assert path.is_file()


def test_failure_midway_leaves_no_outdir(tmp_path, monkeypatch):
    second = _write(tmp_path, "second.ipynb", _notebook("y = 2"))
    calls = []

    def failing_write(nb, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        nbformat.write(nb, str(path))

    monkeypatch.setattr(rel, "_write_notebook", failing_write)
    parent = tmp_path / "dest"
    parent.mkdir()
    with pytest.raises(OSError, match="simulated"):
        release([FIXTURE, second], parent / "release")
    assert len(calls) == 2 and calls[0].is_relative_to(parent)
    assert list(parent.iterdir()) == []                 # no OUTDIR, no temp folder

    # an existing release survives a failed --force rebuild untouched
    release([second], parent / "release")
    calls.clear()
    with pytest.raises(OSError, match="simulated"):
        release([FIXTURE, second], parent / "release", force=True)
    assert sorted(p.name for p in parent.iterdir()) == ["release"]
    assert sorted(p.name for p in (parent / "release").iterdir()) == ["second.ipynb"]


def test_missing_and_duplicate_notebooks(tmp_path):
    with pytest.raises(ReleaseError, match="notebook not found: .*nope.ipynb"):
        release([tmp_path / "nope.ipynb"], tmp_path / "out")
    other = tmp_path / "sub"
    other.mkdir()
    copy = _write(other, FIXTURE.name, _notebook("x = 1"))
    with pytest.raises(ReleaseError, match="two notebooks have the same file name: classroom_sample.ipynb"):
        release([FIXTURE, copy], tmp_path / "out")


# ---- the nbgrader route ----------------------------------------------------------------------

def test_prepare_nbgrader_marks_cells(tmp_path):
    course = tmp_path / "course"
    reports = rel.prepare_nbgrader([FIXTURE], course, assignment="hw")
    assert reports[0].exercises == 4
    nb = nbformat.read(course / "source" / "hw" / FIXTURE.name, as_version=4)
    meta = {i: c.metadata.get("nbgrader") for i, c in enumerate(nb.cells)}
    assert meta[3]["solution"] is True and meta[3]["grade"] is False          # code exercise
    assert meta[4]["grade"] is True and meta[4]["locked"] is True and meta[4]["points"] == 1
    assert meta[5]["solution"] is True and meta[5]["grade"] is True            # written answer
    assert meta[0] is None and meta[8] is None                                 # visible check only
    ids = [m["grade_id"] for m in meta.values() if m]
    assert len(set(ids)) == len(ids) == 6
    assert "course_id" in (course / "nbgrader_config.py").read_text()
    assert "BEGIN SOLUTION" in nb.cells[3].source                              # solutions kept
