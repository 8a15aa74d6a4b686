"""Ready experiments a teacher starts in one click: a config, what to look at (two sentences), a slow-motion
delay and live changes planned where the lesson needs them, and each as a link (its settings in the URL)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from urllib.parse import urlencode

from mnist_core.net.config import ConfigError, TrainConfig
from mnist_core.net.controls import Control
from mnist_core.texts import N_, worded

BASE = TrainConfig(hidden=(128,), epochs=4, dropout=0.0)  # small and quick: a lesson is minutes, not hours


@dataclass(frozen=True)
class Experiment:
    key: str  # in the URL: ?experiment=lr-1
    title: str
    config: TrainConfig
    look: str  # two sentences: what to look at, and why it happens
    delay: float = 0.0  # slow motion from the first batch, seconds
    planned: tuple[tuple[float, Control], ...] = ()  # live changes at epoch positions
    then: str = ""  # where to look afterwards ("Inside → Brittleness")


EXPERIMENTS: dict[str, Experiment] = {e.key: e for e in (
    Experiment("lr-1", N_("Learning rate 1"), replace(BASE, lr=1.0, schedule="constant"),
               N_("Watch the loss jump instead of falling, or turn into NaN, and the health panel's warning. Each step "
               "is so large that it jumps over the valley it should walk down into.")),
    Experiment("sigmoid-deep", N_("Sigmoid with two hidden layers"),
               replace(BASE, hidden=(128, 128), activation="sigmoid", lr=1e-3),
               N_("Compare the gradient sizes of the layers: the first layer's is much smaller than the last's. A "
               "sigmoid passes on at most a quarter of each gradient, so the early layers learn slowly.")),
    Experiment("init-small", N_("Initial weights x0.1"), replace(BASE, init_scale=0.1),
               N_("The loss stays flat at first, then starts to fall. With tiny weights every hidden unit answers "
               "almost the same, and the gradients that would tell them apart are tiny too.")),
    Experiment("init-large", N_("Initial weights x5"), replace(BASE, init_scale=5.0),
               N_("The first losses are huge and the first steps wild. Large weights give large, confident and "
               "wrong answers, and the loss punishes confident mistakes hardest.")),
    Experiment("dropout-half", N_("Dropout 0.5"), replace(BASE, dropout=0.5),
               N_("Train F1 stays close to test F1, and below what it reaches without dropout. Half the units are "
               "switched off at random each batch, so no unit can learn a training digit by heart.")),
    Experiment("no-augment", N_("No augmentation, then Brittleness"), replace(BASE, augment=0.0, epochs=6),
               N_("Train F1 climbs above test F1. Then open Inside → Brittleness: a digit shifted by two pixels or "
               "slanted a little is read wrong, because the network saw only centred digits."),
               then=N_("Inside → Brittleness")),
    Experiment("batch-1", N_("Batch size 1, slow motion"),
               replace(BASE, batch_size=1, lr=3e-4, schedule="constant", epochs=1),
               N_("Every step follows one digit: the loss curve jumps up and down and the weight pictures flicker. "
               "Compare it with batch size 1024, where each step is an average of many digits."), delay=0.5),
    Experiment("batch-1024", N_("Batch size 1024, slow motion"), replace(BASE, batch_size=1024, lr=3e-3),
               N_("The loss falls smoothly but there are only 59 steps an epoch. Each step averages 1024 digits: "
               "steady, but it learns less per digit seen than small batches."), delay=0.5),
    Experiment("tiny-16", N_("16 hidden units"), replace(BASE, hidden=(16,)),
               N_("Test F1 levels off below the 128-unit network's however long it trains, and train F1 with it. "
               "Sixteen units cannot hold all the shapes of ten digits: the network is too small, not undertrained.")),
    Experiment("lr-raised", N_("Learning rate raised live mid-run"), replace(BASE, lr=1e-3, schedule="constant"),
               N_("Halfway through epoch 2 the learning rate goes from 0.001 to 0.1, marked on the charts. Watch the "
               "loss jump at the mark and the health warning offer to divide it by 3."),
               planned=((1.5, Control.set("lr", 0.1)),)),
)}

_DEFAULTS = TrainConfig()
_QUERY_FIELDS = [f for f in fields(TrainConfig) if f.metadata.get("preset", True)]


def experiment_query(experiment: Experiment) -> dict[str, str]:
    """An experiment as URL query parameters: its key and every setting that differs from the defaults."""
    query = {"experiment": experiment.key}
    for f in _QUERY_FIELDS:
        value = getattr(experiment.config, f.name)
        if value != getattr(_DEFAULTS, f.name):
            query[f.name] = ",".join(map(str, value)) if f.name == "hidden" else str(value).lower() \
                if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)
    return query


def experiment_link(experiment: Experiment, base: str = "") -> str:
    """The link a teacher hands out: `base` (the Train page's address) with the experiment's query."""
    return f"{base}?{urlencode(experiment_query(experiment))}"


def experiment_from_query(params: Mapping[str, str]) -> tuple[Experiment, TrainConfig] | None:
    """The experiment a link names and its settings as the link has them (a teacher may have edited one), the
    experiment's own for those it leaves out;
    None without `experiment`. Raises ConfigError in one line for an unknown experiment or a bad value."""
    key = params.get("experiment")
    if key is None:
        return None
    experiment = EXPERIMENTS.get(key)
    if experiment is None:
        raise worded(ConfigError, N_("no experiment called '{key}'; there are: {names}"), key=key,
                     names=", ".join(EXPERIMENTS))
    values = {}
    for f in _QUERY_FIELDS:
        if f.name not in params:
            continue
        text = str(params[f.name])
        kind = type(getattr(_DEFAULTS, f.name))
        try:
            if f.name == "hidden":
                values[f.name] = tuple(int(p) for p in text.split(",") if p.strip())
            elif kind is bool:
                values[f.name] = {"true": True, "false": False}[text.lower()]
            else:
                values[f.name] = kind(text)
        except (ValueError, KeyError):
            raise worded(ConfigError, N_("the link's '{name}' is '{text}', not a {kind}"), name=f.name, text=text,
                         kind=kind.__name__) from None
    # A setting the link leaves out is the experiment's own (a short hand-made link: ?experiment=tiny-16&epochs=1).
    return experiment, replace(experiment.config, **values)
