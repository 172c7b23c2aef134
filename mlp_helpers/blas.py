"""BLAS threads: how many threads numpy's matrix products may use, in one place.

``train`` runs per-example SGD, a long chain of small matrix-vector steps, with one
BLAS thread (whether that pays, measured: docs/speed.md, "BLAS threads"). Two places
set the count, each with its own tool:

* this process, for the duration of a block: :func:`limit_threads` (threadpoolctl,
  which changes the thread pools of the BLAS libraries numpy has already loaded);
* worker processes started inside a block: :func:`single_thread_workers` (the
  environment variables ``BLAS_THREAD_VARS``, which a BLAS library reads when it is
  loaded -- in a freshly spawned worker, before numpy is imported).
"""
import contextlib
import os

__all__ = ["BLAS_THREAD_VARS", "limit_threads", "single_thread_workers"]

#: the variables OpenMP, OpenBLAS and MKL read for their thread count when loaded
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def limit_threads(n):
    """Limit this process's BLAS to ``n`` threads inside the block, then restore the count.

    A no-op for ``n=None``, or when threadpoolctl is not installed (optional: training
    still works, per-example SGD a little slower).
    """
    limiter = None
    if n is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            pass
        else:
            limiter = threadpool_limits(limits=n, user_api="blas")
    try:
        yield
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


@contextlib.contextmanager
def single_thread_workers():
    """Set the BLAS thread variables to 1 while worker processes are started.

    A spawned worker copies the parent's environment when it starts, before it imports
    numpy, so this is what caps each worker at one BLAS thread. The parent's own numpy is
    already loaded and unaffected; its environment is restored afterwards.
    """
    saved = {var: os.environ.get(var) for var in BLAS_THREAD_VARS}
    os.environ.update({var: "1" for var in BLAS_THREAD_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
