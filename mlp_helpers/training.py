"""Training: stochastic gradient descent with a record of how it went.

One SGD step on a batch (batch_size=1 is the report's per-example SGD)::

    loss, grads = net.loss(x_batch, t_batch)     # mean cross-entropy over the batch
    for each parameter w:  w -= lr * grads[w]    # step downhill (the report prints +)

``train`` repeats that over the training set, reshuffled every epoch, and returns a
:class:`History`: the training loss of every epoch, the validation loss and accuracy
after every epoch, the running mean of the loss every ``log_every`` examples (the
report's loss curve), and the wall time of every epoch.

:func:`sgd_epoch` is that loop for per-example SGD, written out: the reference the
tests compare the fast steppers with. ``train`` uses the fast loops of
:mod:`mlp_helpers._fast` -- the same maths, compiled with numba for batch size 1 --
and falls back to :func:`sgd_epoch` (with a warning, once) when numba is missing.
"""
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from types import SimpleNamespace

import numpy as np

from ._checks import (check_factors, check_flag, check_inputs, check_labels, check_params_of,
                      check_positive_float, check_positive_int, check_seed)
from .blas import limit_threads

__all__ = ["train", "History", "DivergenceRule", "sgd_epoch", "sgd_as_printed"]


def sgd_epoch(net, x, t, lr, order):
    """Per-example SGD over the examples ``order``, written plainly: the reference loop.

    Args: net, an MLP (updated in place); x (N, D) and t (N,) labels; lr > 0; order,
    the example indices in the order of the steps (``train`` uses
    ``np.random.default_rng(seed).permutation(N)`` for its first epoch).
    Returns the loss of every step, measured before that step (float64 array). Stops
    after a non-finite loss, without updating the network with it.
    """
    losses = []
    for i in order:
        loss, grads = net.loss(x[i:i + 1], t[i:i + 1])   # forward and backward on one example
        losses.append(loss)
        if not math.isfinite(loss):
            break
        for name, w in net.params.items():
            w -= lr * grads[name]                        # step downhill
    return np.array(losses, dtype=np.float64)


def sgd_as_printed(net, x, t, lr):
    """One pass of per-example SGD with the update exactly as the report's snippet prints it.

    The snippet subtracts only W's step and *assigns* the other three parameters::

        W -= alpha * gW;  b = alpha * gb;  V = alpha * gV;  c = alpha * gc

    so after every example b, V and c hold one tiny, scaled gradient instead of what
    was learned: :func:`sgd_epoch` with that slip. Use it on a copy of a network to
    see what it does to training (notebook 04).

    Args:
        net: an MLP, modified in place.
        x: (N, D) float inputs; t: (N,) int64 labels; lr: float > 0.
    Returns:
        float, the mean training loss over the pass.
    """
    lr = check_positive_float(lr, "lr")
    total = 0.0
    for i in range(len(x)):
        loss, grads = net.loss(x[i:i + 1], t[i:i + 1])
        net.params["W"] -= lr * grads["W"]
        for name in ("b", "V", "c"):
            net.params[name][...] = lr * grads[name]  # the slip: '=' where '-=' was meant
        total += float(loss)
    return total / len(x)


class _ReferenceSGD:
    """The stepper ``train`` uses for batch size 1 when numba is missing: :func:`sgd_epoch`.

    The steppers' shared interface (this one, :class:`mlp_helpers._fast.PerExampleSGD`,
    :class:`mlp_helpers._fast.MinibatchSGD`): ``lr`` (read at every ``run``),
    ``batch_size``, ``split(order)`` -> (steps, sizes), one entry per SGD step and the
    number of examples in each, and ``run(steps, losses)`` -> the number of steps taken.
    """

    batch_size = 1

    def __init__(self, net, x, t, lr):
        self.net, self.x, self.t, self.lr = net, x, t, float(lr)

    @staticmethod
    def split(order):
        """One step per example of ``order``: (steps, sizes) = (order, float64 ones)."""
        return order, np.ones(len(order))

    def run(self, order, losses):
        done = sgd_epoch(self.net, self.x, self.t, self.lr, order)
        losses[:len(done)] = done
        return len(done)


_warned_no_numba = False


