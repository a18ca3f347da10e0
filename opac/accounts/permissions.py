"""Who may do what: one table of actions to staff roles, and decorators for views.

Patron-owned objects are never loaded by bare id: views go through ``patron_loans`` /
``patron_holds`` (circulation.services) or the reference package's own patron query.
"""

from __future__ import annotations

from functools import wraps
from types import MappingProxyType

from flask import abort, jsonify, redirect, request, url_for
from flask_login import current_user

from ..web import wants_json

STAFF = frozenset({"librarian", "admin"})
ADMIN = frozenset({"admin"})

#: What each staff role may do. Librarians run the desk and serve patrons; only admins change
#: who works here (staff accounts), the library's rules (circulation policies, patron categories,
#: settings), load data in bulk (catalogue and patron imports) and delete records.
ACTIONS = MappingProxyType({
    "desk": STAFF,
    "holds_shelf": STAFF,
    "patrons": STAFF,
    "outbox": STAFF,
    "statistics": STAFF,  # daily counts and their CSV: nothing tied to a patron
    "reference": STAFF,
    "faq": STAFF,
    "suggestions": STAFF,  # purchase suggestions: accept, order, mark arrived, reject
    "course_lists": STAFF,  # course reading lists
    "catalog_edit": STAFF,  # record fields, copies, withdraw and reinstate (deleting is delete_records)
    "own_account": STAFF,  # one's own two-factor settings, signed-in devices and notices
    "catalog_import": ADMIN,
    "patron_import": ADMIN,
    "staff_accounts": ADMIN,
    "policies": ADMIN,
    "patron_categories": ADMIN,
    "settings": ADMIN,
    "delete_records": ADMIN,
    "admin": ADMIN,
})


def is_patron(user=None) -> bool:
    user = user or current_user
    return bool(user and user.is_authenticated and getattr(user, "kind", None) == "patron")


def is_staff(user=None) -> bool:
    user = user or current_user
    return bool(user and user.is_authenticated and getattr(user, "kind", None) == "staff")


def can(action: str, user=None) -> bool:
    user = user or current_user
    return is_staff(user) and user.role in ACTIONS[action]


def here() -> str:
    """This request's path and query, to come back to after logging in (no stray ``?`` when
    there is no query: Werkzeug's ``full_path`` always ends in one)."""
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def _unauthenticated(login_endpoint: str):
    if wants_json():
        return jsonify(error="login_required", message="Log in first."), 401
    return redirect(url_for(login_endpoint, next=here() if request.method == "GET" else None))


def _needs_enrolment(user) -> bool:
    """A staff member whose role needs two factors but who has none yet does nothing else first."""
    from . import twofa

    return twofa.required_for(user) and not twofa.is_enabled(user)


def patron_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not is_patron():
            return _unauthenticated("accounts.login")
        return view(*args, **kwargs)

    wrapper.requires = "patron"
    return wrapper


def staff_required(action: str):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not is_staff():
                return _unauthenticated("staff.login")
            if not can(action):
                abort(403)
            if _needs_enrolment(current_user):
                return redirect(url_for("staff.twofa_setup"))
            return view(*args, **kwargs)

        wrapper.requires = f"staff:{action}"
        return wrapper

    return decorator
