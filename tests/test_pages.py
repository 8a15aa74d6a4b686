"""Page logic under Streamlit's AppTest: widgets into the engine's config, error paths, the Draw page
with a stand-in canvas (the real component only runs in a browser)."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from .helpers import button, current_model_of, draw_seven, png_of_a_one, PROJECT, train_tiny


def train_page() -> AppTest:
    at = AppTest.from_file(str(PROJECT / "pages" / "train.py"), default_timeout=30)
    return at.run()


def test_settings_start_with_the_recommended_preset(env):
    at = train_page()
    assert at.sidebar.text_input(key="t_hidden").value == "256"
    assert at.sidebar.number_input(key="t_lr").value == pytest.approx(3e-3)
    at.sidebar.selectbox(key="t_preset").set_value("notebook").run()
    assert at.sidebar.text_input(key="t_hidden").value == "128"
    assert at.sidebar.number_input(key="t_epochs").value == 10
    assert at.sidebar.selectbox(key="t_batch_size").value == 64


def test_a_second_look_at_the_train_page_starts_the_fork_server(env, monkeypatch):
    """Not on a visitor's first look (it would slow whatever they do first), but once they change a setting."""
    import mnist_core.runs.child

    started = []
    monkeypatch.setattr(mnist_core.runs.child, "start_child_server", lambda: started.append(True))
    at = train_page()
    assert started == []
    at.sidebar.number_input(key="t_epochs").set_value(3).run()
    assert started == [True]


def test_bad_hidden_layers_get_a_message_and_nothing_starts(env):
    at = train_page()
    at.sidebar.text_input(key="t_hidden").set_value("12, abc").run()
    button(at, "Train").click().run()
    assert any("hidden layers are comma-separated whole numbers" in e.value for e in at.error)
    assert "job" not in at.session_state


def test_a_taken_name_is_refused(env):
    at = train_page()
    at.sidebar.text_input(key="t_name").set_value("default").run()
    button(at, "Train").click().run()
    assert any(refusal in e.value for e in at.error
               for refusal in ("ships with the app", "exists already", "reads as the app's own 'default'"))


def chart_specs(at: AppTest) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_train_runs_a_job_and_the_page_shows_it_done(env):
    at = train_page()
    at.sidebar.number_input(key="t_epochs").set_value(1).run()
    at.sidebar.text_input(key="t_name").set_value("apptest").run()
    at.sidebar.text_input(key="t_hidden").set_value("512,512,512").run()  # batches of a few ms, 19 of them
    at.sidebar.selectbox(key="t_batch_size").set_value(16).run()
    button(at, "Train").click().run()
    assert at.session_state["job"]
    # Slow motion as soon as the run trains, as the page's slider does: on a quiet machine the 300-digit epoch
    # ended before the page was drawn; now its batches are 0.5 s apart.
    from mnist_core.net.controls import Control, ControlError
    from ui.engine import job_registry

    job = job_registry()[0].get(at.session_state["job"])
    deadline = time.monotonic() + 60
    while True:
        try:
            job.control(job.owner, Control("delay", value=0.5))
            break
        except ControlError:  # still queued or starting
            assert time.monotonic() < deadline
            time.sleep(0.002)
    assert not job.snapshot().history
    at.run()
    # Before the first epoch ends there is nothing to plot: a line says when the macro-F1 chart comes,
    # instead of empty axes.
    assert any("the chart appears when the first epoch ends" in i.value for i in at.info)
    assert not any("Macro-F1" in json.dumps(spec) for spec in chart_specs(at))
    deadline = time.monotonic() + 60
    while not any("Trained 1 epoch;" in s.value for s in at.success) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()  # run_every timers do not fire under AppTest
    assert any("saved as **apptest**" in s.value for s in at.success)
    assert (env / "models" / "apptest.pt").exists()
    # The new model is the current one for the other pages, and the page says so.
    assert current_model_of(at) == "apptest"
    assert any("apptest" in t.value and "current model" in t.value for t in at.toast)
    assert any("Current model for the other pages: **apptest**" in m.value for m in at.markdown)
    # The health chart's log axis is labelled by powers of ten, as people write them (0.01, 10⁻⁵), not 1e-2.
    health = next(spec for spec in chart_specs(at) if "Training health" in json.dumps(spec))
    ticks = health["layout"]["yaxis"]["ticktext"]
    assert ticks and all(re.fullmatch(r"[125]|0\.0*[125]|[125]0*|([25]×)?10⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+", t) for t in ticks), ticks
    # One epoch's nearly equal F1 scores on an axis at least 0.02 tall, not ticks like 0.93765, 0.9377.
    f1 = next(spec for spec in chart_specs(at) if "Macro-F1 per epoch" in json.dumps(spec))
    low, high = f1["layout"]["yaxis"]["range"]
    assert high - low >= 0.02 - 1e-9 and high <= 1.0
    # The box for more epochs carries its label.
    assert at.number_input(key="t_more").label == "More epochs"
    assert at.number_input(key="t_more").proto.label_visibility.value == 0  # VISIBLE


