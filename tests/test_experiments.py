"""Unit tests of mlp_helpers.experiments on small synthetic data (seconds, not minutes)."""
import dataclasses
import json
import math
import os
from types import SimpleNamespace

import numpy as np
import pytest

from mlp_helpers import experiments
from mlp_helpers.experiments import RunConfig


@pytest.fixture(scope="module")
def synth():
    """A tiny 2-D problem: 240 training and 80 validation points, two classes."""
    from mlp_helpers import load_synth

    return load_synth(num_train=240, num_val=80, seed=3)


def small(lr, seed=0, **kw):
    """A config that trains in milliseconds on `synth`."""
    return RunConfig(lr=lr, seed=seed, epochs=2, n_hidden=6, **kw)


def fake_history(train_loss, val_loss, val_acc, diverged=False):
    """Just the History fields that the summaries read."""
    return SimpleNamespace(train_loss=list(train_loss), val_loss=list(val_loss),
                           val_acc=list(val_acc), diverged=diverged)


# --------------------------------------------------------------------------- RunConfig

def test_config_defaults_are_the_reports_setting():
    config = RunConfig(lr=0.01)
    assert (config.seed, config.epochs, config.batch_size, config.n_hidden, config.final) == (0, 5, 1, 300, False)


def test_config_equal_fields_are_one_run():
    assert RunConfig(lr=1) == RunConfig(lr=1.0)
    assert hash(RunConfig(lr=1, seed=np.int64(2))) == hash(RunConfig(lr=1.0, seed=2))
    assert type(RunConfig(lr=1).lr) is float
    assert len({RunConfig(lr=0.01), RunConfig(lr=0.01, seed=0), RunConfig(lr=0.01, seed=1)}) == 2


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunConfig(lr=0.01).lr = 0.1


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=0.0), r"lr must be a finite number > 0, got 0\.0"),
    (dict(lr=-0.01), r"lr must be a finite number > 0, got -0\.01"),
    (dict(lr=math.nan), r"lr must be a finite number > 0, got nan"),
    (dict(lr="0.01"), r"lr must be a finite number > 0, got '0\.01' \(str\)"),
    (dict(lr=0.01, seed=-1), r"seed must be an integer >= 0, got -1"),
    (dict(lr=0.01, epochs=0), r"epochs must be an integer >= 1, got 0"),
    (dict(lr=0.01, batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (dict(lr=0.01, n_hidden=2.5), r"n_hidden must be an integer >= 1, got 2\.5 \(float\)"),
    (dict(lr=0.01, final="yes"), r"final must be True or False, got 'yes' \(str\)"),
])
def test_bad_config_names_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**kwargs)


def test_grid_is_rate_major():
    configs = experiments.grid([0.1, 0.2], [0, 1], epochs=3)
    assert [(c.lr, c.seed, c.epochs) for c in configs] == [(0.1, 0, 3), (0.1, 1, 3), (0.2, 0, 3), (0.2, 1, 3)]


# --------------------------------------------------------------------------- run_many

def test_run_many_trains_each_distinct_config_once(monkeypatch):
    calls = []

    def counting_train_run(config, data=None):
        calls.append(config)
        return f"net {len(calls)}", fake_history([1.0], [1.0], [config.lr])

    monkeypatch.setattr(experiments.runs, "train_run", counting_train_run)
    exp1 = [RunConfig(lr=0.01, seed=0)]
    exp2 = experiments.grid([0.01], [0, 1, 2])
    exp3 = experiments.grid([0.003, 0.01], [0, 1, 2])
    runs = experiments.run_many(exp1 + exp2 + exp3, workers=1)

    assert calls == [RunConfig(lr=0.01, seed=s) for s in (0, 1, 2)] + [RunConfig(lr=0.003, seed=s) for s in (0, 1, 2)]
    assert runs.requested == 10 and len(runs) == 6 and runs.trained == calls and runs.reused == []
    # every experiment finds all of its runs; the shared run is one and the same object
    assert all(config in runs for config in exp1 + exp2 + exp3)
    assert runs[exp1[0]] is runs[exp2[0]] is runs[exp3[3]]
    assert list(runs) == calls  # order of first request
    assert runs.nets[exp3[3]] == "net 1" and runs.nets[exp3[0]] == "net 4"


