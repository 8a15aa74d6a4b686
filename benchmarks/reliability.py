"""Hostile files and downloads: what each gets, and the wall time and peak memory of refusing it.

Each case's file is built in a temporary folder, then opened in a fresh Python process, which reports
its outcome, the seconds the refusal took, its peak RSS (/proc VmHWM) and its peak RSS before the
refusal began (interpreter, numpy, torch). Goal (issue 16): each refused within 2 s and 200 MB.

Run: python benchmarks/reliability.py [--json] [--only CASE ...]
"""

from __future__ import annotations

import argparse
import gc
import http.server
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

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


# --- the denial-of-service cases of issue 26: one student's load, another student's answer, before and after ---
# Each runs in a fresh process whose code is either this checkout or --base (a worktree of the commit before
# the change: `git worktree add /tmp/base26 42df2a9`), through the functions the pages call (ui.caches, the
# engine), page threads as in the server: a loader thread does what the hostile student's clicks cause while
# another thread answers a drawing as the Draw page does, every 0.2 s; its p95 is "another student's answer".

DOS_CASES = ("class-add-flood", "nearest-big")
FLOOD_DRAWINGS = int(os.environ.get("RELIABILITY_DRAWINGS", "3000"))  # the class collection already there
FLOOD_EVERY = 0.5  # seconds between one student's Adds
DOS_SECONDS = float(os.environ.get("RELIABILITY_SECONDS", "30"))  # how long each case loads the server
# 784-8192-10 models looked at on the Inside page, one after another
BIG_MODELS = int(os.environ.get("RELIABILITY_MODELS", "4"))


def _answerer(stop: threading.Event, latencies: list[float]) -> None:
    """Another student's drawing read and answered as the Draw page does (preprocess, then the model)."""
    from mnist_core.net.evaluate import predict_probs
    from mnist_core.net.preprocess import mnist_style
    from mnist_core.storage.models import ModelStore

    model, _, _ = ModelStore().load("default")
    drawing = np.zeros((280, 280, 4), np.uint8)
    drawing[60:220, 130:150, 3] = 255
    while not stop.is_set():
        began = time.perf_counter()
        predict_probs(model, mnist_style(drawing).output[None])
        latencies.append(time.perf_counter() - began)
        stop.wait(0.2)


def dos_child(case: str, folder: str) -> None:
    sys.path.insert(0, str(Path.cwd()))  # the code under test: this checkout or --base, whichever runs it
    import streamlit  # noqa: F401 (ui.caches' st.cache_resource runs bare here: the pages' own caches)

    before = high_water_mb()
    stop, latencies, done = threading.Event(), [], {"loads": 0, "load_seconds": []}
    answering = threading.Thread(target=_answerer, args=(stop, latencies), daemon=True)
    if case == "class-add-flood":
        from mnist_core.classroom.collection import tally
        from ui.caches import collection_part
        from ui.engine import classroom

        collection_part("class-2026", "all")  # the server had read it once already
        answering.start()
        drawing = np.zeros((280, 280, 4), np.uint8)
        drawing[60:220, 130:150, 3] = 255
        deadline = time.monotonic() + DOS_SECONDS
        while time.monotonic() < deadline:
            began = time.perf_counter()
            classroom().add(drawing, 1, "flooder-key-0123456789abcdef", "F")  # the Draw page's Add
            drawings, _ = collection_part("class-2026", "all")  # the Draw page's count, the Class page's tally
            collection_part("class-2026", "learn")
            tally(drawings)
            done["load_seconds"].append(time.perf_counter() - began)
            done["loads"] += 1
            time.sleep(max(0.0, FLOOD_EVERY - (time.perf_counter() - began)))
    else:
        import torch

        from mnist_core.net.data import load_mnist
        from mnist_core.net.inside import features, hidden_index
        from mnist_core.net.model import MLP

        images = load_mnist().train_images
        try:  # after: the Inside page's budget in bytes
            from ui.caches import inside_cache

            def keep(key, make):
                return inside_cache().get(key, make)
        except ImportError:  # before: st.cache_resource(max_entries=4) on the page, every index kept
            kept = {}

            def keep(key, make):
                if key not in kept:
                    kept[key] = make()
                    while len(kept) > 4:
                        kept.pop(next(iter(kept)))
                return kept[key]
        answering.start()
        for i in range(BIG_MODELS):
            torch.manual_seed(i)
            model = MLP(hidden=(8192,))
            began = time.perf_counter()
            index = keep(("neighbours", f"big-{i}", "v1"), lambda model=model: hidden_index(model, images))
            index.query(features(model, images[:1], -1)[0], 8)  # the page's question: nearest to a drawing
            done["load_seconds"].append(time.perf_counter() - began)
            done["loads"] += 1
    stop.set()
    answering.join(5)
    gc.collect()
    print(json.dumps({"before_mb": before, "peak_mb": high_water_mb(), "loads": done["loads"],
                      "load_p50_s": float(np.median(done["load_seconds"])) if done["load_seconds"] else None,
                      "answers": len(latencies), "answer_p95_s": float(np.percentile(latencies, 95)) if latencies
                      else None, "answer_max_s": max(latencies) if latencies else None}))


