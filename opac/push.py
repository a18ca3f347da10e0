"""Web Push for "hold ready", "due soon" and "overdue": VAPID keys made by a command, opt-in per device.

A notice queues one message per subscribed device (``queue_push``) in the notice's transaction; the
worker (`flask --app opac worker`, ``opac.outbound``) sends them. No request waits for a push service."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import datetime
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .accounts.models import PushSubscription
from .accounts.permissions import patron_required
from .catalog.models import utcnow
from .extensions import db
from .outbound import DeliveryFailed, QueuedMessage

log = logging.getLogger(__name__)
bp = Blueprint("push", __name__, url_prefix="/api/v1/push")
PUSH_KINDS = {"hold_ready", "due_soon", "overdue", "saved_search", "ask_reply"}


class PushMessage(QueuedMessage, db.Model):
    """A push message for one device of a patron; sent only while the device still belongs to them."""

    __tablename__ = "push_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"), index=True)
    #: NULL once the device unsubscribed (the message is then cancelled)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("push_subscription.id", ondelete="SET NULL"),
                                                        index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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


def queue_push(patron_id: int, kind: str, payload: dict) -> int:
    """Queue ``payload`` for every device the patron subscribed (same transaction as the notice)."""
    if kind not in PUSH_KINDS or not vapid_keys():
        return 0
    subs = db.session.scalars(select(PushSubscription.id).where(PushSubscription.patron_id == patron_id)).all()
    for sub_id in subs:
        db.session.add(PushMessage(patron_id=patron_id, subscription_id=sub_id, kind=kind, payload=payload))
    return len(subs)


def _private_key_for_pywebpush(pem: str):
    from py_vapid import Vapid01

    return Vapid01.from_pem(pem.encode())


def send_push(row: PushMessage) -> None:
    """Send one queued push (the worker's sender); raises DeliveryFailed."""
    sub = db.session.get(PushSubscription, row.subscription_id) if row.subscription_id else None
    if sub is None or sub.patron_id != row.patron_id:
        # unsubscribed, or the device is now signed in to someone else: never show them this notice
        raise DeliveryFailed("the device no longer receives this patron's notices", cancel=True)
    keys = vapid_keys()
    if not keys:
        raise DeliveryFailed("Web Push is not configured (flask --app opac push keys)")
    from pywebpush import WebPushException, webpush

    cfg = current_app.config
    subject = cfg["VAPID_SUBJECT"] or f"mailto:{cfg['MAIL_FROM']}"
    try:
        webpush(subscription_info={"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                data=json.dumps(row.payload), vapid_private_key=_private_key_for_pywebpush(keys["private_pem"]),
                vapid_claims={"sub": subject}, timeout=float(cfg["PUSH_TIMEOUT"]))
    except WebPushException as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (404, 410):  # the browser dropped the subscription
            db.session.execute(delete(PushSubscription).where(PushSubscription.id == sub.id))
            raise DeliveryFailed(f"subscription gone ({status})", cancel=True) from exc
        raise DeliveryFailed(f"push service answered {status}",
                             permanent=status is not None and 400 <= status < 500 and status != 429) from exc
    except (OSError, ValueError) as exc:
        raise DeliveryFailed(f"push failed: {type(exc).__name__}: {exc}") from exc


@bp.get("/key")
def public_key():
    keys = vapid_keys()
    if not keys:
        return jsonify(error="push_unavailable", message="Push is not configured (run flask --app opac push keys)."), 404
    return jsonify(public_key=keys["public_key"])


#: A subscription's keys (RFC 8291): base64url, the P-256 public key and the 16-byte secret.
_KEY = re.compile(r"[A-Za-z0-9_-]{16,200}={0,2}")
#: A push service URL: https, printable ASCII (no spaces or control characters).
_ENDPOINT = re.compile(r"https://[\x21-\x7e]{1,1990}")


@bp.post("/subscribe")
@patron_required
def subscribe():
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    endpoint = str(data.get("endpoint", ""))
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    p256dh, auth = str(keys.get("p256dh", "")), str(keys.get("auth", ""))
    if not (_ENDPOINT.fullmatch(endpoint) and _KEY.fullmatch(p256dh) and _KEY.fullmatch(auth)):
        return jsonify(error="bad_subscription", message="Not a push subscription."), 400
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
    if not _ENDPOINT.fullmatch(endpoint):  # nothing stored has another shape
        return jsonify(ok=True)
    db.session.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint,
                                                      PushSubscription.patron_id == current_user.id))
    db.session.commit()
    return jsonify(ok=True)