def _stepper(net, x, t, lr, batch_size):
    """The fast stepper for the batch size; the reference loop (warned once) without numba.

    numba is imported here, at the first training run, not with the package: a notebook
    that never trains does not pay for it (about 0.5 s)."""
    global _warned_no_numba
    from . import _fast
    if batch_size > 1:
        return _fast.MinibatchSGD(net, x, t, lr, batch_size)
    if _fast.HAVE_NUMBA:
        return _fast.PerExampleSGD(net, x, t, lr)
    if not _warned_no_numba:
        _warned_no_numba = True
        warnings.warn("numba is not available (not installed, or NUMBA_DISABLE_JIT is set), so per-example "
                      "SGD runs the plain reference loop "
                      "(sgd_epoch), some 50 times slower (about 1 ms an example on MNIST instead of 10-20 us); "
                      "pip install numba for the compiled kernel",
                      RuntimeWarning, stacklevel=3)
    return _ReferenceSGD(net, x, t, lr)


@dataclass
class History:
    """What happened during one call of :func:`train`.

    Settings: ``lr``, ``batch_size``, ``epochs`` (asked for), ``seed``, ``n_train``.

    Per completed epoch e (lists, one entry each):
        train_loss[e]: mean training loss over epoch e, averaged over its examples
            as they were seen during the epoch -- each example's loss is taken just
            before the step that learns from it, so this is the running estimate the
            report plots, not a re-evaluation of the final network on the training set.
        val_loss[e], val_acc[e]: mean cross-entropy and accuracy on ``val`` after
            epoch e (``net.mean_loss`` and ``net.accuracy``); empty lists without val.
        epoch_time[e]: seconds of training in epoch e (validation not included).
        epoch_lr[e]: the learning rate used in epoch e (``lr`` times the schedule's factor).
        train_loss_after[e], train_acc_after[e]: with ``eval_train=True`` only, the mean
            cross-entropy and accuracy on the whole training set measured with the
            weights at the end of epoch e -- the same weights as val_loss[e], so the two
            can be compared directly (train_loss[e] lags them); else empty lists.

    Every ``log_every`` examples (counted across epochs):
        running_loss[i]: mean loss of the examples since the previous entry;
        running_at[i]: number of training examples seen so far.

    Flags: ``diverged`` (:class:`DivergenceRule` fired: the loss blew up or became
    NaN or inf; training stopped there; ``diverged_reason`` says why, and
    :meth:`divergence_message` is the warning ``train`` gives),
    ``stopped`` (a callback returned True). ``examples_seen``: examples stepped on.
    An epoch that diverges or is cut short by a callback adds no per-epoch entry.
    """

    lr: float
    batch_size: int
    epochs: int
    seed: int
    n_train: int
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    running_loss: list = field(default_factory=list)
    running_at: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    epoch_lr: list = field(default_factory=list)
    train_loss_after: list = field(default_factory=list)
    train_acc_after: list = field(default_factory=list)
    diverged: bool = False
    stopped: bool = False
    examples_seen: int = 0
    diverged_reason: str = ""

    def divergence_message(self):
        """The RuntimeWarning's text when training diverged (names the rate, suggests a
        smaller one); '' when it did not."""
        if not self.diverged:
            return ""
        rate = self.epoch_lr[-1] if self.epoch_lr else self.lr
        scheduled = f" (scheduled to {rate:g} in that epoch)" if rate != self.lr else ""
        return (f"training diverged: {self.diverged_reason} after {self.examples_seen} examples "
                f"with lr={self.lr:g}{scheduled}; the learning rate is too large for this network -- try a "
                f"smaller one (e.g. lr={self.lr / 10:g})")

    @property
    def epochs_done(self):
        """Number of completed epochs (the length of ``train_loss``)."""
        return len(self.train_loss)

    def to_dict(self):
        """A plain dict of Python numbers, lists and bools (``json.dumps`` works on it)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d):
        """The History that ``to_dict`` gave ``d`` (unknown keys are an error)."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"d has keys History does not know: {sorted(unknown)}; allowed: {sorted(names)}")
        return cls(**{k: (list(v) if isinstance(v, list) else v) for k, v in d.items()})

    def __repr__(self):
        last = ""
        if self.train_loss:
            last = f", train_loss[-1]={self.train_loss[-1]:.4f}"
        if self.val_acc:
            last += f", val_acc[-1]={self.val_acc[-1]:.4f}"
        flags = "".join(f", {k}=True" for k in ("diverged", "stopped") if getattr(self, k))
        return (f"History(lr={self.lr}, batch_size={self.batch_size}, "
                f"epochs={self.epochs_done}/{self.epochs}{last}{flags})")


