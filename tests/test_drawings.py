import io
import zipfile

import numpy as np
import pytest

from mnist_core.storage.drawings import Collections


def test_add_load_zip_clear(tmp_path):
    store = Collections(tmp_path)
    image = np.zeros((20, 20, 4), np.uint8)
    image[5:15, 9:11, 3] = 255
    first = store.add("class-3b", image, 1, owner="alice")
    with pytest.raises(ValueError, match="another browser's collection"):
        store.add("class-3b", image, 3, owner="bob")  # alice's own: nobody else saves into it
    assert store.may_use("class-3b", "alice") and not store.may_use("class-3b", "bob")
    assert store.visible_names("bob") == [] and store.visible_names("bob", operator=True) == ["class-3b"]
    store.add("class-3b", image, 7, owner="bob", shared=True)  # as the class collection's add does
    assert store.names() == ["class-3b"]
    drawings = store.load("class-3b")
    assert [d.label for d in drawings] == [1, 7] and drawings[0].file == first
    np.testing.assert_array_equal(drawings[0].image, image)
    with zipfile.ZipFile(io.BytesIO(store.zip_bytes("class-3b"))) as archive:
        names = sorted(archive.namelist())
    assert names[-1] == "class-3b/labels.csv" and len(names) == 3
    store.clear("class-3b", owner="alice")
    assert store.names() == [] and store.load("class-3b") == []


@pytest.mark.parametrize("other", ["AMELIE", "Amelie", "aMeLiE"])  # (a collection name is ASCII)
def test_a_name_that_reads_as_another_browsers_collection_is_that_collection(tmp_path, other):
    store = Collections(tmp_path)
    image = np.zeros((20, 20, 4), np.uint8)
    image[5:15, 9:11, 3] = 255
    store.add("amelie", image, 1, owner="amelie-key")
    assert not store.may_use(other, "bob-key")
    with pytest.raises(ValueError, match="another browser's collection"):
        store.add(other, image, 3, owner="bob-key")
    store.add(other, image, 4, owner="amelie-key")  # her own, in other letters: the same collection
    assert store.names() == ["amelie"] and [d.label for d in store.load(other)] == [1, 4]
    assert store.index(other) is store.index("amelie")


@pytest.mark.parametrize("name", ["../escape", "/etc", "a/b", ".."])
def test_a_name_from_the_browser_never_becomes_a_path(tmp_path, name):
    store = Collections(tmp_path / "c")
    with pytest.raises(ValueError, match="invalid collection name"):
        store.add(name, np.zeros((5, 5), np.uint8), 1)
    assert not (tmp_path / "escape").exists()


def test_labels_must_be_digits(tmp_path):
    with pytest.raises(ValueError, match="0-9"):
        Collections(tmp_path).add("x", np.zeros((5, 5), np.uint8), 12)


def test_version_changes_with_every_addition_and_clear(tmp_path):
    store = Collections(tmp_path)
    empty = store.version("c")
    store.add("c", np.zeros((5, 5), np.uint8), 3)
    one = store.version("c")
    store.add("c", np.zeros((5, 5), np.uint8), 4)
    assert len({empty, one, store.version("c")}) == 3
    store.clear("c", operator=True)
    assert store.version("c") == empty


def test_a_collection_index_decodes_only_the_drawings_added_since_and_follows_removals(tmp_path, monkeypatch):
    import mnist_core.storage.drawings as drawings_module

    store = Collections(tmp_path)
    image = np.zeros((20, 20, 4), np.uint8)
    image[5:15, 9:11, 3] = 255
    files = [store.add("class-3b", image, i % 10, owner="alice") for i in range(5)]
    decoded = []
    real = drawings_module._stored_picture
    monkeypatch.setattr(drawings_module, "_stored_picture", lambda path: decoded.append(path.name) or real(path))
    index = store.index("class-3b")
    assert index is store.index("class-3b")  # one per collection and process
    first = index.read()
    assert [d.file for d in first.drawings] == files and len(decoded) == 5
    assert index.read() is first and len(decoded) == 5  # the same version: nothing read
    new = store.add("class-3b", image, 3, owner="alice")
    second = index.read()
    assert decoded[5:] == [new] and [d.file for d in second.drawings] == files + [new]
    assert second.drawings[0] is first.drawings[0]  # every version shares the drawings already read
    store.remove("class-3b", files[1], owner="alice")
    assert [d.file for d in index.read().drawings] == [files[0], *files[2:], new] and len(decoded) == 6
    (tmp_path / "class-3b" / files[2]).write_bytes(b"not a png")  # damaged by hand: still the old reading?
    assert [d.file for d in store.read("class-3b").drawings] == [files[0], *files[3:], new]  # a fresh read says
    bomb = store.add("class-3b", image, 4, owner="alice")
    from PIL import Image

    Image.new("L", (15000, 15000)).save(tmp_path / "class-3b" / bomb)
    read = index.read()
    assert bomb not in [d.file for d in read.drawings]
    [problem] = read.problems  # one line about that file, the others still read
    assert problem.file == bomb and "too large" in str(problem) and "\n" not in str(problem)
    assert str(problem).startswith(f"{bomb}: ")
    store.clear("class-3b", owner="alice")
    assert index.read().drawings == [] and index.read().problems == []
