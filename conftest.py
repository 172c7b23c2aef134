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

os.environ.setdefault("MPLBACKEND", "Agg")
