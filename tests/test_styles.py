"""Shapes people write (`net/styles.py`): 5s without their bar or with a detached tick, 4s closed at the
top, narrow 4s, crossed 7s, flagged 1s, and training's drawn digits written so in part (`restyled`)."""

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist_core.net import styles


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
    return int(ndimage.label(ink <= styles.INK)[1])


def test_a_five_without_its_bar_has_no_ink_in_its_top_band_and_keeps_the_rest():
    ink = styles.enlarge(FIVE)
    top, bottom, _, _ = styles.ink_box(ink)
    cut = top + round(styles.TOP_BAND * (bottom - top + 1))
    assert ink[top:cut].max() > 0.9  # the bar was there
    out = styles.without_top_bar(ink, tick=False, rng=np.random.default_rng(0))
    assert out[:cut].max() == 0
    assert np.array_equal(out[cut:], ink[cut:])


def test_a_fives_tick_sits_above_the_belly_detached_from_it():
    ink = styles.enlarge(FIVE)
    for seed in range(5):
        out = styles.without_top_bar(ink, tick=True, rng=np.random.default_rng(seed))
        parts, count = ndimage.label(out > styles.INK)
        assert count == 2  # the tick and the rest, not touching
        tick = min(range(1, count + 1), key=lambda p: np.nonzero(parts == p)[0].min())
        tick_rows, rest_rows = np.nonzero(parts == tick)[0], np.nonzero((parts > 0) & (parts != tick))[0]
        assert tick_rows.max() < rest_rows.min()  # wholly above
        assert (parts == tick).sum() < 0.3 * (parts > 0).sum()  # short: a tick, not a bar


def test_a_closed_four_has_a_loop_at_the_top_an_open_one_has_none():
    ink = styles.enlarge(OPEN_FOUR)
    assert background_parts(ink) == 1
    closed = styles.closed_top(ink, np.random.default_rng(0))
    assert background_parts(closed) == 2
    hole = ndimage.label(closed <= styles.INK)[0]
    inside = hole != hole[0, 0]  # the paper not joined to the edge
    assert inside.any() and np.nonzero(inside & (hole > 0))[0].max() < 64  # the loop is above the crossbar


def test_a_narrow_four_is_squeezed_to_the_narrow_share_of_its_height():
    for seed in range(5):
        narrow = styles.squeezed(styles.enlarge(OPEN_FOUR), np.random.default_rng(seed))
        top, bottom, left, right = styles.ink_box(narrow)
        assert (right - left + 1) / (bottom - top + 1) <= styles.NARROW[1] + 0.05


SEVEN = written([[(30, 20), (84, 20), (50, 96)]])
ONE = written([[(58, 16), (56, 96)]])


def test_a_crossed_seven_gains_ink_across_its_stem_below_the_middle_only():
    ink = styles.enlarge(SEVEN)
    top, bottom, _, _ = styles.ink_box(ink)
    for seed in range(5):
        out = styles.crossed_seven(ink, np.random.default_rng(seed))
        added = (out > styles.INK) & ~(ink > styles.INK)
        rows, cols = np.nonzero(added)
        assert rows.size > 50  # a bar, not a speck
        assert top + 0.4 * (bottom - top) < rows.mean() < top + 0.72 * (bottom - top)
        assert np.ptp(cols) > 3 * np.ptp(rows) / 2  # across: wider than tall
        assert background_parts(out) == 1  # a bar, not a loop


def test_a_flagged_one_gains_a_stroke_rising_to_its_top_from_the_left():
    ink = styles.enlarge(ONE)
    top, bottom, left, _ = styles.ink_box(ink)
    for seed in range(5):
        out = styles.flagged_one(ink, np.random.default_rng(seed))
        added = (out > styles.INK) & ~(ink > styles.INK)
        rows, cols = np.nonzero(added)
        assert rows.size > 50
        assert rows.max() < top + 0.5 * (bottom - top)  # in the top half only
        assert cols.min() < left - 5  # reaches out to the left of the stem
        assert ndimage.label(out > styles.INK)[1] == 1  # joined to the stem


def test_restyled_writes_a_share_of_a_styled_class_and_leaves_others_alone():
    rng = np.random.default_rng(0)
    fours = [styles.restyled(OPEN_FOUR, 4, rng) for _ in range(200)]
    changed = [not np.array_equal(f, OPEN_FOUR) for f in fours]
    assert abs(np.mean(changed) - styles.STYLE_SHARE) < 0.12
    assert all(f.dtype == np.uint8 and f.shape == (28, 28) for f in fours)
    closed = [f for f, c in zip(fours, changed, strict=True) if c]
    assert all(background_parts(styles.enlarge(f)) == 2 for f in closed)  # each closed at the top
    assert all(np.array_equal(styles.restyled(OPEN_FOUR, 8, rng), OPEN_FOUR) for _ in range(20))  # no style for 8
    assert np.array_equal(styles.restyled(np.zeros((28, 28), np.uint8), 4, rng, share=1.0), np.zeros((28, 28)))
    with pytest.raises(ValueError, match="no style called"):
        styles.restyle(styles.enlarge(OPEN_FOUR), "9 curly", rng)
