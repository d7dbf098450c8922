"""Reading WARC records back: by location (offset into a file) or a whole file in order.

Records are read with warcio's ArchiveIterator, but the HTTP header block is split off the raw
block here, so the bytes stored are also the bytes returned (warcio's own parse decodes them).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParser, StatusAndHeadersParserException
from warcio.timeutils import iso_date_to_datetime

from storage.errors import WarcError
from storage.records import WarcLocation
from storage.warcroots import WarcRoots, locate

_HTTP_RECORD_TYPES = ("response", "request", "revisit")
# A WARC file still being written is NAME.warc.gz.open; it loses the suffix when closed.
OPEN_SUFFIX = ".open"


@dataclass(frozen=True)
class StoredRecord:
    """One WARC record as stored; ``raw_payload`` is still Content-Encoded."""

    rec_type: str
    url: str | None
    date: datetime | None
    headers: list[tuple[str, str]]  # WARC headers, in file order
    http_status: int | None  # None for request records and empty (304) revisits
    http_headers: list[tuple[str, str]]  # decoded as UTF-8, else Latin-1
    raw_payload: bytes
    http_header_bytes: bytes = b""  # status/request line and headers, exactly as stored
    http_first_line: str | None = None
    location: WarcLocation | None = None

    @property
    def record_id(self) -> str | None:
        return self.header("WARC-Record-ID")

    def header(self, name: str) -> str | None:
        """First WARC header called ``name`` (case-insensitive)."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def http_header(self, name: str) -> str | None:
        values = self.http_header_values(name)
        return values[0] if values else None

    def http_header_values(self, name: str) -> list[str]:
        """Every value of a (possibly repeated) HTTP header, e.g. all ``Set-Cookie`` lines."""
        name = name.lower()
        return [v for k, v in self.http_headers if k.lower() == name]

    def decoded_body(self) -> bytes:
        """The payload with its Content-Encoding (gzip, deflate, br if installed) undone."""
        codings = [
            c.strip().lower()
            for value in self.http_header_values("Content-Encoding")
            for c in value.split(",")
            if c.strip()
        ]
        body = self.raw_payload
        # codings are listed in the order they were applied, so undo them last first
        for coding in reversed(codings):
            body = decode_content(body, coding)
        return body


def decode_content(data: bytes, coding: str) -> bytes:
    """``data`` with one HTTP Content-Encoding (gzip, deflate, br if installed) undone."""
    if coding in ("identity", ""):
        return data
    try:
        if coding in ("gzip", "x-gzip"):
            return _inflate_all(data, zlib.MAX_WBITS | 16)
        if coding == "deflate":
            # servers send both zlib-wrapped and raw deflate under this name
            try:
                return _inflate_all(data, zlib.MAX_WBITS)
            except zlib.error:
                return _inflate_all(data, -zlib.MAX_WBITS)
        if coding == "br":
            return _unbrotli(data)
    except zlib.error as exc:
        raise WarcError(f"cannot undo Content-Encoding {coding}: {exc}") from exc
    raise WarcError(f"unsupported Content-Encoding: {coding}")


def _inflate_all(data: bytes, wbits: int) -> bytes:
    # a body cut short (WARC-Truncated) still yields what arrived, so no final flush check
    out = bytearray()
    while data:
        decomp = zlib.decompressobj(wbits)
        out += decomp.decompress(data)
        out += decomp.flush()
        if not decomp.eof or wbits < 0 or not (wbits & 16):
            break
        data = decomp.unused_data  # concatenated gzip members
    return bytes(out)


def _unbrotli(data: bytes) -> bytes:
    try:
        import brotli  # type: ignore[import-not-found]
    except ImportError:
        try:
            import brotlicffi as brotli  # type: ignore[import-not-found,no-redef]
        except ImportError as exc:
            raise WarcError("Content-Encoding br needs the brotli package") from exc
    try:
        return brotli.decompress(data)
    except Exception as exc:  # brotli raises its own error type per implementation
        raise WarcError(f"cannot undo Content-Encoding br: {exc}") from exc


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return iso_date_to_datetime(value, tz_aware=True)
    except (ValueError, TypeError):
        return None


