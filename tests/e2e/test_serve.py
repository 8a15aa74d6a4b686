"""`python -m mnist_core serve`: two app processes behind HAProxy on one address, sharing runs on the Ray head it
starts. A browser draws and trains through the address; a share link opened in another browser, whose session
lives in the other process, finds the run."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import PROJECT, REAL_MNIST
from .conftest import CHROMIUM, free_port, main_button, open_app, shot
from .test_draw_page import predicted, stroke, vertical_line
from .test_train_page import setup_small_run

pytestmark = [pytest.mark.mnist, pytest.mark.browser]
SERVING = re.compile(r"serving (\S+) \(2 app processes, pids (\d+) (\d+)")


def needed(what: str, present: bool, hint: str) -> None:
    """CI installs haproxy, Ray and Chromium: there a missing one fails the test; elsewhere it is skipped."""
    if not present:
        pytest.fail(f"{what} is missing: {hint}") if os.environ.get("CI") else pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    needed("haproxy", shutil.which("haproxy") is not None, "apt-get install -y haproxy")
    needed("ray", __import__("importlib.util").util.find_spec("ray") is not None, "pip install -r requirements-ray.txt")
    needed("chromium", os.path.exists(CHROMIUM), "apt-get install -y chromium")
    if not any((REAL_MNIST / f"train-images-idx3-ubyte{ext}").exists() for ext in (".gz", "")):
        pytest.skip(f"the real MNIST is not at {REAL_MNIST}")
    folder = tmp_path_factory.mktemp("serve")
    log = open(folder / "serve.log", "w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "mnist_core", "serve", "--processes", "2", "--port", str(free_port()),
         "--host", "127.0.0.1", "--store", str(folder / "models")],
        cwd=PROJECT, env={**os.environ, "MNIST_DIR": str(REAL_MNIST)}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while not (found := SERVING.search((folder / "serve.log").read_text())):
        assert serve.poll() is None and time.monotonic() < deadline, (folder / "serve.log").read_text()[-3000:]
        time.sleep(0.5)
    yield found.group(1), folder / "models", serve
    serve.send_signal(signal.SIGTERM)  # it stops HAProxy, both app processes and the Ray head
    try:
        serve.wait(180)
    except subprocess.TimeoutExpired:
        serve.kill()
    log.close()


def which_process(page) -> str:
    """The app process HAProxy keeps this browser on (its stickiness cookie)."""
    return next(c["value"] for c in page.context.cookies() if c["name"] == "mnist_server")


def test_one_address_draws_trains_and_shares_a_run_across_processes(classroom, browser):
    url, store, serve = classroom
    teacher = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    teacher.set_default_timeout(60_000)
    open_app(teacher, url + "draw")
    teacher.locator("canvas.upper-canvas").wait_for()
    stroke(teacher, vertical_line())
    assert predicted(teacher) == "1"
    # The pictures come inline with the answer, whichever process holds the session: all loaded.
    teacher.locator("[data-testid='reading-steps'] img").first.wait_for()
    assert teacher.evaluate("[...document.querySelectorAll('[data-testid=\"stMain\"] img')]"
                            ".every(i => i.complete && i.naturalWidth > 0)")

    open_app(teacher, url)
    setup_small_run(teacher, 1, "served")
    main_button(teacher, "Train").click()
    teacher.wait_for_url(re.compile(r"job="))
    job = re.search(r"job=([\w-]+)", teacher.url).group(1)

    # A second browser, its session on purpose in the other process.
    home = which_process(teacher)
    other = "app2" if home == "app1" else "app1"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": "mnist_server", "value": other, "url": url}])
    student = context.new_page()
    student.set_default_timeout(60_000)
    student.goto(f"{url}?job={job}")
    student.get_by_text("You are watching someone else's run (read-only).").wait_for()
    student.get_by_role("heading", name=re.compile("served")).wait_for()
    student.get_by_text(re.compile(r"saved as served")).wait_for(timeout=180_000)
    assert which_process(student) == other and home in ("app1", "app2")
    shot(student, "serve-watcher")
    teacher.get_by_text(re.compile(r"Trained 1 epoch; saved as served")).wait_for(timeout=180_000)
    assert (store / "served.pt").is_file()
    assert serve.poll() is None
    teacher.context.close()
    context.close()


def test_the_class_goes_on_after_the_ray_head_is_lost(classroom, browser):
    """kill -9 of the Ray head's whole group (GCS, raylet, workers): serve starts it again on its address, then the
    app processes (Ray ends a driver whose raylet is gone), and a run trains and is shared across them again."""
    url, store, serve = classroom
    log = store.parent / "serve.log"
    heads = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(serve.pid), "-f", "ray.scripts.scripts start"],
                                                capture_output=True, text=True).stdout.split()]
    assert len(heads) == 1, heads
    os.killpg(heads[0], signal.SIGKILL)
    deadline = time.monotonic() + 180
    while "the Ray head and the app processes are back" not in log.read_text():
        assert serve.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    logs = Path(re.search(r"logs in (\S+)", log.read_text()).group(1))

    def app_logs() -> str:  # what the app processes said, for a failure's message
        return "\n".join(f"{f.name}: ...{f.read_text(errors='replace')[-1500:]}"
                         for f in sorted(logs.glob("app-*.log")))

    teacher = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    teacher.set_default_timeout(90_000)
    try:
        open_app(teacher, url)
        setup_small_run(teacher, 1, "after-head")
        main_button(teacher, "Train").click()
        teacher.wait_for_url(re.compile(r"job="))
    except Exception as e:
        raise AssertionError(f"{e}\n{app_logs()}") from None
    job = re.search(r"job=([\w-]+)", teacher.url).group(1)
    other = "app2" if which_process(teacher) == "app1" else "app1"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": "mnist_server", "value": other, "url": url}])
    student = context.new_page()
    student.set_default_timeout(90_000)
    student.goto(f"{url}?job={job}")
    student.get_by_role("heading", name=re.compile("after-head")).wait_for()  # on the new head's board
    teacher.get_by_text(re.compile(r"Trained 1 epoch; saved as after-head")).wait_for(timeout=180_000)
    assert (store / "after-head.pt").is_file() and serve.poll() is None
    teacher.context.close()
    context.close()
