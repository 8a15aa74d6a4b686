"""Random deformations of batches of digits on the training device: affine, elastic, stroke width."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .preprocess import BOX

# At strength 1.0 (the sliders in the app scale these): the largest rotation, scale change, shear,
# shift (in pixels), elastic displacement (in pixels) and share of a stroke-width step.
MAX_ROTATION = math.radians(15)
MAX_SCALE = 0.15
MAX_SHEAR = 0.3
MAX_SHIFT = 2.0
ELASTIC_PIXELS = 1.5
CHUNK = 8192  # images deformed at once: big enough to be fast, small enough for any memory


COARSE = 5  # the sampling grid is drawn on 5x5 control points and interpolated to 28x28


def _interpolation(device: torch.device) -> torch.Tensor:
    """(25, 784): bilinear interpolation from the 5x5 control points to the 28x28 pixel centres."""
    basis = torch.eye(COARSE * COARSE, device=device).reshape(-1, 1, COARSE, COARSE)
    return F.interpolate(basis, size=(28, 28), mode="bilinear", align_corners=True).reshape(COARSE * COARSE, 784)


def _sampling_grid(n: int, strength: float, generator: torch.Generator, device: torch.device,
                   elastic: bool, zoom: torch.Tensor | None = None) -> torch.Tensor:
    """Where each output pixel samples its input, (N, 28, 28, 2) in grid units: a random affine map
    (rotation, scale, shear, shift) plus, if elastic, smooth random displacements; `zoom` (N,) > 1
    shrinks an image by that factor first.

    Both are set on 5x5 control points (which span the pixel centres) and interpolated: exact for
    the affine part, and a smooth field for the elastic part; one small matrix product in all."""
    def uniform(*shape: int, limit: float = 1.0) -> torch.Tensor:
        return (torch.rand(*shape, generator=generator, device=device) * 2 - 1) * limit * strength

    angle, scale, shear = uniform(n, 1, limit=MAX_ROTATION), 1 + uniform(n, 1, limit=MAX_SCALE), \
        uniform(n, 1, limit=MAX_SHEAR)
    shift_x, shift_y = uniform(n, 1, limit=MAX_SHIFT * 2 / 28), uniform(n, 1, limit=MAX_SHIFT * 2 / 28)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    line = torch.linspace(-27 / 28, 27 / 28, COARSE, device=device)  # first and last pixel centres
    y, x = (t.reshape(1, -1) for t in torch.meshgrid(line, line, indexing="ij"))  # (1, 25)
    if zoom is not None:  # sampling from further out shrinks the digit
        x, y = x * zoom.view(-1, 1), y * zoom.view(-1, 1)  # (N, 25)
    coarse = torch.stack([cos * x + (shear * cos - sin) * y + shift_x,
                          sin * x + (shear * sin + cos) * y + shift_y], dim=1)  # (N, 2, 25)
    if elastic:
        coarse = coarse + uniform(n, 2, COARSE * COARSE, limit=ELASTIC_PIXELS * 2 / 28)
    fine = coarse.reshape(2 * n, -1) @ _interpolation(device)  # (2N, 784)
    return fine.reshape(n, 2, 28, 28).permute(0, 2, 3, 1)


def _neighbours(images: torch.Tensor, combine) -> torch.Tensor:
    """(N, S, S) combined (torch.maximum or torch.minimum) with its 4 neighbours, in place on a copy:
    no padded copies, a third faster than stacking shifted views."""
    out = images.clone()
    for target, source in (((slice(None), slice(None), slice(1, None)), (slice(None), slice(None), slice(None, -1))),
                           ((slice(None), slice(None), slice(None, -1)), (slice(None), slice(None), slice(1, None))),
                           ((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                           ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
        combine(out[target], images[source], out=out[target])
    return out


def dilate(images: torch.Tensor) -> torch.Tensor:
    """Grey dilation by one pixel (the pixel and its 4 neighbours) of (N, 28, 28) >= 0: strokes one pixel fatter."""
    return _neighbours(images, torch.maximum)


def erode(images: torch.Tensor) -> torch.Tensor:
    """Grey erosion by one pixel of (N, 28, 28) >= 0, with blank beyond the edge: strokes one pixel thinner."""
    out = _neighbours(images, torch.minimum)
    out[:, [0, -1]] = 0
    out[:, :, [0, -1]] = 0
    return out


FILL_IN = 3  # the stroke change that closes small loops; the warp shrinks these digits to make room


def _stroke_choice(n: int, strength: float, generator: torch.Generator, device: torch.device,
                   fill_in: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each image's stroke change (N,) (0 none, 1 thicker, 2 thinner and, if `fill_in`, FILL_IN filled
    in), its amount (N,) in [0, strength], and the zoom (N,) its warp gets: >1 shrinks a filled-in
    digit by 1 + amount pixels a side of the 20-pixel box, as the Draw page fits a fat drawing into it."""
    choice = torch.randint(0, 4 if fill_in else 3, (n,), generator=generator, device=device)
    amount = torch.rand(n, generator=generator, device=device) * min(strength, 1.0)
    zoom = torch.where(choice == FILL_IN, (BOX + 2 * (1 + amount)) / BOX, 1.0)
    return choice, amount, zoom


