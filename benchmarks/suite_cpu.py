"""Where the test suite's CPU goes: runs pytest (the arguments after `--`, else the whole suite as README runs
it) while reading /proc once a second, and prints the wall time and the CPU seconds of each kind of process
it started (Chromium, the pytest workers, the Streamlit servers, training children, Ray, ...). On 2 cores
the suite is CPU-bound, so the kinds' shares say which cuts can shorten it.

    python benchmarks/suite_cpu.py [--json] [-- tests/e2e -x]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
# (word in the command line, kind), first match wins (`train --ray` is a CLI run, not Ray's); the pytest workers
# are xdist's `python -c` children.
KINDS = (("chromium", "chromium"), ("streamlit run", "streamlit servers"), ("forkserver", "training children"),
         ("mnist_core.runs.child", "training children"), ("mnist_core serve", "serve"), ("-m mnist_core", "CLI runs"),
         ("haproxy", "haproxy"), ("ray", "ray"), ("gcs_server", "ray"), ("exec(eval(sys.stdin", "pytest workers"),
         ("pytest", "pytest"), ("playwright", "playwright driver"))


def kind_of(command: str) -> str:
    return next((kind for word, kind in KINDS if word in command), "other")


def cpu_seconds(pid: int | str, reaped: bool = False) -> float:
    """A process's user + system time (all its threads); with `reaped`, its ended children's too (those it
    waited for). OSError when it is gone."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15 if reaped else 13]) / TICKS


def descendants(root: int) -> set[str]:
    """Every living process under `root`, read from /proc's parent links."""
    children: dict[str, list[str]] = collections.defaultdict(list)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                children[f.read().rsplit(")", 1)[1].split()[1]].append(pid)
        except OSError:
            continue
    found, todo = set(), [str(root)]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def sample(root: int, done: threading.Event, totals: collections.Counter, every: float = 1.0) -> None:
    """Each second, each descendant's CPU since the last look, added to its kind (a process that ends between
    two looks loses its last second: at most a second a process)."""
    seen: dict[str, list] = {}  # pid -> [cpu seconds so far, kind]
    while not done.wait(every):
        for pid in descendants(root) | {str(root)}:
            try:
                now = cpu_seconds(pid)
                if pid not in seen:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        seen[pid] = [0.0, kind_of(f.read().replace(b"\0", b" ").decode(errors="replace"))]
            except OSError:
                continue
            totals[seen[pid][1]] += now - seen[pid][0]
            seen[pid][0] = now


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ours, theirs = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(ours)
    started = time.monotonic()
    suite = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *theirs], cwd=PROJECT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    totals: collections.Counter = collections.Counter()
    done = threading.Event()
    watcher = threading.Thread(target=sample, args=(suite.pid, done, totals), daemon=True)
    watcher.start()
    tail = collections.deque(suite.stdout, maxlen=3)
    suite.wait()
    done.set()
    watcher.join()
    wall = time.monotonic() - started
    cpu = sum(totals.values())
    report = {"wall_s": round(wall, 1), "exit": suite.returncode, "cpu_s": round(cpu, 1),
              "by_kind_s": {kind: round(s, 1) for kind, s in totals.most_common()},
              "pytest_said": "".join(tail).strip()}
    if args.json:
        print(json.dumps(report))
        return
    print(f"wall {wall:.0f} s, exit {suite.returncode}, CPU {cpu:.0f} s of the {os.cpu_count()} cores' "
          f"{wall * os.cpu_count():.0f}")
    for kind, seconds in totals.most_common():
        print(f"  {kind:18s} {seconds:7.1f} s  {seconds / cpu:5.1%}")
    print(report["pytest_said"])


if __name__ == "__main__":
    main()
