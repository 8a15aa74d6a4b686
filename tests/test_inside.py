"""Looking inside: each computation against a case worked out by hand, on models with weights set by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_core.net.augment import dilate, erode
from mnist_core.net.health import dead_share, gradient_norms
from mnist_core.net.inside import (
    activations,
    features,
    hidden_index,
    NearestDigits,
    occlusion,
    pixel_index,
    project,
    saliency,
    top_units,
    unit_grid_order,
)
from mnist_core.net.model import MLP, PIXEL_MEAN, PIXEL_STD, weight_images
from mnist_core.net.perturb import move_and_turn, perturb, robustness_curve, shift_grid, shifted, thicken

from .helpers import make_digits, wait_for

BIAS = 1e3  # keeps the one ReLU unit on for any image


def one_unit_model(w: np.ndarray, v: np.ndarray, bias: float = BIAS) -> MLP:
    """784 -> 1 (ReLU, kept on by a large bias) -> 10: logit_c = v_c * (w . (x - mean) / std + bias)."""
    model = MLP(hidden=(1,))
    first, last = model.linear_layers()
    with torch.no_grad():
        first.weight.copy_(torch.as_tensor(w, dtype=torch.float32).reshape(1, 784))
        first.bias.fill_(bias)
        last.weight.copy_(torch.as_tensor(v, dtype=torch.float32).reshape(10, 1))
        last.bias.zero_()
    return model.eval()


def row_model() -> MLP:
    """Reads the test data of conftest.make_digits by hand: unit k sums the bar rows of class k
    (rows 4+2k and 5+2k, columns 4..23) and the logit of k is ten times unit k."""
    model = MLP(hidden=(10,))
    first, last = model.linear_layers()
    with torch.no_grad():
        weights = torch.zeros(10, 28, 28)
        for k in range(10):
            weights[k, 4 + 2 * k:6 + 2 * k, 4:24] = 1.0
        first.weight.copy_(weights.reshape(10, 784) * PIXEL_STD)  # undo the model's own scaling
        first.bias.copy_(weights.reshape(10, 784).sum(1) * PIXEL_MEAN)  # and its shift
        last.weight.copy_(torch.eye(10) * 10)
        last.bias.zero_()
    return model.eval()


def test_weight_images_are_the_first_layer_weights_as_28x28():
    model = MLP(hidden=(3, 5))
    images = weight_images(model)
    assert images.shape == (3, 28, 28)
    np.testing.assert_array_equal(images[2].reshape(-1), model.linear_layers()[0].weight[2].detach().numpy())
    units = np.stack([np.zeros((28, 28)), np.ones((28, 28)), np.full((28, 28), -3.0)])
    assert list(unit_grid_order(units)) == [2, 1, 0]


def test_activations_match_the_layers_by_hand():
    model = MLP(hidden=(4, 3), activation="tanh")
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    hidden, probs = activations(model, image)
    (w1, b1), (w2, b2), (w3, b3) = ((m.weight.detach().numpy(), m.bias.detach().numpy()) for m in model.linear_layers())
    h1 = np.tanh(w1 @ ((image.reshape(-1) - PIXEL_MEAN) / PIXEL_STD) + b1)
    h2 = np.tanh(w2 @ h1 + b2)
    logits = w3 @ h2 + b3
    np.testing.assert_allclose(hidden[0], h1, atol=1e-5)
    np.testing.assert_allclose(hidden[1], h2, atol=1e-5)
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(), atol=1e-5)
    assert list(top_units(h1, 2)) == list(np.argsort(-h1)[:2])


def test_features_are_pixels_or_a_hidden_layer_for_many_images():
    model = MLP(hidden=(6, 5))
    images, _ = make_digits(3000)  # more than one evaluation batch
    pixels = features(model, images, None)
    assert pixels.shape == (3000, 784) and pixels.max() == pytest.approx(1.0)
    last = features(model, images, -1)
    assert last.shape == (3000, 5)
    np.testing.assert_allclose(last[2999], activations(model, images[2999])[0][1], atol=1e-5)
    # One image (28, 28) counts as N = 1. Not bit-equal: a batch of one takes another BLAS kernel than 2,048.
    np.testing.assert_allclose(features(model, images[5], -1), last[5:6], rtol=1e-6, atol=1e-6)
    assert features(model, images[5], None).shape == (1, 784)
    with pytest.raises(ValueError, match="2 hidden layer"):
        features(model, images[:2], 2)


def test_saliency_is_gradient_times_input_worked_out_by_hand():
    rng = np.random.default_rng(1)
    w, v = rng.normal(size=784), rng.normal(size=10)
    model = one_unit_model(w, v)
    image = rng.random((28, 28)).astype(np.float32)
    image[:5] = 0  # blank rows
    for digit in (3, 7):
        expected = v[digit] * w * image.reshape(-1) / PIXEL_STD  # d logit / d pixel = v_c w_j / std
        np.testing.assert_allclose(saliency(model, image, digit).reshape(-1), expected, rtol=1e-4, atol=1e-6)
    assert not saliency(model, image, 3)[:5].any()  # no ink, no say
    assert all(p.grad is None for p in model.parameters())  # a shared model gets nothing written into it


def test_occlusion_is_the_fall_in_probability_when_a_pixel_is_wiped():
    w, v = np.zeros(784), np.linspace(-1, 1, 10) / BIAS  # logits of a sensible size
    w[14 * 28 + 14] = 2.0  # one pixel matters
    model = one_unit_model(w, v)
    image = np.zeros((28, 28), np.float32)
    image[14, 14], image[3, 3] = 0.8, 1.0  # the second ink pixel has no weight
    result = occlusion(model, image, digit=9, patch=1)

    def prob_of_nine(x: float) -> float:
        logits = v * (2.0 * (x - PIXEL_MEAN) / PIXEL_STD + BIAS)
        return float(np.exp(logits[9]) / np.exp(logits).sum())

    assert result[14, 14] == pytest.approx(prob_of_nine(0.8) - prob_of_nine(0.0), abs=1e-5)
    assert np.count_nonzero(np.abs(result) > 1e-6) == 1  # the weightless ink and the blank change nothing
    wide = occlusion(model, image, digit=9, patch=3)
    assert np.count_nonzero(np.abs(wide) > 1e-6) == 9  # every 3x3 square that covers the pixel
    with pytest.raises(ValueError):
        occlusion(model, image, 9, patch=0)


def test_nearest_digits_by_pixels_and_by_the_last_hidden_layer():
    index = NearestDigits(np.array([[0, 0], [3, 4], [1, 0], [10, 10]], np.float32))
    indices, distances = index.query(np.array([0.9, 0.0]), k=3)
    assert list(indices) == [2, 0, 1]
    np.testing.assert_allclose(distances, [0.1, 0.9, np.hypot(2.1, 4)], rtol=1e-5)
    with pytest.raises(ValueError, match="3 values"):
        index.query(np.zeros(3))
    images, labels = make_digits(200)
    by_pixels = pixel_index(images)
    found, distances = by_pixels.query(features(None, images[17:18], None)[0], k=4)
    assert found[0] == 17 and distances[0] == pytest.approx(0, abs=1e-3)
    assert (labels[found] == labels[17]).all()  # the bar's row outweighs the background noise
    model = row_model()
    by_hidden = hidden_index(model, images)
    found, _ = by_hidden.query(features(model, images[17:18], -1)[0], k=4)
    assert (labels[found] == labels[17]).all()


def test_warp_moves_whole_pixels_exactly_and_turns_clockwise():
    image = torch.zeros(1, 28, 28)
    image[0, 10, 12] = 1.0
    moved = move_and_turn(image, torch.tensor([3.0]), torch.tensor([-2.0]), torch.zeros(1))
    assert moved[0, 8, 15] == pytest.approx(1.0) and moved.sum() == pytest.approx(1.0)
    right = torch.zeros(1, 28, 28)
    right[0, 13:15, 20:22] = 1.0  # right of the centre (between pixels 13 and 14)
    turned = move_and_turn(right, torch.zeros(1), torch.zeros(1), torch.tensor([90.0]))
    assert turned[0, 20:22, 13:15].sum() == pytest.approx(4.0, abs=1e-3)  # now below it
    np.testing.assert_allclose(shifted(image[0].numpy(), -1, 1)[11, 11], 1.0, atol=1e-6)


def test_thicken_steps_and_blends():
    images, _ = make_digits(4)
    pixels = torch.as_tensor(images, dtype=torch.float32) / 255
    torch.testing.assert_close(thicken(pixels, 1.0), dilate(pixels))
    torch.testing.assert_close(thicken(pixels, -2.0), erode(erode(pixels)))
    torch.testing.assert_close(thicken(pixels, 0.5), pixels + 0.5 * (dilate(pixels) - pixels))
    assert thicken(pixels, 2.0).sum() > thicken(pixels, 1.0).sum() > pixels.sum() > thicken(pixels, -1.0).sum()


def test_perturb_shift_moves_every_digit_by_the_level_in_one_of_four_directions():
    pixels = torch.zeros(200, 28, 28)
    pixels[:, 12:16, 12:16] = 1.0
    moved = perturb(pixels, "shift", 3, torch.Generator().manual_seed(0))
    rows, cols = torch.arange(28.0).reshape(1, 28, 1), torch.arange(28.0).reshape(1, 1, 28)
    dy = (moved * rows).sum((1, 2)) / moved.sum((1, 2)) - 13.5
    dx = (moved * cols).sum((1, 2)) / moved.sum((1, 2)) - 13.5
    torch.testing.assert_close(dx.abs() + dy.abs(), torch.full((200,), 3.0))
    directions = {(round(float(a)), round(float(b))) for a, b in zip(dx, dy, strict=True)}
    assert directions == {(3, 0), (-3, 0), (0, 3), (0, -3)}
    assert perturb(pixels, "rotation", 0, torch.Generator()) is pixels
    noisy = perturb(torch.full((50, 28, 28), 0.5), "noise", 0.1, torch.Generator().manual_seed(0))
    assert float((noisy - 0.5).std()) == pytest.approx(0.1, rel=0.05)
    with pytest.raises(ValueError, match="unknown change"):
        perturb(pixels, "blur", 1, torch.Generator())


def test_robustness_curve_of_a_row_reader_falls_with_vertical_shifts():
    images, labels = make_digits(400)
    model = row_model()
    curve = dict(robustness_curve(model, images, labels, "shift", levels=(0, 2)))
    assert curve[0] == 1.0
    # Moved 2 rows up or down, a bar sits in its neighbour's rows: wrong. Moved sideways: still right.
    # Directions are drawn at random, so about half the digits survive.
    assert 0.4 < curve[2] < 0.6
    grid = shift_grid(model, images[0], radius=2)
    assert grid.shape == (5, 5, 10)
    assert grid[2, 2].argmax() == labels[0]
    assert grid[2, 4].argmax() == labels[0]  # 2 right: same rows
    if labels[0] < 9:
        assert grid[4, 2].argmax() == labels[0] + 1  # 2 down: the next class's rows


def test_project_pca_and_tsne_separate_two_clusters_and_place_new_points():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.1, (40, 8))
    b = rng.normal(0, 0.1, (40, 8))
    b[:, 3] += 5
    data = np.vstack([a, b]).astype(np.float32)
    pca = project(data, "pca")
    first = pca.points[:, 0]
    assert (first[:40] < 0).all() == (first[40:] > 0).all() and abs(first[:40].mean() - first[40:].mean()) > 4
    new = pca.place(b[0] + 0.01)
    assert np.linalg.norm(new - pca.points[40:].mean(0)) < 1
    tsne = project(data, "tsne")
    assert tsne.points.shape == (80, 2)
    centre_a, centre_b = tsne.points[:40].mean(0), tsne.points[40:].mean(0)
    landed = tsne.place(a[0])
    assert np.linalg.norm(landed - centre_a) < np.linalg.norm(landed - centre_b)
    with pytest.raises(ValueError, match="unknown projection"):
        project(data, "umap")


def test_gradient_norms_are_each_layers_weight_gradient_size():
    model = MLP(hidden=(5,))
    assert gradient_norms(model) == [0.0, 0.0]  # before any backward
    images = torch.rand(8, 28, 28)
    model(images).square().sum().backward()
    first, last = model.linear_layers()
    assert gradient_norms(model) == pytest.approx([first.weight.grad.norm().item(), last.weight.grad.norm().item()])


def test_dead_share_counts_units_that_never_change():
    probe = torch.rand(64, 28, 28)
    relu = MLP(hidden=(4, 2))
    with torch.no_grad():
        relu.linear_layers()[0].bias[1:] = 1e4  # always on, so they follow the input (a random init may not)
        relu.linear_layers()[0].bias[0] = -1e4  # never fires
    assert dead_share(relu, probe)[0] == pytest.approx(0.25)
    tanh = MLP(hidden=(5,), activation="tanh")
    with torch.no_grad():
        tanh.linear_layers()[0].bias[:2] = 1e4  # stuck at +1
    assert dead_share(tanh, probe) == pytest.approx([0.4])
    assert dead_share(MLP(hidden=(8,), activation="tanh"), probe) == [0.0]


def test_a_wide_layer_is_indexed_in_its_principal_directions_and_still_finds_the_same_digit():
    images, labels = make_digits(600)
    torch.manual_seed(0)
    wide = MLP(hidden=(300,))
    index = hidden_index(wide, images, max_dims=16)
    assert index.vectors.shape == (600, 16) and index.nbytes == 600 * 16 * 4 + 16 * 300 * 4
    found, distances = index.query(features(wide, images[17:18], -1)[0], k=1)
    assert found[0] == 17 and distances[0] == pytest.approx(0, abs=1e-3)
    with pytest.raises(ValueError, match="reads 300"):
        index.query(np.zeros(16))
    full = hidden_index(wide, images, max_dims=300)  # at most that wide: exact, as before
    assert full.reduce is None and full.vectors.shape == (600, 300)


def test_the_inside_cache_keeps_within_its_bytes_dropping_the_least_recently_used():
    from mnist_core.net.inside import BytesLRU

    cache = BytesLRU(budget=10_000)
    made = []

    def make(key: str, size: int):
        return lambda: made.append(key) or np.zeros(size // 4, np.float32)

    cache.get("a", make("a", 4000))
    cache.get("b", make("b", 4000))
    cache.get("a", make("a", 4000))  # used again: now the newest
    cache.get("c", make("c", 4000))  # 12,000 bytes: the least recently used (b) goes
    assert made == ["a", "b", "c"] and cache.keys() == ["a", "c"] and cache.nbytes == 8000
    cache.get("huge", make("huge", 40_000))  # alone over the budget: kept, everything else dropped
    assert cache.keys() == ["huge"]
    cache.get("b", make("b", 4000))
    assert cache.keys() == ["b"] and made[-1] == "b"


def test_the_inside_cache_builds_a_key_once_when_threads_ask_together():
    import threading

    from mnist_core.net.inside import BytesLRU

    cache, made, gate = BytesLRU(budget=1 << 20), [], threading.Event()

    def make():
        made.append(1)
        gate.wait(5)
        return np.zeros(10)

    threads = [threading.Thread(target=cache.get, args=("k", make)) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: made, 5)
    gate.set()
    for t in threads:
        t.join(5)
    assert made == [1]


def test_scikit_learn_waits_for_the_first_view_that_needs_it_and_threads_asking_at_once_all_get_it():
    """The module loads without scikit-learn (an app server paid it at its start); eight threads asking for a
    map or a nearest-digit search at the same moment, in a fresh interpreter, all get theirs."""
    import subprocess
    import sys

    code = """
import sys, threading
import numpy as np
import mnist_core.net.inside as inside
print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))
data = np.random.default_rng(0).random((60, 20)).astype(np.float32)
done, errors = [], []
def view(i):
    try:
        made = inside.project(data, 'pca') if i % 2 else inside.NearestDigits(data)
        done.append(type(made).__name__)
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=view, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
print(sorted(done), errors)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    before, after = out.stdout.strip().splitlines()
    assert before == "[]"
    assert after == f"{sorted(['NearestDigits', 'Projection'] * 4)} []"
