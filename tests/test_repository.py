"""The repository stays light and the tests leave it as they found it (issue 27).

* results/ holds what grading and the notebooks read, at most 3 MB: the histories in
  JSON and the one network a cell uses beyond them (notebook 04's final model).
* No timing-dependent figure is committed (it would change on every run).
* The test suite writes the notebooks' figures and results outside the checkout
  (conftest.py, ``paths.OUTPUT_VAR``), and .ci/run fails if ``git status`` changed.
* ``pytest -m "not slow"`` is the fast tier: everything but notebook 04 and grading.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlp_helpers import experiments as ex

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
LIMIT = 3_000_000          # bytes


def _tracked(*paths):
    try:
        out = subprocess.run(["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return out.split()


def test_results_fit_in_three_megabytes():
    files = sorted(p for p in RESULTS.rglob("*") if p.is_file())
    assert [p.name for p in files] == ["mnist_experiments.json", "mnist_experiments.npz"]
    sizes = {p.name: p.stat().st_size for p in files}
    assert sum(sizes.values()) <= LIMIT, f"results/ is {sum(sizes.values()) / 1e6:.2f} MB (at most 3): {sizes}"


def test_the_published_networks_are_the_final_model_only_and_complete():
    path = RESULTS / "mnist_experiments.json"
    runs, extra = ex.load_results(path)
    listed = json.loads(path.read_text(encoding="utf-8"))["networks"]
    final = ex.RunConfig(lr=extra["final"]["lr"], seed=extra["final"]["seeds"][0], final=True, eval_train=True)
    assert [ex.RunConfig(**item) for item in listed] == [final]
    assert ex.missing_nets(path) == [] and list(runs.nets) == [final]
    assert runs.nets[final].dtype == "float32"
    # every run of experiment 3 records its training loss at its final weights (notebook 04's gap table)
    exp3 = [c for c in runs if not c.final and c.init == "glorot" and c.lr_schedule is None and c.n_train is None]
    assert len(exp3) == 18 and all(len(runs[c].train_loss_after) == 5 for c in exp3)


def test_no_timing_dependent_figure_is_committed():
    assert _tracked("figures/03_loss_vs_time.png") == []
    ignored = subprocess.run(["git", "check-ignore", "-q", "figures/03_loss_vs_time.png"], cwd=ROOT)
    assert ignored.returncode == 0          # a notebook run does not show it as a new file either


def test_ci_fails_when_the_tests_change_the_checkout():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    before, after = run.index("before=$(git status --porcelain"), run.index("after=$(git status --porcelain")
    assert before < run.index("\npytest\n") < after
    assert 'if [ "$before" != "$after" ]; then' in run and "exit 1" in run[after:]


def test_the_fast_tier_leaves_out_notebook_04_and_grading_only():
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "slow",
                          "tests/test_grading.py", "tests/test_paths.py", "notebooks/"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    items = [line for line in out.stdout.splitlines() if "::" in line]
    files = {line.split("::")[0] for line in items}
    assert files == {"tests/test_grading.py", "notebooks/04_mnist_experiments.ipynb"}, out.stdout[-2000:]
    assert len([i for i in items if i.startswith("notebooks/")]) == 50     # every code cell of 04
