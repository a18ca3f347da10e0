"""Web Push for "hold ready" and "due soon": VAPID keys made by a command, opt-in per device,
sent after the transaction that created the notice commits."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from .accounts.models import PushSubscription
from .accounts.permissions import patron_required
from .extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("push", __name__, url_prefix="/api/v1/push")
PUSH_KINDS = {"hold_ready", "due_soon", "overdue"}


def _key_file() -> Path:
    return Path(current_app.instance_path) / "vapid.json"


def vapid_keys() -> dict | None:
    """{"private_pem", "public_key"} from config (OPAC_VAPID_*) or instance/vapid.json."""
    cfg = current_app.config
    if cfg["VAPID_PRIVATE_KEY"] and cfg["VAPID_PUBLIC_KEY"]:
        return {"private_pem": cfg["VAPID_PRIVATE_KEY"], "public_key": cfg["VAPID_PUBLIC_KEY"]}
    path = _key_file()
    if path.exists():
        return json.loads(path.read_text())
    return None


def generate_keys(force: bool = False) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = _key_file()
    if path.exists() and not force:
        return json.loads(path.read_text())
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    data = {"private_pem": pem, "public_key": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data


def send_to_patron(patron_id: int, payload: dict) -> int:
    """Push ``payload`` to every subscribed device of a patron; drops dead subscriptions."""
    keys = vapid_keys()
    if not keys:
        return 0
    from pywebpush import WebPushException, webpush

    sent = 0
    subject = current_app.config["VAPID_SUBJECT"] or f"mailto:{current_app.config['MAIL_FROM']}"
    subs = db.session.scalars(select(PushSubscription).where(PushSubscription.patron_id == patron_id)).all()
    dead = []
    for sub in subs:
        try:
            webpush(subscription_info={"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                    data=json.dumps(payload), vapid_private_key=_private_key_for_pywebpush(keys["private_pem"]),
                    vapid_claims={"sub": subject}, timeout=5)
            sent += 1
        except WebPushException as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (404, 410):
                dead.append(sub.id)
            else:
                log.warning("push failed (%s)", status)
        except Exception:  # noqa: BLE001 - a push service being down never breaks circulation
            log.warning("push failed", exc_info=True)
    if dead:
        db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(dead)))
        db.session.commit()
    return sent


def _private_key_for_pywebpush(pem: str):
    from py_vapid import Vapid01

    return Vapid01.from_pem(pem.encode())


def on_notification(patron, note) -> None:
    """Notification listener: queue a push for after the commit."""
    if note.kind not in PUSH_KINDS:
        return
    from .db import after_commit

    payload = {"title": note.subject, "body": note.body, "url": note.url or "/", "kind": note.kind}
    pid = patron.id
    after_commit(lambda: send_to_patron(pid, payload), key=f"push-{note.kind}-{pid}-{note.subject}")


@bp.get("/key")
def public_key():
    keys = vapid_keys()
    if not keys:
        return jsonify(error="push_unavailable", message="Push is not configured (run flask --app opac push keys)."), 404
    return jsonify(public_key=keys["public_key"])


@bp.post("/subscribe")
@patron_required
def subscribe():
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    endpoint = str(data.get("endpoint", ""))
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    if not endpoint.startswith("https://") or not keys.get("p256dh") or not keys.get("auth") or len(endpoint) > 2000:
        return jsonify(error="bad_subscription", message="Not a push subscription."), 400
    p256dh, auth = str(keys["p256dh"])[:200], str(keys["auth"])[:100]
    for _attempt in range(2):
        existing = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
        if existing is not None and existing.patron_id != current_user.id:
            # never rebind another patron's device: its notices would go to whoever sent the endpoint
            db.session.rollback()
            break
        if existing is None:
            db.session.add(PushSubscription(patron_id=current_user.id, endpoint=endpoint, p256dh=p256dh, auth=auth))
        else:  # the same patron again: the browser may have new keys
            existing.p256dh, existing.auth = p256dh, auth
        try:
            db.session.commit()
            return jsonify(ok=True)
        except IntegrityError:  # the same endpoint was stored a moment ago: look again
            db.session.rollback()
    return jsonify(error="subscription_taken", message=_(
        "This device receives another patron's notices. That patron must turn notices off on it first; "
        "then subscribe again.")), 409


@bp.post("/unsubscribe")
@patron_required
def unsubscribe():
    data = request.get_json(silent=True)
    endpoint = str(data.get("endpoint", "")) if isinstance(data, dict) else ""
    db.session.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint,
                                                      PushSubscription.patron_id == current_user.id))
    db.session.commit()
    return jsonify(ok=True)
