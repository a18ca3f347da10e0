"""Shared pieces of the benchmarks: data sets, a seeded synthetic catalogue, query mixes, stats."""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    for c in (os.environ.get("OPAC_SHARED_DATA"), ROOT.parent / "shared" / "data", "/work/shared/data"):
        if c and Path(c, "README.md").exists():
            return Path(c)
    raise SystemExit("../shared/data not found: set OPAC_SHARED_DATA")


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def stats_ms(samples: list[float]) -> dict:
    ms = [s * 1000 for s in samples]
    return {"n": len(ms), "p50": percentile(ms, 50), "p95": percentile(ms, 95), "mean": statistics.fmean(ms) if ms else 0}


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).resolve().rglob("*") if p.is_file()) / 1e6


class Timer:
    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t


# ------------------------------------------------------------------ synthetic catalogue

ID_WORDS = """pendidikan sejarah indonesia ekonomi hukum pengantar dasar metode penelitian manajemen sistem informasi
perpustakaan pembelajaran matematika fisika kimia biologi sastra bahasa budaya agama islam politik sosial
masyarakat pembangunan teknologi komputer jaringan data analisis statistika akuntansi keuangan pemasaran
kesehatan kedokteran keperawatan gizi pertanian peternakan perikanan kehutanan lingkungan geografi
psikologi filsafat etika logika seni musik tari rupa arsitektur teknik sipil mesin elektro industri
kelas jilid buku panduan praktis teori aplikasi kajian studi kasus daerah nasional global modern klasik
anak remaja keluarga perempuan pemuda desa kota pulau laut gunung sungai hutan jawa sumatra kalimantan
sulawesi papua bali lombok maluku aceh betawi sunda minangkabau bugis batak dayak melayu nusantara
pemerintahan kebijakan publik otonomi demokrasi pancasila konstitusi negara rakyat perjuangan revolusi
kemerdekaan pahlawan tokoh biografi kisah cerita novel puisi cerpen dongeng legenda hikayat sejarawan
pengajaran kurikulum evaluasi bimbingan konseling kepemimpinan organisasi perilaku komunikasi media
jurnalistik penyiaran periklanan perbankan syariah koperasi usaha kecil wirausaha pariwisata perhotelan""".split()
EN_WORDS = """introduction principles history theory practice modern handbook guide advanced applied systems
analysis design management economics law politics society culture science physics chemistry biology
mathematics statistics computer programming networks software engineering data learning machine
education teaching research methods health medicine nursing nutrition agriculture environment geography
psychology philosophy ethics logic art music literature poetry fiction novel stories children world war
peace empire revolution democracy nation state policy public development global international asian
southeast indonesia java islam religion language linguistics grammar dictionary reading writing
communication media journalism business marketing finance accounting banking tourism architecture
civil mechanical electrical industrial energy climate ocean forest river island city village family women
youth leadership organization behavior cognitive social anthropology archaeology ancient medieval
contemporary comparative critical essays selected collected complete volume edition second third""".split()
GIVEN = """Ahmad Budi Siti Dewi Rina Agus Hendra Sri Wahyu Eko Joko Putri Ayu Nur Muhammad Andi Rudi Yusuf
Fitri Indah Dian Lestari Bambang Hadi Kartika Taufik Rizal Irfan Nanda Maya John Mary David Sarah James
Robert Linda Michael Anne Peter Susan Thomas Emily William Laura""".split()
FAMILY = """Santoso Wijaya Saputra Hidayat Kusuma Pratama Nugroho Siregar Harahap Nasution Simanjuntak Sitompul
Wibowo Setiawan Gunawan Halim Tanjung Lubis Hasibuan Pane Rusli Tohari Hirata Lestari Utami Fuadi Smith
Johnson Brown Taylor Wilson Clark Lewis Walker Hall Young Allen King Wright Scott Green Baker Adams""".split()
PUBLISHERS = ["Gramedia Pustaka Utama", "Erlangga", "Rineka Cipta", "Remaja Rosdakarya", "Bumi Aksara", "Kencana",
              "Andi Offset", "Deepublish", "Balai Pustaka", "Pustaka Pelajar", "Pearson", "Wiley", "Springer",
              "Routledge", "Oxford University Press", "Cambridge University Press", "McGraw-Hill", "Sage"]
