"""Image files people really have: phone photos with an EXIF orientation, 16-bit and float scans,
decompression bombs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.net.preprocess import load_image, MAX_PIXELS, mnist_style, PreprocessError

from .hostile import png_bomb


def upright_seven(width: int = 200, height: int = 300) -> np.ndarray:
    """A '7' in dark ink on white paper, taller than wide, as (height, width) floats in [0, 1] (1 = paper)."""
    paper = Image.new("L", (width, height), 255)
    ImageDraw.Draw(paper).line([(40, 60), (160, 60), (80, 250)], fill=0, width=16)
    return np.asarray(paper, np.float32) / 255


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def assert_reads_as(array: np.ndarray, expected: np.ndarray) -> None:
    """`array` (loaded) prepares into the same 28x28 digit as `expected` (floats, 1 = paper)."""
    got, want = mnist_style(array), mnist_style(expected)
    assert not got.blank
    assert np.abs(got.output - want.output).mean() < 0.02


def test_a_phone_photo_with_exif_orientation_6_is_read_upright():
    upright = upright_seven()
    # A phone stores the sensor's picture sideways and says "turn 90 degrees clockwise" in EXIF.
    stored = Image.fromarray((upright * 255).astype(np.uint8)).transpose(Image.Transpose.ROTATE_90).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    photo = encoded(stored, "JPEG", quality=95, exif=exif.tobytes())
    loaded = load_image(photo)
    assert loaded.shape[:2] == upright.shape  # 300 tall, 200 wide: as the phone showed it
    assert np.abs(loaded[..., 0] / 255 - upright).mean() < 0.02
    assert_reads_as(loaded, upright)


@pytest.mark.parametrize("mode, fmt, paper, ink", [
    ("F", "TIFF", 1.0, 0.1),  # float scan, dark ink on white
    ("F", "TIFF", 0.0, 0.8),  # float, light ink on black
    ("I;16", "TIFF", 60_000, 6_000),  # 16-bit scan
    ("I;16", "PNG", 60_000, 6_000),
    ("I;16", "PNG", 4_000, 300),  # 12 bits used of 16
    ("I", "TIFF", 1_000_000, 50_000),  # 32-bit integer
])
def test_wide_and_float_images_are_scaled_to_8_bits_with_their_ink(mode, fmt, paper, ink):
    upright = upright_seven()
    values = paper + (ink - paper) * (1 - upright)  # paper where the drawing is white, ink where black
    dtype = {"F": np.float32, "I;16": np.uint16, "I": np.int32}[mode]
    image = Image.fromarray(values.astype(dtype))
    assert image.mode == mode
    loaded = load_image(encoded(image, fmt))
    assert loaded.dtype == np.uint8 and loaded.shape == upright.shape
    assert int(loaded.max()) - int(loaded.min()) > 150  # contrast kept, not clipped to one level
    assert_reads_as(loaded, upright if paper > ink else 1 - upright)


def test_a_png_bomb_beyond_pillows_own_limit_is_told_too_large(tmp_path):
    bomb = png_bomb(20_000, 20_000)  # 400 million pixels in 0.4 MB: over Pillow's bomb limit
    assert len(bomb) < 1_000_000
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    for source in (bomb, path):
        with pytest.raises(PreprocessError, match="too large") as err:
            load_image(source)
        assert "not an image" not in str(err.value) and "\n" not in str(err.value)


def test_images_over_our_own_cap_and_huge_files_are_told_too_large():
    with pytest.raises(PreprocessError, match="too large"):
        load_image(png_bomb(6_000, 6_000))  # 36 million pixels: under Pillow's limit, over ours
    assert 6_000 * 6_000 > MAX_PIXELS
    with pytest.raises(PreprocessError, match="too large"):
        load_image(b"\x89PNG" + bytes(11 << 20))
