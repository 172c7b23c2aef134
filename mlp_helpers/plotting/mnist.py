"""MNIST (notebooks 00, 04): digits, confusion matrix, weights; histograms of pixels and activations."""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from .._checks import check_inputs, check_labels, check_positive_int
from .style import SAFE_COLORS, _axes, _finish, _style


# ----------------------------------------------------------------- digits ---

def _images(images, name="images"):
    """(N, side, side) float images from (N, side*side) or (N, side, side)."""
    if not isinstance(images, np.ndarray) or images.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a numpy array of pixels, shape (N, 784) or (N, 28, 28), "
                         f"got {type(images).__name__}")
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"{name} of shape {images.shape}: rows must be square images "
                             f"(784 = 28*28 pixels), got {images.shape[1]} pixels")
        images = images.reshape(images.shape[0], side, side)
    elif images.ndim != 3:
        raise ValueError(f"{name} must have shape (N, 784) or (N, 28, 28), got {images.shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty; give at least one image")
    return images


def _opt_labels(values, name, n):
    if values is None:
        return None
    values = np.asarray(values)
    check_labels(values, np.iinfo(np.int64).max, name)
    if values.shape[0] != n:
        raise ValueError(f"{name} must have one label per image ({n}), got {values.shape[0]}")
    return values


def digit_grid(images, t=None, predictions=None, *, probabilities=None, n_cols=10, cmap="gray_r",
               title=None, save=None):
    """A grid of images with their labels (and predictions: wrong ones in red).

    Args:
        images: array (N, 784) or (N, 28, 28), pixels (MNIST: float32 in [0, 1]).
            Pass a slice, e.g. ``x[:30]``; every image is drawn.
        t: int array (N,) or None, the labels; titles read "3".
        predictions: int array (N,) or None; with t, titles read
            "true 3 / pred 5", in red when they differ.
        probabilities: float array (N,) in [0, 1] or None: the probability the network
            gave its prediction; shown under the title as "p = 0.97".
        n_cols: images per row.
        title: figure title; save: optional PNG path.

    Returns:
        matplotlib.figure.Figure with one (axis-less) axes per image.
    """
    images = _images(images)
    n = images.shape[0]
    t = _opt_labels(t, "t", n)
    predictions = _opt_labels(predictions, "predictions", n)
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if probabilities.shape[0] != n or np.any(~(probabilities >= 0)) or np.any(probabilities > 1):
            raise ValueError(f"probabilities must be {n} numbers in [0, 1], one per image")
    n_cols = min(check_positive_int(n_cols, "n_cols"), n)
    n_rows = -(-n // n_cols)
    lo, hi = float(images.min()), float(images.max())
    vmin, vmax = (0.0, 1.0) if lo >= 0 and hi <= 1 else (lo, hi)
    with _style():
        tall = 0.15 * (probabilities is not None)
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(0.95 * n_cols, (1.1 + tall) * n_rows + 0.3 * bool(title)),
                                 squeeze=False)
        for i, ax in enumerate(axes.ravel()):
            if i >= n:
                fig.delaxes(ax)                 # no empty boxes after the last image
                continue
            ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_axis_off()
            if t is not None and predictions is not None:
                wrong = t[i] != predictions[i]
                ax.set_title(f"true {t[i]} / pred {predictions[i]}"
                             + ("" if probabilities is None else f"\np = {probabilities[i]:.2f}"),
                             fontsize=7, color="red" if wrong else "black")
            elif t is not None:
                ax.set_title(f"{t[i]}", fontsize=8)
            elif predictions is not None:
                ax.set_title(f"pred {predictions[i]}", fontsize=7)
        if title:
            fig.suptitle(title)
        fig.tight_layout(pad=0.3)
    return _finish(fig, save)



# ------------------------------------------------------- confusion matrix ---