TYPES = ["book"] * 80 + ["thesis"] * 8 + ["ebook"] * 5 + ["journal"] * 4 + ["audiovisual"] * 2 + ["map"]
LOCATIONS = ["PUSAT", "FKIP", "FT", "FEB", "REF"]


def _isbn13(rng: random.Random) -> str:
    core = "978" + "".join(str(rng.randrange(10)) for _ in range(9))
    total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(core))
    return core + str((10 - total % 10) % 10)


def _zipf_choice(rng: random.Random, words: list[str]) -> str:
    # rank-frequency close to natural text: a few words common, most rare
    i = min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)
    return words[i]


def synthetic_records(n: int, seed: int = 20261122):
    """``n`` catalogue rows (JSON-lines columns) from a fixed seed: same input every run."""
    rng = random.Random(seed)
    id_words = ID_WORDS[:]
    en_words = EN_WORDS[:]
    rng.shuffle(id_words)
    rng.shuffle(en_words)
    subjects = [f"{a.title()} -- {b.title()}" for a in id_words[:60] for b in id_words[60:70]]
    subjects += [f"{a.title()} -- {b.title()}" for a in en_words[:60] for b in en_words[60:70]]
    barcode = 1_000_000
    for i in range(n):
        lang = "ind" if rng.random() < 0.65 else ("eng" if rng.random() < 0.9 else rng.choice(["ara", "jav", "dut"]))
        words = id_words if lang != "eng" else en_words
        title = " ".join(_zipf_choice(rng, words) for _ in range(rng.randint(2, 7))).capitalize()
        if rng.random() < 0.1:
            title += f" jilid {rng.randint(1, 4)}" if lang == "ind" else f" volume {rng.randint(1, 4)}"
        if rng.random() < 0.05:
            title += f" kelas {rng.choice(['VII', 'VIII', 'IX', 'X', 'XI', 'XII'])}"
        authors = [f"{rng.choice(FAMILY)}, {rng.choice(GIVEN)}" for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        items = [{"barcode": f"S{barcode + k}", "location": rng.choice(LOCATIONS),
                  "status": rng.choice(["available"] * 6 + ["on_loan"] * 3 + ["missing"])}
                 for k in range(rng.choice([0, 1, 1, 2, 2, 3]))]
        barcode += len(items)
        yield {
            "id": f"SYN{i:07d}",
            "title": title,
            "authors": authors,
            "subjects": rng.sample(subjects, rng.randint(0, 3)),
            "isbn": [_isbn13(rng)] if rng.random() < 0.6 else [],
            "publisher": rng.choice(PUBLISHERS),
            "place": rng.choice(["Jakarta", "Bandung", "Yogyakarta", "Surabaya", "London", "New York"]),
            "year": str(rng.randint(1950, 2025)) if rng.random() < 0.9 else None,
            "language": lang,
            "material_type": rng.choice(TYPES),
            "call_number": f"{rng.randint(0, 999):03d}.{rng.randint(0, 99)} {authors[0][:3].upper()} {title[0].lower()}",
            "items": items,
        }


def write_jsonl(rows, path: Path) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n


# ------------------------------------------------------------------ query mix

STOP = {"the", "of", "and", "a", "an", "in", "to", "for", "on", "dan", "di", "ke", "dari", "yang", "untuk", "dengan"}


def query_mix(records: list[dict], n: int = 300, seed: int = 7) -> list[tuple[str, str]]:
    """(kind, query) pairs drawn from the records: single words, several words, phrases, fields,
    prefixes. ``records`` are dicts with title, authors, subjects."""
    from opac.search.analysis import words as fold_words

    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    kinds = ["word", "words", "phrase", "field", "prefix"]
    tries = 0
    while len(out) < n and tries < n * 50:
        tries += 1
        rec = rng.choice(records)
        tw = [w for w in fold_words(rec["title"]) if w not in STOP and len(w) > 2 and not w.isdigit()]
        if not tw:
            continue
        kind = kinds[len(out) % len(kinds)]
        if kind == "word":
            q = rng.choice(tw)
        elif kind == "words":
            if len(tw) < 2:
                continue
            q = " ".join(rng.sample(tw, min(len(tw), rng.choice([2, 3]))))
        elif kind == "phrase":
            all_w = fold_words(rec["title"])
            if len(all_w) < 2:
                continue
            i = rng.randrange(len(all_w) - 1)
            q = f'"{all_w[i]} {all_w[i + 1]}"'
        elif kind == "field":
            if rec.get("authors") and rng.random() < 0.5:
                aw = [w for w in fold_words(rec["authors"][0]) if len(w) > 2]
                if not aw:
                    continue
                q = f"author:{aw[0]}"
            elif rec.get("subjects") and rng.random() < 0.5:
                sw = [w for w in fold_words(rec["subjects"][0]) if len(w) > 3]
                if not sw:
                    continue
                q = f"subject:{rng.choice(sw)}"
            else:
                q = f"title:{rng.choice(tw)}"
        else:
            w = rng.choice([w for w in tw if len(w) >= 4] or tw)
            q = w[: rng.choice([3, 4, 5])] + "*"
        out.append((kind, q))
    return out


def fts5_query(q: str) -> str:
    """The same query in FTS5 syntax (columns: title, author, subject, rest)."""
    if q.startswith('"'):
        return q
    if ":" in q:
        field, _, value = q.partition(":")
        col = {"author": "author", "subject": "subject", "title": "title"}[field]
        return f'{col} : "{value}"'
    if q.endswith("*"):
        return f'"{q[:-1]}"*'
    return " ".join(f'"{w}"' for w in q.split())


# ------------------------------------------------------------------ serving under gunicorn

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_env(workdir: Path, **extra: str) -> dict:
    """The environment of a production-like run on ``workdir``'s database and index (no test
    settings, no embedded index follower: the benches measure the web workers alone)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPAC_", "FLASK_")) and k != "TESTING"}
    env.update(OPAC_DATABASE_URL=f"sqlite:///{workdir / 'opac.sqlite'}", OPAC_INDEX_DIR=str(workdir / "index"),
               OPAC_SECRET_KEY="bench", OPAC_INSTANCE_PATH=str(workdir / "instance"),
               OPAC_EMBEDDED_FOLLOWER="false", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def http_get(url: str, timeout: float = 120) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one GET on a new connection (gunicorn's sync workers close it)."""
    import urllib.error
    import urllib.request

    t = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback
            status, body = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    return status, body, time.perf_counter() - t


class Gunicorn:
    """``gunicorn -w N -k sync`` serving ``app`` on a free loopback port (with the project's
    gunicorn.conf.py, as deployed); a context manager that stops the whole process group."""

    def __init__(self, app: str, env: dict, workers: int = 2, ready_path: str = "/", log: Path | None = None):
        import sys

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.ready_path = ready_path
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.cmd = [gunicorn, "-c", str(ROOT / "gunicorn.conf.py"), "-w", str(workers), "-k", "sync",
                    "-b", f"127.0.0.1:{self.port}", "--timeout", "300", "--max-requests", "0", app]
        self.env = env
        self.log = log

    def __enter__(self):
        import subprocess

        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - closed in __exit__
        self._out = out
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.proc.returncode}: {' '.join(self.cmd)}")
            if len(self.worker_pids()) >= self.workers:
                try:
                    http_get(self.base + self.ready_path, timeout=5)
                    return self
                except OSError:
                    pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn on {self.base} did not come up")

    def __exit__(self, *exc):
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except ProcessLookupError:
            pass
        if self._out is not None and hasattr(self._out, "close"):
            self._out.close()

    def worker_pids(self) -> list[int]:
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        pids = []
        for k in kids:
            try:
                if b"gunicorn" in Path(f"/proc/{k}/cmdline").read_bytes():
                    pids.append(int(k))
            except OSError:
                pass
        return pids

    def open_every_worker(self, path: str, rounds: int = 2) -> list[float]:
        """Send ``workers`` concurrent requests ``rounds`` times, so that every worker serves (and
        opens its index for) at least one; returns each request's seconds."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.workers) as pool:
            return [s for _ in range(rounds)
                    for _, _, s in pool.map(lambda _: http_get(self.base + path), range(self.workers))]


def smaps_mb(pid: int) -> dict:
    """Rss, Pss and private memory of a process in MB (/proc/PID/smaps_rollup)."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-1] == "kB":
            out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return {"rss": out.get("Rss", 0.0), "pss": out.get("Pss", 0.0),
            "private": out.get("Private_Clean", 0.0) + out.get("Private_Dirty", 0.0)}
