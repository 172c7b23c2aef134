"""What a run is: :class:`RunConfig`, the few numbers that describe one training run, and
:class:`Runs`, the ``{RunConfig: History}`` of a set of them.

A configuration is a frozen (hashable) dataclass, so runs that several experiments
share are trained once (:func:`mlp_helpers.experiments.run_many`); :func:`grid` makes
every combination of learning rates and seeds. Everything here is importable from
:mod:`mlp_helpers.experiments` too (``from mlp_helpers.experiments import RunConfig``).
"""
import dataclasses

from .._checks import check_factors, check_flag, check_positive_float, check_positive_int, check_seed

__all__ = ["RunConfig", "Runs", "grid"]


# --------------------------------------------------------------------------- configs

@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that decides one training run (and nothing that does not).

    Args:
        lr: float > 0, the SGD step size alpha (the rate of the first epoch when
            ``lr_schedule`` is given).
        seed: int >= 0, seeds both the weight initialisation (``MLP(seed=)``) and the
            per-epoch shuffling (``train(seed=)``), so a run is reproducible.
        epochs: int >= 1 passes over the training set (the report: 5).
        batch_size: int >= 1 examples per update (the report's SGD: 1).
        n_hidden: int >= 1 sigmoid units in the hidden layer (the report: 300).
        final: bool. False: train on 55,000 images, validate on 5,000 held out.
            True: train on all 60,000, evaluate on the 10,000 test images (only used
            to pick the MNIST split when ``run`` loads the data itself).
        init: how the weights start, ``MLP(init=)``: "glorot" (default), "normal"
            (N(0, 1), saturates the sigmoid) or "zeros".
        lr_schedule: None (the same rate every epoch) or a tuple of ``epochs`` factors
            > 0: epoch e trains with ``lr * lr_schedule[e]`` (``train(lr_schedule=)``).
            A list is accepted and stored as a tuple, so the config stays hashable.
        n_train: None (all training images of the split) or an int >= 1: train on the
            first ``n_train`` of them only (a small subset, e.g. to show overfitting).
            The evaluation set is unchanged.
        eval_train: bool, also measure loss and accuracy on the (whole, or subset)
            training set with the weights at the end of every epoch
            (``History.train_loss_after``, ``train_acc_after``); costs one forward pass
            over the training images an epoch.

    Two configs with equal fields are equal and hash alike, which is what lets
    ``run_many`` train each distinct run once. Invalid values raise ValueError.
    """

    lr: float
    seed: int = 0
    epochs: int = 5
    batch_size: int = 1
    n_hidden: int = 300
    final: bool = False
    init: str = "glorot"
    lr_schedule: tuple = None
    n_train: int = None
    eval_train: bool = False

    def __post_init__(self):
        # Normalise types too: RunConfig(lr=1) and RunConfig(lr=1.0) are the same run.
        set_ = object.__setattr__  # the dataclass is frozen; this is its documented escape
        set_(self, "lr", check_positive_float(self.lr, "lr"))
        set_(self, "seed", check_seed(self.seed))
        set_(self, "epochs", check_positive_int(self.epochs, "epochs"))
        set_(self, "batch_size", check_positive_int(self.batch_size, "batch_size"))
        set_(self, "n_hidden", check_positive_int(self.n_hidden, "n_hidden"))
        for name in ("final", "eval_train"):
            set_(self, name, check_flag(getattr(self, name), name))
        from ..network import INITS  # (lazy: keeps importing this module light)

        if not isinstance(self.init, str) or self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {self.init!r}")
        if self.lr_schedule is not None:
            set_(self, "lr_schedule", _check_factors(self.lr_schedule, self.epochs))
        if self.n_train is not None:
            set_(self, "n_train", check_positive_int(self.n_train, "n_train"))

    def to_dict(self):
        """The fields as a JSON-safe dict (inverse: ``RunConfig(**d)``)."""
        return dataclasses.asdict(self)

    @property
    def label(self):
        """A short description of what sets this run apart, e.g. 'lr 0.1, x(1, 0.5, 0.25)'.

        Names the learning rate, then any field that is not the report's setting (the
        seed and ``final`` are left out: they pick a run and a split, not a setting).
        """
        parts = [f"lr {self.lr:g}"]
        if self.lr_schedule is not None:
            parts.append("factors " + ", ".join(f"{f:g}" for f in self.lr_schedule))
        if self.init != "glorot":
            parts.append(f"init {self.init}")
        if self.n_train is not None:
            parts.append(f"{self.n_train:,} images")
        for name, default in (("epochs", 5), ("batch_size", 1), ("n_hidden", 300)):
            if getattr(self, name) != default:
                parts.append(f"{name} {getattr(self, name)}")
        return ", ".join(parts)

    def replace(self, **changes):
        """A copy with some fields changed, e.g. ``config.replace(seed=1, final=True)`` (validated)."""
        return dataclasses.replace(self, **changes)

    def rate(self, epoch):
        """The learning rate of epoch ``epoch`` (0-based): lr times its schedule factor."""
        return self.lr * (1.0 if self.lr_schedule is None else self.lr_schedule[epoch])


def _check_factors(factors, epochs):
    """A sequence of ``epochs`` finite factors > 0 -> a tuple of floats, else ValueError."""
    if isinstance(factors, (str, bytes)) or not hasattr(factors, "__len__"):
        raise ValueError(f"lr_schedule must be None or a sequence of {epochs} factors > 0 "
                         f"(one per epoch), got {factors!r}")
    return check_factors(factors, epochs, "lr_schedule")


def grid(lrs, seeds, **fixed):
    """All combinations of learning rates and seeds, rate-major.

    Args:
        lrs: iterable of floats > 0; seeds: iterable of ints >= 0;
        fixed: other RunConfig fields shared by every run (epochs=, final=, ...).
    Returns:
        list[RunConfig] of length len(lrs) * len(seeds).
    """
    return [RunConfig(lr=lr, seed=seed, **fixed) for lr in lrs for seed in seeds]


# --------------------------------------------------------------------------- a set of runs

class Runs(dict):
    """``{RunConfig: History}`` in the order the configs were first requested.

    Attributes:
        nets: dict ``{RunConfig: MLP}``, the trained networks (after ``load_results``:
            those saved in the .npz file beside the JSON, if there is one).
    and about the ``run_many`` call that made it:
        requested: int, configs asked for, duplicates included.
        trained: list[RunConfig], the configs trained by that call (each once); under a
            grader, the configs it took from the published runs instead.
        reused: list[RunConfig], the configs taken from ``done`` instead of trained.
        seconds: float, wall time of the call.
        workers: int, processes used for training (0: none, the runs were published).
        published: Path of the published results the runs came from, or None (trained).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nets = {}

    requested = 0
    trained = ()
    reused = ()
    seconds = 0.0
    workers = 1
    published = None