class DivergenceRule:
    """When training counts as diverged: the one rule ``train`` and the explorer use.

    The stable softmax keeps the loss finite even when the weights run away, so
    "the loss became NaN" alone almost never fires. A run has diverged when

    * a loss is NaN or inf, or the weights are no longer finite; or
    * the running loss stays above ``threshold`` for ``WINDOW`` log entries in a
      row, or for a whole epoch (its mean), where

          threshold = max(FACTOR * L0, L0 + ln K),

      L0 the untrained network's mean loss on (up to) the first ``N_INITIAL``
      training examples and K the number of classes.

    ``L0 + ln K`` keeps the rule sane when L0 is small (a network already trained):
    the loss must then rise by more than a uniform guess's loss. The window of 3
    entries lets a minibatch run at a large rate spike for an entry or two and then
    learn. The runs that chose FACTOR and WINDOW, and how to measure them again:
    docs/developers.md, "Divergence".

    Usage (what ``train`` does)::

        rule = DivergenceRule.for_network(net, x, t)
        reason = rule.check(history.running_loss)     # None, or why it diverged
    """

    FACTOR = 3.0
    WINDOW = 3
    N_INITIAL = 1_000

    def __init__(self, initial_loss, n_classes):
        self.initial_loss = float(initial_loss)
        self.n_classes = int(n_classes)
        self.threshold = max(self.FACTOR * self.initial_loss, self.initial_loss + math.log(self.n_classes))

    @classmethod
    def for_network(cls, net, x, t):
        """The rule for training ``net`` on (x, t): L0 measured on the first N_INITIAL rows."""
        n = min(len(x), cls.N_INITIAL)
        with np.errstate(all="ignore"):
            return cls(net.mean_loss(x[:n], t[:n]), net.n_out)

    def _too_high(self, what):
        return (f"{what} stayed above {self.threshold:.3g} (max({self.FACTOR:g} x the untrained "
                f"network's loss {self.initial_loss:.3g}, that + ln {self.n_classes}))")

    def check(self, running_loss):
        """None, or the reason the run has diverged, judged on its running-loss entries."""
        if len(running_loss) and not math.isfinite(running_loss[-1]):
            return f"the loss became {running_loss[-1]}"
        last = running_loss[-self.WINDOW:]
        if len(last) == self.WINDOW and all(v > self.threshold for v in last):
            return self._too_high(f"the running loss ({', '.join(f'{v:.3g}' for v in last)})")
        return None

    def check_epoch(self, epoch_loss, net):
        """None, or the reason the run has diverged, judged at the end of an epoch."""
        if not net.params_finite():
            return "the weights became NaN or inf"
        if not math.isfinite(epoch_loss):
            return f"the loss became {epoch_loss}"
        if epoch_loss > self.threshold:
            return self._too_high(f"the epoch's mean loss ({epoch_loss:.3g})")
        return None


