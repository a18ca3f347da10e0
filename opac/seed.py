"""Default rows every library needs after ``init-db`` (idempotent)."""

from __future__ import annotations

from flask import current_app


def seed_defaults() -> None:
    """Insert defaults that are missing; each domain registers its own seeder."""
    for seeder in current_app.extensions.get("opac_seeders", []):
        seeder()
