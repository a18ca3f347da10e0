"""OAI-PMH repositories on loopback for harvest tests: a SLiMS-style ``oai2.php`` answering from
fixture files (``slims/``), and a second instance of this app served by werkzeug in a thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from werkzeug.serving import make_server

FIXTURES = Path(__file__).resolve().parent / "slims"


class FakeSlims:
    """``state``: "ok" (pages 1 and 2, changes when asked ``from``), "quiet" (no changes since),
    "down" (HTTP 503), "bad_token" (page 2 answers badResumptionToken). ``requests`` logs the queries."""

    def __init__(self):
        self.state = "ok"
        self.requests: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                args = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                fake.requests.append(args)
                if fake.state == "down":
                    self.send_response(503)
                    self.end_headers()
                    return
                name = fake.answer(args)
                body = (FIXTURES / name).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oai2.php"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, args: dict) -> str:
        if args.get("verb") == "Identify":
            return "identify.xml"
        if args.get("resumptionToken") == "slims-page-2":
            return "bad-token.xml" if self.state == "bad_token" else "records-2.xml"
        if "resumptionToken" in args:
            return "bad-token.xml"
        if "from" in args:
            return "no-records.xml" if self.state == "quiet" else "records-since.xml"
        return "records-1.xml"

    def list_requests(self) -> list[dict]:
        return [r for r in self.requests if r.get("verb") == "ListRecords"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ServedApp:
    """A WSGI app on a loopback port, served from a thread until ``close()``."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
