"""The learning-rate explorer's view: the figure of its runs, and the read-out line.

:class:`ExplorerView` draws a list of :class:`~mlp_helpers.explorer.runs.Run` --
training and validation loss against epochs on the left; on the right the latest
run's decision boundary (synthetic data) or every run's validation accuracy
(MNIST) -- and returns it as PNG bytes. The figure is a matplotlib Figure drawn
off-screen (Agg) to PNG, shown by the explorer in an ``ipywidgets.Image``: no extra
dependency and nothing that needs a live matplotlib backend in the browser, so it
looks the same in JupyterLab, Voila and a static web page. :func:`describe` words a
run's settings, progress and latest numbers as one line of HTML.

The state (runs, thread, Stop) is :mod:`mlp_helpers.explorer.runs`; the controls
:mod:`mlp_helpers.explorer.widget`.
"""
import io
import threading
import time

import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import AutoLocator, FormatStrFormatter, LogLocator, NullLocator

from .runs import dataset
from ..plotting import plane_grid

__all__ = ["ExplorerView", "describe", "escape"]

# Colours of runs, in order; the latest run is drawn solid, earlier ones faded.
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
            "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
_FADED = 0.35
BOUNDARY_RESOLUTION = 80      # grid points per axis of the decision-boundary panel


class ExplorerView:
    """The explorer's figure: ``render(runs)`` -> PNG bytes of the runs drawn.

    Args: figsize (inches), dpi. Attributes: render_count (renders so far),
    render_seconds (how long each took, for the latency notes). ``render`` may be
    called from the training thread and the kernel's thread: a lock keeps one
    drawing at a time.
    """

    def __init__(self, figsize=(10.0, 3.7), dpi=80):
        self.render_count = 0
        self.render_seconds = []
        self._lock = threading.Lock()
        self._fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self._fig)
        self._ax_loss, self._ax_right = self._fig.subplots(
            1, 2, gridspec_kw=dict(width_ratios=(1.55, 1)))
        self._fig.subplots_adjust(left=0.07, right=0.985, bottom=0.14, top=0.9, wspace=0.24)
        self._setup_loss_axes(self._ax_loss)

    def render(self, runs):
        """The figure of ``runs`` (a list of Run, oldest first), as PNG bytes.

        Kept cheap for the training thread: the axes are emptied rather than
        rebuilt (ticks are reused), the layout is fixed (no tight_layout), the
        figure is drawn once and PNG-encoded with light compression.
        """
        t0 = time.perf_counter()
        with self._lock:
            runs = list(runs)
            ax, right = self._ax_loss, self._ax_right
            for axes in (ax, right):
                for artist in [*axes.lines, *axes.collections, *axes.images, *axes.texts]:
                    artist.remove()
                if axes.get_legend() is not None:
                    axes.get_legend().remove()
            latest = runs[-1] if runs else None
            shown = _same_data(runs)
            self._draw_losses(ax, shown)
            hidden = len(runs) - len(shown)
            ax.set_title("loss: validation (dashed), training (thin, mean of each report)"
                         + (f"\n{hidden} run{'s' * (hidden > 1)} on other data not shown (scales differ)"
                            if hidden else ""), fontsize=10 if not hidden else 9)
            if latest is not None and latest.dataset == "synthetic" and latest.net is not None:
                self._draw_boundary(right, latest)
            else:
                self._draw_accuracy(right, shown)
            canvas = self._fig.canvas
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba())
            buffer = io.BytesIO()
            PIL.Image.fromarray(rgba[..., :3]).save(buffer, format="png", compress_level=1)
        self.render_seconds.append(time.perf_counter() - t0)
        self.render_count += 1
        return buffer.getvalue()

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
        xval, tval = dataset("synthetic", 0)[1]
        g0, g1, grid = plane_grid(xval, BOUNDARY_RESOLUTION, margin=0.0)
        lo, hi = (g0.min(), g1.min()), (g0.max(), g1.max())
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
        ax.scatter(xval[show, 0], xval[show, 1], c=tval[show], cmap="RdBu_r", vmin=0, vmax=1,
                   s=6, edgecolors="none")
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.xaxis.set_major_locator(AutoLocator())
        ax.yaxis.set_major_locator(AutoLocator())
        ax.set_xlabel("$x_1$ (red: class 1, blue: class 0)")
        ax.set_ylabel("$x_2$")
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
                        label=run.label, **self._style(run, runs))
                right_end = max(right_end, run.epochs_seen())
        ax.xaxis.set_major_locator(AutoLocator())
        ax.yaxis.set_major_locator(AutoLocator())
        ax.set_xlim(0, right_end * 1.02)
        ax.set_ylim(0, 100)
        ax.set_xlabel("epochs")
        ax.set_ylabel("validation accuracy (%)")
        ax.grid(True, alpha=0.25)
        ax.set_title("validation accuracy", fontsize=10)
        if ax.get_lines():
            ax.legend(fontsize=8, loc="lower right", framealpha=0.7)


def _same_data(runs):
    """The runs on the same data as the latest one (synthetic, or MNIST of any subset size).

    Losses of different datasets are on different scales (ln 2 against ln 10 at the
    start), so they do not share one axis.
    """
    if not runs:
        return []
    return [run for run in runs if run.dataset == runs[-1].dataset]


def describe(run):
    """One line of HTML: the run's settings, progress and latest numbers."""
    head = (f"<b>run {run.number}</b>: lr = {run.lr:.3g}, batch {run.batch_size}, "
            f"{run.n_hidden} hidden, {run.dataset}{'' if run.dataset == 'synthetic' else f' {run.size}'}. ")
    h = run.history
    if run.status == "error":
        return head + f"<span style='color:#c00'><b>error</b>: {escape(run.error)}</span>"
    if run.status == "diverged":
        reason = run.divergence_reason or "the loss blew up"
        return head + (f"<span style='color:#c00'><b>diverged</b> after {run.examples_seen():,} examples: "
                       f"{escape(reason)}. The steps overshoot: the learning rate is too large.</span>")
    parts = [f"<b>{run.status}</b>, epoch {run.epochs_seen():.1f} / {run.epochs}"]
    if h is not None and h.running_loss:
        parts.append(f"training loss {h.running_loss[-1]:.3f}")
    if run.val_loss:
        parts.append(f"validation loss {run.val_loss[-1]:.3f}")
        parts.append(f"<b>validation accuracy {100 * run.val_acc[-1]:.1f}%</b>")
    if not run.running:
        parts.append(f"{run.finished - run.started:.1f} s")
    return head + ", ".join(parts)


def escape(text):
    """``text`` made safe to put in HTML (&, <, >)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
