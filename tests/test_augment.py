import numpy as np
import pytest
import torch

from mnist_core.augment import augment


def bar_images(n: int = 64) -> torch.Tensor:
    images = torch.zeros(n, 28, 28)
    images[:, 8:20, 13:16] = 1.0  # a vertical bar in the middle, 3 pixels wide like an MNIST stroke
    return images


def test_strength_zero_changes_nothing():
    images = bar_images()
    assert augment(images, 0.0, torch.Generator().manual_seed(0)) is images


def test_deformations_keep_shape_range_and_most_ink_and_differ_per_image():
    images = bar_images()
    out = augment(images, 1.0, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    ink = out.sum(dim=(1, 2)) / images.sum(dim=(1, 2))
    assert bool(((ink > 0.4) & (ink < 2.5)).all())  # thinner or thicker, never gone or smeared away
    assert not torch.equal(out[0], out[1])
    assert float((out - images).abs().mean()) > 0.01
    assert torch.equal(images, bar_images())  # the input is left as it was


def test_same_generator_seed_same_deformations():
    a = augment(bar_images(), 0.7, torch.Generator().manual_seed(3))
    b = augment(bar_images(), 0.7, torch.Generator().manual_seed(3))
    c = augment(bar_images(), 0.7, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_out_receives_the_same_deformations_and_must_be_a_separate_tensor():
    images = bar_images()
    fresh = augment(images, 0.7, torch.Generator().manual_seed(3), fill_in=True)
    out = torch.full_like(images, 7.0)
    assert augment(images, 0.7, torch.Generator().manual_seed(3), fill_in=True, out=out) is out
    assert torch.equal(out, fresh)
    with pytest.raises(ValueError, match="separate tensor"):
        augment(images, 0.7, torch.Generator(), out=images)
    with pytest.raises(ValueError, match="shape"):
        augment(images, 0.7, torch.Generator(), out=images[:1].clone())


def test_without_elastic_and_small_strength_the_centre_of_mass_stays_near():
    out = augment(bar_images(), 0.2, torch.Generator().manual_seed(0), elastic=False).numpy()
    cols = np.arange(28)
    centre = (out.sum(axis=1) * cols).sum(axis=1) / out.sum(axis=(1, 2))
    assert np.all(np.abs(centre - 14.5) < 1.5)


def test_preview_returns_the_originals_then_deformed_copies():
    from mnist_core.train import preview

    digits = (bar_images(5) * 255).to(torch.uint8).numpy()
    grid = preview(digits, 0.8, seed=1)
    assert grid.shape == (3, 5, 28, 28) and grid.dtype == np.uint8
    assert np.array_equal(grid[0], digits) and not np.array_equal(grid[1], digits)
    assert not np.array_equal(grid[1], grid[2])


def test_fill_in_closes_small_loops_and_fattens_strokes_by_a_pixel():
    from mnist_core.augment import fill_in

    y, x = np.mgrid[:28, :28]
    distance = np.hypot(y - 13.5, x - 13.5)
    ring = torch.as_tensor(((distance <= 9) & (distance >= 7.8)).astype(np.float32))  # a 0 with a 2-pixel band
    small = torch.as_tensor(((distance <= 4) & (distance >= 2.2)).astype(np.float32))  # a loop with a small hole
    out = fill_in(torch.stack([ring, small]))
    assert out.shape == (2, 28, 28) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert float(small[13:15, 13:15].max()) == 0 and float(out[1, 13:15, 13:15].min()) == 1  # the hole filled
    assert float(out[0, 13:15, 13:15].max()) == 0  # a big loop stays open
    rows, cols = np.nonzero(out[0].numpy() > 0.5)
    assert rows.max() - rows.min() + 1 == 20 and cols.max() - cols.min() + 1 == 20  # a pixel more each side
    assert float(out[0].sum()) > 1.3 * float(ring.sum())


def test_dilate_and_erode_use_the_four_neighbours_and_a_blank_edge():
    from mnist_core.augment import dilate, erode

    dot = torch.zeros(1, 5, 5)
    dot[0, 2, 2] = 1.0
    assert dilate(dot)[0].tolist() == [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 0, 0],
                                       [0, 0, 0, 0, 0]]
    assert torch.equal(erode(dilate(dot)), dot)
    full = torch.ones(1, 4, 4)
    assert erode(full)[0].tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


def test_the_warp_shrinks_filled_in_digits_to_make_room():
    from mnist_core.augment import _sampling_grid

    zoom = torch.tensor([1.0, 1.25])
    grid = _sampling_grid(2, 0.0, torch.Generator().manual_seed(0), torch.device("cpu"), True, zoom)
    # Strength 0: no random warp, so the grid is the identity, times the zoom (sampling further out).
    centres = (2 * torch.arange(28) + 1) / 28 - 1
    assert torch.allclose(grid[0, 0, :, 0], centres, atol=1e-5) and torch.allclose(grid[0, :, 0, 1], centres, atol=1e-5)
    assert torch.allclose(grid[1], 1.25 * grid[0], atol=1e-5)


def test_preview_shows_the_drawn_digits_between_originals_and_deformations():
    from mnist_core.synth import drawn_digits
    from mnist_core.train import preview

    digits = (bar_images(5) * 255).to(torch.uint8).numpy()
    grid = preview(digits, 0.8, seed=1, drawn=True)
    assert grid.shape == (4, 5, 28, 28)
    assert np.array_equal(grid[1], (drawn_digits(digits, 1) * 255).round().astype(np.uint8))
    only_drawn = preview(digits, 0.0, seed=1, drawn=True)
    assert only_drawn.shape == (2, 5, 28, 28) and np.array_equal(only_drawn[1], grid[1])


def test_fill_in_is_a_switch_that_fills_small_loops_in_about_a_quarter():
    from scipy import ndimage

    y, x = np.mgrid[:28, :28]
    distance = np.hypot(y - 13.5, x - 13.5)
    loop = torch.as_tensor(((distance <= 5) & (distance >= 1.6)).astype(np.float32)).expand(400, 28, 28).clone()

    def holes(images: torch.Tensor) -> np.ndarray:
        """Background regions (< 0.5) per image, the outside included: 2 while the loop is open."""
        return np.array([ndimage.label(image < 0.5)[1] for image in images.numpy()])

    plain = holes(augment(loop, 0.3, torch.Generator().manual_seed(0)))
    filled = holes(augment(loop, 0.3, torch.Generator().manual_seed(0), fill_in=True))
    assert (plain == 2).all()
    assert 0.15 < (filled == 1).mean() < 0.35