def _strokes(images: torch.Tensor, choice: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """Stroke changes of (N, 28, 28), changed in place and returned: thicker (up to `amount` of a
    one-pixel grey dilation), thinner (up to 0.6 of an erosion: a full one erases strokes two pixels
    wide), or filled in (`fill_in`)."""
    for kind, limit in ((1, 1.0), (2, 0.6)):
        index = torch.nonzero(choice == kind).squeeze(1)
        chosen = images[index]
        changed = dilate(chosen) if kind == 1 else erode(chosen)
        images[index] = chosen + limit * amount[index].view(-1, 1, 1) * (changed - chosen)
    index = torch.nonzero(choice == FILL_IN).squeeze(1)
    images[index] = fill_in(images[index])
    return images


def fill_in(images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) as drawn with a fat pen: closed (two pixels out, one back), so strokes grow a pixel
    all round and gaps and small loops fill."""
    return erode(dilate(dilate(images)))


@torch.no_grad()
def augment(images: torch.Tensor, strength: float, generator: torch.Generator, elastic: bool = True,
            fill_in: bool = False, out: torch.Tensor | None = None) -> torch.Tensor:
    """Deformed copies of images (N, 28, 28) in [0, 1]: warped (affine, elastic), then stroke width
    changed; strength 0 returns them unchanged. `out`, a tensor like `images` (not `images` itself),
    receives the copies: a trainer passes the same one every epoch, as a fresh 188 MB tensor costs
    0.15-0.3 s of page faults on CPU."""
    if strength <= 0 or len(images) == 0:
        return images
    if out is None:
        out = torch.empty_like(images)
    elif out.shape != images.shape or out.data_ptr() == images.data_ptr():
        raise ValueError("out must be a separate tensor of the images' shape")
    for start in range(0, len(images), CHUNK):
        batch = images[start:start + CHUNK].unsqueeze(1)  # (B, 1, 28, 28)
        n = batch.shape[0]
        # With fill-in the stroke changes are drawn first, as the warp shrinks the filled-in digits;
        # without it, the earlier order, so runs without fill-in draw the same numbers as before it existed.
        if fill_in:
            choice, amount, zoom = _stroke_choice(n, strength, generator, batch.device, True)
            grid = _sampling_grid(n, strength, generator, batch.device, elastic, zoom)
        else:
            grid = _sampling_grid(n, strength, generator, batch.device, elastic)
            choice, amount, _ = _stroke_choice(n, strength, generator, batch.device, False)
        warped = F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        out[start:start + n] = _strokes(warped.squeeze(1), choice, amount).clamp_(0, 1)
    return out
