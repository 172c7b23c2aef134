"""The learning-rate explorer: drag a learning rate, press Train, watch the network learn (or fail to).

One widget, built from ipywidgets only, that works the same in JupyterLab, in a
Voila app and in a headless browser::

    from mlp_helpers.widgets import lr_explorer
    lr_explorer()                      # the widget; display it as a cell's last line

    from mlp_helpers.widgets import LRExplorer
    explorer = LRExplorer()            # the same, with its state in reach of code and tests
    explorer.widget                    # display this
    explorer.lr_slider.value = 0.1
    run = explorer.train(wait=True)    # what the Train button does, then wait for the run
    run.status, run.history.val_acc    # 'done' / 'stopped' / 'diverged' / 'error'

How it stays responsive
-----------------------
Training runs in a background thread, so the kernel keeps answering the browser
while the network learns. ``train``'s callback (called every ``log_every``
examples and after each epoch) does three small jobs:

1. returns True once Stop has been pressed (a ``threading.Event``), which ends
   training at that point: Stop takes effect within one ``log_every`` block;
2. at most every ``redraw_every`` seconds (and always at the first report of a
   run) measures the validation loss and accuracy and redraws the figure;
3. otherwise returns at once, so the training loop is not starved.

The plot is a matplotlib Figure drawn off-screen (Agg) to PNG and shown in an
``ipywidgets.Image``: no extra dependency and nothing that needs a live
matplotlib backend in the browser, so it looks the same in JupyterLab, Voila and
a static web page.

Measure the responsiveness with ``python -m mlp_helpers.widgets``.
"""
import io
import math
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import AutoLocator, FormatStrFormatter, LogLocator, NullLocator

__all__ = ["lr_explorer", "LRExplorer", "Run", "measure_latency"]

# The synthetic data of the explorer: small enough that per-example SGD reports
# often (an epoch of 5,000 examples takes a fraction of a second).
SYNTH_TRAIN, SYNTH_VAL = 5_000, 1_000
MNIST_SIZES = (1_000, 5_000, 10_000, 55_000)
DATASETS = (("synthetic (2-D, 2 classes)", "synthetic"), ("MNIST subset", "mnist"))

# Colours of runs, in order; the latest run is drawn solid, earlier ones faded.
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
            "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
_FADED = 0.35
# Seconds Train waits for a run that Stop has just asked to end (it ends within one report).
STOP_GRACE = 3.0


def _api():
    """The training API, imported when first needed (keeps ``import`` quick)."""
    from . import data, network, training
    return data, network, training


# --------------------------------------------------------------------------- data

_DATA_CACHE = {}
_DATA_LOCK = threading.Lock()


