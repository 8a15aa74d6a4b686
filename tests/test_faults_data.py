"""Data files and downloads under faults: IDX bombs, empty and malformed sets, hostile mirrors served by
a real HTTP server on loopback, a download killed with SIGTERM."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mnist_core import cli
from mnist_core.net import data
from mnist_core.net.data import (
    download,
    FILES,
    files_to_fetch,
    load_mnist,
    MAX_DOWNLOAD_FACTOR,
    MnistDataError,
    read_idx,
)
from ui.i18n import said

from .helpers import idx_bytes, PROJECT, write_mnist
from .hostile import gzip_idx_bomb

# --- IDX files ------------------------------------------------------------------------------------


def peak_bytes(action) -> int:
    """Peak Python-heap bytes (numpy's buffers included) while `action()` runs."""
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_gzip_bomb_is_refused_after_the_size_its_header_promises(tmp_path):
    bomb = gzip_idx_bomb(tmp_path / "train-images-idx3-ubyte.gz", items=1000, expands_to=512 << 20)
    assert bomb.stat().st_size < 1 << 20  # under 1 MB on disk, 512 MB inside

    def read():
        with pytest.raises(MnistDataError, match="more than the 784,016|trailing data"):
            read_idx(bomb, "images")

    assert peak_bytes(read) < 16 << 20  # the promised 784 KB and a chunk, never the 512 MB


def test_a_bomb_posing_as_train_images_is_refused_by_its_header_before_any_image_is_read(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder)  # 300 training labels
    gzip_idx_bomb(folder / "train-images-idx3-ubyte.gz", items=60_000, expands_to=256 << 20)

    def load():
        with pytest.raises(MnistDataError, match="60000 images but .* 300 labels"):
            load_mnist(folder)

    assert peak_bytes(load) < 4 << 20


def test_an_honest_but_huge_header_is_refused_before_reading(tmp_path):
    path = gzip_idx_bomb(tmp_path / "huge.gz", items=200_000, expands_to=200_000 * 784 + 16)
    with pytest.raises(MnistDataError, match="promises 200000 items; at most 100000") as refused:
        read_idx(path, "images")
    # Its numbers kept as numbers, so that a page writes them its language's way (English outside a page).
    assert said(refused.value).endswith("promises 200,000 items; at most 100,000 are read")


@pytest.mark.parametrize("stem, content, message", [
    ("train-images-idx3-ubyte", idx_bytes(np.zeros((0, 28, 28), np.uint8)), "holds no images"),
    ("train-labels-idx1-ubyte", idx_bytes(np.zeros(0, np.uint8)), "holds no labels"),
    ("train-images-idx3-ubyte", b"\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00", "too short"),
    ("train-images-idx3-ubyte", b"PK\x03\x04" + bytes(400), "bad magic"),
    ("t10k-images-idx3-ubyte", idx_bytes(np.zeros((100, 28, 28), np.uint8))[:-1], "truncated"),
])
def test_empty_or_malformed_sets_get_one_line_naming_the_file(tmp_path, stem, content, message):
    folder = tmp_path / "m"
    write_mnist(folder)
    (folder / f"{stem}.gz").write_bytes(gzip.compress(content))
    if "labels" in stem:  # the images must agree in count, so both are empty
        (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((0, 28, 28), np.uint8))))
    with pytest.raises(MnistDataError, match=message) as err:
        load_mnist(folder)
    assert stem in str(err.value) and "\n" not in str(err.value)


# --- downloads from hostile mirrors ---------------------------------------------------------------

