import io
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core.classroom.collection import ClassCollection, held_out, split, tally
from mnist_core.classroom.errors import ClassError
from mnist_core.classroom.fine_tune import class_extra, fine_tune_config
from mnist_core.classroom.nicknames import Nicknames
from mnist_core.classroom.scoring import examples, score
from mnist_core.net.model import MLP
from mnist_core.storage.drawings import Collections, Drawing
from mnist_core.storage.models import ModelStore

from .helpers import bar_drawing


def test_nicknames_are_kept_by_owner_tag_and_never_the_key(tmp_path):
    names = Nicknames(tmp_path)
    tag = names.tag_of("alice-key-0123456789abcdefghij")
    assert names.get(tag) is None
    assert names.set(tag, "  Ada L. ") == "Ada L."
    assert Nicknames(tmp_path).get(tag) == "Ada L."  # on disk, read by another server
    text = (tmp_path / "nicknames.json").read_text()
    assert "alice-key" not in text and json.loads(text) == {tag: "Ada L."}
    # The tag is the model store's: a model saved by this browser carries it.
    assert ModelStore(tmp_path).owners.tag("alice-key-0123456789abcdefghij") == tag


@pytest.mark.parametrize("bad", ["", "   ", "x" * 25, "<b>hi</b>", "a\nb", "a,b", "two  spaces", "\x00"])
def test_a_bad_nickname_is_one_line_and_changes_nothing(tmp_path, bad):
    names = Nicknames(tmp_path)
    tag = names.tag_of("k" * 24)
    names.set(tag, "Zoe")
    with pytest.raises(ClassError, match="nickname is 1-24") as error:
        names.set(tag, bad)
    assert "\n" not in str(error.value).replace(repr(bad), "")
    assert names.get(tag) == "Zoe"


def test_the_operator_opens_and_closes_the_class_collection(tmp_path):
    collections = Collections(tmp_path)
    room = ClassCollection(collections)
    assert room.open_name() is None
    room.open("class-2026", owner="teacher")
    assert ClassCollection(Collections(tmp_path)).open_name() == "class-2026"
    collections.add("class-2026", bar_drawing(3), 3, owner="student", shared=True)
    # The first student to add is not its owner: only the operator (the teacher) may clear a class collection.
    assert not collections.may_clear("class-2026", "student") and collections.may_clear("class-2026", "teacher", True)
    room.close()
    assert room.open_name() is None and len(collections.load("class-2026")) == 1
    with pytest.raises(ValueError, match="invalid collection name"):
        room.open("../x")


def test_the_split_is_reproducible_and_stable_as_the_collection_grows():
    drawings = [Drawing(f"2026-{i:04d}.png", i % 10, np.zeros((2, 2), np.uint8)) for i in range(1000)]
    learn, kept = split(drawings)
    assert len(learn) + len(kept) == 1000 and 150 < len(kept) < 250
    assert not {d.file for d in learn} & {d.file for d in kept}
    # Another order, more drawings: each drawing stays in its part.
    more = drawings[::-1] + [Drawing("new.png", 1, np.zeros((2, 2), np.uint8))]
    assert {d.file for d in split(more)[1]} - {"new.png"} == {d.file for d in kept}
    assert all(held_out(d.file) for d in kept)
    assert split(drawings, 0.0)[1] == [] and split(drawings, 1.0)[0] == []


def test_score_reads_drawings_as_the_draw_page_does(tmp_path):
    store = Collections(tmp_path)
    for label in (0, 1, 2, 2):
        store.add("c", bar_drawing(label), label, owner="x")
    store.add("c", np.zeros((56, 56, 4), np.uint8), 5, owner="x")  # blank: left out of the scoring
    drawings = store.load("c")
    data = examples(drawings)
    assert data.images.shape == (4, 28, 28) and data.images.dtype == np.float32
    assert data.labels.tolist() == [0, 1, 2, 2] and data.files == [d.file for d in drawings[:4]]
    torch.manual_seed(0)
    result = score(MLP((16,)), drawings)
    assert len(result.labels) == 4 and result.confusion.sum() == 4
    with pytest.raises(ClassError, match="no drawings"):
        score(MLP((16,)), [])


def test_a_student_adds_only_labelled_drawings_to_an_open_class_collection(tmp_path):
    room = ClassCollection(Collections(tmp_path))
    with pytest.raises(ClassError, match="no class collection is open"):
        room.add(bar_drawing(1), 1, "k", "Ann")
    room.open("class-2026", owner="teacher")
    for image, label, nick, why in [(bar_drawing(1), 1, None, "choose a nickname"),
                                    (bar_drawing(1), None, "Ann", "which digit"),
                                    (np.zeros((56, 56, 4), np.uint8), 1, "Ann", "blank"),
                                    (None, 1, "Ann", "blank")]:
        with pytest.raises(ClassError, match=why):
            room.add(image, label, "k", nick)
    assert room.collections.load("class-2026") == []
    file = room.add(bar_drawing(4), 4, "student-key-xyz", "Ann")
    (drawing,) = room.collections.load("class-2026")
    assert (drawing.file, drawing.label, drawing.nickname) == (file, 4, "Ann")
    assert room.collections.owners.owns("student-key-xyz", drawing.owner)
    assert "student-key" not in (tmp_path / "class-2026" / "labels.csv").read_text()
    # The same drawing again (Add pressed twice, or a second tab) is refused; another student's copy is theirs.
    with pytest.raises(ClassError, match="in the class collection already"):
        room.add(bar_drawing(4), 7, "student-key-xyz", "Ann")
    room.add(bar_drawing(4), 4, "other-key-abcdef", "Bo")
    room.add(bar_drawing(5), 5, "student-key-xyz", "Ann")  # a new drawing: added
    assert [d.label for d in room.collections.load("class-2026")] == [4, 4, 5]


