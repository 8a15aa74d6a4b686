import numpy as np
import torch
from torch import nn

from mnist_core.evaluate import evaluate, predict_probs


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
