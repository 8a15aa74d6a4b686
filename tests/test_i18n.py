"""The languages: every text the code marks with t() or N_() translated in every catalog with the same
placeholders, no message joined from translated pieces, and under AppTest each session in its own language
(a `lang=` link, the sidebar picker, numbers written per language)."""

from __future__ import annotations

import ast
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from ui.i18n import catalog, from_accept_language, LANGUAGES, LOCALES, preferred_language, SOURCE

from .helpers import PROJECT

KEYWORDS = {"t": None, "N_": None}  # as babel.cfg's README command: `-k t -k N_ --no-default-keywords`
FRONT_END = [PROJECT / "app.py", *(PROJECT / "ui").glob("*.py"), *(PROJECT / "pages").glob("*.py")]
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}(?!\})")


def extracted() -> dict[str, str]:
    """Every msgid in the code, with where it is (Babel's own extraction, as `pybabel extract` does)."""
    method_map = [("app.py", "python"), ("ui/**.py", "python"), ("pages/**.py", "python"),
                  ("mnist_core/**.py", "python")]
    found = {}
    for filename, lineno, message, _, _ in extract_from_dir(str(PROJECT), method_map, keywords=KEYWORDS):
        found.setdefault(message, f"{filename}:{lineno}")
    return found


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))



def opened(path: str, lang: str, timeout: int = 30) -> AppTest:
    """A page (a path under the project) run once with `?lang=`, having raised nothing."""
    at = AppTest.from_file(str(PROJECT / path), default_timeout=timeout)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    return at

def test_the_code_has_texts_to_translate_and_babel_cfg_finds_the_same():
    found = extracted()
    assert {"Train", "Language", "You are **{nickname}**"} <= set(found)
    with (LOCALES / "messages.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    assert set(found) - template == set(), "run pybabel extract (README, Languages)"


@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != SOURCE])
def test_every_text_is_translated_with_the_same_placeholders(lang):
    translations = catalog(lang)
    found = extracted()
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items() if msgid not in translations]
    assert missing == [], f"untranslated in locales/{lang} (pybabel update, then translate): {missing}"
    wrong = [f"{found[msgid]}: {msgid!r} -> {text!r}" for msgid, text in translations.items()
             if msgid in found and placeholders(text) != placeholders(msgid)]
    assert wrong == []


def test_the_placeholder_check_sees_a_renamed_or_dropped_placeholder():
    assert placeholders("Epoch {epoch} of {epochs}") == {"epoch", "epochs"}
    assert placeholders("Époque {époque} sur {epochs}") != placeholders("Epoch {epoch} of {epochs}")
    assert placeholders("{value:.2f} and {{literal}}") == {"value"}


