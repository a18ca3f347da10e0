"""Running ``flask --app opac …`` as a subprocess with a production-like environment.

``prod_env(tmp_path)`` gives the environment a deployment would have — a database URL, an index
directory, the public base URL, a secret key and an instance folder of its own — and nothing
of the test set-up (no TESTING, no SERVER_NAME, no other ``OPAC_*``). ``run_cli(env, *args)``
runs one command in it and fails the test with its output if the exit code is not the expected one.
Every app command needs at least one ``run_cli`` test (tests/test_cli.py checks this).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

BASE_URL = "https://perpustakaan.example.ac.id"
_DROP = ("TESTING", "SERVER_NAME", "FLASK_APP", "FLASK_DEBUG", "FLASK_ENV", "PYTEST_CURRENT_TEST")


def prod_env(tmp_path: Path, database_url: str | None = None, index_dir: str | None = None, **extra) -> dict:
    """Environment of a production-like run: a temp SQLite file unless ``database_url`` is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPAC_", "FLASK_")) and k not in _DROP}
    tmp_path.mkdir(parents=True, exist_ok=True)
    env.update({
        "OPAC_DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'opac.sqlite'}",
        "OPAC_INDEX_DIR": index_dir or str(tmp_path / "index"),
        "OPAC_BASE_URL": BASE_URL,
        "OPAC_SECRET_KEY": "cli-" + uuid.uuid4().hex,
        "OPAC_INSTANCE_PATH": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
    })
    env.update({f"OPAC_{k}": str(v) for k, v in extra.items()})
    return env


def run_cli(env: dict, *args: str, input: str | None = None, expect: int | None = 0,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """``flask --app opac *args`` in ``env`` (working directory: the instance folder's parent).

    ``expect`` is the exit code to insist on (None: any)."""
    flask = Path(sys.executable).with_name("flask")
    cwd = Path(env["OPAC_INSTANCE_PATH"]).parent
    proc = subprocess.run([str(flask), "--app", "opac", *args], env=env, cwd=cwd, input=input,
                          capture_output=True, text=True, timeout=timeout)
    if expect is not None and proc.returncode != expect:
        raise AssertionError(f"flask {' '.join(args)} exited {proc.returncode} (expected {expect})\n"
                             f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc
