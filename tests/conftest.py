"""Shared fixtures: tiny generated MNIST-like IDX files, the real MNIST where the tests need it, and the
page tests' environment; plain helpers are in helpers.py."""

from __future__ import annotations

import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest

from mnist_core.net.data import load_mnist, Mnist

# Re-exported: tests written against conftest's names keep working.
from .helpers import idx_bytes, make_digits, PROJECT, REAL_MNIST, write_mnist  # noqa: F401

# Drawn training digits are cached on disk; the tests (and the apps they start) keep theirs apart.
os.environ["MNIST_CACHE"] = tempfile.mkdtemp(prefix="mnist-test-cache-")

# Why each browser test that was run again (tests/e2e/conftest.py) failed the first time: the summary says it,
# so that a test that passes only on its second try still shows what went wrong.
FIRST_TRIES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.outcome == "rerun":
        crash = getattr(report.longrepr, "reprcrash", None)
        why = crash.message if crash is not None else str(report.longrepr)
        FIRST_TRIES.append("\n    ".join([report.nodeid, *why.splitlines()[:8]]))


def pytest_terminal_summary(terminalreporter) -> None:
    if FIRST_TRIES:
        terminalreporter.section("browser tests that passed or failed on their second try: the first try")
        for line in FIRST_TRIES:
            terminalreporter.line(line)


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    write_mnist(tmp_path / "mnist")
    return tmp_path / "mnist"


@pytest.fixture
def tiny(tiny_dir: Path) -> Mnist:
    return load_mnist(tiny_dir)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not any((REAL_MNIST / f"train-images-idx3-ubyte{ext}").exists() for ext in (".gz", "")):
        if os.environ.get("CI"):
            pytest.fail(f"the real MNIST is missing at {REAL_MNIST}; CI must set MNIST_DIR")
        pytest.skip(f"the real MNIST is not at {REAL_MNIST} (set MNIST_DIR)")
    return REAL_MNIST


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path) -> Mnist:
    return load_mnist(mnist_dir)


@pytest.fixture
def env(monkeypatch, tmp_path, tiny_dir):
    """A page test's server state: tiny MNIST, its own model store and drawings, caches cleared."""
    import streamlit as st

    monkeypatch.setenv("MNIST_DIR", str(tiny_dir))
    monkeypatch.setenv("MNIST_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("MNIST_DRAWINGS", str(tmp_path / "drawings"))
    monkeypatch.chdir(PROJECT)
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


@pytest.fixture
def canvas(monkeypatch):
    """Replaces the page's canvas (ui.canvas): st_canvas returns whatever image the test puts here."""
    holder = {"image": np.zeros((280, 280, 4), np.uint8)}
    module = types.ModuleType("ui.canvas")
    module.st_canvas = lambda **kwargs: types.SimpleNamespace(image_data=holder["image"])
    module.quick_answers_in_canvas = lambda: False  # no script to post strokes: every stroke reruns, as here
    module.answer_slot = None  # not drawn without quick answers
    monkeypatch.setitem(sys.modules, "ui.canvas", module)
    return holder
