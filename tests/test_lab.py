"""Hands inside the network (#28): the graph data, unit profiles, lab edits, before -> after figures,
knock-out, the layer arithmetic, softmax steps and coverage, each checked against numbers worked out
independently (plain numpy or sklearn), not against the engine's own path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mnist_core.net.confidence import coverage
from mnist_core.net.edits import (
    edit_from_dict,
    edit_to_dict,
    Prune,
    ScaleWeights,
    ShiftBias,
    SwitchOff,
    Temperature,
    WeightNoise,
)
from mnist_core.net.evaluate import evaluate, predict_probs
from mnist_core.net.graph import network_graph, unit_profiles
from mnist_core.net.lab import apply_edits, before_after, figures, knock_out_until_change, NEVER
from mnist_core.net.maths import Cell, cell_sources, entropy_bits, layer_maths, softmax_steps
from mnist_core.net.model import MLP, PIXEL_MEAN, PIXEL_STD
from mnist_core.net.preprocess import as_model_input
from ui.lab import edit_text
from ui.maths_view import cell_texts, pick_text, softmax_text, unit_text

from .helpers import make_digits


def random_model(hidden=(96, 12), seed: int = 0, activation: str = "relu") -> MLP:
    torch.manual_seed(seed)
    model = MLP(hidden=hidden, activation=activation).eval()
    with torch.no_grad():  # biases off zero, so that folded and stored biases differ visibly
        for layer in model.linear_layers():
            layer.bias.uniform_(-0.5, 0.5)
    return model


def numpy_forward(model: MLP, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The network's arithmetic in float64 numpy from its state dict: hidden outputs [(N, H)], logits (N, 10)."""
    x = (as_model_input(images).reshape(len(images), 784).numpy().astype(np.float64) - PIXEL_MEAN) / PIXEL_STD
    linears = model.linear_layers()
    outs = []
    for i, layer in enumerate(linears):
        x = x @ layer.weight.detach().numpy().astype(np.float64).T + layer.bias.detach().numpy()
        if i < len(linears) - 1:
            assert model.activation == "relu"
            x = np.maximum(x, 0)
            outs.append(x)
    return outs, x


def numpy_accuracy(model: MLP, images: np.ndarray, labels: np.ndarray) -> float:
    return float((numpy_forward(model, images)[1].argmax(1) == labels).mean())


# --- the network graph --------------------------------------------------------------------------

def test_graph_shows_the_64_most_active_units_and_the_strongest_edges():
    model = random_model()
    image = make_digits(1, seed=3)[0][0]
    graph = network_graph(model, image)
    hidden, logits = numpy_forward(model, image[None])
    first, second, output = graph.layers
    assert (first.size, len(first.nodes), first.hidden_count) == (96, 64, 32)
    assert len(second.nodes) == 12 and len(output.nodes) == 10
    shown = {n.unit for n in first.nodes}
    assert min(hidden[0][0][list(shown)]) >= max(np.delete(hidden[0][0], list(shown)))  # the most active ones
    for node in first.nodes:
        assert node.a == pytest.approx(hidden[0][0][node.unit], abs=1e-4)
        assert node.a == pytest.approx(max(node.z, 0.0), abs=1e-5)
    np.testing.assert_allclose([n.a for n in output.nodes], np.exp(logits[0]) / np.exp(logits[0]).sum(), atol=1e-5)
    assert graph.digit == int(logits[0].argmax())
    # Edges into hidden 2: the strongest |a x w| among the shown nodes, each with its true value and sign.
    w = model.linear_layers()[1].weight.detach().numpy()
    into_second = graph.edges[1]
    assert len(into_second) == min(150, int((hidden[0][0][list(shown)] > 0).sum()) * 12)
    for edge in into_second:
        assert edge.contribution == pytest.approx(hidden[0][0][edge.source] * w[edge.target, edge.source], abs=1e-4)
        assert edge.sign == ("push" if edge.contribution >= 0 else "hold back")
    everything = sorted((abs(hidden[0][0][s] * w[t, s]) for t in range(12) for s in shown), reverse=True)
    assert min(abs(e.contribution) for e in into_second) == pytest.approx(everything[len(into_second) - 1], abs=1e-4)
    # Into the first layer: inked pixels only (a blank pixel contributes 0 with the normalisation folded in).
    ink = as_model_input(image)[0].numpy().reshape(784)
    assert all(ink[e.source] > 0 for e in graph.edges[0]) and len(graph.edges[0]) == 150


