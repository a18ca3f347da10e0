"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

from opac import create_app
from opac.startup import startup_checks

app = create_app()
startup_checks(app)