def test_a_trained_model_stays_current_when_another_is_trained_and_rename_and_delete_confirm(env):
    at = train_tiny(train_page(), "first")
    assert current_model_of(at) == "first"
    at = train_tiny(at, "second")
    assert current_model_of(at) == "second"
    at.text_input(key="rename_to").set_value("renamed").run()
    button(at, "Rename").click().run()
    assert any("Renamed second to renamed" in s.value for s in at.success)
    assert current_model_of(at) == "renamed" and (env / "models" / "renamed.pt").exists()
    button(at, "Delete").click().run()
    # One click only asks.
    assert (env / "models" / "renamed.pt").exists()
    assert any("Delete **renamed** for good?" in w.value for w in at.warning)
    button(at, "Cancel").click().run()
    assert (env / "models" / "renamed.pt").exists()
    button(at, "Delete").click().run()
    button(at, "Yes, delete").click().run()
    assert not (env / "models" / "renamed.pt").exists()
    assert any("Deleted renamed" in s.value for s in at.success)
    assert current_model_of(at) in ("first", "default")


def test_model_names_fit_their_column(env):
    from mnist_core.net.config import TrainConfig  # noqa: F401  (the store needs a real model to list)

    at = train_tiny(train_page(), "mlp-256-112-a-rather-long-name")
    table = next(d for d in at.dataframe if "rather-long-name" in d.value.to_string())
    config = json.loads(table.proto.columns)
    assert config["name"]["width"] >= 8 * len("mlp-256-112-a-rather-long-name")


def test_the_first_page_says_where_to_start_and_how_long_presets_take(env):
    at = train_page()
    start = next(e for e in at.expander if e.label.startswith("Start here"))
    text = " ".join(m.value for m in start.markdown)
    assert "MNIST" in text and "MLP" in text and "11.6 s" in text and "about 7 minutes" in text
    assert "2-core" in text
    # Every preset shows the training digits, also those that do not change them.
    assert any(c.startswith("Training digits: as in MNIST") for c in gallery_captions(at))


def test_a_failed_download_says_so_in_one_line_and_leaves_no_progress_bar(env, monkeypatch):
    import functools
    import http.server
    import threading

    import mnist_core.net.data

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # A real mirror on loopback that has no MNIST (every file: 404).
        monkeypatch.setattr(mnist_core.net.data, "download", functools.partial(
            mnist_core.net.data.download, mirrors=(f"http://127.0.0.1:{server.server_port}/nothing/",), timeout=5))
        monkeypatch.setenv("MNIST_DIR", str(env / "nothing-here"))
        at = train_page()
        next(b for b in at.button if b.label.startswith("Download MNIST")).click().run()
    finally:
        server.shutdown()
    errors = [e.value for e in at.error]
    assert errors and errors[0].startswith("The download failed") and "\n" not in errors[0]
    assert not at.get("progress")
    assert not any("Starting the download" in str(e.proto) for e in at.get("progress"))


