"""storage.warc: records exactly as received, read back with warcio itself and checked by it."""

from __future__ import annotations

import base64
import errno
import gzip
import hashlib
import itertools
import os
import random
import re
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

import storage.warc as warc_module
from storage.errors import DiskFullError, WarcError
from storage.warc import (
    Exchange,
    RevisitOf,
    WarcWriter,
    WarcWriterConfig,
    iter_records,
    payload_digest,
    read_record,
    recover_open_files,
)

FETCHED = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
FILE_CLOCK = datetime(2024, 5, 6, 7, 8, 9, 987654, tzinfo=UTC)
HTML = "<html><body><p>Berita hari ini: harga cabai naik — ¡sí!</p></body></html>".encode()
NON_ASCII_VALUE = b"caf\xc3\xa9 \xe9t\xe9"  # UTF-8 then Latin-1 bytes, as some servers send
NAME_RE = re.compile(r"^arsip-(\d{17})-(\d{5})-test_host\.warc\.gz$")


def rid(n: int) -> str:
    return f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_writer(
    directory: Path, max_size: int = 1_000_000_000, monotonic: FakeMonotonic | None = None
) -> WarcWriter:
    counter = itertools.count()
    config = WarcWriterConfig(
        directory=directory,
        max_size=max_size,
        idle_timeout=60.0,
        hostname="test-host",
        operator="Tim Arsip <arsip@example.org>",
        is_part_of="kudakyv/run-7",
    )
    return WarcWriter(
        config,
        clock=lambda: FILE_CLOCK,
        make_id=lambda: rid(next(counter)),
        monotonic=monotonic or FakeMonotonic(),
    )


def exchange(
    url: str = "https://news.example.id/2024/05/06/harga-cabai?utm=x&p=2",
    body: bytes | None = None,
    **overrides: object,
) -> Exchange:
    fields: dict[str, object] = {
        "url": url,
        "method": "GET",
        "request_headers": [
            (b"User-Agent", b"arsip/0.1 (+https://example.org/arsip)"),
            (b"Accept-Encoding", b"gzip, deflate"),
        ],
        "request_body": b"",
        "status": 200,
        "reason": None,
        "response_headers": [
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"Content-Encoding", b"gzip"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Set-Cookie", b"session=abc; Path=/"),
            (b"Set-Cookie", b"region=id; Path=/"),
            (b"X-Author", NON_ASCII_VALUE),
        ],
        "body": gzip.compress(HTML, mtime=0) if body is None else body,
        "fetched_at": FETCHED,
        "ip_address": "127.0.0.1",
    }
    fields.update(overrides)
    return Exchange(**fields)  # type: ignore[arg-type]


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def warc_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.warc.gz"))


def warcio_check(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout


def warcio_records(path: Path) -> list[tuple[dict[str, str], object, bytes]]:
    """(WARC headers, warcio http headers, raw payload) of every record, via warcio alone."""
    out = []
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            out.append(
                (dict(record.rec_headers.headers), record.http_headers, record.raw_stream.read())
            )
    return out


def raw_members(path: Path) -> list[bytes]:
    """Each gzip member of a file, decompressed separately (fails on a non-per-record gzip)."""
    data, members = path.read_bytes(), []
    while data:
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        members.append(d.decompress(data) + d.flush())
        assert d.eof
        data = d.unused_data
    return members


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, tuple]:
    writer = make_writer(tmp_path)
    locations = writer.write_exchange(exchange())
    writer.close()
    (path,) = warc_files(tmp_path)
    return path, locations


# -- the response/request pair ---------------------------------------------------------