def test_the_folded_first_layer_bias_gives_z_from_ink():
    model = random_model()
    image = make_digits(1, seed=4)[0][0]
    graph = network_graph(model, image)
    maths = layer_maths(model, image, 0)
    w = model.linear_layers()[0].weight.detach().numpy().astype(np.float64)
    b = model.linear_layers()[0].bias.detach().numpy().astype(np.float64)
    for node in graph.layers[0].nodes:
        folded_bias = b[node.unit] - PIXEL_MEAN / PIXEL_STD * w[node.unit].sum()
        assert node.bias == pytest.approx(folded_bias, abs=1e-4)
        assert node.z == pytest.approx(maths.z[node.unit], abs=1e-4)


def test_the_graph_follows_weights_changed_in_place_and_forgets_a_model_gone():
    """The layers it reads are kept per version of the weights (Draw reads them on every stroke): a training
    step or a loaded state changes the picture at once, and a model dropped takes its kept layers with it."""
    import gc

    from mnist_core.net import graph as graph_module

    model = random_model()
    image = make_digits(1, seed=6)[0][0]
    before = network_graph(model, image)
    with torch.no_grad():  # as an optimizer step does: in place
        model.linear_layers()[0].bias.add_(0.5)
        model.linear_layers()[1].weight.mul_(-1)
    after = network_graph(model, image)
    again = network_graph(copy_of(model), image)  # a fresh model with the same weights: nothing kept for it
    assert [n.bias for n in after.layers[0].nodes] == [n.bias for n in again.layers[0].nodes]
    assert [n.bias for n in after.layers[0].nodes] != [n.bias for n in before.layers[0].nodes]
    assert sorted(after.edges[1]) == sorted(again.edges[1]) != sorted(before.edges[1])
    kept = len(graph_module._HOST)
    del model
    gc.collect()
    assert len(graph_module._HOST) < kept


def copy_of(model: MLP) -> MLP:
    twin = MLP(model.hidden, model.activation, model.dropout)
    twin.load_state_dict(model.state_dict())
    return twin.eval()


def test_unit_profiles_are_per_digit_means_and_the_top_eight():
    model = random_model()
    images, labels = make_digits(300, seed=5)
    profiles = unit_profiles(model, images, labels, batch_size=64)  # several batches: running top-k and sums
    hidden, logits = numpy_forward(model, images)
    for layer, outputs in enumerate([*hidden, logits]):
        expected = np.stack([outputs[labels == d].mean(0) for d in range(10)], 1)  # (H, 10)
        np.testing.assert_allclose(profiles.means[layer], expected, atol=1e-4)
        top = np.argsort(-outputs, axis=0, kind="stable")[:8].T  # (H, 8)
        np.testing.assert_allclose(profiles.top_values[layer], np.take_along_axis(outputs.T, top, 1), atol=1e-4)
    unit = 5
    assert profiles.favourite_digits(0, unit)[0] == int(np.argmax(profiles.means[0][unit]))


# --- edits --------------------------------------------------------------------------------------

def test_edits_return_a_new_model_and_leave_the_original_untouched():
    model = random_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    edited = apply_edits(model, [ShiftBias(0, 3, 1.5), ScaleWeights(1, 2, 0.5), SwitchOff(0, 7), Temperature(2.0),
                                 WeightNoise(0.2), Prune(0.3)])
    assert edited is not model
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert not torch.equal(edited.linear_layers()[0].weight, model.linear_layers()[0].weight)