def test_drawn_digits_setting_shows_them_and_reaches_the_run(env):
    from mnist_core.net.config import PRESETS
    from mnist_core.storage.models import ModelStore

    at = train_page()
    assert at.sidebar.slider(key="t_drawn").value == 0.0
    assert not any("drawn on a canvas" in c for c in gallery_captions(at))
    at.sidebar.selectbox(key="t_preset").set_value("robust-drawings").run()
    assert at.sidebar.slider(key="t_drawn").value == PRESETS["robust-drawings"].drawn > 0
    assert at.sidebar.checkbox(key="t_fill_in").value is True
    assert any("drawn on a canvas and read back as the Draw page does" in c for c in gallery_captions(at))
    at.sidebar.slider(key="t_drawn").set_value(0.2).run()
    at.sidebar.text_input(key="t_hidden").set_value("16").run()
    at.sidebar.number_input(key="t_epochs").set_value(1).run()
    at.sidebar.text_input(key="t_name").set_value("drawn").run()
    button(at, "Train").click().run()
    deadline = time.monotonic() + 60
    while not any("Trained 1 epoch;" in s.value for s in at.success) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert ModelStore(env / "models").meta("drawn").config.drawn == 0.2
    assert ModelStore(env / "models").meta("drawn").config.fill_in is True


def test_missing_data_offers_the_download_and_disables_train(env, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(env / "nothing-here"))
    at = train_page()
    assert any("MNIST is not in" in w.value for w in at.warning)
    assert any(b.label.startswith("Download MNIST") for b in at.button)
    assert button(at, "Train").disabled


# --- the Draw page, with a stand-in canvas ---------------------------------------------------------

def draw_page() -> AppTest:
    """Through app.py, as in the browser: the page links to Inside, a page only the app's navigation knows."""
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    at.switch_page("pages/draw.py")
    return at.run()


def test_blank_canvas_shows_the_hint_and_no_answer(env, canvas):
    at = draw_page()
    assert not at.exception
    assert any("Draw a digit in the box" in i.value for i in at.info)
    assert not any("predicted-digit" in m.value for m in at.markdown)


def texts(at: AppTest) -> list[str]:
    """What the page says in words: its captions and its Markdown (the answer's HTML blocks)."""
    return [c.value for c in at.caption] + [m.value for m in at.markdown]


def test_a_drawing_gets_an_answer_and_its_steps(env, canvas):
    canvas["image"] = draw_seven()
    at = draw_page()
    assert not at.exception
    answer = next(m.value for m in at.markdown if "predicted-digit" in m.value)
    assert ">7</div>" in answer  # the shipped model reads the drawn seven
    assert any("fitted into 20×20" in t for t in texts(at))
    # The Inside page will look at this drawing, as the network saw it.
    assert at.session_state["drawn_digit"].shape == (28, 28) and at.session_state["inside_source"] == "drawing"


def answer(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "predicted-digit" in m.value).split("</div>")[0][-1]


def test_upload_then_draw_reads_the_newer_and_says_which(env, canvas):
    at = draw_page()
    at.file_uploader[0].set_value(("one.png", png_of_a_one(), "image/png")).run()
    assert not at.exception
    assert any("Reading the upload one.png" in t for t in texts(at)) and answer(at) == "1"
    canvas["image"] = draw_seven()  # then the learner draws a 7
    at.run()
    assert any("Reading your drawing" in t for t in texts(at)) and answer(at) == "7"
    # Both are there: the page asks which to read, and the upload can be removed.
    assert at.radio(key="d_source").value == "drawing"
    at.radio(key="d_source").set_value("upload").run()
    assert answer(at) == "1"
    button(at, "Remove the upload").click().run()
    assert any("Reading your drawing" in t for t in texts(at)) and answer(at) == "7"
    assert at.file_uploader[0].value is None


def test_a_bad_upload_is_an_error_and_the_drawing_is_still_read(env, canvas):
    canvas["image"] = draw_seven()
    at = draw_page()
    at.file_uploader[0].set_value(("broken.png", b"this is not a picture", "image/png")).run()
    assert any("The upload could not be read" in e.value and "Reading your drawing instead" in e.value
               for e in at.error)
    assert answer(at) == "7"


