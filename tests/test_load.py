"""The classroom load test (benchmarks/load.py) against a real app server: a cold start that a whole class
joins at once, and a short lesson with drawings and queued runs. No timings: only what must not go wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .helpers import PROJECT

pytestmark = pytest.mark.mnist


def load(mnist_dir, *args: str) -> dict:
    done = subprocess.run([sys.executable, "benchmarks/load.py", *args, "--json"], cwd=PROJECT, timeout=900,
                          capture_output=True, text=True, env={**os.environ, "MNIST_DIR": str(mnist_dir)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_class_joining_a_fresh_server_at_once_all_get_the_draw_page(mnist_dir):
    report = load(mnist_dir, "--students", "20", "--cold", "--seconds", "8")
    assert report["join_failures"] == 0, report["first_join_failures"]
    assert report["errors"] == 0, report["first_errors"]
    assert report["wrong_answers"] == 0


def test_a_short_lesson_answers_every_drawing_right_and_saves_every_queued_run(mnist_dir):
    # Small runs (784-32-10): less CPU beside the rest of the suite than the preset's 784-256-10; the queue is the same.
    report = load(mnist_dir, "--students", "5", "--runs", "2", "--hidden", "32", "--seconds", "20")
    assert report["join_failures"] == 0, report["first_join_failures"]
    assert report["errors"] == 0, report["first_errors"]
    assert report["answers"] > 0 and report["wrong_answers"] == 0
    assert report["runs_queued"] == 2
    assert report["runs_saved"] == 2 and report["runs_on_disk"] == 2
    assert report["runs_layers"] == ["784-32-10", "784-32-10"]  # trained as the trainers set them
    # The server's memory after the warm-up and at the end of the same run (a soak compares the two).
    assert 0 < report["server_rss_mb_start"] < report["server_rss_mb_warm"] and report["server_rss_mb"] > 0


def test_a_baseline_tree_runs_without_the_speedups_its_requirements_do_not_pin(tmp_path):
    from benchmarks.load import blocked_packages
    from benchmarks.load import PROJECT as THIS

    importing = [sys.executable, "-c", "import httptools"]
    assert subprocess.run(importing, cwd=tmp_path).returncode == 0  # this tree pins it: its environment has it
    old = tmp_path / "old"
    old.mkdir()
    (old / "requirements.txt").write_text("streamlit==1.67.0  # an older tree, without the speed-ups\n")
    blocked = blocked_packages(old, tmp_path / "server")
    for name in ("httptools", "uvloop"):
        done = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": blocked})
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr and "requirements of" in done.stderr
    (old / "requirements.txt").write_text((THIS / "requirements.txt").read_text() + "uvloop==0.23.0\n")
    assert blocked_packages(old, tmp_path / "other") is None  # one that pins them runs as it is
