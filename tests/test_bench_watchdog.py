"""bench/watchdog.py: a benchmark phase that overruns says what it waited for instead of hanging."""

from __future__ import annotations

import io
import time

import pytest

from bench.watchdog import PhaseTimeout, Watchdog


def test_a_wait_that_never_ends_times_out_naming_what_it_waited_for():
    dog = Watchdog(on_timeout=lambda m: None, out=io.StringIO())
    with pytest.raises(PhaseTimeout, match=r"phase 'index lag': gave up waiting for every edit .*\(3 of 5 found\)"):
        with dog.phase("index lag", 10):
            dog.wait_until(lambda: False, "every edit to be found", timeout=0.2, pause=0.05,
                           status=lambda: "3 of 5 found")


def test_a_thread_that_died_is_reported_not_waited_for():
    dog = Watchdog(on_timeout=lambda m: None, out=io.StringIO())

    def editor():
        raise RuntimeError("database is locked")

    with pytest.raises(PhaseTimeout, match="editor failed: RuntimeError: database is locked"):
        with dog.phase("index lag", 10):
            dog.thread(editor, name="editor").join()
            dog.wait_until(lambda: False, "every edit to be found")


def test_a_phase_stuck_in_a_call_is_reported_by_the_watchdog():
    fired = []
    out = io.StringIO()
    dog = Watchdog(on_timeout=fired.append, out=out)
    with dog.phase("desk during import", 0.3):
        dog.note("the bulk import to finish")
        deadline = time.monotonic() + 5
        while not fired and time.monotonic() < deadline:
            time.sleep(0.05)  # a call that does not return
    assert fired and fired[0].startswith("phase 'desk during import' timed out after")
    assert "waiting for: the bulk import to finish" in fired[0]
    assert "stacks of the benchmark's threads" in out.getvalue()
