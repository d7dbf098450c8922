"""WACZ 1.1.1 export: the archive (or one site, or what was captured since a date) as one
file that ReplayWeb.page opens and pywb loads.

Layout (every entry stored, not deflated, as the format asks of WARCs)::

    archive/*.warc.gz          the WARC files holding the selected captures (whole files)
    indexes/index.cdx.gz       the CDXJ index of those captures, gzip blocks of INDEX_BLOCK lines
    indexes/index.idx          one line per block (the compressed ZipNum form py-wacz writes)
    pages/pages.jsonl          one line per article: URL, capture time, title, clean text
    datapackage.json           every file above with its size and SHA-256
    datapackage-digest.json    the SHA-256 of datapackage.json

A revisit in the selection brings the WARC file of the record it refers to, so every capture in
the index can be replayed from the file itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine, or_, select

from storage.errors import StorageError
from storage.index import CaptureIndex, CaptureRow, CdxQuery, format_cdx, site_range
from storage.warcroots import WarcRoots, locate

WACZ_VERSION = "1.1.1"
INDEX_BLOCK = 1024  # lines per gzip block, as py-wacz
COPY_CHUNK = 1 << 20


class WaczError(StorageError):
    """The WACZ file cannot be written."""


@dataclass(frozen=True)
class WaczResult:
    path: Path
    warc_files: int
    captures: int
    pages: int
    bytes: int


def _selected(engine: Engine, site: str | None, since: datetime | None) -> list[CaptureRow]:
    from storage.models import Capture, CrawlRun, Site

    captures, runs, sites = Capture.__table__, CrawlRun.__table__, Site.__table__
    index = CaptureIndex(engine)
    stmt = select(*index.columns).order_by(captures.c.urlkey, captures.c.fetched_at,
                                             captures.c.warc_file, captures.c.warc_offset)
    with engine.connect() as conn:
        if site is not None:
            found = conn.execute(select(sites.c.id, sites.c.base_url)
                                 .where(sites.c.name == site)).first()
            if found is None:
                raise WaczError(f"the archive holds no site called {site!r}")
            start, end = site_range(found.base_url)
            site_runs = select(runs.c.id).where(runs.c.site_id == found.id)
            # the site's own captures (by its runs: requisites on other hosts too) and those
            # `arsip reindex` put back without a run (by the site's domain)
            stmt = stmt.where(or_(captures.c.run_id.in_(site_runs),
                                  (captures.c.urlkey >= start) & (captures.c.urlkey < end)))
        if since is not None:
            stmt = stmt.where(captures.c.fetched_at >= since)
        rows = [CaptureRow(*row) for row in conn.execute(stmt)]
    chosen = {row.id: row for row in rows}
    for row in rows:
        if row.record_type == "revisit":
            original = index.original_of(row)
            if original is not None:
                chosen.setdefault(original.id, original)
    return sorted(chosen.values(), key=lambda r: (r.urlkey, r.timestamp, r.warc_file,
                                                  r.warc_offset))


def _pages(engine: Engine, capture_ids: set[int]) -> Iterator[dict[str, Any]]:
    """One pages.jsonl entry per article whose current version was read from a selected
    capture."""
    from storage.models import ArticleVersion, Capture, Page, as_utc

    pages, versions, captures = Page.__table__, ArticleVersion.__table__, Capture.__table__
    stmt = (select(pages.c.url, versions.c.title, versions.c.text, versions.c.capture_id,
                   captures.c.fetched_at)
            .select_from(pages.join(versions, (versions.c.page_id == pages.c.id)
                                    & (versions.c.number == pages.c.versions))
                         .join(captures, captures.c.id == versions.c.capture_id))
            .order_by(pages.c.id))
    with engine.connect() as conn:
        for url, title, text, capture_id, fetched_at in conn.execute(stmt):
            if capture_id not in capture_ids:
                continue
            when = as_utc(fetched_at)
            assert when is not None  # captures.fetched_at is NOT NULL
            yield {"id": uuid.uuid5(uuid.NAMESPACE_URL, f"{url} {when.isoformat()}").hex,
                   "url": url, "ts": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "title": title or url, "text": text}


class _HashingWriter:
    """Counts and hashes what goes into one zip entry."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.target.write(data)
        self.sha256.update(data)
        self.size += len(data)


