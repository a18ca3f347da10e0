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


# ----------------------------------------------------------------------------- the embedded follower
# On a single machine the index follower (`flask --app opac index follow`) runs as a child of the
# gunicorn master, so the one-command install sees catalogue edits within a second or two. It is
# restarted if it dies, and stops with gunicorn. Where it runs as its own service (several nodes,
# systemd), set OPAC_EMBEDDED_FOLLOWER=false.
_follower = {"proc": None, "stopping": False, "thread": None}


def _embedded_follower_enabled() -> bool:
    from opac.config import EMBEDDED_FOLLOWER, _parse

    raw = os.environ.get("OPAC_EMBEDDED_FOLLOWER")
    return bool(_parse(raw)) if raw is not None else EMBEDDED_FOLLOWER


def _run_follower(server) -> None:
    import subprocess
    import sys
    import time

    env = dict(os.environ, OPAC_FOLLOWER_PARENT=str(os.getpid()))
    cmd = [sys.executable, "-m", "flask", "--app", "opac", "index", "follow"]
    delay = 1.0
    while not _follower["stopping"]:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=os.path.dirname(os.path.abspath(__file__)))
        _follower["proc"] = proc
        server.log.info("index follower started (pid %s)", proc.pid)
        proc.wait()  # gunicorn's own reaping may collect it first: then this returns at once
        if _follower["stopping"]:
            break
        delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 30.0)
        server.log.warning("index follower (pid %s) exited; restarting in %.0f s", proc.pid, delay)
        time.sleep(delay)


def when_ready(server):
    if not _embedded_follower_enabled():
        return
    import threading

    thread = threading.Thread(target=_run_follower, args=(server,), name="opac-index-follower", daemon=True)
    _follower["thread"] = thread
    thread.start()


def on_exit(server):
    _follower["stopping"] = True
    proc = _follower["proc"]
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except Exception:  # noqa: BLE001 - a follower stuck past the grace period is killed
            proc.kill()