def confusion_matrix(t, predicted, n_classes=None):
    """Counts of (true class, predicted class) pairs.

    Args:
        t, predicted: int arrays (N,), the true and the predicted labels (lists are accepted),
            in [0, K).
        n_classes: K; default 1 + the largest label in either.

    Returns:
        int64 array (K, K): entry [i, j] counts examples of true class i predicted j
        (rows true, columns predicted; the diagonal is correct).
    """
    t = np.asarray(t) if isinstance(t, (list, tuple)) else t
    predicted = np.asarray(predicted) if isinstance(predicted, (list, tuple)) else predicted
    for name, v in (("t", t), ("predicted", predicted)):
        check_labels(v, np.iinfo(np.int64).max, name)        # array, 1-D, integer, >= 0
        if v.size == 0:
            raise ValueError(f"{name} is empty; give at least one label")
    if t.shape[0] != predicted.shape[0]:
        raise ValueError(f"t and predicted must have the same length, got {t.shape[0]} "
                         f"and {predicted.shape[0]}")
    if n_classes is None:
        n_classes = int(max(t.max(), predicted.max())) + 1
    else:
        n_classes = check_positive_int(n_classes, "n_classes")
        check_labels(t, n_classes, "t")
        check_labels(predicted, n_classes, "predicted")
    # pair (i, j) -> cell i*K + j, then count each cell
    cells = t.astype(np.int64) * n_classes + predicted.astype(np.int64)
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def plot_confusion_matrix(t, predicted, n_classes=None, *, normalize=False, mistakes_only=False,
                          cmap="Blues", title=None, ax=None, save=None):
    """The confusion matrix as an image, every cell annotated with its count.

    Args:
        t, predicted, n_classes: as in ``confusion_matrix``.
        normalize: colour by the fraction of each true class (row) instead of
            counts; cells then read "count" over "percent".
        mistakes_only: colour only the off-diagonal cells (the mistakes), so the colour
            scale is not used up by the diagonal's large counts; the diagonal is drawn
            grey with its count (and percent, with normalize).
        cmap, title, ax, save: as everywhere in mlp_helpers.plotting.

    Returns:
        matplotlib.figure.Figure (rows: true class t, columns: predicted class).
    """
    counts = confusion_matrix(t, predicted, n_classes)
    k = counts.shape[0]
    rows = counts.sum(axis=1, keepdims=True)
    frac = counts / np.maximum(rows, 1)
    shown = (100 * frac if mistakes_only else frac) if normalize else counts
    accuracy = np.trace(counts) / counts.sum()
    diagonal = np.eye(k, dtype=bool)
    with _style():
        fig, ax = _axes(ax, figsize=(5.5, 4.8) if k > 4 else (4, 3.5))
        if mistakes_only:
            ax.imshow(np.where(diagonal, 1.0, np.nan), cmap=ListedColormap(["0.85"]), vmin=0, vmax=1,
                      interpolation="nearest")
            colored = np.ma.masked_where(diagonal, shown)
        else:
            colored = shown
        im = ax.imshow(colored, cmap=cmap, vmin=0, interpolation="nearest")
        what = "% of true class" if normalize and mistakes_only else \
            "fraction of true class" if normalize else "count"
        fig.colorbar(im, ax=ax, shrink=0.85, label=what + (" (mistakes)" if mistakes_only else ""))
        threshold = (colored.max() if mistakes_only else shown.max()) / 2
        size = 8 if k <= 10 else 6
        for i in range(k):
            for j in range(k):
                text = f"{counts[i, j]}" + (f"\n{100 * frac[i, j]:.0f}%" if normalize and not mistakes_only
                                            else f"\n{100 * frac[i, j]:.1f}%" if normalize and i == j else "")
                dark = not (mistakes_only and i == j) and shown[i, j] > threshold
                ax.text(j, i, text, ha="center", va="center", fontsize=size if i != j or not normalize else size - 1,
                        color="white" if dark else "black")
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.spines[:].set_visible(False)
        ax.set_title(title or f"Confusion matrix (accuracy {100 * accuracy:.2f}%)")
    return _finish(fig, save)



# -------------------------------------------------------- first-layer weights ---

def weight_images(W, n=16, *, shape=(28, 28), n_cols=8, cmap="RdBu_r", title=None, save=None):
    """First-layer weights as images: column j of W (D, H) is hidden unit j's template.

    Args:
        W: array (D, H), or a network (its ``params['W']`` is used); D == prod(shape).
        n: number of hidden units to show (the first n columns).
        shape: image shape (28, 28) for MNIST.
        n_cols: images per row; cmap: a diverging colormap.
        title, save: as everywhere in mlp_helpers.plotting.

    One colour scale for all images, symmetric about 0 (red positive, blue
    negative with RdBu_r), with a colorbar.

    Returns:
        matplotlib.figure.Figure with n image axes and one colorbar axes.
    """
    if hasattr(W, "params"):
        W = W.params["W"]
    W = check_inputs(W, "W")
    side = tuple(int(s) for s in shape)
    if len(side) != 2 or int(np.prod(side)) != W.shape[0]:
        raise ValueError(f"W has {W.shape[0]} rows (inputs), which cannot be reshaped to shape {shape}")
    n = min(check_positive_int(n, "n"), W.shape[1])
    n_cols = min(check_positive_int(n_cols, "n_cols"), n)
    n_rows = -(-n // n_cols)
    vmax = float(np.abs(W[:, :n]).max()) or 1.0
    with _style():
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.1 * n_cols + 0.8, 1.15 * n_rows + 0.4),
                                 squeeze=False, layout="constrained")
        im = None
        for j, ax in enumerate(axes.ravel()):
            if j >= n:
                fig.delaxes(ax)
                continue
            im = ax.imshow(W[:, j].reshape(side), cmap=cmap, vmin=-vmax, vmax=vmax,
                           interpolation="nearest")
            ax.set_axis_off()
            ax.set_title(f"unit {j}", fontsize=7)
        fig.colorbar(im, ax=[a for a in axes.ravel()[:n]], shrink=0.8, label="weight $W_{ij}$")
        fig.suptitle(title or f"First-layer weights W: {n} hidden unit{'s' * (n > 1)}")
    return _finish(fig, save)



