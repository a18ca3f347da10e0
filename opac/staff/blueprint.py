"""The staff area's blueprint, shared by its view modules (views.py, security.py)."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
