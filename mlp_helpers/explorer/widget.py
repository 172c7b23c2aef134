"""The learning-rate explorer: drag a learning rate, press Train, watch the network learn (or fail to).

One widget, built from ipywidgets only, that works the same in JupyterLab, in a
Voila app and in a headless browser::

    from mlp_helpers.explorer.widget import lr_explorer
    lr_explorer()                      # the widget; display it as a cell's last line

    from mlp_helpers.explorer.widget import LRExplorer
    explorer = LRExplorer()            # the same, with its state in reach of code and tests
    explorer.widget                    # display this
    explorer.lr_slider.value = 0.1
    run = explorer.train(wait=True)    # what the Train button does, then wait for the run
    run.status, run.history.val_acc    # 'done' / 'stopped' / 'diverged' / 'error'

This module holds the controls and wires them up. The runs, the training thread and
Stop are :mod:`mlp_helpers.explorer.runs` (how it stays responsive is explained
there); the figure and the read-out are :mod:`mlp_helpers.explorer.view`.

Measure the responsiveness with ``mlp-course explorer-latency``.
"""
import math
import time

import ipywidgets as widgets
import numpy as np
import traitlets

from .._checks import check_positive_int
from .runs import STOP_GRACE, ExplorerState, Run, default_log_every, prepare  # noqa: F401 (re-exported)
from .view import ExplorerView, describe, escape

__all__ = ["lr_explorer", "LRExplorer", "LearningRateSlider", "Run", "measure_latency", "default_log_every"]

MNIST_SIZES = (1_000, 5_000, 10_000, 55_000)
DATASETS = (("synthetic (2-D, 2 classes)", "synthetic"), ("MNIST subset", "mnist"))


class LearningRateSlider(widgets.FloatLogSlider):
    """The explorer's learning-rate slider: a FloatLogSlider that refuses NaN at once.

    The slider clamps a number into [base ** min, base ** max] (inf becomes the top),
    but NaN fails both comparisons and went through, to fail only at Train. Here
    setting it to NaN raises ``traitlets.TraitError``, the value stays what it was, and
    ``on_refused(message)`` (if set) shows why, in the explorer's read-out.
    """

    on_refused = None

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = proposal["value"]
        if math.isnan(value):
            low, high = self.base ** self.min, self.base ** self.max
            message = (f"learning rate must be a number in [{low:g}, {high:g}], got {value!r}; "
                       f"kept lr = {self.value:g}")
            if self.on_refused is not None:
                self.on_refused(message)
            raise traitlets.TraitError(message)
        return super()._validate_value(proposal)


