"""The benchmarks of bench/scale.py and bench/throughput.py keep working as the code under them
changes: their bulk load maps rows as the importer does, and each runs end to end on a tiny
catalogue (one size, short wrk runs) with sane numbers."""

from __future__ import annotations

import doctest
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent


def test_the_bulk_load_maps_rows_as_the_importer_does(app):
    from bench.common import synthetic_records
    from bench.scale import _convert
    from opac.catalog.models import Record
    from opac.catalog.services import import_data
    from opac.extensions import db

    rows = list(synthetic_records(20, seed=5))
    with app.app_context():
        report = import_data("\n".join(json.dumps(r) for r in rows).encode(), name="syn.jsonl", commit=db.session.commit)
        assert report.imported == 20
        converted = _convert(rows)
        assert sum(len(items) for _, items in converted) > 10
        for rec, items in converted:
            record = db.session.scalar(select(Record).where(Record.control_number == rec["control_number"]))
            for key, value in rec.items():
                assert getattr(record, key) == value, key
            assert [(i.barcode, i.status, i.call_number, i.location.code if i.location else None, i.shelf_key)
                    for i in record.items] == [(it["barcode"], it["status"], it["call_number"], it["location"],
                                                it["shelf_key"]) for it in items]


def test_the_bench_helpers_doctests():
    import bench.scale
    import bench.throughput

    for module in (bench.scale, bench.throughput):
        assert doctest.testmod(module).failed == 0, module.__name__


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk")
def test_the_scale_and_throughput_benches_run_on_a_tiny_catalogue(tmp_path):
    """bench/scale.py at 200 records (load, reindex in a subprocess, gunicorn, memory, table, plot),
    then bench/throughput.py's engines on the database and index it kept."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "bench/scale.py", "--sizes", "200", "--queries", "15", "--searches", "25",
         "--workdir", str(tmp_path), "--keep", "--load-procs", "1", "--out", str(out / "s.svg"),
         "--table", str(out / "s.md"), "--json", str(out / "s.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "bulk" in proc.stdout
    r = json.loads((out / "s.json").read_text())["results"]["200"]
    assert r["records"] == 200 and r["items"] > 100
    assert "Indexed 200 records" in (tmp_path / "scale-200" / "reindex.log").read_text()
    assert r["reindex_s"] > 0 and r["index_mb"] > 0
    assert r["cold"]["n"] == r["warm"]["n"] == r["queries"] == 15
    assert r["errors"] == 0 and r["queries_without_hits"] <= 3  # queries come from the records' own words
    assert r["searches"] >= 50 and r["workers"] == 2  # 25 per worker
    assert 0 < r["pss_mb"] <= r["rss_mb"] and 0 < r["private_mb"] <= r["rss_mb"]
    table = (out / "s.md").read_text()
    assert "| 200 |" in table and "p95 warm ≤ 50 ms" in table and "bulk" in table
    svg = ET.parse(out / "s.svg").getroot()
    assert svg.tag.endswith("svg") and len(svg.findall(".//{http://www.w3.org/2000/svg}circle")) == 8

    from bench.throughput import run

    wd = tmp_path / "scale-200"
    engines = ("ours", "tantivy", "ceiling")  # the FTS5 app is bench/fts5.py's, unchanged (its copy is built)
    res = run(wd, seconds=1, warm_seconds=0, cold_n=60, pool=10, engines=engines, cold_rounds=2)
    assert (wd / "fts5.sqlite").exists()
    for name in engines:
        for phase in ("cold", "steady"):
            x = res[name][phase]
            assert x["rps"] > 0 and not x["errors"], (name, phase, x)
        assert res[name]["cold"]["requests"] == 60
        assert len(res[name]["cold_rounds"]) == 2 and res[name]["cold"]["rps"] == min(res[name]["cold_rounds"])
    ceiling = json.loads((wd / "ceiling.json").read_text())
    assert ceiling["total"] > 0 and ceiling["hits"]  # our own answer to a real query

    # bench/cold_cpu.py on the cold list throughput.py left, this checkout as its own baseline
    proc = subprocess.run([sys.executable, "bench/cold_cpu.py", "--workdir", str(wd), "--baseline", str(ROOT),
                           "--limit", "20", "--rounds", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {parts[0]: parts[1:] for line in proc.stdout.splitlines() if len(parts := line.split()) == 5}
    assert "20 distinct queries" in proc.stdout and "answers" not in proc.stdout  # every answer a 200
    for name in ("this", str(ROOT), "fts5"):
        opening, cpu, per_query, rate = map(lambda x: float(x.replace(",", "")), rows[name])
        assert cpu > 0 and cpu == pytest.approx(per_query * 20 / 1000, abs=0.006), (name, rows[name])
        assert rate == pytest.approx(1000 / per_query, rel=0.01) and opening > 0, (name, rows[name])
    assert f"this / {ROOT}:" in proc.stdout and "this / fts5:" in proc.stdout


def test_the_cold_cpu_bench_explains_bad_input(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "bench/cold_cpu.py", "--workdir", str(tmp_path), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    proc = run("--baseline", str(tmp_path))
    assert proc.returncode != 0 and f"--baseline {tmp_path}: not a checkout of opac" in proc.stderr
    proc = run()
    assert proc.returncode != 0 and "wrk-cold.txt missing: run bench/throughput.py" in proc.stderr


def test_the_tail_bench_runs_on_a_tiny_catalogue(tmp_path):
    """bench/tail_bench.py at 300 synthetic records and 7 desk changes: the desk leaves small segments
    (one a change, Whoosh merging a few), merge_tail makes them one, and each index gets its numbers."""
    proc = subprocess.run(
        [sys.executable, "bench/tail_bench.py", "--records", "300", "--changes", "7", "--rounds", "1",
         "--queries", "30", "--workdir", str(tmp_path / "tail")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "7 desk changes, a commit each; merge_tail merged 2 segments" in proc.stdout
    rows = {line[:16].strip(): line[16:].split() for line in proc.stdout.splitlines()[2:]}
    assert rows["fresh rebuild"][0] == "300" and rows["fresh rebuild"][2] == "1.00x", proc.stdout
    desk_segments = [int(x.rstrip(",")) for x in rows["after the desk"][:-3]]
    assert desk_segments == [300, 6, 1]  # a commit each; Whoosh merged the first six at the sixth
    assert [int(x.rstrip(",")) for x in rows["tail merged"][:-3]] == [300, 7]
    for name in rows:
        assert float(rows[name][-3]) > 0, proc.stdout
    bad = subprocess.run([sys.executable, "bench/tail_bench.py", "--database", str(tmp_path / "none.sqlite")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "tail_bench: no database at" in bad.stderr
