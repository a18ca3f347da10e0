"""Loaded by Python child processes of a benchmark (this folder on PYTHONPATH, ``BENCH_STACKS_DIR``
set): SIGRTMIN+5 writes every thread's stack to ``BENCH_STACKS_DIR/stacks-<pid>.txt``
(``bench/watchdog.py`` sends it when a phase overruns). Forked children (gunicorn workers) get
their own file."""

import faulthandler
import os
import signal
import sys


def _register():
    out = open(os.path.join(os.environ["BENCH_STACKS_DIR"], f"stacks-{os.getpid()}.txt"), "a")  # noqa: SIM115
    out.write(" ".join(sys.argv) + "\n")
    out.flush()
    faulthandler.register(signal.SIGRTMIN + 5, file=out, all_threads=True)


if os.environ.get("BENCH_STACKS_DIR"):
    _register()
    os.register_at_fork(after_in_child=_register)
