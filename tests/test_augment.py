import numpy as np
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


def test_without_elastic_and_small_strength_the_centre_of_mass_stays_near():
    out = augment(bar_images(), 0.2, torch.Generator().manual_seed(0), elastic=False).numpy()
    cols = np.arange(28)
    centre = (out.sum(axis=1) * cols).sum(axis=1) / out.sum(axis=(1, 2))
    assert np.all(np.abs(centre - 14.5) < 1.5)


def test_preview_returns_the_originals_then_deformed_copies():
    from mnist_core.augment import preview

    digits = (bar_images(5) * 255).to(torch.uint8).numpy()
    grid = preview(digits, 0.8, seed=1)
    assert grid.shape == (3, 5, 28, 28) and grid.dtype == np.uint8
    assert np.array_equal(grid[0], digits) and not np.array_equal(grid[1], digits)
    assert not np.array_equal(grid[1], grid[2])
