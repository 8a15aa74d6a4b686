"""Random deformations of batches of digits on the training device: affine, elastic, stroke width, and
what real hands and scans add (slant, aspect and box fill, low-resolution blur)."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from mnist_core.net.preprocess import BOX, INK_THRESHOLD

# At strength 1.0 (the sliders in the app scale these): the largest rotation, scale change, shear,
# shift (in pixels), elastic displacement (in pixels) and share of a stroke-width step.
MAX_ROTATION = math.radians(15)
MAX_SCALE = 0.15
MAX_SHEAR = 0.3
MAX_SHIFT = 2.0
ELASTIC_PIXELS = 1.5
CHUNK = 8192  # images deformed at once: big enough to be fast, small enough for any memory
# Real hands (`hands=True`), not scaled by strength (they are how scans and writers differ, not noise):
MAX_SLANT = 0.3  # extra shear: a top row moves up to this share of the half-field sideways
NARROWEST = 0.55  # an aspect change may squeeze a digit's shorter side to this share ...
# ... or stretch it towards the longer side, up to filling a square box as scanners did (tall thin 1s
# become wide strokes); mnist_style keeps aspect, so these reach the network as they are.
LOW_RES = (9, 11, 14, 17, 20)  # a low-res copy has this many pixels across the 28-pixel field (8x8 .. 16x16 scans)


CONTROL_POINTS = 5  # the sampling grid is drawn on 5x5 control points and interpolated to 28x28


def _interpolation(device: torch.device) -> torch.Tensor:
    """(25, 784): bilinear interpolation from the 5x5 control points to the 28x28 pixel centres."""
    k = CONTROL_POINTS
    basis = torch.eye(k * k, device=device).reshape(-1, 1, k, k)
    return F.interpolate(basis, size=(28, 28), mode="bilinear", align_corners=True).reshape(k * k, 784)


def _sampling_grid(n: int, strength: float, generator: torch.Generator, device: torch.device,
                   elastic: bool, zoom: torch.Tensor | None = None) -> torch.Tensor:
    """`_control_points` interpolated to every pixel: (N, 28, 28, 2)."""
    return _fine_grid(_control_points(n, strength, generator, device, elastic, zoom))


def _fine_grid(coarse: torch.Tensor) -> torch.Tensor:
    """Control points (N, 2, 25) -> where each of the 28x28 pixels samples, (N, 28, 28, 2)."""
    n = len(coarse)
    fine = coarse.reshape(2 * n, -1) @ _interpolation(coarse.device)  # (2N, 784)
    return fine.reshape(n, 2, 28, 28).permute(0, 2, 3, 1)


def _control_points(n: int, strength: float, generator: torch.Generator, device: torch.device,
                    elastic: bool, zoom: torch.Tensor | None = None) -> torch.Tensor:
    """Where the 5x5 control points sample the input, (N, 2, 25) in grid units: a random affine map
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
    line = torch.linspace(-27 / 28, 27 / 28, CONTROL_POINTS, device=device)  # first and last pixel centres
    y, x = (t.reshape(1, -1) for t in torch.meshgrid(line, line, indexing="ij"))  # (1, 25)
    if zoom is not None:  # sampling from further out shrinks the digit
        x, y = x * zoom.view(-1, 1), y * zoom.view(-1, 1)  # (N, 25)
    coarse = torch.stack([cos * x + (shear * cos - sin) * y + shift_x,
                          sin * x + (shear * sin + cos) * y + shift_y], dim=1)  # (N, 2, 25)
    if elastic:
        coarse = coarse + uniform(n, 2, CONTROL_POINTS * CONTROL_POINTS, limit=ELASTIC_PIXELS * 2 / 28)
    return coarse  # (N, 2, 25)


def bounding_boxes(images: torch.Tensor) -> torch.Tensor:
    """Each image's ink box (N, 4) in grid units (align_corners=False): centre x, centre y, half width,
    half height; a blank image gets the whole field."""
    size = images.shape[-1]
    edges = []
    # A column or row holds ink when its ink adds up to one pixel at the box's level (sums: 6x faster than maxima).
    for inked in (images.sum(dim=1) > INK_THRESHOLD, images.sum(dim=2) > INK_THRESHOLD):  # (N, 28): columns, rows
        first = inked.float().argmax(dim=1)
        last = size - 1 - inked.flip(1).float().argmax(dim=1)
        blank = ~inked.any(dim=1)
        first, last = torch.where(blank, 0, first), torch.where(blank, size - 1, last)
        edges.append(((first + last + 1) / size - 1, (last + 1 - first) / size))  # centre, half size
    (cx, hw), (cy, hh) = edges
    return torch.stack([cx, cy, hw, hh], dim=1).float()


