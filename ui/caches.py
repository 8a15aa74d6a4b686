"""Results computed once per version and shared by every page and user: loaded models, test-set
evaluations, collections as the network reads them and models scored on them."""

from __future__ import annotations

import hashlib
import os
import threading

import numpy as np
import streamlit as st

from mnist_core.classroom.collection import split
from mnist_core.classroom.leaderboard import measure_class, measure_test, TestScores
from mnist_core.classroom.scoring import Examples, examples, score
from mnist_core.net.evaluate import evaluate, Evaluation, predict_probs
from mnist_core.net.inside import BytesLRU, NearestDigits, pixel_index
from mnist_core.net.model import MLP
from mnist_core.net.perturb import robustness_curve
from mnist_core.net.pictures import gallery_image, png_bytes, weight_grid
from mnist_core.storage.drawings import Drawing, Problem
from mnist_core.storage.models import ModelMeta
from ui.engine import collections, dataset, model_store
from ui.i18n import t


@st.cache_resource(max_entries=8, show_spinner=False)
def loaded_model(name: str, created: str, device: str = "cpu") -> tuple[MLP, ModelMeta]:
    """A stored model, loaded once per version and device (`created` changes when it is retrained)."""
    model, meta, _ = model_store().load(name, device)
    return model, meta


def model_version(name: str) -> str:
    """Changes when the stored model is retrained: the key of everything computed once per model."""
    return model_store().meta(name).created


@st.cache_resource(max_entries=6, show_spinner=False)
def _test_evaluation(name: str, created: str) -> Evaluation:
    model, _ = loaded_model(name, created)
    data = dataset()
    return evaluate(model, data.test_images, data.test_labels)


def test_evaluation(name: str, created: str) -> Evaluation:
    """Predictions on the 10,000 test digits, once per model version, shared by every page and user (said
    in the reader's language while it runs: a cache's own spinner is English)."""
    with st.spinner(t("Scoring the model on the 10,000 test digits (once per model) …")):
        return _test_evaluation(name, created)


def evaluation_of(name: str) -> Evaluation:
    return test_evaluation(name, model_version(name))


@st.cache_resource(show_spinner=False)
def _readings() -> dict[tuple[str, str], dict]:
    """Each collection's drawings as the network sees them, by file (files never change): a new drawing
    costs one reading, not the whole collection's again."""
    return {}


# Four versions in all at most: each holds only the (N, 28, 28) float32 readings of its parts (about
# 9.4 MB for 3,000 drawings); the drawings themselves are the collection index's, shared by every version.
_parts_lock = threading.Lock()  # the shared readings are trimmed and filled by one version at a time


@st.cache_resource(max_entries=4, show_spinner=False)
def _collection_parts(name: str, version: tuple[int, int]) -> dict[str, tuple[list[Drawing], Examples]]:
    with _parts_lock:
        return _parts_of(name)


def _parts_of(name: str) -> dict[str, tuple[list[Drawing], Examples]]:
    loaded = collections().index(name).read()  # decodes only the drawings added since the last version
    drawings = loaded.drawings
    learn, held = split(drawings)
    seen = _readings().setdefault((str(collections().root), name), {})
    listed = {d.file for d in drawings}
    for file in [f for f in seen if f not in listed]:  # removed drawings' readings go with them
        del seen[file]
    return {part: (chosen, examples(chosen, seen)) for part, chosen in
            (("all", drawings), ("learn", learn), ("held", held))}


def collection_part(name: str, part: str = "held") -> tuple[list[Drawing], Examples]:
    """A collection's drawings and what the network sees of them, for "all", "learn" or "held" (the
    held-out part), read once per version, incrementally; ValueError for a bad name, OSError when unreadable."""
    return _collection_parts(name, collections().version(name))[part]


def collection_problems(name: str) -> list[Problem]:
    """A `Problem` for each file of the collection that cannot be read (from the same incremental reading)."""
    return collections().index(name).read().problems


@st.cache_resource(max_entries=16, show_spinner=False)
def _collection_score(model: str, created: str, name: str, version: tuple[int, int], part: str) -> Evaluation:
    model_, _ = loaded_model(model, created)
    return score(model_, _collection_parts(name, version)[part][1])


