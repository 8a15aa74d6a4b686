import pytest
import torch

from mnist_core.net.model import ACTIVATIONS, build_model, MLP, parameter_count, PIXEL_MEAN, PIXEL_STD


def test_notebook_network_has_its_parameter_count():
    assert parameter_count(MLP((128,), "relu")) == 784 * 128 + 128 + 128 * 10 + 10


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_takes_images_or_flat_vectors(activation):
    model = MLP((32, 16), activation, dropout=0.3).eval()
    images = torch.rand(5, 28, 28)
    logits = model(images)
    assert logits.shape == (5, 10)
    torch.testing.assert_close(logits, model(images.reshape(5, 784)))


def test_small_and_large_batches_compute_the_same_function():
    # Below and above the first layer's width the normalisation is done two ways; both must agree.
    torch.manual_seed(0)
    model = MLP((16,)).eval()
    images = torch.rand(40, 28, 28)
    big = model(images)
    small = torch.cat([model(images[i:i + 8]) for i in range(0, 40, 8)])
    torch.testing.assert_close(big, small, rtol=1e-4, atol=1e-4)
    first = model.layers[0]
    by_hand = model.layers[1:](torch.nn.functional.linear((images.reshape(40, 784) - PIXEL_MEAN) / PIXEL_STD,
                                                           first.weight, first.bias))
    torch.testing.assert_close(big, by_hand, rtol=1e-4, atol=1e-4)


def test_config_rebuilds_the_same_shape():
    model = MLP((64, 32), "gelu", 0.25)
    rebuilt = build_model(model.config())
    assert rebuilt.config() == {"hidden": [64, 32], "activation": "gelu", "dropout": 0.25}
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "swish"}, "unknown activation"),
    ({"dropout": 1.0}, "dropout"),
    ({"hidden": (0,)}, "positive"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


def test_layers_label_is_the_shape_as_people_write_it():
    from mnist_core.net.model import layers_label

    assert layers_label([256, 128]) == layers_label(MLP(hidden=(256, 128)).hidden) == "784-256-128-10"