def test_a_switched_off_hidden_unit_contributes_nothing():
    model = random_model()
    images, _ = make_digits(50, seed=6)
    edited = apply_edits(model, [SwitchOff(0, 11)])
    hidden, logits = numpy_forward(edited, images)
    w_next = edited.linear_layers()[1].weight.detach().numpy()
    assert np.all(hidden[0][:, 11:12] * w_next[:, 11][None, :] == 0)  # its contribution to every unit above
    # The same as zeroing its output by hand in the original network.
    original_hidden, _ = numpy_forward(model, images)
    by_hand = original_hidden[0].copy()
    by_hand[:, 11] = 0
    second = np.maximum(by_hand @ model.linear_layers()[1].weight.detach().numpy().T
                        + model.linear_layers()[1].bias.detach().numpy(), 0)
    np.testing.assert_allclose(hidden[1], second, atol=1e-4)


def test_a_switched_off_output_is_never_chosen():
    model = random_model()
    images, _ = make_digits(200, seed=7)
    chosen = predict_probs(model, images).argmax(1).numpy()
    favourite = int(np.bincount(chosen, minlength=10).argmax())
    edited = apply_edits(model, [SwitchOff(2, favourite)])
    probs = predict_probs(edited, images).numpy()
    assert favourite not in probs.argmax(1) and probs[:, favourite].max() == 0.0
    assert edited.linear_layers()[-1].bias[favourite] == NEVER
    with pytest.raises(ValueError, match="at least one digit"):
        apply_edits(model, [SwitchOff(2, d) for d in range(10)])


def test_bias_shift_scale_temperature_noise_and_pruning_do_what_they_say():
    model = random_model()
    image = make_digits(1, seed=8)[0][0]
    base = layer_maths(model, image, 1)
    shifted = layer_maths(apply_edits(model, [ShiftBias(1, 4, 2.0)]), image, 1)
    assert shifted.z[4] == pytest.approx(base.z[4] + 2.0, abs=1e-5)
    scaled = layer_maths(apply_edits(model, [ScaleWeights(1, 4, 3.0)]), image, 1)
    assert scaled.z[4] - scaled.bias[4] == pytest.approx(3 * (base.z[4] - base.bias[4]), abs=1e-4)
    hot = layer_maths(apply_edits(model, [Temperature(4.0)]), image, 2)
    np.testing.assert_allclose(hot.z, layer_maths(model, image, 2).z / 4, atol=1e-5)
    pruned = apply_edits(model, [Prune(0.25)])
    for layer in pruned.linear_layers():
        assert (layer.weight == 0).float().mean().item() == pytest.approx(0.25, abs=1e-3)
    noisy_a, noisy_b = apply_edits(model, [WeightNoise(0.5, seed=1)]), apply_edits(model, [WeightNoise(0.5, seed=1)])
    for a, b, w in zip(noisy_a.linear_layers(), noisy_b.linear_layers(), model.linear_layers(), strict=True):
        assert torch.equal(a.weight, b.weight)  # a fixed seed: the same network every time
        assert (a.weight - w.weight).std().item() == pytest.approx(0.5 * w.weight.std().item(), rel=0.1)


def test_a_bad_edit_is_refused_in_words():
    model = random_model()
    with pytest.raises(ValueError, match="unit 96 does not exist"):
        apply_edits(model, [SwitchOff(0, 96)])
    with pytest.raises(ValueError, match="layer 3 does not exist"):
        apply_edits(model, [ShiftBias(3, 0, 1.0)])
    with pytest.raises(ValueError, match="temperature must be above 0"):
        apply_edits(model, [Temperature(0.0)])
    with pytest.raises(ValueError, match="0-100%"):
        apply_edits(model, [Prune(1.5)])


