"""A class on one app process against one on several, in the same run: `load.py` through `mnist_core serve`.

    python benchmarks/classroom_scale.py [--processes 2] [--students 60,120] [--seconds 60]

For 1 and then for --processes app processes (each through HAProxy, as `python -m mnist_core serve` starts
them on a free loopback port with an empty model store of its own), every class size in --students draws
for --seconds (load.py, warm, one drawing per student every 2 s). Prints a table and then one JSON list,
with the machine's load average before each class (the machine may be shared: say it with the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"serving (\S+) \(.*pids ([\d ]+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(processes: int, folder: Path) -> tuple[subprocess.Popen, str, list[int]]:
    """`python -m mnist_core serve` on loopback; its address and app processes' ids once it says them."""
    log = folder / f"serve-{processes}.log"
    out = open(log, "w")
    serve = subprocess.Popen([sys.executable, "-m", "mnist_core", "serve", "--processes", str(processes),
                              "--port", str(free_port()), "--host", "127.0.0.1", "--store", str(folder / "models")],
                             cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if found := SERVING.search(log.read_text()):
            return serve, found.group(1), [int(p) for p in found.group(2).split()]
        if serve.poll() is not None:
            break
        time.sleep(0.5)
    stop(serve)
    raise RuntimeError(f"mnist_core serve did not start: {log.read_text()[-2000:]}")


def stop(serve: subprocess.Popen) -> None:
    serve.send_signal(signal.SIGTERM)  # it stops HAProxy, the app processes and its Ray head
    try:
        serve.wait(180)
    except subprocess.TimeoutExpired:
        serve.kill()
        serve.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="the several (against 1)")
    parser.add_argument("--students", default="60,120", help="class sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    sizes = [int(n) for n in args.students.split(",")]
    rows = []
    for processes in dict.fromkeys([1, args.processes]):
        with tempfile.TemporaryDirectory(prefix="mnist-scale-") as folder:
            serve, url, pids = start_serve(processes, Path(folder))
            try:
                for students in sizes:
                    time.sleep(5)  # the last class's connections closed
                    load_average = os.getloadavg()[0]
                    done = subprocess.run(
                        [sys.executable, "benchmarks/load.py", "--url", url, "--server-pids", ",".join(map(str, pids)),
                         "--students", str(students), "--seconds", str(args.seconds), "--json"],
                        cwd=PROJECT, capture_output=True, text=True, timeout=args.seconds + 900)
                    if done.returncode != 0:
                        raise RuntimeError(f"load.py failed: {done.stderr[-2000:]}")
                    report = json.loads(done.stdout.strip().splitlines()[-1])
                    report.update(processes=processes, load_average_before=round(load_average, 2))
                    rows.append(report)
                    print(f"{processes} process(es), {students:4d} students: p50 {report['p50_s']} s, p95 "
                          f"{report['p95_s']} s, max {report['max_s']} s, {report['answers']} answers "
                          f"({report['wrong_answers']} wrong), {report['errors']} errors, "
                          f"{report['join_failures']} join failures; servers {report['server_rss_mb_warm']} -> "
                          f"{report['server_rss_mb']} MB; load average before {load_average:.2f}", flush=True)
            finally:
                stop(serve)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
