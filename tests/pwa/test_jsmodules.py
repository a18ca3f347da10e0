"""The module graph behind the hashed module URLs (opac/jsmodules.py), on small made-up graphs."""

from __future__ import annotations

import pytest

from opac.jsmodules import ModuleGraphError, graph, link, modules


def _write(root, files):
    (root / "js").mkdir(exist_ok=True)
    for name, text in files.items():
        (root / "js" / name).write_text(text)


def test_imports_are_rewritten_and_hashes_follow_what_is_imported(tmp_path):
    _write(tmp_path, {
        "a.js": 'import { b } from "./b.js";\nexport { c } from "./c.js";\nimport "./c.js";\nconst s = "./b.js";\n',
        "b.js": 'import { c } from "./c.js";\nexport const b = c;\n',
        "c.js": "export const c = 1;\n",
    })
    table = modules(tmp_path)
    a_url, a_body = table["js/a.js"]
    b_url, c_url = table["js/b.js"][0], table["js/c.js"][0]
    assert a_url.startswith("/assets/js/a.") and a_url.endswith(".js")
    assert f'from "{b_url}"' in a_body and f'from "{c_url}"' in a_body and f'import "{c_url}"' in a_body
    assert 'const s = "./b.js"' in a_body  # only import statements are touched
    assert graph(tmp_path).imports("js/a.js") == [b_url, c_url]  # by module name
    assert link(tmp_path, "sw.js", 'import { c } from "./js/c.js";') == f'import {{ c }} from "{c_url}";'
    # a change deep down changes every URL above it
    (tmp_path / "js" / "c.js").write_text("export const c = 2;\n")
    again = modules(tmp_path)
    assert again["js/c.js"][0] != c_url and again["js/b.js"][0] != b_url and again["js/a.js"][0] != a_url


@pytest.mark.parametrize("files", [
    {"a.js": 'import "./b.js";\n', "b.js": 'import "./a.js";\n'},        # a cycle
    {"a.js": 'import { x } from "./missing.js";\n'},                   # no such module
    {"a.js": 'import { x } from "../outside.js";\n'},                  # outside js/
])
def test_broken_graphs_are_refused(tmp_path, files):
    (tmp_path / "outside.js").write_text("export const x = 1;\n")
    _write(tmp_path, files)
    with pytest.raises(ModuleGraphError):
        modules(tmp_path)
