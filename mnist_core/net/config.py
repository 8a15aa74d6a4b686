"""What decides a training run: the one `TrainConfig`, its checks, the named presets and the choices it names,
and the extra examples a run may mix into MNIST."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from mnist_core.net.model import ACTIVATIONS, layers_label

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "onecycle", "cosine")


class ConfigError(ValueError):
    """A training setting is out of range; the message lists every problem."""


# What one run may cost, the same for the app and the command line (`check_run_cost`). Within the store's
# own limits on the files it reads (storage.models.MAX_LAYERS, MAX_PARAMETERS; tests/test_store.py holds
# them together), so no run ever saves a model the store then calls damaged. 20 M parameters: 80 MB of
# weights, about 320 MB with Adam's two moments and the gradients.
MAX_TRAIN_LAYERS = 8
MAX_TRAIN_PARAMETERS = 20_000_000
MAX_TRAIN_STEPS = 250_000  # epochs x batches of one run: 533 epochs at batch 128, 66 at batch 16
MAX_HISTORY = 10_000  # epochs a model may have in all (its history is read with every listing)
TRAIN_DIGITS = 60_000  # MNIST's training set: what one epoch goes through


def parameters_of(hidden: tuple[int, ...] | list[int]) -> int:
    """The weights and biases of a 784-...-10 MLP with these hidden sizes."""
    sizes = (28 * 28, *hidden, 10)
    return sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(sizes, sizes[1:], strict=False))


@dataclass(frozen=True)
class RunCost:
    """What a run would cost: its parameters, layers and batches (epochs x batches per epoch)."""

    parameters: int
    layers: int
    steps: int


def run_cost(config: TrainConfig, epochs: int | None = None, train_digits: int = TRAIN_DIGITS) -> RunCost:
    epochs = epochs or config.epochs
    return RunCost(parameters_of(config.hidden), len(config.hidden),
                   epochs * math.ceil(train_digits / config.batch_size))


def check_run_cost(config: TrainConfig, epochs: int | None = None, history: int = 0,
                   train_digits: int = TRAIN_DIGITS) -> RunCost:
    """The run's cost, or ConfigError (one line) when it is over a ceiling: the layers, the parameters, the
    batches of the run, or the epochs the model would have in all (`history`: epochs it has already)."""
    cost = run_cost(config, epochs, train_digits)
    epochs = epochs or config.epochs
    problems = []
    if cost.layers > MAX_TRAIN_LAYERS:
        problems.append(f"at most {MAX_TRAIN_LAYERS} hidden layers, got {cost.layers}")
    if cost.parameters > MAX_TRAIN_PARAMETERS:
        problems.append(f"layers {layers_label(config.hidden)} make {cost.parameters:,} parameters, more than "
                        f"{MAX_TRAIN_PARAMETERS:,}")
    if cost.steps > MAX_TRAIN_STEPS:
        problems.append(f"{epochs} epochs at batch size {config.batch_size} are {cost.steps:,} batches, more than "
                        f"{MAX_TRAIN_STEPS:,}: fewer epochs or a larger batch")
    if history + epochs > MAX_HISTORY:
        problems.append(f"the model would have {history + epochs:,} epochs, more than {MAX_HISTORY:,}")
    if problems:
        raise ConfigError("too large a run: " + "; ".join(problems))
    return cost


def parse_hidden(text: str) -> tuple[int, ...]:
    """Hidden layer sizes as typed by a person ('512, 256') -> (512, 256); raises ConfigError in words."""
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"hidden layers are comma-separated whole numbers, like 256 or 512,256; got '{text}'") from None
    if not sizes:
        raise ConfigError("give at least one hidden layer size, like 128")
    return sizes


@dataclass
class TrainConfig:
    """Everything that decides a training run. The defaults are the project's recommended setting."""

    hidden: tuple[int, ...] = (256,)
    activation: str = "relu"
    dropout: float = 0.1
    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    schedule: str = "onecycle"
    batch_size: int = 128
    epochs: int = 6
    seed: int = 0
    device: str = field(default="auto", metadata={"preset": False})  # where, not how: a preset leaves it as chosen
    augment: float = 0.0  # strength of random affine, elastic and stroke-width changes; 0 = off
    elastic: bool = True  # include elastic distortion when augmenting
    fill_in: bool = False  # when augmenting, a quarter of the digits get loops filled in and shrink, as under a fat pen
    # Real hands and scans: augmentation also slants, squeezes or stretches (up to filling a square box) and
    # blurs a third to low resolution; drawn digits are slanted, narrowed or widened, some drawn as small scans,
    # and a share of their 1s, 4s, 5s and 7s written in shapes people write (`styles.TRAINING_STYLES`).
    hands: bool = False
    # Share of the training digits also drawn once on a canvas as a person would and read back as the
    # Draw page reads drawings; every epoch shows those drawings in their place (augmented as well).
    drawn: float = 0.0
    init_scale: float = 1.0  # the initial weights times this (an experiment: x0.1 learns slowly, x5 saturates)

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        problems = []
        if not self.hidden or any(h < 1 or h > 8192 for h in self.hidden):
            problems.append(f"hidden sizes must be 1..8192 and at least one layer, got {list(self.hidden)}")
        if self.activation not in ACTIVATIONS:
            problems.append(f"activation must be one of {', '.join(ACTIVATIONS)}, got '{self.activation}'")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got '{self.optimizer}'")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}, got '{self.schedule}'")
        if not (0 < self.lr <= 10) or not math.isfinite(self.lr):
            problems.append(f"learning rate must be in (0, 10], got {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            problems.append(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            problems.append(f"weight decay must be >= 0, got {self.weight_decay}")
        if not 1 <= self.batch_size <= 60000:
            problems.append(f"batch size must be 1..60000, got {self.batch_size}")
        if not 1 <= self.epochs <= 1000:
            problems.append(f"epochs must be 1..1000, got {self.epochs}")
        if self.seed < 0:
            problems.append(f"seed must be >= 0, got {self.seed}")
        if not 0.0 <= self.augment <= 2.0:
            problems.append(f"augmentation strength must be in [0, 2], got {self.augment}")
        if not 0.0 <= self.drawn <= 1.0:
            problems.append(f"share of drawn digits must be in [0, 1], got {self.drawn}")
        if not (0 < self.init_scale <= 100) or not math.isfinite(self.init_scale):
            problems.append(f"initial weight scale must be in (0, 100], got {self.init_scale}")
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def summary(self) -> Summary:
        """How this config trains, as every front end shows it (Train page, leaderboard, CLI): the numbers and
        names, which `Summary.rows()` words in English and the app in its reader's language."""
        also = tuple((name, value) for name, value, on in (
            ("momentum", self.momentum, self.optimizer == "sgd"),
            ("weight_decay", self.weight_decay, self.weight_decay > 0),
            ("elastic", None, self.elastic and self.augment > 0), ("fill_in", None, self.fill_in),
            ("hands", None, self.hands), ("init_scale", self.init_scale, self.init_scale != 1.0)) if on)
        return Summary(layers=layers_label(self.hidden), activation=self.activation, optimizer_name=self.optimizer,
                       lr=self.lr, schedule=self.schedule, batch_size=self.batch_size, dropout=self.dropout,
                       epochs=self.epochs, augment=self.augment, drawn=self.drawn, seed=self.seed, also=also)


# The other settings a summary lists when they are on, in the English of the CLI (the app words its own).
ALSO_WORDS = {"momentum": "momentum {value:g}", "weight_decay": "weight decay {value:g}", "elastic": "elastic",
              "fill_in": "fat-pen fill-in", "hands": "real hands", "init_scale": "initial weights x{value:g}"}
SUMMARY_ROWS = ("layers", "activation", "optimizer", "batch_size", "dropout", "epochs", "augment", "drawn", "seed",
                "also")  # the order a settings table shows them in


@dataclass(frozen=True)
class Summary:
    """A config as people read it: the network's shape, how it learns, on what."""

    layers: str  # "784-256-10"
    activation: str
    optimizer_name: str  # "adam"
    lr: float
    schedule: str  # one of SCHEDULES
    batch_size: int
    dropout: float
    epochs: int
    augment: float  # 0: off
    drawn: float  # share of drawn digits
    seed: int
    also: tuple[tuple[str, float | None], ...] = ()  # the other settings that are on: (ALSO_WORDS key, value)

    @property
    def optimizer(self) -> str:
        """"adam, lr 0.003, one-cycle"."""
        schedule = {"onecycle": "one-cycle"}.get(self.schedule, self.schedule)
        return f"{self.optimizer_name}, lr {self.lr:g}, {schedule}"

    @property
    def extras(self) -> str:
        """"momentum 0.9, elastic, real hands"."""
        return ", ".join(ALSO_WORDS[name].format(value=value) for name, value in self.also)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs in English (the CLI's), in the order a settings table shows them."""
        return [("layers", self.layers), ("activation", self.activation), ("optimizer", self.optimizer),
                ("batch size", str(self.batch_size)), ("dropout", f"{self.dropout:g}"), ("epochs", str(self.epochs)),
                ("augmentation", f"{self.augment:g}" if self.augment else "off"),
                ("drawn digits", f"{self.drawn:.0%}" if self.drawn else "none"), ("seed", str(self.seed)),
                *([("also", self.extras)] if self.extras else [])]


# Named settings for the app and the command line (`--preset`); "recommended" is TrainConfig().
PRESETS: dict[str, TrainConfig] = {
    "recommended": TrainConfig(),
    "notebook": TrainConfig(hidden=(128,), dropout=0.0, lr=1e-4, schedule="constant", batch_size=64, epochs=10),
    "robust-drawings": TrainConfig(hidden=(512, 256), dropout=0.1, lr=2e-3, epochs=24, augment=0.7, drawn=0.3,
                                   fill_in=True, hands=True),
    "best-mlp": TrainConfig(hidden=(800, 800), dropout=0.3, lr=2e-3, epochs=40, augment=1.0, weight_decay=1e-4),
}



# What the Train page offers, the one list its widgets are drawn from and a run's settings are checked against
# (`check_offered`): a browser can send any value for a widget (Streamlit's protocol is open to a script), so a
# value the page never showed is refused in one line, not trained (batch size 1 queued for days) nor raised
# as a traceback (an unknown preset name). Choices are tuples; ranges (low, high) inclusive.
OFFERED_CHOICES: dict[str, tuple] = {
    "activation": tuple(ACTIVATIONS),
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "batch_size": (16, 32, 64, 128, 256, 512, 1024),
    "elastic": (True, False),
    "fill_in": (True, False),
    "hands": (True, False),
}
OFFERED_RANGES: dict[str, tuple[float, float]] = {
    "dropout": (0.0, 0.8),
    "augment": (0.0, 2.0),
    "lr": (1e-5, 1.0),
    "epochs": (1, 200),
    "seed": (0, 2**31 - 1),
    "drawn": (0.0, 0.5),
}
OFFERED_EPOCHS_MORE = (1, 200)  # the Train more box


def preset(name: object) -> TrainConfig:
    """The named preset; ConfigError (one line) for a name that is not one (a forged widget value)."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"no preset called {str(name)[:40]!r}; there are: {', '.join(PRESETS)}")
    return PRESETS[name]


def check_offered(config: TrainConfig, also: TrainConfig | None = None, devices: tuple[str, ...] = ()) -> None:
    """ConfigError (one line) when a setting is not one the Train page offers: a choice it does not list or a
    number outside its widget's range. `also` is a config the page offered whole (the chosen experiment's or
    preset's), whose values are offered too; `devices` the device choices it showed (any when empty). The
    fields without a widget (momentum, weight decay, init scale) must be those of `also` or the defaults."""
    problems = []
    for name, choices in OFFERED_CHOICES.items():
        value = getattr(config, name)
        if value not in choices and (also is None or value != getattr(also, name)):
            problems.append(f"{name} {value!r} is not offered (choose one of {', '.join(map(str, choices))})")
    for name, (low, high) in OFFERED_RANGES.items():
        value = getattr(config, name)
        if not low <= value <= high and (also is None or value != getattr(also, name)):
            problems.append(f"{name} {value:g} is outside the page's range {low:g}..{high:g}")
    for name in ("momentum", "weight_decay", "init_scale"):
        value, allowed = getattr(config, name), {getattr(TrainConfig(), name)} | (
            {getattr(also, name)} | {getattr(p, name) for p in PRESETS.values()} if also is not None else
            {getattr(p, name) for p in PRESETS.values()})
        if value not in allowed:
            problems.append(f"{name} {value:g} is not offered by the page")
    if devices and config.device not in devices:
        problems.append(f"device {config.device!r} is not offered (choose one of {', '.join(devices)})")
    if problems:
        raise ConfigError("not a setting the page offers: " + "; ".join(problems))


@dataclass
class ExtraExamples:
    """Examples mixed into every epoch besides MNIST (a class's own drawings): images float32 (K, 28, 28)
    in [0, 1], labels int64 (K,). They take `share` of each epoch's places (repeated as needed, so a few
    hundred count), each copy freshly deformed at `augment` strength; `source` names them for people."""

    images: np.ndarray
    labels: np.ndarray
    share: float = 0.1
    augment: float = 0.8
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels) or not len(self.labels):
            raise ConfigError(f"extra examples need as many labels as images, and some: got "
                              f"{len(self.images)} images, {len(self.labels)} labels")
        if not 0.0 < self.share <= 0.5:
            raise ConfigError(f"the share of extra examples must be in (0, 0.5], got {self.share}")