class LRExplorer:
    """The explorer's controls, wired to its state and its view; ``.widget`` is what a
    notebook displays.

    Arguments set the controls' starting values: lr (float in [1e-4, 10]; the
    slider goes past 1 because with this numerically stable network no rate up to
    1 makes the synthetic data's loss blow up, and students should see that happen),
    batch_size (int, one of 1, 2, 4, ..., 256), epochs (int 1-100),
    n_hidden (int, one of 2, 4, ..., 256), seed (int >= 0), dataset
    ('synthetic' or 'mnist'), mnist_size (one of 1000, 5000, 10000, 55000).
    redraw_every: seconds between two redraws while training (the first
    report of a run is always drawn at once). log_every: examples between
    two reports of `train` (None: ``default_log_every(batch_size)``).
    figsize, dpi: of the figure.

    Attributes tests and code use: the controls (lr_slider, a
    :class:`LearningRateSlider`: NaN is refused at once, with the reason in the
    read-out; batch_size,
    epochs, n_hidden, seed, dataset, mnist_size), the buttons
    (train_button, stop_button, clear_button), readout (HTML), plot (Image),
    runs (list of Run, oldest first), render_count (plot updates so far);
    ``state`` (:class:`~mlp_helpers.explorer.runs.ExplorerState`) and ``view``
    (:class:`~mlp_helpers.explorer.view.ExplorerView`).
    """

    def __init__(self, lr=0.1, batch_size=1, epochs=30, n_hidden=16, seed=0,
                 dataset="synthetic", mnist_size=5_000, redraw_every=0.3, log_every=None,
                 figsize=(10.0, 3.7), dpi=80):
        self.state = ExplorerState(on_update=self._refresh, on_ended=self._on_ended, on_end=self._on_end,
                                   on_message=self._show_text, redraw_every=redraw_every,
                                   log_every=log_every)
        self.view = ExplorerView(figsize=figsize, dpi=dpi)
        self._build_widgets(lr, batch_size, epochs, n_hidden, seed, dataset, mnist_size)
        self._draw()
        self._show_text("Press <b>Train</b>. Runs stay on the plot, faded, until <b>Clear</b>.")
        # numba, its kernels, the data: loading while the explorer shows (after the widgets
        # are built, so that the two do not take turns with the interpreter lock)
        prepare(dataset, mnist_size)

    # ----------------------------------------------------------------- widgets
    def _build_widgets(self, lr, batch_size, epochs, n_hidden, seed, dataset, mnist_size):
        style = {"description_width": "initial"}
        self.lr_slider = LearningRateSlider(
            value=lr, base=10, min=-4, max=1, step=0.05, description="learning rate",
            readout_format=".3g", continuous_update=False, style=style,
            layout=widgets.Layout(width="420px"))
        self.dataset = widgets.Dropdown(options=DATASETS, value=dataset, description="data",
                                        style=style, layout=widgets.Layout(width="270px"))
        self.mnist_size = widgets.Dropdown(options=MNIST_SIZES, value=mnist_size,
                                           description="MNIST examples", style=style,
                                           layout=widgets.Layout(width="210px"))
        self.batch_size = widgets.Dropdown(options=[2 ** k for k in range(9)], value=batch_size,
                                           description="batch size", style=style,
                                           layout=widgets.Layout(width="160px"))
        self.epochs = widgets.BoundedIntText(value=epochs, min=1, max=100, description="epochs",
                                             style=style, layout=widgets.Layout(width="130px"))
        self.n_hidden = widgets.Dropdown(options=[2 ** k for k in range(1, 9)], value=n_hidden,
                                         description="hidden units", style=style,
                                         layout=widgets.Layout(width="170px"))
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=2 ** 31 - 1, description="seed",
                                           style=style, layout=widgets.Layout(width="130px"))
        self.train_button = widgets.Button(description="Train", button_style="success", icon="play",
                                           tooltip="train a new network with these settings")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop",
                                          disabled=True, tooltip="stop the run in progress")
        self.clear_button = widgets.Button(description="Clear", button_style="warning", icon="trash",
                                           tooltip="remove the earlier runs from the plot")
        self.readout = widgets.HTML(layout=widgets.Layout(min_height="2.6em"))
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        header = widgets.HTML(
            "<b>Learning-rate explorer</b>: a 2-layer MLP (sigmoid hidden layer, softmax output) "
            "trained by SGD. Try learning rates 1e-4 (too slow), 0.01-1 (learns), 10 (diverges); "
            "batch size 1 vs 32.")

        self.lr_slider.on_refused = lambda message: self._show_text(
            f"<span style='color:#c00'><b>refused</b>: {escape(message)}</span>")
        self.mnist_size.disabled = dataset != "mnist"
        self.dataset.observe(lambda change: setattr(self.mnist_size, "disabled", change["new"] != "mnist"),
                             names="value")
        # MNIST chosen (or another size): load it now, while the other controls are set
        self.dataset.observe(lambda _change: self._prefetch(), names="value")
        self.mnist_size.observe(lambda _change: self._prefetch(), names="value")
        self.train_button.on_click(lambda _button: self._on_train())
        self.stop_button.on_click(lambda _button: self.stop(wait=False))
        self.clear_button.on_click(lambda _button: self.clear())

        row1 = widgets.HBox([self.lr_slider, self.dataset, self.mnist_size])
        row2 = widgets.HBox([self.batch_size, self.epochs, self.n_hidden, self.seed])
        row3 = widgets.HBox([self.train_button, self.stop_button, self.clear_button])
        self.widget = widgets.VBox([header, row1, row2, row3, self.readout, self.plot],
                                   layout=widgets.Layout(width="100%"))
        self.widget.add_class("lr-explorer")
        self.widget.explorer = self      # reach the state from the widget lr_explorer() returns

    # ----------------------------------------------------------------- public actions
    @property
    def runs(self):
        """Every run still shown, oldest first (a list of Run)."""
        return self.state.runs

    @property
    def running(self):
        """True while a training thread is alive."""
        return self.state.running

    @property
    def render_count(self):
        """Plot updates so far."""
        return self.view.render_count

    def train(self, wait=False):
        """Start a run with the controls' current values (what Train does); returns its Run.

        Training happens in a background thread; `wait=True` blocks until it ends.
        Just after Stop, it waits up to STOP_GRACE seconds for the stopping run to end.
        Raises RuntimeError if a run is in progress and Stop was not pressed.
        """
        run = self.state.start(lr=self.lr_slider.value, batch_size=self.batch_size.value,
                               epochs=self.epochs.value, n_hidden=self.n_hidden.value,
                               seed=self.seed.value, dataset=self.dataset.value,
                               size=self.mnist_size.value)
        self._set_running(True)
        if wait:
            self.wait()
        return run

    def stop(self, wait=True, timeout=10.0):
        """Ask the run in progress to stop (what Stop does); with `wait`, wait for its thread.

        Returns the seconds from the request to the explorer's answer: the read-out says
        the run stopped and Train is back (nan if not waited). The last picture follows;
        ``state.last_stop_thread`` has the seconds until it is drawn and the thread ends.
        """
        return self.state.stop(wait, timeout)

    def wait(self, timeout=None):
        """Block until the run in progress ends; True if no run is left running."""
        return self.state.wait(timeout)

    def clear(self):
        """Remove every finished run from the plot (the run in progress, if any, stays)."""
        self.state.clear()
        self._draw()
        if not self.runs:
            self._show_text("Cleared. Press <b>Train</b>.")

    def close(self):
        """Stop any run and close every widget of the explorer (frees their front-end models)."""
        self.stop(wait=True)
        self.plot.value = b""        # the picture is the one big piece of state
        def close_tree(w):
            for child in getattr(w, "children", ()):
                close_tree(child)
            w.close()
        close_tree(self.widget)

    def _prefetch(self):
        if self.dataset.value == "mnist":
            prepare(self.dataset.value, self.mnist_size.value)

    # ----------------------------------------------------------------- what the state calls
    def _on_train(self):
        try:
            self.train()
        except Exception as exc:         # a button must never raise into the kernel
            self._show_text(f"<span style='color:#c00'><b>error</b>: {escape(exc)}</span>")

    def _set_running(self, running):
        self.train_button.disabled = running
        self.stop_button.disabled = not running

    def _on_ended(self, run):
        # Train comes back first, then "stopped, epoch ...": whoever sees the read-out
        # (a student, or the browser test) can press Train at once. The picture follows.
        self._set_running(False)
        self._show_text(describe(run))

    def _on_end(self, run, error):
        if error is not None:
            self._show_text(f"<span style='color:#c00'><b>error while drawing</b>: {escape(error)}</span>")
        self._set_running(False)

    def _draw(self):
        self.plot.value = self.view.render(self.runs)

    def _refresh(self, run):
        self._draw()
        if math.isnan(run.first_update) and run.history is not None:
            run.first_update = time.perf_counter() - run.started
        self._show_text(describe(run))

    def _show_text(self, html):
        self.readout.value = f"<div class='lr-explorer-readout'>{html}</div>"