def export_wacz(engine: Engine, warc_dir: Path | WarcRoots, out: Path, *, site: str | None = None,
                since: datetime | None = None, title: str | None = None,
                software: str = "arsip") -> WaczResult:
    """Write the selection (see the module docs) to ``out``; it is written beside and renamed
    into place, so a failed export never leaves a half file under the name asked for."""
    rows = _selected(engine, site, since)
    if not rows:
        raise WaczError("nothing to export: no capture matches"
                        + (f" site {site!r}" if site else "") + (" since then" if since else ""))
    files = sorted({row.warc_file for row in rows})
    for name in files:
        if "/" in name or name.startswith(".") or not locate(warc_dir, name).is_file():
            raise WaczError(f"WARC file {name} is not in {locate(warc_dir, name).parent}")
    partial = out.with_name(out.name + ".partial")
    resources: list[dict[str, Any]] = []
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED,
                             allowZip64=True) as wacz:
            for name in files:
                resources.append(_add_file(wacz, f"archive/{name}", locate(warc_dir, name)))
            resources.extend(_add_index(wacz, rows))
            pages = list(_pages(engine, {row.id for row in rows}))
            header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages",
                      "hasText": True}
            lines = [json.dumps(header)] + [json.dumps(p, ensure_ascii=False) for p in pages]
            resources.append(_add_bytes(wacz, "pages/pages.jsonl",
                                        ("\n".join(lines) + "\n").encode()))
            package = {
                "profile": "data-package",
                "resources": resources,
                "title": title or (f"arsip: {site}" if site else "arsip archive"),
                "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "wacz_version": WACZ_VERSION,
                "software": software,
            }
            package_bytes = json.dumps(package, indent=2).encode()
            _add_bytes(wacz, "datapackage.json", package_bytes)
            digest = {"path": "datapackage.json",
                      "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
            _add_bytes(wacz, "datapackage-digest.json", json.dumps(digest, indent=2).encode())
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise WaczError(f"cannot write {out}: {exc.strerror or exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return WaczResult(out, len(files), len(rows), len(pages), out.stat().st_size)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    return info


def _resource(path: str, writer: _HashingWriter) -> dict[str, Any]:
    return {"name": path.rsplit("/", 1)[-1].lower(), "path": path,
            "hash": "sha256:" + writer.sha256.hexdigest(), "bytes": writer.size}


def _add_file(wacz: zipfile.ZipFile, name: str, source: Path) -> dict[str, Any]:
    with source.open("rb") as src, wacz.open(_entry(name), "w", force_zip64=True) as dst:
        writer = _HashingWriter(dst)  # type: ignore[arg-type]
        while chunk := src.read(COPY_CHUNK):
            writer.write(chunk)
    return _resource(name, writer)


def _add_bytes(wacz: zipfile.ZipFile, name: str, data: bytes) -> dict[str, Any]:
    with wacz.open(_entry(name), "w") as dst:
        writer = _HashingWriter(dst)  # type: ignore[arg-type]
        writer.write(data)
    return _resource(name, writer)


def _add_index(wacz: zipfile.ZipFile, rows: list[CaptureRow]) -> list[dict[str, Any]]:
    """``indexes/index.cdx.gz`` in gzip blocks and ``indexes/index.idx`` naming each block."""
    query = CdxQuery(url="")
    lines = sorted(format_cdx(row, query) for row in rows)
    idx = io.StringIO()
    idx.write("!meta 0 " + json.dumps({"format": "cdxj-gzip-1.0",
                                       "filename": "index.cdx.gz"}) + "\n")
    with wacz.open(_entry("indexes/index.cdx.gz"), "w", force_zip64=True) as dst:
        writer = _HashingWriter(dst)  # type: ignore[arg-type]
        offset = 0
        for start in range(0, len(lines), INDEX_BLOCK):
            block = lines[start:start + INDEX_BLOCK]
            packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
            data = packer.compress(("\n".join(block) + "\n").encode()) + packer.flush()
            writer.write(data)
            prefix = block[0].split(" {", 1)[0]
            idx.write(f"{prefix} " + json.dumps({"offset": offset, "length": len(data)}) + "\n")
            offset += len(data)
    cdx = _resource("indexes/index.cdx.gz", writer)
    return [cdx, _add_bytes(wacz, "indexes/index.idx", idx.getvalue().encode())]