def test_edits_go_to_plain_values_and_back():
    edits = [ShiftBias(0, 3, 1.5), ScaleWeights(1, 2, 0.5), SwitchOff(2, 7), Temperature(2.0), WeightNoise(0.2, 3),
             Prune(0.3)]
    assert [edit_from_dict(edit_to_dict(e)) for e in edits] == edits
    model = random_model()  # outside a page run the words are the source language's
    assert edit_text(SwitchOff(0, 7), model) == "hidden 1 unit 7: switched off"
    assert edit_text(SwitchOff(2, 3), model) == "output unit 3: switched off"
    assert edit_text(ShiftBias(0, 3, -0.5), model) == "hidden 1 unit 3: bias -0.5"
    assert edit_text(Prune(0.3), model) == "smallest 30% of each layer's weights pruned"
    for bad in ({"kind": "Explode"}, {"kind": "Prune", "share": "lots"}, {"kind": "Prune", "amount": 1}, [1]):
        with pytest.raises(ValueError):
            edit_from_dict(bad)


# --- figures before -> after --------------------------------------------------------------------

def test_figures_match_an_independent_count():
    model = random_model()
    images, labels = make_digits(500, seed=9)
    edited = apply_edits(model, [SwitchOff(0, 0), SwitchOff(0, 1), Temperature(0.5)])
    result = before_after(model, edited, {"test": (as_model_input(images), labels)}, image=images[0])
    for network, got in ((model, result.before["test"]), (edited, result.after["test"])):
        _, logits = numpy_forward(network, images)
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        right = p.argmax(1) == labels
        assert got.count == 500
        assert got.accuracy == pytest.approx(right.mean())
        assert got.loss == pytest.approx(-np.log(p[np.arange(500), labels]).mean(), rel=1e-4)
        assert got.mean_confidence == pytest.approx(p.max(1).mean(), rel=1e-4)
        assert got.confident_errors == int((~right & (p.max(1) > 0.9)).sum())
        assert got.accuracy == pytest.approx(evaluate(network, images, labels).accuracy)
    assert result.answer_after.digit == int(numpy_forward(edited, images[:1])[1].argmax())


def test_the_default_model_edited_on_the_real_test_set(mnist):
    from mnist_core.storage.models import ModelStore

    model, meta, _ = ModelStore(builtin_dir=ModelStore().builtin_dir).load("default")
    images, labels = mnist.test_images, mnist.test_labels
    edited = apply_edits(model, [Prune(0.9)])
    got = figures(edited, as_model_input(images), labels)
    assert got.accuracy == pytest.approx(numpy_accuracy(edited, images, labels), abs=1e-4)
    assert figures(model, images, labels).accuracy == pytest.approx(meta.metrics.test_accuracy, abs=1e-4)


# --- switching off until the answer changes -----------------------------------------------------

def test_knock_out_switches_off_the_most_active_units_until_the_answer_changes():
    model = random_model(hidden=(40, 30))
    image = make_digits(1, seed=10)[0][0]
    result = knock_out_until_change(model, image)
    hidden, logits = numpy_forward(model, image[None])
    assert result.layer == 1 and result.digit_before == int(logits[0].argmax())
    activations = [s.activation for s in result.steps]
    assert activations == sorted(activations, reverse=True) and activations[0] == pytest.approx(hidden[1][0].max())
    assert result.changed and all(s.digit == result.digit_before for s in result.steps[:-1])
    # Each step agrees with the edit it stands for, applied to a real copy of the network.
    for n in (1, len(result.steps)):
        edited = apply_edits(model, result.edits[:n])
        probs = predict_probs(edited, image[None])[0].numpy()
        assert int(probs.argmax()) == result.steps[n - 1].digit
        assert probs.max() == pytest.approx(result.steps[n - 1].probability, abs=1e-5)


