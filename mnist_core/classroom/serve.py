"""A classroom on one address: several `streamlit run app.py` processes behind HAProxy with sticky sessions,
sharing runs through one Ray cluster (a local head unless MNIST_RAY_ADDRESS names one); `python -m mnist_core
serve`. Starts only processes; never imports Streamlit or Ray."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mnist_core.folders import PROJECT_ROOT

PROJECT = PROJECT_ROOT
APP = PROJECT / "app.py"
START_TIMEOUT = 120.0  # seconds for the Ray head and every app process to answer
SLOW_STOP = 2.0  # seconds: a part slower than this to stop is named in the log
GROUP_GRACE = 1.0  # seconds what is left of a part's process group gets after SIGTERM before SIGKILL
RAY_ENV = {"RAY_AUTH_MODE": "token"}  # as the README's `ray start`: a token in ~/.ray/auth_token
# Ray 2.60 turns --node-ip-address=127.0.0.1 into the machine's outward address ("Local node IP: 192.0.2.2"), and
# its GCS and raylet then listen on every interface (ss -ltnp: *:PORT). With this switch off it keeps loopback
# as the node's address and both listen on 127.0.0.1 only (measured with ss -ltnp); the app processes, Ray's
# drivers here, need it too, to look for the raylet on that address.
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
MAX_RESTARTS = 5  # times one lost app process (or the Ray head) is started again before serve gives up
COOKIE = "mnist_server"  # HAProxy's stickiness cookie: which app process holds this browser's session


def _die_with_parent() -> None:
    """In a part, before it runs: the kernel sends it SIGTERM when `serve` dies, however (kill -9 too), so no
    part outlives the launcher holding the port (PR_SET_PDEATHSIG, Linux; elsewhere nothing)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        if os.getppid() == 1:  # the launcher died before the call: go now
            os.kill(os.getpid(), signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def check_port_free(host: str, port: int) -> None:
    """ServeError (one line) when host:port is taken (another `serve`, HAProxy or app there): two balancers on
    one port split the class between them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise ServeError(f"port {port} on {host} is taken ({e.strerror}): is another serve running? Stop it "
                             "or choose another --port") from None


class ServeError(RuntimeError):
    """The classroom could not start or a part of it stopped; the message says which and where its log is."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def haproxy_config(host: str, port: int, backends: list[int]) -> str:
    """One front end on host:port; app processes on loopback ports, a new browser to the least busy, then
    always to the same one (HAProxy inserts a cookie): a Streamlit session lives in one process, its
    websocket and the media files (st.image) it serves. Websockets need only the long tunnel timeout."""
    servers = "\n".join(f"    server app{i} 127.0.0.1:{p} cookie app{i} check inter 2s"
                        for i, p in enumerate(backends, 1))
    # Each browser holds a websocket: two descriptors at the balancer; HAProxy refuses to start when its
    # connection limit needs more descriptors than the system allows.
    maxconn = max(256, min(10_000, (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 100) // 2))
    return f"""global
    maxconn {maxconn}

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 12h
    timeout http-request 30s

frontend classroom
    bind {host}:{port}
    default_backend apps

backend apps
    balance leastconn
    cookie {COOKIE} insert indirect nocache httponly
    option httpchk GET /_stcore/health
{servers}
"""


def _wait_http(url: str, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServeError(f"{what} ended while starting (exit code {process.returncode}); see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise ServeError(f"{what} did not answer on {url} within {START_TIMEOUT:.0f} s; see {log}")


@dataclass
class Part:
    """One process of the classroom, its log file, and how to say it in a message."""

    what: str
    process: subprocess.Popen
    log: Path
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = PROJECT
    restarts: int = 0


@dataclass
class School:
    """The running parts, started in order (Ray head, app processes, HAProxy) and stopped in reverse."""

    folder: Path
    url: str = ""
    ray_address: str = ""
    parts: list[Part] = field(default_factory=list)

    def start(self, what: str, command: list[str], env: dict[str, str], cwd: Path = PROJECT) -> Part:
        part = Part(what, self._popen(what, command, env, cwd), self.folder / f"{what.replace(' ', '-')}.log",
                    command, env, cwd)
        self.parts.append(part)
        return part

    def _popen(self, what: str, command: list[str], env: dict[str, str], cwd: Path,
               mode: str = "w") -> subprocess.Popen:
        with open(self.folder / f"{what.replace(' ', '-')}.log", mode) as out:
            # A process group of its own: the terminal's Ctrl-C reaches this launcher only, which stops
            # the parts in order (HAProxy first, so that no browser reaches a stopping app). Each part dies
            # with the launcher, kill -9 included (`_die_with_parent`).
            return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_die_with_parent)

    def restart(self, part: Part, counted: bool = True) -> None:
        """Start a lost part again as it was (its log goes on); the others keep serving meanwhile. `counted`: the
        loss was the part's own (it counts towards MAX_RESTARTS)."""
        part.process = self._popen(part.what, part.command, part.env, part.cwd, mode="a")
        part.restarts += counted

    def apps(self) -> list[Part]:
        return [p for p in self.parts if p.what.startswith("app process")]

    def restart_ray_head(self, head: Part) -> None:
        """The Ray head lost: what is left of its group ended, the head started again on its port (its token and
        address unchanged), then every app process started again, one after another, so each is a driver of the
        new head (Ray ends a driver whose raylet is gone; one that never joined would find the new one anyway).
        Runs training on the lost head are lost; saved models are on disk. ServeError if the head does not start."""
        end_group(head.process.pid, grace=GROUP_GRACE)
        start = head.log.stat().st_size if head.log.exists() else 0
        self.restart(head)
        _wait_ray_started(head, start)
        for part in self.apps():
            if part.process.poll() is None:
                part.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    part.process.wait(15)
            end_group(part.process.pid, grace=GROUP_GRACE)
            self.restart(part, counted=False)  # not the app process's fault
        for part in self.apps():
            port = part.command[part.command.index("--server.port") + 1]
            _wait_http(f"http://127.0.0.1:{port}/_stcore/health", part.process, part.log, part.what)
        # HAProxy marked them down meanwhile and takes two checks to send browsers again: until then a page
        # opened at the address is its 503.
        balancer = next((p for p in self.parts if p.what == "haproxy"), None)
        if balancer is not None and self.url:
            _wait_http(f"{self.url}_stcore/health", balancer.process, balancer.log, "haproxy")

    def app_pids(self) -> list[int]:
        return [p.process.pid for p in self.apps()]

    def ended(self) -> Part | None:
        return next((p for p in self.parts if p.process.poll() is not None), None)

    def stop(self) -> None:
        """HAProxy first (no browser reaches a stopping app), then every app process at once (each saves its
        runs, which may train on the Ray head), then the Ray head's whole group. One after another, after a
        run had trained, this took 37 s (`benchmarks/lesson_figures.py --only serve`)."""
        def is_(kind: str) -> list[Part]:
            return [p for p in self.parts if p.what.startswith(kind)]

        for group in (is_("haproxy"), is_("app process")):
            start = time.monotonic()
            for part in group:
                if part.process.poll() is None:
                    part.process.terminate()
            deadline = time.monotonic() + 15
            for part in group:
                try:
                    part.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    part.process.kill()
                    part.process.wait(5)
            for part in group:  # what an app process leaves behind (its fork server) goes with it, now
                end_group(part.process.pid, grace=GROUP_GRACE)
                print_slow(part.what, start)
        for part in is_("ray head"):
            # The whole group at once (GCS, raylet, workers), not `ray start --block` alone, which ended them one
            # after another (31 s after a run). Nothing of the head is kept: the app processes saved the runs.
            start = time.monotonic()
            end_group(part.process.pid, grace=GROUP_GRACE)
            with contextlib.suppress(subprocess.TimeoutExpired):
                part.process.wait(5)
            print_slow(part.what, start)
        self.parts.clear()


def print_slow(what: str, start: float) -> None:
    """A part slower than SLOW_STOP to stop, named in the log (where a slow stop comes from)."""
    if (took := time.monotonic() - start) > SLOW_STOP:
        print(f"{what} took {took:.1f} s to stop", file=sys.stderr, flush=True)


def end_group(group: int, grace: float = 10.0) -> None:
    """Whatever is left in a part's process group (its session: `start_new_session`), the Ray head's GCS,
    raylet and agents: SIGTERM, then SIGKILL after `grace` seconds. No process of another group is touched."""
    try:
        os.killpg(group, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def start_school(folder: Path, processes: int, host: str, port: int, ray_address: str | None,
                    app: Path = APP, say: Callable[[str], None] = print) -> School:
    """Start everything and return once the address answers; on any failure stop what started, raise ServeError."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        raise ServeError("haproxy is not installed (Debian: apt-get install -y haproxy)")
    check_port_free(host, port)
    try:
        from mnist_core.classroom.teacher import check_operator_switch

        check_operator_switch(host)
    except ValueError as e:
        raise ServeError(str(e)) from None
    room = School(folder)
    env = {**os.environ, **RAY_ENV}
    # One secret for all: a cookie one process signed (Streamlit's XSRF cookie) is good at the others.
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    env["MNIST_APP_CODE_SHOWN"] = "1"  # the teacher code is said here, with the address, not in each app's log
    try:
        if processes > 1:
            if not ray_address:
                env.update(RAY_LOOPBACK_ENV)
            room.ray_address = ray_address or _start_ray_head(room, env)
            env["MNIST_RAY_ADDRESS"] = room.ray_address
        elif ray_address:
            env["MNIST_RAY_ADDRESS"] = room.ray_address = ray_address
        backends = [free_port() for _ in range(processes)]
        for i, backend in enumerate(backends, 1):
            room.start(f"app process {i}", [
                sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
                "--server.port", str(backend), "--server.address", "127.0.0.1",
                "--browser.gatherUsageStats", "false"], env, cwd=app.parent)
        for part, backend in zip(room.parts[-processes:], backends, strict=True):
            _wait_http(f"http://127.0.0.1:{backend}/_stcore/health", part.process, part.log, part.what)
        config = folder / "haproxy.cfg"
        config.write_text(haproxy_config(host, port, backends))
        check = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise ServeError(f"haproxy refused its configuration {config}: {(check.stdout + check.stderr).strip()}")
        balancer = room.start("haproxy", [haproxy, "-db", "-f", str(config)], env)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        room.url = f"http://{shown}:{port}/"
        _wait_http(f"{room.url}_stcore/health", balancer.process, balancer.log, "haproxy")
    except BaseException:
        room.stop()
        raise
    say(f"serving {room.url} ({processes} app process{'es' if processes > 1 else ''}, pids "
        f"{' '.join(map(str, room.app_pids()))}" + (f"; runs on Ray at {room.ray_address}" if room.ray_address
                                                    else "") + f"); logs in {folder}")
    say(teacher_code_line())
    return room


def teacher_code_line() -> str:
    """What serve says of the teacher code: the code (made once per model folder, as Jupyter's token), or that
    the operator's MNIST_APP_TEACHER_CODE is the one."""
    from mnist_core.classroom.teacher import CODE_ENV, Teachers

    if os.environ.get(CODE_ENV, "").strip():
        return f"teacher code: the one in {CODE_ENV} (enter it in the sidebar's \"I'm the teacher\")"
    try:
        return f"teacher code: {Teachers().code()} (enter it in the sidebar's \"I'm the teacher\")"
    except OSError as e:
        return f"no teacher code: the model folder cannot hold it ({e})"


def ensure_ray_token(env: dict[str, str]) -> None:
    """Make the token a Ray head with RAY_AUTH_MODE=token needs (~/.ray/auth_token) when there is none yet: on a
    fresh machine `ray start --head` refuses to start without one. The token is printed: kept out of any log."""
    done = subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "get-auth-token", "--generate"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=START_TIMEOUT)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ServeError(f"could not make a Ray token (~/.ray/auth_token): {last}")


def _start_ray_head(room: School, env: dict[str, str]) -> str:
    """A Ray head on this machine for the app processes to share runs on: the board that shows each run to
    every process (a share link works whichever process serves it) and one queue for the machine's CPUs
    (half of them train, one run each; on 2 cores: one run at a time)."""
    if importlib.util.find_spec("ray") is None:
        raise ServeError("several app processes share their runs through Ray: python -m pip install -r "
                         "requirements-ray.txt (or serve with --processes 1)")
    ensure_ray_token(env)
    port = free_port()
    head = room.start("ray head", [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--node-ip-address=127.0.0.1",
        f"--port={port}", f"--dashboard-port={free_port()}", f"--num-cpus={max(1, (os.cpu_count() or 2) // 2)}",
        "--include-dashboard=false", "--dashboard-host=127.0.0.1", "--disable-usage-stats"], env)
    _wait_ray_started(head)
    return f"127.0.0.1:{port}"


def _wait_ray_started(head: Part, start: int = 0) -> None:
    """Until the head's log says so after byte `start` (a restart appends to the log); ServeError if it ends or
    takes over START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    while "Ray runtime started" not in head.log.read_bytes()[start:].decode(errors="replace"):
        if head.process.poll() is not None or time.monotonic() > deadline:
            raise ServeError(f"the Ray head did not start; see {head.log}")
        time.sleep(0.3)


def serve(processes: int, host: str, port: int, ray_address: str | None = None, app: Path = APP) -> int:
    """Run the classroom until Ctrl-C or SIGTERM (or until a part of it stops: said, and everything stops)."""
    stopping = []

    def on_signal(signum, frame) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # Kept when a start fails or a part stops (the error names a log in it); removed after a clean stop.
    folder = Path(tempfile.mkdtemp(prefix="mnist-serve-"))
    clean = False
    try:
        room = start_school(folder, processes, host, port, ray_address, app)
        try:
            while not stopping:
                part = room.ended()
                if part is not None and part.restarts < MAX_RESTARTS and part.what == "ray head":
                    print(f"the Ray head stopped (exit code {part.process.returncode}); starting it again, then "
                          f"the app processes (runs training now are lost; see {part.log})", file=sys.stderr,
                          flush=True)
                    try:
                        room.restart_ray_head(part)
                    except ServeError as e:
                        print(f"error: {e}", file=sys.stderr)
                        return 1
                    print(f"the Ray head and the app processes are back (pids {' '.join(map(str, room.app_pids()))})",
                          file=sys.stderr, flush=True)
                elif part is not None and part.what.startswith("app process") and part.restarts < MAX_RESTARTS:
                    print(f"{part.what} stopped (exit code {part.process.returncode}); starting it again "
                          f"(see {part.log})", file=sys.stderr, flush=True)
                    room.restart(part)
                elif part is not None:
                    tail = part.log.read_text(errors="replace")[-2000:]
                    print(f"error: {part.what} stopped (exit code {part.process.returncode}); its log "
                          f"{part.log} ended with:\n{tail}", file=sys.stderr)
                    return 1
                time.sleep(0.3)
            print("stopping", file=sys.stderr)
            clean = True
            return 0
        finally:
            room.stop()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if clean:
            shutil.rmtree(folder, ignore_errors=True)
