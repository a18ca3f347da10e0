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