# --- the maths ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", [0, 1, 2])
def test_z_is_weights_times_inputs_plus_bias_cell_by_cell(layer):
    model = random_model()
    image = make_digits(1, seed=11)[0][0]
    maths = layer_maths(model, image, layer)
    hidden, logits = numpy_forward(model, image[None])
    expected_z = [None, None, logits[0]][layer]
    np.testing.assert_allclose(maths.z, maths.products.sum(1) + maths.bias, atol=1e-4)
    for unit in (0, len(maths.z) - 1):  # one sum written out term by term
        assert sum(maths.inputs[i] * maths.weights[unit, i] for i in range(len(maths.inputs))) + maths.bias[unit] \
            == pytest.approx(maths.z[unit], abs=1e-4)
    if layer < 2:
        np.testing.assert_allclose(maths.a, hidden[layer][0], atol=1e-4)
        assert maths.units_on == int((hidden[layer][0] > 0).sum())
        assert "a = relu(" in unit_text(maths, 0)
    else:
        assert unit_text(maths, 0).endswith(f"= {maths.z[0]:+.3f}")
    if layer == 2:
        np.testing.assert_allclose(maths.z, expected_z, atol=1e-4)
    if layer == 0:
        assert maths.inputs.shape == (784,) and maths.inputs.max() <= 1.0
        cells = cell_texts(maths, 0)
        x, w = maths.inputs[300], maths.weights[0, 300]
        assert len(cells) == 784
        assert cells[300] == f"pixel (10, 20): {x:.3f} x weight {w:+.3f} = {x * w:+.4f} (one of 784 terms of z[0])"


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_a_picked_z_comes_from_its_lit_products_and_its_bias_cell_by_cell(layer):
    model = random_model()
    image = make_digits(1, seed=11)[0][0]
    maths = layer_maths(model, image, layer)
    hidden, logits = numpy_forward(model, image[None])
    inputs = ([None, *hidden][layer][0] if layer else maths.inputs)  # the numpy forward's own inputs of this layer
    n_out, n_in = maths.weights.shape
    off = np.flatnonzero(inputs == 0)
    assert 0 < len(off) < n_in  # blank pixels / units off: the lit cells are fewer than all
    for unit in range(n_out):
        lit = cell_sources(maths, Cell("z", unit))
        assert lit.bias == unit and lit.zeros == len(off) and len(lit.z) == 0
        assert (lit.products[:, 0] == unit).all() and np.array_equal(lit.products, lit.weights)
        np.testing.assert_array_equal(lit.inputs, np.flatnonzero(inputs != 0))
        np.testing.assert_array_equal(lit.products[:, 1], lit.inputs)
        # z = the lit products + the bias, from the layer's own numbers and from numpy's forward pass
        products = maths.products[lit.products[:, 0], lit.products[:, 1]]
        assert products.sum() + maths.bias[lit.bias] == pytest.approx(maths.z[unit], abs=1e-4)
        weights = maths.weights[lit.weights[:, 0], lit.weights[:, 1]]
        expected = [None, None, logits[0]][layer]
        z = float((weights * inputs[lit.inputs]).sum() + maths.bias[unit])
        if expected is not None:
            assert z == pytest.approx(expected[unit], abs=1e-4)
        elif layer == 1:
            assert max(z, 0.0) == pytest.approx(hidden[1][0][unit], abs=1e-4)
    # a product comes from its input and its weight; a from its z; p from its z; weights, bias, inputs from outside
    product = cell_sources(maths, Cell("product", 3, 5))
    assert product.inputs.tolist() == [5] and product.weights.tolist() == [[3, 5]] and len(product.products) == 0
    assert cell_sources(maths, Cell("a", 4)).z.tolist() == [4]
    for kind in ("bias", "weight", "input"):
        nothing = cell_sources(maths, Cell(kind, -1 if kind == "input" else 2, 1 if kind != "bias" else -1))
        assert nothing.bias is None and not (len(nothing.inputs) or len(nothing.weights) or len(nothing.z))
    if layer == 2:
        assert cell_sources(maths, Cell("p", 7)).z.tolist() == [7]
    else:
        with pytest.raises(ValueError, match="not the output layer"):
            cell_sources(maths, Cell("p", 7))
    for bad in (Cell("z", n_out), Cell("product", 0, n_in), Cell("sum", 0)):
        with pytest.raises(ValueError):
            cell_sources(maths, bad)
    # the caption says the lit sum with the layer's own numbers
    unit = int(np.argmax(maths.z))
    text = pick_text(maths, Cell("z", unit), cell_sources(maths, Cell("z", unit)), 2)
    lit = cell_sources(maths, Cell("z", unit))
    assert text.startswith(f"z[{unit}] = {len(lit.inputs)} ")
    assert f"({maths.products[unit, lit.inputs].sum():+.3f}) + bias ({maths.bias[unit]:+.3f}) = {maths.z[unit]:+.3f}" \
        in text and f"the other {len(off)} " in text