def test_a_blank_upload_says_it_is_blank_not_draw_a_digit(env, canvas):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(buffer, format="PNG")  # transparent all over
    at = draw_page()
    at.file_uploader[0].set_value(("empty.png", buffer.getvalue(), "image/png")).run()
    assert any("The upload empty.png reads as blank" in i.value for i in at.info), [i.value for i in at.info]
    assert not any("Draw a digit in the box" in i.value for i in at.info)


def test_a_dash_read_as_a_digit_comes_with_the_reason(env, canvas):
    from PIL import Image, ImageDraw

    dash = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(dash).line([(60, 140), (220, 140)], fill=(0, 0, 0, 255), width=18)
    canvas["image"] = np.asarray(dash)
    at = draw_page()
    assert answer(at).isdigit()
    assert any('never "not a digit"' in t for t in texts(at))


def test_the_collection_saves_scores_and_clears(env, canvas):
    canvas["image"] = draw_seven()
    at = draw_page()
    at.toggle(key="d_collect").set_value(True).run()
    true_digit = lambda: next(s for s in at.selectbox if s.label == "This drawing is a")  # noqa: E731
    true_digit().set_value(7).run()
    button(at, "Save drawing").click().run()
    assert any("1 of 1" in m.value for m in at.markdown)
    true_digit().set_value(1).run()
    button(at, "Save drawing").click().run()  # the same seven, labelled wrongly on purpose
    assert any("1 of 2" in m.value for m in at.markdown)
    button(at, "Clear this collection").click().run()
    assert any("1 of 2" in m.value for m in at.markdown)  # asked first, nothing cleared yet
    button(at, "Yes, clear it").click().run()
    assert any("No drawings saved here yet" in c.value for c in at.caption)


# --- the Mistakes page ----------------------------------------------------------------------------

def mistakes_page() -> AppTest:
    return AppTest.from_file(str(PROJECT / "pages" / "mistakes.py"), default_timeout=30).run()


def expected_mistakes(true_digit=None, predicted=None, order="confidence") -> list[int]:
    from mnist_core.net.data import load_mnist
    from mnist_core.net.evaluate import evaluate, select_mistakes
    from mnist_core.storage.models import ModelStore

    model, _, _ = ModelStore().load("default")
    data = load_mnist()
    return select_mistakes(evaluate(model, data.test_images, data.test_labels), true_digit, predicted,
                           order).tolist()


def test_mistakes_gallery_filters_and_sorts_like_the_engine(env):
    at = mistakes_page()  # the shipped model on tiny generated data: it gets many wrong
    assert not at.exception
    everything = expected_mistakes()
    assert len(everything) > 10
    assert any(f"{len(everything)} mistakes" in c.value for c in at.caption)
    assert at.selectbox(key="m_pick").options[0].startswith(f"test digit #{everything[0]}:")
    true_digit = int(at.selectbox(key="m_pick").options[0].split("true ")[1].split(" ")[0])
    at.selectbox(key="m_true").set_value(true_digit).run()
    at.selectbox(key="m_order").set_value("index").run()
    wanted = expected_mistakes(true_digit, None, "index")
    shown = [int(o.split(":")[0].removeprefix("test digit #")) for o in at.selectbox(key="m_pick").options]
    assert shown == wanted[:60] and shown == sorted(shown)
    assert any(f"{len(wanted)} mistakes" in c.value for c in at.caption)


def test_a_filter_with_no_mistakes_says_so(env):
    at = mistakes_page()
    changed = 0
    for digit in range(10):
        # Each digit starts from a filter that shows its mistakes, where it has any: the message must come
        # from this digit's filter, not linger from the one before.
        at.selectbox(key="m_pred").set_value(None).run()
        at.selectbox(key="m_true").set_value(digit).run()
        has_mistakes = bool(expected_mistakes(digit))
        assert any("No mistakes with these filters" in i.value for i in at.info) != has_mistakes, digit
        at.selectbox(key="m_pred").set_value(digit).run()  # true == predicted is never a mistake
        assert any("No mistakes with these filters" in i.value for i in at.info), digit
        changed += has_mistakes
    assert changed  # at least one digit went from its mistakes shown to none