def test_a_students_own_collection_cannot_be_opened_as_the_class_collection(tmp_path):
    room = ClassCollection(Collections(tmp_path))
    room.collections.add("class-2027", bar_drawing(1), 1, owner="bo-key", nickname="Teacher")  # squatted first
    with pytest.raises(ClassError, match="'CLASS-2027' is a student's own collection: open the class's under"):
        room.open("CLASS-2027", owner="teacher-key")  # in other letters too
    assert room.open_name() is None and not room.collections.is_class("class-2027")
    room.open("class-2026", owner="teacher-key")  # a new name
    room.close()
    room.open("class-2026", owner="teacher-key")  # and again, its own
    room.collections.add("class-2026", bar_drawing(2), 2, owner="ann-key", nickname="Ann", shared=True)
    room.close()
    room.open("class-2026", owner="other-teacher-browser")  # a class collection: opened again by anyone allowed
    assert room.open_name() == "class-2026"


def test_a_student_removes_their_own_drawing_not_anothers(tmp_path):
    store = Collections(tmp_path)
    mine = store.add("c", bar_drawing(1), 1, owner="me", nickname="Me")
    theirs = store.add("c", bar_drawing(2), 2, owner="them", nickname="Them", shared=True)
    with pytest.raises(ValueError, match="not yours"):
        store.remove("c", theirs, owner="me")
    with pytest.raises(ValueError, match="no drawing"):
        store.remove("c", "../labels.csv", owner="me")
    store.remove("c", mine, owner="me")
    assert [d.file for d in store.load("c")] == [theirs] and not (tmp_path / "c" / mine).exists()
    store.remove("c", theirs, operator=True)
    assert store.load("c") == []


def test_tally_counts_per_digit_and_nickname():
    drawings = [Drawing(f"{i}.png", i % 3, np.zeros((2, 2)), nickname=["Ann", "Bo"][i % 2]) for i in range(5)]
    counts = tally(drawings)
    assert counts.per_digit == [2, 2, 1, 0, 0, 0, 0, 0, 0, 0] and counts.per_nickname == {"Ann": 3, "Bo": 2}


# --- zips in and out -------------------------------------------------------------------------------------

def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_export_then_import_keeps_drawings_labels_nicknames_and_the_split(tmp_path):
    source = Collections(tmp_path / "a")
    for i in range(12):
        source.add("class-2025", bar_drawing(i % 10), i % 10, owner="k", nickname="Ann")
    exported = source.zip_bytes("class-2025")
    target = Collections(tmp_path / "b")
    assert target.import_zip("kept", exported, owner="teacher") == 12
    before, after = source.load("class-2025"), target.load("kept")
    assert [(d.file, d.label, d.nickname) for d in before] == [(d.file, d.label, d.nickname) for d in after]
    assert [d.file for d in split(before)[1]] == [d.file for d in split(after)[1]]
    np.testing.assert_array_equal(before[0].image, after[0].image)
    # The importer owns the collection and its drawings (tags from another server mean nothing here).
    assert target.may_clear("kept", "teacher") and all(target.owners.owns("teacher", d.owner) for d in after)
    with pytest.raises(ValueError, match="exists already"):
        target.import_zip("kept", exported)
    # A student's import is by that student, whoever the zip's rows name (it signed drawings as the teacher).
    assert target.import_zip("bos", exported, owner="bo-key", nickname="Bo") == 12
    assert {d.nickname for d in target.load("bos")} == {"Bo"}


GOOD = png_bytes(Image.new("L", (28, 28)))