def lr_explorer(**kwargs):
    """The learning-rate explorer as one ipywidgets widget (a VBox); see LRExplorer for kwargs.

    The explorer's state is at ``widget.explorer`` (an LRExplorer).
    """
    return LRExplorer(**kwargs).widget


# --------------------------------------------------------------------------- measurement

def measure_latency(repeats=5, stop_after=0.5, **kwargs):
    """Responsiveness with the default settings, measured `repeats` times.

    first_update: seconds from train() (what the Train button calls) to the first
    plot update that shows the new run; stop: seconds from stop() (what the Stop
    button calls) to the explorer's answer (read-out "stopped", Train enabled), Stop
    pressed ``stop_after`` seconds into a run; stop_thread: the same to the end of the
    training thread, after the run's last picture.
    The first run also pays for loading the data; it is reported separately.
    Settings are the defaults except epochs=100 (so no run ends before Stop).
    Returns dict(first_update=[...], stop=[...], stop_thread=[...], render=[...],
    cold_first_update=float).
    """
    kwargs.setdefault("epochs", 100)
    explorer = LRExplorer(**kwargs)
    first, stops, threads = [], [], []
    cold = math.nan
    for i in range(repeats + 1):
        explorer.seed.value = i
        run = explorer.train()
        deadline = time.perf_counter() + 5
        while math.isnan(run.first_update) and time.perf_counter() < deadline:
            time.sleep(0.002)
        if i == 0:
            cold = run.first_update
        else:
            first.append(run.first_update)
        time.sleep(stop_after)
        stops.append(explorer.stop(wait=True))
        threads.append(explorer.state.last_stop_thread)
        assert run.status == "stopped", run.status
    return dict(cold_first_update=cold, first_update=first, stop=stops[1:], stop_thread=threads[1:],
                render=list(explorer.view.render_seconds))


