"""The student release: solutions and hidden tests out, outputs cleared, written atomically."""
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mlp_helpers import cli
from mlp_helpers.course import nbgrader as nbg
from mlp_helpers.course import release as rel
from mlp_helpers.course.release import ReleaseError, release, release_notebook

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
    code = cli.main(["release", str(out), "--notebooks", str(FIXTURE)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"mlp-course release: error: OUTDIR {out} exists and is not empty; pass --force" in err
    assert sorted(p.name for p in out.iterdir()) == ["old.ipynb"]
    # old.ipynb is not a notebook of this release: someone's work, so --force refuses too
    assert cli.main(["release", str(out), "--notebooks", str(FIXTURE), "--force"]) == 2
    assert capsys.readouterr().err == (f"mlp-course release: error: refusing to replace {out}: it holds files the "
                                       f"release tool did not write (old.ipynb); move them or the folder "
                                       f"away yourself, or choose another folder\n")
    assert sorted(p.name for p in out.iterdir()) == ["old.ipynb"]
    # a release (edited by its student) is replaced, and kept beside it
    (out / "old.ipynb").rename(out / FIXTURE.name)
    assert cli.main(["release", str(out), "--notebooks", str(FIXTURE), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["classroom_sample.ipynb"]
    printed = capsys.readouterr().out
    assert "classroom_sample.ipynb: 4 exercises (3 code, 1 written), 2 hidden test blocks removed" in printed
    (backup,) = [p for p in tmp_path.iterdir() if p.name != "out"]     # no temp folders left
    assert re.fullmatch(r"out\.bak-\d{8}-\d{6}", backup.name)
    assert (backup / FIXTURE.name).read_text() == "{}"
    assert printed.endswith(f"The previous {out}/ was moved aside to {backup}/ (delete it when you no "
                            f"longer need it).\n")


def test_force_refuses_an_nbgrader_course_and_changes_nothing(tmp_path, capsys):
    """issue 23: `release COURSE --force` (--nbgrader-course forgotten) replaced a whole
    nbgrader course, gradebook.db and submitted/ included, with the notebooks."""
    course = tmp_path / "C"
    (course / "submitted" / "a").mkdir(parents=True)
    (course / "gradebook.db").write_text("grades")
    assert cli.main(["release", str(course), "--force", "--notebooks", str(FIXTURE)]) == 2
    assert _one_line_error(capsys) == (
        f"mlp-course release: error: refusing to replace {course}: it is an nbgrader course or part of one (it holds "
        f"gradebook.db, submitted/, which the release tool did not write: a course's grades, submissions "
        f"or settings); to prepare an nbgrader course, run `mlp-course nbgrader {course}`")
    assert sorted(p.name for p in course.iterdir()) == ["gradebook.db", "submitted"]
    assert (course / "gradebook.db").read_text() == "grades" and (course / "submitted" / "a").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["C"]


@pytest.mark.parametrize("work", ["autograded/", "feedback/", "nbgrader_config.py", "gradebook.db"])
def test_force_refuses_any_sign_of_an_nbgrader_course(tmp_path, capsys, work):
    out = tmp_path / "out"
    release([FIXTURE], out)                        # a release, with one course file beside it
    (out / work.rstrip("/")).mkdir() if work.endswith("/") else (out / work).write_text("")
    assert cli.main(["release", str(out), "--force", "--notebooks", str(FIXTURE)]) == 2
    assert f"it is an nbgrader course or part of one (it holds {work}, " in _one_line_error(capsys)
    assert sorted(p.name for p in out.iterdir()) == sorted([FIXTURE.name, work.rstrip("/")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_force_refuses_a_students_own_files(tmp_path, capsys):
    out = tmp_path / "release"
    release([FIXTURE], out)
    for name in ("my_notes.md", "scratch.ipynb", "zz1.txt", "zz2.txt"):
        (out / name).write_text("mine")
    (out / "results").mkdir()                       # what the notebooks write: not the reason
    assert cli.main(["release", str(out), "--force", "--notebooks", str(FIXTURE)]) == 2
    assert _one_line_error(capsys) == (
        f"mlp-course release: error: refusing to replace {out}: it holds files the release tool did not write "
        f"(my_notes.md, scratch.ipynb, zz1.txt and 1 more); move them or the folder away yourself, or "
        f"choose another folder")
    assert (out / "my_notes.md").read_text() == "mine" and (out / FIXTURE.name).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_force_replaces_a_used_release_and_keeps_it_whole(tmp_path):
    out = tmp_path / "release"
    release([FIXTURE], out)
    (out / ".ipynb_checkpoints").mkdir()            # Jupyter's, not anyone's work
    (out / ".ipynb_checkpoints" / "classroom_sample-checkpoint.ipynb").write_text("{}")
    for folder in ("results", "figures"):           # the student's runs (mlp_helpers.paths)
        (out / folder).mkdir()
        (out / folder / "run.txt").write_text(folder)
    work = nbformat.read(out / FIXTURE.name, as_version=4)
    work.cells[3].source = "# my work"
    nbformat.write(work, str(out / FIXTURE.name))
    done = release([FIXTURE], out, force=True)
    assert [r.name for r in done] == [FIXTURE.name] and done.backup.parent == tmp_path
    assert sorted(p.name for p in out.iterdir()) == [FIXTURE.name]
    assert nbformat.read(done.backup / FIXTURE.name, as_version=4).cells[3].source == "# my work"
    assert (done.backup / ".ipynb_checkpoints").is_dir()
    assert [(done.backup / f / "run.txt").read_text() for f in ("results", "figures")] == ["results", "figures"]
    again = release([FIXTURE], out, force=True)      # (within the same second: NAME.bak-...-2)
    assert again.backup != done.backup and again.backup.name.startswith("release.bak-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["release", done.backup.name,
                                                                 again.backup.name])
    assert release([FIXTURE], tmp_path / "fresh").backup is None


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
    done = nbg.prepare_nbgrader([FIXTURE], course, assignment="hw")
    reports = done.reports
    assert reports[0].exercises == 4 and reports[0].test_cells == 2 and reports[0].hidden_tests == 2
    assert done.target == course / "source" / "hw" and done.results is None and done.config == "written"
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


def test_nbgrader_summary_says_hidden_tests_are_kept(tmp_path, capsys):
    course = tmp_path / "course"
    assert cli.main(["nbgrader", str(course), "--assignment", "hw", "--notebooks", str(FIXTURE)]) == 0
    out = capsys.readouterr().out.split("\n")
    assert out[0] == f"Prepared 1 notebook with 4 exercises to {course / 'source' / 'hw'}/:"
    assert out[1] == ("  classroom_sample.ipynb: 4 exercises (3 code, 1 written), 2 autograded test cells; "
                      "2 hidden test blocks kept for nbgrader generate_assignment to strip")
    assert out[2] == ("Grading: 2 autograded test cells, 1 point each; their 2 hidden test blocks stay in the "
                      "source for nbgrader (generate_assignment strips them, autograde puts them back).")
    assert out[3] == (f"Wrote {course / 'nbgrader_config.py'} (course id, {nbg.CELL_TIMEOUT} s per cell, "
                      f"demonstrations not run under autograde).")
    assert out[4] == f"Next: cd {course} && nbgrader generate_assignment hw"
    assert not any("removed" in line for line in out)
    nb = nbformat.read(course / "source" / "hw" / FIXTURE.name, as_version=4)
    assert sum("BEGIN HIDDEN TESTS" in c.source for c in nb.cells) == 2          # kept, for nbgrader


def test_nbgrader_config_sets_the_cell_timeout_and_is_never_overwritten(tmp_path, capsys, monkeypatch):
    pytest.importorskip("nbgrader")      # the file imports mlp_helpers.course.autograde (CI has nbgrader)
    from mlp_helpers.course.autograde import SkipDemonstrations
    blas = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    for var in blas:
        monkeypatch.delenv(var, raising=False)   # the file sets them: restored after the test
    course = tmp_path / "course"
    nbg.prepare_nbgrader([FIXTURE], course, assignment="hw")
    config = (course / "nbgrader_config.py").read_text()
    namespace = {}

    class Config(dict):          # what nbgrader's get_config() returns, as far as the file needs
        def __getattr__(self, name):
            return self.setdefault(name, Config())

        def __setattr__(self, name, value):
            self[name] = value

    exec(compile(config, "nbgrader_config.py", "exec"), {"get_config": lambda: namespace.setdefault("c", Config())})
    c = namespace["c"]
    assert c.Execute.timeout == nbg.CELL_TIMEOUT >= 60
    assert c.CourseDirectory.course_id == "mlp-from-scratch"
    assert [os.environ[var] for var in blas] == ["1", "1", "1"]     # inherited by the kernels
    assert SkipDemonstrations in c.Autograde.autograde_preprocessors

    own = ("c = get_config()\nc.Execute.timeout = 600\n"
           "c.Autograde.autograde_preprocessors = __import__('mlp_helpers.course.autograde').autograde.preprocessors()\n")
    (course / "nbgrader_config.py").write_text(own)
    assert cli.main(["nbgrader", str(course), "--assignment", "hw2", "--notebooks", str(FIXTURE)]) == 0
    assert f"Kept the existing {course / 'nbgrader_config.py'}." in capsys.readouterr().out
    assert (course / "nbgrader_config.py").read_text() == own

    (course / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 600\n")
    assert cli.main(["nbgrader", str(course), "--assignment", "hw3", "--notebooks", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "it does not set c.Autograde.autograde_preprocessors: every demonstration cell runs" in out
    assert "c.Execute.timeout" not in out

    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    assert cli.main(["nbgrader", str(course), "--assignment", "hw4", "--notebooks", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "it does not set c.Execute.timeout: nbgrader's 30 s per cell may be too short" in out
    assert "it does not set c.Autograde.autograde_preprocessors" in out


# ---- the published runs, for notebooks that use mlp_helpers.experiments --------------------

@pytest.fixture
def experiments_notebook(tmp_path):
    """A flat course folder: exp.ipynb (it uses experiments), results/ beside it (empty)."""
    (tmp_path / "results").mkdir()
    return _write(tmp_path, "exp.ipynb",
                  _notebook("from mlp_helpers import experiments as ex\nruns = ex.run_many([])"))


def _publish(results_json, with_nets=True):
    from mlp_helpers import experiments as ex, load_synth

    data = load_synth(num_train=60, num_val=20, seed=0)
    runs = ex.run_many([ex.RunConfig(lr=0.5, epochs=1, n_hidden=3)], data, workers=1)
    return ex.save_results(results_json, runs, nets=None if with_nets else [])


def test_nbgrader_course_needs_the_published_runs(tmp_path, experiments_notebook, capsys):
    course = tmp_path / "course"
    args = ["nbgrader", str(course), "--notebooks", str(experiments_notebook)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlp-course nbgrader: error: exp.ipynb runs its MNIST experiments through mlp_helpers.experiments")
    assert f"{tmp_path / 'results' / 'mnist_experiments.json'} does not exist" in err and err.count("\n") == 1
    assert not course.exists()

    _publish(tmp_path / "results" / "mnist_experiments.json")
    (tmp_path / "results" / "mnist_experiments.npz").unlink()        # the JSON lists a network it lacks
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "mnist_experiments.json lists 1, but " in err
    assert f"{tmp_path / 'results' / 'mnist_experiments.npz'} does not exist" in err and "RunConfig(lr=0.5" in err
    assert not course.exists()

    _publish(tmp_path / "results" / "mnist_experiments.json", with_nets=False)   # histories only: enough
    assert cli.main(args) == 0, capsys.readouterr().err
    assert "Published runs: 1 runs and 0 networks (mnist_experiments.json, 0.0 MB)" in capsys.readouterr().out
    assert sorted(p.name for p in (course / "source" / "mlp" / "results").iterdir()) == ["mnist_experiments.json"]
    shutil.rmtree(course)

    _publish(tmp_path / "results" / "mnist_experiments.json")
    assert cli.main(args) == 0
    assert "Published runs: 1 runs and 1 network (mnist_experiments.json, mnist_experiments.npz" \
        in capsys.readouterr().out
    copied = course / "source" / "mlp" / "results"
    assert sorted(p.name for p in copied.iterdir()) == ["mnist_experiments.json", "mnist_experiments.npz"]
    for name in ("mnist_experiments.json", "mnist_experiments.npz"):
        assert (copied / name).read_bytes() == (tmp_path / "results" / name).read_bytes()


def test_nbgrader_force_replaces_only_what_the_tool_wrote_and_keeps_it(tmp_path, experiments_notebook, capsys):
    _publish(tmp_path / "results" / "mnist_experiments.json")
    course = tmp_path / "course"
    args = ["nbgrader", str(course), "--notebooks", str(experiments_notebook)]
    assert cli.main(args) == 0
    (course / "gradebook.db").write_text("grades")              # the course's own, beside source/
    target = course / "source" / "mlp"
    assert cli.main(args + ["--force"]) == 0                     # the notebooks and results/ only
    out = capsys.readouterr().out
    (backup,) = [p for p in (course / "source").iterdir() if p.name != "mlp"]
    assert re.fullmatch(r"mlp\.bak-\d{8}-\d{6}", backup.name)
    assert f"The previous {target}/ was moved aside to {backup}/" in out
    assert sorted(p.name for p in (backup / "results").iterdir()) == ["mnist_experiments.json",
                                                                      "mnist_experiments.npz"]
    assert (course / "gradebook.db").read_text() == "grades"

    (target / "results" / "extra.csv").write_text("mine")
    (target / "data.csv").write_text("mine")
    assert cli.main(args + ["--force"]) == 2
    assert _one_line_error(capsys) == (f"mlp-course nbgrader: error: refusing to replace {target}: it holds files the "
                                       f"release tool did not write (data.csv, results/extra.csv); move them "
                                       f"or the folder away yourself, or choose another folder")
    assert (target / "data.csv").is_file() and len(list((course / "source").iterdir())) == 2


def test_nbgrader_course_takes_results_from_the_option(tmp_path, experiments_notebook):
    published = _publish(tmp_path / "elsewhere" / "runs.json")
    done = nbg.prepare_nbgrader([experiments_notebook], tmp_path / "course", results=published)
    assert done.results[0] == published and done.results[2] == 1
    assert sorted(p.name for p in (tmp_path / "course" / "source" / "mlp" / "results").iterdir()) == \
        ["runs.json", "runs.npz"]


def test_assignment_name_must_be_a_folder_name(tmp_path):
    for bad in ("", "a/b", "..", ".hidden"):
        with pytest.raises(ReleaseError, match="--assignment must be a plain folder name"):
            nbg.prepare_nbgrader([FIXTURE], tmp_path / "course", assignment=bad)
    assert list(tmp_path.iterdir()) == []


# ---- filesystem errors: one line naming the path, nothing half written ----------------------

def _one_line_error(capsys):
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    return captured.err.strip()


@pytest.mark.parametrize("route", ["release", "nbgrader"])
def test_a_parent_that_is_a_file(tmp_path, capsys, route):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    target = blocker / "sub" / "out"
    args = (["release", str(target)] if route == "release" else ["nbgrader", str(target)]) + \
        ["--notebooks", str(FIXTURE)]
    assert cli.main(args) == 2
    where = target if route == "release" else target / "source" / "mlp"
    assert _one_line_error(capsys) == f"mlp-course {route}: error: cannot create {where}: {blocker} is a file, not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"] and blocker.read_text() == "a file"


def test_a_read_only_parent_simulated(tmp_path, capsys, monkeypatch):
    parent = tmp_path / "ro"
    parent.mkdir()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(parent / ".release.tmp-x"))

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    assert cli.main(["release", str(parent / "a" / "release"), "--notebooks", str(FIXTURE)]) == 1
    assert _one_line_error(capsys) == f"mlp-course release: error: cannot write {parent / 'a' / 'release'}: Read-only file system"
    assert list(parent.iterdir()) == []                   # the folder it made for OUTDIR is gone too


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_parent(tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert cli.main(["release", str(parent / "release"), "--notebooks", str(FIXTURE)]) == 1
        assert _one_line_error(capsys) == f"mlp-course release: error: cannot write {parent / 'release'}: Permission denied"
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


@pytest.mark.parametrize("route", ["release", "nbgrader"])
def test_disk_full_leaves_nothing(tmp_path, capsys, monkeypatch, route):
    second = _write(tmp_path, "second.ipynb", _notebook("y = 2"))
    calls = []

    def full_disk(nb, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        nbformat.write(nb, str(path))

    monkeypatch.setattr(rel, "_write_notebook", full_disk)
    monkeypatch.setattr(nbg, "_write_notebook", full_disk)
    dest = tmp_path / "dest"
    target = dest / "out"
    args = (["release", str(target)] if route == "release" else ["nbgrader", str(target)]) + \
        ["--notebooks", str(FIXTURE), str(second)]
    assert cli.main(args) == 1
    shown = target if route == "release" else target / "source" / "mlp"
    assert _one_line_error(capsys) == f"mlp-course {route}: error: cannot write {shown}: No space left on device"
    assert len(calls) == 2 and not dest.exists()          # no OUTDIR, no COURSE, no temp folder


def test_disk_full_when_writing_the_config_leaves_nothing(tmp_path, capsys, monkeypatch):
    real_mkstemp = tempfile.mkstemp

    def full(*args, **kwargs):
        if ".nbgrader_config.py." in str(kwargs.get("prefix", "")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", full)
    course = tmp_path / "course"
    assert cli.main(["nbgrader", str(course), "--notebooks", str(FIXTURE)]) == 1
    assert _one_line_error(capsys) == f"mlp-course nbgrader: error: cannot write {course / 'source' / 'mlp'}: No space left on device"
    assert list(tmp_path.iterdir()) == []


# ---- --lab: the course from the exercise version, for students who learn alone --------------

def test_lab_builds_the_release_once_and_opens_it(tmp_path, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(rel, "open_in_lab", lambda folder: opened.append(folder) or 0)
    out = tmp_path / "release"
    assert cli.main(["release", str(out), "--notebooks", str(FIXTURE), "--lab"]) == 0
    assert opened == [out] and (out / FIXTURE.name).is_file()
    assert capsys.readouterr().out.startswith("Released 1 notebook with 4 exercises")

    work = nbformat.read(out / FIXTURE.name, as_version=4)
    work.cells[3].source = "# my work"
    nbformat.write(work, str(out / FIXTURE.name))
    assert cli.main(["release", str(out), "--notebooks", str(FIXTURE), "--lab"]) == 0      # again: the work is kept
    assert opened == [out, out]
    assert nbformat.read(out / FIXTURE.name, as_version=4).cells[3].source == "# my work"
    assert capsys.readouterr().out == (f"{out}/ exists: opening it as it is (your work is kept; to start "
                                       f"afresh, move it away or pass --force).\n")


def test_lab_does_not_go_with_nbgrader(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["nbgrader", str(tmp_path / "c"), "--lab"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "mlp-course: error: unrecognized arguments: --lab"
