"""Seconds per epoch of one config trained from the command line and from the app's Train page, in the same run,
with load.py's protocol client as the watching browser (a class's browsers are on other machines, not on the
server's cores as Chromium was in app_figures.py).

    python benchmarks/page_vs_cli.py [--epochs 3] [--rounds 2]

Each round: `python -m mnist_core train --preset recommended --epochs E` into a store of its own, then the same
on a fresh `streamlit run app.py` (a Train click over Streamlit's websocket protocol, its live charts polled as a
browser polls them, until "saved"). The epochs' own seconds (training plus scoring, as each model's history
records them) give s/epoch; prints both, the ratio page / CLI, and the configs when they differ.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402  (benchmarks/load.py: the protocol client and the server it starts)

sys.path.insert(0, str(load.PROJECT))
from mnist_core.storage.models import ModelStore  # noqa: E402


def saved_meta(store: Path):
    names = [p.stem for p in store.glob("*.pt")]
    if len(names) != 1:
        raise RuntimeError(f"expected one saved model in {store}, found {names}")
    return ModelStore(store).meta(names[0])


def cli_run(epochs: int, folder: Path):
    subprocess.run([sys.executable, "-m", "mnist_core", "train", "--preset", "recommended", "--epochs", str(epochs),
                    "--store", str(folder / "cli"), "--name", "cli-run"], cwd=load.PROJECT, check=True,
                   capture_output=True)
    return saved_meta(folder / "cli")


def page_run(epochs: int, folder: Path):
    """A Train click on a fresh server, watched by the protocol client until saved; the Train page's defaults
    are the recommended preset (checked against the CLI's config by the caller)."""
    server = load.Server(folder)
    try:
        tally = load.Tally()
        asyncio.run(trainer_with_epochs(server.url, epochs, tally))
        if tally.runs_saved != 1:
            raise RuntimeError(f"the page's run was not saved: {tally.errors[:3]} {tally.join_failures[:3]}")
        return saved_meta(server.store)
    finally:
        server.stop()


async def trainer_with_epochs(base: str, epochs: int, tally: load.Tally) -> None:
    """load.trainer's steps with `epochs` instead of 1: open Train, set Epochs, click Train, poll until saved."""
    session = await load.join(base, "", tally)
    if session is None:
        return
    epochs_field, train = session.widgets["number:Epochs"], session.widgets["button:Train"]
    await session.send(widgets=[load.widget(epochs_field, int_value=epochs)])
    await session.run_to_end(load.ANSWER_TIMEOUT)
    await session.send(widgets=[load.widget(epochs_field, int_value=epochs), load.widget(train, trigger_value=True)])
    await session.run_to_end(load.ANSWER_TIMEOUT)
    last: dict[str, float] = {}
    deadline = time.monotonic() + load.RUN_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if any(load.SAVED.search(t) for t in session.texts):
                tally.runs_saved += 1
                return
            if session.exceptions or any(load.FAILED.search(t) for t in session.texts):
                tally.errors.append(str(session.exceptions or [t for t in session.texts if load.FAILED.search(t)]))
                return
            now = time.monotonic()
            for fragment, interval in list(session.auto_rerun.items()):  # the live charts, as a browser polls
                if now - last.get(fragment, 0) >= interval and session.finished.is_set():
                    last[fragment] = now
                    texts = list(session.texts)
                    await session.send(fragment=fragment, auto=True)
                    session.texts.extend(texts)
            await asyncio.sleep(0.05)
    finally:
        await session.ws.close()


def per_epoch(meta) -> float:
    return statistics.fmean(record.seconds for record in meta.history)


def epochs_of(meta) -> str:
    return ", ".join(f"{record.seconds:.2f}" for record in meta.history)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    ratios = []
    for round_ in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="mnist-page-cli-") as folder:
            load_average = os.getloadavg()[0]
            cli = cli_run(args.epochs, Path(folder))
            page = page_run(args.epochs, Path(folder))
            cli_config, page_config = cli.config.to_dict(), page.config.to_dict()
            differ = {k: (v, page_config[k]) for k, v in cli_config.items() if v != page_config[k]}
            cli_s, page_s = per_epoch(cli), per_epoch(page)
            ratios.append(page_s / cli_s)
            print(f"round {round_}: CLI {cli_s:.2f} s/epoch ({epochs_of(cli)}), "
                  f"page {page_s:.2f} s/epoch ({epochs_of(page)}): "
                  f"page/CLI {page_s / cli_s:.2f}x; load average before {load_average:.2f}"
                  + (f"; configs differ: {differ}" if differ else ""), flush=True)
    print(f"page/CLI per epoch: {', '.join(f'{r:.2f}x' for r in ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
