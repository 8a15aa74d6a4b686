"""Nicknames are one browser's each (compared NFKC + casefold); the teacher's roster frees and renames them."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.classroom.errors import ClassError
from mnist_core.classroom.nicknames import Nicknames, roster
from mnist_core.storage.drawings import Drawing
from mnist_core.storage.models import ModelStore
from mnist_core.storage.names import as_read

from .helpers import save_tiny

ADA, BO = "ada-key-0123456789abcdefghij", "bo-key-0123456789abcdefghijk"


@pytest.mark.parametrize("same", ["Ada", "ADA", "ada", " Ada ", "Ａｄａ", "\u0410da"])
def test_a_nickname_another_browser_holds_is_refused_and_not_given(tmp_path, same):
    names = Nicknames(tmp_path)
    ada, bo = names.tag_of(ADA), names.tag_of(BO)
    names.set(ada, "Ada")
    names.set(bo, "Bo")
    with pytest.raises(ClassError, match="this nickname is taken"):
        names.set(bo, same)
    assert names.get(bo) == "Bo" and names.get(ada) == "Ada"
    assert names.set(ada, same.strip()) == same.strip()  # its own, in another case: fine


@pytest.mark.parametrize(("typed", "kept"), [("D\u2019Artagnan", "D'Artagnan"),  # an iPhone's apostrophe
                                             ("Ame\u0301lie", "Am\u00e9lie"),  # é as e and its accent
                                             ("Jean\u2010Luc", "Jean-Luc")])
def test_what_a_phone_types_is_kept_as_the_plain_nickname(tmp_path, typed, kept):
    names = Nicknames(tmp_path)
    ada, bo = names.tag_of(ADA), names.tag_of(BO)
    assert names.set(ada, typed) == kept and names.get(ada) == kept
    with pytest.raises(ClassError, match="this nickname is taken"):
        names.set(bo, kept)  # the same nickname, typed the plain way


def test_look_alikes_and_cases_read_as_one_name():
    assert as_read("ＡＤＡ") == as_read("Ada") == as_read("ada") == as_read("\u0410da")  # full-width, Cyrillic А
    assert as_read("Ada") != as_read("Adb")


def test_a_freed_nickname_may_be_taken_and_the_roster_counts_drawings_and_models(tmp_path):
    names, store = Nicknames(tmp_path), ModelStore(tmp_path)
    ada, bo = names.tag_of(ADA), names.tag_of(BO)
    names.set(ada, "Ada")
    names.set(bo, "Bo")
    save_tiny(store, "ada-net", owner_key=ADA)
    save_tiny(store, "ada-big", owner_key=ADA)
    drawings = [Drawing(f"{i}.png", 1, np.zeros((2, 2)), nickname=n) for i, n in enumerate(["Ada", "ada", "Bo"])]
    rows = roster(names, store.list(), drawings)
    assert [(r.nickname, r.drawings, r.models) for r in rows] == [("Ada", 2, 2), ("Bo", 1, 0)]
    names.free(ada)
    assert names.get(ada) is None
    assert names.set(bo, "Ada") == "Ada"  # freed: anyone may take it
    with pytest.raises(ClassError, match="taken"):
        names.set(ada, "ada")