def _dataset(name, size):
    """((xtr, ytr), (xval, yval), K) for the explorer; cached, so a second run starts at once.

    synthetic: load_synth(5000 train, 1000 validation, seed=0), whatever `size`.
    mnist:     the first `size` rows of load_mnist(final=False)'s 55k training set, and
               the first min(5000, max(1000, size // 5)) rows of its 5k validation set.
    """
    key = (name, None if name == "synthetic" else size)
    with _DATA_LOCK:
        if key not in _DATA_CACHE:
            data, _, _ = _api()
            if name == "synthetic":
                _DATA_CACHE[key] = data.load_synth(num_train=SYNTH_TRAIN, num_val=SYNTH_VAL, seed=0)
            else:
                if "mnist_full" not in _DATA_CACHE:
                    _DATA_CACHE["mnist_full"] = data.load_mnist(final=False, verbose=False)
                (xtr, ytr), (xval, yval), K = _DATA_CACHE["mnist_full"]
                n_val = min(len(xval), max(1_000, size // 5))
                _DATA_CACHE[key] = (xtr[:size], ytr[:size]), (xval[:n_val], yval[:n_val]), K
        return _DATA_CACHE[key]


def default_log_every(batch_size):
    """Examples between two reports of `train`: a few ms of work, a multiple of the batch.

    Per-example SGD takes about 10 us per synthetic example and 35 us per MNIST
    example (16 hidden units); minibatches cost less per example, so they report
    after more examples. Stop takes effect at the next report.
    """
    target = 500 if batch_size == 1 else max(2_000, 8 * batch_size)
    return batch_size * max(1, round(target / batch_size))


# --------------------------------------------------------------------------- one run

@dataclass
class Run:
    """One press of Train: its settings, its live curves and how it ended.

    status: 'starting' -> 'running' -> 'done' | 'stopped' | 'diverged' | 'error'.
    val_at, val_loss, val_acc: validation measurements during the run, at
    `val_at` examples seen (taken at each redraw and after every epoch).
    """
    number: int
    lr: float
    batch_size: int
    epochs: int
    n_hidden: int
    seed: int
    dataset: str
    size: int
    log_every: int
    status: str = "starting"
    n_train: int = 0
    n_classes: int = 0
    history: object = None
    net: object = None
    val_at: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    error: str = ""
    traceback: str = ""
    warnings: list = field(default_factory=list)
    started: float = 0.0          # time.perf_counter() when train() was called
    finished: float = 0.0
    first_update: float = math.nan  # seconds from train() to the first plot showing this run

    @property
    def label(self):
        text = f"lr={self.lr:.3g}"
        return text + " (diverged)" if self.diverging else text

    @property
    def diverging(self):
        """True once ``train``'s divergence rule fired for this run (``history.diverged``).

        The explorer has no rule of its own: :class:`mlp_helpers.training.DivergenceRule`
        (the loss NaN or inf, or held far above the untrained network's) decides, and
        training stops there.
        """
        return self.history is not None and bool(self.history.diverged)

    @property
    def divergence_reason(self):
        """Why ``train`` called the run diverged (from its RuntimeWarning), or ''."""
        prefix = "training diverged: "
        for message in self.warnings:
            if message.startswith(prefix):
                return message[len(prefix):].split(" after ", 1)[0]
        return ""

    @property
    def running(self):
        return self.status in ("starting", "running")

    def examples_seen(self):
        h = self.history
        if h is None:
            return 0
        if getattr(h, "examples_seen", None) is not None:
            return int(h.examples_seen)
        seen = h.running_at[-1] if h.running_at else 0
        return max(seen, len(h.val_loss) * self.n_train if h.val_loss else len(h.train_loss) * self.n_train)

    def epochs_seen(self):
        return self.examples_seen() / self.n_train if self.n_train else 0.0


# --------------------------------------------------------------------------- the explorer

class LRExplorer:
    """The explorer's widgets and state; ``.widget`` is what a notebook displays.

    Arguments set the controls' starting values: lr (float in [1e-4, 10]; the
    slider goes past 1 because with this numerically stable network no rate up to
    1 makes the synthetic data's loss blow up, and students should see that happen),
    batch_size (int, one of 1, 2, 4, ..., 256), epochs (int 1-100),
    n_hidden (int, one of 2, 4, ..., 256), seed (int >= 0), dataset
    ('synthetic' or 'mnist'), mnist_size (one of 1000, 5000, 10000, 55000).
    redraw_every: seconds between two redraws while training (the first
    report of a run is always drawn at once). log_every: examples between
    two reports of `train` (None: ``default_log_every(batch_size)``).

    Attributes tests and code use: the controls (lr_slider, batch_size,
    epochs, n_hidden, seed, dataset, mnist_size), the buttons
    (train_button, stop_button, clear_button), readout (HTML), plot (Image),
    runs (list of Run, oldest first), render_count (plot updates so far).
    """

    def __init__(self, lr=0.1, batch_size=1, epochs=30, n_hidden=16, seed=0,
                 dataset="synthetic", mnist_size=5_000, redraw_every=0.3, log_every=None,
                 figsize=(10.0, 3.7), dpi=80):
        self.redraw_every = float(redraw_every)
        self.log_every = log_every
        self.runs = []
        self.render_count = 0
        self.render_seconds = []      # how long each redraw took (for the latency notes)
        self.last_stop_latency = math.nan
        self._thread = None
        self._stop_event = threading.Event()
        self._draw_lock = threading.Lock()
        self._last_draw = 0.0
        self._build_widgets(lr, batch_size, epochs, n_hidden, seed, dataset, mnist_size)
        self._fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self._fig)
        self._ax_loss, self._ax_right = self._fig.subplots(
            1, 2, gridspec_kw=dict(width_ratios=(1.55, 1)))
        self._fig.subplots_adjust(left=0.07, right=0.985, bottom=0.13, top=0.92, wspace=0.16)
        self._setup_loss_axes(self._ax_loss)
        self._draw()
        self._show_text("Press <b>Train</b>. Runs stay on the plot, faded, until <b>Clear</b>.")

    # ----------------------------------------------------------------- widgets
    def _build_widgets(self, lr, batch_size, epochs, n_hidden, seed, dataset, mnist_size):
        style = {"description_width": "initial"}
        self.lr_slider = widgets.FloatLogSlider(
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

        self.mnist_size.disabled = dataset != "mnist"
        self.dataset.observe(lambda change: setattr(self.mnist_size, "disabled", change["new"] != "mnist"),
                             names="value")
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
    def running(self):
        """True while a training thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def train(self, wait=False):
        """Start a run with the controls' current values (what Train does); returns its Run.

        Training happens in a background thread; `wait=True` blocks until it ends.
        Just after Stop, it waits up to STOP_GRACE seconds for the stopping run to end.
        Raises RuntimeError if a run is in progress and Stop was not pressed.
        """
        if self.running and self._stop_event.is_set():
            self._thread.join(STOP_GRACE)      # Stop was pressed: the run ends at its next report
        if self.running:
            raise RuntimeError("a run is already in progress: stop() it or wait() for it first")
        batch_size = int(self.batch_size.value)
        run = Run(number=len(self.runs) + 1 if not self.runs else self.runs[-1].number + 1,
                  lr=float(self.lr_slider.value), batch_size=batch_size,
                  epochs=int(self.epochs.value), n_hidden=int(self.n_hidden.value),
                  seed=int(self.seed.value), dataset=self.dataset.value,
                  size=int(self.mnist_size.value),
                  log_every=int(self.log_every or default_log_every(batch_size)),
                  started=time.perf_counter())
        self.runs.append(run)
        self._stop_event.clear()
        self._set_running(True)
        self._thread = threading.Thread(target=self._worker, args=(run,), daemon=True,
                                        name=f"lr-explorer-run-{run.number}")
        self._thread.start()
        if wait:
            self.wait()
        return run

    def stop(self, wait=True, timeout=10.0):
        """Ask the run in progress to stop (what Stop does); with `wait`, wait for its thread.

        Returns the seconds from the request to the thread's end (nan if not waited).
        """
        thread = self._thread
        t0 = time.perf_counter()
        self._stop_event.set()
        if not wait or thread is None:
            return math.nan
        thread.join(timeout)
        self.last_stop_latency = time.perf_counter() - t0
        return self.last_stop_latency

    def wait(self, timeout=None):
        """Block until the run in progress ends; True if no run is left running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def clear(self):
        """Remove every finished run from the plot (the run in progress, if any, stays)."""
        self.runs = [run for run in self.runs if run.running]
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

    # ----------------------------------------------------------------- the training thread
    def _on_train(self):
        try:
            self.train()
        except Exception as exc:         # a button must never raise into the kernel
            self._show_text(f"<span style='color:#c00'><b>error</b>: {_escape(exc)}</span>")

    def _set_running(self, running):
        self.train_button.disabled = running
        self.stop_button.disabled = not running

    def _worker(self, run):
        """Body of the training thread: load data, build the net, train with a callback."""
        try:
            _, network, training = _api()
            if run.dataset == "mnist" and ("mnist", run.size) not in _DATA_CACHE:
                self._show_text(f"run {run.number}: loading MNIST ...")
            (xtr, ytr), (xval, yval), num_classes = _dataset(run.dataset, run.size)
            run.n_train, run.n_classes = len(xtr), num_classes
            run.net = net = network.MLP(xtr.shape[1], run.n_hidden, num_classes, seed=run.seed)
            self._val = (xval, yval)
            self._measure_val(run)  # the untrained network: the curves' starting point
            run.status = "running"
            self._last_draw = 0.0   # the first report of a run is drawn at once

            def callback(event, history):
                run.history = history
                if self._stop_event.is_set():
                    return True        # Stop pressed: end here, before any drawing
                if event == "epoch" and history.val_loss:
                    run.val_at.append(len(history.val_loss) * run.n_train)
                    run.val_loss.append(float(history.val_loss[-1]))
                    run.val_acc.append(float(history.val_acc[-1]))
                # throttle: at least redraw_every apart, and at least twice the last redraw's
                # cost (so a slow, busy machine still spends most of its time training)
                gap = max(self.redraw_every, 2.0 * self.render_seconds[-1])
                if time.perf_counter() - self._last_draw >= gap:
                    if event == "log":
                        self._measure_val(run)
                    self._refresh(run)
                return self._stop_event.is_set()

            # train() reports divergence with a RuntimeWarning; keep it for the read-out
            # instead of printing it into whichever cell happens to be current.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                history = training.train(net, (xtr, ytr), val=(xval, yval), lr=run.lr,
                                         epochs=run.epochs, batch_size=run.batch_size,
                                         seed=run.seed, log_every=run.log_every,
                                         progress=False, callback=callback)
            run.warnings = [str(w.message) for w in caught]
            run.history = history
            run.status = ("diverged" if history.diverged else
                          "stopped" if history.stopped else "done")
        except Exception as exc:
            run.status = "error"
            run.error = f"{type(exc).__name__}: {exc}"
            run.traceback = traceback.format_exc()
        finally:
            run.finished = time.perf_counter()
            try:
                if (run.status in ("done", "stopped", "diverged") and run.val_at
                        and run.val_at[-1] < run.examples_seen()):
                    self._measure_val(run)     # the curve ends where training ended
                self._refresh(run)
            except Exception as exc:     # never leave the buttons disabled
                self._show_text(f"<span style='color:#c00'><b>error while drawing</b>: {_escape(exc)}</span>")
            self._set_running(False)

    def _measure_val(self, run):
        """Append validation loss and accuracy of the current net (cheap: <= 5000 rows)."""
        xval, yval = self._val
        with np.errstate(all="ignore"):
            loss = run.net.mean_loss(xval, yval)
            # a net with NaN weights has no accuracy (predictions would all be class 0)
            acc = run.net.accuracy(xval, yval) if run.net.params_finite() else math.nan
        run.val_at.append(run.examples_seen())
        run.val_loss.append(float(loss))
        run.val_acc.append(float(acc))

    def _refresh(self, run):
        self._draw()
        if math.isnan(run.first_update) and run.history is not None:
            run.first_update = time.perf_counter() - run.started
        self._show_text(self._describe(run))

    # ----------------------------------------------------------------- read-out
    def _show_text(self, html):
        self.readout.value = f"<div class='lr-explorer-readout'>{html}</div>"

    def _describe(self, run):
        """One line of HTML: the run's settings, progress and latest numbers."""
        head = (f"<b>run {run.number}</b>: lr = {run.lr:.3g}, batch {run.batch_size}, "
                f"{run.n_hidden} hidden, {run.dataset}{'' if run.dataset == 'synthetic' else f' {run.size}'}. ")
        h = run.history
        if run.status == "error":
            return head + f"<span style='color:#c00'><b>error</b>: {_escape(run.error)}</span>"
        if run.status == "diverged":
            reason = run.divergence_reason or "the loss blew up"
            return head + (f"<span style='color:#c00'><b>diverged</b> after {run.examples_seen():,} examples: "
                           f"{_escape(reason)}. The steps overshoot: the learning rate is too large.</span>")
        parts = [f"<b>{run.status}</b>, epoch {run.epochs_seen():.1f} / {run.epochs}"]
        if h is not None and h.running_loss:
            parts.append(f"training loss {h.running_loss[-1]:.3f}")
        if run.val_loss:
            parts.append(f"validation loss {run.val_loss[-1]:.3f}")
            parts.append(f"<b>validation accuracy {100 * run.val_acc[-1]:.1f}%</b>")
        if not run.running:
            parts.append(f"{run.finished - run.started:.1f} s")
        return head + ", ".join(parts)

    # ----------------------------------------------------------------- plot
    def _draw(self):
        """Redraw the figure from self.runs and put the PNG into self.plot.

        Kept cheap for the training thread: the axes are emptied rather than
        rebuilt (ticks are reused), the layout is fixed (no tight_layout), the
        figure is drawn once and PNG-encoded with light compression.
        """
        t0 = time.perf_counter()
        with self._draw_lock:
            runs = list(self.runs)
            ax, right = self._ax_loss, self._ax_right
            for axes in (ax, right):
                for artist in [*axes.lines, *axes.collections, *axes.images, *axes.texts]:
                    artist.remove()
                if axes.get_legend() is not None:
                    axes.get_legend().remove()
            self._draw_losses(ax, runs)
            latest = runs[-1] if runs else None
            if latest is not None and latest.dataset == "synthetic" and latest.net is not None:
                self._draw_boundary(right, latest)
            else:
                self._draw_accuracy(right, runs)
            canvas = self._fig.canvas
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba())
            buffer = io.BytesIO()
            PIL.Image.fromarray(rgba[..., :3]).save(buffer, format="png", compress_level=1)
        self.plot.value = buffer.getvalue()
        self._last_draw = time.perf_counter()
        self.render_seconds.append(self._last_draw - t0)
        self.render_count += 1

    def _style(self, run, runs, curve="val"):
        """Line style of a run: its own colour; the latest run strong, earlier ones faded.

        The noisy running training loss is drawn thin and light, the validation
        loss (the curve to judge a learning rate by) thick.
        """
        latest = run is runs[-1]
        alpha = {("val", True): 1.0, ("val", False): _FADED,
                 ("train", True): 0.55, ("train", False): 0.18}[curve, latest]
        lw = {("val", True): 2.4, ("val", False): 1.6, ("train", True): 0.9, ("train", False): 0.8}[curve, latest]
        return dict(color=_COLOURS[(run.number - 1) % len(_COLOURS)], alpha=alpha, lw=lw)

    @staticmethod
    def _setup_loss_axes(ax):
        """Fixed decoration of the loss axes (log scale with ticks at 1, 2, 3, 5 x 10^k)."""
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("epochs")
        ax.set_ylabel("cross-entropy loss")
        ax.set_title("loss: validation (dashed), training (thin, mean of each report)", fontsize=10)
        ax.grid(True, alpha=0.25)

    def _draw_losses(self, ax, runs):
        """Training loss (running mean, solid) and validation loss (dashed) against epochs."""
        top, bottom, right_end = 1.0, 0.5, 1.0
        diverged = []
        for run in runs:
            h = run.history
            if h is None or not run.n_train:
                continue
            style = self._style(run, runs)
            at = np.asarray(h.running_at, dtype=float) / run.n_train
            loss = np.asarray(h.running_loss, dtype=float)
            finite = np.isfinite(loss)
            ax.plot(at[finite], loss[finite], **self._style(run, runs, "train"))
            curves = [loss[finite]]
            vat, vloss = np.zeros(0), np.zeros(0)
            if run.val_loss:
                vat = np.asarray(run.val_at, dtype=float) / run.n_train
                vloss = np.asarray(run.val_loss, dtype=float)
                ok = np.isfinite(vloss)
                order = np.argsort(vat[ok], kind="stable")
                vat, vloss = vat[ok][order], vloss[ok][order]
                curves.append(vloss)
            ax.plot(vat, vloss, ls="--", label=run.label, **style)
            values = np.concatenate(curves)
            values = values[values > 0]
            if values.size:
                top, bottom = max(top, float(values.max())), min(bottom, float(values.min()))
            right_end = max(right_end, run.epochs_seen())
            if run.status == "diverged":
                diverged.append((run.epochs_seen(), style["alpha"]))
        y_low, y_high = max(bottom / 1.3, 1e-3), min(top * 1.3, 50.0)
        for x_end, alpha in diverged:   # a red X where training stopped, diverged
            ax.plot([x_end], [y_high / 1.25], marker="X", ms=11, color="#c00", alpha=alpha, lw=0)
            ax.text(x_end, y_high / 1.25, "  diverged", color="#c00", fontsize=9, alpha=alpha,
                    va="center")
        ax.set_ylim(y_low, y_high)
        ax.set_xlim(0, right_end * 1.02)
        if any(run.history is not None and run.n_train for run in runs):
            ax.legend(fontsize=8, loc="upper right", ncol=2, framealpha=0.7)
        else:
            ax.text(0.5, 0.5, "no runs yet: press Train", ha="center", va="center",
                    transform=ax.transAxes, color="0.5")

    def _draw_boundary(self, ax, run):
        """P(class 1) of the latest run's network on a grid, its 0.5 contour, and validation points."""
        xval, yval = _dataset("synthetic", 0)[1]
        lo, hi = xval.min(axis=0), xval.max(axis=0)
        g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 80), np.linspace(lo[1], hi[1], 80))
        grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(xval.dtype)
        with np.errstate(all="ignore"):
            if run.net.params_finite():
                prob = run.net.predict_proba(grid)[:, -1].reshape(g0.shape)
            else:                       # predict_proba refuses NaN weights; draw nothing
                prob = np.full(g0.shape, np.nan)
        ax.imshow(prob, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap="RdBu_r",
                  vmin=0, vmax=1, alpha=0.55, aspect="auto", interpolation="bilinear")
        if np.isfinite(prob).all() and prob.min() < 0.5 < prob.max():
            ax.contour(g0, g1, prob, levels=[0.5], colors="k", linewidths=1.2)
        elif not np.isfinite(prob).all():
            ax.text(0.5, 0.5, "no boundary:\nthe weights are NaN", ha="center", va="center",
                    transform=ax.transAxes, color="#c00", fontsize=11,
                    bbox=dict(facecolor="white", alpha=0.85, edgecolor="none"))
        show = slice(0, 400)
        ax.scatter(xval[show, 0], xval[show, 1], c=yval[show], cmap="RdBu_r", vmin=0, vmax=1,
                   s=6, edgecolors="none")
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.xaxis.set_major_locator(NullLocator())
        ax.yaxis.set_major_locator(NullLocator())
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.grid(False)
        ax.set_title(f"decision boundary of run {run.number}, epoch {run.epochs_seen():.1f}", fontsize=10)

    def _draw_accuracy(self, ax, runs):
        """Validation accuracy against epochs, for every run (MNIST, or before any run)."""
        right_end = 1.0
        for run in runs:
            if run.val_acc and run.n_train:
                vat = np.asarray(run.val_at, dtype=float) / run.n_train
                order = np.argsort(vat, kind="stable")
                ax.plot(vat[order], 100 * np.asarray(run.val_acc)[order], marker=".",
                        **self._style(run, runs))
                right_end = max(right_end, run.epochs_seen())
        ax.xaxis.set_major_locator(AutoLocator())
        ax.yaxis.set_major_locator(AutoLocator())
        ax.set_xlim(0, right_end * 1.02)
        ax.set_ylim(0, 100)
        ax.set_xlabel("epochs")
        ax.set_ylabel("validation accuracy (%)")
        ax.grid(True, alpha=0.25)
        ax.set_title("validation accuracy", fontsize=10)


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    button calls) to the end of the training thread, Stop pressed ``stop_after`` seconds
    into a run.
    The first run also pays for loading the data; it is reported separately.
    Settings are the defaults except epochs=100 (so no run ends before Stop).
    Returns dict(first_update=[...], stop=[...], render=[...], cold_first_update=float).
    """
    kwargs.setdefault("epochs", 100)
    explorer = LRExplorer(**kwargs)
    first, stops = [], []
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
        assert run.status == "stopped", run.status
    return dict(cold_first_update=cold, first_update=first, stop=stops[1:],
                render=list(explorer.render_seconds))


if __name__ == "__main__":
    ms = lambda values: ", ".join(f"{1000 * v:.0f}" for v in values)
    # synthetic runs of 100 epochs now last about half a second: Stop goes in sooner
    for dataset, stop_after in (("synthetic", 0.2), ("mnist", 0.5)):
        result = measure_latency(stop_after=stop_after, dataset=dataset)
        print(f"{dataset} (defaults, epochs=100, Stop {stop_after} s into each run):")
        print(f"  first plot update after Train (ms), cold start: {1000 * result['cold_first_update']:.0f}")
        print(f"  first plot update after Train (ms), data cached: {ms(result['first_update'])}")
        print(f"  Stop to end of training thread (ms): {ms(result['stop'])}")
        render = np.asarray(result["render"])
        print(f"  one redraw (ms): median {1000 * np.median(render):.0f}, max {1000 * render.max():.0f}")
