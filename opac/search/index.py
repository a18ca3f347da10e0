"""The on-disk index: generations behind a ``current`` symlink, one writer at a time.

Layout of ``INDEX_DIR``::

    current -> gen-20261122T101500-1234   (atomic symlink swap after a rebuild)
    gen-.../                              Whoosh files + opac.json (schema version)
                                          + opac-<segment>/ (the engine's arrays of each
                                            segment, see segments.py)
                                          + feed-position.json (how far this generation follows
                                            the database's change feed)
    writer.lock                           flock held by the one writer at a time (follower, reindex)
    build.lock                            flock held while a new generation is built
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3TermInfo

from .schema import SCHEMA_VERSION, build_schema
from .segments import SidecarCodec

META_FILE = "opac.json"
POSITION_FILE = "feed-position.json"

# whoosh-reloaded 2.7.5 calls ``set_inline`` but defines ``set_inlined``: inlining short posting
# lists has never worked (the default limit of 1 hid it). The library is frozen; mend it here.
def _set_inline(self, ids, weights, values):
    # values must be bytes for a later segment merge (some formats hand over "" instead of b"")
    values = tuple(v.encode("latin-1") if isinstance(v, str) else (b"" if v is None else v) for v in values)
    values += (b"",) * (len(ids) - len(values))
    self.set_inlined(ids, weights, values)


if not hasattr(W3TermInfo, "set_inline"):
    W3TermInfo.set_inline = _set_inline


class IndexProblem(Exception):
    """The index cannot be used as it is; the message says why and what to run."""


class WriterBusy(Exception):
    """Another process holds the index writer lock."""


def codec() -> SidecarCodec:
    """The codec of every index writer (the one hook): Whoosh's, whose writers also save each
    segment's arrays for the engine (``segments``: memory-mapped, shared by the workers). Larger
    posting blocks and rare terms' postings inlined in the term index: most terms of a catalogue
    occur in a few records (ISBNs, barcodes, names), and writing a postings block for each
    dominated indexing time."""
    return SidecarCodec(blocklimit=512, inlinelimit=8)


def current_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / "current"


def read_meta(path: Path) -> dict:
    try:
        return json.loads((path / META_FILE).read_text())
    except (OSError, ValueError):
        return {}


def check_index(index_dir: str | Path) -> str | None:
    """None when the index is usable, else the reason it is not."""
    path = current_path(index_dir)
    if not path.exists():
        return "the search index does not exist yet"
    meta = read_meta(path)
    if meta.get("schema_version") != SCHEMA_VERSION:
        return f"the search index has schema version {meta.get('schema_version')}, this version needs {SCHEMA_VERSION}"
    try:
        ix = whoosh_index.open_dir(str(path))
        with ix.reader() as r:
            r.doc_count()
            for leaf, _offset in r.leaf_readers():
                if leaf.doc_count_all():  # a segment's terms (its sidecar) and its stored fields open
                    next(iter(leaf.all_terms()), None)
                    leaf.stored_fields(0)
    except Exception as exc:  # any failure to open means corrupt: whoosh raises many kinds
        return f"the search index is corrupt ({type(exc).__name__}: {exc})"
    return None


def open_index(index_dir: str | Path):
    problem = check_index(index_dir)
    if problem:
        raise IndexProblem(problem)
    return whoosh_index.open_dir(str(current_path(index_dir)))


def new_generation(index_dir: str | Path):
    """A fresh, empty index directory (not yet current)."""
    base = Path(index_dir)
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = base / f"gen-{stamp}-{os.getpid()}"
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    (path / META_FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSION, "created": stamp}))
    return path, ix


def make_current(index_dir: str | Path, path: Path) -> None:
    """Atomically point ``current`` at ``path`` and remove generations older than the previous one."""
    base = Path(index_dir)
    link = base / "current"
    previous = link.resolve() if link.exists() else None
    tmp = base / f".current-{os.getpid()}-{threading.get_ident()}"
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(path.name, tmp)
    os.replace(tmp, link)
    keep = {path.resolve(), previous}
    for old in base.glob("gen-*"):
        if old.resolve() not in keep:
            shutil.rmtree(old, ignore_errors=True)


def open_searcher(ix, previous=None):
    """A searcher over the index's latest generation that keeps ``previous``'s readers of segments
    still in it, and closes its others (``previous`` must not be used afterwards).

    A commit of a few changed records adds a small segment and marks deletions in others; opening
    every segment again (files, term tables) cost each web worker tens of milliseconds per commit.
    Not Whoosh's own ``reader(reuse=...)``: it matches segments by id only, so a segment that gained
    deletions keeps its old deletions (replaced records found twice), and it adds the old
    generation's merged-away segments back. Here a segment that gained deletions keeps its open
    files, in a reader that sees the new deletions (Whoosh reads them from the segment object).
    """
    import copy

    from whoosh.reading import EmptyReader, MultiReader, SegmentReader
    from whoosh.searching import Searcher

    def carried_over(reader, segment):
        if reader._segment.deleted_count() == segment.deleted_count():
            return reader
        reader = copy.copy(reader)
        reader._perdoc = copy.copy(reader._perdoc)
        reader._segment = reader._perdoc._segment = segment
        return reader

    reusable = {}
    if previous is not None:
        for reader, _offset in previous.reader().leaf_readers():
            if getattr(reader, "_segment", None) is not None:
                reusable[reader._segment.segment_id()] = reader
    for attempt in range(10):
        readers, opened, kept = [], [], set()
        try:
            info = ix._read_toc()
            for segment in info.segments:
                old = reusable.get(segment.segment_id())
                if old is not None:
                    kept.add(segment.segment_id())
                    readers.append(carried_over(old, segment))
                else:
                    reader = SegmentReader(ix.storage, info.schema, segment, generation=info.generation)
                    opened.append(reader)
                    readers.append(reader)
            break
        except OSError:
            # a writer removed a file just as we opened it (what Whoosh's own reader() retries too)
            for reader in opened:
                reader.close()
            if attempt == 9:
                raise
            time.sleep(0.05)
    for segid, reader in reusable.items():
        if segid not in kept:
            reader.close()
    # always a MultiReader: its generation is the new one even when the one segment was kept
    top = MultiReader(readers, generation=info.generation) if readers else EmptyReader(info.schema)
    return Searcher(top, fromindex=ix)


_thread_lock = threading.RLock()


@contextmanager
def writer_lock(index_dir: str | Path, timeout: float = 60.0):
    """Exclusive index-writer lock across processes (flock) and threads; WriterBusy on timeout.

    ``timeout=0`` tries once.
    """
    base = Path(index_dir)
    base.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    if not _thread_lock.acquire(timeout=max(timeout, 0.001)):
        raise WriterBusy("index writer busy in this process")
    fd = os.open(base / "writer.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        _flock(fd, deadline, "another process is writing the index", pause=0.02)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
        _thread_lock.release()


def generation_path(index_dir: str | Path) -> Path | None:
    """The real directory ``current`` points at (None without an index)."""
    link = current_path(index_dir)
    return link.resolve() if link.exists() else None


def read_position(gen: Path) -> dict | None:
    """The feed position stored in a generation, or None when it has none (or it is unreadable)."""
    try:
        data = json.loads((gen / POSITION_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "last_id" in data else None


def write_position(gen: Path, position: dict) -> None:
    """Replace the generation's position atomically and durably (temp file, fsync, rename)."""
    tmp = gen / f".{POSITION_FILE}.{os.getpid()}.{threading.get_ident()}"
    with open(tmp, "w") as f:
        json.dump(position, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, gen / POSITION_FILE)
    fd = os.open(gen, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _flock(fd: int, deadline: float, busy: str, *, pause: float) -> None:
    """Take an exclusive lock on ``fd`` across processes, polling until ``deadline`` (monotonic)."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise WriterBusy(busy) from None
            time.sleep(pause)


@contextmanager
def build_lock(index_dir: str | Path, timeout: float = 3600.0):
    """One new generation built at a time per index directory (a second reindex waits)."""
    base = Path(index_dir)
    base.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    fd = os.open(base / "build.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        _flock(fd, deadline, "another process is building the index", pause=0.1)
        yield
    finally:
        os.close(fd)
