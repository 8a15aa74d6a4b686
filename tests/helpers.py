"""What tests (and benchmarks) share that is not a fixture: tiny generated MNIST files, drawn digits,
small data sets, and steps through a page under AppTest."""

from __future__ import annotations

import gzip
import os
import struct
import time
from datetime import datetime, timedelta, UTC
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.net.config import TrainConfig
from mnist_core.net.data import Mnist
from mnist_core.net.history import EpochRecord, Metrics
from mnist_core.net.model import build_model
from mnist_core.storage.models import ModelMeta, ModelStore

PROJECT = Path(__file__).resolve().parent.parent
REAL_MNIST = Path(os.environ.get("MNIST_DIR") or PROJECT.parent / "shared" / "data" / "mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX content of a uint8 array: magic 0x0801 (1-D) or 0x0803 (3-D), then big-endian sizes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 images of 10 easily told apart classes (a bar at a class-specific place)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 4 + 2 * int(label)
        images[i, row:row + 2, 4:24] = 255
    return images, labels


def write_mnist(folder: Path, n_train: int = 300, n_test: int = 100, gz: bool = True) -> Mnist:
    folder.mkdir(parents=True, exist_ok=True)
    train, test = make_digits(n_train, 1), make_digits(n_test, 2)
    arrays = {"train-images-idx3-ubyte": train[0], "train-labels-idx1-ubyte": train[1],
              "t10k-images-idx3-ubyte": test[0], "t10k-labels-idx1-ubyte": test[1]}
    for stem, array in arrays.items():
        content = idx_bytes(array)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / stem).write_bytes(content)
    return Mnist(train[0], train[1], test[0], test[1])


def small_data(n_train: int = 2048) -> Mnist:
    (train, train_labels), (test, test_labels) = make_digits(n_train, 1), make_digits(256, 2)
    return Mnist(train, train_labels, test, test_labels)


def draw_seven(size: int = 280, scale: float = 1.0, dx: int = 0, dy: int = 0, width: int = 18) -> np.ndarray:
    """A '7' drawn as a user would: black strokes on a transparent RGBA canvas."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    points = [(90, 70), (190, 70), (120, 220)]
    centre = 140
    placed = [(centre + (x - centre) * scale + dx, centre + (y - centre) * scale + dy) for x, y in points]
    pen.line(placed, fill=(0, 0, 0, 255), width=max(1, int(width * scale)), joint="curve")
    return np.asarray(image)


def button(at, label: str):
    """An AppTest's button by its label."""
    return next(b for b in at.button if b.label == label)


def current_model_of(at) -> str:
    """The current model of the browser whose session `at` is (kept on the server by its owner key)."""
    from ui.current_model import current_models, CurrentModel

    return current_models().setdefault(at.session_state["owner"], CurrentModel).name()


def choose_model(who: str, name: str) -> None:
    """The browser with owner key `who` chooses `name` as its current model (as its models table would)."""
    from ui.current_model import current_models, CurrentModel

    current_models().setdefault(who, CurrentModel).choose(name)


def train_tiny(at, name: str, epochs: int = 1):
    """Sets a small network on the Train page (an AppTest), presses Train, and reruns until the run is saved."""
    at.sidebar.text_input(key="t_hidden").set_value("16").run()
    at.sidebar.number_input(key="t_epochs").set_value(epochs).run()
    at.sidebar.text_input(key="t_name").set_value(name).run()
    button(at, "Train").click().run()
    deadline = time.monotonic() + 60
    while not any(f"saved as **{name}**" in s.value for s in at.success) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()  # run_every timers do not fire under AppTest
    return at


def png_of_a_one() -> bytes:
    """A photo-like picture of a '1': a black bar on white, as a PNG file."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (200, 200), "white")
    ImageDraw.Draw(image).line([(100, 30), (100, 170)], fill="black", width=16)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bar_drawing(label: int) -> np.ndarray:
    """A 56x56 RGBA drawing: a bar whose row tells the digit (like conftest's tiny digits)."""
    image = np.zeros((56, 56, 4), np.uint8)
    row = 8 + 4 * label
    image[row:row + 4, 8:48, 3] = 255
    return image


# A run small and quick enough for the tiny generated data.
FAST = dict(hidden=(16,), dropout=0.0, lr=3e-3, schedule="constant", batch_size=10, epochs=2, device="cpu")


def wait_for(predicate, timeout: float = 30.0) -> bool:
    """Poll `predicate` until it is true (True), or fail the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    raise AssertionError("condition not reached in time")


def save_tiny(store: ModelStore, name: str, accuracy: float | None = 0.9, owner_key: str = "",
              minutes_ago: int = 0, changes: list | None = None, **config) -> ModelMeta:
    """A 784-8-10 model with the metadata a run would write (no history when `accuracy` is None)."""
    model = build_model({"hidden": [8], "activation": "relu", "dropout": 0.0})
    cfg = TrainConfig(**{"hidden": (8,), "dropout": 0.0, **config})
    history = [] if accuracy is None else [EpochRecord(epoch=1, loss=0.5, train_f1=0.9, test_f1=accuracy - 0.01,
                                                       test_accuracy=accuracy, seconds=1.0)]
    meta = ModelMeta(name=name, model={"hidden": [8], "activation": "relu", "dropout": 0.0}, config=cfg,
                     history=history, metrics=Metrics.of(history), parameters=7_960,
                     train_seconds=12.5, owner=store.owners.tag(owner_key), changes=list(changes or []),
                     created=(datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds"))
    store.save(model, meta)
    return store.meta(name)


def make_teacher(models: Path, key: str) -> None:
    """The browser with owner key `key` enters the teacher code of the model folder `models`, as the sidebar's
    box does (the code as `serve` or the app's console prints it)."""
    from mnist_core.classroom.teacher import Teachers

    teachers = Teachers(models)
    teachers.enter(key, teachers.code())
