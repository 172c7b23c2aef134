"""Test-session settings, applied before numpy is imported anywhere.

The kit's work is small matrix-vector products (per-example SGD) that run fastest
on one BLAS thread, and two notebooks share the machine's cores with pytest.
Notebook kernels started by nbval inherit this environment.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")
