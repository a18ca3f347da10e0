"""Notice events and what they become: an in-app notification, an e-mail and Web Push messages.

Domains emit a ``Notice`` from inside their transaction; everything it turns into is written in
that same transaction (nothing is sent here), so a rolled-back checkin leaves no message behind.
Texts are written in the patron's language when the notice is emitted; links come from BASE_URL,
so the nightly run needs no request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import lazy_gettext as _l

from .. import push
from ..accounts.models import Patron
from ..extensions import db
from ..mail import queue_email
from ..urls import absolute_url, site_path
from .models import Notification

MESSAGES = {
    "hold_ready": (_l("Ready for pickup: %(title)s"),
                   _l("%(title)s is ready for pickup at %(location)s until %(date)s.")),
    "due_soon": (_l("Due soon: %(title)s"),
                 _l("%(title)s is due on %(date)s. You can renew it in the app if no one is waiting for it.")),
    "overdue": (_l("Overdue: %(title)s"),
                _l("%(title)s was due on %(date)s. Please return or renew it as soon as possible.")),
    "renewal_blocked": (_l("Cannot be renewed: %(title)s"),
                        _l("Another patron has placed a hold on %(title)s, so it cannot be renewed. "
                           "Please return it by %(date)s.")),
    "suggestion": (_l("Your suggestion: %(title)s"), _l("%(message)s")),
    "saved_search": (_l("New in the catalogue for “%(name)s”"),
                     _l("New titles match your saved search “%(name)s” (%(count)s): %(titles)s")),
}


@dataclass(frozen=True)
class Notice:
    """Something a patron should hear about: ``kind`` (a key of MESSAGES), the text's parameters
    (dates are shown in the patron's language) and the page it links to."""

    kind: str
    patron_id: int
    params: dict = field(default_factory=dict)
    endpoint: str = "circulation.my_loans"
    #: e-mail / Web Push for this notice: None follows the patron's notice settings
    email: bool | None = None
    push: bool | None = None


def emit(notice: Notice) -> Notification | None:
    """Write the notice's in-app notification and queue its e-mail and push messages (no commit)."""
    patron = db.session.get(Patron, notice.patron_id)
    if patron is None:
        return None
    lang = patron.language if patron.language in current_app.config["LANGUAGES"] else "id"
    with force_locale(lang):
        shown = {k: (format_date(v, "long") if isinstance(v, date) else v) for k, v in notice.params.items()}
        subject_t, body_t = MESSAGES[notice.kind]
        subject = str(subject_t) % shown
        body = str(body_t) % shown
    note = Notification(patron_id=patron.id, kind=notice.kind, subject=subject, body=body,
                        url=site_path(notice.endpoint))
    db.session.add(note)
    if (patron.notify_email if notice.email is None else notice.email) and patron.email:
        queue_email(patron.email, subject,
                    f"{body}\n\n{absolute_url(notice.endpoint)}\n\n— {current_app.config['LIBRARY_NAME']}",
                    kind=notice.kind, patron_id=patron.id, whatsapp=patron.whatsapp if patron.notify_whatsapp else None)
    if notice.push is not False:
        push.queue_push(patron.id, notice.kind, {"title": subject, "body": body, "url": note.url or "/",
                                                 "kind": notice.kind})
    db.session.flush()
    return note
