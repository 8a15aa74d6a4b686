"""Pictures for people, as uint8 RGB arrays: enlarged digits, thumbnails, galleries in one image,
diverging colour maps of weights and saliency, digits as text for hover labels, and a picture as a PNG
data URI (inline in a page's HTML: no media file to store, hash and fetch)."""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_core.net.preprocess import as_pixels, as_uint8


def pixels_image(image: np.ndarray, scale: int = 10, grid: bool = True) -> np.ndarray:
    """A small image, uint8 or [0, 1] (ink = 1), enlarged with visible pixels, as dark ink on white, uint8 RGB."""
    grey = 255 - as_uint8(as_pixels(image))
    big = np.repeat(np.repeat(grey, scale, axis=0), scale, axis=1)
    rgb = np.stack([big] * 3, axis=-1)
    if grid and scale >= 6:
        rgb[::scale, :, :] = (200, 200, 230)
        rgb[:, ::scale, :] = (200, 200, 230)
    return rgb


def png_bytes(picture: np.ndarray) -> bytes:
    """A uint8 RGB (or grey) picture as PNG, compressed for speed: level 1 made the live weights grid (724x244)
    in 9 ms instead of 46 ms at the default level, 8% larger; these pictures are made on every stroke or redraw."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def data_uri(picture: np.ndarray) -> str:
    """A picture as a PNG `data:` URI: what an <img> in the page's HTML shows without another request to the
    server."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(picture)).decode("ascii")


def ink_uri(image: np.ndarray) -> str:
    """A small image, uint8 or [0, 1] (ink = 1), dark on white as a grey PNG data URI; the last few made are
    kept (one reading shows its 28 x 28 input twice: what the network sees, and the lit-up network's input)."""
    grey = 255 - as_uint8(as_pixels(image))
    return _grey_uri(grey.tobytes(), grey.shape)


@functools.lru_cache(maxsize=8)
def _grey_uri(pixels: bytes, shape: tuple[int, ...]) -> str:
    return data_uri(np.frombuffer(pixels, np.uint8).reshape(shape))


def pixels_svg(image: np.ndarray, scale: int = 10, label: str = "") -> str:
    """pixels_image's picture (visible pixels on a grid) as SVG for an HTML block: the small image itself as
    a PNG that the browser enlarges, the grid as lines; a few hundred bytes to make and send, not an enlarged
    picture's kilobytes."""
    h, w = np.shape(image)
    offset = 0.5 / scale  # pixels_image draws each line on the first row (column) of its cell
    grid = "".join(f"M0 {k + offset:g}H{w}" for k in range(h)) + "".join(f"M{k + offset:g} 0V{h}" for k in range(w))
    return (f"<svg viewBox='0 0 {w} {h}' width='{w * scale}' style='max-width:100%;height:auto;display:block;"
            f"margin:auto' xmlns='http://www.w3.org/2000/svg' role='img' aria-label='{label}'>"
            f"<image href='{ink_uri(image)}' width='{w}' height='{h}' style='image-rendering:pixelated'/>"
            f"<path d='{grid}' stroke='rgb(200,200,230)' stroke-width='1' vector-effect='non-scaling-stroke'/></svg>")


def thumbnail(image: np.ndarray, size: int = 112, rgb: bool = True) -> np.ndarray:
    """Any [0, 1] image (ink = 1) shown in a size x size square, aspect kept, as dark ink on white: uint8 RGB,
    or grey (size, size) without `rgb`."""
    h, w = image.shape
    if h == 0 or w == 0:
        return np.full((size, size, 3) if rgb else (size, size), 255, np.uint8)
    scale = size / max(h, w)
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    shrunk = np.asarray(Image.fromarray(np.asarray(image, np.float32), mode="F").resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), resample))
    square = np.zeros((size, size), np.float32)
    top, left = (size - shrunk.shape[0]) // 2, (size - shrunk.shape[1]) // 2
    square[top:top + shrunk.shape[0], left:left + shrunk.shape[1]] = shrunk
    return pixels_image(square, 1, grid=False) if rgb else 255 - as_uint8(as_pixels(square))


CAPTION_SIZE = 14  # px: readable under a thumbnail, and "9 -> 4 99%" still fits its 92 px width


