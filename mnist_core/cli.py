"""The command line: `python -m mnist_core train / evaluate / predict / models / download / serve`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, fields, replace

import numpy as np
from tqdm import tqdm

from mnist_core.net.config import (
    check_run_cost,
    ConfigError,
    OPTIMIZERS,
    parse_hidden,
    PRESETS,
    SCHEDULES,
    TrainConfig,
)
from mnist_core.net.data import download, files_to_fetch, find_data_dir, load_mnist, MnistDataError
from mnist_core.net.device import DeviceError, resolve_device
from mnist_core.net.evaluate import evaluate, read_digit
from mnist_core.net.history import EpochRecord, Progress
from mnist_core.net.model import ACTIVATIONS, layers_label
from mnist_core.net.perturb import PERTURBATIONS, robustness_curve
from mnist_core.net.preprocess import load_image, PreprocessError
from mnist_core.net.synth import find_cache_dir
from mnist_core.runs.body import save_run, train_run
from mnist_core.runs.jobs import runner_for
from mnist_core.runs.spec import EpochDone, Message, Preparing, Report, RunError, RunSpec, Started
from mnist_core.storage.models import default_model_name, model_name, ModelStore, StoreError
from mnist_core.texts import os_error_text


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return parse_hidden(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


class OneLineParser(argparse.ArgumentParser):
    """A bad argument is one line and exit code 2 (argparse's own prints the whole usage first); `--help` still
    shows the usage. Subcommands' parsers are of this class too (argparse makes them of the parent's)."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog.split()[-1]}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m mnist_core", description="Train and use MLPs on MNIST.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, data: bool = True, store: bool = True) -> None:
        if data:
            p.add_argument("--data-dir", help="folder of the MNIST IDX files (default: $MNIST_DIR, else data/mnist)")
        if store:
            p.add_argument("--store", help="folder of saved models (default: $MNIST_MODELS, else models/)")

    t = sub.add_parser("train", help="train a model and save it to the store")
    t.add_argument("--preset", choices=list(PRESETS), default="recommended",
                   help="named setting to start from; the options below override it")
    t.add_argument("--epochs", type=int)
    t.add_argument("--hidden", type=_hidden, help="hidden layer sizes, e.g. 256,128")
    t.add_argument("--activation", choices=list(ACTIVATIONS))
    t.add_argument("--dropout", type=float)
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--lr", type=float)
    t.add_argument("--momentum", type=float, help="SGD momentum")
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    t.add_argument("--augment", type=float, help="augmentation strength 0-2: 0 off, 1 standard (best-mlp), 2 strong")
    t.add_argument("--no-elastic", dest="elastic", action="store_const", const=False,
                   help="augment without elastic distortion")
    t.add_argument("--fill-in", action=argparse.BooleanOptionalAction, default=None,
                   help="when augmenting, fill in small loops and shrink a quarter of the digits, as a fat pen does")
    t.add_argument("--hands", action=argparse.BooleanOptionalAction, default=None,
                   help="when augmenting or drawing digits, slant, squeeze or stretch half of them and scan some at "
                        "low resolution, as real writers and scanners do")
    t.add_argument("--drawn", type=float,
                   help="share of the training digits also drawn on a canvas and read back as the Draw page "
                        "does, shown in their place every epoch: 0 (off) to 1")
    t.add_argument("--name", help="name in the store (default: made from the layers and the time)")
    t.add_argument("--threads", type=int,
                   help="CPU threads (default: one per CPU other processes leave free, followed as that changes)")
    t.add_argument("--json", action="store_true", help="one JSON object per epoch on stdout")
    t.add_argument("--ray", metavar="ADDRESS",
                   help="train on the Ray cluster at ADDRESS (auto, HOST:PORT, ray://HOST:PORT), a GPU where it has "
                        "one; 'local' starts Ray on this machine for the run (needs requirements-ray.txt)")
    common(t)

    e = sub.add_parser("evaluate", help="score a stored model on the test set")
    e.add_argument("--model", required=True)
    e.add_argument("--json", action="store_true")
    e.add_argument("--robustness", nargs="+", choices=list(PERTURBATIONS), metavar="CHANGE",
                   help=f"also the test accuracy under each level of these changes ({', '.join(PERTURBATIONS)})")
    common(e)

    p = sub.add_parser("predict", help="read digits from image files")
    p.add_argument("--model", required=True)
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("files", nargs="+", metavar="FILE")
    common(p, data=False)

    m = sub.add_parser("models", help="list the stored models")
    m.add_argument("--json", action="store_true")
    common(m, data=False)

    d = sub.add_parser("download", help="fetch the MNIST files that are missing")
    common(d, store=False)

    s = sub.add_parser("serve", help="serve the app to a class: several app processes behind one address")
    s.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="Streamlit processes (each uses about one core when busy; default: one per CPU)")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--host", default="0.0.0.0", help="address to listen on (default: every interface)")
    s.add_argument("--ray", help="a Ray cluster for the runs (default: $MNIST_RAY_ADDRESS; with several "
                   "processes and none given, a Ray head started on this machine)")
    common(s)
    return parser


