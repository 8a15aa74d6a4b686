"""The real-hands misreads proxy (`net/hands.py`) makes what it says: 5s without their bar, with a
detached tick, 4s closed at the top, narrow 4s, digits filling a square, as grey scans."""

import numpy as np
import pytest

from mnist_core.net import hands
from mnist_core.net.preprocess import ink_map, mnist_style
from tests.test_styles import FIVE, OPEN_FOUR


def test_every_kind_comes_out_as_a_small_grey_dark_on_light_scan():
    rng = np.random.default_rng(0)
    for kind, digit in (("5 no bar", FIVE), ("5 tick", FIVE), ("4 closed", OPEN_FOUR), ("4 narrow", OPEN_FOUR),
                        ("square", OPEN_FOUR)):
        scanned = hands.rewrite(digit, kind, rng)
        assert scanned.dtype == np.uint8 and scanned.ndim == 2 and max(scanned.shape) <= 2 * hands.SCAN_SIDE[1]
        assert np.median(scanned) > scanned.min() + 100  # paper light, ink dark
        assert len(np.unique(scanned)) > 10  # grey, anti-aliased: many levels, not two
        assert not mnist_style(scanned).blank
    with pytest.raises(ValueError, match="kind must be one of"):
        hands.rewrite(FIVE, "7 bent", rng)


def test_a_square_scan_fills_a_square_box():
    for seed in range(4):
        ink = ink_map(hands.rewrite(OPEN_FOUR, "square", np.random.default_rng(seed)))
        rows, cols = np.nonzero(ink > 0.5)
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert abs(height - width) <= 2, (height, width)


def test_the_set_is_drawn_from_the_given_test_digits_by_kind_and_the_same_for_a_seed():
    rng = np.random.default_rng(1)
    images = np.stack([FIVE, OPEN_FOUR] * 15)
    images = np.clip(images.astype(int) + rng.integers(0, 5, images.shape), 0, 255).astype(np.uint8)
    labels = np.array([5, 4] * 15)
    one = hands.hands_set(images, labels, seed=3, per_kind=6)
    assert len(one.scans) == len(one.labels) == 30
    assert np.array_equal(one.labels, labels[one.sources])
    for kind in hands.KINDS:
        chosen = one.kinds == kind
        assert chosen.sum() == 6 and len(set(one.sources[chosen])) == 6  # no repeats within a kind
        if kind[0].isdigit():
            assert set(one.labels[chosen]) == {int(kind[0])}
    again = hands.hands_set(images, labels, seed=3, per_kind=6)
    assert np.array_equal(one.sources, again.sources)
    assert all(np.array_equal(a, b) for a, b in zip(one.scans, again.scans, strict=True))
    other = hands.hands_set(images, labels, seed=4, per_kind=6)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(one.scans, other.scans, strict=True))
