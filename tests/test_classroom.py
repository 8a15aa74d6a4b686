import json

import numpy as np
import pytest
import torch

from mnist_core.classroom import ClassError, Classroom, examples, held_out, Nicknames, score, split
from mnist_core.drawings import Collections, Drawing
from mnist_core.model import MLP
from mnist_core.store import ModelStore


def stroke(label: int) -> np.ndarray:
    """A 56x56 RGBA drawing: a bar whose row tells the digit (like conftest's tiny digits)."""
    image = np.zeros((56, 56, 4), np.uint8)
    row = 8 + 4 * label
    image[row:row + 4, 8:48, 3] = 255
    return image


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
    room = Classroom(collections)
    assert room.open_name() is None
    room.open("class-2026", owner="teacher")
    assert Classroom(Collections(tmp_path)).open_name() == "class-2026"
    collections.add("class-2026", stroke(3), 3, owner="student")
    # The first student to add is not its owner: the teacher's browser is.
    assert not collections.may_clear("class-2026", "student") and collections.may_clear("class-2026", "teacher")
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
        store.add("c", stroke(label), label, owner="x")
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
