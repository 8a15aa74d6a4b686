"""Hostile files and downloads: what each gets, and the wall time and peak memory of refusing it.

Each case's file is built in a temporary folder, then opened in a fresh Python process, which reports
its outcome, the seconds the refusal took, its peak RSS (/proc VmHWM) and its peak RSS before the
refusal began (interpreter, numpy, torch). Goal (issue 16): each refused within 2 s and 200 MB.

Run: python benchmarks/reliability.py [--json] [--only CASE ...]
"""

from __future__ import annotations

import argparse
import http.server
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
from tests.hostile import gzip_idx_bomb, long_history_model, lying_model, png_bomb  # noqa: E402

GOAL_SECONDS, GOAL_MB = 2.0, 200


# --- in the child process: one refusal, measured ----------------------------------------------------

def attempt(case: str, target: str) -> str:
    """Do what a user's action would do with the hostile input; returns what it got."""
    if case in ("idx-gzip-bomb", "idx-honest-huge"):
        from mnist_core.net.data import read_idx
        read_idx(target, "images")
    elif case == "idx-bomb-in-folder":
        from mnist_core.net.data import load_mnist
        load_mnist(target)
    elif case.startswith("png-"):
        from mnist_core.net.preprocess import load_image
        load_image(target)
    elif case == "endless-download":
        from mnist_core.net.data import download
        folder, url = target.split("|")
        try:
            download(folder, mirrors=[url], timeout=10)
        finally:
            left = [p.name for p in Path(folder).glob(".*.part")]
            if left:
                print(json.dumps({"left": left}), file=sys.stderr)
    elif case == "model-list":
        from mnist_core.storage.models import ModelStore
        listed = ModelStore(target, builtin_dir=None).list()
        return "; ".join(f"{e.name}: {'damaged: ' + e.error if e.error else 'listed'}" for e in listed)
    elif case == "history-listed":
        from mnist_core.storage.models import ModelStore
        store = ModelStore(target, builtin_dir=None)
        listed = store.list()
        store.list()  # a second page: the same files, nothing read again
        return "; ".join(f"{e.name}: {'damaged: ' + e.error if e.error else 'listed'}" for e in listed)
    elif case == "history-unpickled":  # the baseline: what every listing did before issue 26, for each file
        import torch

        from mnist_core.storage.models import ModelMeta
        for path in sorted(Path(target).glob("*.pt")):
            ModelMeta.from_dict(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["meta"])
        return "read whole (as listings did before)"
    elif case == "model-load":
        from mnist_core.storage.models import ModelStore
        ModelStore(target, builtin_dir=None).load("liar")
    else:
        raise SystemExit(f"unknown case {case}")
    return "accepted"


