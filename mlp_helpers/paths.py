"""Where the notebooks write their figures and results: one rule for every place they run.

The notebooks run in three kinds of folder:

* this repository: ``notebooks/*.ipynb`` beside ``mlp_helpers/``, ``figures/``, ``results/``;
* a student release: one flat folder of notebooks (``release/``, made by
  ``mlp-course release``, or nbgrader's ``release/ASSIGNMENT/``);
* nbgrader's grading folders: ``source/ASSIGNMENT/`` and ``autograded/STUDENT/ASSIGNMENT/``.

**The rule.** The *course root* is the folder of the running notebook, except in the
repository, where it is the repository (recognised by the notebook folder being called
``notebooks`` and having the package source ``mlp_helpers/`` beside it). Figures go to
``ROOT/figures/``, results to ``ROOT/results/``. So a release, or a student's folder
under nbgrader, keeps everything it writes inside itself: it never writes into the
repository's ``figures/`` or ``results/``, even when it sits inside the repository.

A figure that a notebook shows is displayed as the output of the cell that makes it
(not linked from markdown), so it displays however JupyterLab was started, also as
``jupyter lab notebooks/``, which serves nothing above ``notebooks/``.

The notebook's folder is the kernel's working directory: Jupyter, nbconvert, nbval and
nbgrader all start a notebook's kernel in the folder of the notebook.

**Writing somewhere else** (:data:`OUTPUT_VAR`). With ``MLP_OUTPUT_DIR=FOLDER`` in the
environment, the repository's notebooks write their figures and results to
``FOLDER/figures/`` and ``FOLDER/results/`` instead of the repository's (:func:`output_root`).
The test suite sets it to a temporary folder, so running the tests leaves the checkout
as it was: the committed figures and results change only when someone runs a notebook
to change them. A release or a grading folder writes inside itself whatever the variable
says, and published runs are always read from the course root.

**Under a grader** (:func:`grading`: nbgrader's autograder, or any grader that names
the published runs) the figures are drawn and shown in the notebook as usual, but not
written to ``figures/``: the grade and the feedback page need only the notebook, and a
class of 100 would write thousands of PNGs no one opens.

Usage, in a notebook's first cell::

    from mlp_helpers import paths
    FIGURES = paths.figures_dir()                       # PNGs
    RESULTS = paths.results_path("mnist_experiments.json")
"""
import os
from pathlib import Path

__all__ = ["notebook_dir", "course_root", "output_root", "figures_dir", "results_path", "grading",
           "published_path", "NBGRADER_VAR", "PUBLISHED_RUNS_VAR", "OUTPUT_VAR"]

# nbgrader sets NBGRADER_EXECUTION ('autograde' or 'validate') in the environment of the
# kernels it starts; any other grader names the published runs with PUBLISHED_RUNS_VAR.
NBGRADER_VAR = "NBGRADER_EXECUTION"
PUBLISHED_RUNS_VAR = "MLP_PUBLISHED_RUNS"
# Where the repository's notebooks write figures/ and results/ instead (the tests set it).
OUTPUT_VAR = "MLP_OUTPUT_DIR"


def grading():
    """Why the notebook runs under a grader ('NBGRADER_EXECUTION=autograde', or
    'MLP_PUBLISHED_RUNS=PATH'), or None when a person runs it."""
    for name in (PUBLISHED_RUNS_VAR, NBGRADER_VAR):
        if os.environ.get(name):
            return f"{name}={os.environ[name]}"
    return None


def notebook_dir():
    """The folder of the running notebook: the working directory of its kernel (a Path)."""
    return Path.cwd()


def _is_repository_notebooks(folder):
    return folder.name == "notebooks" and (folder.parent / "mlp_helpers" / "__init__.py").is_file()


def course_root(folder=None):
    """The folder that holds ``figures/`` and ``results/`` for a notebook in ``folder``.

    Args:
        folder: the notebook's folder (default: :func:`notebook_dir`).
    Returns:
        Path: the repository root for the repository's ``notebooks/``, else ``folder``.
    """
    folder = notebook_dir() if folder is None else Path(folder)
    return folder.parent if _is_repository_notebooks(folder) else folder


def output_root(folder=None):
    """The folder that receives ``figures/`` and ``results/`` from a notebook in ``folder``.

    :func:`course_root`, except for the repository's notebooks when ``MLP_OUTPUT_DIR``
    is set (to a non-empty path): then that folder.

    Args:
        folder: the notebook's folder (default: :func:`notebook_dir`).
    Returns:
        Path.
    """
    folder = notebook_dir() if folder is None else Path(folder)
    redirect = os.environ.get(OUTPUT_VAR)
    if redirect and _is_repository_notebooks(folder):
        return Path(redirect)
    return course_root(folder)


def figures_dir(folder=None):
    """``output_root()/figures`` (created if missing), where the course's PNGs are saved."""
    path = output_root(folder) / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_path(name="mnist_experiments.json", folder=None):
    """``output_root()/results/NAME``: where a notebook writes a results file (its folder
    is made when it is written).

    The published runs a grader reads are ``course_root()/results/``
    (``results.published_runs_file``), which is this same file except under
    ``MLP_OUTPUT_DIR``.
    """
    _check_name(name)
    return output_root(folder) / "results" / name


def _check_name(name):
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ValueError(f"name must be a plain file name such as 'mnist_experiments.json', got {name!r}")


def published_path(name="mnist_experiments.json", folder=None):
    """``course_root()/results/NAME``: a results file as published with the course, to read.

    In a folder that nbgrader grades, ``results/mnist_experiments.json`` is the published
    runs that ship with the assignment (see ``experiments.run_many``).
    """
    _check_name(name)
    return course_root(folder) / "results" / name

