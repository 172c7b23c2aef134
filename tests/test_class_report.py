"""The class report (issue 28): `mlp-course report COURSE` after nbgrader has graded a class.

A course of notebook 01 (8 autograded exercises) is built and graded with the documented
commands (`mlp-course nbgrader`, `nbgrader generate_assignment`, `nbgrader autograde`).
Six submissions, each from nbgrader's student version: one solved, one untouched, and four
with one classic slip each (a flipped sign in dl_do, the mean over the batch forgotten in
backward, an unstable softmax, an update that is not in place). The report's counts are
then exact: who passed which exercise, and the cause named for each failure, the same
cause the student's feedback names. Bad courses get a one-line error.

Needs nbgrader (requirements-instructor.txt); skipped without it, except in CI (MLP_CI=1).
"""
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mlp_helpers import cli
from mlp_helpers.course.diagnosis import NOT_ATTEMPTED

pytestmark = pytest.mark.slow

if importlib.util.find_spec("nbgrader") is None:
    if os.environ.get("MLP_CI"):
        raise RuntimeError("nbgrader is not installed, but CI must run the class report's test")
    pytest.skip("nbgrader is not installed (pip install -r requirements-instructor.txt)", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_derivatives.ipynb"
ASSIGNMENT = "hw1"
# student -> (exercise edited, the solution's line, the slip), None: solved; "untouched": the release
SLIPS = {
    "alice": None,
    "bob": ("def dl_do(", "return y - t", "return t - y"),
    "dave": ("def backward(", "dl_do = (y - t) / B ", "dl_do = (y - t)     "),
    "erin": ("def softmax(", "e = np.exp(o - o.max(axis=-1, keepdims=True))", "e = np.exp(o)"),
    "frank": ("def sgd_step(", "params[name] -= lr * grads[name]", "params[name] = params[name] - lr * grads[name]"),
    "carol": "untouched",
}
EXERCISES = ["softmax", "cross_entropy", "dy_do", "softmax_jacobian", "dl_do", "sigmoid_grad",
             "backward", "sgd_step"]


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for var in ("NBGRADER_EXECUTION", "MLP_PUBLISHED_RUNS"):
        env.pop(var, None)
    return env


def _run(args, cwd):
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _submission(student_nb, source_nb, slip):
    """nbgrader's student version, solved as the solution notebook solves it, with ``slip``."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(student_nb)))
    if slip == "untouched":
        return nb
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_nb.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = "\n".join(line for line in solutions[meta["grade_id"]].split("\n")
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
            if slip and slip[0] in cell.source:
                assert cell.source.count(slip[1]) == 1, slip
                cell.source = cell.source.replace(slip[1], slip[2])
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("report") / "course"
    _run([str(Path(sys.executable).parent / "mlp-course"), "nbgrader", str(course), "--assignment", ASSIGNMENT,
          "--notebooks", str(NOTEBOOK)], cwd=ROOT)
    _run(["nbgrader", "generate_assignment", ASSIGNMENT], cwd=course)
    student_nb = nbformat.read(course / "release" / ASSIGNMENT / NOTEBOOK.name, as_version=4)
    source_nb = nbformat.read(course / "source" / ASSIGNMENT / NOTEBOOK.name, as_version=4)
    for student, slip in SLIPS.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(_submission(student_nb, source_nb, slip), folder / NOTEBOOK.name)
        (folder / "timestamp.txt").write_text("2026-12-04 12:00:00.000000 UTC")
        _run(["nbgrader", "db", "student", "add", student], cwd=course)
    _run(["nbgrader", "autograde", ASSIGNMENT], cwd=course)
    return course


@pytest.fixture(scope="module")
def report(course):
    assert cli.main(["report", str(course), "--assignment", ASSIGNMENT]) == 0
    md = (course / "reports" / f"{ASSIGNMENT}-class-report.md").read_text(encoding="utf-8")
    page = (course / "reports" / f"{ASSIGNMENT}-class-report.html").read_text(encoding="utf-8")
    from mlp_helpers.course.report import read_course
    return read_course(course, ASSIGNMENT), md, page


def test_the_report_counts_who_passed_each_exercise(report):
    data, _, _ = report
    assert [e.name for e in data.exercises] == EXERCISES
    passed = {e.name + str(i): e.passed for i, e in enumerate(data.exercises)}
    # alice passes all; carol none; each slip fails its own exercise (and dave's backward only)
    assert passed == {"softmax0": 4, "cross_entropy1": 5, "dy_do2": 5, "softmax_jacobian3": 5,
                      "dl_do4": 4, "sigmoid_grad5": 5, "backward6": 4, "sgd_step7": 4}
    assert data.totals == {"alice": 8, "bob": 7, "dave": 7, "erin": 7, "frank": 7, "carol": 0}


def test_the_report_names_each_cause_with_its_count(report):
    data, md, _ = report
    causes = {e.name: dict(e.ranked_causes()) for e in data.exercises}
    assert causes["dl_do"] == {"a flipped sign": 1, NOT_ATTEMPTED: 1}
    assert causes["backward"] == {"a forgotten mean over the batch": 1, NOT_ATTEMPTED: 1}
    assert causes["softmax"] == {"an overflow": 1, NOT_ATTEMPTED: 1}
    assert set(causes["sgd_step"]) == {NOT_ATTEMPTED, data.exercises[-1].causes["frank"]}
    assert "in place" in data.exercises[-1].messages["frank"]
    distinct = {cause for e in data.exercises for cause in e.causes.values()}
    assert len(distinct) >= 4
    assert "| 01_derivatives | dl_do | 4 of 6 | " in md and "a flipped sign, 1 of 6" in md


def test_the_examples_are_the_feedback_anonymised(report, course):
    data, md, page = report
    dl_do = next(e for e in data.exercises if e.name == "dl_do")
    feedback = (course / "autograded" / "bob" / ASSIGNMENT / NOTEBOOK.name).read_text(encoding="utf-8")
    assert "likely cause: a flipped sign" in dl_do.messages["bob"] and "a flipped sign" in feedback
    for student in SLIPS:
        assert student not in md and student not in page.split("<body>")[1]


def test_the_page_has_the_histogram_and_the_slowest_cells(report):
    data, md, page = report
    assert '<img alt="histogram of the total scores" src="data:image/png;base64,' in page
    assert "Content-Security-Policy" in page and "<script" not in page
    assert len(data.slowest) == 5 and all(med >= 0 for med, _, _, _ in data.slowest)
    hist = md.split("## Total scores")[1].split("```")[1].splitlines()[1:]
    assert hist[0].startswith("  0 | #") and hist[7].startswith("  7 | #") and hist[8].startswith("  8 | #")


def test_bad_courses_get_one_line(tmp_path, capsys, course):
    def error(argv):
        assert cli.main(["report", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        return err

    assert "is not a folder" in error([str(tmp_path / "nowhere")])
    (tmp_path / "plain").mkdir()
    assert "is not an nbgrader course with assignment 'mlp'" in error([str(tmp_path / "plain")])
    fresh = tmp_path / "fresh"
    shutil.copytree(course, fresh, ignore=shutil.ignore_patterns("autograded", "reports"))
    with sqlite3.connect(fresh / "gradebook.db") as db:
        db.execute("DELETE FROM grade")
    assert "has not been autograded yet (run `nbgrader autograde hw1` first)" in error(
        [str(fresh), "--assignment", ASSIGNMENT])
    (fresh / "gradebook.db").write_bytes(b"not a database" * 100)
    assert "gradebook.db is not a readable nbgrader gradebook" in error([str(fresh), "--assignment", ASSIGNMENT])