def dos_main(base: Path, as_json: bool) -> None:
    """Each case before (--base's code) and after (this checkout), in the same run."""
    from mnist_core.classroom.collection import ClassCollection
    from mnist_core.storage.drawings import Collections

    results = []
    with tempfile.TemporaryDirectory(prefix="reliability-dos-") as tmp_name:
        tmp = Path(tmp_name)
        seed = ClassCollection(Collections(tmp / "seed"))
        seed.open("class-2026", owner="teacher-key-0123456789abcdef")
        rng = np.random.default_rng(0)
        for i in range(FLOOD_DRAWINGS):  # 3,000 drawings of a class, built once, copied for each run
            drawing = np.zeros((280, 280, 4), np.uint8)
            x = int(rng.integers(40, 220))
            drawing[50:230, x:x + 18, 3] = 255
            seed.add(drawing, i % 10, f"student-key-{i % 30:02d}-0123456789abc", f"s{i % 30}")
        for case in DOS_CASES:
            for label, root in (("before", base), ("after", PROJECT)):
                run_dir = tmp / f"{case}-{label}"
                shutil.copytree(tmp / "seed", run_dir / "drawings")
                env = {**os.environ, "MNIST_DRAWINGS": str(run_dir / "drawings"),
                       "MNIST_MODELS": str(run_dir / "models"), "PYTHONPATH": str(root)}
                run = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--dos-child", case, str(run_dir)],
                                     cwd=root, env=env, capture_output=True, text=True, timeout=1200)
                if run.returncode != 0 or not run.stdout.strip():
                    report = {"error": f"process failed ({run.returncode}): {run.stderr.strip()[-300:]}"}
                else:
                    report = json.loads(run.stdout.strip().splitlines()[-1])
                report.update(case=case, code=label)
                results.append(report)
    if as_json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'case':<16} {'code':<7} {'loads':>5} {'load p50 s':>10} {'peak RSS MB':>11} {'extra MB':>8} "
          f"{'answers':>7} {'answer p95 s':>12} {'max s':>6}")
    for r in results:
        if "error" in r:
            print(f"{r['case']:<16} {r['code']:<7} {r['error']}")
            continue
        print(f"{r['case']:<16} {r['code']:<7} {r['loads']:>5} {r['load_p50_s']:>10.2f} {r['peak_mb']:>11.0f} "
              f"{r['peak_mb'] - r['before_mb']:>8.0f} {r['answers']:>7} {r['answer_p95_s']:>12.3f} "
              f"{r['answer_max_s']:>6.2f}")
    print(f"class-add-flood: {FLOOD_DRAWINGS:,} drawings, one Add every {FLOOD_EVERY} s for {DOS_SECONDS:.0f} s; "
          f"nearest-big: the nearest-digits index of {BIG_MODELS} 784-8192-10 models in turn. Goal: another "
          "student's answer p95 < 0.5 s, memory flat. Machine shared and noisy: times vary.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", nargs="*", choices=CASES, default=list(CASES))
    parser.add_argument("--child", nargs=2, metavar=("CASE", "TARGET"), help=argparse.SUPPRESS)
    parser.add_argument("--dos", action="store_true", help="the denial-of-service cases of issue 26 instead, "
                        "before (--base) and after")
    parser.add_argument("--base", type=Path, default=Path("/tmp/base26"),
                        help="a worktree of the commit before (git worktree add /tmp/base26 42df2a9)")
    parser.add_argument("--dos-child", nargs=2, metavar=("CASE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.dos_child:
        dos_child(*args.dos_child)
        return
    if args.dos:
        dos_main(args.base, args.json)
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