def test_run_many_reuses_done_runs(monkeypatch):
    calls = []
    monkeypatch.setattr(experiments.runs, "train_run",
                        lambda config, data=None: calls.append(config) or (config.seed, object()))
    first = experiments.run_many(experiments.grid([0.01], [0, 1]), workers=1)
    more = experiments.run_many(experiments.grid([0.01, 0.03], [0, 1]), workers=1, done=first)
    assert calls == experiments.grid([0.01], [0, 1]) + experiments.grid([0.03], [0, 1])
    assert more.trained == experiments.grid([0.03], [0, 1])
    assert more.reused == experiments.grid([0.01], [0, 1])
    assert more[RunConfig(lr=0.01, seed=1)] is first[RunConfig(lr=0.01, seed=1)]
    assert more.nets == {config: config.seed for config in more}  # reused runs keep their nets


def test_run_many_rejects_what_is_not_a_config():
    with pytest.raises(ValueError, match=r"configs\[1\] must be a RunConfig, got dict"):
        experiments.run_many([RunConfig(lr=0.1), {"lr": 0.1}])
    with pytest.raises(ValueError, match=r"workers must be an integer >= 1, got 0"):
        experiments.run_many([RunConfig(lr=0.1)], workers=0)


def test_run_rejects_malformed_data():
    with pytest.raises(ValueError, match=r"data must be \(\(x_train, t_train\), \(x_val, t_val\), n_classes\)"):
        experiments.run(small(0.1), data=(np.zeros((3, 2)), np.zeros(3)))


def comparable(history):
    """A History as a dict, minus the wall-clock times that differ from run to run."""
    d = dict(history.to_dict())
    d.pop("epoch_time", None)
    return d


def test_run_is_seeded(synth):
    a, b = experiments.run(small(0.5, seed=1), synth), experiments.run(small(0.5, seed=1), synth)
    c = experiments.run(small(0.5, seed=2), synth)
    assert comparable(a) == comparable(b)
    assert comparable(a) != comparable(c)
    assert len(a.train_loss) == len(a.val_loss) == len(a.val_acc) == 2


def test_workers_do_not_change_the_histories(synth):
    configs = experiments.grid([0.1, 0.5], [0, 1])
    configs = [dataclasses.replace(c, epochs=2, n_hidden=6) for c in configs]
    serial = experiments.run_many(configs, synth, workers=1)
    parallel = experiments.run_many(configs + configs[:1], synth, workers=2)
    assert parallel.workers == 2 and parallel.requested == 5 and len(parallel.trained) == 4
    assert list(parallel) == list(serial) == configs
    for config in configs:
        assert comparable(parallel[config]) == comparable(serial[config])
        for name, value in serial.nets[config].params.items():  # the networks came back too
            np.testing.assert_array_equal(parallel.nets[config].params[name], value)


def test_train_run_returns_the_trained_network(synth):
    (x_train, t_train), (x_val, t_val), n_classes = synth
    net, history = experiments.train_run(small(0.5, seed=4), synth)
    assert (net.n_in, net.n_hidden, net.n_out) == (2, 6, n_classes)
    assert net.accuracy(x_val, t_val) == pytest.approx(history.val_acc[-1])


# --------------------------------------------------------------------------- summaries