@pytest.fixture
def big_test_set(env, monkeypatch):
    """3,000 generated test digits, about 300 of each: row shares under 1% exist."""
    from .helpers import write_mnist

    write_mnist(env / "big", n_train=300, n_test=3000)
    monkeypatch.setenv("MNIST_DIR", str(env / "big"))
    return env


def test_row_normalised_confusion_labels_never_round_a_mistake_to_zero(big_test_set):
    import re

    from mnist_core.net.config import TrainConfig
    from mnist_core.net.data import load_mnist
    from mnist_core.runs.body import save_run, train_run
    from mnist_core.runs.spec import RunSpec
    from mnist_core.storage.models import ModelStore

    from .helpers import FAST

    # A small model barely trained on the generated digits: right mostly, wrong now and then (rare cells).
    config = TrainConfig(**{**FAST, "epochs": 1, "batch_size": 128, "lr": 3e-4})
    save_run(ModelStore(), train_run(RunSpec(config, 1, threads=1), load_mnist(), lambda m: None, lambda: False),
             "barely")
    at = mistakes_page()
    next(box for box in at.selectbox if "barely" in box.options).set_value("barely").run()
    at.toggle(key="m_normalised").set_value(True).run()
    matrix = next(spec for spec in chart_specs(at) if "Confusion matrix" in json.dumps(spec))
    texts = matrix["data"][0]["text"]
    counts = np.array(matrix["data"][1]["customdata"])  # the same texts, cell by cell
    assert len(counts) == 100
    at.toggle(key="m_normalised").set_value(False).run()
    raw = next(spec for spec in chart_specs(at) if "Confusion matrix" in json.dumps(spec))["data"][0]["text"]
    small = 0
    for true in range(10):
        for predicted in range(10):
            count, text = int(raw[true][predicted]), texts[true][predicted]
            if count == 0:
                assert text == "0"
            else:
                assert text != "0%" and (text == "<0.1%" or re.fullmatch(r"\d+\.\d%", text)), (count, text)
                small += count / 300 < 0.01
    assert small, raw  # the data has shares under 1%, which whole percents showed as "0%"


def test_mistakes_without_mnist_names_the_test_files(env, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(env / "nothing-here"))
    at = mistakes_page()
    text = " ".join(w.value for w in at.warning)
    assert "t10k-images-idx3-ubyte" in text and text.index("t10k") < text.find("train-images")


def test_compare_two_models_says_how_many_and_pages_through_all(big_test_set):
    from mnist_core.net.config import TrainConfig
    from mnist_core.net.data import load_mnist
    from mnist_core.runs.body import save_run, train_run
    from mnist_core.runs.spec import RunSpec
    from mnist_core.storage.models import ModelStore

    # A small model trained on the generated digits gets them right; the shipped one, made for real
    # digits, gets many of them wrong: hundreds of disagreements.
    result = train_run(RunSpec(TrainConfig(hidden=(16,), epochs=3, batch_size=50, device="cpu"), 3), load_mnist(),
                       lambda message: None, lambda: False)
    save_run(ModelStore(big_test_set / "models"), result, "small")
    at = mistakes_page()
    at.selectbox(key="m_other").set_value("small").run()
    totals = [int(n) for n in re.findall(r"gets (\d+) (?:digits )?right",
                                         next(m.value for m in at.markdown if "right that" in m.value))]
    side = int(np.argmax(totals))
    assert totals[side] > 80
    answered = "default" if side else "small"
    captions = gallery_captions(at)
    assert any(c.startswith(f"1-40: 40 of {totals[side]}.") and f"what {answered} answered" in c for c in captions)
    at.number_input(key=f"m_compare_page_{side}").set_value(2).run()
    assert any(c.startswith("41-80: 40 of ") and f"of {totals[side]}." in c for c in gallery_captions(at))


# --- the Inside page ------------------------------------------------------------------------------

def gallery_captions(at: AppTest) -> list[str]:
    """The captions under the galleries (ui/galleries: under both halves, as st.caption)."""
    return [caption.value for caption in at.caption]


def image_captions(at: AppTest) -> list[str]:
    return [caption for image in at.get("image") for caption in (image.captions or [])]


