"""Secret-bearing URLs (password reset links, private question threads, sign-up confirmation links): one list of patterns, used to
redact them wherever they would otherwise be shown or written down (staff outbox, access logs) and to
send such pages with ``Referrer-Policy: no-referrer``.

A secret may appear as a plain path, inside an absolute URL, or percent-encoded inside another URL
(``/login?next=%2Fask%2Ft%2F…``); every form is matched.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

_SLASH = r"(?:/|%2f)"
#: Path prefixes whose next segment is a secret token (``/api/v1/ask/t/`` is covered by ``/ask/t/``).
SECRET_PREFIXES = (("password-reset",), ("ask", "t"), ("register", "verify"))
_PATTERN = re.compile(
    "(" + "|".join(_SLASH + _SLASH.join(re.escape(p) for p in parts) + _SLASH for parts in SECRET_PREFIXES) + ")"
    r"(?!\[redacted\])[^/?#&\s\"'<>\\%]+(?:%(?!2f)[0-9a-f]{2}[^/?#&\s\"'<>\\%]*)*",
    re.IGNORECASE,
)


#: Query parameters whose values are secrets.
_SECRET_PARAM = re.compile(r"(?i)([?&](?:token|pin|password|secret|key)=)[^&#\s\"']*")


def redact_secrets(text: str | None) -> str:
    """``text`` with every secret token in a reset or thread URL replaced by ``[redacted]``.

    >>> redact_secrets("Open https://opac.test/password-reset/AbC-123_x within one hour")
    'Open https://opac.test/password-reset/[redacted] within one hour'
    >>> redact_secrets("GET /login?next=%2Fask%2Ft%2Fs3cr3t HTTP/1.1")
    'GET /login?next=%2Fask%2Ft%2F[redacted] HTTP/1.1'
    >>> redact_secrets("/api/v1/ask/t/tok?x=1")
    '/api/v1/ask/t/[redacted]?x=1'
    >>> redact_secrets("/search?q=password")
    '/search?q=password'
    >>> redact_secrets("/search?q=laskar&token=abc&page=2")
    '/search?q=laskar&token=[redacted]&page=2'
    """
    if not text:
        return text or ""
    text = _PATTERN.sub(lambda m: m.group(1) + REDACTED, text)
    return _SECRET_PARAM.sub(r"\1" + REDACTED, text) if "?" in text or "&" in text else text


def has_secret(path: str | None) -> bool:
    """Whether a request path carries a secret token (such pages send no Referer onwards).

    >>> has_secret("/password-reset/abc"), has_secret("/password-reset"), has_secret("/ask/t/x")
    (True, False, True)
    """
    return bool(path) and _PATTERN.search(path) is not None
