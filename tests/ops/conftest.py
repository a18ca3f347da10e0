"""The deploy/ examples run on loopback: a throwaway certificate, and HAProxy with the shipped
configuration pointed at local nodes."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> dict[str, Path]:
    """A throwaway self-signed certificate for the proxies' TLS lines."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "key.pem",
                    "-out", d / "cert.pem", "-days", "2", "-subj", "/CN=opac.example.ac.id"],
                   check=True, capture_output=True)
    (d / "both.pem").write_bytes((d / "cert.pem").read_bytes() + (d / "key.pem").read_bytes())
    return {"cert": d / "cert.pem", "key": d / "key.pem", "both": d / "both.pem"}


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def local_haproxy_config(certificate: dict, http_port: int, https_port: int, node_ports: list[int],
                         check: str = "inter 200ms fall 1 rise 1") -> str:
    """deploy/haproxy/haproxy.cfg as an ordinary user runs it on loopback: logs to stderr, the
    given ports and nodes, the test certificate, health checks at ``check``'s pace."""
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy not installed (Debian package haproxy)")
    text = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    text = (text.replace("log /dev/log local0", "log stderr format raw local0")
            .replace("    daemon\n", "").replace("    user haproxy\n    group haproxy\n", "")
            .replace("bind :80", f"bind 127.0.0.1:{http_port}")
            .replace("bind :443", f"bind 127.0.0.1:{https_port}")
            .replace("/etc/haproxy/certs/opac.example.ac.id.pem", str(certificate["both"]))
            .replace("inter 5s fall 3 rise 2", check))
    servers = "".join(f"    server node{i} 127.0.0.1:{port} check\n" for i, port in enumerate(node_ports, 1))
    text, n = re.subn(r"(    server node\d .*\n)+", servers, text)
    assert n == 1, "the example's server lines changed"
    return text
