"""Background work (imports, the index follower, reindexing, the outbound worker) runs at a lower
CPU priority than the web workers, so on a small machine the desk's requests win the cores.

On Linux a niceness belongs to a thread: ``lower_priority`` changes the calling thread, and the
threads it starts afterwards inherit it; the commands call it first thing (``background``).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)


def lower_priority(nice: int) -> int:
    """Lower the calling thread's CPU priority to niceness ``nice`` (clamped to 0..19); never raise
    it (a process already started nicer, say by systemd's ``Nice=``, stays so). Returns the niceness now.

    >>> import threading
    >>> seen = []
    >>> t = threading.Thread(target=lambda: seen.append(lower_priority(3))); t.start(); t.join()
    >>> seen[0] >= 3
    True
    """
    now = os.getpriority(os.PRIO_PROCESS, 0)  # on Linux: this thread
    want = max(0, min(int(nice), 19))
    if want > now:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, want)
        except OSError as exc:  # a sandbox may forbid it: run as before
            log.warning("could not lower the CPU priority to %d: %s", want, exc)
            return now
        return want
    return now


def background(app) -> int:
    """Lower this thread's priority to ``BACKGROUND_NICE`` (0: unchanged); returns the niceness now."""
    return lower_priority(int(app.config["BACKGROUND_NICE"]))


def run_idle(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` in a thread of its own under Linux's idle scheduling class
    (``SCHED_IDLE``: it runs only on a core no other task wants and yields it at once when one
    does), wait for it, and return its result or raise its exception. A thread, because an
    unprivileged process cannot leave the idle class again: the class ends with the thread.
    Where the class is not offered, ``fn`` runs in that thread at the caller's priority.

    >>> import os
    >>> run_idle(lambda: os.sched_getscheduler(0) == os.SCHED_IDLE) if hasattr(os, "SCHED_IDLE") else True
    True
    >>> run_idle(int, "x")
    Traceback (most recent call last):
    ValueError: invalid literal for int() with base 10: 'x'
    """
    out: dict = {}

    def body():
        if hasattr(os, "SCHED_IDLE"):
            try:
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread
            except OSError as exc:
                log.warning("could not enter the idle scheduling class: %s", exc)
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            out["error"] = exc

    t = threading.Thread(target=body, name="opac-idle", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]
