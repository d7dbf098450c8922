"""What one capture replays as: its HTTP status, headers and payload, read from the WARC file.

A ``response`` record is its own answer. An identical-payload-digest ``revisit`` keeps its own
status and headers (that fetch's) and takes the payload of the record it refers to. A
server-not-modified ``revisit`` (a 304 on a re-crawl) stands for the response it refers to,
whole, at its own date. Header lines are kept as the bytes that were received.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.errors import WarcError
from storage.index import CaptureIndex, CaptureRow
from storage.warcread import StoredRecord, read_record
from storage.warcroots import WarcRoots

# never forwarded as they were: they describe the connection, not the resource
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer",
                        b"upgrade", b"proxy-connection", b"content-length"})


class CaptureUnavailable(WarcError):
    """The index names a capture that the WARC files cannot give back."""


@dataclass(frozen=True)
class Replayable:
    """A capture ready to be served."""

    capture: CaptureRow  # the memento asked for (its date is the Memento-Datetime)
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]  # as received, minus hop-by-hop; names as they came
    payload: bytes  # still Content-Encoded
    source: CaptureRow  # the record the payload was read from

    def header(self, name: bytes) -> bytes | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_encodings(self) -> list[str]:
        return [c.strip().lower() for k, v in self.headers if k.lower() == b"content-encoding"
                for c in v.decode("latin-1").split(",") if c.strip()]

    @property
    def content_type(self) -> str:
        return (self.header(b"content-type") or b"").decode("latin-1")

    @property
    def mime(self) -> str:
        return self.content_type.split(";")[0].strip().lower()


def header_lines(record: StoredRecord) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, reason phrase and header lines of an HTTP response record, from its raw bytes
    (obsolete folded lines joined, control characters other than tab dropped)."""
    lines = record.http_header_bytes.split(b"\n")
    first = lines[0].rstrip(b"\r").split(b" ", 2) if lines else [b""]
    status = record.http_status or 0
    reason = first[2].strip() if len(first) > 2 else b""
    headers: list[tuple[bytes, bytes]] = []
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip())
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            continue
        headers.append((name.strip(), value.strip()))
    return status, _safe(reason), [(_safe(k), _safe(v)) for k, v in headers]


# a header value may hold any byte but CR, LF and NUL: control characters other than tab go
_CONTROL = bytes(b for b in range(0x20) if b != 0x09) + b"\x7f"


def _safe(value: bytes) -> bytes:
    return value.translate(None, _CONTROL)


def _read(warc_dir: Path | WarcRoots, row: CaptureRow) -> StoredRecord:
    name = row.warc_file
    if not name or "/" in name or "\\" in name or name.startswith("."):
        # the index is data too: it never names a file outside the WARC folder
        raise CaptureUnavailable(f"refusing WARC file name {name!r}")
    try:
        record = read_record(warc_dir, (name, row.warc_offset))
    except WarcError as exc:
        raise CaptureUnavailable(str(exc)) from exc
    if record.record_id != row.warc_record_id:
        # the file changed under the index (rewritten, or another file of the same name)
        raise CaptureUnavailable(f"the record at offset {row.warc_offset} of {name} is "
                                 f"{record.record_id}, not {row.warc_record_id} as indexed")
    return record


def load(index: CaptureIndex, warc_dir: Path | WarcRoots, capture: CaptureRow) -> Replayable:
    """The capture as it replays (see the module docs)."""
    return replay_of(warc_dir, capture, payload_source(index, capture))


def payload_source(index: CaptureIndex, capture: CaptureRow) -> CaptureRow | None:
    """The capture whose record holds this one's payload: itself, or the response a revisit
    stands for (None: the archive does not hold it)."""
    return index.original_of(capture) if capture.record_type == "revisit" else capture


def replay_of(warc_dir: Path, capture: CaptureRow, original: CaptureRow | None) -> Replayable:
    """The capture as it replays, its payload read from ``original`` (``payload_source``)."""
    record = _read(warc_dir, capture)
    if capture.record_type != "revisit":
        status, reason, headers = header_lines(record)
        return Replayable(capture, status, reason, _end_to_end(headers), record.raw_payload,
                          capture)
    if original is None:
        raise CaptureUnavailable(f"revisit of {capture.url} refers to a record the archive "
                                 "does not hold")
    source = _read(warc_dir, original)
    if capture.not_modified or not record.http_header_bytes:
        status, reason, headers = header_lines(source)
    else:
        status, reason, headers = header_lines(record)
    return Replayable(capture, status, reason, _end_to_end(headers), source.raw_payload,
                      original)


def _end_to_end(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