def inside_page(tab: str = "Weights", **state) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "pages" / "inside.py"), default_timeout=60)
    at.session_state["i_tab"] = tab  # AppTest cannot click a tab; the tabs keep their choice under this key
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_inside_weights_and_activations_of_the_shipped_model(env):
    at = inside_page()
    assert not at.exception
    assert any("test digit #0" in m.value and "**default**" in m.value for m in at.markdown)
    assert any("64 of the 512 units" in c for c in image_captions(at))
    at.radio(key="i_order").set_value("strongest first").run()
    assert not at.exception
    at = inside_page("Activations")
    assert not at.exception
    titles = [c.proto.spec.replace("\\u003cbr\\u003e", " ") for c in at.get("plotly_chart")]  # a long one on two lines
    assert len(titles) == 2 and "Hidden layer 1: 512 units" in titles[0] and "Hidden layer 2: 256 units" in titles[1]


def test_inside_saliency_both_ways_and_for_another_digit(env):
    at = inside_page("Saliency", inside_test=3)
    assert not at.exception
    assert any(c.startswith("gradient × input for") for c in image_captions(at))
    at.radio(key="i_method").set_value("occlusion").run()
    assert any(c.startswith("occlusion for") for c in image_captions(at))
    digit_box = next(s for s in at.selectbox if s.label == "Why (not) this digit")
    digit_box.set_value(0 if digit_box.value != 0 else 1).run()
    assert not at.exception


def test_inside_nearest_digits_brittleness_and_map_on_the_dataset(env):
    at = inside_page("Nearest digits")
    assert not at.exception
    assert any("Searched all 300 training digits" in c.value for c in at.caption)  # the tiny set
    at = inside_page("Brittleness")
    assert not at.exception
    assert any(c.value.startswith("default: ") for c in at.caption)  # the curve's summary, first to last level
    at.selectbox(key="i_kind").set_value("rotation").run()
    assert not at.exception and any("at 50" in c.value for c in at.caption)
    at = inside_page("Map")
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert "placed by PCA" in spec and "this digit" in spec
    at.radio(key="i_projection").set_value("tsne").run()
    assert not at.exception and "placed by t-SNE" in at.get("plotly_chart")[0].proto.spec


def test_inside_looks_at_the_last_drawing_and_works_without_the_dataset(env, monkeypatch):
    drawn = np.zeros((28, 28), np.float32)
    drawn[6:22, 13:15] = 1.0  # a one
    monkeypatch.setenv("MNIST_DIR", str(env / "nothing-here"))
    at = inside_page("Saliency", drawn_digit=drawn)
    assert not at.exception
    assert any("your drawing" in m.value for m in at.markdown)
    assert any(c.startswith("gradient × input") for c in image_captions(at))
    at = inside_page("Nearest digits", drawn_digit=drawn)
    assert any("needs the MNIST" in w.value for w in at.warning)


def test_damaged_training_images_are_one_line_and_an_offer_to_download_again(env, tiny_dir):
    images = tiny_dir / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:200])  # a download cut short
    at = train_page()
    assert not at.exception
    assert any("cannot be read" in e.value and "train-images-idx3-ubyte" in e.value for e in at.error)
    assert button(at, "Download MNIST again (about 11 MB)") and button(at, "Train").disabled
    assert any("By hand: put the four files" in c.value for c in at.caption)
    assert any("Current model for the other pages" in m.value for m in at.markdown)  # the rest of the page is there


def test_mistakes_with_only_the_training_images_missing_says_so(env, tiny_dir):
    (tiny_dir / "train-images-idx3-ubyte.gz").unlink()
    at = mistakes_page()
    text = " ".join(w.value for w in at.warning)
    assert "all four files" in text and "`train-images-idx3-ubyte`" in text and "t10k" not in text


def test_a_refused_rename_keeps_delete(env):
    at = train_tiny(train_tiny(train_page(), "one"), "two")
    at.text_input(key="rename_to").set_value("one").run()
    button(at, "Rename").click().run()
    assert any("exists already" in e.value for e in at.error)
    assert any(b.label == "Delete" for b in at.button)  # the other action is still offered