# --- train -----------------------------------------------------------------------------------

class ProgressBar:
    """A tqdm bar per epoch on `stream` (stderr), gone when the epoch ends; silent where it is not a
    terminal (a pipe, a log), so stdout and --json stay clean."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.bar: tqdm | None = None

    def __call__(self, p: Progress) -> None:
        if self.bar is None:
            self.bar = tqdm(total=p.batches, desc=f"Epoch {p.epoch}/{p.epochs}", unit="batch", leave=False,
                            file=self.stream, disable=None, dynamic_ncols=True)
        if p.batch_losses:
            self.bar.set_postfix(loss=f"{np.mean(p.batch_losses):.4f}", refresh=False)
        self.bar.update(p.batch - self.bar.n)
        if p.batch == p.batches:
            self.close()

    def close(self) -> None:
        """The bar gone (an epoch ended, or a Stop cut it short)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print_epoch(record: EpochRecord, epochs: int, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(record)), flush=True)
    else:
        r = record
        dead = max(r.dead_share, default=0.0)
        health = f", {dead:.0%} of a layer's units dead" if dead > 0 else ""
        print(f"Epoch {r.epoch}/{epochs}: loss {r.loss:.4f}, train F1 {r.train_f1:.4f}, test F1 {r.test_f1:.4f}, "
              f"test accuracy {r.test_accuracy:.2%}{health} ({r.seconds:.1f} s)", flush=True)


class RunPrinter:
    """What a run says on the terminal: drawing and where it trains on stderr, a bar, a line per epoch."""

    def __init__(self, epochs: int, as_json: bool) -> None:
        self.epochs, self.as_json = epochs, as_json
        self.bar = ProgressBar()
        self.began = time.perf_counter()
        self.drawing_since: float | None = None

    def __call__(self, message: Message) -> None:
        match message:
            case Preparing(text=text):
                self.drawing_since = time.perf_counter()
                print(f"{text} (cached in {find_cache_dir()})", file=sys.stderr, flush=True)
            case Started(device=device, host=host, threads=threads):
                if self.drawing_since is not None:
                    print(f"Drawn in {time.perf_counter() - self.drawing_since:.1f} s", file=sys.stderr, flush=True)
                print(f"Training with {threads} CPU thread{'s' * (threads != 1)} on {device} ({host}), "
                      f"{time.perf_counter() - self.began:.1f} s after the start", file=sys.stderr, flush=True)
            case Report(progress=progress) if progress is not None:
                self.bar(progress)
            case EpochDone(record=record):
                self.bar.close()
                _print_epoch(record, self.epochs, self.as_json)


