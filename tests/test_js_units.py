"""The app's JavaScript modules (static/pwa/js) have unit tests for their pure parts in tests/js,
run by Node's built-in test runner; this runs them with the rest of the suite. Without Node they
are skipped on a developer's machine and fail in CI (CI=true)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).resolve().parent / "js"


def test_javascript_units():
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is needed to run the JavaScript unit tests (tests/js) in CI")
        pytest.skip("node is not installed")
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files
    # on a device far from the library's zone: dates must not follow the device
    env = dict(os.environ, TZ="America/Los_Angeles")
    r = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=120, cwd=JS_TESTS, env=env)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "# fail 0" in r.stdout and "# pass 0" not in r.stdout
