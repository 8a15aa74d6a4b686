"""Scoring a model: batched probabilities, macro-F1, per-class scores, confusion matrix, mistakes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from mnist_core.net.model import eval_mode
from mnist_core.net.preprocess import as_model_input, mnist_style, Steps

EVAL_BATCH = 2048  # big enough for fast matrix products, small enough to stay in cache
CONFIDENT = 0.9  # an error made with more than this probability is a very confident error


@torch.inference_mode()
def predict_probs(model: nn.Module, images: torch.Tensor | np.ndarray, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Softmax probabilities (N, 10) for images (N, 28, 28), in eval mode, on the model's device."""
    device = next(model.parameters()).device
    if len(images) == 0:
        return torch.empty(0, 10, device=device)
    if images.shape[-2:] == (28, 28) and images.ndim == 2:
        images = images[None]
    with eval_mode(model):
        return torch.cat([torch.softmax(model(as_model_input(images[i:i + batch_size], device)), dim=1)
                          for i in range(0, len(images), batch_size)])


# The scores are counted from the confusion matrix with numpy, as scikit-learn's precision_recall_fscore_support
# (zero_division=0) counts them (tests/test_evaluate.py compares): importing sklearn.metrics costs 1.7 CPU s, paid
# by every process that trains (the fork server, a Ray worker, the command line); and it took 22 ms for an epoch's
# 60,000 labels, numpy 0.5 ms (benchmarks/engine_speed.py).
def confusion_of(labels: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """(10, 10) counts, rows the true digit, columns the predicted one; labels outside 0-9 are left out."""
    labels, preds = np.asarray(labels, np.int64).ravel(), np.asarray(preds, np.int64).ravel()
    known = (labels >= 0) & (labels < 10) & (preds >= 0) & (preds < 10)
    return np.bincount(labels[known] * 10 + preds[known], minlength=100).reshape(10, 10)


def class_scores(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (each (10,), 0 where undefined) and support ((10,) ints) of a confusion matrix."""
    hits = np.diag(confusion).astype(np.float64)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)

    def ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        return np.divide(top, bottom, out=np.zeros(10), where=bottom > 0)

    return ratio(hits, predicted), ratio(hits, support), ratio(2 * hits, support + predicted), support


def macro_f1(labels: np.ndarray, preds: np.ndarray) -> float:
    """F1 averaged over all ten digits (a digit never seen nor predicted counts 0), as training reports it."""
    return float(class_scores(confusion_of(labels, preds))[2].mean())


@dataclass
class Evaluation:
    """Scores of one model on one labelled set; arrays are numpy, indices refer to that set."""

    probs: np.ndarray  # (N, 10)
    labels: np.ndarray  # (N,)
    preds: np.ndarray  # (N,)
    accuracy: float
    macro_f1: float
    precision: np.ndarray  # (10,) per class
    recall: np.ndarray  # (10,)
    f1: np.ndarray  # (10,)
    support: np.ndarray  # (10,)
    confusion: np.ndarray  # (10, 10): rows true digit, columns predicted
    # The digits the set holds, ascending: macro-F1 averages over these only, so a small collection with
    # no 5s is not marked down for the 5s it never had (MNIST's test set holds all ten).
    covered: np.ndarray = field(default_factory=lambda: np.arange(10))  # (K,) with K <= 10

    @property
    def mistakes(self) -> np.ndarray:
        """Indices of misclassified images."""
        return np.flatnonzero(self.preds != self.labels)

    @property
    def confidence(self) -> np.ndarray:
        """Probability given to the predicted digit, (N,)."""
        return self.probs.max(axis=1)

    def summary(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "mistakes": int(len(self.mistakes)),
            "per_class": [
                {"digit": d, "precision": float(self.precision[d]), "recall": float(self.recall[d]),
                 "f1": float(self.f1[d]), "support": int(self.support[d])}
                for d in self.covered.tolist()
            ],
            "covered": self.covered.tolist(),
            "confusion": self.confusion.tolist(),
        }


def evaluate(model: nn.Module, images: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> Evaluation:
    """Everything about a model's answers on a labelled set, from one batched pass."""
    probs = predict_probs(model, images).cpu().numpy()
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).astype(np.int64)
    preds = probs.argmax(axis=1)
    confusion = confusion_of(labels, preds)
    precision, recall, f1, support = class_scores(confusion)
    covered = np.flatnonzero(support > 0)
    return Evaluation(
        probs=probs, labels=labels, preds=preds,
        accuracy=float((preds == labels).mean()) if len(labels) else 0.0,
        macro_f1=float(f1[covered].mean()) if len(covered) else 0.0,
        precision=precision, recall=recall, f1=f1, support=support,
        confusion=confusion,
        covered=covered,
    )


@dataclass
class Reading:
    """What a model reads in one image: every preprocessing step and, unless blank, its answer."""

    steps: Steps
    probs: np.ndarray | None  # (10,), None when blank
    digit: int | None

    @property
    def blank(self) -> bool:
        return self.steps.blank


def read_digit(model: nn.Module, image: np.ndarray) -> Reading:
    """Any image of one digit (canvas RGBA, photo, scan) -> MNIST-style steps and the model's answer."""
    return read_many(model, [image])[0]


def read_many(model: nn.Module, images: list[np.ndarray]) -> list[Reading]:
    """Each image made MNIST-style, and all the non-blank ones read in one batched pass."""
    steps = [mnist_style(image) for image in images]
    inked = [i for i, s in enumerate(steps) if not s.blank]
    probs = predict_probs(model, np.stack([steps[i].output for i in inked])).cpu().numpy() if inked else []
    answers = dict(zip(inked, probs, strict=True))
    return [Reading(s, answers.get(i), int(answers[i].argmax()) if i in answers else None)
            for i, s in enumerate(steps)]


ORDERS = {
    "confidence": "most confident mistakes first",
    "true_probability": "least probability given to the true digit first",
    "index": "by index in the test set",
}


def select_mistakes(result: Evaluation, true_digit: int | None = None, predicted_digit: int | None = None,
                    order: str = "confidence") -> np.ndarray:
    """Indices of the misclassified images, filtered by true and/or predicted digit, in `order`."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got '{order}'")
    chosen = result.mistakes
    if true_digit is not None:
        chosen = chosen[result.labels[chosen] == true_digit]
    if predicted_digit is not None:
        chosen = chosen[result.preds[chosen] == predicted_digit]
    if order == "confidence":
        return chosen[np.argsort(-result.confidence[chosen], kind="stable")]
    if order == "true_probability":
        return chosen[np.argsort(result.probs[chosen, result.labels[chosen]], kind="stable")]
    return np.sort(chosen)


def disagreements(first: Evaluation, second: Evaluation) -> tuple[np.ndarray, np.ndarray]:
    """Indices the first model gets right and the second wrong, and the other way round."""
    if not np.array_equal(first.labels, second.labels):
        raise ValueError("the two evaluations are not of the same labelled set")
    right_1, right_2 = first.preds == first.labels, second.preds == second.labels
    return np.flatnonzero(right_1 & ~right_2), np.flatnonzero(right_2 & ~right_1)
