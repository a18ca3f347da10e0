"""`flask --app opac partner …` and `flask --app opac harvest` as an operator runs them (cron included)."""

from __future__ import annotations

from ..cli_helpers import prod_env, run_cli
from .fakes import FakeSlims

SLIMS_PAGE = "http://perpus.sman1.example.sch.id/index.php?p=show_detail&id={local}"


def test_partner_commands_and_harvest(tmp_path):
    slims = FakeSlims()
    try:
        env = prod_env(tmp_path)
        run_cli(env, "init-db")
        out = run_cli(env, "partner", "add", "sman1", slims.url, "--name", "Perpustakaan SMAN 1",
                      "--record-url", SLIMS_PAGE).stdout
        assert "Partner sman1 (Perpustakaan SMAN 1) added" in out
        r = run_cli(env, "partner", "add", "local", slims.url, "--prefix", "marc21", expect=1)
        assert "not 'local'" in r.stderr

        r = run_cli(env, "harvest", "sman1")
        assert "sman1: 3 added, 0 updated, 0 deleted, 0 unchanged, 1 failed" in r.stdout
        assert "failed oai:slims/14: no dc:title" in r.stdout
        assert "sman1" in r.stderr  # the progress bar

        slims.state = "down"
        r = run_cli(env, "harvest", expect=1)  # every partner; a cron job sees the failure
        assert "stopped: HTTP 503" in r.stdout and "Not harvested completely: sman1" in r.stderr

        run_cli(env, "partner", "update", "sman1", "--name", "SMAN 1 Kota")
        out = run_cli(env, "partner", "list").stdout
        assert "sman1\tSMAN 1 Kota\t" in out and "3 records\tfrom 2026-11-20\tfailed: HTTP 503" in out
        out = run_cli(env, "partner", "remove", "sman1").stdout
        assert "Partner sman1 removed with 3 records." in out
    finally:
        slims.close()
