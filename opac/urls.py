"""Absolute URLs, always built from ``BASE_URL`` (``OPAC_BASE_URL``), never from a request's Host.

They work the same inside a request, in a CLI command and in a background process, so a reset
link, a notice e-mail or a feed can never point at a host an attacker put in a header.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def absolute_url(endpoint: str, **values) -> str:
    """The public address of ``endpoint`` (``url_for`` arguments), under ``BASE_URL``.

    >>> from flask import Flask
    >>> app = Flask("doc")
    >>> app.config["BASE_URL"] = "https://perpustakaan.example.ac.id/opac"
    >>> _ = app.add_url_rule("/record/<int:record_id>", "record")
    >>> with app.app_context():
    ...     absolute_url("record", record_id=7, hl="en")
    'https://perpustakaan.example.ac.id/opac/record/7?hl=en'
    """
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    anchor = values.pop("_anchor", None)
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{anchor}" if anchor else url


def site_path(endpoint: str, **values) -> str:
    """The path of ``endpoint`` under ``BASE_URL`` (for links stored in the database), with or
    without a request, e.g. in the nightly run."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values)


def is_https() -> bool:
    """Whether the public address is served over HTTPS."""
    return current_app.config["BASE_URL"].startswith("https://")
