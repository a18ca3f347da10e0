"""The delivery worker (`flask --app opac worker`): sends the e-mail and push queues until stopped.

Each message is claimed, sent and marked in one transaction (``opac.outbound``), so any number of
workers may run at once, on any node. E-mail waits in the outbox while ``MAIL_SERVER`` is unset.
"""

from __future__ import annotations

import logging
import signal
import threading

from flask import current_app

from .. import outbound
from ..mail import OutboxEmail, SmtpSender
from ..push import PushMessage, send_push

log = logging.getLogger(__name__)


def deliver_due(stop: threading.Event | None = None) -> dict:
    """One pass over both queues: send every due message; counts by channel and outcome."""
    cfg = current_app.config
    counts = {}
    if cfg["MAIL_SERVER"]:
        sender = SmtpSender()
        try:
            for outcome, n in outbound.drain(OutboxEmail, sender, int(cfg["MAIL_MAX_ATTEMPTS"]), stop=stop).items():
                counts[f"mail_{outcome}"] = n
        finally:
            sender.close()
    for outcome, n in outbound.drain(PushMessage, send_push, int(cfg["PUSH_MAX_ATTEMPTS"]), stop=stop).items():
        counts[f"push_{outcome}"] = n
    return counts


def run(*, once: bool = False, stop: threading.Event | None = None) -> dict:
    """Deliver until stopped (SIGTERM/SIGINT finish the current message first); ``once``: until
    nothing is due, then return. Returns the totals."""
    stop = stop or threading.Event()
    if not once and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    totals: dict[str, int] = {}
    poll = float(current_app.config["WORKER_POLL_SECONDS"])
    while not stop.is_set():
        counts = deliver_due(stop)
        for key, n in counts.items():
            totals[key] = totals.get(key, 0) + n
        if counts:
            log.info("delivered %s", counts)
        busy = bool(counts) and not any(k.endswith("_stop") for k in counts)
        if once and not busy:
            break
        if not busy:
            stop.wait(poll)
    return totals