def test_file_name_and_warcinfo_first(written: tuple[Path, tuple]) -> None:
    path, _ = written
    match = NAME_RE.match(path.name)
    assert match and match.groups() == ("20240506070809987", "00000")
    records = warcio_records(path)
    assert [h["WARC-Type"] for h, _, _ in records] == ["warcinfo", "response", "request"]
    info_headers, _, info_body = records[0]
    assert info_headers["WARC-Record-ID"] == rid(0)
    assert info_headers["WARC-Filename"] == path.name
    assert info_headers["Content-Type"] == "application/warc-fields"
    fields = dict(line.split(": ", 1) for line in info_body.decode().splitlines())
    assert fields == {
        "software": "arsip/0.1",
        "hostname": "test-host",
        "format": "WARC File Format 1.1",
        "conformsTo": "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "operator": "Tim Arsip <arsip@example.org>",
        "isPartOf": "kudakyv/run-7",
        "robots": "obey",
    }
    for headers, _, _ in records[1:]:
        assert headers["WARC-Warcinfo-ID"] == rid(0)
    assert raw_members(path)[0].startswith(b"WARC/1.1\r\n")
    warcio_check(path)


def test_response_and_request_headers(written: tuple[Path, tuple]) -> None:
    path, (resp_loc, req_loc) = written
    (_, (resp, resp_http, payload), (req, req_http, req_payload)) = warcio_records(path)
    assert resp["WARC-Record-ID"] == rid(1) == resp_loc.record_id
    assert req["WARC-Record-ID"] == rid(2) == req_loc.record_id
    assert resp["WARC-Date"] == req["WARC-Date"] == "2024-05-06T07:08:09.123456Z"
    assert req["WARC-Concurrent-To"] == rid(1)
    assert resp["WARC-IP-Address"] == "127.0.0.1"
    assert resp["WARC-Target-URI"] == req["WARC-Target-URI"] == exchange().url
    assert "WARC-Truncated" not in resp
    # gzip stays gzip, byte for byte
    assert payload == exchange().body
    assert gzip.decompress(payload) == HTML
    assert resp_http.protocol == "HTTP/1.1" and resp_http.statusline == "200 OK"
    names = [name.lower() for name, _ in resp_http.headers]
    assert "transfer-encoding" not in names
    assert names.count("set-cookie") == 2
    assert [v for n, v in resp_http.headers if n == "Set-Cookie"] == [
        "session=abc; Path=/",
        "region=id; Path=/",
    ]
    assert resp_http.get_header("Content-Encoding") == "gzip"
    assert req_http.protocol == "GET"
    assert req_http.statusline == "/2024/05/06/harga-cabai?utm=x&p=2 HTTP/1.1"
    assert req_http.get_header("Host") == "news.example.id"
    assert req_http.get_header("Accept-Encoding") == "gzip, deflate"
    assert req_payload == b""


def test_header_bytes_exact_and_digests_verify(written: tuple[Path, tuple]) -> None:
    path, _ = written
    _, response, request = raw_members(path)
    head, _, block = response.partition(b"\r\n\r\n")
    block = block[: -len(b"\r\n\r\n")]
    body = exchange().body
    expected_http = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Content-Encoding: gzip\r\n"
        b"Set-Cookie: session=abc; Path=/\r\n"
        b"Set-Cookie: region=id; Path=/\r\n"
        b"X-Author: " + NON_ASCII_VALUE + b"\r\n"
        b"\r\n"
    )
    assert block == expected_http + body
    warc_headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert warc_headers["Content-Length"] == str(len(block))
    assert warc_headers["WARC-Block-Digest"] == sha1_b32(block)
    assert warc_headers["WARC-Payload-Digest"] == sha1_b32(body) == payload_digest(body)
    assert b"%" not in expected_http  # nothing percent-encoded on the way
    req_block = request.partition(b"\r\n\r\n")[2][: -len(b"\r\n\r\n")]
    assert req_block == (
        b"GET /2024/05/06/harga-cabai?utm=x&p=2 HTTP/1.1\r\n"
        b"Host: news.example.id\r\n"
        b"User-Agent: arsip/0.1 (+https://example.org/arsip)\r\n"
        b"Accept-Encoding: gzip, deflate\r\n"
        b"\r\n"
    )
    # the reader hands back the stored bytes too
    stored = read_record(path.parent, (path.name, 0))
    assert stored.rec_type == "warcinfo"
    resp = next(r for r in iter_records(path) if r.rec_type == "response")
    assert resp.http_header_bytes == expected_http
    assert resp.raw_payload == body
    assert resp.decoded_body() == HTML
    assert resp.http_header_values("set-cookie") == ["session=abc; Path=/", "region=id; Path=/"]


