"""Rebuild the ``captures`` index from the WARC files themselves.

The WARC files are the archive; the database is an index over them. A crawl whose database
failed mid-batch, or an archive whose database was restored from an older backup, lacks rows
that the files still hold, and ``reindex`` puts them back. Rows are keyed by WARC-Record-ID, so
rows already there stay as they are and running it twice changes nothing. Files still being
written (``.open``, a crawl in progress) are left to that crawl: it indexes them itself, and the
next crawl repairs them if it was killed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage.errors import WarcError
from storage.records import CaptureRecord
from storage.warcread import OPEN_SUFFIX, StoredRecord, iter_records
from storage.warcroots import WarcRoots

if TYPE_CHECKING:
    from storage.archive import Archive


@dataclass(frozen=True)
class ReindexResult:
    """What ``reindex`` found and did."""

    files: int
    records: int  # response and revisit records read
    added: int  # captures rows that were missing
    still_open: tuple[str, ...] = ()  # files a running crawl is writing


def capture_of(record: StoredRecord) -> CaptureRecord | None:
    """The ``captures`` row of a response or revisit record read back from a WARC file."""
    if record.rec_type not in ("response", "revisit") or record.location is None:
        return None
    if record.url is None or record.date is None:
        return None
    not_modified = "server-not-modified" in (record.header("WARC-Profile") or "")
    return CaptureRecord(
        url=record.url, fetched_at=record.date,
        status=304 if not_modified else (record.http_status or 0),
        mime=bare_mime(record.http_header("Content-Type")),
        payload_digest=record.header("WARC-Payload-Digest"),
        location=record.location, record_type=record.rec_type,
        refers_to=record.header("WARC-Refers-To"),
    )


def bare_mime(content_type: str | None) -> str | None:
    """``text/html; charset=utf-8`` -> ``text/html``."""
    return (content_type or "").split(";")[0].strip() or None


def index_file(archive: Archive, path: Path) -> int:
    """Record every response and revisit of one WARC file; the number of records read."""
    read = 0
    for record in iter_records(path):
        capture = capture_of(record)
        if capture is not None:
            archive.record_capture(capture)  # idempotent on the record id
            read += 1
    return read


def reindex(archive: Archive, warc_dir: Path | WarcRoots) -> ReindexResult:
    """Index every closed WARC file in ``warc_dir``, or in every folder of the archive and its
    nodes' storage roots (see the module docs)."""
    folders = warc_dir.folders() if isinstance(warc_dir, WarcRoots) else [warc_dir]
    for folder in folders:
        if not folder.is_dir():
            raise WarcError(f"no WARC folder at {folder}")
    before = _captures(archive)
    files = records = 0
    archive.batch()
    try:
        for folder in folders:
            for path in sorted(folder.glob("*.warc.gz")):
                records += index_file(archive, path)
                files += 1
                archive.commit()  # one transaction per file: a long reindex holds no lock long
    finally:
        archive.commit()
    still_open = tuple(sorted(p.name for folder in folders
                              for p in folder.glob(f"*.warc.gz{OPEN_SUFFIX}")))
    return ReindexResult(files, records, _captures(archive) - before, still_open)


def _captures(archive: Archive) -> int:
    # imported here: the crawl process loads this module (through the recorder's) and must not
    # pay for SQLAlchemy
    from sqlalchemy import func, select

    from storage.models import Capture

    with archive.read() as conn:
        return int(conn.execute(select(func.count()).select_from(Capture.__table__)).scalar_one())
