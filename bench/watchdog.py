"""Phases with deadlines for long benchmarks: a phase that overruns is reported, never waited on.

``Watchdog.phase(name, seconds)`` names what the benchmark is doing; ``wait_until`` (and any loop
that calls ``note``) says what it is waiting for. When a phase overruns, a daemon thread prints the
phase, what it was waiting for and for how long, the stacks of this process's threads, and asks its
Python child processes for theirs (``BENCH_STACKS_DIR``: ``bench/stackdump`` on their ``PYTHONPATH``
registers a faulthandler signal), then calls ``on_timeout`` (the benchmark stops its server and
exits). A thread that died is reported by the next ``wait_until``/``check`` instead of leaving the
main thread polling for a result that will never come.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

STACKDUMP_DIR = Path(__file__).resolve().parent / "stackdump"
STACK_SIGNAL = signal.SIGRTMIN + 5


class PhaseTimeout(RuntimeError):
    """A phase, or a wait inside it, took longer than allowed; the message says what it waited for."""


class Watchdog:
    def __init__(self, on_timeout=None, out=None, stacks_dir: Path | None = None):
        self.on_timeout = on_timeout or (lambda message: os._exit(3))
        self.out = out or sys.stderr
        self.stacks_dir = stacks_dir
        self.name: str | None = None
        self.waiting_for = ""
        self.deadline = float("inf")
        self.started = 0.0
        self.errors: list[tuple[str, BaseException]] = []
        self._lock = threading.Lock()
        self._fired = False
        threading.Thread(target=self._watch, name="bench-watchdog", daemon=True).start()

    # ------------------------------------------------------------------ phases and waits
    @contextmanager
    def phase(self, name: str, seconds: float):
        with self._lock:
            self.name, self.started, self.deadline, self.waiting_for = name, time.monotonic(), time.monotonic() + seconds, ""
        try:
            yield self
            self.check()
        finally:
            with self._lock:
                self.name, self.deadline, self.waiting_for = None, float("inf"), ""

    def note(self, waiting_for: str) -> None:
        """What the phase is waiting for now (shown if it overruns)."""
        self.waiting_for = waiting_for

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def check(self) -> None:
        """Raise if a thread started with ``thread()`` died."""
        if self.errors:
            where, exc = self.errors[0]
            raise PhaseTimeout(f"phase {self.name!r}: {where} failed: {type(exc).__name__}: {exc}") from exc

    def wait_until(self, predicate, what: str, timeout: float | None = None, pause: float = 0.2, status=None):
        """Poll ``predicate`` until it returns something true; PhaseTimeout after ``timeout`` (or the
        phase's remaining time) naming ``what`` and ``status()`` (default: the predicate's last result)."""
        limit = time.monotonic() + (self.remaining() if timeout is None else min(timeout, self.remaining()))
        self.note(what)
        last = None
        while True:
            self.check()
            last = predicate()
            if last:
                return last
            if time.monotonic() >= limit:
                state = status() if status else repr(last)
                raise PhaseTimeout(f"phase {self.name!r}: gave up waiting for {what} after "
                                   f"{time.monotonic() - self.started:.0f} s ({state})")
            time.sleep(pause)

    def thread(self, target, *args, name: str = "") -> threading.Thread:
        """A started daemon thread whose exception is kept for ``check`` (and printed once)."""
        label = name or getattr(target, "__name__", "thread")

        def run():
            try:
                target(*args)
            except BaseException as exc:  # noqa: BLE001 - reported by check() in the main thread
                self.errors.append((label, exc))
                print(f"[watchdog] thread {label} failed: {type(exc).__name__}: {exc}", file=self.out, flush=True)

        t = threading.Thread(target=run, name=label, daemon=True)
        t.start()
        return t

    # ------------------------------------------------------------------ the watcher
    def _watch(self) -> None:
        while True:
            time.sleep(0.5)
            with self._lock:
                name, over = self.name, time.monotonic() - self.deadline
            if name is None or over < 0 or self._fired:
                continue
            self._fired = True
            message = (f"phase {name!r} timed out after {time.monotonic() - self.started:.0f} s; "
                       f"waiting for: {self.waiting_for or 'nothing named (a call that never returned)'}")
            print(f"\n[watchdog] {message}\n[watchdog] stacks of the benchmark's threads:", file=self.out, flush=True)
            try:
                faulthandler.dump_traceback(file=self.out, all_threads=True)
            except (OSError, ValueError):  # not a real file (tests): skip the C-level dump
                pass
            self.dump_children()
            self.on_timeout(message)

    def dump_children(self) -> None:
        """Ask every Python process below this one for its stacks and print them."""
        if self.stacks_dir is None:
            return
        pids = descendants(os.getpid())
        for pid in pids:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "python" in cmd and (self.stacks_dir / f"stacks-{pid}.txt").exists():
                try:
                    os.kill(pid, STACK_SIGNAL)
                except ProcessLookupError:
                    pass
        time.sleep(1.0)
        for pid in pids:
            f = self.stacks_dir / f"stacks-{pid}.txt"
            if f.exists():
                print(f"[watchdog] stacks of pid {pid}:\n{f.read_text()[-6000:]}", file=self.out, flush=True)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first found through /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def stack_env(env: dict, stacks_dir: Path) -> dict:
    """``env`` for child processes that dump their stacks into ``stacks_dir`` on request."""
    stacks_dir.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(STACKDUMP_DIR), env.get("PYTHONPATH", "")) if p)
    return dict(env, PYTHONPATH=path, BENCH_STACKS_DIR=str(stacks_dir))
