"""The engine's shape, read from its source: how deep its imports go."""

from __future__ import annotations

import importlib.util

from .helpers import PROJECT


def _import_chain():
    spec = importlib.util.spec_from_file_location("import_chain", PROJECT / "benchmarks" / "import_chain.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_longest_engine_import_chain_is_at_most_five_modules():
    chain = _import_chain()
    at_load, _ = chain.imports()
    longest = chain.longest_chain(at_load, skip=chain.FRONT_ENDS)
    assert len(longest) <= 5, " -> ".join(longest)


def test_the_chain_counter_counts_modules_along_the_deepest_path():
    chain = _import_chain()
    graph = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "cli": {"a"}}
    assert chain.longest_chain(graph, skip=("cli",)) == ["a", "b", "c"]
    assert chain.longest_chain(graph) == ["cli", "a", "b", "c"]
