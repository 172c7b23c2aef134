"""The learning-rate explorer's state: its runs, the thread that trains, and Stop.

No widgets and no figures here: the controls are :mod:`mlp_helpers.explorer.widget`, the
picture :mod:`mlp_helpers.explorer.view`. :class:`ExplorerState` starts a
:class:`Run` in a background thread (so the kernel keeps answering the browser),
and ``train``'s callback (called every ``log_every`` examples and after each epoch)
does three small jobs:

1. returns True once Stop has been pressed (a ``threading.Event``), which ends
   training at that point: Stop takes effect within one ``log_every`` block;
2. at most every ``redraw_every`` seconds (and always at the first report of a
   run) measures the validation loss and accuracy and asks the view to redraw;
3. otherwise returns at once, so the training loop is not starved.

A learning rate goes from the slider (``LRExplorer.train`` reads it into a Run) to
``mlp_helpers.train(lr=run.lr)`` in :meth:`ExplorerState._train`, and from there to
the stepper's update ``w -= lr * dl/dw``.
"""
import math
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from ..data import load_mnist_head, load_synth
from ..network import MLP
from ..training import train

__all__ = ["Run", "ExplorerState", "dataset", "prepare", "default_log_every", "SYNTH_TRAIN", "SYNTH_VAL"]

# The synthetic data of the explorer: small enough that per-example SGD reports
# often (an epoch of 5,000 examples takes a fraction of a second).
SYNTH_TRAIN, SYNTH_VAL = 5_000, 1_000
# Seconds a new run waits for one that Stop has just asked to end (it ends within one report).
STOP_GRACE = 3.0


# --------------------------------------------------------------------------- data

_DATA_CACHE = {}
_DATA_LOCK = threading.Lock()