def hands_map(boxes: torch.Tensor, slant: torch.Tensor, short_side: torch.Tensor) -> torch.Tensor:
    """Affine maps (N, 2, 3), output grid point -> input grid point, that slant each digit by `slant` (N,)
    (the top row moves right by slant x half-field) and give its shorter side `short_side` (N,) times its
    longer one (aspect; 1 = fills a square box), about its ink box's centre; `boxes` from `bounding_boxes`."""
    cx, cy, hw, hh = boxes.unbind(1)
    longer = torch.maximum(hw, hh)
    target = torch.clamp(short_side * longer, min=1 / 28)  # the shorter side's new half size
    wide = hw >= hh
    scale_x = torch.where(wide, 1.0, hw / target)  # input units per output unit, per axis
    scale_y = torch.where(wide, hh / target, 1.0)
    # input = centre + scale * (output - centre - shear): sheared about the centre row first
    theta = torch.zeros(len(boxes), 2, 3, device=boxes.device)
    theta[:, 0, 0], theta[:, 0, 1] = scale_x, scale_x * slant
    theta[:, 0, 2] = cx - scale_x * (cx + slant * cy)
    theta[:, 1, 1], theta[:, 1, 2] = scale_y, cy - scale_y * cy
    return theta


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) resampled through affine maps (N, 2, 3) from output to input grid points."""
    grid = F.affine_grid(theta, [len(images), 1, *images.shape[-2:]], align_corners=False)
    return F.grid_sample(images.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False).squeeze(1)


def low_res(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 28, 28) as scanned at `size` pixels across and read back: area-averaged down, bilinear up
    (as preprocess enlarges a small scan), with the ink's mass kept."""
    side = images.shape[-1]
    small = F.interpolate(images.unsqueeze(1), size=(size, size), mode="area")  # overlapping windows ...
    out = F.interpolate(small, size=(side, side), mode="bilinear", align_corners=False).squeeze(1)
    mass = images.sum(dim=(1, 2), keepdim=True)  # ... at sizes not dividing 28: their mass is set back
    return out * (mass / out.sum(dim=(1, 2), keepdim=True).clamp_min(1e-6))


HANDS_SHARE = 0.5  # of the digits get these changes; the rest keep MNIST's slant, aspect and resolution


def _hands_choice(images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the slant-and-aspect map (N, 2, 3) and a low-res size index (N,) (-1: none).
    HANDS_SHARE of the digits are slanted by up to MAX_SLANT and half of those made low-res; their
    aspect: a quarter squeezed (to NARROWEST..1 of the longer side), 45% stretched part way towards a
    square box, 30% stretched to fill it."""
    n, device = len(images), images.device
    rand = torch.rand(n, 5, generator=generator, device=device)
    chosen = rand[:, 4] < HANDS_SHARE
    boxes = bounding_boxes(images)
    shorter = torch.minimum(boxes[:, 2], boxes[:, 3]) / torch.maximum(boxes[:, 2], boxes[:, 3])
    squeezed = shorter * (NARROWEST + (1 - NARROWEST) * rand[:, 1])
    stretched = shorter + (1 - shorter) * rand[:, 1]
    kind = rand[:, 0]
    short_side = torch.where(kind < 0.25, squeezed, torch.where(kind < 0.7, stretched, torch.ones_like(shorter)))
    short_side = torch.where(chosen, short_side, shorter)
    slant = torch.where(chosen, (rand[:, 2] * 2 - 1) * MAX_SLANT, 0.0)
    size = (rand[:, 3] * 2 * len(LOW_RES)).long()  # half of the chosen get a low-res size
    size = torch.where(chosen & (size < len(LOW_RES)), size, -1)
    return hands_map(boxes, slant, short_side), size


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
            fill_in: bool = False, out: torch.Tensor | None = None, hands: bool = False) -> torch.Tensor:
    """Deformed copies of images (N, 28, 28) in [0, 1]: warped (affine, elastic; with `hands` also
    slanted and their aspect changed or stretched to fill a square box), then stroke width changed,
    then (with `hands`) a third made low-res; strength 0 returns them unchanged. `out`, a tensor like
    `images` (not `images` itself), receives the copies: a trainer passes the same one every epoch, as
    a fresh 188 MB tensor costs 0.15-0.3 s of page faults on CPU."""
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
        # The hands' numbers come last, so runs without them draw as before they existed.
        if fill_in:
            choice, amount, zoom = _stroke_choice(n, strength, generator, batch.device, True)
            coarse = _control_points(n, strength, generator, batch.device, elastic, zoom)
        else:
            coarse = _control_points(n, strength, generator, batch.device, elastic)
            choice, amount, _ = _stroke_choice(n, strength, generator, batch.device, False)
        if hands:  # composed with the warp on its control points: output -> warp -> slanted, stretched -> original
            theta, size = _hands_choice(batch.squeeze(1), generator)  # (B, 2, 3), (B,)
            coarse = theta[:, :, :2] @ coarse + theta[:, :, 2:]  # (B, 2, 25)
        warped = F.grid_sample(batch, _fine_grid(coarse), mode="bilinear", padding_mode="zeros", align_corners=False)
        changed = _strokes(warped.squeeze(1), choice, amount)
        if hands:
            for i, side in enumerate(LOW_RES):
                index = torch.nonzero(size == i).squeeze(1)
                changed[index] = low_res(changed[index], side)
        out[start:start + n] = changed.clamp_(0, 1)
    return out
