"""Two browsers on one server, under AppTest: who may change what, and what a reload keeps. A new
AppTest is a new browser session; one started with the same owner key is the same browser reloaded
(the key comes from its cookie, which AppTest cannot send: it is put where the cookie's value goes)."""

from __future__ import annotations

import subprocess

import pytest
from streamlit.testing.v1 import AppTest

from .helpers import button, choose_model, draw_seven, PROJECT, train_tiny

ALICE, BOB = "a" * 32, "b" * 32


def page(path: str, who: str, **state) -> AppTest:
    """A browser whose cookie holds `who`, on one page (through app.py, as in the browser)."""
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    at.session_state["owner"] = who
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(path)
    return at.run()


def train(at: AppTest, name: str) -> None:
    train_tiny(at, name)
    assert any(f"saved as **{name}**" in s.value for s in at.success)


def has_button(at: AppTest, label: str) -> bool:
    return any(b.label == label for b in at.button)


def test_a_run_and_its_rights_survive_a_reload_and_the_key_is_never_in_the_url(env):
    alice = page("pages/train.py", ALICE)
    train(alice, "hers")
    assert "key" not in alice.query_params and list(alice.query_params) == ["job"]
    choose_model(ALICE, "hers")  # chosen as the current model (the models table does this)
    alice.run()
    assert has_button(alice, "Rename") and has_button(alice, "Delete")
    # The same browser reloaded: a new session, the same cookie. The run, the current model and the
    # right to rename and delete are still there.
    again = page("pages/train.py", ALICE)
    assert any("saved as **hers**" in s.value for s in again.success)
    assert any("**hers**" in m.value and "Current model" in m.value for m in again.markdown)
    assert has_button(again, "Rename") and has_button(again, "Delete") and has_button(again, "Train more")
    # Another browser looking at the same model gets neither.
    choose_model(BOB, "hers")
    bob = page("pages/train.py", BOB)
    assert not has_button(bob, "Rename") and not has_button(bob, "Delete") and not has_button(bob, "Train more")


def test_the_current_model_is_kept_per_browser_across_pages_and_reloads(env):
    alice = page("pages/train.py", ALICE)
    train(alice, "chosen")
    draw = page("pages/draw.py", ALICE)
    draw.selectbox[0].set_value("chosen").run()  # the Draw page's model picker
    assert any("Model **chosen**" in c.value for c in draw.caption)
    reloaded = page("pages/mistakes.py", ALICE)
    assert reloaded.selectbox[0].value == "chosen"
    other = page("pages/draw.py", BOB)
    assert any("Model **default**" in c.value for c in other.caption)  # bob's own choice is untouched


def test_another_browsers_collection_is_not_offered_and_cannot_be_cleared(env, canvas):
    canvas["image"] = draw_seven()
    alice = page("pages/draw.py", ALICE)
    alice.toggle(key="d_collect").set_value(True).run()
    hers = alice.text_input[0].value
    next(s for s in alice.selectbox if s.label == "This drawing is a").set_value(7).run()
    button(alice, "Save drawing").click().run()
    assert any("1 of 1" in m.value for m in alice.markdown) and has_button(alice, "Clear this collection")
    bob = page("pages/draw.py", BOB)
    bob.toggle(key="d_collect").set_value(True).run()
    assert bob.text_input[0].value != hers  # not pre-filled with alice's collection
    bob.text_input[0].set_value(hers).run()
    # A private collection is its owner's alone (issue #25): bob neither sees its score nor adds nor clears.
    assert not any("1 of 1" in m.value for m in bob.markdown)
    assert any("is not yours" in w.value for w in bob.warning)
    assert not has_button(bob, "Clear this collection")


@pytest.fixture
def read_only_drawings(env, monkeypatch):
    folder = env / "ro"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here")
    monkeypatch.setenv("MNIST_DRAWINGS", str(folder))
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_saving_a_drawing_into_a_read_only_folder_says_so(read_only_drawings, canvas):
    canvas["image"] = draw_seven()
    at = page("pages/draw.py", ALICE)
    at.toggle(key="d_collect").set_value(True).run()
    next(s for s in at.selectbox if s.label == "This drawing is a").set_value(7).run()
    button(at, "Save drawing").click().run()
    assert not at.exception
    assert any("read-only" in e.value for e in at.error)
    assert any("predicted-digit" in m.value for m in at.markdown)  # the reading is still there


def test_a_moments_fallback_to_default_does_not_replace_the_choice(env):
    alice = page("pages/train.py", ALICE)
    train(alice, "mine")
    draw = page("pages/draw.py", ALICE)
    assert any("Model **mine**" in c.value for c in draw.caption)
    # The model file away for a moment (an operator moving the folder, a copy being restored): the
    # page falls back to the shipped model, and comes back to the chosen one once the file is back.
    stored, aside = env / "models" / "mine.pt", env / "mine.pt.aside"
    stored.rename(aside)
    draw.run()
    assert any("Model **default**" in c.value for c in draw.caption)
    aside.rename(stored)
    draw.run()
    assert any("Model **mine**" in c.value for c in draw.caption)


def test_a_current_model_deleted_by_its_owner_is_said_and_an_old_link_too(env):
    alice = page("pages/train.py", ALICE)
    train(alice, "hers2")
    choose_model(BOB, "hers2")  # bob looks at alice's model
    bob = page("pages/mistakes.py", BOB)
    assert bob.selectbox[0].value == "hers2"
    (env / "models" / "hers2.pt").unlink()  # alice deletes it
    bob.run()
    assert any("**hers2** is no longer in the store" in i.value for i in bob.info)
    stale = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    stale.session_state["owner"] = BOB
    stale.query_params["job"] = "gone-long-ago"
    stale.run()
    assert any("No run of this link is on this server" in i.value for i in stale.info)