def test_softmax_steps_add_up_and_entropy_is_in_bits():
    z = np.array([2.0, 1.0, 0.1, -1.0, 3.0, 0.0, 0.5, -2.0, 1.5, 0.2])
    steps = softmax_steps(z, 2.0)
    assert steps.shifted.max() == 0.0 and steps.p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(steps.scaled, (z - 3.0) / 2.0)
    np.testing.assert_allclose(steps.p, np.exp(z / 2) / np.exp(z / 2).sum())
    assert steps.total == pytest.approx(steps.exp.sum())
    uniform = softmax_steps(np.zeros(10))
    assert uniform.entropy == pytest.approx(math.log2(10)) and f"{uniform.entropy:.2f}" == "3.32"
    assert "3.32 = all 10 at 10%" in softmax_text(uniform) and "add up to 1.000" in softmax_text(uniform)
    assert entropy_bits(np.eye(10)[3]) == 0.0
    assert entropy_bits([0.5, 0.5]) == pytest.approx(1.0)
    assert softmax_steps(z, 100.0).entropy > steps.entropy > softmax_steps(z, 0.5).entropy
    with pytest.raises(ValueError, match="above 0"):
        softmax_steps(z, 0.0)


# --- coverage -----------------------------------------------------------------------------------

def test_coverage_counts_what_is_answered_and_right():
    probs = np.array([[0.95, 0.05] + [0] * 8, [0.6, 0.4] + [0] * 8, [0.3, 0.7] + [0] * 8,
                      [0.92, 0.08] + [0] * 8, [0.1, 0.9] + [0] * 8])
    labels = np.array([0, 1, 1, 1, 1])  # right, wrong (60%), right, wrong (92%), right
    c = coverage(probs, labels, 0.65)
    assert (c.answered, c.accuracy_answered, c.accuracy_all) == (0.8, 0.75, 0.6)
    assert c.confident_errors.tolist() == [3]
    assert c.curve_answered[0] == 1.0 and c.curve_accuracy[0] == pytest.approx(0.6)
    assert c.curve_answered[95] == 0.2 and c.curve_accuracy[95] == 1.0  # only the 0.95 digit
    assert np.isnan(c.curve_accuracy[100])
    assert coverage(probs, labels, 1.0).accuracy_answered == 0.0


def test_coverage_on_a_model_agrees_with_a_direct_count():
    model = random_model()
    images, labels = make_digits(400, seed=12)
    probs = evaluate(model, images, labels).probs
    threshold = float(np.median(probs.max(1)))  # an untrained network is never sure: half of them answered
    c = coverage(probs, labels, threshold)
    confident = probs.max(1) >= threshold
    assert 0.3 < confident.mean() < 0.7
    assert c.answered == pytest.approx(confident.mean())
    assert c.accuracy_answered == pytest.approx((probs.argmax(1) == labels)[confident].mean())
