"""`python -m mnist_core serve` (mnist_core/classroom/serve.py): HAProxy's configuration, a class through the one
address (benchmarks/load.py with a cookie jar per student), and everything stopped on SIGTERM. Two processes sharing
runs through Ray are tests/e2e/test_serve.py."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from mnist_core.classroom.serve import haproxy_config

from .conftest import PROJECT
from .helpers import wait_for

SERVING = re.compile(r"serving (\S+) \(1 app process, pids (\d+)\)")


def needs_haproxy() -> str:
    """CI installs HAProxy (.ci/run): there its absence fails; elsewhere the test is skipped."""
    found = shutil.which("haproxy")
    if found is None:
        pytest.fail("haproxy is missing: apt-get install -y haproxy") if os.environ.get("CI") else \
            pytest.skip("haproxy is not installed")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_haproxy_accepts_the_configuration_with_sticky_cookies(tmp_path):
    haproxy = needs_haproxy()
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config("127.0.0.1", free_port(), [free_port(), free_port()]))
    check = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    text = config.read_text()
    assert "cookie mnist_server insert" in text and text.count("cookie app") == 2


def in_process(capsys, *argv: str) -> tuple[int, str]:
    """The CLI's main in this process (what `python -m mnist_core` runs) and what it wrote to stderr: the
    refusals below stop before anything starts, and a new interpreter per case cost 4 s of imports."""
    from mnist_core.cli import main

    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def test_without_haproxy_serve_says_what_to_install_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, err = in_process(capsys, "serve", "--processes", "1", "--port", str(free_port()), "--host", "127.0.0.1")
    assert code == 2
    assert err.strip() == "error: haproxy is not installed (Debian: apt-get install -y haproxy)"


@pytest.mark.mnist
def test_a_class_through_the_one_address_and_everything_stops_on_sigterm(tmp_path, mnist_dir):
    needs_haproxy()
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen([sys.executable, "-m", "mnist_core", "serve", "--processes", "1", "--port",
                              str(free_port()), "--host", "127.0.0.1", "--store", str(tmp_path / "models")],
                             cwd=PROJECT, env={**os.environ, "MNIST_DIR": str(mnist_dir)}, stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (found := SERVING.search((tmp_path / "serve.log").read_text())):
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        url, app_pid = found.group(1), int(found.group(2))
        done = subprocess.run([sys.executable, "benchmarks/load.py", "--url", url, "--server-pids", str(app_pid),
                               "--students", "4", "--runs", "1", "--seconds", "8", "--json"], cwd=PROJECT,
                              capture_output=True, text=True, timeout=600,
                              env={**os.environ, "MNIST_DIR": str(mnist_dir)})
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["join_failures"] == 0 and report["errors"] == 0, report
        assert report["answers"] > 0 and report["wrong_answers"] == 0
        assert report["runs_saved"] == 1 and len(list((tmp_path / "models").glob("*.pt"))) == 1
        assert report["server_rss_mb_warm"] > 0 and report["server_rss_mb"] > 0
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(60) == 0
        log.close()
    assert not os.path.exists(f"/proc/{app_pid}")  # the app process stopped with it
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/"))), timeout=2)


@pytest.mark.parametrize("option, message", [(["--processes", "0"], "error: --processes must be 1..64, got 0"),
                                             (["--port", "70000"], "error: --port must be 1..65535, got 70000")])
def test_serve_refuses_a_bad_number_in_one_line(option, message, capsys):
    code, err = in_process(capsys, "serve", *option)
    assert code == 2 and err.strip() == message


def test_serve_refuses_a_port_already_taken_in_one_line(tmp_path, capsys):
    needs_haproxy()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = in_process(capsys, "serve", "--processes", "1", "--port", str(port), "--host", "127.0.0.1",
                               "--store", str(tmp_path / "models"))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: port {port} on 127.0.0.1 is taken")


def test_serve_refuses_the_operator_switch_beyond_loopback(tmp_path, monkeypatch, capsys):
    needs_haproxy()
    monkeypatch.setenv("MNIST_APP_OPERATOR", "1")
    code, err = in_process(capsys, "serve", "--processes", "1", "--port", str(free_port()), "--host", "0.0.0.0",
                           "--store", str(tmp_path / "models"))
    assert code == 2 and err.count("\n") == 1 and "refused on 0.0.0.0" in err


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.mnist
def test_kill_9_of_serve_takes_its_parts_with_it_and_a_lost_app_process_is_restarted(tmp_path, mnist_dir):
    needs_haproxy()
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen([sys.executable, "-m", "mnist_core", "serve", "--processes", "1", "--port", str(port),
                              "--host", "127.0.0.1", "--store", str(tmp_path / "models")], cwd=PROJECT,
                             env={**os.environ, "MNIST_DIR": str(mnist_dir)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (found := SERVING.search((tmp_path / "serve.log").read_text())):
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        app_pid = int(found.group(2))
        os.kill(app_pid, signal.SIGKILL)  # one app process lost: started again
        deadline = time.monotonic() + 120
        while "starting it again" not in (tmp_path / "serve.log").read_text():
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        deadline = time.monotonic() + 30  # the message comes just before the new process starts

        def children_now() -> list[int]:
            return [int(p) for p in subprocess.run(["pgrep", "-P", str(serve.pid)], capture_output=True,
                                                   text=True).stdout.split()]
        while len(children := children_now()) != 2:  # the app process again, and HAProxy
            assert time.monotonic() < deadline, children
            time.sleep(0.2)
        assert app_pid not in children
        serve.kill()  # kill -9 of serve itself: every part goes with it, and the port is free again
        serve.wait(10)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children):
            assert time.monotonic() < deadline, [pid for pid in children if _alive(pid)]
            time.sleep(0.2)
        with socket.socket() as s:  # as a new serve binds it: connections left in TIME_WAIT hold no one
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()  # nobody else listens there any more
    finally:
        if serve.poll() is None:
            serve.kill()


def _listening(pids: set[int]) -> list[str]:
    """The local addresses (ss -ltnp) of the listening TCP sockets of these processes."""
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    return [line.split()[3] for line in lines if {int(p) for p in re.findall(r"pid=(\d+)", line)} & pids]


def _group(group: int) -> set[int]:
    """The live (not zombie) processes of a process group."""
    found = subprocess.run(["ps", "-eo", "pid=,pgid=,stat="], capture_output=True, text=True).stdout.split("\n")
    return {int(pid) for pid, pgid, stat in (line.split() for line in found if line.strip())
            if int(pgid) == group and not stat.startswith("Z")}


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")
def test_serves_ray_head_listens_on_loopback_only_and_its_children_end_with_it(tmp_path):
    from mnist_core.classroom.serve import _start_ray_head, RAY_ENV, RAY_LOOPBACK_ENV, School

    room = School(tmp_path)
    home = tmp_path / "home"  # a fresh machine: no ~/.ray/auth_token yet, which the head makes for itself
    home.mkdir()
    try:
        address = _start_ray_head(room, {**os.environ, **RAY_ENV, **RAY_LOOPBACK_ENV, "HOME": str(home)})
        assert len((home / ".ray" / "auth_token").read_text().strip()) >= 32
        head = room.parts[0].process.pid
        assert address.startswith("127.0.0.1:")
        assert wait_for(lambda: len(_listening(_group(head))) >= 2, 30)  # the GCS and the raylet at least
        addresses = _listening(_group(head))
        assert addresses and all(a.rsplit(":", 1)[0] in ("127.0.0.1", "[::ffff:127.0.0.1]") for a in addresses), \
            addresses
        assert any(a.endswith(f":{address.rsplit(':', 1)[1]}") for a in addresses)  # the GCS, on its port
    finally:
        room.stop()
    assert wait_for(lambda: not _group(head), 30), _group(head)  # GCS, raylet, agents: gone with the head