def collection_evaluation(model: str, name: str, part: str = "held") -> Evaluation:
    """A stored model scored on a part of a collection, once per model version and collection version
    (ClassError when that part has no drawings)."""
    return _collection_score(model, model_version(model), name, collections().version(name), part)


# The Inside page's per-model heavy things (nearest-digit indexes, layer maps) share one budget in bytes, least
# recently used dropped first: many big models looked at in turn no longer add up (issue 26: +1.9 GB each).
INSIDE_CACHE_BYTES = int(float(os.environ.get("MNIST_APP_INSIDE_CACHE_MB", "600")) * 2**20)


@st.cache_resource(show_spinner=False)
def inside_cache() -> BytesLRU:
    return BytesLRU(INSIDE_CACHE_BYTES)


# Each live view redraws every 2 s in every browser watching a run: 30 watchers encoded one weights picture 30
# times (py-spy: PNG encoding was a third of the Train page's script time with a share link opened).
_RUN_PICTURES = BytesLRU(16 * 2**20)


def weights_png(weights: np.ndarray, columns: int, scale: int) -> bytes:
    """First-layer weights (H, 28, 28) as the grid picture's PNG, encoded once per weights version and shared
    by every browser that shows them. Show it with `output_format="PNG"`: with "auto", st.image re-encodes an
    RGB PNG as JPEG on every call (py-spy: a third of a watcher's script time, 2026-12-03)."""
    key = (hashlib.blake2b(np.ascontiguousarray(weights).tobytes(), digest_size=16).digest(), weights.shape,
           columns, scale)
    return _RUN_PICTURES.get(key, lambda: png_bytes(weight_grid(weights, columns=columns, scale=scale)))


def gallery_png(images: np.ndarray, captions: list[str], columns: int = 10, scale: int = 3) -> bytes:
    """Digits (N, 28, 28) with a caption under each as one PNG, made once per digits and captions (a paused
    run's step up close is redrawn every second for its owner and every watcher) and shared by all."""
    digest = hashlib.blake2b(np.ascontiguousarray(images).tobytes(), digest_size=16)
    digest.update("\0".join(captions).encode())
    key = ("gallery", digest.digest(), images.shape, columns, scale)
    return _RUN_PICTURES.get(key, lambda: png_bytes(gallery_image(images, captions, columns=columns, scale=scale)))


# Page caches live here, not in pages/: a page's file runs again on every rerun, and each decorator there made its
# function's cache key again from its source (inspect.getsource, ~0.4 ms a decorator a run).
@st.cache_resource(max_entries=16, show_spinner=False)
def scored_collection(name: str, version: tuple[int, int], model_key: tuple[str, str, str],
                      _model) -> tuple[list[Drawing], dict[str, tuple[np.ndarray, int]], bytes]:
    """A collection scored and zipped once per version and model, not again on every stroke: each drawing's
    file -> (what the network sees (28, 28), the digit it reads); blank drawings have none. The drawings are
    read as the network sees them once, by the same cache the Class page and Mistakes use."""
    drawings, seen = collection_part(name, "all")
    digits = predict_probs(_model, seen.images).argmax(1).tolist() if len(seen) else []
    readings = {file: (image, digit) for file, image, digit in zip(seen.files, seen.images, digits, strict=True)}
    return drawings, readings, collections().zip_bytes(name)


@st.cache_resource(show_spinner=False)
def pixel_neighbours() -> NearestDigits:
    return pixel_index(dataset().train_images)


@st.cache_resource(max_entries=32, show_spinner=False)
def test_curve(name: str, created: str, kind: str) -> list[tuple[float, float]]:
    model, _ = loaded_model(name, created)
    data = dataset()
    return robustness_curve(model, data.test_images, data.test_labels, kind)


# The caches' own spinners are off (their text is fixed when the module loads: English); the calls say it instead.
@st.cache_data(max_entries=1024, show_spinner=False)
def measured_test(hide_id: str, created: str, _name: str) -> TestScores:
    """Test scores of a model whose history has none, once per model version (the name is not the key:
    a rename keeps the version)."""
    data = dataset()
    return measure_test(model_store(), _name, data.test_images, data.test_labels)


@st.cache_data(max_entries=2048, show_spinner=False)
def measured_class(hide_id: str, created: str, held_key: str, _name: str, _held: Examples) -> float | None:
    """Accuracy on the class's held-out drawings, once per model version and held-out set."""
    return measure_class(model_store(), _name, _held)