def train(net, data, val=None, lr=0.01, epochs=5, batch_size=1, seed=0,
          log_every=1000, progress=True, callback=None, lr_schedule=None, eval_train=False,
          warn=True):
    """Train ``net`` in place with minibatch SGD; return a :class:`History`.

    Args:
        net: an MLP; its ``params`` are updated in place.
        data: a pair (x, t): x (N, D) real array with D == net.n_in (cast to
            net.dtype), t (N,) integer labels in [0, net.n_out).
        val: None or a pair (x_val, t_val) like ``data``, evaluated after each epoch.
        lr: learning rate, a finite number > 0. Each step is ``w -= lr * dl/dw``.
        epochs: passes over the data (integer >= 1); reshuffled before each.
        batch_size: examples per step (1 <= batch_size <= N); the loss of a step is
            the mean over its batch. 1 is per-example SGD, the report's setting.
        seed: seeds ``np.random.default_rng`` for the shuffles; the same seed, net and
            data give the same History (apart from ``epoch_time``).
        log_every: record the running mean loss every this many examples (>= 1).
        progress: show a tqdm progress bar (a widget in Jupyter), updated every
            ``log_every`` examples.
        callback: None or ``callback(event, history)``, called with event "log" after
            each running-loss entry and "epoch" after each epoch (its validation
            metrics already appended). Returning True stops training there
            (``history.stopped``); from another thread, set a flag the callback reads.
        lr_schedule: None (the same rate in every epoch), or how the rate changes from
            epoch to epoch: a sequence of ``epochs`` factors, or a function
            ``lr_schedule(epoch)`` of the epoch number (0, 1, ...) returning one. Epoch e
            then uses the rate ``lr * factor_e``; each factor must be a finite number > 0.
            Example, halving the rate after every epoch: ``lr_schedule=lambda e: 0.5 ** e``.
            The rates used are recorded in ``history.epoch_lr``.
        eval_train: also measure the loss and accuracy on the whole training set with
            the weights at the end of each epoch (``history.train_loss_after``,
            ``train_acc_after``); costs one forward pass over the training set an epoch.

        warn: give the RuntimeWarning below (False: only record the divergence in the
            History, as the explorer does: its training thread cannot catch warnings,
            ``warnings.catch_warnings`` is not thread-safe).

    Divergence (see :class:`DivergenceRule`: the loss NaN or inf, or held far above
    the untrained network's) stops training with a RuntimeWarning that names the
    learning rate and suggests a smaller one, and ``history.diverged`` is True
    (``history.diverged_reason`` says why).
    Per-example SGD runs with one BLAS thread (if threadpoolctl is installed):
    matrix-vector work is faster that way.
    """
    args = _check_args(net, data, val, lr, epochs, batch_size, seed, log_every, progress,
                       callback, lr_schedule, eval_train, warn)
    x, t = args.x, args.t
    history = History(lr=args.lr, batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                      n_train=len(x))
    stepper = _stepper(net, x, t, args.lr, args.batch_size)
    run = _Run(history, stepper, args.log_every, callback, DivergenceRule.for_network(net, x, t))
    rng = np.random.default_rng(args.seed)
    bar = _progress_bar(args.progress, args.epochs * len(x))
    try:
        # numpy's overflow warnings would only precede ours: a non-finite loss is caught below
        with limit_threads(1 if args.batch_size == 1 else None), np.errstate(all="ignore"):
            for epoch in range(args.epochs):
                if bar is not None:
                    bar.set_description(f"epoch {epoch + 1}/{args.epochs}")
                stepper.lr = args.rates[epoch]
                history.epoch_lr.append(stepper.lr)
                start = time.perf_counter()
                finished = run.epoch(rng.permutation(len(x)), bar)
                if not finished or not run.end_epoch(net, time.perf_counter() - start, args, bar):
                    break
    finally:
        if bar is not None:
            bar.close()
    if history.diverged and args.warn:
        warnings.warn(history.divergence_message(), RuntimeWarning, stacklevel=2)
    return history


