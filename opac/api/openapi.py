"""The OpenAPI 3.1 document of the JSON API, served at /api/v1/openapi.json.

Other packages add their paths through ``app.extensions["opac_openapi"]`` (a list of callables
returning ``(paths, schemas)``), so each domain documents its own endpoints.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

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
                 "availability", "url"],
    "properties": {
        "id": {"type": "integer"}, "control_number": {"type": "string"}, "title": {"type": "string"},
        "subtitle": {"type": ["string", "null"]}, "authors": {"type": "array", "items": {"type": "string"}},
        "year": {"type": ["integer", "null"]}, "material_type": {"type": "string"},
        "languages": {"type": "array", "items": {"type": "string"}},
        "isbns": {"type": "array", "items": {"type": "string"}},
        "call_number": {"type": ["string", "null"]}, "publisher": {"type": ["string", "null"]},
        "availability": {"type": "object", "required": ["total", "available"], "properties": {
            "total": {"type": "integer"}, "available": {"type": "integer"},
            "locations": {"type": "array", "items": {"type": "string"}}}},
        "url": {"type": "string"},
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
    multi = {"type": "array", "items": {"type": "string"}}
    search_params = [
        _q("q", {"type": "string", "maxLength": 10000}, "Query: words (all must match), \"phrases\", field:value "
           "(title, author, subject, isbn, year, callnumber, publisher, series), prefix*, OR, -exclude."),
        _q("type", multi, "Material type filter (repeatable)."),
        _q("language", multi, "Language filter, MARC code (repeatable)."),
        _q("subject", multi, "Subject filter (repeatable)."),
        _q("author", multi, "Author filter (repeatable)."),
        _q("location", multi, "Location code filter (repeatable)."),
        _q("year", {"type": "string", "pattern": "^[0-9]{0,4}-?[0-9]{0,4}$"}, "Year range, e.g. 2000-2009 or 2020-."),
        _q("available", {"type": "string", "enum": ["1", "0", "true", "on"]}, "Only records with a copy available now."),
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


def build_document() -> dict:
    paths, schemas = catalog_paths()
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