def hand_made_runs():
    """Three seeds at lr 0.01 and two at lr 0.1, with final values easy to average by hand."""
    return {
        RunConfig(lr=0.01, seed=0): fake_history([0.9, 0.5], [0.8, 0.3], [0.80, 0.90]),
        RunConfig(lr=0.01, seed=1): fake_history([0.9, 0.4], [0.8, 0.2], [0.80, 0.92]),
        RunConfig(lr=0.01, seed=2): fake_history([0.9, 0.3], [0.8, 0.1], [0.80, 0.94]),
        RunConfig(lr=0.1, seed=1): fake_history([0.7, 0.2], [0.6, 0.15], [0.90, 0.95]),
        RunConfig(lr=0.1, seed=0): fake_history([0.7, 0.2], [0.6, 0.25], [0.90, 0.97]),
        RunConfig(lr=0.1, seed=0, final=True): fake_history([0.1], [0.1], [0.99]),
    }


def test_summarize_mean_and_sample_std_per_rate():
    rows = experiments.summarize(hand_made_runs())
    assert [(row["lr"], row["runs"], row["seeds"]) for row in rows] == [(0.01, 3, [0, 1, 2]), (0.1, 2, [0, 1])]
    slow, fast = rows
    assert slow["val_acc_mean"] == pytest.approx(0.92) and slow["val_acc_std"] == pytest.approx(0.02)
    assert slow["val_loss_mean"] == pytest.approx(0.2) and slow["val_loss_std"] == pytest.approx(0.1)
    assert slow["train_loss_mean"] == pytest.approx(0.4) and slow["train_loss_std"] == pytest.approx(0.1)
    assert fast["val_acc_mean"] == pytest.approx(0.96) and fast["val_acc_std"] == pytest.approx(0.02 / math.sqrt(2))
    assert fast["diverged"] == 0
    final_rows = experiments.summarize(hand_made_runs(), final=True)
    assert [(r["lr"], r["runs"], r["val_acc_std"]) for r in final_rows] == [(0.1, 1, 0.0)]


def test_epoch_mean_std():
    histories = list(experiments.histories_by_lr(hand_made_runs())[0.01])
    mean, std = experiments.epoch_mean_std(histories, "val_loss")
    np.testing.assert_allclose(mean, [0.8, 0.2])
    np.testing.assert_allclose(std, [0.0, 0.1], atol=1e-15)
    histories.append(fake_history([1.0], [1.0], [0.5]))
    with pytest.raises(ValueError, match=r"same, non-zero number of val_loss values, got lengths \[1, 2, 2, 2\]"):
        experiments.epoch_mean_std(histories, "val_loss")


def test_histories_by_lr_groups_and_orders_by_seed():
    runs = hand_made_runs()
    groups = experiments.histories_by_lr(runs)
    assert list(groups) == [0.01, 0.1]
    assert groups[0.1] == [runs[RunConfig(lr=0.1, seed=0)], runs[RunConfig(lr=0.1, seed=1)]]


def test_choose_lr_picks_the_best_mean_accuracy():
    assert experiments.choose_lr(hand_made_runs()) == 0.1


def test_choose_lr_breaks_ties_by_validation_loss_then_rate():
    runs = {
        RunConfig(lr=0.003): fake_history([0.3], [0.30], [0.95]),
        RunConfig(lr=0.01): fake_history([0.3], [0.25], [0.95]),  # same accuracy, lower loss
        RunConfig(lr=0.03): fake_history([0.3], [0.40], [0.90]),
    }
    assert experiments.choose_lr(runs) == 0.01
    runs[RunConfig(lr=0.003)] = fake_history([0.3], [0.25], [0.95])  # a tie on both
    assert experiments.choose_lr(runs) == 0.003
    # means that are equal in exact arithmetic but not in floating point still tie
    runs = {
        RunConfig(lr=0.1, seed=0): fake_history([0.3], [0.30], [0.80]),
        RunConfig(lr=0.1, seed=1): fake_history([0.3], [0.30], [0.80]),
        RunConfig(lr=0.1, seed=2): fake_history([0.3], [0.30], [0.85]),
        RunConfig(lr=0.2, seed=0): fake_history([0.3], [0.20], [0.81]),
        RunConfig(lr=0.2, seed=1): fake_history([0.3], [0.20], [0.82]),
        RunConfig(lr=0.2, seed=2): fake_history([0.3], [0.20], [0.82]),
    }
    assert np.mean([0.80, 0.80, 0.85]) > np.mean([0.81, 0.82, 0.82])  # by 3e-16
    assert experiments.choose_lr(runs) == 0.2


