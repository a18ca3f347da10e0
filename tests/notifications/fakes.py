"""Loopback stand-ins for an SMTP server and a Web Push service, recording what they receive."""

from __future__ import annotations

import base64
import os
import socketserver
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeSmtp:
    """A tiny SMTP server: records each message; RCPT to ``busy@…`` gets 451, to ``dead@…`` 550;
    while ``down`` is set it turns every connection away (421)."""

    def __init__(self, delay: float = 0.0):
        self.messages: list = []
        self.delay = delay
        self.down = False
        self.lock = threading.Lock()
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self):
                if fake.down:
                    self.reply("421 fake.test service not available")
                    return
                self.reply("220 fake.test ESMTP")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode(errors="replace").strip()
                    verb = cmd.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 fake.test")
                    elif verb == "MAIL":
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        if "busy@" in cmd:
                            self.reply("451 try again later")
                        elif "dead@" in cmd:
                            self.reply("550 no such user")
                        else:
                            self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        data = b""
                        while True:
                            chunk = self.rfile.readline()
                            if not chunk or chunk == b".\r\n":
                                break
                            data += chunk
                        time.sleep(fake.delay)  # a real server takes a while: lets workers overlap
                        with fake.lock:
                            fake.messages.append(message_from_bytes(data))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakePushService:
    """Accepts Web Push POSTs on loopback (201); paths starting with /gone/ answer 410."""

    def __init__(self):
        self.requests: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.requests.append(self.path)
                self.send_response(410 if self.path.startswith("/gone/") else 201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def browser_keys() -> tuple[str, str]:
    """A push subscription's p256dh (a real P-256 public key) and auth secret, base64url."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    raw = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return b64(raw), b64(os.urandom(16))


def vapid_config() -> dict:
    """VAPID_PRIVATE_KEY / VAPID_PUBLIC_KEY settings for a fresh key pair."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"VAPID_PRIVATE_KEY": pem, "VAPID_PUBLIC_KEY": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
