"""Test-session settings, applied before numpy or matplotlib is imported anywhere.

Notebook kernels started by nbval inherit this environment.

BLAS threads are left at their default on purpose. Measured on the 2-core development
machine (docs/developers.md, "Tests"): the whole suite took 217 s with OMP/OPENBLAS/MKL_NUM_THREADS=1
and 208 s with 2 threads; without notebook 04, 68 s and 74 s with one thread against 71 s
and 70 s with two, no difference beyond run-to-run noise. The code that wants one thread
takes it itself (mlp_helpers.blas): per-example SGD through threadpoolctl, notebook 04's
worker processes through their environment. Forcing one thread only slowed the minibatch timings of
notebook 03 (3.9-4.2 s against 2.7-3.5 s for its timing cell).
"""
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# Running the tests leaves the checkout as it was: the repository's notebooks write their
# figures and results to a temporary folder (mlp_helpers.paths.OUTPUT_VAR), not over the
# committed figures/ and results/. Notebook kernels inherit the variable.
_OUTPUT = None
if not os.environ.get("MLP_OUTPUT_DIR"):
    _OUTPUT = tempfile.mkdtemp(prefix="mlp-test-output-")
    os.environ["MLP_OUTPUT_DIR"] = _OUTPUT


def pytest_unconfigure(config):
    if _OUTPUT is not None:
        shutil.rmtree(_OUTPUT, ignore_errors=True)


# Notebooks too long for the fast tier (pytest -m "not slow"); tests/test_grading.py marks
# itself. Measured on the 2-core machine: docs/developers.md, "Tests".
SLOW_NOTEBOOKS = {"04_mnist_experiments.ipynb"}     # 37 MNIST runs, 10 million SGD steps


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_NOTEBOOKS:
            item.add_marker(pytest.mark.slow)