def test_compressed_payload_is_stored_and_the_record_reads_back(tmp_path: Path) -> None:
    # a gzip body deflate cannot shrink: kept as stored blocks, the headers still compressed
    body = gzip.compress(random.Random(7).randbytes(20_000), mtime=0)
    writer = make_writer(tmp_path)
    response_at, _ = writer.write_exchange(exchange(body=body))
    writer.close()
    (path,) = warc_files(tmp_path)
    member = path.read_bytes()[response_at.offset:response_at.offset + response_at.length]
    record = gzip.decompress(member)
    head, _, block = record.partition(b"\r\n\r\n")
    assert block.endswith(body + b"\r\n\r\n")
    assert len(member) < len(record)  # the WARC and HTTP headers were compressed
    assert len(member) - len(body) < len(head)
    _, response, _ = raw_members(path)
    assert response == record
    payloads = [p for h, _, p in warcio_records(path) if h["WARC-Type"] == "response"]
    assert payloads == [body]
    warcio_check(path)


def test_payload_digest_known_value() -> None:
    assert payload_digest(b"") == "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"
    assert payload_digest(b"abc") == "sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5"


def test_status_line_reason_host_port_truncated_and_h2(tmp_path: Path) -> None:
    writer = make_writer(tmp_path)
    cases = [
        exchange(url="http://a.example:8080/x", status=404, body=b"nope", response_headers=[]),
        exchange(url="https://a.example/", status=200, reason=b"Fine", body=b"ok"),
        exchange(url="https://a.example/odd", status=599, body=b"?", http_version="h2"),
        exchange(
            url="https://a.example/big",
            body=b"partial",
            truncated="length",
            request_headers=[(b"Host", b"given.example")],
        ),
    ]
    locs = [writer.write_exchange(ex) for ex in cases]
    writer.close()
    resps = [read_record(tmp_path, resp) for resp, _ in locs]
    reqs = [read_record(tmp_path, req) for _, req in locs]
    assert [r.http_first_line for r in resps] == [
        "HTTP/1.1 404 Not Found",
        "HTTP/1.1 200 Fine",
        "HTTP/1.1 599 Unknown",
        "HTTP/1.1 200 OK",
    ]
    assert [r.http_status for r in resps] == [404, 200, 599, 200]
    assert reqs[0].http_header("Host") == "a.example:8080"
    assert reqs[0].http_first_line == "GET /x HTTP/1.1"
    assert reqs[1].http_first_line == "GET / HTTP/1.1"
    assert reqs[3].http_header_values("Host") == ["given.example"]
    assert reqs[2].http_first_line == "GET /odd HTTP/1.1"  # h2 is recorded as HTTP/1.1
    assert resps[3].header("WARC-Truncated") == "length"
    assert resps[0].header("WARC-Truncated") is None
    for path in warc_files(tmp_path):
        warcio_check(path)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://user:pw@b.example:443/p", b"b.example"),
        ("http://[::1]:8080/p", b"[::1]:8080"),
        ("http://b.example:80", b"b.example"),
        ("https://b\u00fccher.example/", b"xn--bcher-kva.example"),
    ],
)
def test_host_header_added_from_url(url: str, host: bytes) -> None:
    headers = warc_module.request_http_headers(exchange(url=url, request_headers=[]))
    assert headers.headers_buff.split(b"\r\n")[1] == b"Host: " + host


