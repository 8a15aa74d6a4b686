"""Any image -> the network's input: MNIST-style 28x28 in [0, 1] (ink = 1), with every step kept.

`as_model_input` is the one door into a model, used for training data and drawings alike;
`mnist_style` makes a drawing or photo look like an MNIST digit before it goes through that door.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

VERSION = 2  # of how `mnist_style` reads a drawing: a change makes synth's cached drawn digits new
BOX = 20  # MNIST digits were fitted into a 20x20 box ...
FIELD = 28  # ... then placed in a 28x28 field
# ... with their centre of mass here (pixel-index coordinates, measured on the training set).
CENTRE_OF_MASS = (14.0, 14.0)

INK_THRESHOLD = 0.2  # ink level that counts for the bounding box and the blank test
SPECK_SHARE = 0.05  # a blob with less than this share of all ink is a speck: it must not stretch the box
MIN_DIGIT_SHARE = 0.04  # a digit's box must span this share of the image's longer side ...
MIN_INK_PIXELS = 4  # ... and hold this many inked pixels, or the image is blank
# Stroke width in pixels of the 20-pixel box. MNIST's training digits: median 2.56, 5-95% 2.0-3.75
# (estimated as below). A drawing outside this band is thinned or thickened to its nearest edge:
# a brush's width has nothing to do with the digit, and an MLP mistakes fat strokes for other digits.
STROKE_BAND = (1.9, 4.0)
STROKE_WORK = 80  # stroke width is changed at this resolution (4x the box): fine enough, and fast


MAX_FILE_BYTES = 10 * 1024 * 1024  # an uploaded or given image file may be at most this big ...
MAX_PIXELS = 25_000_000  # ... and decode to at most this many pixels (no decompression bombs)
MAX_SIDE = 12_000  # ... and at most this long a side: a 1x25,000,000 picture passes MAX_PIXELS, not this
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")  # Pillow's 16-bit, 32-bit and float grey


def N_(text: str) -> str:
    """Marks an English text that a front end shows translated (`pybabel extract -k N_` finds it here; the
    page calls its own `t()` on it). The engine itself uses the text as it is, and imports no front end."""
    return text


class PreprocessError(ValueError):
    """The input cannot be read as an image (wrong shape, type or file); the message says why."""


def load_image(source: str | os.PathLike | bytes, name: str | None = None) -> np.ndarray:
    """Read an image file (path or bytes) into a uint8 array (H, W) grey or (H, W, 3|4), upright as
    its EXIF orientation says, refusing files that are too big, not images, or that would decode to
    an enormous picture (its size is checked from the header, before anything is decoded)."""
    # Imported here, not at load: preprocess stays the bottom of the training's import chain (tests/test_structure).
    from mnist_core.texts import worded

    label = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        if isinstance(source, bytes):
            data = source
        else:
            with open(source, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise worded(PreprocessError, N_("{label}: cannot be read ({reason})"), label=label,
                     reason=e.strerror or str(e)) from e
    if len(data) > MAX_FILE_BYTES:
        raise worded(PreprocessError, N_("{label}: too large: the file is larger than {megabytes} MB"), label=label,
                     megabytes=MAX_FILE_BYTES // (1024 * 1024))
    try:
        with warnings.catch_warnings():  # PIL warns of big images; MAX_PIXELS below is our own, lower bound
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        with opened as image:
            if image.width * image.height > MAX_PIXELS or max(image.size) > MAX_SIDE:
                raise worded(PreprocessError, N_("{label}: {width}x{height} pixels is too large an image"),
                             label=label, width=image.width, height=image.height)
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # phones store photos sideways and say so in EXIF
            if image.mode in WIDE_MODES:  # 16-bit and float grey: scaled by their own range, not clipped
                return as_uint8(_to_float(np.asarray(image)))
            if image.mode not in ("L", "RGB", "RGBA", "LA"):
                image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
            return np.asarray(image)
    except PreprocessError:
        raise
    except Image.DecompressionBombError as e:  # over Pillow's own limit: refused while reading the header
        raise worded(PreprocessError, N_("{label}: too large an image (more than {pixels} pixels)"), label=label,
                     pixels=f"{MAX_PIXELS:,}") from e
    except UnidentifiedImageError as e:
        raise worded(PreprocessError, N_("{label}: not an image file this app can read (PNG, JPEG, GIF, BMP, WEBP, "
                                         "TIFF)"), label=label) from e
    except (OSError, ValueError, SyntaxError) as e:
        raise worded(PreprocessError, N_("{label}: damaged image file ({reason})"), label=label, reason=str(e)) from e


def as_model_input(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (0..255) or float ([0, 1]) images, (28, 28) or (N, 28, 28) -> float32 (N, 28, 28) on device."""
    tensor = torch.as_tensor(images)
    if tensor.shape[-2:] != (FIELD, FIELD):
        raise PreprocessError(f"expected 28x28 images, got shape {tuple(tensor.shape)}")
    tensor = tensor.reshape(-1, FIELD, FIELD).to(device)
    if tensor.dtype == torch.uint8:
        return tensor.to(torch.float32).div_(255.0)
    return tensor.to(torch.float32).clamp(0.0, 1.0)  # never in place: the caller's tensor stays as it was