def test_choose_lr_ranks_a_diverged_rate_last():
    runs = {
        RunConfig(lr=0.01, seed=0): fake_history([0.3], [0.3], [0.90]),
        RunConfig(lr=1.0, seed=0): fake_history([0.3], [0.2], [0.99]),
        RunConfig(lr=1.0, seed=1): fake_history([math.nan], [], [], diverged=True),
    }
    assert experiments.choose_lr(runs) == 0.01


def test_choose_lr_needs_validation_runs():
    with pytest.raises(ValueError, match="no validation runs"):
        experiments.choose_lr({RunConfig(lr=0.1, final=True): fake_history([0.1], [0.1], [0.9])})


# --------------------------------------------------------------------------- tables

def test_format_table_aligns_columns():
    text = experiments.format_table([{"lr": 0.001, "acc": 0.9}, {"lr": 0.03, "acc": 0.98123}],
                                    columns=[("lr", "rate"), ("acc", "accuracy")], formats={"acc": ".1%"})
    assert text.splitlines() == [
        " rate  accuracy",
        "-----  --------",
        "0.001     90.0%",
        " 0.03     98.1%",
    ]
    text = experiments.format_table([{"name": "a", "n": 1}, {"name": "bcd", "n": 22}], left=["name"])
    assert text.splitlines() == ["name   n", "----  --", "a      1", "bcd   22"]


def test_summary_table_shows_mean_plus_minus_std_in_percent():
    text = experiments.summary_table(experiments.summarize(hand_made_runs()))
    lines = text.splitlines()
    assert len(lines) == 4 and "val acc %" in lines[0]
    assert lines[2].split()[:2] == ["0.01", "3"] and lines[2].endswith("92.00 ± 2.00")
    assert "0.2000 ± 0.1000" in lines[2]


def test_epoch_table_one_run_and_mean_std_over_runs():
    runs = hand_made_runs()
    one = experiments.epoch_table(runs[RunConfig(lr=0.01, seed=0)]).splitlines()
    assert len(one) == 4 and one[2].split() == ["1", "0.9000", "0.8000", "80.00"]
    assert one[3].split() == ["2", "0.5000", "0.3000", "90.00"]
    many = experiments.epoch_table(experiments.histories_by_lr(runs)[0.01]).splitlines()
    assert many[3].split() == ["2", "0.4000", "±", "0.1000", "0.2000", "±", "0.1000", "92.00", "±", "2.00"]


def test_report_numbers_are_as_printed():
    report = experiments.report_numbers()
    assert report["val_acc"] == {0.001: 89.82, 0.003: 94.8, 0.01: 92.60, 0.03: 96.14}
    assert report["final_test_acc"] == 91.55
    assert report["final_lr_text"] != report["final_lr_caption"]


def test_comparison_table_puts_ours_next_to_the_report():
    rows = experiments.summarize(hand_made_runs())
    rows[0]["lr"] = 0.003  # hand-made rows at one of the report's rates
    table = experiments.comparison_table(rows, final_lr=0.1, final_test_acc=0.9812)
    assert [r["report"] for r in table] == ["94.80", "-", "91.55"]
    assert table[0]["ours"] == "92.00 ± 2.00 (n=3)" and table[0]["difference"] == "-2.80"
    assert table[-1]["ours"] == "98.12 (n=1)" and table[-1]["difference"] == "+6.57"
    assert "(lr: report 0.003 in text, 0.01 in caption; ours 0.1)" in table[-1]["setting"]
    seeds = experiments.comparison_table(rows, final_lr=0.1, final_test_acc=[0.97, 0.98, 0.99])
    assert seeds[-1]["ours"] == "98.00 ± 1.00 (n=3)" and seeds[-1]["difference"] == "+6.45"