def test_exchange_is_validated(tmp_path: Path) -> None:
    writer = make_writer(tmp_path)
    with pytest.raises(ValueError):
        writer.write_exchange(exchange(truncated="because"))
    with pytest.raises(ValueError):
        writer.write_exchange(exchange(fetched_at=datetime(2024, 1, 1)))
    writer.close()


# -- revisits ---------------------------------------------------------------------------


def test_identical_payload_revisit(tmp_path: Path) -> None:
    writer = make_writer(tmp_path)
    original_loc, _ = writer.write_exchange(exchange())
    original = RevisitOf(original_loc.record_id, exchange().url, FETCHED)
    later = datetime(2024, 6, 1, 0, 0, 0, 5, tzinfo=UTC)
    revisit_loc, req_loc = writer.write_exchange(exchange(fetched_at=later), original)
    writer.close()
    (path,) = warc_files(tmp_path)
    warcio_check(path)
    records = warcio_records(path)
    assert [h["WARC-Type"] for h, _, _ in records] == [
        "warcinfo",
        "response",
        "request",
        "revisit",
        "request",
    ]
    headers, http, payload = records[3]
    assert headers["WARC-Record-ID"] == revisit_loc.record_id
    assert headers["WARC-Profile"] == (
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    )
    assert headers["WARC-Refers-To"] == original_loc.record_id
    assert headers["WARC-Refers-To-Target-URI"] == exchange().url
    assert headers["WARC-Refers-To-Date"] == "2024-05-06T07:08:09.123456Z"
    assert headers["WARC-Date"] == "2024-06-01T00:00:00.000005Z"
    assert headers["WARC-Truncated"] == "length"
    assert headers["WARC-Payload-Digest"] == payload_digest(exchange().body)
    assert http.statusline == "200 OK"
    assert payload == b""  # block = HTTP headers only
    block = raw_members(path)[3].partition(b"\r\n\r\n")[2][: -len(b"\r\n\r\n")]
    assert block.startswith(b"HTTP/1.1 200 OK\r\n") and block.endswith(b"\r\n\r\n")
    assert headers["Content-Length"] == str(len(block))
    assert headers["WARC-Block-Digest"] == sha1_b32(block)
    assert records[4][0]["WARC-Concurrent-To"] == revisit_loc.record_id
    assert read_record(tmp_path, req_loc).rec_type == "request"


def test_not_modified_revisit_has_empty_block(tmp_path: Path) -> None:
    writer = make_writer(tmp_path)
    ex = exchange(status=304, body=b"", response_headers=[(b"ETag", b'"v1"')])
    original = RevisitOf(rid(99), ex.url, FETCHED)
    with_ref = writer.write_not_modified(ex, original)
    without_ref = writer.write_not_modified(ex, None)
    writer.close()
    (path,) = warc_files(tmp_path)
    warcio_check(path)
    for (loc, req_loc), referred in ((with_ref, True), (without_ref, False)):
        rec = read_record(tmp_path, loc)
        assert rec.rec_type == "revisit"
        assert rec.header("WARC-Profile") == (
            "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
        )
        assert rec.header("Content-Length") == "0"
        assert rec.header("Content-Type") is None
        assert rec.http_status is None and rec.http_headers == [] and rec.raw_payload == b""
        assert (rec.header("WARC-Refers-To") == rid(99)) is referred
        assert (rec.header("WARC-Refers-To-Date") == "2024-05-06T07:08:09.123456Z") is referred
        req = read_record(tmp_path, req_loc)
        assert req.header("WARC-Concurrent-To") == loc.record_id
        assert req.header("WARC-Date") == rec.header("WARC-Date")
    assert b"ETag" not in b"".join(raw_members(path)[1::2])


# -- files: rotation, idle, close, recovery ---------------------------------------------


