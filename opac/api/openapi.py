"""The OpenAPI 3.1 document of the JSON API, served at /api/v1/openapi.json.

Other packages add their paths through ``app.extensions["opac_openapi"]`` (a list of callables
returning ``(paths, schemas)``), so each domain documents its own endpoints.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..search.vocabulary import FACETS

bp = Blueprint("openapi", __name__)

ERROR = {"type": "object", "required": ["error", "message"],
         "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}

FACET_VALUE = {
    "type": "object", "required": ["value", "label", "count", "selected"],
    "properties": {"value": {"type": "string"}, "label": {"type": "string"},
                   "count": {"type": "integer", "minimum": 0}, "selected": {"type": "boolean"}},
}

HIT = {
    "type": "object",
    "required": ["id", "control_number", "title", "authors", "year", "material_type", "languages", "isbns",
                 "availability", "held_by", "url"],
    "properties": {
        "id": {"type": "integer"}, "control_number": {"type": "string"}, "title": {"type": "string"},
        "subtitle": {"type": ["string", "null"]}, "authors": {"type": "array", "items": {"type": "string"}},
        "year": {"type": ["integer", "null"]}, "material_type": {"type": "string"},
        "languages": {"type": "array", "items": {"type": "string"}},
        "isbns": {"type": "array", "items": {"type": "string"}},
        "call_number": {"type": ["string", "null"]}, "publisher": {"type": ["string", "null"]},
        "availability": {"type": ["object", "null"], "required": ["total", "available"], "properties": {
            "total": {"type": "integer"}, "available": {"type": "integer"},
            "locations": {"type": "array", "items": {"type": "string"}}},
            "description": "Copies here; null for a partner library's record (negative id)."},
        "held_by": {"type": "array", "items": {"type": "string"},
                    "description": "Names of the libraries holding the book: this record's first, then the others."},
        "url": {"type": ["string", "null"], "description": "The record page (at the partner for a partner's record)."},
        "highlight": {"type": "object"}, "score": {"type": "number"},
    },
}

SEARCH_RESULT = {
    "type": "object",
    "required": ["query", "total", "page", "size", "pages", "hits", "facets"],
    "properties": {
        "query": {"type": "string"}, "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1}, "size": {"type": "integer"}, "pages": {"type": "integer"},
        "sort": {"type": "string"},
        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        "facets": {"type": "object", "additionalProperties": {"type": "array",
                                                              "items": {"$ref": "#/components/schemas/FacetValue"}}},
        "did_you_mean": {"type": ["string", "null"]}, "corrected": {"type": "object"},
        "fallback": {"type": "boolean"}, "messages": {"type": "array", "items": {"type": "string"}},
    },
}

ITEM = {
    "type": "object", "required": ["barcode", "status"],
    "properties": {"barcode": {"type": "string"}, "call_number": {"type": ["string", "null"]},
                   "location": {"type": ["string", "null"]}, "location_name": {"type": ["string", "null"]},
                   "status": {"type": "string"}, "due_date": {"type": ["string", "null"]}},
}

RECORD = {
    "type": "object", "required": ["id", "control_number", "title", "authors", "items"],
    "properties": {"id": {"type": "integer"}, "control_number": {"type": "string"}, "title": {"type": "string"},
                   "subtitle": {"type": ["string", "null"]},
                   "authors": {"type": "array", "items": {"type": "object"}},
                   "subjects": {"type": "array", "items": {"type": "string"}},
                   "year": {"type": ["integer", "null"]}, "material_type": {"type": "string"},
                   "isbns": {"type": "array", "items": {"type": "string"}},
                   "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}},
}


def _q(name, schema, description, required=False, explode=None):
    p = {"name": name, "in": "query", "required": required, "schema": schema, "description": description}
    if explode is not None:
        p["explode"] = explode
    return p


def catalog_paths() -> tuple[dict, dict]:
    facet_schemas = {"values": {"type": "array", "items": {"type": "string"}},
                     "range": {"type": "string", "pattern": "^[0-9]{0,4}-?[0-9]{0,4}$"},
                     "flag": {"type": "string", "enum": ["1", "0", "true", "on"]}}
    search_params = [
        _q("q", {"type": "string", "maxLength": 10000}, "Query: words (all must match), \"phrases\", field:value "
           "(title, author, subject, isbn, year, callnumber, publisher, series), prefix*, OR, -exclude."),
        *(_q(f.name, facet_schemas[f.kind], f.api) for f in FACETS),
        _q("sort", {"type": "string", "enum": ["relevance", "newest", "oldest", "title", "author"]}, "Order."),
        _q("page", {"type": "integer", "minimum": 1, "maximum": 500}, "Page number."),
        _q("size", {"type": "integer", "minimum": 1, "maximum": 100}, "Results per page."),
    ]
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    paths = {
        "/api/v1/search": {"get": {
            "summary": "Search the catalogue", "operationId": "search", "parameters": search_params,
            "responses": {
                "200": {"description": "Results", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchResult"}}}},
                "400": {"description": "No query", "content": err},
                "503": {"description": "Search index unavailable", "content": err},
            }}},
        "/api/v1/suggest": {"get": {
            "summary": "Suggestions as you type (titles, authors, subjects)", "operationId": "suggest",
            "parameters": [_q("q", {"type": "string", "maxLength": 10000}, "What has been typed so far.")],
            "responses": {"200": {"description": "Suggestions", "content": {"application/json": {"schema": {
                "type": "object", "required": ["query", "suggestions"],
                "properties": {"query": {"type": "string"}, "suggestions": {"type": "array", "items": {
                    "type": "object", "required": ["type", "label", "url"],
                    "properties": {"type": {"type": "string", "enum": ["title", "author", "subject"]},
                                   "label": {"type": "string"}, "url": {"type": "string"},
                                   "id": {"type": ["integer", "null"]}}}}}}}}}}}},
        "/api/v1/records/{record_id}": {"get": {
            "summary": "A record with its copies", "operationId": "getRecord",
            "parameters": [{"name": "record_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {
                "200": {"description": "The record", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Record"}}}},
                "404": {"description": "No such record", "content": err},
            }}},
    }
    schemas = {"Error": ERROR, "FacetValue": FACET_VALUE, "Hit": HIT, "SearchResult": SEARCH_RESULT,
               "Item": ITEM, "Record": RECORD}
    return paths, schemas


SAVED_RECORD = {
    "type": "object", "required": ["id", "title", "url", "saved_at"],
    "properties": {"id": {"type": "integer"}, "title": {"type": "string"}, "author": {"type": ["string", "null"]},
                   "year": {"type": ["integer", "null"]}, "url": {"type": "string"},
                   "saved_at": {"type": "string", "description": "ISO 8601 time the record was saved"}},
}

PICKUP_LOCATION = {
    "type": "object", "required": ["id", "code", "name"],
    "properties": {"id": {"type": "integer"}, "code": {"type": "string"}, "name": {"type": "string"}},
}


def app_paths() -> tuple[dict, dict]:
    """The app's own endpoints: pickup locations, the saved list, Web Push, and this document."""
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "From GET /api/v1/session"}
    sec = [{"session": []}]
    login = {"description": "Not logged in as a patron", "content": err}
    ok = {"application/json": {"schema": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}}
    saved = {"application/json": {"schema": {"type": "object", "required": ["saved"], "properties": {
        "saved": {"type": "array", "items": {"$ref": "#/components/schemas/SavedRecord"}}}}}}
    ids = {"type": "array", "maxItems": 1000, "items": {"type": "integer", "minimum": 1}}
    subscription = {"type": "object", "required": ["endpoint", "keys"], "properties": {
        "endpoint": {"type": "string", "format": "uri", "maxLength": 2000, "description": "https:// push service URL"},
        "keys": {"type": "object", "required": ["p256dh", "auth"],
                 "properties": {"p256dh": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,200}={0,2}$"},
                                "auth": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,200}={0,2}$"}}}}}
    paths = {
        "/api/v1/openapi.json": {"get": {
            "summary": "This document", "operationId": "openapi",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {
                "type": "object", "required": ["openapi", "paths"]}}}}}}},
        "/api/v1/locations": {"get": {
            "summary": "Pickup locations (the offline hold form keeps a copy)", "operationId": "pickupLocations",
            "responses": {"200": {"description": "Pickup locations in display order", "content": {"application/json": {
                "schema": {"type": "object", "required": ["locations"], "properties": {
                    "locations": {"type": "array", "items": {"$ref": "#/components/schemas/PickupLocation"}}}}}}}}}},
        "/api/v1/saved": {"get": {
            "summary": "My saved list", "operationId": "savedList", "security": sec,
            "responses": {"200": {"description": "The saved records, oldest first", "content": saved}, "401": login}}},
        "/api/v1/saved/sync": {"post": {
            "summary": "Merge a device's saved list into the account (add and remove record ids)",
            "operationId": "savedSync", "security": sec, "parameters": [csrf],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"add": ids, "remove": ids}}}}},
            "responses": {"200": {"description": "The saved list after merging", "content": saved},
                          "400": {"description": "CSRF token missing", "content": err}, "401": login}}},
        "/api/v1/push/key": {"get": {
            "summary": "The VAPID public key to subscribe with", "operationId": "pushKey",
            "responses": {"200": {"description": "The key", "content": {"application/json": {"schema": {
                "type": "object", "required": ["public_key"], "properties": {"public_key": {"type": "string"}}}}}},
                "404": {"description": "Push is not configured", "content": err}}}},
        "/api/v1/push/subscribe": {"post": {
            "summary": "Receive hold-ready and due-soon notices on this device", "operationId": "pushSubscribe",
            "security": sec, "parameters": [csrf],
            "requestBody": {"required": True, "content": {"application/json": {"schema": subscription}}},
            "responses": {"200": {"description": "Subscribed", "content": ok},
                          "400": {"description": "Not a push subscription, or CSRF token missing", "content": err},
                          "401": login,
                          "409": {"description": "The device is subscribed for another patron; the message says what "
                                                 "to do", "content": err}}}},
        "/api/v1/push/unsubscribe": {"post": {
            "summary": "Stop notices on this device (only the patron's own subscription is removed)",
            "operationId": "pushUnsubscribe", "security": sec, "parameters": [csrf],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["endpoint"], "properties": {"endpoint": {"type": "string"}}}}}},
            "responses": {"200": {"description": "Unsubscribed (or was not subscribed)", "content": ok},
                          "400": {"description": "CSRF token missing", "content": err}, "401": login}}},
    }
    return paths, {"SavedRecord": SAVED_RECORD, "PickupLocation": PICKUP_LOCATION}


def build_document() -> dict:
    paths, schemas = catalog_paths()
    more_paths, more_schemas = app_paths()
    paths.update(more_paths)
    schemas.update(more_schemas)
    for contribute in current_app.extensions.get("opac_openapi", []):
        p, s = contribute()
        paths.update(p)
        schemas.update(s)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{current_app.config['LIBRARY_NAME']} OPAC API", "version": "1.0.0",
                 "description": "Catalogue search and patron self-service. State-changing calls need the "
                                "session cookie and an X-CSRFToken header (from GET /api/v1/session)."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "session"}}},
    }


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(build_document())