# --------------------------------------------------------------------------- the report's update

def test_sgd_as_printed_assigns_b_V_c_and_descends_W(synth):
    from mlp_helpers import MLP

    (x, t), _, _ = synth
    lr = 0.5
    net = MLP(2, 6, 2, seed=0)
    experiments.sgd_as_printed(net, x[:10], t[:10], lr)
    before = {k: v.copy() for k, v in net.params.items()}
    _, grads = net.loss(x[10:11], t[10:11])
    loss = experiments.sgd_as_printed(net, x[10:11], t[10:11], lr)
    assert math.isfinite(loss)
    np.testing.assert_allclose(net.params["W"], before["W"] - lr * grads["W"], rtol=1e-6)
    for name in ("b", "V", "c"):  # the learned values are gone: each holds one scaled gradient
        np.testing.assert_allclose(net.params[name], lr * grads[name], rtol=1e-6)


# --------------------------------------------------------------------------- on disk

def test_results_json_roundtrip(tmp_path, synth):
    runs = experiments.run_many([small(0.5, seed=0), small(0.5, seed=1)], synth, workers=1)
    path = experiments.save_results(tmp_path / "out" / "results.json", runs,
                                    chosen_lr=np.float64(0.5), final={"test_acc": np.float32(0.75)})
    assert sorted(os.listdir(path.parent)) == ["results.json", "results.npz"]  # + nets; no temp file
    assert path.stat().st_mode & 0o777 == 0o644                  # readable by others, like any file
    document = json.loads(path.read_text())
    assert document["chosen_lr"] == 0.5 and document["final"] == {"test_acc": 0.75}
    assert document["runs"][1]["config"] == small(0.5, seed=1).to_dict()
    loaded, extra = experiments.load_results(path)
    assert list(loaded) == list(runs)
    for config in runs:
        assert loaded[config].to_dict() == runs[config].to_dict()
    assert extra == {"chosen_lr": 0.5, "final": {"test_acc": 0.75}}


def test_save_results_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text("old contents")
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        experiments.save_results(path, {}, note=object())
    assert path.read_text() == "old contents" and os.listdir(tmp_path) == ["results.json"]

    def failing_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", failing_replace)   # atomic_write's rename
    with pytest.raises(OSError, match="disk gone"):
        experiments.save_results(path, {}, note="new")
    assert path.read_text() == "old contents" and os.listdir(tmp_path) == ["results.json"]


def test_load_results_refuses_other_json(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"runs": []}')
    with pytest.raises(ValueError, match="not a results file written by save_results"):
        experiments.load_results(path)


def test_save_results_keeps_a_file_that_differs_only_in_wall_times(tmp_path, synth):
    """Re-running the notebook (as pytest does) must not rewrite the committed results."""
    config = small(0.5)
    runs = experiments.run_many([config], synth, workers=1)
    h = runs[config]
    path = experiments.save_results(tmp_path / "results.json", runs, chosen_lr=0.5)
    before = path.read_text()
    h.epoch_time = [t + 1.0 for t in h.epoch_time]              # another machine, another speed
    experiments.save_results(path, runs, chosen_lr=0.5)
    assert path.read_text() == before
    h.val_acc = [a - 0.01 for a in h.val_acc]                   # a result changed: rewritten
    experiments.save_results(path, runs, chosen_lr=0.5)
    assert experiments.load_results(path)[0][config].val_acc == h.val_acc
    experiments.save_results(path, runs, chosen_lr=0.3)          # so did an extra value
    assert experiments.load_results(path)[1] == {"chosen_lr": 0.3}


# --------------------------------------------------------------------------- the lessons' fields