class FaultyMirrors:
    """One HTTP server on 127.0.0.1; the first part of the path says how it misbehaves:
    /good/, /truncated/ (Content-Length, half sent), /endless/ (no length, never ends), /oversized/
    (claims 10 GB), /chunked-cut/ (chunked, closed after one chunk), /wrong/ (an HTML page), /404/,
    /bomb/ (a gzip bomb), /slow/ (a drip of bytes), /stall/ (headers, then nothing).
    Every loop is bounded; threads are daemons."""

    ENDLESS_CAP = 64 << 20  # what /endless/ and /oversized/ send at most before giving up

    def __init__(self, files: dict[str, bytes]) -> None:
        mirror = self
        self.files, self.requests = files, []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's name)
                behaviour, name = self.path.strip("/").split("/")[0], self.path.rsplit("/", 1)[-1]
                mirror.requests.append((behaviour, name))
                body = mirror.files.get(name)
                self.close_connection = True
                if behaviour == "404" or body is None:
                    self.send_error(404)
                elif behaviour == "chunked-cut":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = body[: len(body) // 2]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))  # no closing 0-chunk: cut
                elif behaviour == "stall":  # headers, then silence (5 s at most)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    time.sleep(5)
                elif behaviour in ("endless", "oversized", "slow"):
                    self.send_response(200)
                    if behaviour == "oversized":
                        self.send_header("Content-Length", str(10 << 30))
                    self.end_headers()
                    block, sent = (b"\x1f" * 1024, 0) if behaviour == "slow" else (bytes(1 << 16), 0)
                    cap = 600 * len(block) if behaviour == "slow" else mirror.ENDLESS_CAP  # slow: 30 s at most
                    try:
                        while sent < cap:
                            self.wfile.write(block)
                            sent += len(block)
                            if behaviour == "slow":
                                time.sleep(0.05)
                    except OSError:  # the client hung up
                        pass
                else:
                    payload = {"good": body, "truncated": body, "wrong": b"<html>This mirror has moved</html>",
                               "bomb": mirror.bomb}[behaviour]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2] if behaviour == "truncated" else payload)

            def log_message(self, *args):
                pass

        self.bomb = gzip.compress(bytes(64 << 20), compresslevel=9)  # 64 KB that expand to 64 MB
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads, self.server.block_on_close = True, False
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, behaviour: str) -> str:
        return f"{self.base}/{behaviour}/mnist/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tiny_set(tmp_path) -> tuple[dict[str, bytes], dict[str, tuple[str, int]]]:
    """A tiny MNIST-like set as a mirror serves it ({name.gz: bytes}) and its checksum table."""
    write_mnist(tmp_path / "source")
    served = {f"{stem}.gz": (tmp_path / "source" / f"{stem}.gz").read_bytes() for stem in FILES}
    table = {}
    for stem in FILES:
        raw = gzip.decompress(served[f"{stem}.gz"])
        table[stem] = (hashlib.md5(raw).hexdigest(), len(raw))
    return served, table


@pytest.fixture
def mirrors(tiny_set):
    server = FaultyMirrors(tiny_set[0])
    yield server
    server.close()


def parts(folder: Path) -> list[str]:
    return [p.name for p in folder.glob("*.part")] + [p.name for p in folder.glob(".*.part")]


