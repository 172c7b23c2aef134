"""Training runs in worker processes: spawned, one BLAS thread each, watched, with progress.

:func:`train_in_processes` is what :func:`mlp_helpers.experiments.run_many` uses for
more than one process. Workers are started with 'spawn': clean interpreters, safe
from a Jupyter kernel (no forked threads), which read the one-thread BLAS
environment (:func:`mlp_helpers.blas.single_thread_workers`) before numpy loads.
Each worker gets the data once, at start-up, and runs a watchdog thread that ends
it as soon as the process that started it is gone. :class:`EpochProgress` is the
progress bar of the epochs (and runs) done, fed by the workers through a queue.
"""
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from ..blas import single_thread_workers

__all__ = ["train_in_processes", "EpochProgress", "WATCHDOG_INTERVAL"]


# Each worker process holds the training function and the data it was given once, at
# start-up (data None: load MNIST), and a queue on which it reports every finished
# epoch (None: no progress bar).
_WORKER_TRAIN = None
_WORKER_DATA = None
_WORKER_EPOCHS = None
# Seconds between two looks of a worker's watchdog at its parent process.
WATCHDOG_INTERVAL = 0.5


def _watch_parent(parent_pid):
    """A worker's watchdog: end the worker as soon as the process that started it is gone.

    When the parent is killed outright (a kernel restart, the OOM killer), nothing tells
    its pool; the worker is handed to another parent (its parent pid changes), and
    without this would train the remaining runs and then wait for work forever.
    """
    while True:
        time.sleep(WATCHDOG_INTERVAL)
        if os.getppid() != parent_pid:
            os._exit(1)             # no clean-up to do: results go nowhere now


def _init_worker(train, data, parent_pid, epochs_queue=None):
    global _WORKER_TRAIN, _WORKER_DATA, _WORKER_EPOCHS
    _WORKER_TRAIN, _WORKER_DATA, _WORKER_EPOCHS = train, data, epochs_queue
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="run_many-parent-watchdog").start()


def _report_epoch(event, history):
    """train's callback in a worker: one message per finished epoch (never stops training)."""
    if event == "epoch" and _WORKER_EPOCHS is not None:
        _WORKER_EPOCHS.put(1)


def _run_in_worker(config):
    return _WORKER_TRAIN(config, _WORKER_DATA, callback=_report_epoch)  # (net, history): ~1 MB back


def _cost(config):
    """Examples a run steps through, roughly: the longest runs are started first."""
    return config.epochs * (config.n_train or 60_000)


class EpochProgress:
    """A tqdm.auto bar of the epochs (and runs) done, or nothing when progress is off."""

    def __init__(self, progress, configs):
        self.bar = None
        if progress and configs:
            from tqdm.auto import tqdm

            self.runs, self.done = len(configs), 0
            self.bar = tqdm(total=sum(config.epochs for config in configs), unit="epoch",
                            desc=f"training {self.runs} run{'s' * (self.runs > 1)}")

    def epochs(self, n=1):
        if self.bar is not None and n:
            self.bar.update(n)

    def run_done(self):
        if self.bar is not None:
            self.done += 1
            self.bar.set_postfix_str(f"{self.done}/{self.runs} runs done")

    def close(self):
        if self.bar is not None:
            self.bar.close()


def train_in_processes(train, todo, data, n_proc, bar):
    """``{config: train(config, data, callback=...)}`` for every config of ``todo``, in
    ``n_proc`` spawned processes, the longest runs first.

    Args: train, a module-level function (sent to the workers by name, e.g.
    ``experiments.train_run``) returning (net, history); todo, the configs; data, as
    ``train`` takes it (sent once to each worker); bar, an :class:`EpochProgress`.
    A failed run raises here at once, and the runs not started are cancelled.
    """
    # 'spawn' starts clean interpreters: safe from a Jupyter kernel (no forked
    # threads), and they read the one-thread BLAS environment before numpy loads.
    context = multiprocessing.get_context("spawn")
    epochs_queue = context.SimpleQueue() if bar.bar is not None else None
    with single_thread_workers(), ProcessPoolExecutor(
            max_workers=n_proc, mp_context=context,
            initializer=_init_worker, initargs=(train, data, os.getpid(), epochs_queue)) as pool:
        futures = {config: pool.submit(_run_in_worker, config)
                   for config in sorted(todo, key=_cost, reverse=True)}
        try:
            pending = set(futures.values())
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while epochs_queue is not None and not epochs_queue.empty():
                    bar.epochs(epochs_queue.get())
                for future in finished:
                    future.result()        # a failed run raises here, at once
                    bar.run_done()
            return {config: futures[config].result() for config in todo}
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise
