import pytest
import torch

from mnist_core.device import available_devices, DeviceError, resolve_device


def test_cpu_is_always_there_and_last():
    assert available_devices()[-1] == "cpu"


def test_auto_picks_the_first_present_device():
    assert str(resolve_device("auto")) == available_devices()[0]
    assert resolve_device("CPU") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda:7", "tpu", "mps"])
def test_absent_device_is_a_clear_error(name):
    if name in available_devices():
        pytest.skip(f"{name} exists here")
    with pytest.raises(DeviceError, match=f"'{name}' is not available here; choose one of: auto,.*cpu"):
        resolve_device(name)
