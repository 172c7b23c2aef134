"""The synthetic data's plane (notebooks 00, 02, 05): a grid over it and a model's decision boundary."""
import numpy as np
from matplotlib.colors import ListedColormap

from .._checks import check_flag, check_inputs, check_labels, check_positive_int
from .style import CLASS_COLORS, _axes, _finish, _style


def _predictor(model):
    """A function X (M, 2) -> integer labels (M,) from a net or a callable."""
    if hasattr(model, "predict"):
        fn = model.predict
    elif callable(model):
        fn = model
    else:
        raise ValueError(f"model must be a network with .predict or a callable x -> labels, "
                         f"got {type(model).__name__}")

    def predict(points):
        out = np.asarray(fn(points))
        if out.ndim == 2:                   # class probabilities: take the likeliest class
            out = out.argmax(axis=1)
        if out.shape != (points.shape[0],):
            raise ValueError(f"model must return one label per point ({points.shape[0]}), "
                             f"got shape {out.shape}")
        return out.astype(np.int64)
    return predict


def plane_grid(x, resolution=200, margin=0.05):
    """A square grid over the bounding box of 2-D points, a little wider, for a model's picture.

    Args: x (N, 2) points; resolution, grid points per axis; margin, the fraction of
    the data's range added on every side (0: the bounding box itself).
    Returns (xx1, xx2, points): the (resolution, resolution) coordinate arrays of
    ``np.meshgrid`` (float64) and the same points as rows, (resolution**2, 2) of x's
    float dtype (float64 for integer x), ready for ``net.predict_proba(points)``.
    """
    lo, hi = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)
    xx1, xx2 = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                           np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    points = np.column_stack([xx1.ravel(), xx2.ravel()])
    return xx1, xx2, points.astype(x.dtype if x.dtype.kind == "f" else np.float64)


def decision_boundary(model, x, t, boundary=None, *, resolution=200, max_points=2000, seed=0,
                      margin=0.05, contour=False, title=None, ax=None, save=None):
    """Predicted class over the plane, the data on top, and the true boundary (2-D data).

    Args:
        model: an MLP (anything with ``.predict(x) -> (M,) int``) or a callable
            ``x (M, 2) -> labels (M,)`` (or probabilities (M, K)).
        x: float array (N, 2), the points; t: int array (N,), their labels.
        boundary: optional true class boundary: an (M, 2) array of points along it,
            or a callable returning one; drawn as a black dashed line.
        resolution: grid points per axis; the grid covers the data plus ``margin``
            (a fraction of the range) on every side.
        max_points: scatter at most this many points (a seeded random subsample).
        contour: also draw the model's own boundary, where its predicted class changes,
            as a solid black line (for two classes: where P(class 1) = 0.5).
        title, ax, save: as everywhere in mlp_helpers.plotting.

    Returns:
        matplotlib.figure.Figure
    """
    x = check_inputs(x, "x", n_features=2)
    t = check_labels(np.asarray(t) if isinstance(t, (list, tuple)) else t,
                     np.iinfo(np.int64).max, "t", n_examples=x.shape[0])
    resolution = check_positive_int(resolution, "resolution", minimum=2)
    max_points = check_positive_int(max_points, "max_points")
    predict = _predictor(model)

    xx1, xx2, grid = plane_grid(x, resolution, margin)
    g1, g2 = xx1[0], xx2[:, 0]
    pred = predict(grid).reshape(xx1.shape)

    n_classes = int(max(t.max(), pred.max())) + 1
    if pred.min() < 0:
        raise ValueError(f"model returned negative class labels (min {int(pred.min())})")
    palette = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(n_classes)]
    contour = check_flag(contour, "contour")

    if boundary is not None:
        pts = np.asarray(boundary() if callable(boundary) else boundary, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 2:
            raise ValueError(f"boundary must be an (M, 2) array of points (M >= 2) or a callable "
                             f"returning one, got shape {pts.shape}")

    with _style():
        fig, ax = _axes(ax, figsize=(5.5, 5))
        # filled regions: one colour per predicted class (levels centred on the integers)
        ax.contourf(xx1, xx2, pred, levels=np.arange(n_classes + 1) - 0.5,
                    cmap=ListedColormap(palette), alpha=0.25)
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(x.shape[0], size=min(max_points, x.shape[0]), replace=False))
        for k in range(n_classes):
            sel = idx[t[idx] == k]
            if sel.size:
                ax.scatter(x[sel, 0], x[sel, 1], s=6, color=palette[k], alpha=0.7, lw=0,
                           label=f"class {k}")
        if boundary is not None:
            ax.plot(pts[:, 0], pts[:, 1], "k--", lw=1.5, label="true boundary")
        if contour and n_classes > 1:
            ax.contour(xx1, xx2, pred, levels=np.arange(n_classes - 1) + 0.5, colors="k",
                       linewidths=1.5)
            ax.plot([], [], "k-", lw=1.5, label="predicted boundary")   # legend entry for the contour
        ax.set_xlim(g1[0], g1[-1])
        ax.set_ylim(g2[0], g2[-1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        shown = f" ({idx.size:,} of {x.shape[0]:,} points)" if idx.size < x.shape[0] else ""
        ax.set_title(title or f"Predicted class (shaded) and data{shown}")
        ax.legend(loc="upper right", markerscale=2, framealpha=0.8, frameon=True)
    return _finish(fig, save)
