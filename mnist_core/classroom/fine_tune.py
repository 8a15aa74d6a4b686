"""Train more on our handwriting: the settings of the run, and the class's drawings as the examples it
mixes into MNIST."""

from __future__ import annotations

from dataclasses import replace

from mnist_core.classroom.errors import ClassError
from mnist_core.classroom.scoring import Examples, examples
from mnist_core.net.config import ExtraExamples, TrainConfig
from mnist_core.storage.drawings import Drawing

# Train more on our handwriting: a few epochs at an eighth of the model's learning rate, decaying to 0,
# the class's drawings taking EXTRA_SHARE of each epoch's places, each copy deformed afresh.
FINE_TUNE_EPOCHS = 2
EXTRA_SHARE = 0.1
EXTRA_AUGMENT = 0.6


def fine_tune_config(base: TrainConfig, epochs: int = FINE_TUNE_EPOCHS, device: str = "auto") -> TrainConfig:
    """The settings of Train more on our handwriting, from the settings the model was trained with; no drawn
    digits (drawn=0): the class's own drawings are the drawn digits here, and redrawing 18,000 MNIST digits on a
    canvas took most of a minute before the first batch."""
    return replace(base, epochs=epochs, lr=base.lr / 8, schedule="cosine", device=device, drawn=0.0)


def class_extra(learn: list[Drawing] | Examples, source: str = "", share: float = EXTRA_SHARE,
                strength: float = EXTRA_AUGMENT) -> ExtraExamples:
    """A collection's learning part as the examples a run mixes into MNIST (ClassError when it has none)."""
    data = learn if isinstance(learn, Examples) else examples(learn)
    if not len(data):
        raise ClassError("the collection has no drawings to learn from yet")
    return ExtraExamples(data.images, data.labels, share, strength, source)
