"""The app's ES modules (``static/pwa/js/*.js``), shared by the pages and the service worker,
served without a bundler.

Each module is served under a content-hashed URL (``/assets/js/store.<hash>.js``, immutable) and
its relative imports (``from "./store.js"``) are rewritten to the hashed URLs of the modules they
name. A module's hash is taken over the rewritten text, so it changes whenever anything it imports
changes: a page, or the worker, always loads one consistent set, and the worker's version (which
digests the precache list) changes with any module. Imports must be double-quoted, relative, and
acyclic; the files are plain modules that Node's test runner imports as they are.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

#: ``import … from "./x.js"``, ``export … from "./x.js"`` and ``import "./x.js"`` at a line start.
IMPORT = re.compile(r'^((?:import|export)\b[^;"\']*?\bfrom\s*|import\s*)"(\.{1,2}/[^"]+)"', re.M)
MODULE_DIR = "js"


class ModuleGraphError(ValueError):
    """A relative import names a file that is not there, or the modules import each other in a cycle."""


def _stamp(root: Path) -> tuple:
    """The module files' names, times and sizes: a new stamp builds the graph afresh."""
    with os.scandir(root / MODULE_DIR) as it:
        stats = [(e.name, e.stat()) for e in it if e.name.endswith(".js") and e.is_file()]
    return tuple(sorted((name, st.st_mtime_ns, st.st_size) for name, st in stats))


@lru_cache(maxsize=4)
def _build(root: str, stamp: tuple) -> tuple[dict[str, tuple[str, str]], dict[str, list[str]]]:
    """Module name (``js/store.js``) → (hashed URL, served text), and → the names it imports."""
    base = Path(root)
    out: dict[str, tuple[str, str]] = {}
    deps: dict[str, list[str]] = {}

    def visit(name: str, path: tuple[str, ...]) -> tuple[str, str]:
        if name in out:
            return out[name]
        if name in path:
            raise ModuleGraphError("import cycle: " + " -> ".join(path + (name,)))
        file = base / name
        if not file.is_file() or not name.startswith(MODULE_DIR + "/"):
            raise ModuleGraphError(f"{path[-1] if path else '?'} imports {name}, which is not a module")
        deps[name] = []

        def url_of(target: str) -> str:
            deps[name].append(target)
            return visit(target, path + (name,))[0]

        body = rewrite(name, file.read_text(), url_of)
        digest = hashlib.sha256(body.encode()).hexdigest()[:10]
        stem, _dot, ext = name.rpartition(".")
        out[name] = (f"/assets/{stem}.{digest}.{ext}", body)
        return out[name]

    for p in sorted(base.joinpath(MODULE_DIR).glob("*.js")):
        visit(f"{MODULE_DIR}/{p.name}", ())
    return out, deps


def rewrite(name: str, source: str, url_of) -> str:
    """``source`` (the file ``name``, relative to static/pwa) with each relative import replaced
    by ``url_of(target module name)``."""

    def sub(m: re.Match) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), m.group(2)))
        return f'{m.group(1)}"{url_of(target)}"'

    return IMPORT.sub(sub, source)


class Graph(NamedTuple):
    """The modules as their files were when it was taken (``graph``)."""

    #: module name (``js/store.js``) → (hashed URL, served text)
    table: dict[str, tuple[str, str]]
    #: module name → the names it imports
    deps: dict[str, list[str]]

    def url(self, name: str) -> str | None:
        entry = self.table.get(name)
        return entry[0] if entry else None

    def body(self, name: str, digest: str) -> str | None:
        """The text served for ``name`` under ``digest``, or None when that is not its current hash."""
        entry = self.table.get(name)
        if entry is None or not entry[0].endswith(f".{digest}.js"):
            return None
        return entry[1]

    def imports(self, name: str) -> list[str]:
        """Hashed URLs of every module ``name`` imports, directly or not (for ``<link rel=modulepreload>``,
        so a first visit fetches them at once instead of one import level after another)."""
        seen: set[str] = set()
        todo = list(self.deps.get(name, ()))
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo += self.deps[current]
        return [self.table[t][0] for t in sorted(seen)]


def graph(root: Path) -> Graph:
    """The modules under ``root/js`` as their files are now (a page takes it once: ``opac.web``)."""
    return Graph(*_build(str(root), _stamp(root)))


def modules(root: Path) -> dict[str, tuple[str, str]]:
    """Every module under ``root/js``: name → (hashed URL, served text)."""
    return graph(root).table


def link(root: Path, name: str, source: str) -> str:
    """A script outside ``js/`` (the service worker) with its imports pointing at the hashed modules."""
    table = modules(root)

    def url_of(target: str) -> str:
        if target not in table:
            raise ModuleGraphError(f"{name} imports {target}, which is not a module")
        return table[target][0]

    return rewrite(name, source, url_of)