@pytest.mark.parametrize("behaviour", ["truncated", "endless", "oversized", "chunked-cut", "wrong", "404", "bomb"])
def test_a_hostile_mirror_is_left_for_the_next_within_a_size_cap(tmp_path, tiny_set, mirrors, behaviour):
    _, table = tiny_set
    folder, seen = tmp_path / "d", {}

    def progress(stem: str, done: int, total: int | None) -> None:
        seen[stem] = max(seen.get(stem, 0), done)

    def fetch():
        download(folder, mirrors=[mirrors.url(behaviour), mirrors.url("good")], progress=progress, timeout=5,
                 files=table)

    peak = peak_bytes(fetch)
    assert files_to_fetch(folder, table) == []  # all four there and sound
    assert [b for b, _ in mirrors.requests] == [behaviour, "good"] * 4  # each file: the hostile one, then the next
    assert parts(folder) == []
    for stem, (_, size) in table.items():
        assert seen[stem] <= MAX_DOWNLOAD_FACTOR * size  # never read far past what the file can be
    assert peak < 16 << 20  # a bomb is checked in chunks, never expanded whole
    source_labels = read_idx(tmp_path / "source" / "t10k-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(load_mnist(folder).test_labels, source_labels)


def test_a_mirror_that_stalls_times_out_and_the_next_is_tried(tmp_path, tiny_set, mirrors):
    served, table = tiny_set
    folder = tmp_path / "d"
    folder.mkdir()
    for name, body in served.items():
        if name != "t10k-labels-idx1-ubyte.gz":
            (folder / name).write_bytes(body)
    download(folder, mirrors=[mirrors.url("stall"), mirrors.url("good")], timeout=2, files=table)
    assert mirrors.requests == [("stall", "t10k-labels-idx1-ubyte.gz"), ("good", "t10k-labels-idx1-ubyte.gz")]
    assert files_to_fetch(folder, table) == [] and parts(folder) == []


def test_when_every_mirror_fails_the_message_names_each_and_nothing_is_left(tmp_path, tiny_set, mirrors):
    folder = tmp_path / "d"
    with pytest.raises(MnistDataError, match="(?s)could not download.*chunked-cut.*IncompleteRead.*endless.*by hand"):
        download(folder, mirrors=[mirrors.url("chunked-cut"), mirrors.url("endless")], timeout=5, files=tiny_set[1])
    assert list(folder.iterdir()) == []


def test_plain_http_mirrors_are_refused_and_not_offered():
    assert all(m.startswith("https://") for m in data.MIRRORS)


def test_plain_http_beyond_loopback_is_refused_without_connecting(tmp_path, tiny_set):
    with pytest.raises(MnistDataError, match="must use https"):
        download(tmp_path / "d", mirrors=["http://mirror.invalid/mnist/"], files=tiny_set[1])


def test_a_damaged_file_is_fetched_again_and_sound_ones_are_kept(tmp_path, tiny_set, mirrors):
    served, table = tiny_set
    folder = tmp_path / "d"
    folder.mkdir()
    for name, body in served.items():
        (folder / name).write_bytes(body)
    damaged = bytearray(gzip.decompress(served["t10k-images-idx3-ubyte.gz"]))
    damaged[5000] ^= 0xFF  # one pixel changed: a valid IDX file, the wrong content
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(damaged)))
    assert files_to_fetch(folder, table) == ["t10k-images-idx3-ubyte"]
    download(folder, mirrors=[mirrors.url("good")], files=table)
    assert mirrors.requests == [("good", "t10k-images-idx3-ubyte.gz")]
    assert (folder / "t10k-images-idx3-ubyte.gz").read_bytes() == served["t10k-images-idx3-ubyte.gz"]


def test_leftover_part_files_of_a_killed_download_are_swept(tmp_path, tiny_set, mirrors):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / ".t10k-labels-idx1-ubyte.k1ll3d.part").write_bytes(b"half a file")
    download(folder, mirrors=[mirrors.url("good")], files=tiny_set[1])
    assert parts(folder) == []


def test_sigterm_during_a_download_leaves_no_part_file(tmp_path, tiny_set, mirrors):
    folder = tmp_path / "d"
    script = ("import json, sys; from mnist_core.net.data import download; "
              "download(sys.argv[1], mirrors=[sys.argv[2]], files=json.loads(sys.argv[3]))")
    child = subprocess.Popen([sys.executable, "-c", script, str(folder), mirrors.url("slow"), json.dumps(tiny_set[1])],
                             cwd=PROJECT)
    try:
        for _ in range(200):  # until the drip has started to land in a .part (at most 20 s)
            if any(p.stat().st_size for p in folder.glob(".*.part")) if folder.is_dir() else False:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the download never started")
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert parts(folder) == []
    assert code == 128 + signal.SIGTERM  # it ended through its own cleanup, not killed mid-write


def test_cli_download_fetches_a_damaged_file_instead_of_saying_nothing_to_do(tmp_path, mnist_dir, monkeypatch, capsys):
    real = {f"{stem}.gz": (mnist_dir / f"{stem}.gz").read_bytes() for stem in FILES}
    folder = tmp_path / "d"
    folder.mkdir()
    for name, body in real.items():
        (folder / name).write_bytes(body)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(real["t10k-labels-idx1-ubyte.gz"][:-20])  # cut short
    server = FaultyMirrors(real)
    monkeypatch.setattr(data, "MIRRORS", (server.url("good"),))  # the CLI has no mirror option
    try:
        assert cli.main(["download", "--data-dir", str(folder)]) == 0
    finally:
        server.close()
    out = capsys.readouterr().out
    assert "nothing to download" not in out and "1 file(s) downloaded" in out
    assert server.requests == [("good", "t10k-labels-idx1-ubyte.gz")]
    assert os.path.getsize(folder / "t10k-labels-idx1-ubyte.gz") == len(real["t10k-labels-idx1-ubyte.gz"])
