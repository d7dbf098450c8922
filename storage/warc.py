"""WARC writer: every fetch kept exactly as received, one gzip member per record.

See DESIGN.md "WARC: what 'exactly as received' means". warcio builds the records; we only make
sure it never sees a decoded header (it would percent-encode non-ASCII bytes) and that each
record reaches the disk in one piece. Reading lives in ``storage.warcread``.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import socket
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter as _WarcioWriter

from storage.errors import DiskFullError, WarcError
from storage.records import WarcLocation
from storage.warcread import OPEN_SUFFIX, StoredRecord, iter_records, read_record
from storage.warcroots import name_part

try:  # advisory locks keep recovery away from files a live writer still holds
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking, recovery trusts the caller
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Exchange",
    "RevisitOf",
    "StoredRecord",
    "WarcWriter",
    "WarcWriterConfig",
    "iter_records",
    "payload_digest",
    "read_record",
    "recover_open_files",
]

WARC_VERSION = "WARC/1.1"
PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
TRUNCATED_VALUES = frozenset({"length", "time", "disconnect", "unspecified"})
_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


@dataclass(frozen=True)
class WarcWriterConfig:
    directory: Path
    prefix: str = "arsip"
    max_size: int = 1_000_000_000
    idle_timeout: float = 300.0
    hostname: str = field(default_factory=socket.gethostname)
    software: str = "arsip/0.1"
    operator: str | None = None
    is_part_of: str | None = None  # crawl/run name, goes into warcinfo


@dataclass(frozen=True)
class Exchange:
    """One HTTP fetch, exactly as received."""

    url: str
    method: str
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes
    status: int
    reason: bytes | None
    response_headers: list[tuple[bytes, bytes]]  # every value of repeated headers, raw bytes
    body: bytes  # still Content-Encoded as it came (gzip stays gzip)
    fetched_at: datetime  # capture start (tz-aware UTC)
    ip_address: str | None = None
    truncated: str | None = None  # "length" / "time" / "disconnect" / "unspecified"
    http_version: str = "HTTP/1.1"


@dataclass(frozen=True)
class RevisitOf:
    """The original capture that an identical payload (or a 304) refers to."""

    record_id: str
    target_uri: str
    date: datetime


def payload_digest(body: bytes) -> str:
    """``sha1:<BASE32>`` of a payload; Twisted already removed chunking, so the body as given."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def warc_date(when: datetime) -> str:
    """WARC/1.1 date with microseconds; naive datetimes are taken as UTC."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


class _RawHttpHeaders(StatusAndHeaders):
    """HTTP status/request line and headers whose serialised form is fixed bytes.

    warcio rebuilds ``headers_buff`` from decoded strings just before writing and percent-encodes
    anything non-ASCII; overriding that step is how the bytes from the wire survive untouched.
    """

    def __init__(self, first_line: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        protocol, _, rest = first_line.decode("latin-1").partition(" ")
        super().__init__(rest, headers, protocol=protocol)
        block = bytearray(first_line + b"\r\n")
        for name, value in headers:
            block += name + b": " + value + b"\r\n"
        block += b"\r\n"
        self.raw_block = bytes(block)
        self.headers_buff = self.raw_block

    def compute_headers_buffer(self, header_filter: object = None) -> None:
        self.headers_buff = self.raw_block


def _clean_header(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    # Twisted never hands us CR/LF inside a header, but a stray one would end the header block
    # early and break the record for every reader, so it is the one thing we neutralise.
    return (
        name.replace(b"\r", b" ").replace(b"\n", b" ").replace(b":", b"_").strip(),
        value.replace(b"\r", b" ").replace(b"\n", b" "),
    )


def _status_line(ex: Exchange) -> bytes:
    # HTTP/2 has no status line on the wire; replay tools expect HTTP/1.x ones, so h2 -> HTTP/1.1
    version = ex.http_version if ex.http_version in ("HTTP/1.0", "HTTP/1.1") else "HTTP/1.1"
    reason = ex.reason
    if not reason:
        try:
            reason = HTTPStatus(ex.status).phrase.encode("ascii")
        except ValueError:
            reason = b"Unknown"
    reason = reason.replace(b"\r", b" ").replace(b"\n", b" ")
    return f"{version} {ex.status} ".encode("ascii") + reason


def response_http_headers(ex: Exchange) -> _RawHttpHeaders:
    headers = [
        _clean_header(name, value)
        for name, value in ex.response_headers
        # the body we hold is already de-chunked: a Transfer-Encoding header would lie about it
        if name.strip().lower() != b"transfer-encoding"
    ]
    return _RawHttpHeaders(_status_line(ex), headers)


def request_http_headers(ex: Exchange) -> _RawHttpHeaders:
    parts = urlsplit(ex.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    version = ex.http_version if ex.http_version in ("HTTP/1.0", "HTTP/1.1") else "HTTP/1.1"
    first = f"{ex.method} {target} {version}".encode()
    headers = [_clean_header(name, value) for name, value in ex.request_headers]
    if not any(name.lower() == b"host" for name, _ in headers):
        # Twisted adds Host on the wire after Scrapy is done with the headers
        headers.insert(0, (b"Host", _host_header(parts)))
    return _RawHttpHeaders(first, headers)


def _host_header(parts: SplitResult) -> bytes:
    host = parts.netloc.rpartition("@")[2]  # never the userinfo
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port == {"http": 80, "https": 443}.get(parts.scheme):
        host = host.rsplit(":", 1)[0]  # clients leave the default port out
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        try:
            return host.encode("idna")
        except UnicodeError:
            return host.encode()


# warcio compresses at level 9; on bodies that mostly arrive gzipped already that buys almost
# nothing and costs the crawl process real time, so members are compressed here at level 6.
GZIP_LEVEL = 6


def _gzip_member(writer: _WarcioWriter, record: object, stored_tail: int = 0) -> bytes:
    """One record as one complete gzip member, built entirely in memory.

    The last ``stored_tail`` bytes of the record (a payload that is compressed already) go into
    the member as stored deflate blocks: deflate would only find it incompressible, after
    spending eight times as long as copying it takes. The WARC and HTTP headers before it are
    still compressed. Readers see one ordinary gzip member either way.
    """
    buf = io.BytesIO()
    writer.out = buf
    writer.write_record(record)
    data = buf.getvalue()
    if stored_tail <= 0 or stored_tail >= len(data):
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        return compressor.compress(data) + compressor.flush()
    head, tail = memoryview(data)[:-stored_tail], memoryview(data)[-stored_tail:]
    # a gzip header and the head's deflate blocks, ending byte-aligned and not final...
    first = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    out = [first.compress(head), first.flush(zlib.Z_SYNC_FLUSH)]
    # ...then the tail as a raw deflate stream of its own, whose last block is the final one
    second = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
    out += [second.compress(tail), second.flush()]
    # the gzip trailer covers all of it: CRC-32 and length of the uncompressed record
    out.append(struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF))
    return b"".join(out)


def _already_compressed(ex: Exchange) -> bool:
    """Whether the payload as received is compressed (a Content-Encoding other than identity,
    or a media type that is compressed by nature)."""
    for name, value in ex.response_headers:
        lowered = name.lower()
        if lowered == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return True
        if lowered == b"content-type":
            mime = value.strip().lower()
            if mime.startswith((b"image/svg", b"image/bmp")):  # text, or uncompressed
                continue
            if mime.startswith((b"image/", b"video/", b"audio/", b"application/zip",
                                b"application/gzip", b"application/pdf")):
                return True
    return False


class WarcWriter:
    """Appends request/response pairs to rotating ``.warc.gz`` files; see the module docstring."""

    def __init__(
        self,
        config: WarcWriterConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        make_id: Callable[[], str] = new_record_id,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self._make_id = make_id
        self._monotonic = monotonic
        # warcio only builds records here; the bytes go through _append
        self._builder = _WarcioWriter(io.BytesIO(), gzip=False, warc_version=WARC_VERSION)
        self._serial = 0
        self._fd: int | None = None
        self._open_path: Path | None = None
        self._final_name: str | None = None
        self._warcinfo_id: str | None = None
        self._size = 0
        self._records_after_info = 0
        self._last_write = 0.0

    @property
    def current_file(self) -> str | None:
        """Final name (``.warc.gz``, as WarcLocation will carry it) of the file being written."""
        return self._final_name

    # -- public writing API -------------------------------------------------------------

    def write_exchange(
        self, ex: Exchange, revisit_of: RevisitOf | None = None
    ) -> tuple[WarcLocation, WarcLocation]:
        """A response (or identical-payload-digest revisit) record, then its request record."""
        _check_exchange(ex)
        self._ensure_open()  # the file's warcinfo id comes before the ids of its records
        ids = (self._make_id(), self._make_id())

        def build(warcinfo_id: str) -> list[bytes]:
            if revisit_of is None:
                first = self._response_record(ex, ids[0], warcinfo_id)
            else:
                first = self._revisit_record(ex, revisit_of, ids[0], warcinfo_id)
            return [first, self._request_record(ex, ids[1], ids[0], warcinfo_id)]

        return self._write_pair(build, ids)

    def write_not_modified(
        self, ex: Exchange, refers_to: RevisitOf | None
    ) -> tuple[WarcLocation, WarcLocation]:
        """A 304 as a server-not-modified revisit with an empty block, then its request.

        The block stays empty on purpose: pywb replays a block holding the 304 headers as a 304.
        """
        _check_exchange(ex)
        self._ensure_open()  # the file's warcinfo id comes before the ids of its records
        ids = (self._make_id(), self._make_id())

        def build(warcinfo_id: str) -> list[bytes]:
            headers = self._common_headers("revisit", ex, ids[0], warcinfo_id)
            headers["WARC-Profile"] = PROFILE_NOT_MODIFIED
            if refers_to is not None:
                headers.update(_refers_to_headers(refers_to))
            record = self._builder.create_warc_record(ex.url, "revisit", warc_headers_dict=headers)
            # warcio labels every revisit as HTTP; an empty block has no content type at all
            record.content_type = None
            record.rec_headers.remove_header("Content-Type")
            return [
                _gzip_member(self._builder, record),
                self._request_record(ex, ids[1], ids[0], warcinfo_id),
            ]

        return self._write_pair(build, ids)

    def check_idle(self) -> None:
        """Close the file when nothing was written for ``idle_timeout`` seconds."""
        if self._fd is not None and self._monotonic() - self._last_write > self.config.idle_timeout:
            self.close()

    def close(self) -> None:
        """Flush, close and rename ``NAME.warc.gz.open`` to ``NAME.warc.gz``. Idempotent."""
        if self._fd is None:
            return
        fd, open_path = self._fd, self._open_path
        self._fd = None
        self._open_path = None
        self._final_name = None
        assert open_path is not None
        try:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)  # also releases the advisory lock
            os.rename(open_path, open_path.with_name(open_path.name.removesuffix(OPEN_SUFFIX)))
        except OSError as exc:
            raise _os_error(exc, f"cannot close WARC file {open_path}") from exc

    def abandon(self) -> None:
        """Stop writing without closing: the file stays ``.open``, for ``recover_open_files``
        to check (its tail may be torn) and rename. After a failure the writer cannot vouch
        for."""
        fd, self._fd, self._open_path, self._final_name = self._fd, None, None, None
        if fd is not None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- records ------------------------------------------------------------------------

    def _common_headers(
        self, rec_type: str, ex: Exchange, record_id: str, warcinfo_id: str
    ) -> dict[str, str]:
        headers = {
            "WARC-Type": rec_type,
            "WARC-Record-ID": record_id,
            "WARC-Date": warc_date(ex.fetched_at),
            "WARC-Target-URI": ex.url,
            "WARC-Warcinfo-ID": warcinfo_id,
        }
        if ex.ip_address:
            headers["WARC-IP-Address"] = ex.ip_address
        return headers

    def _response_record(self, ex: Exchange, record_id: str, warcinfo_id: str) -> bytes:
        headers = self._common_headers("response", ex, record_id, warcinfo_id)
        if ex.truncated:
            headers["WARC-Truncated"] = ex.truncated
        record = self._builder.create_warc_record(
            ex.url,
            "response",
            payload=io.BytesIO(ex.body),
            length=len(ex.body),
            warc_headers_dict=headers,
            http_headers=response_http_headers(ex),
        )
        # warcio ends a record with two CRLFs after the payload
        stored = len(ex.body) + 4 if len(ex.body) >= 1024 and _already_compressed(ex) else 0
        return _gzip_member(self._builder, record, stored)

    def _revisit_record(
        self, ex: Exchange, original: RevisitOf, record_id: str, warcinfo_id: str
    ) -> bytes:
        headers = self._common_headers("revisit", ex, record_id, warcinfo_id)
        headers["WARC-Profile"] = PROFILE_IDENTICAL
        headers.update(_refers_to_headers(original))
        # the block holds the HTTP headers only: the payload is cut, by definition of a revisit
        headers["WARC-Truncated"] = "length"
        headers["WARC-Payload-Digest"] = payload_digest(ex.body)
        record = self._builder.create_warc_record(
            ex.url, "revisit", warc_headers_dict=headers, http_headers=response_http_headers(ex)
        )
        return _gzip_member(self._builder, record)

    def _request_record(
        self, ex: Exchange, record_id: str, response_id: str, warcinfo_id: str
    ) -> bytes:
        headers = self._common_headers("request", ex, record_id, warcinfo_id)
        headers.pop("WARC-IP-Address", None)
        headers["WARC-Concurrent-To"] = response_id
        record = self._builder.create_warc_record(
            ex.url,
            "request",
            payload=io.BytesIO(ex.request_body),
            length=len(ex.request_body),
            warc_headers_dict=headers,
            http_headers=request_http_headers(ex),
        )
        return _gzip_member(self._builder, record)

    def _warcinfo_record(self, record_id: str, filename: str, when: datetime) -> bytes:
        cfg = self.config
        fields = [
            ("software", cfg.software),
            ("hostname", cfg.hostname),
            ("format", "WARC File Format 1.1"),
            ("conformsTo", CONFORMS_TO),
            ("operator", cfg.operator),
            ("isPartOf", cfg.is_part_of),
            ("robots", "obey"),
        ]
        body = "".join(f"{k}: {v}\r\n" for k, v in fields if v).encode("utf-8")
        headers = {
            "WARC-Type": "warcinfo",
            "WARC-Record-ID": record_id,
            "WARC-Date": warc_date(when),
            "WARC-Filename": filename,
        }
        record = self._builder.create_warc_record(
            "",
            "warcinfo",
            payload=io.BytesIO(body),
            length=len(body),
            warc_headers_dict=headers,
            warc_content_type="application/warc-fields",
        )
        return _gzip_member(self._builder, record)

    # -- files --------------------------------------------------------------------------

    def _write_pair(
        self, build: Callable[[str], list[bytes]], ids: tuple[str, str]
    ) -> tuple[WarcLocation, WarcLocation]:
        self._ensure_open()
        assert self._warcinfo_id is not None
        members = build(self._warcinfo_id)
        total = sum(len(m) for m in members)
        # rotate before the pair, never between its two records; a pair larger than max_size
        # still goes alone into a fresh file rather than nowhere
        if self._records_after_info and self._size + total > self.config.max_size:
            self.close()
            self._open_new_file()
            assert self._warcinfo_id is not None
            members = build(self._warcinfo_id)
        offset = self._size
        self._append(b"".join(members))
        self._records_after_info += len(members)
        assert self._final_name is not None
        locations = []
        for member, record_id in zip(members, ids, strict=True):
            locations.append(WarcLocation(self._final_name, offset, len(member), record_id))
            offset += len(member)
        return locations[0], locations[1]

    def _ensure_open(self) -> None:
        if self._fd is None:
            self._open_new_file()

    def _open_new_file(self) -> None:
        cfg = self.config
        try:
            cfg.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(exc, f"cannot create WARC folder {cfg.directory}") from exc
        host = name_part(cfg.hostname)
        prefix = name_part(cfg.prefix)
        while True:
            now = self._clock()
            stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
            final = f"{prefix}-{stamp}-{self._serial:05d}-{host}.warc.gz"
            self._serial += 1
            open_path = cfg.directory / (final + OPEN_SUFFIX)
            if (cfg.directory / final).exists():
                continue
            try:
                # O_EXCL: another writer with the same prefix and host never shares our file
                # O_APPEND: after a failed write is cut back, the next one starts at the new end
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
                fd = os.open(open_path, flags, 0o644)
            except FileExistsError:
                continue
            except OSError as exc:
                raise _os_error(exc, f"cannot create WARC file {open_path}") from exc
            if _lock_and_still_named(fd, open_path):
                break
            # a concurrent recover_open_files took the empty file before we locked it
            os.close(fd)
        self._fd, self._open_path, self._final_name = fd, open_path, final
        self._fd, self._open_path, self._final_name = fd, open_path, final
        self._size = 0
        self._records_after_info = 0
        self._warcinfo_id = self._make_id()
        try:
            self._append(self._warcinfo_record(self._warcinfo_id, final, now))
        except BaseException:
            # a file without its warcinfo must never receive records: drop it, retry later
            self._fd = self._open_path = self._final_name = None
            os.close(fd)
            open_path.unlink(missing_ok=True)
            raise

    def _append(self, data: bytes) -> None:
        """Append whole records; on failure cut the file back so it ends on a record boundary."""
        assert self._fd is not None and self._open_path is not None
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except BaseException as exc:
            # also on KeyboardInterrupt between two partial writes: a torn record left in
            # the middle of the file would hide every record appended after it
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass  # recover_open_files cuts the torn tail on the next start
            if not isinstance(exc, OSError):
                raise
            if exc.errno in _DISK_FULL:
                raise DiskFullError(
                    f"no space left for WARC file {self._open_path} "
                    f"(kept {self._size} bytes of complete records); free disk space and re-run"
                ) from exc
            raise _os_error(exc, f"cannot write WARC file {self._open_path}") from exc
        self._size += len(data)
        self._last_write = self._monotonic()


def _refers_to_headers(original: RevisitOf) -> dict[str, str]:
    return {
        "WARC-Refers-To": original.record_id,
        "WARC-Refers-To-Target-URI": original.target_uri,
        "WARC-Refers-To-Date": warc_date(original.date),
    }


def _check_exchange(ex: Exchange) -> None:
    if ex.truncated is not None and ex.truncated not in TRUNCATED_VALUES:
        raise ValueError(f"WARC-Truncated must be one of {sorted(TRUNCATED_VALUES)}")
    if ex.fetched_at.tzinfo is None:
        raise ValueError("Exchange.fetched_at must be timezone-aware")


def _os_error(exc: OSError, message: str) -> WarcError:
    if exc.errno in _DISK_FULL:
        return DiskFullError(f"{message}: no space left on device")
    return WarcError(f"{message}: {exc.strerror or exc}")


# -- recovery ---------------------------------------------------------------------------


def recover_open_files(directory: Path, hostname: str | None = None) -> list[Path]:
    """Finish ``*.warc.gz.open`` files a killed process of this host left behind.

    Keeps every complete gzip member (each one a whole record), cuts a torn tail, and renames
    the file to its final name. Files still locked by a live writer are left alone; a file with
    no complete record at all is removed. Returns the renamed files.

    Only files whose name carries ``hostname`` (this machine's by default) are touched: in a
    folder that crawl nodes share over NFS a lock may not be seen (or taken) across machines,
    so another node's live file would look abandoned.
    """
    recovered: list[Path] = []
    if not directory.is_dir():
        return recovered
    host = name_part(socket.gethostname() if hostname is None else hostname)
    for open_path in sorted(directory.glob(f"*-{host}.warc.gz{OPEN_SUFFIX}")):
        final = open_path.with_name(open_path.name.removesuffix(OPEN_SUFFIX))
        try:
            with open(open_path, "r+b") as fh:
                # the lock is held until the rename: a live writer, or a second recovery
                # running at the same time, never sees a half-finished file
                if not _lock_and_still_named(fh.fileno(), open_path, wait=False):
                    continue  # a live writer holds it, or another recovery finished it
                good = complete_members_length(fh)
                fh.seek(0, os.SEEK_END)
                if fh.tell() != good:
                    fh.truncate(good)
                    fh.flush()
                    os.fsync(fh.fileno())
                if good == 0:
                    open_path.unlink()
                    continue
                if final.exists():
                    raise WarcError(f"cannot recover {open_path}: {final.name} already exists")
                os.rename(open_path, final)
        except FileNotFoundError:
            continue  # finished by its writer or another recovery since the directory listing
        except OSError as exc:
            raise _os_error(exc, f"cannot recover WARC file {open_path}") from exc
        recovered.append(final)
    return recovered


def _lock_and_still_named(fd: int, path: Path, wait: bool = True) -> bool:
    """Take the file's exclusive lock and confirm ``path`` still names this very file."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True  # no locking on this filesystem: behave as on Windows
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def complete_members_length(fh: io.BufferedIOBase | io.RawIOBase) -> int:
    """Byte length of the leading run of complete gzip members in ``fh`` (read from 0)."""
    fh.seek(0)
    good = 0  # end of the last complete member
    offset = 0  # file offset of the first byte in ``data``
    decomp = None
    while True:
        data = fh.read(1 << 20)
        if not data:
            return good
        while data:
            if decomp is None:
                decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
            try:
                # bounded output (the text is only checked, never kept); a call with no new
                # input drains what zlib still holds, so a member's trailer is always reached
                pending = data
                while True:
                    out = decomp.decompress(pending, 1 << 20)
                    pending = decomp.unconsumed_tail
                    if decomp.eof or (not out and not pending):
                        break
            except zlib.error:
                return good
            if decomp.eof:
                consumed = len(data) - len(decomp.unused_data)
                offset += consumed
                good = offset
                data = decomp.unused_data
                decomp = None
            else:
                offset += len(data)
                data = b""
