"""Every docstring example in the ``opac`` package runs (and passes) with the suite."""

from __future__ import annotations

import doctest
import importlib

import pytest

import opac

MODULES = opac.code_modules()


def _examples(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name) if t.examples]


def test_the_package_has_doctests_to_run():
    with_examples = [name for name in MODULES if _examples(name)]
    assert len(with_examples) >= 5, with_examples
    assert "opac.search.spelling" in with_examples


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    for test in _examples(name):
        runner.run(test, out=out.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(out)