def _to_stored(record: object, block: bytes, location: WarcLocation | None) -> StoredRecord:
    rec_headers = record.rec_headers  # type: ignore[attr-defined]
    rec_type = rec_headers.get_header("WARC-Type") or ""
    url = rec_headers.get_header("WARC-Target-URI")
    head = b""
    first_line: str | None = None
    http_headers: list[tuple[str, str]] = []
    status: int | None = None
    payload = block
    if rec_type in _HTTP_RECORD_TYPES and block and (url or "").startswith(("http:", "https:")):
        stream = io.BytesIO(block)
        try:
            parsed = StatusAndHeadersParser([], verify=False).parse(stream)
        except (StatusAndHeadersParserException, EOFError) as exc:
            raise WarcError(f"unreadable HTTP headers in {rec_type} record for {url}") from exc
        split = stream.tell()
        head, payload = block[:split], block[split:]
        first_line = f"{parsed.protocol} {parsed.statusline}".strip()
        http_headers = list(parsed.headers)
        if rec_type != "request":
            code = parsed.statusline.split(" ", 1)[0]
            status = int(code) if code.isdigit() else None
    return StoredRecord(
        rec_type=rec_type,
        url=url,
        date=_parse_date(rec_headers.get_header("WARC-Date")),
        headers=list(rec_headers.headers),
        http_status=status,
        http_headers=http_headers,
        raw_payload=payload,
        http_header_bytes=head,
        http_first_line=first_line,
        location=location,
    )


def _read_block(record: object) -> bytes:
    return record.raw_stream.read()  # type: ignore[attr-defined]


def read_record(directory: Path | WarcRoots,
                location: WarcLocation | tuple[str, int]) -> StoredRecord:
    """The record starting at ``offset`` of ``warc_file`` in ``directory`` (or in its node's
    storage root, ``storage.warcroots``).

    A file still being written (``NAME.warc.gz.open``) is read too: each of its records was
    appended whole.
    """
    if isinstance(location, WarcLocation):
        warc_file, offset = location.warc_file, location.offset
    else:
        warc_file, offset = location
    path = locate(directory, warc_file)
    if not path.exists() and path.with_name(warc_file + OPEN_SUFFIX).exists():
        path = path.with_name(warc_file + OPEN_SUFFIX)
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            it = ArchiveIterator(fh, no_record_parse=True)
            record = next(it, None)
            if record is None:
                raise WarcError(f"no WARC record at offset {offset} of {warc_file}")
            block = _read_block(record)
            found = WarcLocation(
                warc_file,
                offset,
                it.get_record_length(),
                record.rec_headers.get_header("WARC-Record-ID") or "",
            )
            return _to_stored(record, block, found)
    except FileNotFoundError as exc:
        raise WarcError(f"WARC file not found: {path}") from exc
    except (ArchiveLoadFailed, OSError, zlib.error, ValueError) as exc:
        message = f"cannot read WARC record at offset {offset} of {warc_file}: {exc}"
        raise WarcError(message) from exc


def iter_records(path: Path) -> Iterator[StoredRecord]:
    """Every record of one file in order, each with its ``location`` filled in."""
    name = path.name.removesuffix(OPEN_SUFFIX)
    try:
        with open(path, "rb") as fh:
            it = ArchiveIterator(fh, no_record_parse=True)
            for record in it:
                block = _read_block(record)
                location = WarcLocation(
                    name,
                    it.get_record_offset(),
                    it.get_record_length(),
                    record.rec_headers.get_header("WARC-Record-ID") or "",
                )
                yield _to_stored(record, block, location)
    except FileNotFoundError as exc:
        raise WarcError(f"WARC file not found: {path}") from exc
    except (ArchiveLoadFailed, OSError, zlib.error, ValueError) as exc:
        raise WarcError(f"cannot read WARC file {path}: {exc}") from exc
