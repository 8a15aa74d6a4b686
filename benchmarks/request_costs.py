"""What one HTTP request costs the app's server, with and without uvloop (Streamlit runs its server on uvloop
whenever it is installed; the project does not pin it: Ray takes it too, see README): the same refused post
to the quick answer's route (ui/quick_answer.py, a ticket that is not one: the route's own work is ~0.04 ms),
sent back to back on one keep-alive connection, as a browser drawing fast sends its strokes. Prints the
server's CPU and the wall time per request for each, alternating, and their ratios.

    pip install uvloop==0.23.0 && python benchmarks/request_costs.py [--posts 3000] [--rounds 2] [--json]

Loopback only; each server it starts has its own empty model store and is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from benchmarks.load import blocking, free_port  # noqa: E402
from benchmarks.suite_cpu import cpu_seconds  # noqa: E402

BODY = b'{"ticket":"x.y","alpha":{}}'  # refused with 403 once its ticket is checked


def request() -> bytes:
    return (b"POST /api/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nCookie: mnist_owner=benchmark\r\nAccept-Encoding: gzip\r\n\r\n" % len(BODY)) + BODY


def exchange(sock: socket.socket, sent: bytes) -> int:
    """One request and its whole response; the response's status."""
    sock.sendall(sent)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(lines[0].split()[1])


def measure(posts: int, uvloop: bool, folder: Path) -> dict:
    port = free_port()
    env = {**os.environ, "MNIST_MODELS": str(folder / "models")}
    if not uvloop:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [blocking(["uvloop"], folder, "blocked for a comparison"),
                                                          env.get("PYTHONPATH")]))
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--browser.gatherUsageStats", "false"], cwd=PROJECT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the client sends each request at once
            sent = request()
            for _ in range(200):  # warm: imports, first answers
                exchange(sock, sent)
            cpu, wall = cpu_seconds(server.pid), time.monotonic()
            statuses = {exchange(sock, sent) for _ in range(posts)}
            cpu, wall = cpu_seconds(server.pid) - cpu, time.monotonic() - wall
        return {"uvloop": uvloop, "server_cpu_ms": round(1000 * cpu / posts, 3),
                "wall_ms": round(1000 * wall / posts, 3), "statuses": sorted(statuses)}
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2, help="each server started this many times, alternating")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        import uvloop  # noqa: F401
    except ModuleNotFoundError:
        parser.error("uvloop is not installed, so both servers would run on asyncio: pip install uvloop==0.23.0")
    results = []
    with tempfile.TemporaryDirectory(prefix="mnist-requests-") as folder:
        for round_ in range(args.rounds):
            for uvloop in (False, True):
                place = Path(folder) / f"{round_}-{uvloop}"
                place.mkdir()
                results.append(measure(args.posts, uvloop, place))
                if not args.json:
                    print(results[-1], file=sys.stderr)
    summary = {}
    for uvloop in (False, True):
        runs = [r for r in results if r["uvloop"] == uvloop]
        summary["uvloop" if uvloop else "asyncio"] = {
            "server_cpu_ms": statistics.median(r["server_cpu_ms"] for r in runs),
            "wall_ms": statistics.median(r["wall_ms"] for r in runs)}
    summary["cpu_ratio"] = round(summary["asyncio"]["server_cpu_ms"] / summary["uvloop"]["server_cpu_ms"], 2)
    summary["wall_ratio"] = round(summary["asyncio"]["wall_ms"] / summary["uvloop"]["wall_ms"], 1)
    summary["runs"] = results
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
