"""The package's import graph, read from the source: no import cycle (module-level or inside a
function); the bottom (config, the event model, the inbound adapters, the stores) imports nothing of
the layers built on it; and no channel reaches back into the loader or the schema."""

from __future__ import annotations

import ast
from pathlib import Path

import alertrouter

ROOT = Path(alertrouter.__file__).resolve().parent


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ["alertrouter", *path.relative_to(ROOT).with_suffix("").parts]
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (path, package)
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere in its source."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        here = name.split(".") if package else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
                wanted = [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                wanted = [a.name for a in node.names]
            else:
                continue
            for target in wanted:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


GRAPH = import_graph()


def test_the_reader_finds_the_imports_it_is_meant_to_check():
    assert "alertrouter.config.load" in GRAPH["alertrouter.routing.router"]
    assert "alertrouter.cli.common" in GRAPH["alertrouter.cli.digest"]
    assert "alertrouter.rendering.problems" in GRAPH["alertrouter.cli.main"]  # imported inside a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    assert cycles(GRAPH) == []


BOTTOM = ("alertrouter.config", "alertrouter.model", "alertrouter.inbound", "alertrouter.store")
ABOVE = ("alertrouter.routing", "alertrouter.pipeline", "alertrouter.delivery", "alertrouter.console",
         "alertrouter.cli", "alertrouter.http", "alertrouter.app", "alertrouter.build")


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_bottom_imports_nothing_above_it():
    wrong = {m: sorted(t for t in ts if _within(t, ABOVE)) for m, ts in GRAPH.items() if _within(m, BOTTOM)}
    assert {m: ts for m, ts in wrong.items() if ts} == {}


def test_delivery_never_sees_the_app_or_the_interfaces():
    """The dispatcher is given its parts; the app and its interfaces are built above it."""
    interfaces = ("alertrouter.app", "alertrouter.build", "alertrouter.http", "alertrouter.cli", "alertrouter.console")
    wrong = {m: sorted(t for t in ts if _within(t, interfaces))
             for m, ts in GRAPH.items() if _within(m, ("alertrouter.delivery",))}
    assert {m: ts for m, ts in wrong.items() if ts} == {}


def test_channels_do_not_reach_back_into_the_loader_or_the_schema():
    """Only `channels/build.py` reads a loaded config; the schema imports the registry."""
    wrong = {m: sorted(t for t in ts if t in ("alertrouter.config.load", "alertrouter.config.schema"))
             for m, ts in GRAPH.items() if m.startswith("alertrouter.channels") and m != "alertrouter.channels.build"}
    assert {m: ts for m, ts in wrong.items() if ts} == {}
