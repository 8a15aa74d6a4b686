"""The engine's imports, read from the source (no module is imported): the longest chain of mnist_core-internal
imports, and which domain (room) imports which.

Counts modules, e.g. classroom.leaderboard -> classroom.scoring -> net.evaluate -> net.preprocess is 4. Only
imports that run when a module loads count (imports inside functions, such as the Ray backend's, are listed
apart); the front ends (cli, __main__) sit above the engine and are reported on their own line.

    python benchmarks/import_chain.py
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mnist_core"
FRONT_ENDS = ("cli", "__main__")
# The rooms, lowest first: a module imports only from its own room, a lower one, or the floor (`folders`).
DOMAINS = ("net", "storage", "runs", "classroom")
FLOOR = "folders"
# Modules under every room, importing none: where the folders are, and the marker of sentences for a person.
FLOORS = (FLOOR, "texts")


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    """Every engine module by its dotted name inside the package ('net.model', 'cli'), packages' __init__ left out."""
    return {".".join(p.relative_to(package).with_suffix("").parts): p
            for p in package.rglob("*.py") if p.name != "__init__.py"}


def _internal(node: ast.ImportFrom | ast.Import, here: str, names: set[str]) -> list[str]:
    """The mnist_core modules one import statement names (relative or absolute), as dotted names inside the package."""
    if isinstance(node, ast.Import):
        return [a.name.removeprefix("mnist_core.") for a in node.names if a.name.startswith("mnist_core.")]
    if node.level:
        base = here.split(".")[:-node.level]
        module = ".".join([*base, *(node.module.split(".") if node.module else [])])
    elif node.module and (node.module == "mnist_core" or node.module.startswith("mnist_core.")):
        module = node.module.removeprefix("mnist_core").removeprefix(".")
    else:
        return []
    found = []
    for alias in node.names:  # `from mnist_core.runs import on_ray` names a module
        sub = f"{module}.{alias.name}" if module else alias.name
        found.append(sub if sub in names else module)
    return found


def imports(package: Path = PACKAGE) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """For each module: the engine modules it imports when it loads, and those it imports later (in functions)."""
    paths = module_names(package)
    names = set(paths)
    at_load: dict[str, set[str]] = {}
    later: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text())
        at_load[name], later[name] = set(), set()
        in_functions = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found = {m for m in _internal(node, name, names) if m in names and m != name}
                (later if id(node) in in_functions else at_load)[name] |= found
    return at_load, later


def domain_of(module: str) -> str:
    return module.split(".")[0]


def upward_imports(at_load: dict[str, set[str]], later: dict[str, set[str]]) -> list[str]:
    """Every import (at load or in a function) from a room into a higher one, or from the engine into a front end."""
    wrong = []
    for graph in (at_load, later):
        for module, targets in graph.items():
            here = domain_of(module)
            for target in sorted(targets):
                there = domain_of(target)
                if there in FLOORS or there == here or here in FRONT_ENDS:
                    continue
                if there in FRONT_ENDS or here in FLOORS or DOMAINS.index(there) > DOMAINS.index(here):
                    wrong.append(f"{module} -> {target}")
    return wrong


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
    rooms = {}
    for module, targets in at_load.items():
        for target in targets:
            if domain_of(target) != domain_of(module):
                rooms.setdefault(domain_of(module), set()).add(domain_of(target))
    for room in sorted(rooms):
        print(f"{room} imports: {', '.join(sorted(rooms[room]))}")
    print(f"imports into a higher room: {', '.join(upward_imports(at_load, later)) or 'none'}")
    for module in sorted(m for m in later if later[m]):
        print(f"imported inside {module}'s functions: {', '.join(sorted(later[module]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
