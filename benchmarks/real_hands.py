"""Real hands: the shipped `default` before and after, side by side in one run, on every proxy of real
handwriting (`net/hands.py` renders them, all from MNIST test digits; none is ever trained on), each read
through the predict path (`preprocess.mnist_style`, then the model), and MNIST test:

- redrawn: MNIST test digits redrawn on a 280x280 canvas by `synth.redraw` (as `redrawn_digits.py`)
- sklearn: scikit-learn's `load_digits`, 1,797 digits by 43 writers (UCI optdigits), 8x8 grey: real,
  another source, but coarse; fed as 8x8 images
- scans16: MNIST test digits rendered as scans differ (slant, aspect, pen width drawn from other
  distributions than training's, stretched to fill a 16x16 box, blurred, grey, dark on light)
- hands: MNIST test digits rewritten as the project's real misreads are written (5s without their top
  bar or with a detached tick, 4s closed at the top, narrow 4s, digits stretched to fill a square box),
  scanned small and grey; each kind on its own row too

With --card it writes the new default's figures to `mnist_core/builtin_models/default.card.json`, which
README quotes and `tests/test_shipped_model.py` checks the shipped model against. The project's own 2,007
scanned digits are not here; their figure is the project's.

Run: MNIST_DIR=../shared/data/mnist nice -n 15 python benchmarks/real_hands.py [--old-ref 7188a07]
     [--count 10000] [--per-kind 500] [--card] [--store DIR --models NAME ...] [--threads 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, UTC
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.net.hands import accuracies, proxy_sets  # noqa: E402
from mnist_core.storage.models import BUILTIN_DIR, ModelStore  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
OLD_REF = "42df2a9"  # the default shipped before issue #30 (made by `robust-drawings` with real hands)
CARD = BUILTIN_DIR / "default.card.json"
LABELS = {"mnist": "MNIST test (as trained)", "mnist via predict": "MNIST test via predict",
          "redrawn": "redrawn (synth.redraw)", "sklearn": "sklearn digits 8x8", "scans16": "scans16 (MNIST test)",
          "hands": "hands misreads (all)"}


def old_default(ref: str, folder: Path) -> Path:
    """The shipped default.pt as it was at git `ref`, written into `folder`."""
    blob = subprocess.run(["git", "show", f"{ref}:mnist_core/builtin_models/default.pt"], cwd=PROJECT,
                          check=True, capture_output=True).stdout
    (folder / "default.pt").write_bytes(blob)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old-ref", default=OLD_REF, help="git commit whose default.pt is 'old'")
    parser.add_argument("--count", type=int, default=10000, help="MNIST test digits for redrawn and scans16")
    parser.add_argument("--per-kind", type=int, default=500, help="digits of each kind in the hands set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads and rendering processes")
    parser.add_argument("--card", action="store_true", help=f"write the new default's figures to {CARD.name}")
    parser.add_argument("--store", help="a store with more models to score (--models)")
    parser.add_argument("--models", nargs="*", default=[])
    args = parser.parse_args()
    from sklearn.datasets import load_digits

    began = time.perf_counter()
    mnist = load_mnist()
    digits = load_digits()
    hands = np.round(digits.images * (255 / 16)).astype(np.uint8)  # (1797, 8, 8), ink light on dark
    # Rendered in worker processes before torch starts its threads in this one.
    with ProcessPoolExecutor(max(1, args.threads)) as pool:
        sets = proxy_sets(mnist.test_images, mnist.test_labels, args.count, args.seed, (hands, digits.target),
                          args.per_kind, mapper=pool.map)
    for name, proxy in sets.items():
        if proxy.inverted:  # no model can read these: preprocessing took the ink for paper
            print(f"{name}: {proxy.inverted} of {len(proxy.labels)} read with the wrong polarity by preprocess")
    print(f"rendered and preprocessed in {time.perf_counter() - began:.0f} s ({args.count} MNIST test digits "
          f"for redrawn and scans16, {args.per_kind} a kind for hands, seed {args.seed})", flush=True)
    torch.set_num_threads(max(1, args.threads))
    with tempfile.TemporaryDirectory() as folder:
        stores = {f"old default ({args.old_ref})": ModelStore(old_default(args.old_ref, Path(folder)), None),
                  "new default": ModelStore(BUILTIN_DIR, None)}
        loaded = {label: store.load("default")[0] for label, store in stores.items()}
    for name in args.models:
        loaded[name] = ModelStore(args.store).load(name)[0]
    figures = {label: accuracies(model, sets) for label, model in loaded.items()}
    print(f"{'set':<26}{'digits':>8}" + "".join(f"{label:>24}" for label in loaded))
    for name, proxy in sets.items():
        print(f"{LABELS.get(name, '  ' + name):<26}{len(proxy.labels):>8}"
              + "".join(f"{figures[label][name]:>24.2%}" for label in loaded))
    for label in loaded:
        gap = figures[label]["mnist via predict"] - figures[label]["redrawn"]
        print(f"{label}: redrawn gap {100 * gap:.2f} points below MNIST test via predict")
    if args.card:
        weights = (BUILTIN_DIR / "default.pt").read_bytes()
        card = {"model": "default", "sha256": hashlib.sha256(weights).hexdigest(),
                "written_by": "benchmarks/real_hands.py --card",
                "date": datetime.now(UTC).strftime("%Y-%m-%d"), "seed": args.seed, "count": args.count,
                "per_kind": args.per_kind,
                "figures": {name: {"accuracy": round(figures["new default"][name], 5), "digits": len(proxy.labels)}
                            for name, proxy in sets.items()}}
        CARD.write_text(json.dumps(card, indent=1) + "\n")
        print(f"wrote {CARD.relative_to(PROJECT)}")


if __name__ == "__main__":
    main()
