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
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from benchmarks.load import Http, Server  # noqa: E402
from benchmarks.suite_cpu import cpu_seconds  # noqa: E402

BODY = b'{"ticket":"x.y","alpha":{}}'  # refused with 403 once its ticket is checked


async def posts(server: Server, count: int, warm: int = 200) -> tuple[float, float, set[int]]:
    """`count` refused posts back to back on one keep-alive connection (load.py's client, after `warm` more
    for the imports and first answers): the server's CPU seconds, the wall seconds and the statuses seen."""
    http = Http(server.url)
    try:
        for _ in range(warm):
            await http.post("/api/answer", BODY, "mnist_owner=benchmark")
        cpu, wall = cpu_seconds(server.process.pid), time.monotonic()
        statuses = {(await http.post("/api/answer", BODY, "mnist_owner=benchmark"))[0] for _ in range(count)}
        return cpu_seconds(server.process.pid) - cpu, time.monotonic() - wall, statuses
    finally:
        http.close()


def measure(count: int, uvloop: bool, folder: Path) -> dict:
    server = Server(folder, block=() if uvloop else ("uvloop",))
    try:
        cpu, wall, statuses = asyncio.run(posts(server, count))
    finally:
        server.stop()
    return {"uvloop": uvloop, "server_cpu_ms": round(1000 * cpu / count, 3), "wall_ms": round(1000 * wall / count, 3),
            "statuses": sorted(statuses)}


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