def test_config_lesson_fields_are_validated_and_normalised():
    config = RunConfig(lr=0.1, lr_schedule=[1, 0.5, 0.25, 0.125, 0.0625], n_train=np.int64(100),
                       init="normal", eval_train=np.bool_(True))
    assert config.lr_schedule == (1.0, 0.5, 0.25, 0.125, 0.0625) and type(config.n_train) is int
    assert config == RunConfig(lr=0.1, lr_schedule=(1, 0.5, 0.25, 0.125, 0.0625), n_train=100,
                               init="normal", eval_train=True)
    assert len({config, config.replace(seed=0)}) == 1 and config.replace(seed=1).seed == 1
    assert [config.rate(e) for e in (0, 4)] == [0.1, 0.1 * 0.0625]
    assert config.label == "lr 0.1, factors 1, 0.5, 0.25, 0.125, 0.0625, init normal, 100 images"
    assert RunConfig(**json.loads(json.dumps(config.to_dict()))) == config   # JSON and back
    assert RunConfig(lr=0.01).label == "lr 0.01"


@pytest.mark.parametrize("kwargs, message", [
    (dict(init="uniform"), r"init must be one of 'glorot', 'normal', 'zeros', got 'uniform'"),
    (dict(lr_schedule=[1, 0.5]), r"lr_schedule must have one factor per epoch \(5\), got 2"),
    (dict(lr_schedule=[1, 0.5, 0, 1, 1]), r"lr_schedule\[2\] must be a finite number > 0, got 0\.0"),
    (dict(lr_schedule="halve"), r"lr_schedule must be None or a sequence of 5 factors"),
    (dict(n_train=0), r"n_train must be an integer >= 1, got 0"),
    (dict(eval_train=1), r"eval_train must be True or False, got 1 \(int\)"),
])
def test_bad_lesson_fields_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(lr=0.01, **kwargs)


def test_train_run_uses_subset_init_schedule_and_eval_train(synth):
    config = small(0.5, n_train=50, lr_schedule=(1, 0.5), eval_train=True, init="zeros")
    net, history = experiments.train_run(config, synth)
    assert history.n_train == 50 and history.epoch_lr == [0.5, 0.25]
    (x_train, t_train), _, _ = synth
    assert history.train_loss_after[-1] == pytest.approx(net.mean_loss(x_train[:50], t_train[:50]))
    W = net.params["W"]
    assert np.allclose(W, W[:, :1])          # zeros: every hidden unit the same, forever
    with pytest.raises(ValueError, match=r"config.n_train must be at most the 240 training images, got 241"):
        experiments.train_run(small(0.5, n_train=241), synth)


def test_settings_select_and_choose_setting():
    runs = hand_made_runs()
    halve = RunConfig(lr=0.1, epochs=2, lr_schedule=(1, 0.5))
    runs[halve] = fake_history([0.5, 0.1], [0.3, 0.1], [0.95, 0.99])
    groups = experiments.settings(runs)
    assert list(groups) == [RunConfig(lr=0.01), RunConfig(lr=0.1), halve]
    assert groups[RunConfig(lr=0.1)] == [RunConfig(lr=0.1, seed=0), RunConfig(lr=0.1, seed=1)]
    assert experiments.choose_setting(runs) == halve
    with pytest.raises(ValueError, match=r"two settings at lr 0\.1 that differ in epochs, lr_schedule"):
        experiments.choose_lr(runs)
    chosen = experiments.select(runs, [RunConfig(lr=0.1, seed=s) for s in (0, 1)])
    assert list(chosen) == [RunConfig(lr=0.1, seed=0), RunConfig(lr=0.1, seed=1)]
    assert experiments.choose_lr(chosen) == 0.1
    with pytest.raises(ValueError, match="configs holds 1 run"):
        experiments.select(runs, [RunConfig(lr=0.5)])


def test_sampling_error_is_binomial():
    assert experiments.sampling_error(0.97, 5000) == pytest.approx(math.sqrt(0.97 * 0.03 / 5000))
    assert experiments.sampling_error(0.5, 10_000) == pytest.approx(0.005)
    np.testing.assert_allclose(experiments.sampling_error([0.0, 1.0], 10), [0.0, 0.0])
    with pytest.raises(ValueError, match=r"accuracy must be in \[0, 1\], got 97"):
        experiments.sampling_error(97, 5000)