def gallery_image(images: np.ndarray, captions: list[str], columns: int = 10, scale: int = 3) -> np.ndarray:
    """Digits (N, 28, 28) uint8 in one picture, a caption under each: one image for the browser to
    fetch instead of N. Returns uint8 RGB."""
    # Captions in a 14 px outline font, not PIL's 8 px bitmap one: "9 -> 4 99%" read "9->499%" there.
    font = ImageFont.load_default(size=CAPTION_SIZE)
    cell_w, cell_h = 28 * scale + 8, 28 * scale + CAPTION_SIZE + 10
    rows = max(1, -(-len(images) // columns))
    canvas = Image.new("RGB", (columns * cell_w, rows * cell_h), "white")
    pen = ImageDraw.Draw(canvas)
    for i, (image, caption) in enumerate(zip(images, captions, strict=True)):
        x, y = (i % columns) * cell_w + 4, (i // columns) * cell_h + 2
        digit = Image.fromarray(255 - np.asarray(image, np.uint8)).resize((28 * scale, 28 * scale), Image.NEAREST)
        canvas.paste(digit, (x, y))
        # A French "99 %" holds a no-break space, which the font draws as a box: a plain one instead.
        caption = caption.replace("\u202f", " ").replace("\xa0", " ")
        pen.text((x, y + 28 * scale + 3), caption, fill=(20, 20, 20), font=font)
    return np.asarray(canvas)


# A diverging map: blue for negative, white for zero, red for positive (ColorBrewer RdBu ends).
NEGATIVE = np.array([33, 102, 172], np.float32)
POSITIVE = np.array([178, 24, 43], np.float32)
WHITE = np.array([255, 255, 255], np.float32)


def diverging(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """Signed values (...) as colours (..., 3) uint8: zero white, +limit full red, -limit full blue
    (limit: the largest |value| unless given)."""
    values = np.asarray(values, np.float32)
    limit = float(np.abs(values).max()) if limit is None else float(limit)
    share = np.clip(values / limit, -1, 1)[..., None] if limit > 0 else np.zeros((*values.shape, 1), np.float32)
    colour = np.where(share >= 0, WHITE + share * (POSITIVE - WHITE), WHITE - share * (NEGATIVE - WHITE))
    return colour.round().astype(np.uint8)


def weight_grid(weights: np.ndarray, columns: int = 8, scale: int = 3, per_unit: bool = True,
                labels: list[str] | None = None) -> np.ndarray:
    """Weight images (H, 28, 28) in a grid, each on the diverging map: scaled to its own largest
    weight (per_unit) or all to the grid's largest. A caption under each if labels are given."""
    count = len(weights)
    rows = max(1, -(-count // columns))
    side, gap = 28 * scale, 4
    caption = 14 if labels else 0
    canvas = Image.new("RGB", (columns * (side + gap) + gap, rows * (side + gap + caption) + gap), (250, 250, 250))
    pen = ImageDraw.Draw(canvas) if labels else None
    overall = float(np.abs(weights).max()) if count else 1.0
    for i, unit in enumerate(weights):
        colours = diverging(unit, None if per_unit else overall)
        tile = Image.fromarray(colours).resize((side, side), Image.NEAREST)
        x, y = gap + (i % columns) * (side + gap), gap + (i // columns) * (side + gap + caption)
        canvas.paste(tile, (x, y))
        if pen is not None:
            pen.text((x, y + side + 1), labels[i], fill=(40, 40, 40))
    return np.asarray(canvas)


def overlay(image: np.ndarray, values: np.ndarray, scale: int = 10) -> np.ndarray:
    """A 28x28 digit in [0, 1] as light grey ink, with signed values (28, 28) over it on the diverging
    map (red: for, blue: against), each pixel made scale x scale; uint8 RGB."""
    values = np.asarray(values, np.float32)
    # Scaled to the 98th percentile of the nonzero sizes, not the largest: one extreme pixel would
    # leave all the others too pale to see. The square root lifts the weak ones further.
    sizes = np.abs(values[values != 0])
    limit = float(np.percentile(sizes, 98)) if len(sizes) else 0.0
    colours = diverging(values, limit if limit > 0 else 1.0).astype(np.float32)
    strength = np.sqrt(np.clip(np.abs(values) / limit, 0, 1))[..., None] if limit > 0 else \
        np.zeros((*values.shape, 1), np.float32)
    ink = (255 - np.clip(image, 0, 1) * 110)[..., None].repeat(3, axis=-1)  # the digit faintly, so colour reads
    mixed = ink * (1 - strength) + colours * strength
    return np.repeat(np.repeat(mixed.round().astype(np.uint8), scale, axis=0), scale, axis=1)


BLOCKS = {(False, False): "\u2007", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def block_text(image: np.ndarray, threshold: float = 0.35) -> str:
    """A 28x28 digit ([0, 1] or uint8) as lines of block characters for a hover label: two pixel rows
    per line (upper and lower half blocks), 14 lines of 28; a monospace character is about half as
    wide as it is tall, so the digit keeps its shape."""
    ink = as_pixels(image) > threshold  # (28, 28)
    lines = ("".join(BLOCKS[(bool(top), bool(bottom))] for top, bottom in zip(ink[r], ink[r + 1], strict=True))
             for r in range(0, 28, 2))
    return "<br>".join(lines)
