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


def _openapi_path(rule) -> str:
    import re

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def test_every_api_route_is_documented(app, spec):
    """Structural: each /api/ route and method of app.url_map is in the document, with its path
    parameters declared, and every state-changing call names the CSRF header it needs."""
    missing, undeclared, no_csrf = [], [], []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = _openapi_path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = spec["paths"].get(path, {}).get(method.lower())
            if op is None:
                missing.append(f"{method} {path}")
                continue
            params = {(p["in"], p["name"]) for p in op.get("parameters", [])}
            undeclared += [f"{method} {path} {{{a}}}" for a in rule.arguments if ("path", a) not in params]
            if method != "GET" and ("header", "X-CSRFToken") not in params:
                no_csrf.append(f"{method} {path}")
            assert op["responses"], (method, path)
    assert not missing, missing
    assert not undeclared, undeclared
    assert not no_csrf, no_csrf
    # and nothing is documented that the app does not serve
    served = {(_openapi_path(r), m.lower()) for r in app.url_map.iter_rules() for m in r.methods}
    ghosts = [f"{m} {p}" for p, ops in spec["paths"].items() for m in ops if (p, m) not in served]
    assert not ghosts, ghosts
    assert {"/api/v1/push/key", "/api/v1/push/subscribe", "/api/v1/push/unsubscribe", "/api/v1/saved",
            "/api/v1/saved/sync", "/api/v1/locations"} <= set(spec["paths"])


def test_app_endpoints_match_their_schemas(app, spec, client, load_records, make_patron, api, runner):
    from sqlalchemy import select

    from opac.catalog.models import Location
    from opac.extensions import db

    ids = load_records([dict(title="Satu", items=[{"barcode": "OB1", "location": "PUSAT"}])])
    with app.app_context():
        db.session.scalar(select(Location)).is_pickup = True
        db.session.commit()

    def check(path, r, method="get"):
        _validator(spec, _response_schema(spec, path, method, str(r.status_code))).validate(r.get_json())

    r = client.get("/api/v1/locations")
    check("/api/v1/locations", r)
    assert r.get_json()["locations"][0]["code"] == "PUSAT"
    check("/api/v1/saved", client.get("/api/v1/saved"))  # 401 before logging in
    check("/api/v1/push/key", client.get("/api/v1/push/key"))  # 404 before the keys exist
    runner.invoke(args=["push", "keys"])
    check("/api/v1/push/key", client.get("/api/v1/push/key"))
    _pid, card, pin = make_patron()
    assert api.post("/api/v1/login", json={"card": card, "pin": pin}).status_code == 200
    r = api.post("/api/v1/saved/sync", json={"add": [ids[0], 0, "x", 2**40], "remove": []})
    check("/api/v1/saved/sync", r, "post")
    assert [s["id"] for s in r.get_json()["saved"]] == [ids[0]]
    check("/api/v1/saved", client.get("/api/v1/saved"))
    sub = {"endpoint": "https://push.example.org/x1", "keys": {"p256dh": "BP" + "a" * 80, "auth": "b" * 22}}
    check("/api/v1/push/subscribe", api.post("/api/v1/push/subscribe", json=sub), "post")
    check("/api/v1/push/subscribe", api.post("/api/v1/push/subscribe", json={"endpoint": "http://x"}), "post")
    check("/api/v1/push/unsubscribe", api.post("/api/v1/push/unsubscribe", json={"endpoint": sub["endpoint"]}), "post")
    for body in ([1, 2], "x", None):  # not an object: refused or ignored, never a server error
        for path in ("/api/v1/push/subscribe", "/api/v1/push/unsubscribe", "/api/v1/saved/sync"):
            r = api.post(path, json=body)
            assert r.status_code < 500, (path, body)
            check(path, r, "post")


def test_schemathesis_against_the_patron_app_endpoints(app, client, load_records, make_patron):
    """Generated calls to the saved-list and push endpoints as a logged-in patron: no 5xx, conforming answers."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    from tests.conftest import csrf_token

    load_records(ROWS)
    _pid, card, pin = make_patron()
    token = csrf_token(client)
    assert client.post("/api/v1/login", json={"card": card, "pin": pin}, headers={"X-CSRFToken": token}).status_code == 200
    token = csrf_token(client)
    cookie = client.get_cookie("session")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures, seen = [], set()
    wanted = {"/api/v1/saved", "/api/v1/saved/sync", "/api/v1/push/subscribe", "/api/v1/push/unsubscribe",
              "/api/v1/push/key", "/api/v1/locations", "/api/v1/saved-searches", "/api/v1/visits"}
    for op in schema.get_all_operations():
        operation = op.ok()
        if operation.path not in wanted:
            continue

        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers={"X-CSRFToken": token}, cookies={"session": cookie.value})
            seen.add((case.path, response.status_code))
            if response.status_code >= 500:
                failures.append((case.method, case.path, case.body, response.status_code))
            case.validate_response(response, checks=[schemathesis.checks.not_a_server_error,
                                                     schemathesis.checks.status_code_conformance])

        run()
    assert not failures
    assert ("/api/v1/saved", 200) in seen and ("/api/v1/saved/sync", 200) in seen  # really logged in
    assert ("/api/v1/saved-searches", 200) in seen and ("/api/v1/visits", 403) in seen
    assert ("/api/v1/push/subscribe", 200) in seen or ("/api/v1/push/subscribe", 400) in seen
