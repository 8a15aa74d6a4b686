"""ui/per_owner.py: one value per browser, the least recently used forgotten beyond the limit."""

from __future__ import annotations

import threading

import pytest

from ui.per_owner import PerOwner


def test_each_owner_keeps_its_own_value_and_none_forgets_it():
    store: PerOwner[str] = PerOwner(10)
    store.set("a", "fr")
    store.set("b", "es")
    assert (store.get("a"), store.get("b"), store.get("c")) == ("fr", "es", None)
    store.set("a", None)
    assert store.get("a") is None and len(store) == 1


def test_beyond_the_limit_the_owner_seen_longest_ago_is_forgotten():
    store: PerOwner[int] = PerOwner(3)
    for i, who in enumerate("abc"):
        store.set(who, i)
    assert store.get("a") == 0  # a read counts as a use: "b" is now the oldest
    store.set("d", 3)
    assert store.get("b") is None and [store.get(w) for w in "acd"] == [0, 2, 3] and len(store) == 3


def test_setdefault_makes_once_and_a_flood_of_owners_stays_bounded():
    store: PerOwner[list] = PerOwner(100)
    first = store.setdefault("teacher", list)
    assert store.setdefault("teacher", list) is first

    def flood(part: int) -> None:
        for i in range(5_000):
            store.setdefault(f"cookie-{part}-{i}", list)
    threads = [threading.Thread(target=flood, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 100 and store.get("teacher") is None  # 20,000 new owners pushed it out


def test_a_store_keeps_at_least_one():
    with pytest.raises(ValueError):
        PerOwner(0)
