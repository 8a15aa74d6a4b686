"""The real-hands misreads proxy (`net/hands.py`) makes what it says: 5s without their bar, with a
detached tick, 4s closed at the top, narrow 4s, digits filling a square, as grey scans."""

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist_core.net import hands
from mnist_core.net.preprocess import ink_map, mnist_style


def written(lines: list[list[tuple[int, int]]], arcs: tuple = ()) -> np.ndarray:
    """A uint8 (28, 28) digit, light on dark as MNIST's, drawn with a pen at 4x and averaged down:
    `lines` of (x, y) points and `arcs` (box, start, end) in 112-pixel units."""
    canvas = Image.new("L", (112, 112), 0)
    draw = ImageDraw.Draw(canvas)
    for points in lines:
        draw.line(points, fill=255, width=10, joint="curve")
    for box, start, end in arcs:
        draw.arc(box, start, end, fill=255, width=10)
    return np.asarray(canvas.resize((28, 28), Image.Resampling.BOX))


FIVE = written([[(76, 20), (40, 20), (36, 52)]], arcs=(((30, 44, 82, 96), 200, 150),))
OPEN_FOUR = written([[(36, 18), (30, 64), (82, 64)], [(70, 16), (70, 96)]])


def background_parts(ink: np.ndarray) -> int:
    """How many separate regions the paper falls into: 1 for an open shape, 2 with one closed loop."""
    return int(ndimage.label(ink <= hands.INK)[1])


def test_a_five_without_its_bar_has_no_ink_in_its_top_band_and_keeps_the_rest():
    ink = hands.enlarge(FIVE)
    top, bottom, _, _ = hands.ink_box(ink)
    cut = top + round(hands.TOP_BAND * (bottom - top + 1))
    assert ink[top:cut].max() > 0.9  # the bar was there
    out = hands.without_top_bar(ink, tick=False, rng=np.random.default_rng(0))
    assert out[:cut].max() == 0
    assert np.array_equal(out[cut:], ink[cut:])


def test_a_fives_tick_sits_above_the_belly_detached_from_it():
    ink = hands.enlarge(FIVE)
    for seed in range(5):
        out = hands.without_top_bar(ink, tick=True, rng=np.random.default_rng(seed))
        parts, count = ndimage.label(out > hands.INK)
        assert count == 2  # the tick and the rest, not touching
        tick = min(range(1, count + 1), key=lambda p: np.nonzero(parts == p)[0].min())
        tick_rows, rest_rows = np.nonzero(parts == tick)[0], np.nonzero((parts > 0) & (parts != tick))[0]
        assert tick_rows.max() < rest_rows.min()  # wholly above
        assert (parts == tick).sum() < 0.3 * (parts > 0).sum()  # short: a tick, not a bar


def test_a_closed_four_has_a_loop_at_the_top_an_open_one_has_none():
    ink = hands.enlarge(OPEN_FOUR)
    assert background_parts(ink) == 1
    closed = hands.closed_top(ink, np.random.default_rng(0))
    assert background_parts(closed) == 2
    hole = ndimage.label(closed <= hands.INK)[0]
    inside = hole != hole[0, 0]  # the paper not joined to the edge
    assert inside.any() and np.nonzero(inside & (hole > 0))[0].max() < 64  # the loop is above the crossbar


def test_a_narrow_four_is_squeezed_to_the_narrow_share_of_its_height():
    for seed in range(5):
        narrow = hands.squeezed(hands.enlarge(OPEN_FOUR), np.random.default_rng(seed))
        top, bottom, left, right = hands.ink_box(narrow)
        assert (right - left + 1) / (bottom - top + 1) <= hands.NARROW[1] + 0.05


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
        hands.rewrite(FIVE, "7 crossed", rng)


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