def test_open_file_renamed_on_close_and_close_idempotent(tmp_path: Path) -> None:
    writer = make_writer(tmp_path)
    assert writer.current_file is None
    resp_loc, _ = writer.write_exchange(exchange())
    name = writer.current_file
    assert name is not None and name == resp_loc.warc_file and NAME_RE.match(name)
    assert (tmp_path / (name + ".open")).exists()
    assert not (tmp_path / name).exists()
    # readable while still open: each record went to disk whole
    assert read_record(tmp_path, resp_loc).record_id == resp_loc.record_id
    writer.close()
    writer.close()
    assert writer.current_file is None
    assert [p.name for p in tmp_path.iterdir()] == [name]
    warcio_check(tmp_path / name)


def test_rotation_by_size_never_splits_a_pair(tmp_path: Path) -> None:
    writer = make_writer(tmp_path, max_size=6000)
    written = []
    for n in range(7):
        body = os.urandom(2000)  # incompressible, so each pair is ~2.6 kB on disk
        ex = exchange(url=f"https://news.example.id/{n}", body=body, response_headers=[])
        written.append((writer.write_exchange(ex), body))
    writer.close()
    files = warc_files(tmp_path)
    assert len(files) >= 3
    assert [NAME_RE.match(p.name).group(2) for p in files] == [  # type: ignore[union-attr]
        f"{i:05d}" for i in range(len(files))
    ]
    for path in files:
        warcio_check(path)
        records = list(iter_records(path))
        assert records[0].rec_type == "warcinfo"
        info_id = records[0].record_id
        rest = records[1:]
        assert rest and len(rest) % 2 == 0
        for resp, req in zip(rest[::2], rest[1::2], strict=True):
            assert (resp.rec_type, req.rec_type) == ("response", "request")
            assert req.header("WARC-Concurrent-To") == resp.record_id
            assert resp.header("WARC-Warcinfo-ID") == req.header("WARC-Warcinfo-ID") == info_id
        assert path.stat().st_size <= 6000
    for (resp_loc, req_loc), body in written:
        assert resp_loc.warc_file == req_loc.warc_file
        assert req_loc.offset == resp_loc.offset + resp_loc.length
        rec = read_record(tmp_path, resp_loc)
        assert rec.raw_payload == body and rec.record_id == resp_loc.record_id
        assert read_record(tmp_path, req_loc).header("WARC-Concurrent-To") == resp_loc.record_id


def test_pair_larger_than_max_size_goes_alone(tmp_path: Path) -> None:
    writer = make_writer(tmp_path, max_size=500)
    first = writer.write_exchange(exchange(body=os.urandom(1000)))
    second = writer.write_exchange(exchange(body=os.urandom(1000)))
    writer.close()
    assert first[0].warc_file != second[0].warc_file
    assert len(warc_files(tmp_path)) == 2


def test_idle_file_is_closed(tmp_path: Path) -> None:
    clock = FakeMonotonic()
    writer = make_writer(tmp_path, monotonic=clock)
    first, _ = writer.write_exchange(exchange())
    clock.now += 59
    writer.check_idle()
    assert writer.current_file == first.warc_file
    clock.now += 2
    writer.check_idle()
    assert writer.current_file is None
    assert (tmp_path / first.warc_file).exists()
    second, _ = writer.write_exchange(exchange())
    assert second.warc_file != first.warc_file and "-00001-" in second.warc_file
    writer.close()
    for path in warc_files(tmp_path):
        warcio_check(path)


