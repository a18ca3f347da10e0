"""Real-browser set-up shared by every browser test: Debian's chromium driven by Playwright.

The session-wide Playwright and browser fixtures live in tests/conftest.py (one instance per test
process: a second sync Playwright in the same process fails)."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/126.0 Mobile Safari/537.36"}


def _need_browser():
    if not (os.path.exists(CHROMIUM) and shutil.which("chromium")):
        if os.environ.get("OPAC_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required for browser tests (apt-get install -y chromium)")
        pytest.skip("chromium not installed")


@pytest.fixture(scope="session")
def playwright_instance():
    _need_browser()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    yield b
    b.close()


