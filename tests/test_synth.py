import numpy as np
import pytest

from mnist_core import synth
from mnist_core.preprocess import CENTRE_OF_MASS
from mnist_core.synth import cached_drawn_digits, drawn_digits, redraw
from tests.helpers import make_digits


def test_redraw_makes_a_canvas_of_each_polarity():
    digit = make_digits(1)[0][0]
    rng = np.random.default_rng(0)
    assert redraw(digit, rng, polarity="canvas").shape == (280, 280, 4)
    assert redraw(digit, rng, polarity="dark_on_light").shape == (280, 280, 3)
    assert redraw(digit, rng, canvas=140, polarity="light_on_dark").shape == (140, 140)


def test_drawn_digits_are_read_back_as_mnist_made_its_digits():
    digits = make_digits(12)[0]
    drawn = drawn_digits(digits, seed=3)
    assert drawn.shape == (12, 28, 28) and drawn.dtype == np.float32
    assert float(drawn.min()) >= 0 and float(drawn.max()) <= 1
    for image in drawn:
        rows, cols = np.nonzero(image > 0.1)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21  # fitted into the 20-pixel box
        mass = np.array([(image.sum(axis=1) * np.arange(28)).sum(), (image.sum(axis=0) * np.arange(28)).sum()])
        assert np.all(np.abs(mass / image.sum() - np.array(CENTRE_OF_MASS)) <= 1.0)  # centred by mass
        # The bar of each class stays a horizontal bar (these digits are told apart by where it is).
        assert np.ptp(cols) > 2 * np.ptp(rows)
    assert np.array_equal(drawn, drawn_digits(digits, seed=3))
    assert not np.array_equal(drawn, drawn_digits(digits, seed=4))


def test_the_cache_gives_the_same_drawings_without_drawing_again(tmp_path, monkeypatch):
    digits = make_digits(5)[0]
    first = cached_drawn_digits(digits, seed=1, cache=tmp_path)
    assert len(list(tmp_path.glob("drawn-*.npy"))) == 1
    monkeypatch.setattr(synth, "drawn_digits", lambda *args: pytest.fail("drew again"))
    assert np.array_equal(cached_drawn_digits(digits, seed=1, cache=tmp_path), first)
    with pytest.raises(pytest.fail.Exception):  # another seed or other digits are other drawings
        cached_drawn_digits(digits, seed=2, cache=tmp_path)
    with pytest.raises(pytest.fail.Exception):
        cached_drawn_digits(digits[:4], seed=1, cache=tmp_path)


def test_a_broken_or_unwritable_cache_is_passed_over(tmp_path):
    digits = make_digits(4)[0]
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    expected = drawn_digits(digits, seed=0)
    assert np.array_equal(cached_drawn_digits(digits, seed=0, cache=blocked / "cache"), expected)
    cached_drawn_digits(digits, seed=0, cache=tmp_path / "c")
    (stored,) = (tmp_path / "c").glob("drawn-*.npy")
    stored.write_bytes(b"garbage")
    assert np.array_equal(cached_drawn_digits(digits, seed=0, cache=tmp_path / "c"), expected)


def test_the_drawn_digit_cache_is_made_anew_when_preprocess_reads_drawings_differently(tmp_path, monkeypatch):
    import importlib

    from mnist_core import preprocess

    digits = make_digits(3)[0]
    cached_drawn_digits(digits, 0, tmp_path)
    before = set(tmp_path.iterdir())
    monkeypatch.setattr(preprocess, "VERSION", preprocess.VERSION + 1)
    try:
        importlib.reload(synth)
        synth.cached_drawn_digits(digits, 0, tmp_path)
    finally:
        monkeypatch.undo()
        importlib.reload(synth)
    after = set(tmp_path.iterdir())
    assert before < after and len(after) == 2  # a second cache file, not the stale one
