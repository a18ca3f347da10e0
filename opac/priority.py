"""Background work (imports, the index follower, reindexing, the outbound worker) runs at a lower
CPU priority than the web workers, so on a small machine the desk's requests win the cores.

On Linux a niceness belongs to a thread: ``lower_priority`` changes the calling thread, and the
threads it starts afterwards inherit it; the commands call it first thing (``background``).
"""

from __future__ import annotations

import logging
import os

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