@pytest.mark.parametrize("files, why", [
    ({"labels.csv": b"../../evil.png,1\n", "../../evil.png": GOOD}, "not a plain PNG file name"),
    ({"labels.csv": b"/etc/passwd,1\n"}, "not a plain PNG file name"),
    ({"labels.csv": b"a.png,1\n", "a.png": b"GIF89a not a png"}, "not a PNG file"),
    ({"labels.csv": b"a.png,1\n", "a.png": png_bytes(Image.new("1", (5000, 5000)))}, "too large a drawing"),
    ({"labels.csv": b"a.png,1\n", "a.png": GOOD[:40]}, "damaged PNG"),
    ({"labels.csv": b"a.png,12\n", "a.png": GOOD}, "expected 'file.png,digit'"),
    ({"labels.csv": b"a.png,1\n"}, "a.png is not in the zip"),
    ({"labels.csv": b"a.png,1\na.png,2\n", "a.png": GOOD}, "listed twice"),
    ({"a.png": GOOD}, "must hold one labels.csv"),
    ({"x/labels.csv": b"a.png,1\n", "y/labels.csv": b"a.png,1\n"}, "must hold one labels.csv"),
    ({"labels.csv": b"\xff\xfe\x00bad"}, "not a CSV text file"),
    ({"labels.csv": b""}, "lists no drawings"),
    ({"labels.csv": b"a.png,1\n", "a.png": b"\x00" * (3 * 1024 * 1024)}, "larger than"),
])
def test_a_hostile_zip_is_one_line_and_writes_nothing(tmp_path, files, why):
    store = Collections(tmp_path / "drawings")
    with pytest.raises(ValueError, match=why) as error:
        store.import_zip("imported", zip_of(files), owner="k")
    assert "\n" not in str(error.value)
    assert store.names() == [] and not (tmp_path / "evil.png").exists()
    assert not (tmp_path / "drawings").exists() or list((tmp_path / "drawings").iterdir()) == []


def test_not_a_zip_too_big_or_too_many_files(tmp_path, monkeypatch):
    import mnist_core.storage.drawings as drawings

    store = Collections(tmp_path)
    with pytest.raises(ValueError, match="not a zip file"):
        store.import_zip("x", b"PK\x03\x04 broken")
    monkeypatch.setattr(drawings, "MAX_ENTRIES", 3)
    with pytest.raises(ValueError, match="more than 3 files"):
        store.import_zip("x", zip_of({f"{i}.png": GOOD for i in range(4)}))
    monkeypatch.setattr(drawings, "MAX_ZIP_BYTES", 100)
    with pytest.raises(ValueError, match="larger than 0 MB"):
        store.import_zip("x", zip_of({"labels.csv": b"a.png,1\n", "a.png": GOOD}))
    assert store.names() == []


# --- the trainer's extra examples ------------------------------------------------------------------------

def test_extra_examples_take_their_share_of_each_epoch(tiny):
    from mnist_core.net.config import ExtraExamples, TrainConfig
    from mnist_core.net.train import Trainer

    pattern = np.zeros((2, 28, 28), np.float32)
    pattern[0, 2:5, 2:26] = 1.0
    pattern[1, 20:26, 2:26] = 1.0
    extra = ExtraExamples(pattern, np.array([3, 8]), share=0.1, augment=0.0)
    trainer = Trainer(TrainConfig(hidden=(8,), epochs=1, device="cpu", batch_size=32), tiny, extra=extra)
    images, labels = trainer.epoch_data(1)
    first = (images == torch.as_tensor(pattern[0])).flatten(1).all(1)
    second = (images == torch.as_tensor(pattern[1])).flatten(1).all(1)
    assert int(first.sum()) == int(second.sum()) == 15  # 10% of 300 places, each example as often
    assert set(labels[first].tolist()) == {3} and set(labels[second].tolist()) == {8}
    again = Trainer(TrainConfig(hidden=(8,), epochs=1, device="cpu", batch_size=32), tiny, extra=extra)
    assert torch.equal(again.epoch_data(1)[0], images)  # the same for the same seed and epoch
    plain = Trainer(TrainConfig(hidden=(8,), epochs=1, device="cpu", batch_size=32), tiny).epoch_data(1)[0]
    assert int((plain == torch.as_tensor(pattern[0])).flatten(1).all(1).sum()) == 0
    # Augmented, every copy differs.
    extra.augment = 0.8
    deformed = Trainer(TrainConfig(hidden=(8,), epochs=1, device="cpu"), tiny, extra=extra).epoch_data(1)[0]
    assert int((deformed == torch.as_tensor(pattern[0])).flatten(1).all(1).sum()) == 0


def test_extra_examples_are_checked():
    from mnist_core.net.config import ConfigError, ExtraExamples

    with pytest.raises(ConfigError, match="as many labels"):
        ExtraExamples(np.zeros((2, 28, 28), np.float32), np.array([1]))
    with pytest.raises(ConfigError, match="share"):
        ExtraExamples(np.zeros((1, 28, 28), np.float32), np.array([1]), share=0.9)


def test_fine_tune_settings_and_the_learning_part_as_extra_examples():
    from mnist_core.net.config import TrainConfig

    config = fine_tune_config(TrainConfig(lr=2e-3, epochs=16, hidden=(64,), drawn=0.3), 3, "cpu")
    assert (config.lr, config.epochs, config.schedule, config.hidden) == (2.5e-4, 3, "cosine", (64,))
    assert config.drawn == 0  # no MNIST digits redrawn on a canvas before the first batch
    drawings = [Drawing(f"{i}.png", i, bar_drawing(i)) for i in range(10)]
    extra = class_extra(drawings, "c")
    assert extra.images.shape == (10, 28, 28) and extra.labels.tolist() == list(range(10)) and extra.source == "c"
    with pytest.raises(ClassError, match="no drawings to learn from"):
        class_extra([])
