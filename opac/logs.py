"""Logging: a request id on every request and every log line, JSON lines on demand, redacted paths.

``redact_path`` is shared with gunicorn's access log (gunicorn.conf.py), so that a secret carried in a
URL (a PIN-reset link, a private question's link) never reaches a log file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
#: A request id accepted from a trusted proxy: 8-128 characters, no spaces, quotes or control characters.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+/=@-]{7,127}")
_HANDLER_MARK = "_opac_handler"


def redact_path(path: str) -> str:
    """The path (with or without a query string) with secret tokens replaced by ``[redacted]``.

    >>> redact_path("/password-reset/AbC.123-xyz")
    '/password-reset/[redacted]'
    >>> redact_path("/ask/t/s3cr3t?hl=en")
    '/ask/t/[redacted]?hl=en'
    >>> redact_path("/api/v1/ask/t/s3cr3t")
    '/api/v1/ask/t/[redacted]'
    >>> redact_path("/search?q=laskar&token=abc&page=2")
    '/search?q=laskar&token=[redacted]&page=2'
    >>> redact_path("/password-reset")
    '/password-reset'

    It also works on a whole log line (the token ends at white space or a quote):

    >>> redact_path('127.0.0.1 - - "GET /password-reset/AbC?x=1 HTTP/1.1" 200')
    '127.0.0.1 - - "GET /password-reset/[redacted]?x=1 HTTP/1.1" 200'
    """
    from .accounts.secrets import redact_secrets  # the one list of secret-bearing URLs

    return redact_secrets(path)


def is_sane_request_id(value: str | None) -> bool:
    """Whether a proxy's ``X-Request-ID`` may be used as is (else a new id is made).

    >>> is_sane_request_id("4f1c2b9e8d7a6b5c4f1c2b9e8d7a6b5c")
    True
    >>> is_sane_request_id("abc"), is_sane_request_id("x" * 200), is_sane_request_id("ab cd\\nfake line")
    (False, False, False)
    """
    return bool(value) and _SANE_ID.fullmatch(value) is not None


def request_id() -> str | None:
    """This request's id (made on first use); None outside a request."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        from flask import current_app

        offered = request.headers.get(HEADER)
        if int(current_app.config["PROXY_COUNT"]) > 0 and is_sane_request_id(offered):
            rid = offered
        else:
            rid = os.urandom(16).hex()  # as random as uuid4's hex, without building a UUID per request
        g.request_id = rid
    return rid


class RequestContextFilter(logging.Filter):
    """Adds ``request_id``, ``method`` and ``path`` (redacted) to every record logged inside a request,
    and redacts secret paths in the message itself (a development server's request lines, say)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_path(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if has_request_context():
            record.request_id = request_id()
            record.method = request.method
            record.path = redact_path(request.path)
        else:
            record.request_id = record.method = record.path = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, method, path (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "method": getattr(record, "method", None),
            "path": getattr(record, "path", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Plain lines, with the request id in brackets (``-`` outside a request)."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


def make_handler(stream=None, *, json_lines: bool = False) -> logging.Handler:
    """A stream handler with the request-context filter and the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    setattr(handler, _HANDLER_MARK, True)
    return handler


def configure_logging(*, json_lines: bool, level: str = "INFO") -> None:
    """Send all logging of this process to stderr through our handler (replacing one installed before).

    The handler sits on the root logger, so libraries' warnings come out in the same format; the
    ``opac`` loggers log from ``level`` up.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(make_handler(json_lines=json_lines))
    logging.getLogger("opac").setLevel(str(level).upper())


def init_app(app: Flask) -> None:
    """Request ids on every response; the process's log format unless the app is under test."""

    @app.after_request
    def _send_request_id(resp):
        resp.headers[HEADER] = request_id()
        return resp

    if not app.testing:
        configure_logging(json_lines=_truthy(app.config["LOG_JSON"]), level=app.config["LOG_LEVEL"])


def _truthy(value) -> bool:
    """``True``, ``"true"``, ``"1"``, ``"yes"``, ``"on"`` (any case)."""
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")
