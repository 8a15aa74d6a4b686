"""ui/caches.py: the run pictures encoded once per weights version for every browser that shows them."""

import io

import numpy as np
from PIL import Image

from mnist_core.net.pictures import weight_grid
from ui.caches import weights_png


def test_a_runs_weights_picture_is_encoded_once_per_version_and_is_the_grid():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(12, 28, 28)).astype(np.float32)
    first = weights_png(weights, columns=6, scale=2)
    assert weights_png(weights.copy(), columns=6, scale=2) is first  # another browser, the same version: no encode
    decoded = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"))
    assert np.array_equal(decoded, weight_grid(weights, columns=6, scale=2))
    moved = weights.copy()
    moved[0, 0, 0] += 1.0  # the run learned: a new picture
    assert weights_png(moved, columns=6, scale=2) != first