def test_recover_open_file_with_torn_tail(tmp_path: Path) -> None:
    live = tmp_path / "live"
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    writer = make_writer(live)
    locs = [writer.write_exchange(exchange(url=f"https://a.example/{n}")) for n in range(2)]
    name = writer.current_file
    assert name is not None
    complete = (live / (name + ".open")).read_bytes()
    # a live writer's file is locked: recovery must not touch it
    assert recover_open_files(live, "test-host") == []
    assert (live / (name + ".open")).exists()
    writer.close()

    # what a kill mid-write leaves: whole records, then half of the next gzip member
    torn_member = gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" + os.urandom(500))
    (crashed / (name + ".open")).write_bytes(complete + torn_member[: len(torn_member) // 2])
    (crashed / "arsip-20240101000000000-00000-test_host.warc.gz.open").write_bytes(
        torn_member[:40])
    recovered = recover_open_files(crashed, "test-host")
    assert recovered == [crashed / name]
    assert [p.name for p in crashed.iterdir()] == [name]  # the all-torn file is gone
    assert (crashed / name).read_bytes() == complete
    warcio_check(crashed / name)
    assert [r.rec_type for r in iter_records(crashed / name)] == [
        "warcinfo",
        "response",
        "request",
        "response",
        "request",
    ]
    assert read_record(crashed, locs[1][0]).url == "https://a.example/1"
    assert recover_open_files(crashed, "test-host") == []


def test_recovery_leaves_other_hosts_files_alone(tmp_path: Path) -> None:
    """On a folder crawl nodes share over NFS a failed flock proves nothing: a file named for
    another host may be that node's live file, and only that node may repair it."""
    torn_member = gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" + os.urandom(500))
    writer = make_writer(tmp_path / "w")
    writer.write_exchange(exchange())
    name = writer.current_file
    assert name is not None and name.endswith("-test_host.warc.gz")
    whole = (tmp_path / "w" / (name + ".open")).read_bytes()
    writer.close()
    theirs = tmp_path / (name.replace("-test_host.", "-node2.") + ".open")
    theirs.write_bytes(whole + torn_member[:50])
    ours = tmp_path / (name + ".open")
    ours.write_bytes(whole + torn_member[:50])
    assert recover_open_files(tmp_path, "test-host") == [tmp_path / name]
    assert theirs.read_bytes() == whole + torn_member[:50]  # untouched, still .open
    assert recover_open_files(tmp_path, "node2") == [theirs.with_suffix("")]
    warcio_check(theirs.with_suffix(""))


def test_disk_full_on_a_new_file_leaves_no_file_without_warcinfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer(tmp_path)
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(warc_module.os, "write", full)
    with pytest.raises(DiskFullError):
        writer.write_exchange(exchange())
    assert list(tmp_path.iterdir()) == [] and writer.current_file is None
    monkeypatch.setattr(warc_module.os, "write", real_write)
    loc, _ = writer.write_exchange(exchange())
    writer.close()
    assert [r.rec_type for r in iter_records(tmp_path / loc.warc_file)] == [
        "warcinfo",
        "response",
        "request",
    ]
    warcio_check(tmp_path / loc.warc_file)


def test_writer_takes_a_new_name_when_recovery_took_its_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = warc_module._lock_and_still_named
    calls: list[Path] = []

    def lost_first(fd: int, path: Path, wait: bool = True) -> bool:
        calls.append(path)
        if len(calls) == 1:
            # what a concurrent recover_open_files does to an empty, unlocked file
            path.unlink()
        return real(fd, path, wait)

    monkeypatch.setattr(warc_module, "_lock_and_still_named", lost_first)
    writer = make_writer(tmp_path)
    loc, _ = writer.write_exchange(exchange())
    writer.close()
    assert len(calls) == 2 and calls[0].name != calls[1].name
    assert [p.name for p in warc_files(tmp_path)] == [loc.warc_file]
    assert "-00001-" in loc.warc_file
    warcio_check(tmp_path / loc.warc_file)


KILLED_WRITER = """
import os, sys
from datetime import UTC, datetime
from pathlib import Path
from storage.warc import Exchange, WarcWriter, WarcWriterConfig
writer = WarcWriter(WarcWriterConfig(directory=Path(sys.argv[1]), hostname="test-host"))
n = 0
while True:
    writer.write_exchange(Exchange(
        url=f"https://a.example/{n}", method="GET", request_headers=[], request_body=b"",
        status=200, reason=None, response_headers=[], body=os.urandom(200_000),
        fetched_at=datetime.now(UTC)))
    n += 1
    if n == 5:
        print("ready", flush=True)
"""


def test_killed_writer_leaves_a_recoverable_file(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)],
        cwd=Path(__file__).parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    (left,) = list(tmp_path.glob("*.warc.gz.open"))
    (recovered,) = recover_open_files(tmp_path, "test-host")
    assert recovered == left.with_name(left.name[: -len(".open")])
    warcio_check(recovered)
    types = [r.rec_type for r in iter_records(recovered)]
    assert types[0] == "warcinfo" and types.count("response") >= 5


def test_disk_full_truncates_back_to_last_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer(tmp_path)
    writer.write_exchange(exchange())
    name = writer.current_file
    assert name is not None
    good_size = (tmp_path / (name + ".open")).stat().st_size
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        # the kernel takes part of the data, then the disk is full
        if len(data) > 10:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(warc_module.os, "write", half_then_full)
    with pytest.raises(DiskFullError, match="no space left"):
        writer.write_exchange(exchange(url="https://a.example/lost"))
    assert (tmp_path / (name + ".open")).stat().st_size == good_size

    def broken(fd: int, data: bytes) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(warc_module.os, "write", broken)
    with pytest.raises(WarcError) as info:
        writer.write_exchange(exchange(url="https://a.example/lost"))
    assert not isinstance(info.value, DiskFullError)
    monkeypatch.setattr(warc_module.os, "write", real_write)
    # space is back: the next pair lands right after the last complete record
    after, _ = writer.write_exchange(exchange(url="https://a.example/after"))
    assert after.offset == good_size
    writer.close()
    warcio_check(tmp_path / name)
    records = list(iter_records(tmp_path / name))
    assert [r.rec_type for r in records] == [
        "warcinfo",
        "response",
        "request",
        "response",
        "request",
    ]
    assert records[3].url == "https://a.example/after"


# -- reading ----------------------------------------------------------------------------


def test_read_record_by_offset_and_decoding(tmp_path: Path) -> None:
    writer = make_writer(tmp_path)
    deflated = zlib.compress(HTML)
    raw_deflated = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_body = raw_deflated.compress(HTML) + raw_deflated.flush()
    plain = writer.write_exchange(exchange(body=HTML, response_headers=[]))
    defl = writer.write_exchange(
        exchange(body=deflated, response_headers=[(b"Content-Encoding", b"deflate")])
    )
    raw = writer.write_exchange(
        exchange(body=raw_body, response_headers=[(b"Content-Encoding", b"deflate")])
    )
    writer.close()
    for loc in (plain[0], defl[0], raw[0]):
        rec = read_record(tmp_path, loc)
        assert rec.record_id == loc.record_id and rec.location == loc
        assert rec.decoded_body() == HTML
        assert rec.date == FETCHED
    assert read_record(tmp_path, (defl[1].warc_file, defl[1].offset)).rec_type == "request"
    listed = {r.location.record_id: r.location for r in iter_records(warc_files(tmp_path)[0])}
    for loc in (*plain, *defl, *raw):
        assert listed[loc.record_id] == loc
    with pytest.raises(WarcError):
        read_record(tmp_path, ("missing.warc.gz", 0))
    with pytest.raises(WarcError):
        read_record(tmp_path, (plain[0].warc_file, plain[0].offset + 3))


def test_storage_warc_does_not_import_scrapy() -> None:
    code = "import sys, storage.warc; assert not {'scrapy', 'crawler'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_cdxj_indexer_reads_our_files(written: tuple[Path, tuple]) -> None:
    path, (resp_loc, _) = written
    result = subprocess.run([sys.executable, "-m", "cdxj_indexer.main", str(path)],
                            capture_output=True, text=True, check=True)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    response_line = next(line for line in lines if f'"offset": "{resp_loc.offset}"' in line)
    assert f'"length": "{resp_loc.length}"' in response_line
    assert '"status": "200"' in response_line
