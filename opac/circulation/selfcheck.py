"""Self-checkout with the patron's phone: where it is allowed (the library's network, or a login
session that scanned the desk's changing QR code) and the desk code itself.

The loan is made by the same circulation action the desk uses (``actions.self_checkout`` →
``services.checkout``), so the library's rules exist once.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time

from flask import current_app, session
from flask_babel import lazy_gettext as _l

from ..errors import DomainError

SESSION_KEY = "selfcheck_until"


class SelfcheckRefused(DomainError):
    status_code = 403
    messages = {
        "off": _l("Self-checkout is not available in this library."),
        "outside": _l("Self-checkout works only inside the library, on the library's Wi-Fi."),
        "desk_code_needed": _l("Scan the self-checkout QR code shown at the desk first."),
        "bad_desk_code": _l("This desk code is not valid (any more). Scan the code shown at the desk now."),
    }


def mode() -> str:
    return "desk_code" if current_app.config["SELFCHECK_MODE"] == "desk_code" else "network"


def networks() -> list:
    """The configured ranges; a malformed entry is ignored (and never matches)."""
    nets = []
    for value in current_app.config["SELFCHECK_NETWORKS"] or []:
        try:
            nets.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            current_app.logger.warning("SELFCHECK_NETWORKS: ignoring %r", value)
    return nets


def in_library_network(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if getattr(addr, "ipv4_mapped", None):
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks() if net.version == addr.version)


def _window(now: float | None = None) -> int:
    period = max(1, int(current_app.config["SELFCHECK_DESK_CODE_MINUTES"])) * 60
    return int((time.time() if now is None else now) // period)


def desk_code(window: int | None = None) -> str:
    """The code shown at the desk for a time window: an HMAC of the window with SECRET_KEY."""
    window = _window() if window is None else window
    key = str(current_app.config["SECRET_KEY"]).encode()
    mac = hmac.new(key, f"selfcheck-desk:{window}".encode(), hashlib.sha256).hexdigest()
    return mac[:16].upper()


def valid_desk_code(code: str, now: float | None = None) -> bool:
    """The current window's code or the previous one (a patron scanning as the code changes)."""
    code = (code or "").strip().upper()
    if len(code) != 16:
        return False
    w = _window(now)
    # bytes: compare_digest refuses non-ASCII str (a scanned or typed "code" may be anything)
    return any(hmac.compare_digest(code.encode(), desk_code(x).encode()) for x in (w, w - 1))


def code_from_scan(value: str) -> str:
    """The code in what was scanned: the bare code, or the desk URL ``…/selfcheck?code=…``."""
    value = (value or "").strip()
    if "code=" in value:
        value = value.split("code=", 1)[1].split("&", 1)[0].split("#", 1)[0]
    return value[:64]


def grant_until() -> float | None:
    until = session.get(SESSION_KEY)
    return until if isinstance(until, (int, float)) and until > time.time() else None


def redeem_desk_code(code: str) -> float:
    """A valid desk code allows self-checkout in this login session for SELFCHECK_GRANT_MINUTES."""
    if mode() != "desk_code":
        raise SelfcheckRefused("off")
    if not valid_desk_code(code_from_scan(code)):
        raise SelfcheckRefused("bad_desk_code")
    until = time.time() + int(current_app.config["SELFCHECK_GRANT_MINUTES"]) * 60
    session[SESSION_KEY] = until
    return until


def access_problem(ip: str) -> str | None:
    """Why this request may not self-check out (None: it may)."""
    if mode() == "desk_code":
        return None if grant_until() else "desk_code_needed"
    if not current_app.config["SELFCHECK_NETWORKS"]:
        return "off"
    return None if in_library_network(ip) else "outside"


def check_access(ip: str) -> None:
    problem = access_problem(ip)
    if problem:
        raise SelfcheckRefused(problem)
