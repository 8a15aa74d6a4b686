"""Two app servers (replicas) on one Ray cluster and one model store: a run started on one is seen,
read-only, through its share link on the other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_core.classroom.serve import end_group, ensure_ray_token, GROUP_GRACE, RAY_ENV

from ..helpers import REAL_MNIST
from .helpers import App, free_port, main_button, open_app, setup_small_run, shot, start_app

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """`ray start --head --block` on loopback ports of its own, stopped by its PID (it stops its children)."""
    ensure_ray_token({**os.environ, **RAY_ENV})  # the head and its clients use ~/.ray/auth_token
    port = free_port()
    log = open(tmp_path_factory.mktemp("ray") / "head.log", "w")
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", f"--dashboard-port={free_port()}",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
        env={**os.environ, **RAY_ENV}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while "--block" not in Path(log.name).read_text() or "Ray runtime started" not in Path(log.name).read_text():
        assert head.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()[-2000:]
        time.sleep(0.5)
    yield f"127.0.0.1:{port}"
    # Its whole process group at once, as serve stops its head (`ray start --block` alone ends its GCS,
    # raylet and workers one after another: 30-38 s here).
    end_group(head.pid, grace=GROUP_GRACE)
    try:
        head.wait(10)
    except subprocess.TimeoutExpired:
        head.kill()
    log.close()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, ray_head):
    first = start_app(tmp_path_factory, "replica-a", {**RAY_ENV, "MNIST_RAY_ADDRESS": ray_head})
    second = App(first.store, REAL_MNIST, {**RAY_ENV, "MNIST_RAY_ADDRESS": ray_head})  # the same model store
    yield first, second
    first.stop()
    second.stop()


@pytest.mark.mnist
@pytest.mark.browser
def test_a_share_link_opened_on_the_other_replica_shows_the_run(replicas, browser):
    first, second = replicas
    teacher = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    student = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    teacher.set_default_timeout(60_000)
    student.set_default_timeout(60_000)
    open_app(teacher, first.url)
    setup_small_run(teacher, 2, "on-ray")
    main_button(teacher, "Train").click()
    teacher.wait_for_url(re.compile(r"job="))
    job = re.search(r"job=([\w-]+)", teacher.url).group(1)

    student.goto(f"{second.url}?job={job}")
    student.get_by_text("You are watching someone else's run (read-only).").wait_for(timeout=120_000)  # Ray, loaded
    student.get_by_role("heading", name=re.compile("on-ray")).wait_for()
    student.get_by_text(re.compile(r"saved as on-ray")).wait_for(timeout=180_000)
    shot(student, "replica-watcher")
    assert (first.store / "on-ray.pt").is_file()
    assert main_button(student, "Train").is_disabled()
    teacher.context.close()
    student.context.close()
