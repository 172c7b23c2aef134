"""The student release of the course's real notebooks (issue 7).

Builds the release of notebooks/*.ipynb with the command instructors use,
``mlp-course release OUTDIR``, and checks that

* every exercise of the solution notebooks became a stub, and the summary says so;
* no line of a solution or of a hidden test, and no output, survives anywhere in it;
* each released notebook runs from the top and stops with NotImplementedError at its
  first exercise, every cell before it running cleanly.

The released notebooks run as a student runs them: in a copy of the release folder,
under tmp_path. By the rule of ``mlp_helpers.paths`` a release writes its figures and
results inside itself, so the repository's figures/ and results/ stay untouched (checked).
(That the solution notebooks pass every check is nbval's job: they are run in strict
mode with the rest of the tests.)
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from nbtext import all_strings

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STUB = "raise NotImplementedError()"

# exercises per notebook (code solution regions); a notebook not listed has none
EXERCISES = {
    "01_derivatives.ipynb": 8,     # softmax, cross_entropy, dy_do, softmax_jacobian, dl_do,
                                   # sigmoid_grad, backward, sgd_step
    "02_scalar_sgd.ipynb": 2,      # forward_backward (lists), sgd_step (lists)
    "03_vectorized.ipynb": 1,      # loss_and_grads
    "04_mnist_experiments.ipynb": 1,   # sgd_epoch (the training loop)
}


def _regions(nb, begin, end):
    """[(cell index, [stripped non-empty lines strictly inside the region])] for every region."""
    found = []
    for index, cell in enumerate(nb.cells):
        inside = None
        for line in cell.source.split("\n"):
            if begin in line:
                inside = []
            elif end in line:
                found.append((index, inside))
                inside = None
            elif inside is not None and line.strip():
                inside.append(line.strip())
    return found


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    """The release of notebooks/*.ipynb, built by the command line tool; (folder, its stdout)."""
    out = tmp_path_factory.mktemp("release") / "release"
    done = subprocess.run([str(Path(sys.executable).parent / "mlp-course"), "release", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


@pytest.fixture(scope="module")
def sources():
    return {p.name: nbformat.read(p, as_version=4) for p in NOTEBOOKS}


def test_the_course_notebooks_have_their_exercises(sources):
    counts = {name: len(_regions(nb, "BEGIN SOLUTION", "END SOLUTION")) for name, nb in sources.items()}
    assert {name: n for name, n in counts.items() if n} == EXERCISES
    for name in EXERCISES:
        # every exercise cell is followed by a code cell that calls a self-check on it
        nb = sources[name]
        for index, _ in _regions(nb, "BEGIN SOLUTION", "END SOLUTION"):
            after = [c for c in nb.cells[index + 1:] if c.cell_type == "code"][0]
            assert re.search(r"\bcheck_\w+\(", after.source), (name, index, after.source[:200])
            assert "BEGIN SOLUTION" not in after.source     # nbgrader: tests and solutions apart


def test_summary_lists_every_notebook(release_dir, sources):
    out, stdout = release_dir
    lines = stdout.strip().split("\n")
    total = sum(EXERCISES.values())
    assert lines[0] == f"Released {len(NOTEBOOKS)} notebooks with {total} exercises to {out}/:"
    for name, nb in sources.items():
        n = EXERCISES.get(name, 0)
        hidden = len(_regions(nb, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
        assert (f"  {name}: {n} exercise{'s' * (n != 1)} ({n} code, 0 written), "
                f"{hidden} hidden test block{'s' * (hidden != 1)} removed") in lines
    assert sorted(p.name for p in out.iterdir()) == sorted(sources)


def test_every_exercise_is_a_stub_and_outputs_are_cleared(release_dir, sources):
    out, _ = release_dir
    for name, source in sources.items():
        nb = nbformat.read(out / name, as_version=4)
        assert len(nb.cells) == len(source.cells)
        stubs = sum(c.source.count(STUB) for c in nb.cells)
        assert stubs == EXERCISES.get(name, 0) == len(_regions(source, "BEGIN SOLUTION", "END SOLUTION"))
        for before, after in zip(source.cells, nb.cells):
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
                assert marker not in after.source
            if after.cell_type == "code":
                assert after.outputs == [] and after.execution_count is None
            if "SOLUTION" not in before.source and "HIDDEN TESTS" not in before.source:
                assert after.source == before.source      # everything else is the course, unchanged
        assert "widgets" not in nb.metadata


def test_no_solution_hidden_test_or_output_survives(release_dir, sources):
    out, _ = release_dir
    secret = set()
    for nb in sources.values():
        for begin, end in (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
            for _, lines in _regions(nb, begin, end):
                secret.update(lines)
    # printed results of the solution run (not the literal text of a print() in the source)
    code_text = "\n".join(c.source for nb in sources.values() for c in nb.cells)
    outputs = {line.strip() for nb in sources.values() for c in nb.cells if c.cell_type == "code"
               for o in c.outputs if "text" in o for line in o["text"].split("\n")
               if len(line.strip()) > 20 and line.strip() not in code_text}
    assert len(secret) > 60 and len(outputs) > 20
    released = [s for p in sorted(out.iterdir()) for s in all_strings(json.loads(p.read_text()))]
    released_lines = {line.strip() for s in released for line in s.split("\n")}
    # no line of a solution or hidden test appears as a line of the release ...
    assert sorted(secret & released_lines) == []
    # ... nor inside a longer one (lines long enough not to be ordinary code like `o = []`)
    assert [line for line in secret | outputs if len(line) >= 24 and any(line in s for s in released)] == []


def _release_copy(tmp_path, release_dir):
    """tmp/release/*.ipynb: a copy of the release, flat, as a student gets it."""
    folder = tmp_path / "release"
    folder.mkdir()
    for p in release_dir.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


def _stamps(*folders):
    return {p: p.stat().st_mtime_ns for folder in folders for p in sorted(folder.glob("*"))}


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_released_notebook_stops_at_its_first_exercise(release_dir, tmp_path, name):
    folder = _release_copy(tmp_path, release_dir[0])
    nb = nbformat.read(folder / name, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first = next(i for i in code if STUB in nb.cells[i].source)
    check = next(i for i in code if i > first)          # the self-check right after it
    stamps = _stamps(ROOT / "figures", ROOT / "results")

    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert info.value.ename == "NotImplementedError"

    ran = [i for i in code if nb.cells[i].execution_count is not None]
    failed = [i for i in code if any(o.get("output_type") == "error" for o in nb.cells[i].outputs)]
    # the stub is a function body, so its check is where the error shows (a top-level stub fails at once)
    assert failed in ([first], [check])
    assert ran == [i for i in code if i <= failed[0]]   # every cell before it ran, none after
    assert nb.cells[failed[0]].outputs[-1]["ename"] == "NotImplementedError"
    # the run wrote nothing into the repository's figures or results, nor beside the release
    assert _stamps(ROOT / "figures", ROOT / "results") == stamps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]
    assert not (ROOT / "notebooks" / "figures").exists() or \
        sorted(p.name for p in (ROOT / "notebooks" / "figures").iterdir()) == ["explorer_tour.png"]
