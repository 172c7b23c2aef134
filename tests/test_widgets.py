"""The learning-rate explorer without a browser: build it, press its buttons from code, watch its state.

Functional checks only (no timings): the runs are tiny (synthetic data, 5,000 points).
"""
import math
import threading
import time

import ipywidgets as widgets
import numpy as np
import pytest

from mlp_helpers import explorer_runs
from mlp_helpers import widgets as lrw
from mlp_helpers.explorer.widget import LRExplorer, lr_explorer


def _wait_for(predicate, timeout=30.0):
    """Poll until predicate() is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.01)


@pytest.fixture
def explorer():
    ex = LRExplorer(epochs=2)
    yield ex
    ex.stop(wait=True)


def test_lr_explorer_is_one_widget_with_all_controls():
    box = lr_explorer()
    assert isinstance(box, widgets.VBox)
    ex = box.explorer
    assert isinstance(ex, LRExplorer) and ex.widget is box
    slider = ex.lr_slider
    assert isinstance(slider, widgets.FloatLogSlider)
    assert (slider.base, slider.min, slider.max) == (10, -4, 1)    # 1e-4 .. 10, log scale
    assert ex.dataset.value == "synthetic" and "mnist" in dict(ex.dataset.options).values()
    assert ex.mnist_size.disabled and ex.stop_button.disabled and not ex.train_button.disabled
    ex.dataset.value = "mnist"
    assert not ex.mnist_size.disabled
    # every control is somewhere inside the one widget
    def descendants(w):
        yield w
        for child in getattr(w, "children", ()):
            yield from descendants(child)
    inside = set(map(id, descendants(box)))
    for control in (ex.lr_slider, ex.batch_size, ex.epochs, ex.n_hidden, ex.seed, ex.dataset,
                    ex.mnist_size, ex.train_button, ex.stop_button, ex.clear_button, ex.readout, ex.plot):
        assert id(control) in inside
    assert ex.plot.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Press <b>Train</b>" in ex.readout.value


def test_train_button_records_a_run_and_updates_plot_and_readout(explorer):
    explorer.lr_slider.value = 0.05
    explorer.n_hidden.value = 8
    explorer.seed.value = 3
    plot_before, text_before, renders_before = explorer.plot.value, explorer.readout.value, explorer.render_count
    explorer.train_button.click()
    assert explorer.wait(timeout=60)
    assert len(explorer.runs) == 1
    run = explorer.runs[0]
    assert run.lr == pytest.approx(0.05) and run.history.lr == pytest.approx(0.05)
    assert (run.n_hidden, run.seed, run.epochs, run.batch_size) == (8, 3, 2, 1)
    assert run.net.params["W"].shape == (2, 8)
    assert run.status == "done" and not run.history.stopped and not run.history.diverged
    assert len(run.history.val_loss) == 2 and run.history.running_loss
    # the validation curve starts at the untrained network and ends at the last epoch's value
    assert run.val_at[0] == 0 and run.val_loss[-1] == pytest.approx(run.history.val_loss[-1])
    assert run.val_loss[-1] < run.val_loss[0]          # lr 0.05 learns on this data
    assert run.val_acc[-1] > 0.8
    assert explorer.render_count > renders_before and explorer.plot.value != plot_before
    assert not math.isnan(run.first_update)
    text = explorer.readout.value
    assert text != text_before
    assert "run 1</b>: lr = 0.05," in text and "<b>done</b>, epoch 2.0 / 2" in text
    assert f"validation accuracy {100 * run.val_acc[-1]:.1f}%" in text
    assert not explorer.train_button.disabled and explorer.stop_button.disabled


def test_stop_button_ends_a_long_run(explorer):
    explorer.epochs.value = 100
    run = explorer.train()
    assert explorer.running and explorer.train_button.disabled and not explorer.stop_button.disabled
    _wait_for(lambda: run.history is not None and run.history.running_loss)
    explorer.stop_button.click()
    assert explorer.wait(timeout=30)
    assert run.status == "stopped" and run.history.stopped
    assert run.epochs_seen() < 100
    assert "<b>stopped</b>" in explorer.readout.value
    assert not explorer.train_button.disabled and explorer.stop_button.disabled


def test_stop_is_answered_before_the_last_picture_is_drawn(explorer):
    # What a person sees first after Stop: the read-out "stopped" and Train enabled; the
    # last picture (the curve up to where training ended) is drawn after that.
    seen = []
    draw = explorer._draw
    def recording_draw():
        seen.append(("stopped" in explorer.readout.value, explorer.train_button.disabled))
        draw()
    explorer._draw = recording_draw
    explorer.epochs.value = 100
    run = explorer.train()
    _wait_for(lambda: run.history is not None and run.history.running_loss)
    latency = explorer.stop(wait=True)
    assert run.status == "stopped" and run.answered > 0
    assert seen[-1] == (True, False)             # the last draw came after the answer
    assert not any(stopped for stopped, _ in seen[:-1])
    assert 0 <= latency <= explorer.state.last_stop_thread


def test_stop_during_a_picture_is_answered_at_once(explorer):
    # Stop pressed while the training thread draws (training paused until the picture is
    # done): the explorer answers from stop() itself, and no step is taken after it
    state = explorer.state
    drawing, release, seen = threading.Event(), threading.Event(), []
    draw = explorer._draw
    def slow_draw():
        if state.drawing is not None and not drawing.is_set():
            seen.append(state.drawing.history.examples_seen)
            drawing.set()
            release.wait(10)                     # a picture that takes as long as the test wants
        draw()
    explorer._draw = slow_draw
    explorer.epochs.value = 100
    run = explorer.train()
    assert drawing.wait(20)
    explorer.stop(wait=False)
    assert run.answered > 0 and run.status == "stopped"              # said before the picture is done
    assert "<b>stopped</b>" in explorer.readout.value and not explorer.train_button.disabled
    release.set()
    assert explorer.wait(timeout=30)
    assert run.history.stopped and run.history.examples_seen == seen[0]   # not one step more


def test_train_while_the_last_picture_is_drawn_waits_for_it(explorer):
    # a run that ended by itself re-enables Train before its last picture: a click then
    # waits for that picture instead of refusing with "already in progress"
    explorer.epochs.value = 1
    first = explorer.train()
    _wait_for(lambda: first.answered > 0)
    second = explorer.train(wait=True)
    assert first.status == "done" and second.status == "done" and second.number == 2


def test_controls_stay_usable_and_apply_to_the_next_run(explorer):
    explorer.epochs.value = 100
    run = explorer.train()
    with pytest.raises(RuntimeError, match="already in progress"):
        explorer.train()
    explorer.lr_slider.value = 0.2              # changed while training ...
    assert run.lr == pytest.approx(0.1)          # ... does not touch the running run
    explorer.stop(wait=True)
    explorer.epochs.value = 1
    second = explorer.train(wait=True)
    assert second.lr == pytest.approx(0.2) and second.number == 2 and second.status == "done"


def test_clear_removes_earlier_runs(explorer):
    empty_plot = explorer.plot.value
    explorer.epochs.value = 1
    for lr in (0.01, 0.3):
        explorer.lr_slider.value = lr
        explorer.train(wait=True)
    assert [r.lr for r in explorer.runs] == pytest.approx([0.01, 0.3])
    assert explorer.plot.value != empty_plot
    explorer.clear_button.click()
    assert explorer.runs == []
    assert explorer.plot.value == empty_plot      # the same picture as before any run
    assert "Cleared" in explorer.readout.value
    # a clean slate: numbering (and colours) start again
    assert explorer.train(wait=True).number == 1


def test_a_nan_learning_rate_is_refused_at_once_and_the_readout_says_why(explorer):
    """issue 23: lr_slider.value = nan was accepted, and failed only at Train."""
    import traitlets
    explorer.lr_slider.value = 0.05
    with pytest.raises(traitlets.TraitError, match=r"learning rate must be a number in \[0.0001, 10\], "
                                                   r"got nan; kept lr = 0.05"):
        explorer.lr_slider.value = float("nan")
    assert explorer.lr_slider.value == 0.05
    assert ("<b>refused</b>: learning rate must be a number in [0.0001, 10], got nan; kept lr = 0.05"
            in explorer.readout.value)
    explorer.lr_slider.value = float("inf")             # a number: clamped to the top, as before
    assert explorer.lr_slider.value == 10
    explorer.lr_slider.value = 0.05
    run = explorer.train(wait=True)
    assert run.lr == pytest.approx(0.05) and run.status == "done"


def test_nan_divergence_is_reported_not_raised(explorer):
    # No rate on the slider (<= 10) makes this stable network's loss NaN; code can go further.
    # (At 1e30 the loss stays finite, as in the reference loop; at 1e38 float32 overflows.)
    explorer.lr_slider.max = 38
    explorer.lr_slider.value = 1e38
    run = explorer.train(wait=True)
    assert run.status == "diverged" and run.history.diverged
    assert any("diverged" in w for w in run.warnings)       # train()'s RuntimeWarning, kept
    assert "<b>diverged</b> after" in explorer.readout.value
    assert run.label == "lr=1e+38 (diverged)"
    assert not explorer.train_button.disabled


def test_a_too_large_rate_is_flagged_by_trains_divergence_rule(explorer):
    explorer.lr_slider.value = 10                           # the slider's top
    explorer.epochs.value = 3
    run = explorer.train(wait=True)
    # the loss stays finite, but train()'s rule sees it held far above the untrained net's
    assert run.status == "diverged" and run.history.diverged and run.diverging
    assert np.all(np.isfinite(run.history.running_loss))
    assert run.history.examples_seen < 3 * 5000             # stopped where it diverged
    assert run.val_at[-1] == run.history.examples_seen      # the curve ends there, far up
    assert run.val_loss[-1] > 5 * run.val_loss[0]
    assert run.divergence_reason.startswith("the running loss (")
    assert "<b>diverged</b> after" in explorer.readout.value
    assert "stayed above" in explorer.readout.value and "learning rate is too large" in explorer.readout.value
    assert run.label == "lr=10 (diverged)"


def test_a_good_rate_is_not_flagged(explorer):
    explorer.lr_slider.value = 1.0
    run = explorer.train(wait=True)
    assert run.status == "done" and not run.diverging and run.label == "lr=1"


def test_train_just_after_stop_waits_for_the_stopping_run(explorer):
    explorer.epochs.value = 100
    first = explorer.train()
    _wait_for(lambda: first.history is not None and first.history.running_loss)
    explorer.stop_button.click()                # Stop, without waiting for the thread ...
    explorer.epochs.value = 1
    explorer.train_button.click()               # ... then Train at once: no "already in progress"
    assert explorer.wait(timeout=60)
    assert [r.status for r in explorer.runs] == ["stopped", "done"]
    assert "already in progress" not in explorer.readout.value
    # without Stop, a second Train is still refused
    explorer.epochs.value = 100
    explorer.train()
    with pytest.raises(RuntimeError, match="already in progress"):
        explorer.train()


def test_an_exception_in_the_thread_shows_in_the_readout(explorer, monkeypatch):
    def broken(name, size):
        raise OSError("no data here")
    monkeypatch.setattr(explorer_runs, "dataset", broken)
    run = explorer.train(wait=True)
    assert run.status == "error" and "OSError: no data here" in run.error
    assert "<b>error</b>: OSError: no data here" in explorer.readout.value
    assert not explorer.train_button.disabled and explorer.stop_button.disabled


def test_mnist_subset_path_uses_the_accuracy_panel(explorer, monkeypatch):
    # A stand-in for MNIST (random pixels) so the test needs no download.
    import numpy as np
    rng = np.random.default_rng(0)
    fake = ((rng.random((300, 784), dtype=np.float32), rng.integers(0, 10, 300)),
            (rng.random((100, 784), dtype=np.float32), rng.integers(0, 10, 100)), 10)
    monkeypatch.setattr(explorer_runs, "dataset", lambda name, size: fake)
    explorer.dataset.value = "mnist"
    explorer.mnist_size.value = 1000
    run = explorer.train(wait=True)
    assert run.status == "done" and run.dataset == "mnist" and run.size == 1000
    assert run.net.params["W"].shape == (784, run.n_hidden) and run.net.params["V"].shape[1] == 10
    assert "mnist 1000" in explorer.readout.value
    assert len(run.history.val_acc) == 2


def test_default_log_every_is_a_multiple_of_the_batch():
    for batch_size in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        every = lrw.default_log_every(batch_size)
        assert every % batch_size == 0 and every >= batch_size
    assert lrw.default_log_every(1) == 500


def test_prepare_loads_the_kernels_and_the_data_in_the_background(monkeypatch):
    monkeypatch.setattr(explorer_runs, "_DATA_CACHE", {})
    thread = explorer_runs.prepare("mnist", 1000)
    assert thread.daemon and thread.name == "lr-explorer-prepare"
    thread.join(60)
    assert explorer_runs._WARM.is_set() and explorer_runs.dataset_loaded("mnist", 1000)
    explorer_runs.dataset("mnist", 5000)                       # one MNIST size is kept
    assert not explorer_runs.dataset_loaded("mnist", 1000) and explorer_runs.dataset_loaded("mnist", 5000)
    (x, y), (xv, yv), k = explorer_runs.dataset("mnist", 5000)
    assert x.shape == (5000, 784) and xv.shape == (1000, 784) and k == 10
