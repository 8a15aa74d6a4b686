"""A training child maps the server's data set in shared memory (mnist_core/runs/child.py `_shared`) instead of
unpickling a copy of its own; benchmarks/child_memory.py prints what that saves."""

import numpy as np

from mnist_core.net.config import TrainConfig
from mnist_core.runs import child
from mnist_core.runs.jobs import JobRegistry
from mnist_core.runs.snapshot import DONE
from mnist_core.storage.models import ModelStore

FAST = dict(hidden=(16,), dropout=0.0, lr=3e-3, schedule="constant", batch_size=10, epochs=1, device="cpu")


def test_a_child_trains_on_the_data_set_in_shared_memory_made_once(tmp_path, tiny):
    registry = JobRegistry(ModelStore(tmp_path / "models", builtin_dir=None), lambda: tiny)
    first = registry.submit("alice", TrainConfig(**FAST), name="m1")
    assert first.wait(60) and first.snapshot().status == DONE, first.snapshot().error
    data, tensors = child._shared_data
    assert data is tiny and all(tensor.is_shared() for tensor in tensors)
    arrays = (tiny.train_images, tiny.train_labels, tiny.test_images, tiny.test_labels)
    for tensor, array in zip(tensors, arrays, strict=True):
        assert np.array_equal(tensor.numpy(), array) and tensor.numpy().dtype == array.dtype
    second = registry.submit("alice", TrainConfig(**FAST), name="m2")
    assert second.wait(60) and second.snapshot().status == DONE
    assert child._shared_data[1] is tensors  # the same pages for every run of the same data set
    assert registry.store.meta("m2").epochs == 1