# ------------------------------------------------------------- histograms ---

def _sample(values, name):
    """Any array-like of finite real numbers -> a flat float64 array (at least one value)."""
    try:
        a = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {type(values).__name__}") from None
    return check_inputs(a, name).ravel()


def histograms(samples, *, labels=None, bins=50, range=None, density=True, xlabel="value",
               log=False, title=None, ax=None, save=None):
    """Overlaid step histograms of several samples (e.g. hidden activations h per init).

    Args:
        samples: an array, or a list of arrays (any shapes; each is flattened).
        labels: one str per sample (default "sample i").
        bins: number of equal-width bins (int >= 1), shared by all samples.
        range: (lo, hi) of the bins; default the smallest and largest value seen.
        density: True: each histogram integrates to 1; False: raw counts.
        xlabel: the x-axis label.
        log: a logarithmic y axis (to see small counts beside a tall bin).
        title, ax, save: as everywhere in mlp_helpers.plotting.

    Returns:
        matplotlib.figure.Figure
    """
    if isinstance(samples, np.ndarray) or not isinstance(samples, (list, tuple)):
        samples = [samples]
    if len(samples) == 0:
        raise ValueError("samples must be an array or a non-empty list of arrays, got an empty list")
    arrays = [_sample(s, f"samples[{i}]") for i, s in enumerate(samples)]
    if labels is not None and len(labels) != len(arrays):
        raise ValueError(f"labels must have one entry per sample ({len(arrays)}), got {len(labels)}")
    bins = check_positive_int(bins, "bins")
    if range is None:
        lo, hi = min(a.min() for a in arrays), max(a.max() for a in arrays)
        if lo == hi:                               # one value everywhere: a bin around it
            lo, hi = lo - 0.5, hi + 0.5
    else:
        try:
            lo, hi = (float(v) for v in range)
        except (TypeError, ValueError):
            raise ValueError(f"range must be None or a pair (lo, hi) of numbers, got {range!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"range must be (lo, hi) with finite lo < hi, got {range!r}")
    edges = np.linspace(lo, hi, bins + 1)
    with _style():
        fig, ax = _axes(ax)
        for i, a in enumerate(arrays):
            label = labels[i] if labels is not None else f"sample {i + 1}"
            ax.hist(a, bins=edges, density=density, histtype="step", lw=1.5, color=f"C{i % 10}",
                    label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("density" if density else "count")
        if log:
            ax.set_yscale("log")
        ax.set_title(title or "Histograms")
        ax.grid(True, alpha=0.3)
        ax.legend()
    return _finish(fig, save)



# ---------------------------------------------------- hidden activations ---

def activation_histograms(h_by_name, *, near=0.01, title=None, save=None):
    """Histograms of hidden activations h, one panel per initialisation (or network).

    Args:
        h_by_name: dict name -> array of hidden activations h in [0, 1] (any shape).
        near: the share of h within ``near`` of 0 or 1 (saturated: sigma' = h (1 - h)
            is then below about ``near``) is printed in each panel's title.
        title: figure title; save: optional PNG path.
    Returns:
        matplotlib.figure.Figure with one axes per entry.
    """
    if not isinstance(h_by_name, dict) or not h_by_name:
        raise ValueError("h_by_name must be a non-empty dict {name: array of h}")
    with _style():
        fig, axes = plt.subplots(1, len(h_by_name), figsize=(4.2 * len(h_by_name), 3.4), squeeze=False,
                                 sharey=True, layout="constrained")
        for ax, (name, h) in zip(axes[0], h_by_name.items()):
            h = np.asarray(h, dtype=np.float64).ravel()
            if h.size == 0 or np.any(~np.isfinite(h)) or h.min() < 0 or h.max() > 1:
                raise ValueError(f"h_by_name[{name!r}] must hold finite activations in [0, 1]")
            saturated = np.mean((h < near) | (h > 1 - near))
            ax.hist(h, bins=np.linspace(0, 1, 51), color=SAFE_COLORS[0], weights=np.full(h.size, 100 / h.size))
            ax.set_title(f"{name}: {100 * saturated:.0f}% within {near:g} of 0 or 1", fontsize=10)
            ax.set_xlabel("hidden activation h")
            ax.grid(True, alpha=0.3)
        axes[0, 0].set_ylabel("share of all h (%)")
        if title:
            fig.suptitle(title)
    return _finish(fig, save)
