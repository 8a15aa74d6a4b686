"""Pictures: colours of the diverging map, grids, overlays, digits as text, pictures inline in HTML."""

import base64
import io
import re

import numpy as np
from PIL import Image

from mnist_core.net.pictures import (
    block_text,
    data_uri,
    diverging,
    gallery_image,
    overlay,
    pixels_image,
    pixels_svg,
    weight_grid,
)


def test_diverging_is_white_at_zero_red_up_blue_down():
    colours = diverging(np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 5.0]), limit=2.0)
    assert colours[2].tolist() == [255, 255, 255]
    assert colours[4].tolist() == [178, 24, 43] and colours[5].tolist() == [178, 24, 43]  # clipped at the limit
    assert colours[0].tolist() == [33, 102, 172]
    assert colours[3].tolist() == [round(255 + 0.5 * (178 - 255)), round(255 + 0.5 * (24 - 255)),
                                   round(255 + 0.5 * (43 - 255))]
    assert (diverging(np.zeros(3)) == 255).all()  # nothing to show: all white, no division by zero


def test_weight_grid_lays_out_units_and_scales_each_or_all():
    weights = np.zeros((10, 28, 28), np.float32)
    weights[0, 0, 0], weights[1, 0, 0] = 1.0, 0.1
    grid = weight_grid(weights, columns=4, scale=2)
    assert grid.shape == (3 * (56 + 4) + 4, 4 * (56 + 4) + 4, 3)
    first, second = grid[4, 4], grid[4, 4 + 60]
    assert first.tolist() == second.tolist() == [178, 24, 43]  # each unit against its own largest weight
    shared = weight_grid(weights, columns=4, scale=2, per_unit=False)
    assert shared[4, 4 + 60].tolist() != [178, 24, 43]  # a tenth of the grid's largest: pale
    captioned = weight_grid(weights[:2], columns=2, labels=["a", "b"])
    assert captioned.shape[0] > weight_grid(weights[:2], columns=2).shape[0]


def test_overlay_colours_only_where_values_are():
    image = np.zeros((28, 28), np.float32)
    values = np.zeros((28, 28), np.float32)
    values[3, 4], values[5, 6] = 1.0, -0.5
    picture = overlay(image, values, scale=2)
    assert picture.shape == (56, 56, 3)
    assert picture[6, 8].tolist() == [178, 24, 43] and (picture[0, 0] == 255).all()
    assert picture[10, 12][2] > picture[10, 12][0]  # against: blue


def test_block_text_draws_two_rows_a_line():
    image = np.zeros((28, 28), np.uint8)
    image[0, 0], image[1, 1], image[2:4, 2] = 255, 255, 255
    lines = block_text(image).split("<br>")
    assert len(lines) == 14 and all(len(line) == 28 for line in lines)
    assert lines[0][:3] == "▀▄\u2007" and lines[1][2] == "█"


def test_gallery_and_pixels_pictures_have_the_expected_sizes():
    assert pixels_image(np.zeros((28, 28)), 4).shape == (112, 112, 3)
    assert gallery_image(np.zeros((12, 28, 28), np.uint8), ["x"] * 12, columns=5, scale=1).shape == (3 * 52, 5 * 36, 3)


def test_pictures_take_uint8_and_unit_range_digits_alike():
    digit = np.zeros((28, 28), np.uint8)
    digit[10:14, 5:20] = 255
    digit[3, 3] = 128
    np.testing.assert_array_equal(pixels_image(digit, 4), pixels_image(digit / 255.0, 4))
    assert pixels_image(digit, 1, grid=False)[10, 5].tolist() == [0, 0, 0]  # full ink: black
    assert block_text(digit) == block_text(digit / 255.0)


def test_gallery_captions_are_readable_and_keep_their_spaces():
    from mnist_core.net.pictures import CAPTION_SIZE

    picture = gallery_image(np.zeros((1, 28, 28), np.uint8), ["9 -> 4 99%"], columns=1)
    caption = picture[28 * 3 + 2:, :, 0] < 128  # the caption's ink, under the digit
    rows, cols = np.flatnonzero(caption.any(1)), np.flatnonzero(caption.any(0))
    assert rows.max() - rows.min() + 1 >= 10  # the old 8 px bitmap font's digits were 7 px tall
    assert cols.max() < picture.shape[1] - 1  # it fits its cell
    gaps = np.flatnonzero(np.diff(np.flatnonzero(caption.any(0))) >= CAPTION_SIZE // 5)
    assert len(gaps) >= 3  # "9", "->", "4", "99%": the spaces between them show


def decoded(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_a_data_uri_holds_the_picture_exactly():
    picture = pixels_image(np.eye(28, dtype=np.float32), 3)
    assert (decoded(data_uri(picture)) == picture).all()


def test_the_pixels_svg_is_the_small_picture_on_its_grid():
    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 13:15] = 1.0
    svg = pixels_svg(digit, 8, "what the network sees")
    small = decoded(re.search(r"href='([^']+)'", svg).group(1))
    # The browser enlarges the 28 x 28 picture itself: the same shades as pixels_image's, 8 times smaller.
    assert small.shape == (28, 28) and (small == pixels_image(digit, 8, grid=False)[::8, ::8, 0]).all()
    assert "width='224'" in svg and svg.count("H28") == 28 and svg.count("V28") == 28