class _Run:
    """The loop over one epoch: steps in blocks of up to ``log_every`` examples, and
    the running-loss bookkeeping between blocks; then the epoch's record."""

    def __init__(self, history, stepper, log_every, callback, rule):
        self.history, self.stepper, self.log_every, self.callback = history, stepper, log_every, callback
        self.rule = rule          # a DivergenceRule
        self.block_sum = 0.0      # summed per-example losses since the last log entry
        self.block_count = 0      # examples since the last log entry
        self.epoch_loss = math.nan

    def epoch(self, order, bar):
        """One pass over ``order``; False if training must stop (diverged or callback)."""
        history, B = self.history, self.stepper.batch_size
        steps, sizes = self.stepper.split(order)    # one entry per SGD step; examples in each
        losses = np.empty(len(steps))
        step = 0
        while step < len(steps):
            # steps up to the next log point (counted in examples, across epochs)
            need = self.log_every - self.block_count
            count = min(len(steps) - step, -(-need // B))
            done = self.stepper.run(steps[step:step + count], losses[step:step + count])
            block, weights = losses[step:step + done], sizes[step:step + done]
            examples = int(weights.sum())
            step += done
            history.examples_seen += examples
            if done and not math.isfinite(block[-1]):
                return self._go_on(f"the loss became {float(block[-1])}", None, bar)
            self.block_sum += float(np.sum(block * weights))
            self.block_count += examples
            if bar is not None:
                bar.update(examples)
            if self.block_count >= self.log_every and not self._log(bar):
                return False
        # mean over the epoch's examples of the loss seen at each step
        self.epoch_loss = float(np.sum(losses * sizes) / len(order))
        return True

    def _log(self, bar):
        """Record a running-loss entry; False if training must stop (diverged or callback)."""
        history = self.history
        history.running_loss.append(self.block_sum / self.block_count)
        history.running_at.append(history.examples_seen)
        self.block_sum, self.block_count = 0.0, 0
        return self._go_on(self.rule.check(history.running_loss), "log", bar)

    def end_epoch(self, net, elapsed, args, bar):
        """Record a finished epoch (its loss, time, evaluations); False if training must stop."""
        history = self.history
        reason = self.rule.check_epoch(self.epoch_loss, net)
        if reason is None:
            history.train_loss.append(self.epoch_loss)
            history.epoch_time.append(elapsed)
            if args.eval_train:
                loss, acc = net.evaluate(args.x, args.t)
                history.train_loss_after.append(loss)
                history.train_acc_after.append(acc)
            if args.x_val is not None:
                loss, acc = net.evaluate(args.x_val, args.t_val)
                history.val_loss.append(loss)
                history.val_acc.append(acc)
        return self._go_on(reason, "epoch", bar)

    def _go_on(self, reason, event, bar):
        """After a log entry or an epoch: False if training must stop, because it diverged
        (``reason`` is not None) or the callback, called with ``event``, returned True."""
        history = self.history
        if reason is not None:
            history.diverged, history.diverged_reason = True, reason
            return False
        if bar is not None:
            bar.set_postfix(_postfix(history), refresh=False)
        if self.callback is not None and self.callback(event, history) is True:
            history.stopped = True
            return False
        return True


def _check_args(net, data, val, lr, epochs, batch_size, seed, log_every, progress, callback,
                lr_schedule, eval_train, warn):
    """Every argument of :func:`train`, checked; returns them (x cast to net.dtype) and
    ``rates``, the learning rate of every epoch, as one namespace."""
    x, t, x_val, t_val = _check_data(net, data, val)
    lr = check_positive_float(lr, "lr")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > len(x):
        raise ValueError(f"batch_size must be at most the number of training examples N = {len(x)}, "
                         f"got batch_size={batch_size}")
    seed = check_seed(seed)
    log_every = check_positive_int(log_every, "log_every")
    progress = check_flag(progress, "progress")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be None or a function callback(event, history), got {callback!r}")
    rates = [lr * factor for factor in _check_schedule(lr_schedule, epochs)]
    eval_train = check_flag(eval_train, "eval_train")
    return SimpleNamespace(x=x, t=t, x_val=x_val, t_val=t_val, lr=lr, epochs=epochs, batch_size=batch_size,
                           seed=seed, log_every=log_every, progress=progress, rates=rates,
                           eval_train=eval_train, warn=check_flag(warn, "warn"))


def _check_data(net, data, val):
    """Validate (x, t) and the optional val pair against the network; cast x to net.dtype."""
    for attr in ("params", "n_in", "n_hidden", "n_out", "dtype", "loss"):
        if not hasattr(net, attr):
            raise ValueError(f"net must be an MLP (with params, n_in, n_hidden, n_out, dtype, loss), "
                             f"got {type(net).__name__}")
    check_params_of(net)
    x, t = _check_pair(net, data, "data")
    x_val = t_val = None
    if val is not None:
        x_val, t_val = _check_pair(net, val, "val")
    return x, t, x_val, t_val


def _check_pair(net, pair, name):
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        got = f"a {type(pair).__name__} of length {len(pair)}" if isinstance(pair, (tuple, list)) \
            else type(pair).__name__
        raise ValueError(f"{name} must be a pair (x, t) of inputs (N, D) and labels (N,), got {got}")
    x = check_inputs(pair[0], f"{name} x", n_features=net.n_in, dtype=net.dtype)
    t = check_labels(pair[1], net.n_out, f"{name} t", n_examples=x.shape[0])
    x = np.ascontiguousarray(x, dtype=net.dtype)
    return x, t


def _check_schedule(lr_schedule, epochs):
    """The learning-rate factor of every epoch, as a list of ``epochs`` floats > 0."""
    if lr_schedule is None:
        return [1.0] * epochs
    if callable(lr_schedule):
        factors = []
        for epoch in range(epochs):
            try:
                factor = lr_schedule(epoch)
            except Exception as e:
                raise ValueError(f"lr_schedule({epoch}) raised {type(e).__name__}: {e}") from e
            factors.append(check_positive_float(factor, f"lr_schedule({epoch})"))
        return factors
    if isinstance(lr_schedule, (str, bytes)) or not hasattr(lr_schedule, "__len__"):
        raise ValueError(f"lr_schedule must be None, a function of the epoch, or a sequence of {epochs} "
                         f"factors (one per epoch), got {lr_schedule!r}")
    return list(check_factors(lr_schedule, epochs, "lr_schedule"))


def _postfix(history):
    out = {}
    if history.running_loss:
        out["loss"] = f"{history.running_loss[-1]:.4f}"
    if history.val_acc:
        out["val_acc"] = f"{history.val_acc[-1]:.4f}"
    return out


def _progress_bar(progress, total):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="ex", unit_scale=True, leave=True, mininterval=0.5)
