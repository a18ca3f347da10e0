"""Configuration defaults, one line of docstring per key.

Every key can be overridden by an environment variable named ``OPAC_<KEY>`` (values are read
as JSON when they parse as JSON, else as plain strings), or by ``instance/config.py``.
The three most used have short names: ``OPAC_DATABASE_URL``, ``OPAC_INDEX_DIR``, ``OPAC_SECRET_KEY``.
``OPAC_INSTANCE_PATH`` (an absolute path, read before any config) moves the instance folder
(config.py, secret_key, vapid.json) away from the default ``instance/`` beside the package.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Secret used to sign sessions and CSRF tokens (OPAC_SECRET_KEY); generated once per instance if unset.
SECRET_KEY: str | None = None
#: SQLAlchemy URL (OPAC_DATABASE_URL); default SQLite file instance/opac.sqlite.
SQLALCHEMY_DATABASE_URI: str | None = None
#: Directory of the Whoosh index (OPAC_INDEX_DIR); derived data, rebuilt by `flask --app opac reindex`.
INDEX_DIR: str = str(PROJECT_ROOT / "index")
#: The follower rebuilds a missing, corrupt, old-schema or too stale index by itself (else it names the command).
INDEX_AUTO_REBUILD: bool = True
#: Days the index change feed is kept; a follower away longer than this rebuilds its index instead.
INDEX_FEED_RETENTION_DAYS: int = 7
#: Seconds between polls of the change feed by `flask --app opac index follow` (changes arriving
#: meanwhile are applied together).
INDEX_FOLLOW_INTERVAL: float = 0.5
#: Seconds the follower waits after a poll that changed the index: at most one index commit this often,
#: so changes arriving one by one (the desk) are applied together; a lone change waits one poll only.
INDEX_COMMIT_INTERVAL: float = 1.0
#: Seconds without a change after which the follower merges the small segments its commits left into one
#: (each segment costs every search a little; a day of desk changes leaves several). 0: never.
INDEX_MERGE_QUIET_SECONDS: float = 30.0
#: Seconds a missing feed id (a transaction still running, or rolled back) is waited for (PostgreSQL waits exactly).
INDEX_FEED_GAP_SECONDS: float = 10.0
#: /readyz answers 503 when the oldest change not yet in this node's index is older than this (seconds).
INDEX_READY_MAX_LAG_SECONDS: float = 30.0
#: gunicorn.conf.py starts `index follow` beside the workers (single-machine install); false when it runs apart.
EMBEDDED_FOLLOWER: bool = True
#: gunicorn.conf.py imports the app's code in the master before it forks the workers: a worker then starts in
#: about 0.1 s instead of 1 s of CPU, and the workers share the code's memory. A code upgrade then needs
#: `systemctl restart opac-web` (a reload would fork new workers from the old code; the master logs an error).
PRELOAD_CODE: bool = False
#: CPU niceness (0-19) that `import`, `reindex`, `index follow`/`sync` and `worker` lower themselves to, so the
#: web workers win the cores; 0 leaves them as started.
BACKGROUND_NICE: int = 10
#: A feed backlog of at least this many changes (an import) is applied by the follower in a thread under Linux's
#: idle scheduling class: only on a core no request wants, so the desk and searching do not slow down. 0: never.
INDEX_IDLE_BACKLOG: int = 200
#: Seconds a backlog may wait for idle cores (a machine busy all that time): then the follower applies the rest
#: at BACKGROUND_NICE, so the index lags at most about this much behind an import on a saturated machine.
INDEX_IDLE_MAX_LAG_SECONDS: float = 120.0
#: Seconds `import` (before each batch) and the index follower (every 50 records) wait for a moment without a
#: write request in progress (the desk); then they go on anyway: a busy desk slows them, never stops them.
BULK_YIELD_SECONDS: float = 0.1
#: Megabytes of decoded postings each worker keeps in memory for fast search.
SEARCH_POSTINGS_CACHE_MB: int = 128
#: Number of search results cached per worker (keyed to the index version).
SEARCH_RESULT_CACHE_SIZE: int = 512
#: Results per page on the search page and the API.
SEARCH_PAGE_SIZE: int = 20
#: At most this many terms are used when a prefix (``comp*``) is expanded.
SEARCH_PREFIX_MAX_TERMS: int = 64
#: Longest query accepted (characters); longer ones are cut with a message.
SEARCH_MAX_QUERY_LENGTH: int = 512

#: Default interface language; Indonesian first.
BABEL_DEFAULT_LOCALE: str = "id"
#: Languages the interface is translated into.
LANGUAGES: tuple[str, ...] = ("id", "en")
#: Time zone of the library (dates shown and due dates computed in it).
BABEL_DEFAULT_TIMEZONE: str = "Asia/Jakarta"

#: Name of the library, shown in the header, the manifest and e-mails.
LIBRARY_NAME: str = "Perpustakaan Nusantara"
#: Short name for the home-screen icon.
LIBRARY_SHORT_NAME: str = "Pustaka"
#: Theme colour of the app (manifest, browser bar).
THEME_COLOR: str = "#0b5d4b"
#: Background colour of the splash screen.
BACKGROUND_COLOR: str = "#ffffff"

#: Signed cookies only over HTTPS (set true in production behind TLS).
SESSION_COOKIE_SECURE: bool = False
#: Session cookies are not readable by scripts.
SESSION_COOKIE_HTTPONLY: bool = True
#: Cookies are not sent on cross-site POSTs.
SESSION_COOKIE_SAMESITE: str = "Lax"
#: CSRF tokens do not expire with time (they are bound to the session).
WTF_CSRF_TIME_LIMIT: int | None = None
#: Largest request body accepted anywhere (bytes); bigger ones get 413 before they are read.
MAX_CONTENT_LENGTH: int = 1024 * 1024
#: Largest staff upload (catalogue and patron files), bytes; applies to the upload routes only.
UPLOAD_MAX_BYTES: int = 64 * 1024 * 1024

#: SQLAlchemy engine options (a connection is checked before use, so a restarted database is survived).
SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

#: Weekdays the library is closed (Monday = 0 … Sunday = 6); due dates move to the next open day.
CLOSED_WEEKDAYS: list = [6]
#: Login attempts allowed per account within the window.
LOGIN_MAX_ATTEMPTS: int = 5
#: Login attempts allowed per client IP address within the window (many patrons share campus NAT).
LOGIN_MAX_ATTEMPTS_PER_IP: int = 50
#: Length of the login throttling window, seconds.
LOGIN_WINDOW_SECONDS: int = 900
#: Librarians must use two-step verification (TOTP) too; admins always must.
STAFF_2FA_REQUIRED: bool = False
#: Password reset e-mails allowed per patron within the reset window (further requests send nothing).
RESET_MAX_PER_ACCOUNT: int = 3
#: Password reset requests allowed per client IP address within the reset window.
RESET_MAX_PER_IP: int = 20
#: Length of the password reset limits' window, seconds.
RESET_WINDOW_SECONDS: int = 3600
#: Patron PINs are digits only, at least this many (and not trivial: 0000, 1234, 4321, the card number's tail).
PIN_MIN_LENGTH: int = 4
#: Longest patron PIN accepted (digits).
PIN_MAX_LENGTH: int = 8
#: Shortest staff password (ASVS 5 L2: 12 or more); common passwords are refused whatever their length.
STAFF_PASSWORD_MIN_LENGTH: int = 12
#: A patron login not used for this long ends (hours), unless "keep me signed in on this device" was chosen.
PATRON_SESSION_IDLE_HOURS: float = 2
#: Idle timeout of a patron login with "keep me signed in on this device" (hours; 30 days).
PATRON_REMEMBER_IDLE_HOURS: float = 24 * 30
#: A patron login ends this long after it began, however much it is used (hours; 90 days).
PATRON_SESSION_MAX_HOURS: float = 24 * 90
#: A staff login not used for this long ends (hours).
STAFF_SESSION_IDLE_HOURS: float = 1
#: A staff login ends this long after it began, however much it is used (hours; one working day).
STAFF_SESSION_MAX_HOURS: float = 12
#: Cookie lifetime of a remembered patron login (seconds); other logins get a browser-session cookie.
PERMANENT_SESSION_LIFETIME: int = 60 * 60 * 24 * 30
#: Charge overdue fines and block accounts that owe more than the threshold.
FINES_ENABLED: bool = False
#: Outstanding fines (in rupiah) above which borrowing, renewing and holds are blocked.
FINES_BLOCK_THRESHOLD: int = 50_000
#: Allow a renewal despite waiting holds when other copies are free for them (Koha's rule).
RENEW_IF_OTHER_ITEMS_AVAILABLE: bool = True
#: Self-checkout with the phone: "network" (the request must come from SELFCHECK_NETWORKS) or "desk_code" (scan the desk's QR).
SELFCHECK_MODE: str = "network"
#: CIDR ranges of the library's own network for self-checkout, e.g. ["10.20.0.0/16"] (empty: self-checkout off in "network" mode).
SELFCHECK_NETWORKS: list = []
#: The desk's self-checkout QR code changes every this many minutes (the previous code stays valid one more period).
SELFCHECK_DESK_CODE_MINUTES: int = 5
#: Minutes a scanned desk code allows self-checkout in that login session.
SELFCHECK_GRANT_MINUTES: int = 30
#: Joining the library online at /register (off: the page is a 404).
SELF_REGISTRATION: bool = False
#: New online members wait for staff approval before they get a card number.
SELF_REGISTRATION_APPROVAL: bool = False
#: Patron category code given to members who joined online.
SELF_REGISTRATION_CATEGORY: str = "public"
#: Card numbers of members who joined online: this prefix and a sequence number (e.g. W000042).
SELF_REGISTRATION_CARD_PREFIX: str = "W"
#: Hours a verification link of an online sign-up stays valid.
SELF_REGISTRATION_LINK_HOURS: int = 24
#: Unverified online sign-ups are deleted by the daily run after this many days.
SELF_REGISTRATION_PURGE_DAYS: int = 3
#: Online sign-ups allowed per client IP address within the reset window (RESET_WINDOW_SECONDS).
SELF_REGISTRATION_MAX_PER_IP: int = 10
#: Sign-up mails sent to one e-mail address within the reset window (further sign-ups send nothing).
SELF_REGISTRATION_MAX_PER_ADDRESS: int = 3
#: Returned loans lose their link to the patron after this many days unless the patron keeps history.
ANONYMIZE_AFTER_DAYS: int = 30
#: Public address of the OPAC (scheme, host, optional path). Every absolute URL (e-mail, push, feeds,
#: Open Graph, sitemaps, OAI) is built from it, never from the request's Host header.
BASE_URL: str = "http://localhost:8000"
#: Host names the OPAC answers to (others get 400); None: the host of BASE_URL, localhost and 127.0.0.1.
TRUSTED_HOSTS: list | None = None
#: Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none).
PROXY_COUNT: int = 0
#: Send Strict-Transport-Security on HTTPS responses (max-age in seconds; 0: never).
HSTS_SECONDS: int = 31536000
#: Log one JSON object per line (time, level, logger, message, request_id, method, path) instead of text.
LOG_JSON: bool = False
#: Lowest level logged by the app's own loggers (DEBUG, INFO, WARNING, ERROR).
LOG_LEVEL: str = "INFO"
#: pg_dump and pg_restore used by `backup` / `restore` on PostgreSQL (name on PATH or full path; the
#: client's major version must be the server's or newer, e.g. /usr/lib/postgresql/16/bin/pg_dump).
BACKUP_PG_DUMP: str = "pg_dump"
BACKUP_PG_RESTORE: str = "pg_restore"
#: SMTP server for e-mail; empty: messages stay in the outbox for staff to read (development).
MAIL_SERVER: str = ""
#: SMTP port.
MAIL_PORT: int = 587
#: STARTTLS on the SMTP connection.
MAIL_USE_TLS: bool = True
#: SMTP user name and password.
MAIL_USERNAME: str = ""
MAIL_PASSWORD: str = ""
#: Seconds an SMTP connection may wait for the server before the message is retried later.
MAIL_TIMEOUT: float = 20
#: Sending attempts of an e-mail before it becomes a dead letter (staff can queue it again).
MAIL_MAX_ATTEMPTS: int = 8
#: Sending attempts of a push message before it becomes a dead letter.
PUSH_MAX_ATTEMPTS: int = 5
#: Seconds a push service may take to answer.
PUSH_TIMEOUT: float = 10
#: Wait after the first failed attempt (seconds); it doubles with every further failure.
OUTBOUND_RETRY_SECONDS: float = 60
#: Longest wait between two attempts (seconds).
OUTBOUND_RETRY_MAX_SECONDS: float = 6 * 3600
#: Seconds the worker sleeps when both queues are empty.
WORKER_POLL_SECONDS: float = 5
#: Tests only (obeyed when TESTING): the library's date (YYYY-MM-DD) or local time the clock reads.
FAKE_TODAY: str | None = None
#: VAPID key pair for Web Push (else instance/vapid.json made by `flask --app opac push keys`).
VAPID_PRIVATE_KEY: str = ""
VAPID_PUBLIC_KEY: str = ""
#: Contact for push services (mailto: or https: URL).
VAPID_SUBJECT: str = ""
#: A file whose content marks a release (a deploy script writes the commit id there); it is part
#: of the service worker's version, so installed apps offer to reload into the new release.
PWA_RELEASE_FILE: str = ""
#: Compress text responses (gzip) when the client accepts it.
COMPRESS_RESPONSES: bool = True
#: Ask a librarian: shortest and longest question (characters).
ASK_MIN_LENGTH: int = 10
ASK_MAX_LENGTH: int = 4000
#: A question sent faster than this after the form was shown is treated as spam (seconds).
ASK_MIN_SECONDS: int = 3
#: Questions allowed per IP address and per contact (e-mail, WhatsApp or account) in the window.
ASK_MAX_PER_IP: int = 5
ASK_MAX_PER_CONTACT: int = 3
#: Window of the question limits, seconds.
ASK_WINDOW_SECONDS: int = 3600
#: Closed questions lose their personal data after this many days.
REFERENCE_RETENTION_DAYS: int = 180
#: Open questions with no message for this many days are closed and lose their personal data too.
REFERENCE_OPEN_RETENTION_DAYS: int = 365
#: Closed holds (fulfilled, cancelled, expired) are deleted this many days after they closed.
HOLD_RETENTION_DAYS: int = 30
#: In-app notifications (they name the title) are deleted this many days after they were made.
NOTIFICATION_RETENTION_DAYS: int = 30
#: Outbox e-mails (sent, failed or never sent) are deleted this many days after they were queued.
OUTBOX_RETENTION_DAYS: int = 30
#: Stored answers to idempotency keys (they name titles and thread links) are deleted after this many days.
IDEMPOTENCY_RETENTION_DAYS: int = 30
#: Days the counts of searches without results (statistics, no patron data) are kept by the daily run.
SEARCH_STATS_DAYS: int = 365
#: Opening hours per weekday (0 = Monday) as "HH:MM-HH:MM"; missing days are closed.
OPENING_HOURS: dict = {"0": "08:00-20:00", "1": "08:00-20:00", "2": "08:00-20:00", "3": "08:00-20:00",
                       "4": "08:00-20:00", "5": "08:00-14:00"}
#: Library address and contacts shown on the information page.
LIBRARY_ADDRESS: str = "Jl. Pendidikan No. 1, Kampus Nusantara"
CONTACT_PHONE: str = "+62 21 555 0100"
CONTACT_EMAIL: str = "perpustakaan@example.org"
#: Records per OAI-PMH ListRecords/ListIdentifiers page before a resumption token.
OAI_PAGE_SIZE: int = 250
#: Seconds an OAI-PMH resumption token stays valid (signed with SECRET_KEY, no server state).
OAI_TOKEN_LIFETIME: int = 86400
#: Administrator e-mail in the OAI-PMH Identify response; None: CONTACT_EMAIL.
OAI_ADMIN_EMAIL: str | None = None
#: Partner libraries' harvested records appear in search results (the Library facet narrows to ours); false: ours only.
UNION_SEARCH: bool = True
#: Seconds to wait for a partner's OAI-PMH repository per request before the harvest counts it as down.
PARTNER_HARVEST_TIMEOUT: float = 60.0
#: WhatsApp number (international digits, no +) for click-to-chat.
CONTACT_WHATSAPP: str = "6281234567890"
#: Social media links: name -> URL (Instagram, Facebook, X, YouTube, WhatsApp channel…).
SOCIAL_LINKS: dict = {"instagram": "https://instagram.com/perpustakaan", "facebook": "https://facebook.com/perpustakaan",
                      "x": "https://x.com/perpustakaan", "youtube": "https://youtube.com/@perpustakaan",
                      "whatsapp": "https://wa.me/6281234567890"}
#: Sender address of library e-mail.
MAIL_FROM: str = "perpustakaan@example.org"
#: Purchase suggestions ("usulan koleksi") a patron may send per calendar month.
SUGGESTIONS_PER_MONTH: int = 5
#: Saved searches a patron may keep.
SAVED_SEARCHES_MAX: int = 20
#: Days between two alert checks of one saved search (the daily run checks those that are due).
SAVED_SEARCH_ALERT_DAYS: int = 7
#: Days the records a saved search's alert found stay listed on the saved searches page.
SAVED_SEARCH_MATCH_RETENTION_DAYS: int = 90
#: Days a patron's own record of their library visits is kept (the anonymous counts stay).
VISIT_RETENTION_DAYS: int = 30
#: Days an answered purchase suggestion (arrived or rejected) is kept after its last step, then deleted.
SUGGESTION_RETENTION_DAYS: int = 180
#: Days a clearance letter stays checkable at its public link (years later, an employer may check it).
CLEARANCE_LETTER_RETENTION_DAYS: int = 1826


def parse_setting(key: str, raw: str):
    """The value of the environment variable ``OPAC_<key>``: a JSON value (numbers, lists, ``true``), or the
    text itself; a switch (a setting whose default is true or false) takes true/yes/on/1 or false/no/off/0,
    any case, and refuses anything else rather than reading ``False`` as a non-empty text, that is, as on.

    >>> parse_setting("EMBEDDED_FOLLOWER", "False"), parse_setting("PRELOAD_CODE", "on")
    (False, True)
    >>> parse_setting("LOGIN_MAX_ATTEMPTS", "5"), parse_setting("BASE_URL", "https://opac.example.ac.id")
    (5, 'https://opac.example.ac.id')
    >>> parse_setting("EMBEDDED_FOLLOWER", "nope")
    Traceback (most recent call last):
    ...
    ValueError: OPAC_EMBEDDED_FOLLOWER='nope': expected true or false
    """
    if key in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "INDEX_DIR"):  # texts, whatever they look like
        return raw
    if isinstance(globals().get(key), bool):  # (this module's upper-case names are the settings)
        word = raw.strip().lower()
        if word in ("true", "yes", "on", "1", "false", "no", "off", "0", ""):
            return word in ("true", "yes", "on", "1")
        raise ValueError(f"OPAC_{key}={raw!r}: expected true or false")
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def defaults() -> dict:
    """Every documented default of this module (copies, so that an app cannot change them)."""
    import copy

    return {key: copy.deepcopy(value) for key, value in globals().items() if key.isupper() and key != "PROJECT_ROOT"}


def load(app, test_config: dict | None = None) -> None:
    """Fill ``app.config``: module defaults, instance/config.py, ``OPAC_*`` variables, test_config.

    The defaults overwrite Flask's own (``SESSION_COOKIE_SAMESITE``, ``MAX_CONTENT_LENGTH``…):
    what this module documents is what the app runs with.
    """
    app.config.update(defaults())
    app.config.from_pyfile("config.py", silent=True)
    aliases = {
        "OPAC_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
        "OPAC_INDEX_DIR": "INDEX_DIR",
        "OPAC_SECRET_KEY": "SECRET_KEY",
    }
    for name, value in os.environ.items():
        if not name.startswith("OPAC_"):
            continue
        key = aliases.get(name, name[5:])
        app.config[key] = parse_setting(key, value)
    if test_config:
        app.config.update(test_config)

    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'opac.sqlite'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[len("postgresql://") :]
    app.config["BASE_URL"] = str(app.config["BASE_URL"]).rstrip("/")
    if app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = default_trusted_hosts(app.config["BASE_URL"])


def default_trusted_hosts(base_url: str) -> list[str]:
    """The base URL's host name, and the local names a machine uses to reach itself.

    >>> default_trusted_hosts("https://perpustakaan.example.ac.id/opac")
    ['perpustakaan.example.ac.id', 'localhost', '127.0.0.1']
    """
    from urllib.parse import urlsplit

    hosts = [urlsplit(base_url).hostname or "localhost", "localhost", "127.0.0.1"]
    return list(dict.fromkeys(hosts))


def _instance_secret(instance: Path) -> str:
    """A random secret kept in instance/secret_key so that all workers and restarts share it."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}")
        tmp.write_text(secrets.token_hex(32))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic: the first worker wins, the others read its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
