"""opac: a mobile-first library catalogue that installs as a progressive web app."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from . import config as config_module

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


class IdConverter(IntegerConverter):
    """Database ids in URLs: positive and within a 32-bit INTEGER column (anything else is a 404)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**31 - 1)


def code_modules() -> list[str]:
    """The names of the app's modules, this package's included: all but Alembic's migration scripts,
    which run only inside Alembic."""
    import pkgutil

    names = [__name__] + [m.name for m in pkgutil.walk_packages(__path__, prefix=__name__ + ".")]
    return sorted(name for name in names if not name.startswith(__name__ + ".migrations"))


def create_app(test_config: dict | None = None) -> Flask:
    """The application factory: config, extensions, blueprints, commands."""
    import os

    app = Flask(
        __name__,
        instance_path=os.environ.get("OPAC_INSTANCE_PATH") or None,  # see opac/config.py
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    config_module.load(app, test_config)
    app.url_map.converters["id"] = IdConverter
    if int(app.config["PROXY_COUNT"]) > 0:
        # Trust exactly the configured number of proxies: X-Forwarded-For entries a client adds
        # itself lie to the left of them and are ignored. X-Forwarded-Host is never trusted.
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0, x_port=0, x_prefix=0)
    from .web import JSONProvider, SessionInterface

    app.json = JSONProvider(app)
    app.session_interface = SessionInterface()

    from .extensions import babel, csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"

    from . import i18n

    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    i18n.init_app(app)

    with app.app_context():
        from .db import configure_engine

        configure_engine(db.engine)

    _register_models()
    from .search import sync

    sync.install()
    from .catalog import models as catalog_models

    catalog_models.install()

    from . import logs, web

    logs.init_app(app)
    web.init_app(app)
    from . import db as db_module

    db_module.init_app(app)  # after CSRF and the index check: write requests take SQLite's write lock
    from .accounts import services as account_services
    from .accounts.views import bp as accounts_bp
    from .circulation.api import bp as patron_api_bp
    from .circulation.views import bp as circulation_bp
    from .circulation.views import due_dates
    from .staff.views import bp as staff_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(circulation_bp)
    app.register_blueprint(patron_api_bp)
    app.register_blueprint(staff_bp)
    from .accounts.sessions_api import bp as sessions_api_bp
    from .accounts.sessions_api import openapi_paths as sessions_openapi

    app.register_blueprint(sessions_api_bp)
    app.extensions.setdefault("opac_openapi", []).append(sessions_openapi)
    from .reference.views import bp as reference_bp
    from .reference.views import openapi_paths as reference_openapi

    app.register_blueprint(reference_bp)
    app.extensions.setdefault("opac_openapi", []).append(reference_openapi)
    from .news.views import bp as news_bp

    app.register_blueprint(news_bp)
    from . import push

    app.register_blueprint(push.bp)
    app.extensions["opac_due_dates"] = due_dates
    from .circulation.api import openapi_paths as circulation_openapi

    app.extensions.setdefault("opac_openapi", []).append(circulation_openapi)
    app.extensions.setdefault("opac_seeders", []).append(account_services.seed_defaults)
    from .accounts.registration_views import bp as registration_bp
    from .accounts.registration_views import openapi_paths as registration_openapi

    app.register_blueprint(registration_bp)
    app.extensions.setdefault("opac_openapi", []).append(registration_openapi)
    from .circulation.selfcheck_views import bp as selfcheck_bp
    from .circulation.selfcheck_views import openapi_paths as selfcheck_openapi

    app.register_blueprint(selfcheck_bp)
    app.extensions.setdefault("opac_openapi", []).append(selfcheck_openapi)
    from . import pwa
    from .api.openapi import bp as openapi_bp
    from .catalog.views import bp as catalog_bp
    from .search.views import api_bp as search_api_bp
    from .search.views import bp as search_bp

    app.register_blueprint(catalog_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(search_api_bp)
    from .search.health import bp as health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(openapi_bp)
    app.register_blueprint(pwa.bp)
    from .oai.views import bp as oai_bp

    app.register_blueprint(oai_bp)

    from .patron_services import views as patron_services

    patron_services.install(app)
    from . import cli

    cli.init_app(app)
    return app


def _register_models() -> None:
    """Import every model module so metadata (and Alembic) sees all tables."""
    from . import mail as _mail  # noqa: F401
    from . import push as _push  # noqa: F401
    from .accounts import models as _accounts  # noqa: F401
    from .catalog import models as _catalog  # noqa: F401
    from .circulation import models as _circulation  # noqa: F401
    from .news import models as _news  # noqa: F401
    from .notifications import models as _notifications  # noqa: F401
    from .partners import models as _partners  # noqa: F401
    from .patron_services import models as _patron_services  # noqa: F401
    from .reference import models as _reference  # noqa: F401
    from .search import models as _search  # noqa: F401
