"""The engine's shape, read from its source: rooms that import only the rooms below them, how deep its
imports go, and front ends that use no private name."""

from __future__ import annotations

import ast
import importlib.util

from .helpers import PROJECT


def _import_chain():
    spec = importlib.util.spec_from_file_location("import_chain", PROJECT / "benchmarks" / "import_chain.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_room_imports_only_the_rooms_below_it():
    chain = _import_chain()
    at_load, later = chain.imports()
    assert chain.upward_imports(at_load, later) == []
    rooms = {chain.domain_of(m) for m in at_load}
    assert set(chain.DOMAINS) <= rooms, "every room of the sketch has modules"
    assert not any(chain.domain_of(t) != chain.FLOOR for t in at_load if chain.domain_of(t) == "folders")


def test_the_room_rule_catches_an_upward_import():
    chain = _import_chain()
    graph = {"net.model": {"storage.models"}, "storage.models": {"net.model"}, "cli": {"runs.jobs"},
             "runs.jobs": set(), "classroom.serve": {"cli"}, "folders": {"net.model"}}
    assert chain.upward_imports(graph, {}) == ["net.model -> storage.models", "classroom.serve -> cli",
                                               "folders -> net.model"]


def test_the_longest_engine_import_chain_is_at_most_six_modules():
    # jobs -> child (the fork server) -> body -> the trainer -> health -> the model: one module per step.
    chain = _import_chain()
    at_load, _ = chain.imports()
    longest = chain.longest_chain(at_load, skip=chain.FRONT_ENDS)
    assert len(longest) <= 6, " -> ".join(longest)


def test_the_chain_counter_counts_modules_along_the_deepest_path():
    chain = _import_chain()
    graph = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "cli": {"a"}}
    assert chain.longest_chain(graph, skip=("cli",)) == ["a", "b", "c"]
    assert chain.longest_chain(graph) == ["cli", "a", "b", "c"]


def _private_imports(path) -> list[str]:
    """Names starting with '_' that a file imports from the engine or the UI package."""
    tree = ast.parse(path.read_text())
    return [f"{path.name}:{node.lineno} {alias.name}" for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            and node.module.split(".")[0] in ("mnist_core", "ui", "pages")
            for alias in node.names if alias.name.startswith("_")]


def test_pages_and_the_ui_import_no_private_name():
    files = [PROJECT / "app.py", *(PROJECT / "pages").glob("*.py"), *(PROJECT / "ui").glob("*.py")]
    assert [p for p in files if p.name != "__init__.py"], "the front end's files are found"
    assert [hit for path in files for hit in _private_imports(path)] == []


def test_pages_holds_only_pages():
    """Each file in pages/ is a page: app.py's navigation lists it, and it has a `render()`."""
    app = (PROJECT / "app.py").read_text()
    for path in (PROJECT / "pages").glob("*.py"):
        assert f'"pages/{path.name}"' in app, f"{path.name} is not a page of the navigation"
        tree = ast.parse(path.read_text())
        assert any(isinstance(n, ast.FunctionDef) and n.name == "render" for n in tree.body), path.name


def test_every_page_imports_the_startup_before_the_rest_of_the_ui():
    """A fresh server's first runs may run a page alone (Streamlit's pages-folder mode): the page's own
    imports must leave that mode (ui/startup.py), as app.py's do; a missed one showed the old sidebar."""
    for path in (PROJECT / "pages").glob("*.py"):
        imports = [node for node in ast.parse(path.read_text()).body if isinstance(node, ast.Import | ast.ImportFrom)]
        ui = [n for n in imports if (n.module if isinstance(n, ast.ImportFrom) else n.names[0].name or "")
              .split(".")[0] == "ui"]
        assert ui and isinstance(ui[0], ast.Import) and ui[0].names[0].name == "ui.startup", path.name