def _is_t(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("t", "N_")


def joined_pieces(source: str, name: str = "<code>") -> list[str]:
    """Where code builds a message around a translated piece (t() + ..., an f-string holding t(...)), or
    translates a text built in place (t(f"..."), t(a + b)): a language could not reorder those."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (_is_t(node.left) or _is_t(node.right)):
            hits.append(f"{name}:{node.lineno} t() joined with +")
        elif isinstance(node, ast.JoinedStr) and any(
                isinstance(v, ast.FormattedValue) and _is_t(v.value) for v in node.values):
            hits.append(f"{name}:{node.lineno} t() inside an f-string")
        elif _is_t(node) and (not node.args or isinstance(node.args[0], ast.JoinedStr | ast.BinOp | ast.Call)
                              or (node.func.id == "N_" and not isinstance(node.args[0], ast.Constant))):
            # t(NAME) is fine: a constant marked with N_("...") where it is defined, so extracted there.
            hits.append(f"{name}:{node.lineno} t() of a text built in place, not one literal text")
    return hits


def test_every_t_call_in_the_code_is_extracted():
    """Babel skips a t() nested in another t()'s arguments: each literal t() of the code must be in the
    extraction, or its text would show in English whatever the catalogs say."""
    found = extracted()
    literals = [(path.name, node.lineno, node.args[0].value) for path in FRONT_END
                for node in ast.walk(ast.parse(path.read_text())) if _is_t(node) and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)]
    assert len(literals) > 50
    assert [f"{name}:{line} {text!r}" for name, line, text in literals if text not in found] == []


def test_no_page_builds_a_message_from_translated_pieces():
    assert [hit for path in FRONT_END for hit in joined_pieces(path.read_text(), path.name)] == []


def test_the_join_check_catches_each_way_of_joining():
    assert len(joined_pieces('a = t("Epoch") + " 3"\nb = f"{t(\'Loss\')}: 2"\nc = t(f"x{y}")\n')) == 3
    assert joined_pieces('a = t("Epoch {epoch}", epoch=3)\n') == []


def test_accept_language_picks_the_first_known_language_by_weight():
    assert from_accept_language("fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert from_accept_language("de-DE,it;q=0.5,es;q=0.7") == "es"
    assert from_accept_language("de, ja") is None
    assert from_accept_language("") is None


def test_the_navigators_language_comes_before_the_websockets_accept_language():
    # Debian's Chromium under Playwright: navigator.language fr-FR, the websocket's Accept-Language en-US
    assert preferred_language("fr-FR", "en-US,en;q=0.9") == "fr"
    assert preferred_language("de-DE", "de-DE,it;q=0.5") == "it"  # a language the app lacks: the next
    assert preferred_language(None, "es-ES,es;q=0.9") == "es"
    assert preferred_language("ja", None) is None


SIDEBAR_PAGE = '''
import ui.startup  # noqa: F401
import streamlit as st
from ui.i18n import language_picker, pct, t
language_picker()
st.title(t("Train"))
st.write(pct(0.9913))
'''


def sidebar_app() -> AppTest:
    return AppTest.from_string(SIDEBAR_PAGE, default_timeout=30)


def test_two_sessions_read_two_languages_at_once(env):
    french, spanish = sidebar_app(), sidebar_app()
    french.query_params["lang"] = "fr"
    spanish.query_params["lang"] = "es"
    french.run()
    spanish.run()
    assert french.title[0].value == "Entraîner" and spanish.title[0].value == "Entrenar"
    french.run()  # the first session is not changed by the second
    assert french.title[0].value == "Entraîner"
    english = sidebar_app().run()
    assert english.title[0].value == "Train"


def test_the_picker_switches_the_language_and_numbers_follow(env):
    at = sidebar_app().run()
    assert at.title[0].value == "Train" and at.markdown[-1].value == "99.13%"
    picker = at.sidebar.selectbox(key="language_picker")
    assert picker.options == ["English", "Español", "Français", "Italiano"]
    picker.set_value("fr").run()
    assert at.title[0].value == "Entraîner"
    assert at.markdown[-1].value.replace("\xa0", " ") == "99,13 %"
    assert at.sidebar.selectbox(key="language_picker").label == "Langue"
    at.sidebar.selectbox(key="language_picker").set_value("it").run()
    assert at.title[0].value == "Addestra" and at.markdown[-1].value == "99,13%"
    reloaded = sidebar_app()  # a reload: a new session of the same browser (its owner key, from its cookie)
    reloaded.session_state["owner"] = at.session_state["owner"]
    assert reloaded.run().title[0].value == "Addestra"
    other = sidebar_app().run()  # another browser still reads its own language
    assert other.title[0].value == "Train"


def test_the_app_shows_its_navigation_and_sidebar_in_the_links_language(env):
    at = opened("app.py", "es", timeout=30)
    assert at.sidebar.selectbox(key="language_picker").value == "es"
    assert at.sidebar.selectbox(key="language_picker").label == "Idioma"


def test_the_leaderboard_in_french_titles_its_table_and_writes_decimals_with_a_comma(env):
    at = opened("pages/leaderboard.py", "fr", timeout=30)
    assert at.title[0].value == "Classement"
    assert [s.value for s in at.subheader] == ["En cours d'entraînement", "Modèles"]
    assert at.selectbox(key="lb_sort").label == "Classer par"
    assert at.selectbox(key="lb_sort").options[0] == "exactitude au test MNIST"
    table = at.dataframe[0].value
    assert {"nom", "par", "F1 au test"} <= set(table.columns)


def test_tables_write_their_scores_with_the_languages_decimal_mark():
    from ui.tables import with_dashes

    shown = with_dashes([{"a": 99.125, "b": None}], {"a": "{:.2f}%", "b": "{:.4f}"}, decimal=",").to_html()
    assert "99,12%" in shown or "99,13%" in shown
    assert "—" in shown


def test_the_mistakes_page_in_spanish_titles_its_tabs_and_scores(env):
    at = opened("pages/mistakes.py", "es", timeout=60)
    assert at.title[0].value == "Dónde se equivoca la red"
    assert [tab.label for tab in at.tabs][:4] == ["Errores", "Confianza", "Comparar dos modelos", "Conjunto de datos"]
    assert at.selectbox(key="model_picker").label == "Modelo"
    accuracy = at.metric[0]
    assert accuracy.label == "Exactitud en la prueba" and "," in accuracy.value and "." not in accuracy.value


def test_the_class_page_in_french_titles_it_and_says_no_collection_is_open(env):
    at = opened("pages/our_class.py", "fr", timeout=30)
    assert at.title[0].value == "L'écriture de notre classe"
    assert at.info[0].value.startswith("Aucune collection de la classe n'est ouverte")


def test_the_inside_page_in_italian_names_its_tabs_and_keeps_its_choices_values(env):
    at = AppTest.from_file(str(PROJECT / "pages" / "inside.py"), default_timeout=60)
    at.query_params["lang"] = "it"
    at.session_state["i_tab"] = "Pesi"  # the tabs keep their (shown) label under this key
    at.run()
    assert not at.exception
    assert at.title[0].value == "Dentro la rete"
    assert [tab.label for tab in at.tabs][:4] == ["Rete", "Laboratorio", "Matematica", "Pesi"]
    scale = at.radio(key="i_scale")
    assert scale.options == ["una per neurone", "una per tutti"] and scale.value == "each unit its own"


def test_the_draw_page_in_french_reads_a_seven_with_its_steps_and_settings_in_french(env, canvas):
    from .helpers import draw_seven

    canvas["image"] = draw_seven()
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=30)
    at.query_params["lang"] = "fr"
    at.switch_page("pages/draw.py")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Dessinez un chiffre"
    answer = next(m.value for m in at.markdown if "predicted-digit" in m.value)
    assert ">7</div>" in answer.split("predicted-digit")[1]  # the digit's own </div> still first
    assert "Lecture de votre dessin." in answer and "Probabilité de chaque chiffre" in answer
    assert "4. ajusté dans 20×20" in answer and "6. centré par la masse" in answer
    assert re.search(r"sûr à \d+,\d %", answer.replace("\xa0", " "))  # 97,3 %, not 97.3%
    compact = next(m.value for m in at.markdown if "compact-answer" in m.value)
    assert compact.startswith("<div") and "Lit <b" in compact and "sûr à" in compact
    assert at.slider(key="d_brush").label == "Épaisseur du pinceau"
    assert at.toggle(key="d_network_on").label == "Montrer le réseau illuminé"
    assert at.file_uploader[0].label == "…ou envoyez l'image d'un chiffre"
    english = [m.value for m in at.caption if "Draw in the box" in m.value or "test accuracy" in m.value]
    assert english == [] and any(c.value.startswith("Modèle **") for c in at.caption)


# --- Inside's Network, Lab and Maths tabs: no English left ----------------------------------------

# Words that are English in every one of the app's other languages (no French, Spanish or Italian word is
# spelled so): a text with one of them was left untranslated. ("bias" is Italian too; "on", "test" French.)
ENGLISH = {"the", "of", "and", "is", "are", "from", "for", "with", "this", "its", "unit", "units", "weight",
           "weights", "hidden", "output", "input", "inputs", "click", "digit", "digits", "layer", "switch",
           "switched", "edits", "mistake", "reads", "sure", "sum", "mean", "shown", "largest", "contributed"}
TAG = re.compile(r"<[^>]+>")


def _chart_texts(spec: dict) -> list[str]:
    """What a Plotly figure shows a person: its title, annotations, legend title, hover and point texts, and
    the names of its category ticks."""
    lay = spec.get("layout", {})
    texts = [(lay.get("title") or {}).get("text") or "", ((lay.get("legend") or {}).get("title") or {}).get("text", "")]
    texts += [a.get("text", "") for a in lay.get("annotations", [])]
    for trace in spec.get("data", []):
        texts.append(trace.get("hovertemplate") or "")
        for field in ("text", "hovertext", "x", "y"):
            values = trace.get(field)
            if isinstance(values, str):
                values = [values]
            for value in values or []:
                texts += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    return texts


def shown_texts(at: AppTest) -> list[str]:
    """Every text the page shows a person under AppTest: Markdown, captions, notices, widgets' labels, help
    and options, buttons, tabs, tables' titles and cells, image captions, and the charts' texts."""
    import json

    texts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
                                  "success") for e in getattr(at, kind)]
    for kind in ("button", "selectbox", "slider", "number_input", "text_input", "radio"):
        for w in getattr(at, kind):
            texts += [w.label, w.help or ""] + [str(o) for o in getattr(w, "options", [])]
    texts += [tab.label for tab in at.tabs]
    for table in at.dataframe:
        frame = table.value
        texts += [str(c) for c in frame.columns] + [v for v in frame.to_numpy().ravel() if isinstance(v, str)]
    texts += [c for image in at.get("image") for c in (image.captions or [])]
    for chart in at.get("plotly_chart"):
        texts += _chart_texts(json.loads(chart.proto.spec))
    return [TAG.sub(" ", text) for text in texts if text]


def english_in(texts: list[str]) -> list[str]:
    return [text for text in texts if ENGLISH & {w.lower() for w in re.findall(r"[A-Za-z]+", text)}]


def inside_tab(lang: str, tab: str, **state) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "pages" / "inside.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.session_state["i_tab"] = catalog(lang).get(tab, tab)  # the tabs keep their (shown) label under this key
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    return at


def each_view_of_network_lab_and_maths(lang: str):
    """The Network, Lab and Maths tabs in `lang`, in every state that shows other texts: a hidden and an output
    unit's panel; the lab with edits of each kind, its switching-off sequence and an edit it refuses; the maths
    of the first, a later and the output layer."""
    from mnist_core.net.edits import ScaleWeights, ShiftBias, SwitchOff

    yield inside_tab(lang, "Network")
    yield inside_tab(lang, "Network", i_node=(0, 3))
    yield inside_tab(lang, "Network", i_node=(2, 7))
    at = inside_tab(lang, "Lab", lab_edits={"default": [ShiftBias(0, 1, 0.5), ScaleWeights(1, 2, 2.0)]},
                    lab_noise=10, lab_prune=20, lab_temperature=2.0, lab_action="shift its bias")
    at.button(key="lab_knock").click().run()
    assert not at.exception and any("→" in m.value for m in at.markdown)
    yield at
    at = inside_tab(lang, "Lab", lab_edits={"default": [SwitchOff(2, d) for d in range(10)]}, lab_layer=2,
                    lab_action="scale its incoming weights", **{"lab_unit_2": 9})
    assert at.error and "ten" not in at.error[0].value  # the engine's refusal, in this language
    yield at
    at.button(key="lab_add").click().run()
    yield at
    for layer in (0, 1, 2):
        yield inside_tab(lang, "Maths", m_layer=layer)


@pytest.mark.parametrize("lang", ["es", "fr", "it"])
def test_insides_network_lab_and_maths_tabs_show_no_english(env, lang):
    left = [f"{at.session_state['i_tab']}: {text!r}" for at in each_view_of_network_lab_and_maths(lang)
            for text in english_in(shown_texts(at))]
    assert left == []


def test_the_english_check_sees_english(env):
    at = inside_tab("en", "Lab")
    found = english_in(shown_texts(at))
    assert "Switch off until the answer changes" in found and "Unit" in found
    assert english_in(["Fires most for 3, 5, 8."]) and not english_in(["S'active le plus pour 3, 5, 8."])


HEALTH_PAGE = '''
import ui.startup  # noqa: F401
import streamlit as st
from mnist_core.net.advice import health_warnings
from mnist_core.net.config import TrainConfig
from mnist_core.net.experiments import EXPERIMENTS
from ui.live import experiment_note, worded
# The lr-too-high pattern: a loss thrown to 40 times its start that does not come back down.
losses = [2.3, 2.2] + [92.5] + [80.0] * 20
for w in health_warnings([], losses, 40, TrainConfig(hidden=(64,)), 0.9):
    st.warning(worded(w))
    for fix in w.fixes:
        st.button(worded(fix), key=f"fix_{fix.control.value}")
experiment_note(EXPERIMENTS["batch-1"])
'''


def test_a_health_warning_its_fixes_and_an_experiment_read_in_french_with_french_decimals(env):
    at = AppTest.from_string(HEALTH_PAGE, default_timeout=30)
    at.query_params["lang"] = "fr"
    at.run()
    [warning] = at.warning
    assert warning.value.startswith("La perte a bondi à 92,5 au batch 3, 40 fois les 2,3 du départ")
    assert [b.label for b in at.button] == ["diviser le taux d'apprentissage par 3 (0,9 → 0,3)",
                                            "diviser le taux d'apprentissage par 10 (0,9 → 0,09)"]
    assert at.info[0].value.startswith("**Expérience") and "Batch de taille 1, au ralenti" in at.info[0].value
    assert "0,5 s" in at.info[0].value
    english = AppTest.from_string(HEALTH_PAGE, default_timeout=30).run()
    assert english.warning[0].value.startswith("The loss jumped to 92.5 at batch 3, 40 times the 2.3")


def test_a_diverged_loss_is_written_nan_or_infinity_in_every_language():
    from ui.i18n import num
    from ui.live import _shown

    assert (num(float("nan"), 4), num(float("inf"), 4), num(float("-inf"), 1)) == ("nan", "∞", "-∞")
    assert num(10.41834, 4) == "10.4183"  # outside a page: the source language
    # A health warning's numbers are written by the same writer: "∞", never Python's "inf".
    assert (_shown("loss", float("inf")), _shown("share", float("nan"))) == ("∞", "nan")


def test_every_slider_of_decimals_writes_its_value_the_languages_way():
    """Streamlit's own display of a float slider is printf's "1.00" in every language: each one in the code
    names its format (`LOCALIZED`, or `percent_format()` for a share)."""
    bare = []
    for path in FRONT_END:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "slider":
                numbers = [*node.args[1:], *(k.value for k in node.keywords if k.arg in ("min_value", "max_value",
                                                                                      "value", "step"))]
                floats = any(isinstance(n, ast.Constant) and isinstance(n.value, float) for n in numbers)
                if floats and "format" not in {k.arg for k in node.keywords}:
                    bare.append(f"{path.name}:{node.lineno}")
    assert bare == [], f"a slider of decimals without the language's format: {bare}"


# --- the Mistakes page's confidence panel and a run's settings table: no English left ------------------------

def test_the_mistakes_page_in_french_says_what_a_threshold_answers_in_french_with_its_numbers(env):
    from mnist_core.net.confidence import coverage
    from mnist_core.net.data import load_mnist
    from mnist_core.net.evaluate import evaluate
    from mnist_core.storage.models import ModelStore

    at = opened("pages/mistakes.py", "fr", timeout=60)
    [said] = [m.value for m in at.markdown if "coverage-m_cover" in m.value]
    model, _, _ = ModelStore(env / "models").load("default")
    data = load_mnist(env / "mnist")
    c = coverage(evaluate(model, data.test_images, data.test_labels).probs, data.test_labels, 0.9)

    def fr(share: float) -> str:  # 98,7 %, Babel's French: a comma and a (narrow) no-break space
        return f"{100 * share:.1f}".replace(".", ",") + " %"
    assert TAG.sub("", said).replace("\u202f", " ").replace("\xa0", " ") == (
        f"Répond pour {fr(c.answered)} des chiffres de test, et parmi ceux-là en reconnaît correctement "
        f"{fr(c.accuracy_answered)} ({fr(c.accuracy_all)} sans le seuil).")
    left = english_in(shown_texts(at))
    assert left == [], left


SETTINGS_PAGE = '''
import ui.startup  # noqa: F401
import streamlit as st
from mnist_core.net.config import TrainConfig
from ui.i18n import t
from ui.run_words import settings_rows
# Every row and every "also" the table can show: SGD with momentum, weight decay, augmentation with its extras.
config = TrainConfig(optimizer="sgd", momentum=0.9, weight_decay=1e-4, schedule="cosine", augment=0.5, drawn=0.2,
                     fill_in=True, hands=True, init_scale=0.5)
st.dataframe([{t("setting"): k, t("value"): v} for k, v in settings_rows(config.summary(), 12, "cpu")])
st.dataframe([{t("setting"): k, t("value"): v} for k, v in settings_rows(TrainConfig(augment=0).summary())])
'''


def test_a_runs_settings_table_in_french_shows_no_english_and_french_numbers(env):
    at = AppTest.from_string(SETTINGS_PAGE, default_timeout=30)
    at.query_params["lang"] = "fr"
    at.run()
    assert not at.exception
    rows = dict(at.dataframe[0].value.to_numpy().tolist())
    assert (rows["optimiseur"], rows["taux d'apprentissage"], rows["planning"]) == ("sgd", "0,003", "cosinus")
    assert rows["augmentation"] == "0,5" and rows["chiffres dessinés"].replace("\xa0", " ") == "20 %"
    assert rows["époques"] == "12" and rows["appareil"] == "cpu"
    assert rows["en plus"] == ("momentum 0,9 ; décroissance des poids 0,0001 ; déformation élastique ; "
                               "remplissage gros feutre ; vraies écritures ; poids initiaux × 0,5")
    plain = dict(at.dataframe[1].value.to_numpy().tolist())
    assert plain["augmentation"] == "désactivée" and plain["chiffres dessinés"] == "aucun" and "en plus" not in plain
    assert english_in(shown_texts(at)) == []
    english = AppTest.from_string(SETTINGS_PAGE, default_timeout=30).run()
    assert dict(english.dataframe[0].value.to_numpy().tolist())["also"].startswith("momentum 0.9; weight decay 0.0001")


def test_a_list_of_clauses_takes_the_languages_separator():
    at = AppTest.from_string("import ui.startup\nimport streamlit as st\nfrom ui.i18n import listed\n"
                             "st.write(listed(['a', 'b']))\n", default_timeout=30)
    at.query_params["lang"] = "fr"
    assert at.run().markdown[0].value == "a ; b"


ERRORS_PAGE = '''
import ui.startup  # noqa: F401
import io, zipfile
import streamlit as st
from mnist_core.net.config import check_run_cost, parse_hidden, TrainConfig
from mnist_core.storage.drawings import read_zip
from mnist_core.storage.models import ModelStore
from ui.i18n import said
store = ModelStore(st.session_state["store"])
store.root.mkdir(parents=True, exist_ok=True)
(store.root / "broken.pt").write_bytes(b"not a model at all")
def bad_zip():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("labels.csv", "a.png,7\\n")
    return out.getvalue()
for attempt in (lambda: store.meta("../up"), lambda: store.meta("broken"), lambda: read_zip(b"plain text"),
                lambda: read_zip(bad_zip()), lambda: parse_hidden("128, many"),
                lambda: TrainConfig(dropout=1.5, lr=20.0, epochs=0),
                lambda: check_run_cost(TrainConfig(hidden=(4096, 4096, 4096), batch_size=16, epochs=200))):
    try:
        attempt()
    except Exception as e:  # StoreError, ValueError, ConfigError
        st.error(said(e))
'''


def test_the_engines_refusals_a_person_meets_read_in_french_with_french_numbers(env, tmp_path):
    """An invalid model name, a damaged model file, a zip import's refusals, and a run's settings out of range
    or too large (each problem its own clause), as said() shows them in French."""
    def run(lang: str) -> list[str]:
        at = AppTest.from_string(ERRORS_PAGE, default_timeout=30)
        at.session_state["store"] = str(tmp_path / lang)
        at.query_params["lang"] = lang
        at.run()
        assert not at.exception
        return [e.value for e in at.error]

    english = run("en")
    assert len(english) == 7 and english[0].startswith("invalid model name '../up'")
    assert "dropout must be in [0, 1), got 1.5; learning rate must be in (0, 10], got 20;" in english[5]
    assert "make 36,818,954 parameters, more than 20,000,000" in english[6]
    french = [text.replace("\u202f", " ").replace("\xa0", " ") for text in run("fr")]
    assert french[0].startswith("nom de modèle invalide '../up' : utilisez de 1 à 64 lettres")
    assert french[1].startswith("le modèle « broken »") and "endommagé" in french[1]
    assert french[2] == "pas un fichier zip"
    assert french[3] == "labels.csv ligne 1 : a.png n'est pas dans le zip"
    assert french[4] == ("les couches cachées sont des nombres entiers séparés par des virgules, comme 256 ou "
                         "512,256 ; reçu « 128, many »")
    assert french[5] == ("le dropout doit être dans [0 ; 1[, reçu 1,5 ; le taux d'apprentissage doit être dans "
                         "]0 ; 10], reçu 20 ; les époques vont de 1 à 1000, reçu 0")
    assert french[6].startswith("entraînement trop grand : ")
    assert "36 818 954 paramètres, plus de 20 000 000" in french[6]
    assert english_in([text.replace(str(tmp_path), "") for text in french]) == [], french  # its folder aside


def test_a_percentage_slider_writes_its_value_the_languages_way(env):
    at = opened("pages/mistakes.py", "fr", timeout=60)
    slider = at.slider(key="m_cover_threshold")
    assert slider.value == 90 and slider.proto.format == "%d\xa0%%"  # 90 %, not Streamlit's 0.90
    assert opened("pages/mistakes.py", "en", timeout=60).slider(key="m_cover_threshold").proto.format == "%d%%"
    table = at.dataframe[0].value  # the per-digit scores, still numbers (a click on a title sorts them)
    assert table["précision"].dtype.kind == "f"


DAMAGED_PAGE = '''
import ui.startup  # noqa: F401
import numpy as np
import streamlit as st
import torch
from PIL import Image
from mnist_core.net.data import read_idx
from mnist_core.net.model import MLP
from mnist_core.storage.drawings import Collections, LABELS
from mnist_core.storage.models import ModelMeta, ModelStore
from mnist_core.net.config import TrainConfig
from ui.i18n import said
from ui.widgets import file_problems
folder = st.session_state["folder"]
drawings = Collections(folder + "/drawings")
drawings.add("c", np.full((28, 28), 200, np.uint8), 3)
Image.new("L", (4500, 10)).save(folder + "/drawings/c/wide.png")
open(folder + "/drawings/c/junk.png", "wb").write(b"\\x89PNG\\r\\n\\x1a\\nnot really")
with open(folder + "/drawings/c/" + LABELS, "a") as f:
    f.write("wide.png,7\\njunk.png,1\\n")
file_problems(drawings.read("c").problems)
store = ModelStore(folder + "/models", builtin_dir=None)
store.save(MLP((8,)), ModelMeta(name="typed", model=MLP((8,)).config(), config=TrainConfig(hidden=(8,))))
payload = torch.load(folder + "/models/typed.pt", weights_only=True)
payload["meta"]["stopped"] = "yes"
torch.save(payload, folder + "/models/typed.pt")
open(folder + "/short-idx", "wb").write(b"\\x00\\x00\\x08")
for attempt in (lambda: store.meta("typed"), lambda: read_idx(folder + "/short-idx")):
    try:
        attempt()
    except Exception as e:
        st.error(said(e))
'''


def test_a_stored_drawings_reasons_and_a_damaged_files_detail_read_in_french(tmp_path):
    """Why a drawing of a collection is left out, which field of a model's metadata is wrong, and what is wrong
    with an MNIST file, in French: only the name of a kind of damage (Python's or PIL's own) stays as it is."""
    def run(lang: str) -> AppTest:
        at = AppTest.from_string(DAMAGED_PAGE, default_timeout=30)
        at.session_state["folder"] = str(tmp_path / lang)
        at.query_params["lang"] = lang
        at.run()
        assert not at.exception, at.exception
        return at

    french = run("fr")
    warning = french.warning[0].value.replace("\u202f", " ").replace("\xa0", " ")
    assert "- `wide.png`: 4500x10 pixels, c'est trop grand pour un dessin" in warning
    assert "- `junk.png`: une image endommagée (" in warning
    model, idx = (e.value for e in french.error)
    assert model.startswith("le modèle « typed »")
    assert "le champ de métadonnées « stopped » n'est pas vrai/faux" in model
    assert idx.endswith("short-idx : seulement 3 octets, trop court pour un fichier IDX")
    assert english_in([warning.split(":", 1)[1], *(text.replace(str(tmp_path), "") for text in (model, idx))]) == []
    english = run("en")
    assert "4500x10 pixels is too large for a drawing" in english.warning[0].value
    assert "metadata field 'stopped' is not true/false" in english.error[0].value
