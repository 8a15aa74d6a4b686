import numpy as np
import pytest

from mnist_core.net import synth
from mnist_core.net.preprocess import CENTRE_OF_MASS
from mnist_core.net.synth import cached_drawn_digits, drawn_digits, redraw
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
    monkeypatch.setattr(synth, "drawn_digits", lambda *args, **kwargs: pytest.fail("drew again"))
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

    from mnist_core.net import preprocess

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


def test_slant_and_width_move_the_top_right_and_widen_the_digit():
    from mnist_core.net.synth import slant_and_width

    bar = np.zeros((40, 20), np.float32)
    bar[:, 8:12] = 1.0  # a vertical stroke, 4 wide

    def centre(row: np.ndarray) -> float:
        return float((row * np.arange(len(row))).sum() / row.sum())

    slanted = slant_and_width(bar, 0.5, 1.0)
    assert centre(slanted[0]) - centre(slanted[39]) > 0.5 * 39 - 1  # the top row moved right of the bottom one
    wide = slant_and_width(bar, 0.0, 2.0)
    assert wide.shape[0] == 40 and np.count_nonzero(wide[20] > 0.5) in (7, 8, 9)  # twice as wide
    assert abs(float(wide.sum()) - 2 * float(bar.sum())) < 0.1 * float(bar.sum())


def test_hands_drawings_include_small_grey_scans_and_are_read_mnist_style():
    digits = make_digits(40)[0]
    rng = np.random.default_rng(0)
    drawings = [redraw(d, rng, canvas=140, hands=True) for d in digits]
    scans = [d for d in drawings if d.ndim == 2 and d.shape[0] < 60]
    assert 5 <= len(scans) <= 25  # SCAN_SHARE of them
    for image in scans:  # grey, dark ink on light paper, paper the commonest level
        assert image.dtype == np.uint8 and image.shape[0] == image.shape[1]
        assert np.median(image) > 160 and image.min() < 100
    drawn = drawn_digits(digits, seed=2, hands=True)
    assert np.array_equal(drawn, drawn_digits(digits, seed=2, hands=True))
    assert not np.array_equal(drawn, drawn_digits(digits, seed=2))
    for image in drawn:  # read back as MNIST made its digits: inked, the longer side 20 pixels
        rows, cols = np.nonzero(image > 0.1)
        assert 18 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= 21


def test_the_cache_keeps_hands_drawings_apart(tmp_path):
    digits = make_digits(5)[0]
    plain = cached_drawn_digits(digits, seed=1, cache=tmp_path)
    hands = cached_drawn_digits(digits, seed=1, cache=tmp_path, hands=True)
    assert len(list(tmp_path.glob("drawn-*.npy"))) == 2
    assert np.array_equal(hands, drawn_digits(digits, seed=1, hands=True)) and not np.array_equal(plain, hands)



def test_with_labels_a_share_of_styled_classes_is_drawn_in_peoples_shapes_and_the_rest_as_before(tmp_path):
    from tests.test_styles import FIVE, OPEN_FOUR
    digits = np.stack(list(make_digits(20)[0]) + [OPEN_FOUR] * 40 + [FIVE] * 40)
    labels = np.array([8] * 20 + [4] * 40 + [5] * 40)  # no style for 8
    plain = drawn_digits(digits, seed=5, hands=True)
    styled = drawn_digits(digits, seed=5, hands=True, labels=labels)
    differs = np.array([not np.array_equal(a, b) for a, b in zip(plain, styled, strict=True)])
    assert not differs[:20].any()  # styles draw from their own generator: the drawings' numbers are untouched
    assert 0.2 < differs[20:60].mean() < 0.6 and 0.2 < differs[60:].mean() < 0.6  # about STYLE_SHARE
    assert np.array_equal(drawn_digits(digits, seed=5, labels=labels), drawn_digits(digits, seed=5))  # hands only
    cached = cached_drawn_digits(digits, seed=5, cache=tmp_path, hands=True, labels=labels)
    assert np.array_equal(cached, styled)
    assert np.array_equal(cached_drawn_digits(digits, seed=5, cache=tmp_path, hands=True), plain)
    assert len(list(tmp_path.glob("drawn-*.npy"))) == 2  # labels are part of the key

@pytest.mark.mnist
def test_the_shipped_default_was_trained_for_real_hands_and_reads_real_digits(mnist):
    from PIL import Image

    from mnist_core.net.evaluate import read_many
    from mnist_core.storage.models import ModelStore

    model, meta, _ = ModelStore().load("default")
    assert meta.config.hands and meta.model["hidden"] == [512, 256]
    digits, labels = mnist.test_images[:100], mnist.test_labels[:100]
    assert sum(r.digit == label for r, label in zip(read_many(model, list(digits)), labels, strict=True)) >= 98
    # The same digits as a 16x16 scanner gives them: cropped, stretched to fill the box, dark on light.
    scans = []
    for digit in digits:
        rows, cols = np.nonzero(digit > 50)
        crop = digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        small = np.asarray(Image.fromarray(crop).resize((16, 16), Image.Resampling.BOX))
        scans.append(np.pad(255 - small, 2, constant_values=255))
    read = read_many(model, scans)
    assert sum(r.digit == label for r, label in zip(read, labels, strict=True)) >= 90
