"""The longest chain of mnist_core-internal imports, read from the source (no module is imported).

Counts modules, e.g. jobs -> runs -> train -> synth -> preprocess is 5. Only imports that run when a
module loads count (imports inside functions, such as jobs' Ray backend, are listed apart); the front
ends (cli, __main__) sit above the engine and are reported on their own line.

    python benchmarks/import_chain.py
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mnist_core"
FRONT_ENDS = ("cli", "__main__")


def _internal(node: ast.ImportFrom | ast.Import) -> list[str]:
    """The mnist_core modules one import statement names (relative or absolute)."""
    if isinstance(node, ast.Import):
        return [a.name.split(".")[1] for a in node.names if a.name.startswith("mnist_core.")]
    if node.level == 1:
        if node.module:
            return [node.module.split(".")[0]]
        return [a.name for a in node.names]  # from . import ray_runs
    if node.module and node.module.startswith("mnist_core."):
        return [node.module.split(".")[1]]
    if node.module == "mnist_core":
        return [a.name for a in node.names]
    return []


def imports(package: Path = PACKAGE) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """For each module: the engine modules it imports when it loads, and those it imports later (in functions)."""
    at_load: dict[str, set[str]] = {}
    later: dict[str, set[str]] = {}
    names = {p.stem for p in package.glob("*.py")} - {"__init__"}
    for name in names:
        tree = ast.parse((package / f"{name}.py").read_text())
        at_load[name], later[name] = set(), set()
        in_functions = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found = {m for m in _internal(node) if m in names and m != name}
                (later if id(node) in in_functions else at_load)[name] |= found
    return at_load, later


def longest_chain(graph: dict[str, set[str]], skip: tuple[str, ...] = ()) -> list[str]:
    """The longest path of imports (modules in `skip` left out); the graph has no cycles (Python would fail)."""
    @functools.cache
    def from_(module: str) -> tuple[str, ...]:
        below = [from_(m) for m in graph[module] if m not in skip]
        return (module, *max(below, key=len, default=()))

    return list(max((from_(m) for m in graph if m not in skip), key=len))


def main() -> int:
    at_load, later = imports()
    engine = longest_chain(at_load, skip=FRONT_ENDS)
    everything = longest_chain(at_load)
    print(f"longest engine import chain: {len(engine)} modules: {' -> '.join(engine)}")
    print(f"with the front ends: {len(everything)} modules: {' -> '.join(everything)}")
    for module in sorted(m for m in later if later[m]):
        print(f"imported inside {module}'s functions: {', '.join(sorted(later[module]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
