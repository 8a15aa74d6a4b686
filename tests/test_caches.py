"""ui/caches.py: the run pictures encoded once per weights version for every browser that shows them."""

import io

import numpy as np
from PIL import Image

from mnist_core.net.pictures import gallery_image, weight_grid
from ui.caches import gallery_png, weights_png


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


def test_a_step_up_close_gallery_is_encoded_once_per_digits_and_captions():
    rng = np.random.default_rng(1)
    digits = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    captions = [str(d % 10) for d in range(12)]
    first = gallery_png(digits, captions)
    assert gallery_png(digits.copy(), list(captions)) is first  # redrawn a second later, or for a watcher
    decoded = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"))
    assert np.array_equal(decoded, gallery_image(digits, captions))
    assert gallery_png(digits, ["7 (is 1)", *captions[1:]]) != first  # the answers changed after a step
