import numpy as np
import torch
from torch import nn

from mnist_core.net.evaluate import class_scores, confusion_of, evaluate, macro_f1, predict_probs


class FixedAnswers(nn.Module):
    """Answers a set digit for each image: the digit is written in the image's first pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, images):
        digits = (images[:, 0, 0] * 255).round().long()
        return nn.functional.one_hot(digits, 10).float() * 5


def images_answering(digits):
    images = np.zeros((len(digits), 28, 28), np.uint8)
    images[:, 0, 0] = digits
    return images


def test_scores_of_known_answers():
    labels = np.array([0, 1, 2, 3, 3, 3])
    answers = np.array([0, 1, 2, 3, 5, 2])
    result = evaluate(FixedAnswers(), images_answering(answers), labels)
    assert result.accuracy == 4 / 6
    assert result.mistakes.tolist() == [4, 5]
    assert result.confusion[3].tolist() == [0, 0, 1, 1, 0, 1, 0, 0, 0, 0]
    assert result.confusion.sum() == 6
    assert result.recall[3] == 1 / 3 and result.precision[2] == 1 / 2
    assert result.support[:4].tolist() == [1, 1, 1, 3]
    np.testing.assert_allclose(result.confidence, np.exp(5) / (np.exp(5) + 9))
    summary = result.summary()
    assert summary["mistakes"] == 2 and summary["per_class"][3]["support"] == 3


def test_probabilities_come_in_batches_and_sum_to_one():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    images = torch.rand(50, 28, 28)
    probs = predict_probs(model, images, batch_size=7)
    assert probs.shape == (50, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(50))
    torch.testing.assert_close(probs, torch.softmax(model(images), 1))
    assert model.training  # left as it was found


def test_mistakes_are_filtered_and_sorted():
    from mnist_core.net.evaluate import Evaluation, select_mistakes

    labels = np.array([4, 4, 4, 9, 1])
    preds = np.array([9, 9, 4, 4, 7])
    probs = np.full((5, 10), 0.01)
    for i, (p, c) in enumerate(zip(preds, [0.6, 0.9, 0.95, 0.7, 0.8], strict=True)):
        probs[i, p] = c
    probs[0, 4], probs[1, 4], probs[3, 9], probs[4, 1] = 0.3, 0.05, 0.2, 0.1
    result = Evaluation(probs, labels, preds, 0.2, 0, *[np.zeros(10)] * 4, np.zeros((10, 10), int))
    assert select_mistakes(result).tolist() == [1, 4, 3, 0]  # by confidence in the wrong answer
    assert select_mistakes(result, order="true_probability").tolist() == [1, 4, 3, 0]
    assert select_mistakes(result, order="index").tolist() == [0, 1, 3, 4]
    assert select_mistakes(result, true_digit=4).tolist() == [1, 0]
    assert select_mistakes(result, true_digit=4, predicted_digit=9, order="index").tolist() == [0, 1]
    assert select_mistakes(result, predicted_digit=3).tolist() == []


def test_disagreements_between_two_models():
    from mnist_core.net.evaluate import disagreements

    labels = np.array([0, 1, 2, 3])
    first = evaluate(FixedAnswers(), images_answering([0, 1, 5, 5]), labels)
    second = evaluate(FixedAnswers(), images_answering([0, 7, 2, 5]), labels)
    only_first, only_second = disagreements(first, second)
    assert only_first.tolist() == [1] and only_second.tolist() == [2]


def test_a_small_set_says_which_digits_it_covers_and_averages_over_them_only():
    # Four drawings of two digits, all read right: nothing about the eight digits it never had.
    labels = np.array([3, 3, 7, 7])
    result = evaluate(FixedAnswers(), images_answering(labels), labels)
    assert result.covered.tolist() == [3, 7]
    assert result.accuracy == 1.0 and result.macro_f1 == 1.0
    assert [row["digit"] for row in result.summary()["per_class"]] == [3, 7]
    # A digit answered but absent from the set is a mistake, not a covered digit.
    wrong = evaluate(FixedAnswers(), images_answering(np.array([3, 3, 7, 5])), labels)
    assert wrong.covered.tolist() == [3, 7] and wrong.macro_f1 < 1.0


def test_a_set_holding_every_digit_covers_all_ten():
    labels = np.arange(10).repeat(2)
    result = evaluate(FixedAnswers(), images_answering(labels), labels)
    assert result.covered.tolist() == list(range(10)) and len(result.summary()["per_class"]) == 10


def test_the_scores_are_scikit_learns_on_sets_with_missing_digits_and_none_right():
    """The confusion matrix and the per-class and macro scores, counted with numpy, are scikit-learn's (the
    training path no longer imports it), digits never seen or never predicted included."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    rng = np.random.default_rng(3)
    for n, classes, right in [(1, 10, 1.0), (7, 3, 0.5), (200, 10, 0.0), (500, 6, 0.8), (60_000, 10, 0.97)]:
        labels = rng.integers(0, classes, n)
        preds = np.where(rng.random(n) < right, labels, rng.integers(0, 10, n))
        confusion = confusion_of(labels, preds)
        np.testing.assert_array_equal(confusion, confusion_matrix(labels, preds, labels=np.arange(10)))
        ours = class_scores(confusion)
        theirs = precision_recall_fscore_support(labels, preds, labels=np.arange(10), zero_division=0)
        for mine, expected in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-12)
        assert abs(macro_f1(labels, preds) - f1_score(labels, preds, average="macro", labels=np.arange(10),
                                                      zero_division=0)) < 1e-12
    assert confusion_of(np.array([3, 11, -1]), np.array([3, 3, 3])).sum() == 1  # labels outside 0-9 left out


def test_training_scores_without_importing_scikit_learn():
    """What a training process imports (the fork server's child module, the Ray worker's) leaves scikit-learn
    out: it cost each 1.7 CPU seconds to start."""
    import subprocess
    import sys

    for module in ("mnist_core.runs.child", "mnist_core.runs.body"):
        code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "[]", (module, out.stdout)
