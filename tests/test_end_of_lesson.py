"""End of the lesson (classroom/end_of_lesson.py): the students' models and private collections archived or
deleted in one step; the shipped model, the class collection and the teacher's own things untouched."""

from __future__ import annotations

from datetime import datetime, UTC

import pytest

from mnist_core.classroom.collection import ClassCollection
from mnist_core.classroom.end_of_lesson import ARCHIVE, end_lesson, students_things
from mnist_core.storage.drawings import Collections
from mnist_core.storage.models import ModelStore

from .helpers import draw_seven, save_tiny

TEACHER = "teacher-key-0123456789abcdef"
ADA, BO = "ada-key-0123456789abcdefgh", "bo-key-0123456789abcdefghi"


@pytest.fixture
def lesson(tmp_path):
    store, drawings = ModelStore(tmp_path / "models"), Collections(tmp_path / "drawings")
    save_tiny(store, "ada-net", owner_key=ADA)
    save_tiny(store, "bo-net", owner_key=BO)
    save_tiny(store, "teachers-demo", owner_key=TEACHER)
    drawings.add("digits-ada", draw_seven(), 7, owner=ADA)
    drawings.add("digits-teacher", draw_seven(), 7, owner=TEACHER)
    room = ClassCollection(drawings)
    room.open("class-2026", owner=TEACHER)
    room.add(draw_seven(), 7, ADA, "Ada")
    return store, drawings


def test_the_students_things_and_nothing_else(lesson):
    store, drawings = lesson
    found = students_things(store, drawings, TEACHER)
    assert sorted(found.models) == ["ada-net", "bo-net"] and found.collections == ["digits-ada"]


@pytest.mark.parametrize("archive", [True, False])
def test_end_of_lesson_archives_or_deletes_in_one_step(lesson, archive):
    store, drawings = lesson
    when = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
    done = end_lesson(store, drawings, TEACHER, archive=archive, when=when)
    assert sorted(done.models) == ["ada-net", "bo-net"] and done.collections == ["digits-ada"]
    names = {e.name for e in store.list()}
    assert names == {"teachers-demo", "default"}  # the shipped model and the teacher's own stay
    assert store.meta("default").name == "default"
    assert sorted(drawings.names()) == ["class-2026", "digits-teacher"]
    assert len(drawings.load("class-2026")) == 1  # the class's drawings untouched
    kept = store.root / ARCHIVE / "lesson-20261202-103000"
    if archive:
        assert done.archive == kept and sorted(p.name for p in kept.iterdir()) == ["ada-net.pt", "bo-net.pt"]
        assert (drawings.root / ARCHIVE / "lesson-20261202-103000" / "digits-ada").is_dir()
    else:
        assert done.archive is None and not kept.exists() and not (drawings.root / ARCHIVE).exists()
    assert end_lesson(store, drawings, TEACHER, archive=archive).models == []  # a second time: nothing left


def test_the_leaderboard_as_csv_best_first_and_spreadsheet_safe(lesson):
    import csv
    import io

    from mnist_core.classroom.end_of_lesson import leaderboard_csv
    from mnist_core.classroom.leaderboard import saved_entries

    store, _ = lesson
    save_tiny(store, "formula", 0.99, owner_key="mallory-key-0123456789abcdef")
    names = {store.owners.tag("mallory-key-0123456789abcdef"): "=HYPERLINK(1)"}
    rows = list(csv.DictReader(io.StringIO(leaderboard_csv(saved_entries(store),
                                                           lambda e: names.get(e.owner_tag, "someone")))))
    scores = [float(r["MNIST test accuracy %"]) for r in rows]
    assert scores == sorted(scores, reverse=True)  # best first, as the leaderboard ranks them
    assert {r["name"] for r in rows} == {"ada-net", "bo-net", "teachers-demo", "formula", "default"}
    assert next(r for r in rows if r["name"] == "formula")["by"] == "'=HYPERLINK(1)"
    assert [int(r["rank"]) for r in rows] == list(range(1, 6))
