"""Every JSON answer is written by orjson (``opac.web.JSONProvider``) with Flask's own fallbacks."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import uuid

import pytest
from markupsafe import Markup


@dataclasses.dataclass
class _Point:
    x: int
    label: str


def test_json_answers_keep_flasks_fallbacks(app):
    value = {
        "when": datetime.datetime(2026, 12, 1, 8, 30, tzinfo=datetime.UTC), "day": datetime.date(2026, 12, 1),
        "amount": decimal.Decimal("1500.50"), "id": uuid.UUID(int=7), "point": _Point(3, "Bandung"),
        "html": Markup("<mark>buku</mark>"), "text": "Pendidikan — anak-anak ñ 漢字", 3: "three",
        "nested": [{"b": 1, "a": 2}], "float": 0.1, "none": None,
    }
    with app.app_context():
        text = app.json.dumps(value)
        assert json.loads(text) == {
            "when": "Tue, 01 Dec 2026 08:30:00 GMT", "day": "Tue, 01 Dec 2026 00:00:00 GMT", "amount": "1500.50",
            "id": str(uuid.UUID(int=7)), "point": {"x": 3, "label": "Bandung"}, "html": "<mark>buku</mark>",
            "text": "Pendidikan — anak-anak ñ 漢字", "3": "three", "nested": [{"b": 1, "a": 2}], "float": 0.1,
            "none": None,
        }
        assert text.index('"b"') < text.index('"a"')  # keys in the order given
        assert "漢字" in text  # UTF-8 as is
        assert json.loads(app.json.dumps(value, indent=2)) == json.loads(text)  # other options: Python's encoder
        with pytest.raises(TypeError):
            app.json.dumps({"x": object()})


def test_a_search_answer_is_json_in_utf8(search_api, client, load_records):
    load_records([{"title": "Bahasa Jepang 漢字 dasar"}])
    r = client.get("/api/v1/search?q=dasar")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert "漢字".encode() in r.data and r.get_json()["hits"][0]["title"] == "Bahasa Jepang 漢字 dasar"


def test_the_session_signer_is_made_once_per_secret_key(app, client):
    """The signed session cookie still works (and a new secret key still invalidates it), with its
    signer made once per key instead of at every request."""
    from opac.web import SessionInterface

    iface = app.session_interface
    assert isinstance(iface, SessionInterface)
    first = iface.get_signing_serializer(app)
    assert iface.get_signing_serializer(app) is first
    cookie = first.dumps({"lang": "en"})
    old_key = app.secret_key
    app.secret_key = "another key for this test"
    try:
        other = iface.get_signing_serializer(app)
        assert other is not first
        with pytest.raises(Exception, match="Signature"):
            other.loads(cookie)
        app.config["SECRET_KEY_FALLBACKS"] = [old_key]  # a key being rotated out still reads its cookies
        assert iface.get_signing_serializer(app).loads(cookie) == {"lang": "en"}
    finally:
        app.secret_key = old_key
        app.config["SECRET_KEY_FALLBACKS"] = []


def test_what_orjson_does_not_write_goes_to_pythons_encoder(app):
    """A number past 64 bits or numpy's float (a float subclass orjson refuses) is written as
    Python's ``json`` writes it, not a failed answer."""
    import numpy as np

    with app.app_context():
        assert json.loads(app.json.dumps({"big": 2**70, "score": np.float64(1.5)})) == {"big": 2**70, "score": 1.5}
