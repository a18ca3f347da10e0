"""Background commands (import, reindex, index follow, worker) run below the web workers' CPU
priority: they lower their own niceness to BACKGROUND_NICE, never raise it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from opac.priority import background, lower_priority
from tests.cli_helpers import prod_env, run_cli


def in_a_thread(fn):
    """Run ``fn`` in a new thread (a niceness is per thread on Linux: the test process keeps its own)."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_lower_priority_lowers_this_thread_only_and_never_raises_it():
    before = os.getpriority(os.PRIO_PROCESS, 0)
    assert in_a_thread(lambda: (lower_priority(before + 4), os.getpriority(os.PRIO_PROCESS, 0))) == (before + 4,) * 2
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the calling thread is untouched
    # already nicer than asked (systemd's Nice=): unchanged; out of range: clamped
    assert in_a_thread(lambda: (lower_priority(before + 6), lower_priority(before + 2))[1]) == before + 6
    assert in_a_thread(lambda: lower_priority(99)) == 19


def test_background_follows_the_setting(app):
    before = os.getpriority(os.PRIO_PROCESS, 0)
    app.config["BACKGROUND_NICE"] = before + 3
    assert in_a_thread(lambda: background(app)) == before + 3
    app.config["BACKGROUND_NICE"] = 0
    assert in_a_thread(lambda: background(app)) == before


@pytest.mark.slow
def test_the_worker_command_runs_at_the_configured_niceness(tmp_path):
    """As deployed: `flask --app opac worker` with OPAC_BACKGROUND_NICE lowers itself at start."""
    want = os.getpriority(os.PRIO_PROCESS, 0) + 3  # above what the child inherits (pytest may run niced)
    if want > 19:
        pytest.skip("the tests already run at the lowest priority")
    env = prod_env(tmp_path, BACKGROUND_NICE=want, WORKER_POLL_SECONDS=0.2)
    run_cli(env, "init-db")
    flask = Path(sys.executable).with_name("flask")
    proc = subprocess.Popen([str(flask), "--app", "opac", "worker"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while nice_of(proc.pid) != want:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, f"niceness {nice_of(proc.pid)}"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
