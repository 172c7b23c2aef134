"""The learning-rate explorer of notebook 05: drag a learning rate, press Train, watch it learn.

* :mod:`.runs`: the runs, the training thread and Stop (no widgets, no figures);
* :mod:`.view`: the figure and the read-out of a list of runs;
* :mod:`.widget`: the controls, wired up (``lr_explorer``, ``LRExplorer``) and the
  responsiveness measurement behind ``mlp-course explorer-latency``.
"""
from .widget import LRExplorer, lr_explorer

__all__ = ["LRExplorer", "lr_explorer"]