def dataset(name, size):
    """((xtr, ttr), (xval, tval), K) for the explorer; cached, so a second run starts at once.

    synthetic: load_synth(5000 train, 1000 validation, seed=0), whatever `size`.
    mnist:     the first `size` rows of load_mnist(final=False)'s 55k training set, and
               the first min(5000, max(1000, size // 5)) rows of its 5k validation set
               (``load_mnist_head``: only these rows are converted to float32). The
               cache keeps one MNIST size, the last one asked for.
    """
    key = (name, None if name == "synthetic" else size)
    with _DATA_LOCK:
        if key not in _DATA_CACHE:
            if name == "synthetic":
                _DATA_CACHE[key] = load_synth(num_train=SYNTH_TRAIN, num_val=SYNTH_VAL, seed=0)
            else:
                for other in [k for k in _DATA_CACHE if k[0] == name]:
                    del _DATA_CACHE[other]          # (a run still training keeps its arrays)
                _DATA_CACHE[key] = load_mnist_head(size, min(5_000, max(1_000, size // 5)), verbose=False)
        return _DATA_CACHE[key]


def prepare(name=None, size=None):
    """Load in a background thread what a first run needs, so Train finds it ready:
    numba and the compiled SGD kernels (``_fast.warm_up``, once a process), then the
    data ``dataset(name, size)`` if a name is given. Returns the (daemon) thread.

    A run started meanwhile waits only for what is still loading (Python's import
    lock, numba's compiler lock, the data lock). An error here is left to that run,
    which meets it again and reports it in the read-out.
    """
    thread = threading.Thread(target=_prepare, args=(name, size), daemon=True, name="lr-explorer-prepare")
    thread.start()
    return thread


_WARM = threading.Event()


def _prepare(name, size):
    try:
        if not _WARM.is_set():
            from .. import _fast
            _fast.warm_up()
            _WARM.set()
        if name is not None:
            dataset(name, size)
    except Exception:       # noqa: BLE001 -- the run that needs it reports it
        pass


def dataset_loaded(name, size):
    """True if ``dataset(name, size)`` will not have to load anything."""
    return name == "synthetic" or (name, size) in _DATA_CACHE


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
    warnings: the RuntimeWarning text ``train`` gives when the run diverges
    (``history.divergence_message()``), kept for the read-out, not printed.
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
    finished: float = 0.0         # time.perf_counter() when training ended
    answered: float = 0.0         # ... when the explorer said so (on_ended), before the last plot
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
        """Why ``train`` called the run diverged (``history.diverged_reason``), or ''."""
        return self.history.diverged_reason if self.history is not None else ""

    @property
    def running(self):
        return self.status in ("starting", "running")

    def examples_seen(self):
        return 0 if self.history is None else int(self.history.examples_seen)

    def epochs_seen(self):
        return self.examples_seen() / self.n_train if self.n_train else 0.0


# --------------------------------------------------------------------------- the runs

class ExplorerState:
    """The runs of one explorer (oldest first), the thread training the latest, and Stop.

    Args:
        on_update: ``on_update(run)``, called when the picture should change: from the
            training thread at most every ``redraw_every`` seconds (and at least twice
            its own last duration apart, so a slow machine still mostly trains), at a
            run's first report and when it ends.
        on_ended: ``on_ended(run)``, called from the training thread as soon as a run has
            ended (its last validation point measured), before the last redraw: the
            answer to Stop (a read-out, the buttons) should not wait for a picture.
        on_end: ``on_end(run, error)``, called from the training thread after that last
            redraw; ``error`` is the exception ``on_update`` raised there, or None.
        on_message: ``on_message(html)`` for a line of progress ("loading MNIST ...").
        redraw_every: seconds; log_every: examples between two reports of ``train``
            (None: :func:`default_log_every` of the batch size).
    """

    def __init__(self, on_update, on_ended, on_end, on_message, redraw_every=0.3, log_every=None):
        self.on_update, self.on_ended, self.on_end = on_update, on_ended, on_end
        self.on_message = on_message
        self.redraw_every = float(redraw_every)
        self.log_every = log_every
        self.runs = []
        self.thread = None
        self.stop_event = threading.Event()
        self.last_update = 0.0        # perf_counter() at the end of the last on_update
        self.update_seconds = 0.0     # how long that on_update took
        self.last_stop_latency = math.nan    # seconds from stop() to on_ended (Stop's answer)
        self.last_stop_thread = math.nan     # ... to the end of the thread (the last picture drawn)
        self.drawing = None           # the run whose picture the training thread is drawing
        self._answer_lock = threading.Lock()

    @property
    def running(self):
        """True while a training thread is alive."""
        return self.thread is not None and self.thread.is_alive()

    def start(self, lr, batch_size, epochs, n_hidden, seed, dataset, size):
        """Start a run with these settings in a new thread; returns its Run.

        Just after Stop, or while an ended run draws its last picture, waits up to
        STOP_GRACE seconds for that run's thread to end.
        Raises RuntimeError if a run is in progress and Stop was not pressed.
        """
        if self.running and (self.stop_event.is_set() or self.runs[-1].answered):
            self.thread.join(STOP_GRACE)       # the run ends at its next report, or is drawing
        if self.running:
            raise RuntimeError("a run is already in progress: stop() it or wait() for it first")
        run = Run(number=self.runs[-1].number + 1 if self.runs else 1, lr=float(lr),
                  batch_size=int(batch_size), epochs=int(epochs), n_hidden=int(n_hidden),
                  seed=int(seed), dataset=dataset, size=int(size),
                  log_every=int(self.log_every or default_log_every(int(batch_size))),
                  started=time.perf_counter())
        self.runs.append(run)
        self.stop_event.clear()
        self.thread = threading.Thread(target=self._worker, args=(run,), daemon=True,
                                       name=f"lr-explorer-run-{run.number}")
        self.thread.start()
        return run

    def stop(self, wait=True, timeout=10.0):
        """Ask the run in progress to stop; with `wait`, wait for its thread.

        Returns the seconds from the request to the explorer's answer, ``on_ended``: the
        run has ended and says so, before its last picture is drawn (nan if not waited,
        or if no run was in progress). ``last_stop_thread`` keeps the seconds to the
        thread's end, that picture drawn.
        """
        thread = self.thread
        run = self.runs[-1] if self.runs and thread is not None and thread.is_alive() else None
        t0 = time.perf_counter()
        self.stop_event.set()
        if run is not None and self.drawing is run:
            # training is paused for a picture and ends as soon as it is drawn (the callback
            # then returns True): the run has ended here, so say so now, not after the picture
            run.status = "stopped"
            self._answer(run)
        if not wait or thread is None:
            return math.nan
        thread.join(timeout)
        self.last_stop_thread = time.perf_counter() - t0
        self.last_stop_latency = max(run.answered - t0, 0.0) if run is not None and run.answered else math.nan
        return self.last_stop_latency

    def wait(self, timeout=None):
        """Block until the run in progress ends; True if no run is left running."""
        thread = self.thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def clear(self):
        """Forget every finished run (the run in progress, if any, stays)."""
        self.runs = [run for run in self.runs if run.running]

    # ----------------------------------------------------------------- the training thread
    def _worker(self, run):
        """Body of the training thread: load the data, build the net, train, report."""
        try:
            self._train(run)
        except Exception as exc:
            run.status = "error"
            run.error = f"{type(exc).__name__}: {exc}"
            run.traceback = traceback.format_exc()
        finally:
            run.finished = time.perf_counter()
            drawing_error = None
            try:
                if (run.status in ("done", "stopped", "diverged") and run.val_at
                        and run.val_at[-1] < run.examples_seen()):
                    self._measure_val(run)     # the curve ends where training ended
            except Exception as exc:           # reported by on_end: the buttons must come back
                drawing_error = exc
            try:
                self._answer(run)              # say so now; the picture follows
                self._update(run)
            except Exception as exc:
                drawing_error = drawing_error or exc
            self.on_end(run, drawing_error)

    def _train(self, run):
        if not dataset_loaded(run.dataset, run.size):
            self.on_message(f"run {run.number}: loading MNIST ...")
        (xtr, ttr), (xval, tval), num_classes = dataset(run.dataset, run.size)
        run.n_train, run.n_classes = len(xtr), num_classes
        run.net = MLP(xtr.shape[1], run.n_hidden, num_classes, seed=run.seed)
        self._measure_val(run)       # the untrained network: the curves' starting point
        run.status = "running"
        self.last_update = 0.0       # the first report of a run is drawn at once

        def callback(event, history):
            run.history = history
            if self.stop_event.is_set():
                return True          # Stop pressed: end here, before any drawing
            if event == "epoch" and history.val_loss:
                run.val_at.append(len(history.val_loss) * run.n_train)
                run.val_loss.append(float(history.val_loss[-1]))
                run.val_acc.append(float(history.val_acc[-1]))
            gap = max(self.redraw_every, 2.0 * self.update_seconds)
            if time.perf_counter() - self.last_update >= gap:
                if event == "log":
                    self._measure_val(run)
                self.drawing = run           # no step is taken until the picture is drawn
                try:
                    self._update(run)
                finally:
                    self.drawing = None
            return self.stop_event.is_set()

        # warn=False: the divergence is read from the history (warnings.catch_warnings
        # is not thread-safe, and would swallow the notebook's own warnings meanwhile)
        history = train(run.net, (xtr, ttr), val=(xval, tval), lr=run.lr, epochs=run.epochs,
                        batch_size=run.batch_size, seed=run.seed, log_every=run.log_every,
                        progress=False, callback=callback, warn=False)
        run.history = history
        run.warnings = [history.divergence_message()] if history.diverged else []
        run.status = "diverged" if history.diverged else "stopped" if history.stopped else "done"

    def _measure_val(self, run):
        """Append validation loss and accuracy of the current net (cheap: <= 5000 rows)."""
        xval, tval = dataset(run.dataset, run.size)[1]
        with np.errstate(all="ignore"):
            # a net with NaN weights has no accuracy (predictions would all be class 0)
            loss, acc = (run.net.evaluate(xval, tval) if run.net.params_finite()
                         else (run.net.mean_loss(xval, tval), math.nan))
        run.val_at.append(run.examples_seen())
        run.val_loss.append(float(loss))
        run.val_acc.append(float(acc))

    def _answer(self, run):
        """Say once that ``run`` has ended: stamp ``run.answered`` and call ``on_ended``.
        From the training thread when it ends, or from stop() if Stop comes while the
        training thread draws (then training is already over). True if this call said it."""
        with self._answer_lock:
            if run.answered:
                return False
            run.answered = time.perf_counter()
        self.on_ended(run)
        return True

    def _update(self, run):
        t0 = time.perf_counter()
        self.on_update(run)
        self.last_update = time.perf_counter()
        self.update_seconds = self.last_update - t0
