"""Progressive web app endpoints served from the site root: manifest, service worker, offline page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory, url_for

from .web import public_page

bp = Blueprint("pwa", __name__)


@bp.get("/manifest.webmanifest")
def manifest():
    cfg = current_app.config
    data = {
        "name": cfg["LIBRARY_NAME"],
        "short_name": cfg["LIBRARY_SHORT_NAME"],
        "start_url": url_for("catalog.home", source="pwa"),
        "scope": "/",
        "display": "standalone",
        "theme_color": cfg["THEME_COLOR"],
        "background_color": cfg["BACKGROUND_COLOR"],
        "icons": [
            {"src": "/static/pwa/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/pwa/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
        ],
    }
    from flask import jsonify

    resp = jsonify(data)
    resp.mimetype = "application/manifest+json"
    return resp


@bp.get("/offline")
@public_page
def offline():
    return render_template("offline.html")


@bp.get("/sw.js")
def service_worker():
    resp = send_from_directory(current_app.static_folder + "/pwa", "sw.js", mimetype="application/javascript",
                               max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp
