"""Structure: every module imports on its own, and the package's imports form no cycles (reading
every import statement with ``ast``, those inside functions too), except known ones outside circulation."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "opac"

#: Cycles that predate this test and belong to other areas; a new cycle fails the test.
KNOWN = {frozenset({"opac.accounts.permissions", "opac.web"})}


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The opac modules ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                found.add(target)  # a parent package's __init__ runs first anyway: not a cycle
    return found


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def graph() -> dict[str, set[str]]:
    names = module_names()
    return {n: imports_of(n, p, set(names)) for n, p in names.items()}


@pytest.mark.parametrize("name", sorted(module_names()))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_no_import_cycles():
    found = [c for c in cycles(graph()) if frozenset(c) not in KNOWN]
    assert not found, f"import cycles: {found}"


def test_notices_layering():
    """Circulation emits notice events; only the notifications package reaches mail and push,
    and nothing below it reaches back up into circulation."""
    g = graph()
    assert "opac.notifications.events" in g["opac.circulation.services"]
    for name in ("opac.circulation.services", "opac.circulation.notify"):
        assert not g[name] & {"opac.mail", "opac.push"}, name
    below = {"opac.notifications", "opac.notifications.events", "opac.notifications.models",
             "opac.notifications.worker", "opac.mail", "opac.push", "opac.outbound", "opac.clock"}
    for name in below:
        assert not {m for m in g[name] if m.startswith("opac.circulation")}, name


def test_the_detector_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [{"a", "b"}]
