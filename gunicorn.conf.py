"""Gunicorn settings: sync workers, about one per core (each holds its own index searcher)."""

import multiprocessing
import os

bind = os.environ.get("OPAC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("OPAC_WORKERS", max(2, multiprocessing.cpu_count())))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
# A restarted worker starts with cold caches (posting lists, facet arrays, parsed hits), so
# restarts are rare; the caches are bounded, so memory does not grow with the request count.
max_requests = int(os.environ.get("OPAC_MAX_REQUESTS", 100_000))
max_requests_jitter = max_requests // 10
accesslog = "-" if os.environ.get("OPAC_ACCESS_LOG") else None
# Never preload: each worker must open its own index searcher after the fork.
preload_app = False


def _redacting_logger():
    """Access-log lines with secret tokens (reset links, private threads) in paths, query strings,
    Referer and every other atom replaced by ``[redacted]``."""
    from gunicorn.glogging import Logger

    from opac.accounts.secrets import redact_secrets

    class RedactingLogger(Logger):
        def atoms(self, resp, req, environ, request_time):
            atoms = super().atoms(resp, req, environ, request_time)
            return {k: redact_secrets(v) if isinstance(v, str) else v for k, v in atoms.items()}

    return RedactingLogger


logger_class = _redacting_logger()


# ----------------------------------------------------------------------------- the embedded follower
# On a single machine the index follower (`flask --app opac index follow`) runs as a child of the
# gunicorn master, so the one-command install sees catalogue edits within a second or two. It is
# restarted if it dies, and stops with gunicorn. Where it runs as its own service (several nodes,
# systemd), set OPAC_EMBEDDED_FOLLOWER=false.
def _master(server) -> dict:
    """What the master keeps (its follower, the files of the code it imported): held by gunicorn's arbiter
    (``server``), which a reload keeps, while gunicorn runs this file again on a reload (HUP) and so starts
    its globals afresh."""
    state = getattr(server, "opac_master", None)
    if state is None:
        state = server.opac_master = {"follower_pid": None, "stopping": False, "preloaded": {}}
    return state


def _setting(name: str) -> bool:
    """A boolean setting of opac/config.py, from the environment (OPAC_<name>) or its default."""
    from opac import config

    raw = os.environ.get("OPAC_" + name)
    return config.parse_setting(name, raw) if raw is not None else getattr(config, name)


def _spawn_follower() -> int:
    """posix_spawn, not subprocess: a worker forked while subprocess waits on its exec-status pipe
    would inherit the pipe and stall the spawn for the worker's lifetime."""
    import sys

    env = dict(os.environ, OPAC_FOLLOWER_PARENT=str(os.getpid()))
    close = []
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        fd = int(name)
        if fd > 2:
            try:
                os.fstat(fd)
                close.append((os.POSIX_SPAWN_CLOSE, fd))
            except OSError:
                pass
    argv = [sys.executable, "-m", "flask", "--app", "opac", "index", "follow"]
    return os.posix_spawn(sys.executable, argv, env, file_actions=close)


def _watch_follower(server, pid: int) -> None:
    import time

    state = _master(server)
    delay = 1.0
    while True:
        started = time.monotonic()
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # gunicorn's own reaping collected it first
        if state["stopping"]:
            return
        delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 30.0)
        server.log.warning("index follower (pid %s) exited; restarting in %.0f s", pid, delay)
        time.sleep(delay)
        if state["stopping"]:
            return
        pid = state["follower_pid"] = _spawn_follower()
        server.log.info("index follower restarted (pid %s)", pid)


# ----------------------------------------------------------------------------- a worker's garbage collector
# A worker keeps many long-lived objects (parsed hit summaries, per-segment caches): each of Python's
# full collections walks them all. While the desk works the follower commits every second or two;
# each commit's new caches pushed the collector into 4x the young and 8x the full collections, and
# collecting took 0.36 ms of a 3.2 ms search (0.12 ms without commits; bench/ops_bench.py's search
# beside the desk lost 13%). So a worker moves what its start created out of the collector's sight
# (``gc.freeze``) and collects the young generation after 20,000 new objects rather than 700 (a
# request's own cycles, a few dozen objects, wait a little longer to be freed).
GC_YOUNG_THRESHOLD = 20_000


def post_worker_init(worker):
    """Runs in each worker once the app is loaded: tune its garbage collector (see above)."""
    import gc

    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


# ----------------------------------------------------------------------------- code imported before the fork
# With OPAC_PRELOAD_CODE the master imports the app's modules (code only: no app, database connection or
# index is opened, so preload_app stays off) and each worker forks with them loaded. Their objects are then
# frozen out of the collector's sight: a worker's collections would otherwise write to every one of them and
# copy the pages the workers share. The files' times are kept (``_master``): a reload (HUP) after the code
# changed would fork workers from the old code, so it logs an error.


def _preload_code(server) -> None:
    import gc
    import importlib
    import sys

    import opac

    preloaded = _master(server)["preloaded"]
    for name in opac.code_modules():
        importlib.import_module(name)
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and name != "__config__":  # this file: gunicorn reads it again on a reload
            try:
                preloaded[path] = os.stat(path).st_mtime
            except OSError:
                pass
    gc.collect()
    gc.freeze()
    server.log.info("app code imported before the workers fork (%d files)", len(preloaded))


def _changed_since_preload(server) -> list[str]:
    changed = []
    for path, mtime in _master(server)["preloaded"].items():
        try:
            if os.stat(path).st_mtime != mtime:
                changed.append(path)
        except OSError:
            changed.append(path)
    return changed


def on_reload(server):
    changed = _changed_since_preload(server)
    if changed:
        server.log.error("%d files of the code imported at start changed (%s...): the new workers still run the "
                         "old code. Restart (systemctl restart opac-web) rather than reload after an upgrade "
                         "while OPAC_PRELOAD_CODE is set.", len(changed), changed[0])


def when_ready(server):
    """Runs in the master before the workers are forked: import the code (OPAC_PRELOAD_CODE), start the
    follower and a watcher."""
    if _setting("PRELOAD_CODE"):
        _preload_code(server)
    if not _setting("EMBEDDED_FOLLOWER"):
        return
    import threading

    pid = _master(server)["follower_pid"] = _spawn_follower()
    server.log.info("index follower started (pid %s)", pid)
    threading.Thread(target=_watch_follower, args=(server, pid), name="opac-index-follower", daemon=True).start()


def on_exit(server):
    import signal
    import time

    state = _master(server)
    state["stopping"] = True
    pid = state["follower_pid"]
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # raises once it is gone (reaped by the watcher or gunicorn)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, ChildProcessError):
        pass
