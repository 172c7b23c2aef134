"""Plotting helpers for the notebooks: loss curves, bands over runs, learning rates,
decision boundaries, digit grids, confusion matrices and first-layer weights.

Every function returns the matplotlib ``Figure`` it drew on, never calls
``plt.show()``, and takes ``save=None``: give a path (``"figures/fig1_loss.png"``)
and the figure is also written there as a PNG (the folder is created; the file
is written to a temporary name first and moved into place, so a crash never
leaves half a PNG behind). Functions that draw one panel take ``ax=None``: pass
an existing axes (a widget's, a subplot of your own) to draw into it.

Histories are ``mlp_helpers.History`` objects or their ``to_dict()`` dicts; only the
fields a plot needs are read (``train_loss``, ``val_loss``, ``val_acc``,
``running_loss``, ``running_at``, ``n_train``, ``lr``).

The style (sizes, grid, spines) is applied per figure through
``plt.rc_context``; the global ``rcParams`` are left as they were.

One module a lesson, every name handed on here (``plotting.loss_curves``):

* ``style``: the style, colours, axes, saving (``save_figure``), ``log_axis``, the
  helpers every figure shares; it imports none of the others;
* ``curves``: loss curves, epoch losses, running loss, gradient noise;
* ``seeds``: bands and spread over seeds, the two readings of a loss band;
* ``lr``: learning rates: colours, comparison, panels, accuracy against lr, early
  stopping, schedules;
* ``mnist``: digits, confusion matrix, weight images, histograms, activation histograms;
* ``boundary``: the plane of the synthetic data, ``plane_grid``, ``decision_boundary``.
"""
from .boundary import decision_boundary, plane_grid
from .curves import epoch_losses, gradient_noise, loss_curves, running_loss
from .lr import accuracy_vs_lr, early_stopping, lr_colors, lr_comparison, lr_panels, lr_schedules
from .mnist import (activation_histograms, confusion_matrix, digit_grid, histograms, plot_confusion_matrix,
                    weight_images)
from .seeds import loss_readings, mean_std_bands, seed_spread
from .style import (CLASS_COLORS, DPI_SAVE, FIGSIZE, LOSS_LABEL, SAFE_COLORS, SAFE_MARKERS, TRAIN_COLOR,
                    VAL_COLOR, log_axis, save_figure)

__all__ = [
    # the colours, sizes and labels every figure shares
    "FIGSIZE", "DPI_SAVE", "TRAIN_COLOR", "VAL_COLOR", "CLASS_COLORS", "SAFE_COLORS", "SAFE_MARKERS", "LOSS_LABEL",
    # the figures
    "save_figure",
    "loss_curves",
    "running_loss",
    "log_axis",
    "gradient_noise",
    "mean_std_bands",
    "lr_colors",
    "lr_comparison",
    "lr_panels",
    "accuracy_vs_lr",
    "epoch_losses",
    "seed_spread",
    "loss_readings",
    "early_stopping",
    "lr_schedules",
    "activation_histograms",
    "decision_boundary",
    "plane_grid",
    "digit_grid",
    "confusion_matrix",
    "plot_confusion_matrix",
    "weight_images",
    "histograms",
]
