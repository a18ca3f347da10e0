"""The JSON API matches its OpenAPI document."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate

ROWS = [dict(title="Laskar Pelangi", authors=["Hirata, Andrea"], year=2005, isbns=["9789793062792"],
             items=[{"barcode": "OA1", "location": "PUSAT"}]),
        dict(title="Sang Pemimpi", authors=["Hirata, Andrea"], year=2006)]


@pytest.fixture
def spec(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def _validator(spec, schema):
    resolver_schema = {"components": spec["components"], **schema}
    return jsonschema.Draft202012Validator(resolver_schema)


def _response_schema(spec, path, method="get", status="200"):
    return spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def test_document_is_valid_openapi(spec):
    validate(spec)
    assert {"/api/v1/search", "/api/v1/suggest", "/api/v1/records/{record_id}"} <= set(spec["paths"])


def test_responses_match_their_schemas(spec, client, load_records):
    ids = load_records(ROWS)
    cases = [
        ("/api/v1/search", "/api/v1/search?q=hirata", "200"),
        ("/api/v1/search", "/api/v1/search?q=hirata&type=book&sort=newest&page=1&size=1", "200"),
        ("/api/v1/search", "/api/v1/search?q=", "400"),
        ("/api/v1/suggest", "/api/v1/suggest?q=lask", "200"),
        ("/api/v1/records/{record_id}", f"/api/v1/records/{ids[0]}", "200"),
        ("/api/v1/records/{record_id}", "/api/v1/records/999999", "404"),
    ]
    for path, url, status in cases:
        r = client.get(url)
        assert str(r.status_code) == status, url
        _validator(spec, _response_schema(spec, path, status=status)).validate(r.get_json())


def test_schemathesis_against_the_app(app, load_records):
    """Property-based calls generated from the document: no 5xx, responses conform."""
    import schemathesis

    load_records(ROWS)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures = []
    for op in schema.get_all_operations():
        operation = op.ok()
        if operation.method.upper() != "GET":
            continue
        strategy = operation.as_strategy()
        from hypothesis import HealthCheck, given, settings

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def check(case):
            response = case.call()
            if response.status_code >= 500:
                failures.append((case.path, case.query, response.status_code))
            case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])

        check()
    assert not failures


def test_patron_responses_match_their_schemas(app, spec, client, load_records, make_patron, api):
    from sqlalchemy import select

    from opac.catalog.models import Location
    from opac.circulation import actions
    from opac.extensions import db

    ids = load_records([dict(title="Satu", items=[{"barcode": "OA9", "location": "PUSAT"}]),
                        dict(title="Dua", items=[{"barcode": "OA8", "location": "PUSAT"}])])
    pid, card, pin = make_patron()
    with app.test_request_context():
        db.session.scalar(select(Location)).is_pickup = True
        db.session.commit()
        assert actions.checkout(card, "OA9")["ok"]
        assert actions.place_hold(pid, ids[1], db.session.scalar(select(Location.id)))["ok"]
    assert api.post("/api/v1/login", json={"card": card, "pin": pin}).status_code == 200
    for path in ("/api/v1/loans", "/api/v1/holds"):
        body = client.get(path).get_json()
        _validator(spec, _response_schema(spec, path)).validate(body)
        assert body[path.rsplit("/", 1)[1]]
    r = api.post("/api/v1/holds", json={"record_id": ids[1], "pickup_location_id": 1})
    _validator(spec, _response_schema(spec, "/api/v1/holds", "post", "409")).validate(r.get_json())
