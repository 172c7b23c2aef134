"""Grading mode: under a grader, run_many and train_run read the published runs, not train.

The published runs are what ``save_results`` writes: the histories (JSON) and the
networks (.npz beside it). nbgrader announces itself with NBGRADER_EXECUTION; any other
grader names the file with MLP_PUBLISHED_RUNS.
"""
import numpy as np
import pytest

from mlp_helpers import experiments as ex
from mlp_helpers import load_synth


def small(lr, seed=0, **kw):
    return ex.RunConfig(lr=lr, seed=seed, epochs=2, n_hidden=4, **kw)


@pytest.fixture(scope="module")
def synth():
    return load_synth(num_train=200, num_val=100, seed=0)


@pytest.fixture(scope="module")
def trained(synth):
    return ex.run_many([small(0.5, 0), small(0.5, 1), small(2.0, 0)], synth, workers=1)


@pytest.fixture
def published(tmp_path, trained, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv(ex.PUBLISHED_RUNS_VAR, raising=False)
    return ex.save_results(tmp_path / "results" / "mnist_experiments.json", trained, chosen_lr=0.5)


def _same_net(a, b):
    return all(a.params[k].dtype == b.params[k].dtype and np.array_equal(a.params[k], b.params[k])
               for k in "WbVc")


def test_save_results_writes_the_networks_and_load_results_gives_them_back(published, trained):
    runs, extra = ex.load_results(published)
    assert published.with_suffix(".npz").is_file() and extra == {"chosen_lr": 0.5}
    assert list(runs.nets) == list(trained)
    assert all(_same_net(runs.nets[c], trained.nets[c]) for c in trained)


def test_only_the_networks_asked_for_are_saved(tmp_path, trained):
    path = tmp_path / "runs.json"
    ex.save_results(path, trained, nets=[small(2.0, 0), small(0.5, 0), small(2.0, 0)])
    runs, extra = ex.load_results(path)
    assert list(runs) == list(trained) and extra == {}              # every history
    assert list(runs.nets) == [small(0.5, 0), small(2.0, 0)]        # two networks, in the runs' order
    assert _same_net(runs.nets[small(2.0, 0)], trained.nets[small(2.0, 0)])
    assert ex.missing_nets(path) == []
    one = path.with_suffix(".npz").stat().st_size
    ex.save_results(path, trained)                                  # None: all three
    assert path.with_suffix(".npz").stat().st_size > one and len(ex.load_results(path)[0].nets) == 3
    ex.save_results(path, trained, nets=[])                         # none: an earlier .npz goes
    assert not path.with_suffix(".npz").exists() and ex.load_results(path)[0].nets == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.json"]


def test_a_json_whose_networks_are_missing_is_told(tmp_path, trained):
    path = tmp_path / "runs.json"
    ex.save_results(path, trained, nets=[small(0.5, 1)])
    path.with_suffix(".npz").unlink()
    assert ex.missing_nets(path) == [small(0.5, 1)]


@pytest.mark.parametrize("nets, message", [
    (small(0.5, 0), r"nets must be None or a list of RunConfig, got RunConfig\(lr=0.5"),
    ("all", "nets must be None or a list of RunConfig, got 'all'"),
    ([0.5], "nets must hold RunConfig values, got 0.5"),
    ([small(9.0, 0)], r"nets names RunConfig\(lr=9.0.*which is not among the 3 runs saved"),
])
def test_bad_nets_are_refused_before_anything_is_written(tmp_path, trained, nets, message):
    with pytest.raises(ValueError, match=message):
        ex.save_results(tmp_path / "runs.json", trained, nets=nets)
    assert not list(tmp_path.iterdir())


def test_a_network_that_was_not_kept_cannot_be_named(tmp_path, trained):
    without = ex.select(trained, list(trained))
    without.nets = {}
    with pytest.raises(ValueError, match=r"nets names RunConfig\(lr=0.5, seed=0.*whose network is not in runs.nets"):
        ex.save_results(tmp_path / "runs.json", without, nets=[small(0.5, 0)])
    with pytest.raises(ValueError, match="'networks' is the list save_results writes"):
        ex.save_results(tmp_path / "runs.json", trained, networks=3)
    assert not list(tmp_path.iterdir())


def test_a_network_comes_back_only_with_the_history_it_was_trained_with(published, trained, synth):
    other = ex.run_many([small(0.5, 0)], synth, workers=1)
    other[small(0.5, 0)].val_loss = [v + 1.0 for v in other[small(0.5, 0)].val_loss]
    ex.save_results(published, other)            # a new JSON; its .npz now holds another history's net
    runs, _ = ex.load_results(published)
    assert list(runs) == [small(0.5, 0)] and list(runs.nets) == [small(0.5, 0)]


def test_no_grader_no_grading_mode(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv(ex.PUBLISHED_RUNS_VAR, raising=False)
    assert ex.published_runs_file() is None


def test_under_nbgrader_the_published_file_is_the_graded_folders(tmp_path, monkeypatch):
    monkeypatch.delenv(ex.PUBLISHED_RUNS_VAR, raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.chdir(tmp_path)                  # nbgrader's autograded/STUDENT/ASSIGNMENT/
    assert ex.published_runs_file() == tmp_path / "results" / "mnist_experiments.json"


def test_run_many_under_nbgrader_trains_nothing(published, trained, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.chdir(published.parent.parent)
    monkeypatch.setattr(ex, "train_run", None)   # training would fail
    wanted = [small(0.5, 0), small(2.0, 0), small(0.5, 0)]
    runs = ex.run_many(wanted)
    assert list(runs) == [small(0.5, 0), small(2.0, 0)] and runs.requested == 3
    assert runs.trained == [small(0.5, 0), small(2.0, 0)] and runs.workers == 0
    assert runs.published == published
    for config in runs:
        assert runs[config].val_loss == trained[config].val_loss
        assert _same_net(runs.nets[config], trained.nets[config])
    assert capsys.readouterr().out == ("grading mode (NBGRADER_EXECUTION=autograde): 2 runs read from "
                                       "the published results results/mnist_experiments.json, none trained\n")
    # done= works as when training: reused runs stay, only the new ones are read
    more = ex.run_many(wanted + [small(0.5, 1)], done=runs)
    assert more.trained == [small(0.5, 1)] and len(more.reused) == 2
    assert more.nets[small(0.5, 0)] is runs.nets[small(0.5, 0)]


def test_train_run_under_a_grader(published, trained, monkeypatch):
    monkeypatch.setenv(ex.PUBLISHED_RUNS_VAR, str(published))
    net, history = ex.train_run(small(2.0, 0))
    assert history.val_acc == trained[small(2.0, 0)].val_acc and _same_net(net, trained.nets[small(2.0, 0)])
    assert ex.run(small(2.0, 0)).val_loss == trained[small(2.0, 0)].val_loss


def test_runs_on_data_passed_in_are_trained_even_under_a_grader(published, synth, monkeypatch):
    monkeypatch.setenv(ex.PUBLISHED_RUNS_VAR, str(published))
    config = small(0.1, seed=7)                  # not published
    runs = ex.run_many([config], synth, workers=1)
    assert runs.published is None and runs.workers == 1 and runs.trained == [config]


def test_a_run_that_was_not_published_is_named(published, monkeypatch):
    monkeypatch.setenv(ex.PUBLISHED_RUNS_VAR, str(published))
    missing = small(0.5, seed=9)
    with pytest.raises(ex.PublishedRunMissing) as info:
        ex.run_many([small(0.5, 0), missing])
    message = str(info.value)
    assert message.startswith(f"grading mode ({ex.PUBLISHED_RUNS_VAR}={published}): {missing!r} is not "
                              f"among the 3 published runs in {published}. Publish it:")
    with pytest.raises(ex.PublishedRunMissing, match="is not among the 3 published runs"):
        ex.train_run(missing)


def test_published_networks_missing_or_file_missing(published, trained, monkeypatch, tmp_path):
    ex.save_results(published, trained, nets=[small(0.5, 1)])    # the histories, one network
    monkeypatch.setenv(ex.PUBLISHED_RUNS_VAR, str(published))
    runs = ex.run_many([small(0.5, 0), small(0.5, 1)])           # the histories are enough to run
    assert list(runs) == [small(0.5, 0), small(0.5, 1)] and small(0.5, 0) not in runs.nets
    assert _same_net(runs.nets[small(0.5, 1)], trained.nets[small(0.5, 1)])
    with pytest.raises(ex.PublishedRunMissing) as info:          # not a bare KeyError
        runs.nets[small(0.5, 0)]
    assert str(info.value).startswith(
        f"grading mode ({ex.PUBLISHED_RUNS_VAR}={published}): the network of {small(0.5, 0)!r} is not "
        f"published: {published.with_suffix('.npz')} holds the networks of 1 run(s) only ({small(0.5, 1)!r})")
    with pytest.raises(ex.PublishedRunMissing, match=r"the network of RunConfig\(lr=0.5, seed=0.*is not published"):
        ex.train_run(small(0.5, 0))
    published.with_suffix(".npz").unlink()
    with pytest.raises(ex.PublishedRunMissing, match=r"the network of RunConfig\(lr=0.5, seed=1.*holds the networks of 0"):
        ex.train_run(small(0.5, 1))
    monkeypatch.setenv(ex.PUBLISHED_RUNS_VAR, str(tmp_path / "nowhere.json"))
    with pytest.raises(ex.PublishedRunMissing, match=r"the published results .*nowhere.json are missing"):
        ex.run_many([small(0.5, 0)])


def test_new_runconfig_fields_are_looked_up_like_any_other(published, trained, monkeypatch):
    # a config is found by equality of all its fields, whatever they are
    monkeypatch.setenv(ex.PUBLISHED_RUNS_VAR, str(published))
    same = ex.RunConfig(**small(2.0, 0).to_dict())
    assert ex.run_many([same])[same].val_acc == trained[small(2.0, 0)].val_acc
