"""Issue #26, files read defensively: side files never overwritten with less, the hidden list failing closed, a
labels row on a full disk never counted, bombs in a collection one line about that file, killed writes swept."""

from __future__ import annotations

import io
import os
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from mnist_core.classroom.leaderboard import HIDDEN_FILE, HiddenEntries
from mnist_core.classroom.nicknames import NICKNAMES, Nicknames
from mnist_core.net.preprocess import load_image, PreprocessError
from mnist_core.storage.drawings import Collections, LABELS
from mnist_core.storage.files import DamagedFile, keep_aside, sweep_debris
from mnist_core.storage.models import ModelStore, StoreError


def test_a_trailing_comma_in_nicknames_json_wipes_nobody(tmp_path):
    nicknames = Nicknames(tmp_path)
    nicknames.set("tag-a", "alice")
    nicknames.set("tag-b", "bob")
    damaged = (tmp_path / NICKNAMES).read_text().rstrip().rstrip("}") + ',\n}'  # a hand edit
    (tmp_path / NICKNAMES).write_text(damaged)
    with pytest.raises(DamagedFile, match="nicknames.json cannot be read, so it was not changed") as refused:
        nicknames.set("tag-c", "carol")
    assert "\n" not in str(refused.value)
    assert (tmp_path / NICKNAMES).read_text() == damaged  # kept as it was, for a person to fix
    aside = list(tmp_path.glob(f"{NICKNAMES}.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text() == damaged
    with pytest.raises(DamagedFile):  # again: refused again, no second copy of the same content
        nicknames.set("tag-c", "carol")
    assert len(list(tmp_path.glob(f"{NICKNAMES}.damaged-*"))) == 1


def test_a_damaged_hidden_list_keeps_hiding(tmp_path):
    store = ModelStore(tmp_path, builtin_dir=None)
    hidden = HiddenEntries(store)
    hidden.hide("rude-model", operator=True)
    (tmp_path / HIDDEN_FILE).write_text('["rude-model",')  # damaged: read from its copy
    assert hidden.ids() == {"rude-model"} and hidden.hides("rude-model") and not hidden.hides("other")
    hidden.hide("second", operator=True)  # the damaged file is kept aside, both copies rewritten
    assert hidden.ids() == {"rude-model", "second"}
    assert list(tmp_path.glob(f"{HIDDEN_FILE}.damaged-*"))
    for path in (tmp_path / HIDDEN_FILE, hidden.copy):
        path.write_text("{oops")
    with pytest.raises(StoreError, match="every student's model is hidden"):
        hidden.ids()
    assert hidden.hides("rude-model") and hidden.hides("anything") and not hidden.hides("default", builtin=True)
    with pytest.raises(StoreError, match="nothing was shown again"):  # it would write an empty list: show them all
        hidden.show("second", operator=True)
    assert (tmp_path / HIDDEN_FILE).read_text() == "{oops" and hidden.hides("anything")
    assert "{oops" in [p.read_text() for p in tmp_path.glob(f"{HIDDEN_FILE}.damaged-*")]  # and kept aside
    hidden.hide("rude-model", operator=True)  # the teacher's Hide starts a new list
    assert hidden.ids() == {"rude-model"} and not hidden.hides("second")


def test_two_damaged_contents_in_one_second_are_both_kept_aside(tmp_path):
    path = tmp_path / "side.json"
    kept = []
    for content in ("{one", "{two", "{one"):  # within a second, as a fast machine does it
        path.write_text(content)
        kept.append(keep_aside(path))
    assert kept[0] != kept[1] and kept[2] == kept[0]  # the same content is kept once
    assert sorted(p.read_text() for p in tmp_path.glob("side.json.damaged-*")) == ["{one", "{two"]


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 0).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def test_a_bomb_in_a_class_collection_is_one_line_and_hides_no_other_drawing(tmp_path):
    drawings = Collections(tmp_path)
    kept = drawings.add("class", np.full((28, 28), 200, np.uint8), 3)
    folder = tmp_path / "class"
    for file, size in (("bomb-15000.png", (15000, 15000)), ("thin-1x25m.png", (1, 25_000_000))):
        (folder / file).write_bytes(_png(size))
        with open(folder / LABELS, "a") as f:
            f.write(f"{file},7\n")
    (folder / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with open(folder / LABELS, "a") as f:
        f.write("junk.png,1\n")
    read = drawings.read("class")
    assert [d.file for d in read.drawings] == [kept]
    lines = [str(p) for p in read.problems]
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert lines[0].startswith("bomb-15000.png:") and "too large" in lines[0]
    assert lines[1].startswith("thin-1x25m.png: 1x25000000 pixels is too large")
    assert lines[2].startswith("junk.png: a damaged picture (")
    assert [d.file for d in drawings.load("class")] == [kept]


def test_an_upload_of_a_1x25_million_png_is_one_line():
    with pytest.raises(PreprocessError, match="1x25000000 pixels is too large an image"):
        load_image(_png((1, 25_000_000)), "upload.png")


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MB tmpfs: a real full disk (needs root; skipped where it cannot be mounted)."""
    folder = tmp_path / "full"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_labels_row_cut_short_by_a_full_disk_is_never_counted_and_the_next_add_is_listed(full_disk):
    drawings = Collections(full_disk)
    first = drawings.add("c", np.full((28, 28), 200, np.uint8), 1)
    labels = full_disk / "c" / LABELS
    # Fill the disk to the last byte, then free a little at a time until an add goes through.
    filler = full_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"x" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    failures = 0
    for _ in range(40):  # free a little at a time until an add goes through; every failure must leave no trace
        before = labels.read_bytes()
        try:
            drawings.add("c", np.full((28, 28), 200, np.uint8), 2)
            break
        except OSError:
            failures += 1
            assert labels.read_bytes() == before  # no partial row left
            size = filler.stat().st_size
            os.truncate(filler, max(0, size - 1024))
    assert failures, "the disk was never full"
    listed = [d.file for d in drawings.load("c")]
    pngs = sorted(p.name for p in (full_disk / "c").glob("*.png"))
    assert sorted(listed) == pngs and len(listed) == 2 and first in listed


def test_a_partial_row_from_a_crash_does_not_swallow_the_next_add(tmp_path):
    drawings = Collections(tmp_path)
    drawings.add("c", np.full((28, 28), 200, np.uint8), 1)
    with open(tmp_path / "c" / LABELS, "a") as f:
        f.write("20260101-000000-abcdef-4.pn")  # cut short, no newline
    second = drawings.add("c", np.full((28, 28), 200, np.uint8), 2)
    assert second in [d.file for d in drawings.load("c")] and len(drawings.load("c")) == 2


def test_leftovers_of_killed_writes_are_swept_and_fresh_ones_kept(tmp_path):
    old, fresh = tmp_path / ".m.pt.abc.tmp", tmp_path / ".m2.pt.def.tmp"
    inner = tmp_path / "coll" / ".x.png.1.tmp"
    inner.parent.mkdir()
    for path in (old, fresh, inner):
        path.write_bytes(b"x" * 100)
    long_ago = time.time() - 3600
    for path in (old, inner):
        os.utime(path, (long_ago, long_ago))
    assert sweep_debris(tmp_path) == 2
    assert not old.exists() and not inner.exists() and fresh.exists()


def test_a_model_with_a_forged_history_of_millions_of_rows_is_listed_as_damaged_without_unpickling(tmp_path):
    from mnist_core.net.config import TrainConfig
    from mnist_core.net.model import build_model
    from mnist_core.storage.models import ModelMeta
    from tests.hostile import long_history_model

    long_history_model(tmp_path, rows=300_000)  # 21 MB of pickled history
    store = ModelStore(tmp_path, builtin_dir=None)
    config = {"hidden": [8], "activation": "relu", "dropout": 0.0}
    store.save(build_model(config), ModelMeta(name="fine", model=config, config=TrainConfig()))
    listed = {e.name: e for e in store.list()}
    assert listed["fine"].meta is not None
    assert listed["long"].meta is None and "its metadata is 21 MB, more than 16 MB" in listed["long"].error
    assert "\n" not in listed["long"].error


def test_metadata_is_read_once_per_file_version(tmp_path, monkeypatch):
    from mnist_core.net.config import TrainConfig
    from mnist_core.net.model import build_model
    from mnist_core.storage.models import ModelMeta

    store = ModelStore(tmp_path, builtin_dir=None)
    config = {"hidden": [8], "activation": "relu", "dropout": 0.0}
    store.save(build_model(config), ModelMeta(name="m", model=config, config=TrainConfig(), train_seconds=1.0))
    reads = []
    real = ModelStore._read
    monkeypatch.setattr(ModelStore, "_read", lambda self, path, name: reads.append(name) or real(self, path, name))
    for _ in range(3):
        store.list()
        store.meta("m").train_seconds = 99.0  # a caller's copy: changing it changes nobody else's
    assert reads == ["m"] and store.meta("m").train_seconds == 1.0
    meta = store.meta("m")
    store.save(build_model(config), meta, overwrite=True, replaces=meta.id)  # a new version: read again
    reads.clear()
    store.list()
    store.list()
    assert reads == ["m"]
