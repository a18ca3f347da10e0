"""Domain errors: raised by services, shown by the edge with a translated, user-facing message."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """Base of all rule refusals. ``reason`` is a stable code; ``message`` is for people."""

    messages: dict = {}
    status_code = 400

    def __init__(self, reason: str = "error", **params):
        self.reason = reason
        self.params = params
        super().__init__(reason)

    @property
    def message(self) -> str:
        template = self.messages.get(self.reason) or GENERIC.get(self.reason) or self.reason
        try:
            from .dates import format_date

            shown = {k: format_date(v) if isinstance(v, date) else v for k, v in self.params.items()}
            return str(template) % shown if shown else str(template)
        except (KeyError, TypeError, ValueError):
            return str(template)

    def to_dict(self) -> dict:
        return {"error": self.reason, "message": self.message}


GENERIC = {
    "not_found": _l("Not found."),
    "forbidden": _l("You are not allowed to do that."),
    "error": _l("Something went wrong."),
}

