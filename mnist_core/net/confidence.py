"""Confidence with its price: answer only when the model is sure enough, and see how many digits it then
answers and how many of those it gets right (coverage and accuracy), over every threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.net.evaluate import CONFIDENT

CURVE_POINTS = 101  # thresholds 0, 0.01 ... 1


@dataclass(frozen=True)
class Coverage:
    """A model's answers on a labelled set with a confidence threshold: it answers a digit only when its
    top probability is at least `threshold`."""

    threshold: float
    count: int
    answered: float  # share of the digits answered
    accuracy_answered: float  # of those answered, the share right (0 when none answered)
    accuracy_all: float  # without the threshold
    confident_errors: np.ndarray  # indices of errors made with more than CONFIDENT probability, surest first
    curve_thresholds: np.ndarray  # (CURVE_POINTS,)
    curve_answered: np.ndarray  # (CURVE_POINTS,) share answered at each threshold
    curve_accuracy: np.ndarray  # (CURVE_POINTS,) accuracy of those answered (nan where none are)


def coverage(probs: np.ndarray, labels: np.ndarray, threshold: float) -> Coverage:
    """From probabilities (N, 10) and true labels (N,): the figures at `threshold` and the whole curve
    (sorted once; every threshold is a binary search)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"the threshold must be in 0-1, got {threshold}")
    probs, labels = np.asarray(probs), np.asarray(labels)
    n = len(labels)
    confidence = probs.max(1) if n else np.zeros(0)
    right = probs.argmax(1) == labels if n else np.zeros(0, bool)
    order = np.argsort(confidence, kind="stable")  # ascending
    sorted_conf = confidence[order]
    right_from = np.concatenate([np.cumsum(right[order][::-1])[::-1], [0]])  # right answers at index >= i

    def at(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = np.searchsorted(sorted_conf, t, side="left")  # first answered: confidence >= t
        answered = n - first
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = np.where(answered > 0, right_from[first] / np.maximum(answered, 1), np.nan)
        return answered / max(n, 1), accuracy

    thresholds = np.round(np.linspace(0.0, 1.0, CURVE_POINTS), 2)  # exactly 0.95, not 0.9500000000000001
    curve_answered, curve_accuracy = at(thresholds)
    answered, accuracy = at(np.array([threshold]))
    errors = np.flatnonzero(~right & (confidence > CONFIDENT))
    errors = errors[np.argsort(-confidence[errors], kind="stable")]
    return Coverage(float(threshold), n, float(answered[0]), float(np.nan_to_num(accuracy[0])),
                    float(right.mean()) if n else 0.0, errors, thresholds, curve_answered, curve_accuracy)
