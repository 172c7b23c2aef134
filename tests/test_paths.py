"""mlp_helpers.paths: one course root for figures and results, wherever the notebooks run."""
from pathlib import Path

import pytest

from mlp_helpers import paths

ROOT = Path(__file__).resolve().parent.parent


def test_in_the_repository_the_root_is_the_repository(monkeypatch):
    monkeypatch.delenv(paths.OUTPUT_VAR, raising=False)
    assert paths.course_root(ROOT / "notebooks") == ROOT
    assert paths.figures_dir(ROOT / "notebooks") == ROOT / "figures"
    assert paths.results_path("mnist_experiments.json", ROOT / "notebooks") == ROOT / "results" / "mnist_experiments.json"


@pytest.mark.parametrize("layout", ["release", "course/autograded/alice/mlp", "course/source/mlp",
                                    "somewhere/notebooks"])
def test_anywhere_else_the_root_is_the_notebook_folder(tmp_path, monkeypatch, layout):
    monkeypatch.setenv(paths.OUTPUT_VAR, str(tmp_path / "elsewhere"))   # only for the repository
    folder = tmp_path / layout
    folder.mkdir(parents=True)
    assert paths.course_root(folder) == folder
    assert paths.figures_dir(folder) == folder / "figures" and (folder / "figures").is_dir()   # created
    assert paths.results_path(folder=folder) == folder / "results" / "mnist_experiments.json"
    assert not (folder / "results").exists()                 # made when a result is written


def test_the_repository_can_write_elsewhere_and_still_reads_its_published_runs(tmp_path, monkeypatch):
    # what the test suite does: the committed figures/ and results/ are not rewritten by a test run
    monkeypatch.setenv(paths.OUTPUT_VAR, str(tmp_path / "out"))
    notebooks = ROOT / "notebooks"
    assert paths.course_root(notebooks) == ROOT
    assert paths.output_root(notebooks) == tmp_path / "out"
    assert paths.figures_dir(notebooks) == tmp_path / "out" / "figures" and (tmp_path / "out" / "figures").is_dir()
    assert paths.results_path("runs.json", notebooks) == tmp_path / "out" / "results" / "runs.json"
    assert paths.published_path("runs.json", notebooks) == ROOT / "results" / "runs.json"
    monkeypatch.setenv(paths.OUTPUT_VAR, "")                   # empty: as if unset
    assert paths.output_root(notebooks) == ROOT


def test_the_test_suite_writes_outside_the_checkout():
    # conftest.py sets the variable for every test and for the notebooks' kernels
    assert paths.output_root(ROOT / "notebooks") != ROOT
    assert not paths.output_root(ROOT / "notebooks").resolve().is_relative_to(ROOT)


def test_a_release_inside_the_repository_stays_inside_itself():
    # release/ at the top of the repository: "../figures" would have been the repository's
    assert paths.course_root(ROOT / "release") == ROOT / "release"


def test_the_default_folder_is_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.notebook_dir() == tmp_path and paths.course_root() == tmp_path
    monkeypatch.chdir(ROOT / "notebooks")
    assert paths.course_root() == ROOT


@pytest.mark.parametrize("bad", ["", "../x.png", "a/b.png", None])
def test_names_are_plain_file_names(tmp_path, bad):
    for where in (paths.results_path, paths.published_path):
        with pytest.raises(ValueError, match="must be a plain file name"):
            where(bad, tmp_path)


@pytest.mark.parametrize("env, reason", [
    ({}, None),
    ({"NBGRADER_EXECUTION": "autograde"}, "NBGRADER_EXECUTION=autograde"),
    ({"MLP_PUBLISHED_RUNS": "/x/runs.json"}, "MLP_PUBLISHED_RUNS=/x/runs.json"),
    ({"NBGRADER_EXECUTION": ""}, None),
])
def test_grading_is_told_by_the_graders_variables(monkeypatch, env, reason):
    for name in (paths.NBGRADER_VAR, paths.PUBLISHED_RUNS_VAR):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert paths.grading() == reason


def test_under_a_grader_figures_are_drawn_but_not_written(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from mlp_helpers import plotting

    history = {"train_loss": [1.0, 0.5], "train_loss_after": [0.8, 0.4], "val_loss": [1.1, 0.7], "val_acc": [0.5, 0.8]}
    monkeypatch.setenv(paths.NBGRADER_VAR, "autograde")
    fig = plotting.epoch_losses(history, running=False, save=tmp_path / "a.png")
    assert plotting.save_figure(fig, tmp_path / "b.png") is fig     # a notebook's own figure: the same
    assert fig.axes and not (tmp_path / "a.png").exists() and not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match=r"save must be a path ending in \.png, got '.*a\.jpg'"):
        plotting.epoch_losses(history, running=False, save=tmp_path / "a.jpg")   # still checked
    monkeypatch.delenv(paths.NBGRADER_VAR)
    plotting.save_figure(plotting.epoch_losses(history, running=False, save=tmp_path / "a.png"), tmp_path / "b.png")
    assert (tmp_path / "a.png").stat().st_size > 1000 and (tmp_path / "b.png").stat().st_size > 1000
    plt.close("all")
