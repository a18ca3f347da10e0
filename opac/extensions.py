"""Flask extensions, created unbound and initialised in the app factory."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as _FSASession
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

#: Session info key (and engine execution option) marking SQLite write transactions (opac.db.begin_write).
WRITE_OPTION = "opac_write"


def write_engine(engine: Engine) -> Engine:
    """``engine`` whose transactions begin with BEGIN IMMEDIATE (same pool, cached)."""
    we = engine.__dict__.get("_opac_write_engine")
    if we is None:
        we = engine._opac_write_engine = engine.execution_options(**{WRITE_OPTION: True})
    return we


class WriteAwareSession(_FSASession):
    """The app's session: once ``opac.db.begin_write`` marked it, each of its transactions on SQLite
    begins with BEGIN IMMEDIATE (also a new one after a commit in the same request)."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        engine = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if self.info.get(WRITE_OPTION) and engine.dialect.name == "sqlite":
            return write_engine(engine)
        return engine


# Stable constraint names so that Alembic migrations work the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The session class begins SQLite write transactions with BEGIN IMMEDIATE once marked (opac.db.begin_write).
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING), session_options={"class_": WriteAwareSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