def cmd_train(args: argparse.Namespace) -> int:
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    config = replace(PRESETS[args.preset], **given)
    check_run_cost(config)  # the ceilings the app has too: no run makes a model the store would call damaged
    if args.threads is not None and not 1 <= args.threads <= 1024:
        raise ConfigError(f"--threads must be 1..1024, got {args.threads}")
    if not args.ray:
        resolve_device(config.device)  # an absent device is an error now, not after loading the data
    store = ModelStore(args.store)
    name = model_name(args.name or default_model_name(config.hidden))
    if store.exists(name):  # refuse before training, not after
        raise StoreError(f"a model named '{name}' exists already in {store.root}; choose another --name")
    store.check_writable()  # a read-only or full store: said now, not after the whole run
    data = load_mnist(args.data_dir)
    print("Settings: " + "; ".join(f"{label} {value}" for label, value in config.summary().rows()),
          file=sys.stderr, flush=True)
    spec = RunSpec(config, config.epochs, threads=args.threads or 0, live_weights=False)
    runner = None
    if args.ray:
        try:
            runner = runner_for(args.ray)  # an address nobody answers: one line in seconds, not Ray's retries
        except ImportError:
            raise ConfigError("--ray needs Ray: python -m pip install -r requirements-ray.txt") from None
        except RunError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    stop = threading.Event()
    # Ctrl-C: finish the batch, then keep and save what was learned.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    try:
        if runner is not None:
            result = runner.run(spec, data, RunPrinter(config.epochs, args.json), stop)
        else:
            result = train_run(spec, data, RunPrinter(config.epochs, args.json), stop.is_set)
    except RunError as e:
        print(f"error: the run failed: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        path = save_run(store, result, name)
    except StoreError:
        if not store.exists(name):
            raise
        # Another run took the name while this one trained: keep the work under a free name.
        taken, name = name, store.free_name(name)
        path = save_run(store, result, name)
        print(f"'{taken}' was taken while this run trained; saved as '{name}' instead", file=sys.stderr)
    last = f", test F1 {result.history[-1].test_f1:.4f}" if result.history else ""
    print(f"{'Stopped; saved' if result.stopped else 'Saved'} model '{name}' to {path} ({result.seconds:.1f} s{last})",
          file=sys.stderr)
    return 130 if result.stopped else 0


# --- evaluate, predict, models, download ----------------------------------------------------------

def cmd_evaluate(args: argparse.Namespace) -> int:
    model, meta, _ = ModelStore(args.store).load(args.model)
    data = load_mnist(args.data_dir)
    result = evaluate(model, data.test_images, data.test_labels)
    curves = {kind: robustness_curve(model, data.test_images, data.test_labels, kind)
              for kind in args.robustness or []}
    if args.json:
        robustness = {kind: [{"level": level, "accuracy": accuracy} for level, accuracy in curve]
                      for kind, curve in curves.items()}
        print(json.dumps({"model": meta.name, **result.summary(), **({"robustness": robustness} if curves else {})}))
        return 0
    print(f"Model '{meta.name}' on the {len(result.labels):,} test digits: accuracy {result.accuracy:.2%}, "
          f"macro-F1 {result.macro_f1:.4f}, {len(result.mistakes)} mistakes")
    print("digit  precision  recall     F1  support")
    for d in range(10):
        print(f"{d:>5}  {result.precision[d]:9.4f}  {result.recall[d]:6.4f}  {result.f1[d]:.4f}  "
              f"{result.support[d]:7d}")
    print("confusion (rows: true digit, columns: predicted)")
    print("     " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(result.confusion):
        print(f"{d:>5}" + "".join(f"{v:>6}" for v in row))
    for kind, curve in curves.items():
        points = ", ".join(f"{level:g}: {accuracy:.2%}" for level, accuracy in curve)
        print(f"accuracy under {kind} ({PERTURBATIONS[kind][1]}): {points}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    model, _, _ = ModelStore(args.store).load(args.model)
    failed = False
    for file in args.files:
        try:
            reading = read_digit(model, load_image(file))
        except PreprocessError as e:
            failed = True
            if args.json:
                print(json.dumps({"file": file, "error": str(e)}), flush=True)
            print(f"error: {e}", file=sys.stderr)
            continue
        probs = [0.0] * 10 if reading.blank else [float(p) for p in reading.probs]
        if args.json:
            print(json.dumps({"file": file, "digit": reading.digit, "probabilities": probs, "blank": reading.blank}),
                  flush=True)
        elif reading.blank:
            print(f"{file}: blank (no digit found)")
        else:
            print(f"{file}: {reading.digit} ({probs[reading.digit]:.1%})")
    return 1 if failed else 0


def cmd_models(args: argparse.Namespace) -> int:
    store = ModelStore(args.store)
    entries = store.list()
    if args.json:
        # Without the owner hash: who owns a model is the app's business, not a listing's.
        print(json.dumps([{k: v for k, v in e.meta.to_dict().items() if k != "owner"} if e.meta
                          else {"name": e.name, "error": e.error} for e in entries]))
        return 0
    if not entries:
        print(f"No models in {store.root}. Train one with `python -m mnist_core train`.")
        return 0
    print(f"{'name':<36} {'layers':<18} {'params':>9} {'test F1':>8} {'accuracy':>8} {'epochs':>6}  device  created")
    for e in entries:
        if e.meta is None:
            print(f"{e.name:<36} damaged: {e.error}")
            continue
        m = e.meta
        layers = layers_label(m.model.get("hidden", []))
        f1, accuracy = (m.metrics.test_f1, m.metrics.test_accuracy) if m.metrics else (0.0, 0.0)
        print(f"{m.name:<36} {layers:<18} {m.parameters:>9,} {f1:>8.4f} "
              f"{accuracy:>8.2%} {m.epochs:>6}  {m.device:<6}  "
              f"{'built in' if m.builtin else m.created}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    folder = find_data_dir(args.data_dir)
    bars: dict[str, tqdm] = {}  # one per file, as tqdm draws them: silent where stderr is not a terminal

    def progress(stem: str, done: int, total: int | None) -> None:
        if stem not in bars:
            for bar in bars.values():
                bar.close()
            bars[stem] = tqdm(total=total, desc=stem, unit="B", unit_scale=True, file=sys.stderr, disable=None)
        bars[stem].update(done - bars[stem].n)

    missing = files_to_fetch(folder)  # missing or damaged
    try:
        download(folder, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    print(f"MNIST is in {folder} ({len(missing)} file(s) downloaded, all verified)" if missing
          else f"MNIST is in {folder} already; nothing to download")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from mnist_core.classroom.serve import serve, ServeError

    if not 1 <= args.processes <= 64:
        raise ConfigError(f"--processes must be 1..64, got {args.processes}")
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be 1..65535, got {args.port}")
    for option, variable in ((args.data_dir, "MNIST_DIR"), (args.store, "MNIST_MODELS")):
        if option or os.environ.get(variable):  # the app processes read these, from the project folder
            os.environ[variable] = os.path.abspath(option or os.environ[variable])
    try:
        return serve(args.processes, args.host, args.port, args.ray or os.environ.get("MNIST_RAY_ADDRESS"))
    except ServeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "models": cmd_models,
            "download": cmd_download, "serve": cmd_serve}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (MnistDataError, DeviceError, StoreError, ConfigError, PreprocessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`models --json | head`): nothing more to say. Point stdout at nothing so that
        # Python's own flush at exit does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell tool ends here
    except OSError as e:  # a folder that cannot be read or written, a full disk: one line, no traceback
        print(f"error: {os_error_text(e)}", file=sys.stderr)
        return 2