_COLD_START = """
import json, math, sys, time
from mlp_helpers.explorer.widget import LRExplorer
t0 = time.perf_counter()
explorer = LRExplorer(dataset=sys.argv[1])
time.sleep(float(sys.argv[2]))              # 0: Train pressed at once, the worst case
run = explorer.train()
while math.isnan(run.first_update) and time.perf_counter() < run.started + 30:
    time.sleep(0.001)
explorer.stop(wait=True)
print(json.dumps(dict(shown=run.started - t0, first_update=run.first_update,
                      status=run.status, error=run.error)))
"""


def measure_cold_start(dataset="synthetic", repeats=3, delay=0.0):
    """The explorer's cold start, each time in a fresh Python process: seconds from
    ``LRExplorer(dataset=...)`` to the first plot update of a run whose Train was pressed
    ``delay`` seconds after the explorer could be shown (0: at once, the worst case; the
    explorer loads numba, its kernels and the data in the background meanwhile).

    The process has imported ``mlp_helpers.explorer.widget`` (the notebook's import cell) and
    nothing else: numba, the compiled kernel (from numba's on-disk cache) and the data
    load within the time measured. Returns a list of dicts (one per repeat):
    ``shown`` (seconds until the explorer can be displayed, plus ``delay``),
    ``first_update`` (from Train to the first picture) and ``total`` (their sum).
    """
    import json
    import subprocess
    import sys

    results = []
    for _ in range(check_positive_int(repeats, "repeats")):
        out = subprocess.run([sys.executable, "-c", _COLD_START, dataset, repr(float(delay))], capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"the cold-start probe failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if result["status"] == "error":
            raise RuntimeError(f"the cold-start probe's run failed: {result['error']}")
        result["total"] = result["shown"] + result["first_update"]
        results.append(result)
    return results


COLD_START_TARGETS = {"synthetic": 0.5, "mnist": 1.0}     # seconds, issue 27


def print_measurements():
    """Measure the explorer's responsiveness and print it (``mlp-course explorer-latency``):
    the cold start against its targets, then Train-to-picture, Stop and redraw times."""
    def ms(values):
        return ", ".join(f"{1000 * v:.0f}" for v in values)

    for dataset, target in COLD_START_TARGETS.items():
        results = measure_cold_start(dataset)
        totals = [r["total"] for r in results]
        median = float(np.median(totals))
        print(f"{dataset} cold start, a fresh process, Train pressed at once (ms): shown "
              f"{ms(r['shown'] for r in results)}; first picture after Train {ms(r['first_update'] for r in results)}; "
              f"total {ms(totals)}; median {1000 * median:.0f} = {median / target:.2f} of the {target:g} s target "
              f"{'PASS' if median <= target else 'FAIL'}")
        later = measure_cold_start(dataset, delay=0.5)
        print(f"{dataset} cold start, Train pressed 0.5 s after the explorer is shown: first picture "
              f"after Train (ms) {ms(r['first_update'] for r in later)}")
    # a synthetic run of 100 epochs lasts about 0.2 s with the compiled kernel: Stop goes in sooner
    for dataset, stop_after in (("synthetic", 0.05), ("mnist", 0.5)):
        result = measure_latency(stop_after=stop_after, dataset=dataset)
        print(f"{dataset} (defaults, epochs=100, Stop {stop_after} s into each run):")
        print(f"  first plot update after Train (ms), cold start: {1000 * result['cold_first_update']:.0f}")
        print(f"  first plot update after Train (ms), data cached: {ms(result['first_update'])}")
        print(f"  Stop to the answer, read-out 'stopped' and Train enabled (ms): {ms(result['stop'])}")
        print(f"  Stop to the last picture drawn, end of the thread (ms): {ms(result['stop_thread'])}")
        render = np.asarray(result["render"])
        print(f"  one redraw (ms): median {1000 * np.median(render):.0f}, max {1000 * render.max():.0f}")