def as_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 (0..255) or float ([0, 1]) images -> float32 in [0, 1], ink = 1: `as_model_input` for numpy."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    return np.clip(images, 0.0, 1.0).astype(np.float32)


def as_uint8(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Images in [0, 1] (numpy or a tensor on any device) -> uint8 0..255, rounded, as numpy."""
    if isinstance(images, torch.Tensor):
        return (images.detach() * 255).round().to(torch.uint8).cpu().numpy()
    return np.round(np.asarray(images) * 255).astype(np.uint8)


@dataclass
class Steps:
    """Every stage of `mnist_style`, as float32 arrays in [0, 1] with ink = 1."""

    ink: np.ndarray  # (H, W): the input as ink intensity, background removed
    cropped: np.ndarray  # (h, w): the ink's bounding box, at full resolution
    stroked: np.ndarray  # cropped with its stroke width brought into MNIST's band (cropped if it was in)
    stroke_width: float  # of the cropped ink, in pixels of the 20-pixel box
    fitted: np.ndarray  # (<=20, <=20): longer side 20, aspect kept, area-averaged
    boxed: np.ndarray  # (28, 28): fitted, placed by its bounding box in the middle
    centred: np.ndarray  # (28, 28): shifted so the centre of mass sits where MNIST's does
    blank: bool

    @property
    def output(self) -> np.ndarray:
        return self.centred

    def caption_templates(self) -> list[tuple[str, dict[str, float | int]]]:
        """What each step did, in order (ink, cropped, stroked, fitted, boxed, centred): an English template
        with `{named}` placeholders and its numbers, for a front end to translate and write in its reader's
        language (the templates are in its catalogs: see `N_`)."""
        evened = self.stroked is not self.cropped
        width = {"width": self.stroke_width, "box": BOX}
        return [(N_("1. ink found"), {}), (N_("2. cropped to the ink"), {}),
                (N_("3. strokes evened (width {width} px of {box})") if evened
                 else N_("3. strokes kept (width {width} px of {box})"), width),
                (N_("4. fitted into {box}×{box}"), {"box": BOX}),
                (N_("5. placed in {field}×{field} by its box"), {"field": FIELD}),
                (N_("6. centred by mass: what the network sees"), {})]

    def captions(self) -> list[str]:
        """What each step did, in English words, in order: ink, cropped, stroked, fitted, boxed, centred."""
        return [text.format(**{k: f"{v:.1f}" if isinstance(v, float) else v for k, v in params.items()})
                for text, params in self.caption_templates()]


def _to_float(array: np.ndarray) -> np.ndarray:
    """Any numeric array -> float32 in [0, 1]: uint8 by 255, other ranges by their own top value."""
    if array.dtype == bool:
        return array.astype(np.float32)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise PreprocessError(f"image data of type {array.dtype} is not supported")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    values = array.astype(np.float64)
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(values).all():
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    if values.size and values.min() < 0:
        values = values - values.min()
    top = float(values.max(initial=0.0))
    if np.issubdtype(array.dtype, np.floating) and top <= 1.0:
        top = 1.0
    elif top <= 255.0:
        top = 255.0
    return (values / top).astype(np.float32)


def paper_level(luminance: np.ndarray) -> float:
    """The paper's level in a grey image (H, W) in [0, 1]: the median of its edge and corners. Not the whole
    image's median: a bold digit stretched to fill its box (as scanners crop) covers more than half of it."""
    k = max(1, min(luminance.shape) // 8)  # corner blocks k x k, counted besides the one-pixel edge
    edge = [luminance[0], luminance[-1], luminance[1:-1, 0], luminance[1:-1, -1]]
    step = max(1, k // 32)  # a sample of a big photo's corners finds their median as well as all of them
    corners = [block[::step, ::step] for block in
               (luminance[:k, :k], luminance[:k, -k:], luminance[-k:, :k], luminance[-k:, -k:])]
    return float(np.median(np.concatenate([part.ravel() for part in edge + corners])))


def ink_map(image: np.ndarray) -> np.ndarray:
    """Ink intensity (H, W) in [0, 1] of an image of any polarity.

    Accepts grey (H, W) or (H, W, 1), grey+alpha (H, W, 2), RGB (H, W, 3) or RGBA (H, W, 4), of any
    numeric dtype. Where alpha varies (strokes over a transparent canvas) the alpha is the ink;
    otherwise the ink is whichever polarity differs from the paper (`paper_level`).
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise PreprocessError(
            f"expected a grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image, got shape {array.shape}"
        )
    if array.size == 0:
        return np.zeros(array.shape[:2], np.float32)
    if array.ndim == 3:
        if array.shape[2] in (2, 4):
            alpha = _to_float(array[:, :, -1])
            if alpha.max() - alpha.min() > 0.02:  # strokes over transparency: alpha is the ink
                return alpha
            array = array[:, :, :-1]
        colour = _to_float(array)
        luminance = colour @ np.array([0.299, 0.587, 0.114], np.float32) if colour.shape[2] == 3 else colour[:, :, 0]
    else:
        luminance = _to_float(array)
    background = paper_level(luminance)
    # Light paper or dark: whichever end of the image's range the paper is nearer (a dim photo's paper is grey).
    darkest, lightest = np.percentile(luminance.ravel()[:: max(1, luminance.size // 4096)], [1, 99])
    ink = luminance - background if background - darkest < lightest - background else background - luminance
    span = float(ink.max())
    if span <= 1e-6:
        return np.zeros_like(luminance, dtype=np.float32)
    # Stretch so the darkest stroke is full ink: photos of paper are rarely pure black on white.
    return np.clip(ink / span, 0.0, 1.0).astype(np.float32)


SPECK_SCAN_WIDTH = 96  # specks are found on a copy at most this many pixels wide: fast on any image


def _digit_box(ink: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of the ink, ignoring specks; None if there is too little ink to be a digit."""
    mask = ink > INK_THRESHOLD
    if np.count_nonzero(mask) < MIN_INK_PIXELS:
        return None
    # Blobs and their ink on a coarse grid of k x k blocks (summed in two contiguous passes: fast).
    k = max(1, -(-max(ink.shape) // SPECK_SCAN_WIDTH))
    h, w = -(-ink.shape[0] // k) * k, -(-ink.shape[1] // k) * k
    padded = np.zeros((h, w), np.float32)
    padded[:ink.shape[0], :ink.shape[1]] = np.where(mask, ink, 0.0)
    # Each k x k block's ink, summed row by row and column by column as k slices: the same additions in the
    # same order as .reshape().sum() over the small axes, a third of its time (on every stroke).
    rows = sum(padded[j::k] for j in range(k))  # (h // k, w)
    block_ink = sum(rows[:, j::k] for j in range(k))  # (h // k, w // k)
    labels, count = ndimage.label(block_ink > 0, structure=np.ones((3, 3)))
    masses = np.bincount(labels.ravel(), weights=block_ink.ravel(), minlength=count + 1)[1:]
    keep = np.flatnonzero(masses >= SPECK_SHARE * masses.sum()) + 1
    if not len(keep):  # only specks, none a digit's share of the ink (a page of scattered dots): blank
        return None
    kept = np.zeros(count + 1, bool)
    kept[keep] = True
    rows, cols = np.nonzero(kept[labels])  # np.isin(labels, keep), by lookup: a sort fewer per stroke
    # Back to full resolution: the kept blocks' extent, tightened to the ink inside it.
    r0, c0 = rows.min() * k, cols.min() * k
    region = mask[r0:(rows.max() + 1) * k, c0:(cols.max() + 1) * k]
    inked_rows, inked_cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    box = (slice(r0 + inked_rows[0], r0 + inked_rows[-1] + 1), slice(c0 + inked_cols[0], c0 + inked_cols[-1] + 1))
    longest = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
    if longest < MIN_DIGIT_SHARE * max(ink.shape) or np.count_nonzero(mask[box]) < MIN_INK_PIXELS:
        return None
    return box


def _resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    # Area averaging (BOX) when shrinking, as MNIST's anti-aliasing; bilinear when enlarging.
    resample = Image.Resampling.BOX if height <= array.shape[0] else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(array.astype(np.float32), mode="F").resize((width, height), resample))


def fit_to_box(cropped: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio."""
    h, w = cropped.shape
    scale = box / max(h, w)
    if scale == 1.0:
        return cropped.astype(np.float32)
    return np.clip(_resize(cropped, max(1, round(h * scale)), max(1, round(w * scale))), 0.0, 1.0)


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels: a stroke of width W and length L has area W*L and an outline of
    about 2L, and the summed gradient magnitude of a soft image measures its outline."""
    padded = np.pad(ink.astype(np.float32), 1)  # a zero border, so ink touching the edge has an outline
    gy, gx = np.gradient(padded)
    outline = float(np.hypot(gx, gy).sum())
    return 2.0 * float(ink.sum()) / outline if outline > 1e-6 else 0.0


def disk(radius: int) -> np.ndarray:
    """A round footprint (2r+1, 2r+1) for morphology."""
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return x * x + y * y <= radius * radius


def even_strokes(cropped: np.ndarray, band: tuple[float, float] = STROKE_BAND) -> tuple[np.ndarray, float]:
    """Thin or thicken the strokes of a cropped digit so its width, at the 20-pixel box's scale, lies
    in `band`. Returns the image (unchanged if already in the band) and the width it had."""
    # Measured on the digit fitted to the box, exactly as on MNIST's digits, so the band applies.
    width = stroke_width(fit_to_box(cropped))
    return _even_strokes(cropped, width, band), width


def _even_strokes(cropped: np.ndarray, width: float, band: tuple[float, float]) -> np.ndarray:
    """`cropped` with strokes of `width` (box pixels) brought into `band`; `cropped` itself if in it."""
    if band[0] <= width <= band[1] or width == 0.0:
        return cropped
    # Work at STROKE_WORK pixels on the longer side; distances are measured in box pixels there.
    work_scale = STROKE_WORK / max(cropped.shape)
    h, w = (max(1, round(n * work_scale)) for n in cropped.shape)
    work = np.clip(_resize(cropped, h, w), 0.0, 1.0)
    per_box_pixel = STROKE_WORK / BOX
    target = band[1] if width > band[1] else band[0]
    shift = (width - target) / 2 * per_box_pixel  # >0: thin by this many work pixels on each side
    radius = min(int(round(abs(shift))), STROKE_WORK // 10)  # at most 2 box pixels each side
    if radius == 0:
        return cropped
    # Grey erosion / dilation with a disk keeps the strokes' soft edges, as MNIST's have.
    evened = (ndimage.grey_erosion if shift > 0 else ndimage.grey_dilation)(work, footprint=disk(radius))
    if evened.sum() < 0.25 * work.sum():  # never thin a digit away
        return cropped
    return evened.astype(np.float32)


def centre_by_mass(image: np.ndarray) -> np.ndarray:
    """Shift (28, 28) by whole pixels so its centre of mass lands on MNIST's, keeping all ink inside."""
    rows, cols = np.nonzero(image > 0)
    if rows.size == 0:
        return image
    com_row, com_col = ndimage.center_of_mass(image)
    # Whole-pixel shifts, as MNIST did (its centres spread +-0.29 px, a rounding's spread), clamped so
    # no ink falls off the field.
    d_row = int(np.clip(round(CENTRE_OF_MASS[0] - com_row), -rows.min(), FIELD - 1 - rows.max()))
    d_col = int(np.clip(round(CENTRE_OF_MASS[1] - com_col), -cols.min(), FIELD - 1 - cols.max()))
    shifted = np.zeros_like(image)
    shifted[rows + d_row, cols + d_col] = image[rows, cols]
    return shifted


def mnist_style(image: np.ndarray) -> Steps:
    """A drawing, photo or scan of one digit -> 28x28 as MNIST made its digits, with every step."""
    ink = ink_map(image)
    empty = np.zeros((FIELD, FIELD), np.float32)
    box = _digit_box(ink) if ink.size else None
    if box is None:
        return Steps(ink=ink, cropped=empty[:0, :0], stroked=empty[:0, :0], stroke_width=0.0, fitted=empty[:0, :0],
                     boxed=empty, centred=empty, blank=True)
    cropped = ink[box]
    fitted = fit_to_box(cropped)
    width = stroke_width(fitted)  # as even_strokes measures it, without fitting twice
    stroked = _even_strokes(cropped, width, STROKE_BAND)
    if stroked is not cropped:
        fitted = fit_to_box(stroked)
    boxed = empty.copy()
    top, left = (FIELD - fitted.shape[0]) // 2, (FIELD - fitted.shape[1]) // 2
    boxed[top:top + fitted.shape[0], left:left + fitted.shape[1]] = fitted
    return Steps(ink=ink, cropped=cropped, stroked=stroked, stroke_width=width, fitted=fitted, boxed=boxed,
                 centred=centre_by_mass(boxed), blank=False)


def plain_resize(image: np.ndarray) -> np.ndarray:
    """What a naive app feeds the network: the whole image squashed to 28x28 (for teaching)."""
    ink = ink_map(image)
    if ink.size == 0:
        return np.zeros((FIELD, FIELD), np.float32)
    return np.clip(_resize(ink, FIELD, FIELD), 0.0, 1.0)