def test_tables_name_test_numbers_and_sampling_error():
    runs = hand_made_runs()
    text = experiments.summary_table(experiments.summarize(runs, final=True), eval_name="test", n_eval=10_000)
    header, _, row = text.splitlines()
    assert "test loss" in header and "val" not in header and "sampling error ± (n=10,000)" in header
    assert row.endswith(f"{100 * math.sqrt(0.99 * 0.01 / 10_000):.2f}")
    table = experiments.epoch_table(runs[RunConfig(lr=0.1, seed=0, final=True)], eval_name="test")
    assert "test loss (after epoch)" in table and "test acc %" in table
    with pytest.raises(ValueError, match="eval_name must be 'val' or 'test', got 'valid'"):
        experiments.epoch_table(runs[RunConfig(lr=0.01)], eval_name="valid")


def test_run_many_progress_bar_counts_epochs_and_runs(synth, capsys):
    configs = [small(0.5, seed=0), small(0.5, seed=1)]
    serial = experiments.run_many(configs, synth, workers=1, progress=True)
    parallel = experiments.run_many(configs, synth, workers=2, progress=True)
    err = capsys.readouterr().err
    assert err.count("4/4") >= 2 and "2/2 runs done" in err      # 2 runs x 2 epochs, both ways
    assert comparable(serial[configs[1]]) == comparable(parallel[configs[1]])
    with pytest.raises(ValueError, match="progress must be True or False, got 'yes'"):
        experiments.run_many(configs, synth, progress="yes")


# --------------------------------------------------------------------------- a killed parent

def _proc_children():
    """{pid: (parent pid, state, CPU ticks used, start time)} of every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry)] = (int(fields[1]), fields[0], int(fields[11]) + int(fields[12]), int(fields[19]))
    return table


def _descendants(pid, table):
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _, _, start) in table.items():
            if ppid == parent and child not in found:
                found[child] = start
                todo.append(child)
    return found   # pid -> start time (to never confuse a reused pid with ours)


def _alive(pid, start):
    info = _proc_children().get(pid)
    return info is not None and info[3] == start and info[1] != "Z"     # a zombie has exited


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process table from /proc")
def test_workers_exit_when_the_parent_is_killed_hard(tmp_path):
    """A kernel restart or an OOM kill (SIGKILL) of the process running run_many: its workers
    (and multiprocessing's resource tracker) must not keep training and then sleep forever."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "from mlp_helpers import experiments, load_synth\n"
        "if __name__ == '__main__':\n"
        "    data = load_synth(num_train=20_000, num_val=100, seed=0)\n"
        "    configs = experiments.grid([0.1], range(8), epochs=200, n_hidden=16)\n"
        "    experiments.run_many(configs, data, workers=2)   # minutes of work\n")
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    children = {}
    try:
        # wait until two workers are busy training (each has used 2 s of CPU)
        ticks = os.sysconf("SC_CLK_TCK")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and parent.poll() is None:
            table = _proc_children()
            children = _descendants(parent.pid, table)
            busy = [pid for pid in children if table.get(pid, (0, "", 0, 0))[2] >= 2 * ticks]
            if len(busy) >= 2:
                break
            time.sleep(0.2)
        assert parent.poll() is None, "the parent ended before it was killed"
        assert len(busy) >= 2, f"workers did not start training: {children}"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10                  # the watchdog looks every 0.5 s
        while time.monotonic() < deadline and any(_alive(p, s) for p, s in children.items()):
            time.sleep(0.1)
        survivors = [pid for pid, start in children.items() if _alive(pid, start)]
        assert survivors == [], f"processes outlived their killed parent: {survivors}"
    finally:                                              # never leave a process behind
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid, start in children.items():
            if _alive(pid, start):
                os.kill(pid, signal.SIGKILL)
