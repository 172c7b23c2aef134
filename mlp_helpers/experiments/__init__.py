"""The report's MNIST experiments as data: run the configurations, keep the runs.

Notebook 04 asks four questions of one network (784-300-10, sigmoid hidden layer,
softmax output, cross-entropy, per-example SGD, 5 epochs). Each question is a set of
training runs, and a run is fully described by a few numbers::

    RunConfig(lr=0.01, seed=0)               # one run: 5 epochs, batch_size=1, 300 hidden
    RunConfig(lr=0.03, seed=0, final=True)   # trained on all 60,000, evaluated on the test set

Because a configuration is a frozen (hashable) dataclass, runs that the experiments
share are trained once: experiment 1's run (lr 0.01, seed 0) is also one of
experiment 2's three seeds and one of experiment 3's twelve runs::

    runs = run_many(exp1 + exp2 + exp3)      # 16 requested, 12 unique, trained in 2 processes
    runs[RunConfig(lr=0.01, seed=0)]         # -> History

:mod:`.runs` runs them: :func:`train_run` / :func:`run` one config, :func:`run_many`
many (each distinct one once, in worker processes: :mod:`mlp_helpers.experiments.workers`), and
:func:`select` picks one experiment's runs. The rest lives beside it, and every name
is importable from here too, so notebook 04 reaches everything as ``ex.<name>``:

* :mod:`mlp_helpers.experiments.config`: ``RunConfig``, ``Runs``, ``grid`` (what a run is);
* :mod:`mlp_helpers.experiments.tables`: the numbers the report reads off its figures, as
  functions of the runs (``summarize``, ``choose_lr``, ``comparison_table``, ``REPORT``);
* :mod:`mlp_helpers.experiments.results`: ``save_results`` / ``load_results`` (JSON for the
  histories, an .npz file beside it for the networks) and the grading mode.

**Under a grader** (``nbgrader autograde`` or ``validate``, which set the environment
variable ``NBGRADER_EXECUTION`` in the notebook's kernel), ``run_many`` and ``train_run``
train nothing: they return the *published* runs, the histories and networks that the
solution notebook saved to ``results/mnist_experiments.json`` (and ``.npz``) and that
ship with the assignment. The runs do not depend on the student's code, so grading
them again for every student would only cost time (about a minute a student on 2 cores). A student
running the notebook trains for real. See :func:`~mlp_helpers.experiments.results.published_runs_file`.
"""
from ..blas import BLAS_THREAD_VARS  # noqa: F401
from ..training import sgd_as_printed  # noqa: F401 (notebook 04 calls ex.sgd_as_printed)
from .config import RunConfig, Runs, grid  # noqa: F401
from .results import (NBGRADER_VAR, PUBLISHED_RUNS_NAME, PUBLISHED_RUNS_VAR, PublishedNets,  # noqa: F401
                      PublishedRunMissing, grading_note, load_results, missing_nets, published_runs,
                      published_runs_file, save_results)
from .runs import run, run_many, select, train_run  # noqa: F401
from .tables import (REPORT, choose_lr, choose_setting, comparison_table, epoch_mean_std,  # noqa: F401
                     epoch_table, final_metrics, format_table, histories_by_lr, report_numbers,
                     sampling_error, settings, summarize, summary_table)

__all__ = [
    "RunConfig",
    "Runs",
    "grid",
    "run",
    "train_run",
    "run_many",
    "settings",
    "select",
    "histories_by_lr",
    "epoch_mean_std",
    "final_metrics",
    "summarize",
    "choose_lr",
    "choose_setting",
    "sampling_error",
    "format_table",
    "epoch_table",
    "summary_table",
    "report_numbers",
    "comparison_table",
    "save_results",
    "load_results",
    "missing_nets",
    "sgd_as_printed",
    "PublishedRunMissing",
    "published_runs_file",
    "PUBLISHED_RUNS_VAR",
]
