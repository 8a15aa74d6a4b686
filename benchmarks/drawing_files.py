"""What one Add of a drawing costs the server: writing a 280x280 canvas drawing as a PNG (what
`Collections.add` does at every student's Add) at the level the app uses against PIL's `optimize`, in one
run over the same simulated class drawings, and a whole `Collections.add` (PNG, fsync, labels row).

Run: MNIST_DIR=../shared/data/mnist python benchmarks/drawing_files.py [--drawings 100]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from mnist_core.classroom.simulated import simulated_class, simulated_students  # noqa: E402
from mnist_core.net.data import load_mnist  # noqa: E402
from mnist_core.storage.drawings import bounded, Collections, PNG_LEVEL  # noqa: E402


def png_figures(pictures: list, **options) -> tuple[float, float]:
    """Median milliseconds to write one picture as PNG with `options`, and its mean size in kB."""
    times, sizes = [], []
    for picture in pictures:
        buffer = io.BytesIO()
        start = time.perf_counter()
        picture.save(buffer, format="PNG", **options)
        times.append(time.perf_counter() - start)
        sizes.append(len(buffer.getvalue()))
    return statistics.median(times) * 1000, statistics.fmean(sizes) / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drawings", type=int, default=100)
    args = parser.parse_args()
    data = load_mnist()
    students = max(1, args.drawings // 10)
    drawn = list(simulated_class(data.train_images[:5000], data.train_labels[:5000],
                                 simulated_students(students, 0), 1, 0))[:args.drawings]
    pictures = [bounded(d.image) for _, d in drawn]
    (ours_ms, ours_kb), (old_ms, old_kb) = png_figures(pictures, compress_level=PNG_LEVEL), \
        png_figures(pictures, optimize=True)
    print(f"PNG of a drawing ({len(pictures)} drawings): level {PNG_LEVEL} {ours_ms:.1f} ms, {ours_kb:.1f} kB; "
          f"optimize {old_ms:.1f} ms, {old_kb:.1f} kB; {old_ms / ours_ms:.1f}x faster, "
          f"{ours_kb / old_kb - 1:+.0%} bytes")
    store = Collections(Path(tempfile.mkdtemp()))
    start = time.perf_counter()
    for student, drawing in drawn:
        store.add("bench", drawing.image, drawing.label, owner=student, nickname=student, shared=True)
    print(f"Collections.add: {(time.perf_counter() - start) / len(drawn) * 1000:.1f} ms a drawing "
          "(PNG, fsync, labels row)")


if __name__ == "__main__":
    main()