def high_water_mb() -> float:
    """This process's peak RSS. /proc's VmHWM belongs to the memory map made at exec, so, unlike
    ru_maxrss, it does not inherit the parent's peak through the fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(case: str, target: str) -> None:
    import mnist_core.net.data  # noqa: F401 (imports are not part of the refusal)
    if case.startswith(("png-", "model-", "history-")):
        import mnist_core.net.preprocess  # noqa: F401 (imports torch)
        import mnist_core.storage.models  # noqa: F401
    before = high_water_mb()
    began = time.perf_counter()
    try:
        outcome = attempt(case, target)
    except Exception as e:  # what the user would see
        outcome = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if "could not download" in outcome:  # the mirror's line says why
            outcome += " / " + str(e).splitlines()[1].strip()
    seconds = time.perf_counter() - began
    print(json.dumps({"outcome": outcome, "seconds": seconds, "before_mb": before, "peak_mb": high_water_mb()}))


# --- in the parent: build each case, run it in a fresh process --------------------------------------

class EndlessServer:
    """Serves zeros for any path, without a length, until the client hangs up (at most 4 GB)."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.end_headers()
                block = bytes(1 << 16)
                try:
                    for _ in range((4 << 30) // len(block)):
                        self.wfile.write(block)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mnist/"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def build(case: str, tmp: Path, server: EndlessServer) -> tuple[str, str, int]:
    """The case's target for the child, a description, and the hostile file's size in bytes."""
    if case == "idx-gzip-bomb":
        path = gzip_idx_bomb(tmp / "train-images-idx3-ubyte.gz", items=60_000, expands_to=4_300_000_000)
        what = "gzip posing as train-images: header says 60,000 images, expands to 4.3 GB"
        return str(path), what, path.stat().st_size
    if case == "idx-bomb-in-folder":
        import gzip

        import numpy as np

        from tests.helpers import idx_bytes, write_mnist
        folder = tmp / "mnist"
        write_mnist(folder)
        (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(60_000, np.uint8))))
        path = gzip_idx_bomb(folder / "train-images-idx3-ubyte.gz", items=60_000, expands_to=4_300_000_000)
        what = "the same bomb in the data folder, 60,000 labels beside it (load_mnist)"
        return str(folder), what, path.stat().st_size
    if case == "idx-honest-huge":
        path = gzip_idx_bomb(tmp / "huge.gz", items=5_000_000, expands_to=5_000_000 * 784 + 16)
        return str(path), "gzip whose header honestly promises 5,000,000 images (3.9 GB)", path.stat().st_size
    if case == "png-bomb":
        path = tmp / "bomb.png"
        path.write_bytes(png_bomb(20_000, 20_000))
        return str(path), "PNG of 20000x20000 pixels (over Pillow's bomb limit)", path.stat().st_size
    if case == "png-over-cap":
        path = tmp / "big.png"
        path.write_bytes(png_bomb(6_000, 6_000))
        return str(path), "PNG of 6000x6000 pixels (under Pillow's limit, over the app's)", path.stat().st_size
    if case == "endless-download":
        return f"{tmp / 'download'}|{server.url}", "a mirror that sends zeros without end (download)", 0
    if case in ("history-listed", "history-unpickled"):
        store = tmp / "history"
        path = store / "long.pt"
        if not path.exists():
            long_history_model(store, rows=2_000_000)
        verb = "listed twice" if case == "history-listed" else "unpickled whole, as listings did before"
        return str(store), f"model file whose history claims 2,000,000 epochs ({verb})", path.stat().st_size
    if case in ("model-list", "model-load"):
        store = tmp / "store"
        path = store / "liar.pt"
        if not path.exists():
            lying_model(store)
        verb = "listed" if case == "model-list" else "loaded"
        return str(store), f"model file of a 784-50-10 MLP whose metadata claims hidden [500000] ({verb})", \
            path.stat().st_size
    raise SystemExit(f"unknown case {case}")


CASES = ("idx-gzip-bomb", "idx-bomb-in-folder", "idx-honest-huge", "png-bomb", "png-over-cap", "endless-download",
         "model-list", "model-load", "history-unpickled", "history-listed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", nargs="*", choices=CASES, default=list(CASES))
    parser.add_argument("--child", nargs=2, metavar=("CASE", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    results = []
    server = EndlessServer()
    try:
        with tempfile.TemporaryDirectory(prefix="reliability-") as tmp_name:
            for case in args.only:
                tmp = Path(tmp_name) / case.split("-")[0]
                tmp.mkdir(exist_ok=True)
                target, what, size = build(case, tmp, server)
                began = time.perf_counter()
                run = subprocess.run([sys.executable, __file__, "--child", case, target], cwd=PROJECT,
                                     capture_output=True, text=True, timeout=600)
                wall = time.perf_counter() - began
                if run.returncode != 0 or not run.stdout.strip():
                    report = {"outcome": f"process failed ({run.returncode}): {run.stderr.strip()[-300:]}",
                              "seconds": wall, "before_mb": float("nan"), "peak_mb": float("nan")}
                else:
                    report = json.loads(run.stdout.strip().splitlines()[-1])
                report.update(case=case, what=what, file_bytes=size, process_seconds=wall,
                              part_files_left=run.stderr.count('"left"'))
                report["extra_mb"] = report["peak_mb"] - report["before_mb"]
                report["goal_met"] = report["seconds"] <= GOAL_SECONDS and report["extra_mb"] <= GOAL_MB
                results.append(report)
    finally:
        server.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'case':<20} {'file':>9} {'refusal s':>9} {'peak RSS MB':>11} {'before MB':>9} {'extra MB':>8} "
          f"{'goal':>4}  outcome")
    for r in results:
        size = f"{r['file_bytes'] / 1e6:.2f} MB" if r["file_bytes"] else "-"
        print(f"{r['case']:<20} {size:>9} {r['seconds']:>9.2f} {r['peak_mb']:>11.0f} {r['before_mb']:>9.0f} "
              f"{r['extra_mb']:>8.0f} {'yes' if r['goal_met'] else 'NO':>4}  {r['outcome'][:150]}")
    print(f"goal: refused within {GOAL_SECONDS:.0f} s and {GOAL_MB} MB beyond the process's RSS before the "
          "refusal (interpreter, numpy, torch). Machine shared and noisy: times vary.")


if __name__ == "__main__":
    main()
