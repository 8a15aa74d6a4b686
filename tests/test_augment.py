import numpy as np
import pytest
import torch

from mnist_core.net.augment import augment


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
    from mnist_core.net.train import preview

    digits = (bar_images(5) * 255).to(torch.uint8).numpy()
    grid = preview(digits, 0.8, seed=1)
    assert grid.shape == (3, 5, 28, 28) and grid.dtype == np.uint8
    assert np.array_equal(grid[0], digits) and not np.array_equal(grid[1], digits)
    assert not np.array_equal(grid[1], grid[2])


def test_fill_in_closes_small_loops_and_fattens_strokes_by_a_pixel():
    from mnist_core.net.augment import fill_in

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
    from mnist_core.net.augment import dilate, erode

    dot = torch.zeros(1, 5, 5)
    dot[0, 2, 2] = 1.0
    assert dilate(dot)[0].tolist() == [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 0, 0],
                                       [0, 0, 0, 0, 0]]
    assert torch.equal(erode(dilate(dot)), dot)
    full = torch.ones(1, 4, 4)
    assert erode(full)[0].tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


def test_the_warp_shrinks_filled_in_digits_to_make_room():
    from mnist_core.net.augment import _sampling_grid

    zoom = torch.tensor([1.0, 1.25])
    grid = _sampling_grid(2, 0.0, torch.Generator().manual_seed(0), torch.device("cpu"), True, zoom)
    # Strength 0: no random warp, so the grid is the identity, times the zoom (sampling further out).
    centres = (2 * torch.arange(28) + 1) / 28 - 1
    assert torch.allclose(grid[0, 0, :, 0], centres, atol=1e-5) and torch.allclose(grid[0, :, 0, 1], centres, atol=1e-5)
    assert torch.allclose(grid[1], 1.25 * grid[0], atol=1e-5)


def test_preview_shows_the_drawn_digits_between_originals_and_deformations():
    from mnist_core.net.synth import drawn_digits
    from mnist_core.net.train import preview

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


# --- real hands: slant, aspect and box fill, low resolution ---------------------------------------

def tall_bar(n: int = 1) -> torch.Tensor:
    images = torch.zeros(n, 28, 28)
    images[:, 4:24, 12:16] = 1.0  # 20 tall, 4 wide: a 1 as MNIST writes it
    return images


def ink_columns(row: torch.Tensor) -> float:
    """Centre of the ink along one row (28,)."""
    return float((row * torch.arange(28)).sum() / row.sum())


def test_bounding_boxes_in_grid_units_and_a_blank_image_gets_the_field():
    from mnist_core.net.augment import bounding_boxes

    images = torch.cat([tall_bar(), torch.zeros(1, 28, 28)])
    boxes = bounding_boxes(images)
    assert torch.allclose(boxes[0], torch.tensor([0.0, 0.0, 4 / 28, 20 / 28]), atol=1e-6)
    assert torch.allclose(boxes[1], torch.tensor([0.0, 0.0, 1.0, 1.0]), atol=1e-6)


def test_a_slant_moves_the_top_row_right_and_the_bottom_row_left_and_keeps_the_middle():
    from mnist_core.net.augment import bounding_boxes, hands_map, warp

    images = tall_bar()
    boxes = bounding_boxes(images)
    shorter = boxes[:, 2] / boxes[:, 3]  # the aspect as it is
    slanted = warp(images, hands_map(boxes, torch.tensor([0.4]), shorter))[0]
    assert ink_columns(slanted[5]) > ink_columns(images[0, 5]) + 2.5
    assert ink_columns(slanted[22]) < ink_columns(images[0, 22]) - 2.5
    assert abs(ink_columns(slanted[14]) - ink_columns(images[0, 14])) < 0.5
    unchanged = warp(images, hands_map(boxes, torch.tensor([0.0]), shorter))
    assert torch.allclose(unchanged, images, atol=1e-5)


def test_an_aspect_change_sets_the_ratio_of_the_bounding_box_and_keeps_its_longer_side():
    from mnist_core.net.augment import bounding_boxes, hands_map, warp

    images = tall_bar(3)
    boxes = bounding_boxes(images)
    out = warp(images, hands_map(boxes, torch.zeros(3), torch.tensor([1.0, 0.5, 0.1])))
    after = bounding_boxes(out)
    ratio = after[:, 2] / after[:, 3]
    assert torch.allclose(after[:, 3], boxes[:, 3], atol=1.5 / 28)  # still 20 tall (+-1 pixel of blur)
    # Magnified 5x, a hard edge ramps over 5 pixels, of which 1-2 stay above the box's ink level.
    assert abs(float(ratio[0]) - 1.0) < 0.2  # filled its square box: as wide as tall
    assert abs(float(ratio[1]) - 0.5) < 0.12  # 10 of 20 wide
    assert float(ratio[2]) < 0.2  # squeezed thinner than it was (4 of 20)


def test_low_res_keeps_the_ink_mass_and_blurs():
    from mnist_core.net.augment import low_res

    images = bar_images(2)
    for size in (9, 14, 20):
        out = low_res(images, size)
        assert out.shape == images.shape
        assert torch.allclose(out.sum(dim=(1, 2)), images.sum(dim=(1, 2)), rtol=0.03)
        assert float(out.max()) < 1.0 and int((out > 0.05).sum()) > int((images > 0.05).sum())


def test_hands_deform_deterministically_and_fill_some_boxes_and_blur_some():
    from mnist_core.net.augment import bounding_boxes

    images = tall_bar(400)
    a = augment(images, 0.3, torch.Generator().manual_seed(5), elastic=False, hands=True)
    assert torch.equal(a, augment(images, 0.3, torch.Generator().manual_seed(5), elastic=False, hands=True))
    assert not torch.equal(a, augment(images, 0.3, torch.Generator().manual_seed(6), elastic=False, hands=True))
    plain = augment(images, 0.3, torch.Generator().manual_seed(5), elastic=False)
    boxes = bounding_boxes(a)
    ratio = boxes[:, 2] / boxes[:, 3]
    plain_boxes = bounding_boxes(plain)
    plain_ratio = plain_boxes[:, 2] / plain_boxes[:, 3]
    assert float(plain_ratio.max()) < 0.5  # without hands a 1 stays a thin 1 ...
    assert 0.15 < float((ratio > 0.7).float().mean()) < 0.5  # ... with them, about a quarter fill a square box
    from mnist_core.net.augment import _hands_choice, LOW_RES

    _, size = _hands_choice(images, torch.Generator().manual_seed(5))
    assert 0.18 < float((size >= 0).float().mean()) < 0.32  # a quarter made low-res, at every size
    assert set(size.tolist()) == {-1, *range(len(LOW_RES))}
    assert float(a.min()) >= 0 and float(a.max()) <= 1
