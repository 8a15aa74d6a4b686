import gzip
import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

from mnist_core.net import data
from mnist_core.net.data import (
    download,
    FILES,
    files_to_fetch,
    find_data_dir,
    load_mnist,
    missing_files,
    MnistDataError,
    read_idx,
)

from .helpers import idx_bytes, write_mnist


def test_reads_gzipped_and_raw_files_alike(tmp_path):
    expected = write_mnist(tmp_path / "gz", gz=True)
    write_mnist(tmp_path / "raw", gz=False)
    for folder in ("gz", "raw"):
        loaded = load_mnist(tmp_path / folder)
        assert loaded.train_images.shape == (300, 28, 28) and loaded.train_images.dtype == np.uint8
        np.testing.assert_array_equal(loaded.train_images, expected.train_images)
        np.testing.assert_array_equal(loaded.test_labels, expected.test_labels)


@pytest.mark.parametrize("content, message", [
    (b"\x00\x00\x08\x03\x00\x00", "too short"),
    (b"\x00\x00\x09\x03" + b"\x00" * 12, "bad magic"),
    (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-5], "truncated"),
    (idx_bytes(np.zeros((2, 28, 28), np.uint8)) + b"x", "trailing"),
    (idx_bytes(np.zeros((2, 27, 28), np.uint8)), "27x28"),
])
def test_malformed_files_are_named_and_explained(tmp_path, content, message):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(MnistDataError, match=message) as err:
        read_idx(path, "images")
    assert str(path) in str(err.value)


def test_labels_and_images_must_be_what_they_claim(tmp_path):
    labels = tmp_path / "labels"
    labels.write_bytes(idx_bytes(np.array([1, 2, 12], np.uint8)))
    with pytest.raises(MnistDataError, match="not a digit"):
        read_idx(labels, "labels")
    with pytest.raises(MnistDataError, match="holds labels, expected images"):
        read_idx(labels, "images")


def test_damaged_gzip_is_reported(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8)))[:-10])
    with pytest.raises(MnistDataError, match="damaged"):
        read_idx(path)


def test_images_and_labels_must_agree_in_count(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(99, np.uint8))))
    with pytest.raises(MnistDataError, match="100 images but .* 99 labels"):
        load_mnist(folder)


def test_missing_file_says_how_to_get_it(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    assert missing_files(folder) == ["train-labels-idx1-ubyte"]
    with pytest.raises(MnistDataError, match="missing .* download"):
        load_mnist(folder)


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    assert find_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert find_data_dir() == tmp_path / "env"
    monkeypatch.delenv("MNIST_DIR")
    assert find_data_dir() == data.PROJECT_ROOT / "data" / "mnist"


# --- download, against a local server ---------------------------------------------------------

class Mirror:
    """A local HTTP server that serves given bytes per file name, or cuts a transfer short."""

    def __init__(self, files: dict[str, bytes], truncate: set[str] = frozenset()) -> None:
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                name = self.path.rsplit("/", 1)[-1]
                if name not in mirror.files:
                    self.send_error(404)
                    return
                body = mirror.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if name in mirror.truncate else body)

            def log_message(self, *args):
                pass

        self.files, self.truncate = files, truncate
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mnist/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def real_files(mnist_dir) -> dict[str, bytes]:
    return {f"{stem}.gz": (mnist_dir / f"{stem}.gz").read_bytes() for stem in FILES}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_download_fetches_verifies_and_reports_progress(tmp_path, real_files):
    mirror = Mirror(real_files)
    seen = []
    try:
        folder = download(tmp_path / "d", mirrors=[mirror.url], progress=lambda s, done, total: seen.append(s))
    finally:
        mirror.close()
    assert missing_files(folder) == []
    assert set(seen) == set(FILES)
    raw = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == FILES["t10k-labels-idx1-ubyte"][0]
    assert load_mnist(folder).test_labels.shape == (10000,)
    assert not list(folder.glob("*.part"))


def test_download_falls_back_to_the_next_mirror(tmp_path, real_files):
    corrupt = {name: body[:-100] + b"\x00" * 100 for name, body in real_files.items()}
    bad, good = Mirror(corrupt), Mirror(real_files)
    try:
        download(tmp_path / "d", mirrors=[closed_port_url(), bad.url, good.url])
    finally:
        bad.close()
        good.close()
    assert missing_files(tmp_path / "d") == []


@pytest.mark.parametrize("case", ["corrupt", "truncated", "down"])
def test_failed_download_leaves_nothing_and_says_what_to_do(tmp_path, real_files, case):
    small = {"t10k-labels-idx1-ubyte.gz"}
    folder = tmp_path / "d"
    folder.mkdir()
    for stem in FILES:  # all present but one, so only a small file is fetched
        if f"{stem}.gz" not in small:
            (folder / f"{stem}.gz").write_bytes(real_files[f"{stem}.gz"])
    mirror = None
    if case == "corrupt":
        body = gzip.compress(gzip.decompress(real_files["t10k-labels-idx1-ubyte.gz"])[:-1] + b"\x09")
        mirror = Mirror({"t10k-labels-idx1-ubyte.gz": body})
    elif case == "truncated":
        mirror = Mirror(real_files, truncate=small)
    url = mirror.url if mirror else closed_port_url()
    try:
        with pytest.raises(MnistDataError, match="(?s)could not download t10k-labels.*by hand"):
            download(folder, mirrors=[url], timeout=5)
    finally:
        if mirror:
            mirror.close()
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.gz" for s in FILES if f"{s}.gz" not in small)


def test_nothing_is_fetched_when_all_files_are_present_and_sound(tmp_path):
    folder = tmp_path / "m"
    write_mnist(folder)
    table = {stem: (hashlib.md5(raw := gzip.decompress((folder / f"{stem}.gz").read_bytes())).hexdigest(), len(raw))
             for stem in FILES}
    assert files_to_fetch(folder, table) == []
    assert download(folder, mirrors=[closed_port_url()], files=table) == folder  # would fail if it tried


def test_real_mnist_has_the_documented_counts(mnist):
    assert np.bincount(mnist.train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
