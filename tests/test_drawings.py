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
