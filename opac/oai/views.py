"""The ``/oai`` endpoint: GET or form-encoded POST, read-only, so exempt from CSRF."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..extensions import csrf
from . import provider

bp = Blueprint("oai", __name__)


@bp.route("/oai", methods=["GET", "POST"])
@csrf.exempt
def endpoint():
    """Answer one OAI-PMH request; POST is the same read as GET (protocol section 3.1.1.2)."""
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += list(request.form.items(multi=True))
    resp = Response(provider.respond(pairs), mimetype="text/xml")
    # harvests are public metadata but always current: revalidate, never store stale lists
    resp.headers["Cache-Control"] = "public, no-cache"
    return resp
