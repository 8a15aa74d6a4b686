"""The Draw page's canvas: the installed streamlit-drawable-canvas with a shorter pause before it sends."""

from __future__ import annotations

import json
import re
import sys

import numpy as np

from ui.canvas import (
    build_folder,
    COMPONENT,
    Drawn,
    LABELS_HOOK,
    quick_script,
    quick_sources,
    RESET_EMPTY,
    RESET_HOOK,
    SEND_DELAY_MS,
    SEND_HOOK,
    served_folder,
    STOCK_DELAY,
    TOOLBAR_LABELS,
    TOUCH_STYLE,
)


def installed_script() -> str:
    (script,) = build_folder().glob("index-*.js")
    return script.read_text(encoding="utf-8")


def test_the_installed_canvas_has_the_pause_this_shortens():
    # Fails after an upgrade of streamlit-drawable-canvas that moved the pause: the page would then fall
    # back to the stock canvas (200 ms slower per stroke), so look at the new script and update STOCK_DELAY.
    script = installed_script()
    assert script.count(STOCK_DELAY) == 1
    assert "h.sender = Nh((c) => Ic(h, c), Bc)" in script  # the pause is the one before each send


def test_quick_script_changes_that_one_number_hooks_the_toolbar_labels_and_empties_reset_only():
    script = installed_script()
    assert script.count(RESET_HOOK) == 1  # an upgrade that moved Reset: look at it, and update RESET_HOOK
    quick = quick_script(script)
    assert quick is not None and STOCK_DELAY not in quick and RESET_HOOK not in quick
    assert quick.count(f"Bc = {SEND_DELAY_MS},") == 1 and quick.count(RESET_EMPTY) == 1
    hooked = LABELS_HOOK.replace("{\n", "{\n  mnistToolbarLabels(e, t),")
    assert quick.count(hooked) == 1 and quick.count("function mnistToolbarLabels(e, t)") == 1
    sends = "  mnistQuick(e, t, r) || " + SEND_HOOK.lstrip()  # a change goes to the quick answer's route first
    assert quick.count(sends) == 1 and quick.count("function mnistQuick(e, t, r)") == 1
    undone = quick.replace(hooked, LABELS_HOOK).replace(sends, SEND_HOOK).split("\nfunction mnistToolbarLabels")[0]
    assert undone.replace(f"Bc = {SEND_DELAY_MS},", STOCK_DELAY).replace(RESET_EMPTY, RESET_HOOK) == script


def test_every_toolbar_button_of_the_installed_canvas_has_its_label_to_translate():
    # Fails after an upgrade that renamed or added a button: it would keep its English label in every language.
    labels = re.findall(r'Xt\("\w+", "([^"]+)"', installed_script())
    assert len(labels) >= 5 and sorted(labels) == sorted(TOOLBAR_LABELS)


def test_a_script_without_the_labels_hook_still_gets_the_shorter_pause():
    quick = quick_script(f"const a = 1, {STOCK_DELAY} b = 2;")
    assert quick == f"const a = 1, Bc = {SEND_DELAY_MS}, b = 2;"


def test_an_unknown_script_is_left_alone():
    assert quick_script("const Bc = 150, other = 1;") is None
    assert quick_script(f"{STOCK_DELAY} {STOCK_DELAY}") is None


def test_sources_come_from_one_script_and_one_style_or_the_stock_canvas_stays(tmp_path):
    (tmp_path / "index-abc.js").write_text(f"const a = 1, {STOCK_DELAY} b = 2;", encoding="utf-8")
    assert quick_sources(tmp_path) is None  # no style
    (tmp_path / "index-style.css").write_text(".canvas-root {}", encoding="utf-8")
    assert quick_sources(tmp_path) == (f"const a = 1, Bc = {SEND_DELAY_MS}, b = 2;", ".canvas-root {}" + TOUCH_STYLE)
    (tmp_path / "index-def.js").write_text("export {};", encoding="utf-8")
    assert quick_sources(tmp_path) is None  # which script? neither
    (tmp_path / "index-abc.js").unlink()
    assert quick_sources(tmp_path) is None  # a script without the pause
    assert quick_sources(build_folder()) is not None  # the installed package


def test_inside_a_streamlit_run_the_page_draws_the_quick_canvas(monkeypatch):
    from streamlit.testing.v1 import AppTest

    # AppTest leaves its script as __main__, which a later training process (multiprocessing) would run.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])

    def script() -> None:
        from ui.canvas import st_canvas

        st_canvas(height=100, width=100, key="pad")

    sources = quick_sources(build_folder())
    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception
    (canvas,) = [e for e in at.main.children.values() if e.type == "bidi_component" and
                 e.proto.component_name == COMPONENT]
    # The script is a file the server sends once, not 415 kB inside every rerun's canvas element.
    assert canvas.proto.js_content == "" and canvas.proto.js_source_path.endswith(".js")
    folder = served_folder()
    script = (folder / canvas.proto.js_source_path).read_text(encoding="utf-8")
    assert f"Bc = {SEND_DELAY_MS}," in script and STOCK_DELAY not in script
    assert (folder / canvas.proto.css_source_path).read_text(encoding="utf-8") == sources[1]
    assert "mnistToolbarLabels(e, t)," in script
    assert "toolbarLabels" not in json.loads(canvas.proto.json)  # English: the data as the package makes it


def test_the_canvas_toolbar_labels_go_with_its_data_in_the_browsers_language(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])

    def script() -> None:
        from ui.canvas import st_canvas

        st_canvas(height=100, width=100, key="pad")

    at = AppTest.from_function(script, default_timeout=30)
    at.query_params["lang"] = "fr"
    at.run()
    assert not at.exception
    (canvas,) = [e for e in at.main.children.values() if e.type == "bidi_component" and
                 e.proto.component_name == COMPONENT]
    labels = json.loads(canvas.proto.json)["toolbarLabels"]
    assert set(labels) == set(TOOLBAR_LABELS) and labels["Undo"] == "Annuler"


def test_the_drawing_is_decoded_once_however_often_the_page_reads_it():
    class Result:  # stands for the package's CanvasResult, whose image_data decodes the PNG on each read
        decodes = 0
        json_data = {"objects": []}

        @property
        def image_data(self):
            self.decodes += 1
            return np.zeros((280, 280, 4), np.uint8)

    result = Result()
    drawn = Drawn(result)
    assert drawn.image_data is drawn.image_data and result.decodes == 1
    assert not drawn.image_data.flags.writeable  # shared by every step that reads it: nobody may change it
    assert drawn.json_data == {"objects": []}
