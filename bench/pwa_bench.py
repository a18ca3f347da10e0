"""Page weight and Lighthouse scores of the OPAC on a phone.

    .venv/bin/python bench/pwa_bench.py [--lighthouse]

Starts gunicorn on a fresh demo catalogue, opens home, results and record pages in Debian's
chromium with an empty cache, and sums the bytes transferred (compressed, as on the wire),
excluding cover images. Budget: 100 KB per first load. With --lighthouse (npm install
lighthouse@12 into a temporary folder) it also prints Lighthouse's mobile scores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_KB = 100
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--no-first-run"]


def start_server(workdir: Path, port: int):
    env = dict(os.environ, OPAC_DATABASE_URL=f"sqlite:///{workdir / 'opac.sqlite'}", OPAC_INDEX_DIR=str(workdir / "index"),
               OPAC_SECRET_KEY="bench", OPAC_BIND=f"127.0.0.1:{port}", OPAC_WORKERS="2")
    flask = str(Path(sys.executable).with_name("flask"))
    for cmd in (["init-db"], ["demo"], ["reindex"]):
        subprocess.run([flask, "--app", "opac", *cmd], env=env, cwd=ROOT, check=True, capture_output=True)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)  # noqa: S310 - loopback
            return proc
        except Exception:  # noqa: BLE001
            time.sleep(0.3)
    raise SystemExit("server did not start")


def page_weights(base: str) -> dict:
    from playwright.sync_api import sync_playwright

    pages = {"home": "/", "results": "/search?q=pramoedya", "record": "/record/7"}
    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for name, path in pages.items():
            ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, service_workers="block")
            page = ctx.new_page()
            cdp = ctx.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            sizes, urls = {}, {}
            cdp.on("Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))
            cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
            page.goto(base + path, wait_until="networkidle")
            time.sleep(0.5)
            total = covers = 0
            for rid, n in sizes.items():
                if "/cover/" in urls.get(rid, ""):
                    covers += n
                else:
                    total += n
            out[name] = {"kb": round(total / 1024, 1), "covers_kb": round(covers / 1024, 1), "requests": len(sizes)}
            ctx.close()
        browser.close()
    return out


def lighthouse(base: str) -> dict | None:
    if not shutil.which("npm"):
        return None
    lh_dir = Path(tempfile.gettempdir()) / "opac-lighthouse"
    binary = lh_dir / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        lh_dir.mkdir(exist_ok=True)
        r = subprocess.run(["npm", "install", "--silent", "--prefix", str(lh_dir), "lighthouse@12"], capture_output=True)
        if r.returncode != 0 or not binary.exists():
            print("lighthouse could not be installed:", r.stderr.decode()[-300:])
            return None
    scores = {}
    for name, path in {"home": "/", "results": "/search?q=pramoedya", "record": "/record/7"}.items():
        out = lh_dir / f"{name}.json"
        r = subprocess.run([str(binary), base + path, "--quiet", "--output=json", f"--output-path={out}",
                            "--only-categories=performance,accessibility,best-practices,seo",
                            "--chrome-flags=" + " ".join(ARGS + ["--headless=new"]), "--form-factor=mobile",
                            "--screenEmulation.mobile", "--throttling-method=simulate"],
                           capture_output=True, env=dict(os.environ, CHROME_PATH="/usr/bin/chromium"), timeout=300)
        if r.returncode != 0 or not out.exists():
            print(f"lighthouse failed on {name}: {r.stderr.decode()[-300:]}")
            continue
        data = json.loads(out.read_text())
        scores[name] = {k: round((v.get("score") or 0) * 100) for k, v in data["categories"].items()}
    return scores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lighthouse", action="store_true")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="opac-pwa-bench-"))
    port = 8131
    proc = start_server(workdir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        weights = page_weights(base)
        print(f"first load, empty cache, phone, bytes on the wire (budget {BUDGET_KB} KB, covers excluded):")
        for name, w in weights.items():
            flag = "ok" if w["kb"] <= BUDGET_KB else "OVER BUDGET"
            print(f"  {name:<8} {w['kb']:6.1f} KB in {w['requests']} requests (+ covers {w['covers_kb']} KB)  {flag}")
        if args.lighthouse:
            scores = lighthouse(base)
            if scores:
                print("lighthouse 12, mobile:")
                for name, s in scores.items():
                    print(f"  {name:<8} " + "  ".join(f"{k} {v}" for k, v in s.items()))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
