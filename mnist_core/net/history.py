"""A training run's typed history (skorch style): a record per epoch, and progress reports within one."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class EpochRecord:
    """One line of a training history (skorch style: a plain record per epoch)."""

    epoch: int
    loss: float  # mean training loss over the epoch's batches
    train_f1: float
    test_f1: float
    test_accuracy: float
    seconds: float  # training plus both evaluations
    grad_norms: list[float] = field(default_factory=list)  # per layer, input first: mean size of the weight gradient
    dead_share: list[float] = field(default_factory=list)  # per hidden layer: share of units that never change
    fraction: float = 1.0  # of the epoch's batches trained: less than 1 when a Stop cut it short

    @classmethod
    def from_dict(cls, values: dict) -> EpochRecord:
        """A record as a model file keeps it (JSON); fields this version does not know are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class Progress:
    """A progress report from inside an epoch, every REPORT_EVERY batches and at each epoch's end."""

    epoch: int  # 1-based, counting the model's whole history
    epochs: int  # the last epoch of this run
    batch: int
    batches: int
    seconds: float  # since this run started
    batch_losses: list[float] = field(default_factory=list)  # the raw losses since the last report
    grad_norms: list[float] = field(default_factory=list)  # per layer, input first: the last batch's weight gradient
    lr: float = 0.0  # the learning rate the next batch trains at (a schedule's value now)


@dataclass(frozen=True)
class Metrics:
    """A model's final scores: those of the last epoch of its history."""

    test_accuracy: float
    test_f1: float
    train_f1: float | None = None
    loss: float | None = None

    @classmethod
    def of(cls, history: list[EpochRecord]) -> Metrics | None:
        """The last record's scores; None for an empty history."""
        if not history:
            return None
        last = history[-1]
        return cls(last.test_accuracy, last.test_f1, last.train_f1, last.loss)

    def to_dict(self) -> dict:
        """Plain numbers only: a figure not measured (None) is left out, as a file's metadata wants it."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, values: dict) -> Metrics | None:
        """Metrics as a model file keeps them; None when a file has none (`{}`)."""
        if "test_accuracy" not in values or "test_f1" not in values:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in values.items() if k in known})
