"""Any image -> the network's input: MNIST-style 28x28 in [0, 1] (ink = 1), with every step kept.

`as_model_input` is the one door into a model, used for training data and drawings alike;
`mnist_style` makes a drawing or photo look like an MNIST digit before it goes through that door.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

BOX = 20  # MNIST digits were fitted into a 20x20 box ...
FIELD = 28  # ... then placed in a 28x28 field
# ... with their centre of mass here (pixel-index coordinates, measured on the training set).
CENTRE_OF_MASS = (14.0, 14.0)

INK_THRESHOLD = 0.2  # ink level that counts for the bounding box and the blank test
SPECK_SHARE = 0.05  # a blob with less than this share of all ink is a speck: it must not stretch the box
MIN_DIGIT_SHARE = 0.04  # a digit's box must span this share of the image's longer side ...
MIN_INK_PIXELS = 4  # ... and hold this many inked pixels, or the image is blank


MAX_FILE_BYTES = 10 * 1024 * 1024  # an uploaded or given image file may be at most this big ...
MAX_PIXELS = 25_000_000  # ... and decode to at most this many pixels (no decompression bombs)
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")


class PreprocessError(ValueError):
    """The input cannot be read as an image (wrong shape, type or file); the message says why."""


def load_image(source: str | os.PathLike | bytes, name: str | None = None) -> np.ndarray:
    """Read an image file (path or bytes) into an array (H, W) grey or (H, W, 3|4), refusing files
    that are too big, not images, or that would decode to an enormous picture."""
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        data = source if isinstance(source, bytes) else open(source, "rb").read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise PreprocessError(f"{label}: cannot be read ({e.strerror or e})") from e
    if len(data) > MAX_FILE_BYTES:
        raise PreprocessError(f"{label}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            if image.width * image.height > MAX_PIXELS:
                raise PreprocessError(f"{label}: {image.width}x{image.height} pixels is too large an image")
            image.load()
            if image.mode not in ("L", "RGB", "RGBA", "LA"):
                image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
            return np.asarray(image)
    except PreprocessError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise PreprocessError(f"{label}: not an image file this app can read (PNG, JPEG, GIF, BMP, WEBP, TIFF)") from e
    except (OSError, ValueError, SyntaxError) as e:
        raise PreprocessError(f"{label}: damaged image file ({e})") from e


def as_model_input(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (0..255) or float ([0, 1]) images, (28, 28) or (N, 28, 28) -> float32 (N, 28, 28) on device."""
    tensor = torch.as_tensor(images)
    if tensor.shape[-2:] != (FIELD, FIELD):
        raise PreprocessError(f"expected 28x28 images, got shape {tuple(tensor.shape)}")
    tensor = tensor.reshape(-1, FIELD, FIELD).to(device)
    if tensor.dtype == torch.uint8:
        return tensor.to(torch.float32).div_(255.0)
    return tensor.to(torch.float32).clamp(0.0, 1.0)  # never in place: the caller's tensor stays as it was


@dataclass
class Steps:
    """Every stage of `mnist_style`, as float32 arrays in [0, 1] with ink = 1."""

    ink: np.ndarray  # (H, W): the input as ink intensity, background removed
    cropped: np.ndarray  # (h, w): the ink's bounding box, at full resolution
    fitted: np.ndarray  # (<=20, <=20): longer side 20, aspect kept, area-averaged
    boxed: np.ndarray  # (28, 28): fitted, placed by its bounding box in the middle
    centred: np.ndarray  # (28, 28): shifted so the centre of mass sits where MNIST's does
    blank: bool

    @property
    def output(self) -> np.ndarray:
        return self.centred


def _to_float(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        return array.astype(np.float32)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise PreprocessError(f"image data of type {array.dtype} is not supported")
    values = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if values.size and values.min() < 0:
        values = values - values.min()
    if np.issubdtype(array.dtype, np.integer):
        top = 255.0 if array.dtype.itemsize == 1 or values.max(initial=0) <= 255 else float(values.max())
    else:
        top = 1.0 if values.max(initial=0) <= 1.0 else (255.0 if values.max() <= 255 else float(values.max()))
    return (values / top).astype(np.float32)


def ink_map(image: np.ndarray) -> np.ndarray:
    """Ink intensity (H, W) in [0, 1] of an image of any polarity.

    Accepts grey (H, W) or (H, W, 1), grey+alpha (H, W, 2), RGB (H, W, 3) or RGBA (H, W, 4), of any
    numeric dtype. Where alpha varies (strokes over a transparent canvas) the alpha is the ink;
    otherwise the ink is whichever polarity differs from the background (the median level).
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise PreprocessError(
            f"expected a grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image, got shape {array.shape}"
        )
    values = _to_float(array)
    if values.ndim == 3:
        colour, alpha = (values[:, :, :-1], values[:, :, -1]) if values.shape[2] in (2, 4) else (values, None)
        if alpha is not None and alpha.size and alpha.max() - alpha.min() > 0.02:
            return np.clip(alpha, 0.0, 1.0)
        luminance = colour @ np.array([0.299, 0.587, 0.114], np.float32) if colour.shape[2] == 3 else colour[:, :, 0]
    else:
        luminance = values
    if luminance.size == 0:
        return luminance.astype(np.float32)
    background = float(np.median(luminance))
    ink = luminance - background if background < 0.5 else background - luminance
    span = float(ink.max())
    if span <= 1e-6:
        return np.zeros_like(luminance, dtype=np.float32)
    # Stretch so the darkest stroke is full ink: photos of paper are rarely pure black on white.
    return np.clip(ink / span, 0.0, 1.0).astype(np.float32)


def _digit_box(ink: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of the ink, ignoring specks; None if there is too little ink to be a digit."""
    mask = ink > INK_THRESHOLD
    if mask.sum() < MIN_INK_PIXELS:
        return None
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    masses = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    keep = np.flatnonzero(masses >= SPECK_SHARE * masses.sum()) + 1
    rows, cols = np.nonzero(np.isin(labels, keep))
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
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
        return Steps(ink=ink, cropped=empty[:0, :0], fitted=empty[:0, :0], boxed=empty, centred=empty, blank=True)
    cropped = ink[box]
    fitted = fit_to_box(cropped)
    boxed = empty.copy()
    top, left = (FIELD - fitted.shape[0]) // 2, (FIELD - fitted.shape[1]) // 2
    boxed[top:top + fitted.shape[0], left:left + fitted.shape[1]] = fitted
    return Steps(ink=ink, cropped=cropped, fitted=fitted, boxed=boxed, centred=centre_by_mass(boxed), blank=False)


def plain_resize(image: np.ndarray) -> np.ndarray:
    """What a naive app feeds the network: the whole image squashed to 28x28 (for teaching)."""
    ink = ink_map(image)
    if ink.size == 0:
        return np.zeros((FIELD, FIELD), np.float32)
    return np.clip(_resize(ink, FIELD, FIELD), 0.0, 1.0)
