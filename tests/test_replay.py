"""The replay web app over a real archive: the fixture site crawled twice by ``arsip crawl``
(an article edited in between), served by the app in-process through Starlette's test client.

What the live site sent is known exactly (the fixture renders it), so replayed bytes are
compared with the site's own.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from storage.replay.app import ReplayConfig, create_app
from tests.conftest import run_arsip
from tests.dbfixtures import pg_url  # noqa: F401
from tests.newsite import BaseURL, Site, build_site, serve

CRAWL = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1")
EDIT = "Paragraf tambahan setelah ralat redaksi tentang anggaran daerah."


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Site, BaseURL, Path]]:
    """The fixture site crawled twice; the second crawl finds one article edited."""
    site = build_site()
    site.slow_seconds = 0.2
    data_dir = tmp_path_factory.mktemp("replay") / "arsip-data"
    with serve(site) as base:
        first = run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL)
        assert first.returncode == 0, first.stderr
        site.edit_article(site.articles[1].path, append=EDIT)
        # every known article asked again (conditionally), due or not: 304 revisits to replay
        second = run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL,
                           "-s", "ARSIP_REVISIT_ALL=True")
        assert second.returncode == 0, second.stderr
        yield site, base, data_dir


@pytest.fixture(scope="module")
def client(archived: tuple[Site, BaseURL, Path]) -> Iterator[TestClient]:
    _, _, data_dir = archived
    app = create_app(ReplayConfig(f"sqlite:///{data_dir / 'arsip.db'}", data_dir / "warc"))
    with TestClient(app, base_url="http://127.0.0.1:8080", follow_redirects=False) as test_client:
        yield test_client
    app.state.replay.close()


def cdx_rows(client: TestClient, **params: str) -> list[dict[str, str]]:
    response = client.get("/cdx", params={**params, "output": "json"})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def first_capture(client: TestClient, url: str, **filters: str) -> dict[str, str]:
    return cdx_rows(client, url=url, limit="1", **filters)[0]


# --- pages as captured ------------------------------------------------------------------------

def test_a_page_redirects_to_its_capture_and_replays_inside_the_archive(archived, client) -> None:
    site, base, _ = archived
    spec = site.articles[2]
    url = spec.url(base)
    response = client.get(f"/2025/{url}")
    assert response.status_code == 302
    exact = response.headers["location"]
    assert re.fullmatch(rf"/(\d{{14}})/{re.escape(url)}", exact)
    page = client.get(exact)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert spec.title.split()[0] in page.text
    # every link, stylesheet and script points into the archive, at the page's own time
    stamp = exact.split("/")[1]
    for attr in re.findall(r'(?<=\s)(?:href|src)="([^"]+)"', page.text):
        if attr.startswith(("#", "mailto:")):
            continue
        assert attr.startswith("/"), attr
    assert f'href="/{stamp}cs_/{base}wp-content/themes/kabar/style.css' in page.text
    assert f'src="/{stamp}js_/{base}wp-includes/js/jquery/jquery.min.js' in page.text
    assert f'href="/{stamp}/{base}category/nasional/"' in page.text
    # the banner: capture time, captures of this URL, clean text, the live URL as text
    banner = re.search(r"<arsip-banner>.*?</arsip-banner>", page.text, re.DOTALL).group(0)
    assert 'shadowrootmode="closed"' in banner
    assert f'<a href="/*/{url}">' in banner and "clean text and versions" in banner
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT", banner)
    assert f"<code>{url}</code>" in banner
    assert page.headers["memento-datetime"].endswith("GMT")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # what the page said about itself is kept, renamed
    assert page.headers["x-archive-orig-set-cookie"].startswith("pll_language=id")
    assert "set-cookie" not in page.headers


def test_identity_mode_gives_the_bytes_and_headers_as_received(archived, client) -> None:
    site, base, _ = archived
    spec = site.articles[3]
    url = spec.url(base)
    served, gzipped = base.server.rendered(spec.path, site.resources[spec.path])
    row = first_capture(client, url, filter="=status:200")
    with client.stream("GET", f"/{row['timestamp']}id_/{url}",
                       headers={"Accept-Encoding": "gzip"}) as raw:
        assert raw.status_code == 200
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.headers["etag"].startswith('W/"')  # the archived validator, as sent
        assert raw.headers["last-modified"].endswith("GMT")
        assert b"".join(raw.iter_raw()) == gzipped  # the very bytes the server sent
    plain = client.get(f"/{row['timestamp']}id_/{url}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == served
    assert raw.headers["memento-datetime"] == plain.headers["memento-datetime"]
    assert "<arsip-banner>" not in plain.text


def test_archived_redirects_replay_as_redirects_into_the_archive(archived, client) -> None:
    site, base, _ = archived
    url = f"{base}?p=123"
    row = first_capture(client, url)
    response = client.get(f"/{row['timestamp']}/{url}")
    assert response.status_code == 301
    target = site.articles[0].url(base)
    assert response.headers["location"] == f"/{row['timestamp']}/{target}"
    assert client.get(response.headers["location"]).status_code in (200, 302)
    # the identity mode keeps the status and sends the redirect into the archive too (a
    # browser follows a Location by itself, out of any Content-Security-Policy's reach)
    raw = client.get(f"/{row['timestamp']}id_/{url}")
    assert raw.status_code == 301
    assert raw.headers["location"] == f"/{row['timestamp']}id_/{target}"
    assert raw.headers["x-archive-orig-location"] == target


def test_revisits_replay_the_payload_they_refer_to(archived, client) -> None:
    site, base, _ = archived
    url = site.articles[4].url(base)
    rows = cdx_rows(client, url=url)
    assert [r["mime"] for r in rows][:1] == ["text/html"] and len(rows) >= 2
    revisit = next(r for r in rows if r["mime"] == "warc/revisit")
    assert "status" not in revisit  # a 304 on the re-crawl
    original = client.get(f"/{rows[0]['timestamp']}id_/{url}").content
    again = client.get(f"/{revisit['timestamp']}id_/{url}")
    assert again.status_code == 200 and again.content == original
    assert again.headers["memento-datetime"] != client.get(
        f"/{rows[0]['timestamp']}id_/{url}").headers["memento-datetime"]
    # robots.txt came back unchanged with a 200: an identical-payload revisit
    robots = [r for r in cdx_rows(client, url=f"{base}robots.txt") if r["mime"] == "warc/revisit"]
    assert robots and robots[0]["status"] == "200"
    text = client.get(f"/{robots[0]['timestamp']}id_/{base}robots.txt").text
    assert "Disallow: /private/" in text


def test_a_url_never_archived_gets_a_404_that_says_so(archived, client) -> None:
    _, base, _ = archived
    response = client.get(f"/2025/{base}tidak-pernah-diarsipkan/")
    assert response.status_code == 404
    assert "never archived" in response.text
    # a page linking to it: the link still points into the archive, and answers the same
    assert client.get(f"/2025im_/{base}no-such-image.png").status_code == 404


def test_captures_list_marks_text_changes(archived, client) -> None:
    site, base, _ = archived
    url = site.articles[1].url(base)
    page = client.get(f"/*/{url}")
    assert page.status_code == 200
    assert page.text.count(f'/{url}">20') >= 2  # one row per capture
    assert f'href="/article/diff2/{url}">changed: v2' in page.text
    assert "first text (v1)" in page.text
    diff = client.get(f"/article/diff2/{url}")
    assert f'class="added">{EDIT}' in diff.text
    article = client.get(f"/article/{url}")
    assert EDIT in article.text and "Version 2 of 2 (current)" in article.text
    old = client.get(f"/article/v1/{url}")
    assert EDIT not in old.text
    assert client.get(f"/article/v9/{url}").status_code == 404
    assert client.get(f"/*/{base}nothing-here/").status_code == 404


# --- search and home -----------------------------------------------------------------------

def test_home_and_search(archived, client) -> None:
    site, base, _ = archived
    home = client.get("/")
    assert home.status_code == 200 and "Sites" in home.text and base.rstrip("/") in home.text
    assert "script-src 'none'" in home.headers["content-security-policy"]
    spec = site.articles[5]
    word = max(spec.title.split(), key=len)
    results = client.get("/search", params={"q": word})
    assert results.status_code == 200
    assert spec.url(base) in results.text and "<mark>" in results.text
    edit = client.get("/search", params={"q": '"ralat redaksi tentang anggaran"'})
    assert site.articles[1].url(base) in edit.text
    bad = client.get("/search", params={"q": "-only"})
    assert bad.status_code == 200 and "at least one word" in bad.text
    wordless = client.get("/search", params={"q": "*"})
    assert "at least one word" in wordless.text and "No article matches" not in wordless.text


def test_home_lists_the_latest_captured_articles(archived, client) -> None:
    site, base, _ = archived
    home = client.get("/").text
    latest = home.split("Latest captured articles", 1)[1]
    # the edit of the second crawl is the newest text stored, and says it is an edit
    edited = site.articles[1].url(base)
    # which first-crawl texts make the newest ten depends on the order the crawl stored them
    # in, so the edit is checked against every other article the list shows
    listed = sorted((latest.index(spec.url(base) + '"'), spec.url(base))
                    for spec in site.articles if spec.url(base) + '"' in latest)
    assert len(listed) >= 2
    assert listed[0][1] == edited
    assert f'href="/article/diff2/{edited}"' in latest and "edited (v2)" in latest


def test_search_pages_past_the_last_match(archived, client) -> None:
    site, _, _ = archived
    word = max(site.articles[5].title.split(), key=len)
    past = client.get("/search", params={"q": word, "page": "7"})
    assert past.status_code == 200 and "page 7 is past the last one" in past.text
    assert "No article matches" not in past.text
    # a page number no database integer holds is a page past the end too, not a server error
    huge = client.get("/search", params={"q": word, "page": str(10**30)})
    assert huge.status_code == 200 and "past the last one" in huge.text


@pytest.mark.parametrize("query", ["-only", "*", "OR"])
def test_search_command_refuses_a_query_without_words(archived, query: str) -> None:
    _, _, data_dir = archived
    result = run_arsip("search", "--data-dir", str(data_dir), "--", query)
    assert result.returncode == 2, result
    assert "at least one word" in result.stderr and "Traceback" not in result.stderr


# --- CDX and Memento ------------------------------------------------------------------------

def test_cdx_matches_cdxj_indexer_line_for_line(archived, client) -> None:
    _, base, data_dir = archived
    files = sorted(str(p) for p in (data_dir / "warc").glob("*.warc.gz"))
    out = subprocess.run([sys.executable, "-m", "cdxj_indexer.main", *files],
                         capture_output=True, text=True, check=True)
    theirs = []
    for line in out.stdout.splitlines():
        key, stamp, body = line.split(" ", 2)
        theirs.append({"urlkey": key, "timestamp": stamp, **json.loads(body)})
    # the site, and its static host (served by the same fixture server as localhost)
    static = base.replace("127.0.0.1", "localhost")
    # (a host without a dot is no "domain" to pywb's CDX API: ask for the host)
    ours = cdx_rows(client, url=base, matchType="domain") + cdx_rows(
        client, url=static, matchType="host")

    def order(row: dict[str, str]) -> tuple[str, ...]:
        return row["urlkey"], row["timestamp"], row["filename"], row["offset"].zfill(12)
    theirs.sort(key=order)
    ours.sort(key=order)
    assert len(ours) == len(theirs) > 50
    for mine, reference in zip(ours, theirs, strict=True):
        common = set(mine) & set(reference)
        assert {"urlkey", "timestamp", "url", "mime", "length", "offset", "filename"} <= common
        assert {k: mine[k] for k in common} == {k: reference[k] for k in common}
        assert set(mine) == set(reference), (mine, reference)
    cdxj = client.get("/cdx", params={"url": base, "matchType": "domain"}).text.splitlines()
    assert cdxj[0].split(" ", 2)[0] == ours[0]["urlkey"]


def test_cdx_failures_get_an_error_status_not_a_cut_off_200(archived, client,
                                                             tmp_path: Path) -> None:
    import shutil
    import sqlite3

    _, base, data_dir = archived
    every = client.get("/cdx", params={"url": f"{base}*"}).text.splitlines()
    huge = client.get("/cdx", params={"url": f"{base}*", "limit": "9" * 30})
    assert huge.status_code == 200 and huge.text.splitlines() == every
    # the index cannot be read once the answer has started: an error status and one line
    shutil.copy(data_dir / "arsip.db", tmp_path / "arsip.db")
    app = create_app(ReplayConfig(f"sqlite:///{tmp_path / 'arsip.db'}", data_dir / "warc"))
    try:
        with sqlite3.connect(tmp_path / "arsip.db") as db:
            db.execute("ALTER TABLE captures RENAME TO captures_gone")
        with TestClient(app, base_url="http://127.0.0.1:8080") as broken:
            answer = broken.get("/cdx", params={"url": f"{base}*"})
        assert answer.status_code == 503, answer.text
        assert answer.text.startswith("Error: cannot read the archive index")
    finally:
        app.state.replay.close()


def test_memento_timegate_and_timemap(archived, client) -> None:
    site, base, _ = archived
    url = site.articles[1].url(base)
    rows = cdx_rows(client, url=url)
    gate = client.get(f"/timegate/{url}",
                      headers={"Accept-Datetime": "Tue, 01 Jan 2030 00:00:00 GMT"})
    assert gate.status_code == 302
    assert gate.headers["location"].endswith(f"/{rows[-1]['timestamp']}/{url}")
    assert gate.headers["vary"] == "accept-datetime"
    assert 'rel="timemap"' in gate.headers["link"]
    early = client.get(f"/timegate/{url}",
                       headers={"Accept-Datetime": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert early.headers["location"].endswith(f"/{rows[0]['timestamp']}/{url}")
    assert client.get(f"/timegate/{url}", headers={"Accept-Datetime": "soon"}).status_code == 400
    timemap = client.get(f"/timemap/link/{url}")
    assert timemap.headers["content-type"].startswith("application/link-format")
    lines = timemap.text.strip().split(",\n")
    assert lines[0] == f'<{url}>; rel="original"'
    assert sum('rel="' in line and "memento" in line for line in lines) == len(rows)
    assert 'rel="first memento"' in timemap.text and 'rel="last memento"' in timemap.text
    page = client.get(f"/{rows[0]['timestamp']}/{url}")
    link = page.headers["link"]
    assert 'rel="first memento"' in link and 'rel="last next memento"' in link
    when = format_datetime(datetime.strptime(rows[0]["timestamp"], "%Y%m%d%H%M%S")
                           .replace(tzinfo=UTC), usegmt=True)
    assert page.headers["memento-datetime"] == when
    assert client.get(f"/timemap/link/{base}never/").status_code == 404
    linked = client.get("/cdx", params={"url": url, "output": "link"}).text
    assert linked.count('rel="memento"') == len(rows) and linked.endswith('GMT"\n')
    assert linked.count(",\n") == len(rows) - 1


# --- safety -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/2025/../../etc/passwd", "/2025/..%2f..%2fetc%2fpasswd", "/2025id_/%2e%2e/%2e%2e/etc/passwd",
    "/2025/file:///etc/passwd", "/2025id_//etc/passwd", "/..%2f..%2fetc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd", "/2025/http://127.0.0.1/../../../../etc/passwd",
    "/article/..%2f..%2fetc/passwd", "/2025id_/C:%5cWindows%5cwin.ini",
])
def test_traversal_attempts_find_nothing(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert "root:" not in response.text


def test_a_path_holding_a_newline_gets_the_archive_answer(archived, client) -> None:
    _, base, _ = archived
    for path in (f"/20250101000000/{quote(base, safe='')}a%0d%0a%2F",
                 f"/20250101000000/{base}a%0a/", "/search%0a/"):
        response = client.get(path)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert "arsip replay" in response.text and "location" not in response.headers
    assert client.post("/20250101000000/http://x.test/").status_code == 405


def test_header_injection_attempts_are_inert(archived, client) -> None:
    site, base, _ = archived
    url = site.articles[2].url(base)
    row = first_capture(client, url)
    response = client.get(f"/{row['timestamp'][:8]}/{url}%0d%0aSet-Cookie:%20x=1")
    assert "set-cookie" not in response.headers
    injected = client.get(f"/timegate/{base}%0d%0aX-Evil:%201")
    assert "x-evil" not in injected.headers
    assert all("\r" not in v and "\n" not in v for v in injected.headers.values())
    evil = client.get("/cdx", params={"url": f"{base}\r\nX-Evil: 1", "output": "link"})
    assert "x-evil" not in evil.headers


def test_other_host_names_are_refused(archived, client) -> None:
    """DNS rebinding: a page elsewhere that points a name of its own at 127.0.0.1 must not
    read the archive through its visitor's browser."""
    _, base, _ = archived
    for path in ("/", "/search?q=banjir", f"/timegate/{base}", f"/2025id_/{base}robots.txt"):
        refused = client.get(path, headers={"Host": "attacker.example"})
        assert refused.status_code == 400 and "attacker" not in refused.headers.get(
            "location", "")
    assert client.get("/", headers={"Host": "localhost:8080"}).status_code == 200


def test_the_server_has_no_route_to_the_live_web(archived, client) -> None:
    _site, base, _ = archived
    before = len(base.requests)
    for path in ("/", f"/2025/{base}", f"/2025id_/{base}robots.txt", f"/timegate/{base}",
                 f"/cdx?url={quote(base)}*", f"/2025/{base}never-archived/"):
        client.get(path)
    assert len(base.requests) == before


def test_the_replay_app_imports_no_scrapy_and_no_crawler() -> None:
    code = ("import sys, storage.replay.app, storage.index, storage.search; "
            "assert not {'scrapy', 'crawler', 'twisted'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_replay_serve_command_serves_and_stops_cleanly(archived) -> None:
    import os
    import signal
    import time
    import urllib.request

    _, _, data_dir = archived
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "replay", "serve", "--port", "0",
         "--data-dir", str(data_dir)],
        cwd=Path(__file__).parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stderr.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert found, line
        home = urllib.request.urlopen(found.group(1), timeout=10).read().decode()
        assert "arsip replay" in home
        # the same port again: one clear line, exit 1
        port = found.group(1).rsplit(":", 1)[1].strip("/")
        busy = run_arsip("replay", "serve", "--port", port, "--data-dir", str(data_dir))
        assert busy.returncode == 1
        assert busy.stderr.strip().splitlines()[-1].startswith("Error: cannot listen on")
        assert "Traceback" not in busy.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
    _, err = proc.communicate()
    assert proc.returncode == 130
    assert "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (("--port", "70000"), "Invalid value for '--port'"),
    (("--data-dir", "/nonexistent/arsip"), "no archive at"),
])
def test_replay_serve_bad_input(args: tuple[str, ...], message: str) -> None:
    result = run_arsip("replay", "serve", *args)
    assert result.returncode in (1, 2)
    assert message in result.stderr and "Traceback" not in result.stderr


# --- hostile archived content -------------------------------------------------------------

SCRIPT = "<script>alert('arsip')</script>"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """An archive built by hand: a page whose title, URL, text and headers carry markup,
    control characters and headers that act on a browser, linking to a URL never archived;
    index rows naming WARC files outside the WARC folder, and one whose URL holds CR LF; and
    two captures of one URL 1.06 s apart across a second boundary."""
    from storage.archive import Archive
    from storage.records import ArticleRecord, CaptureRecord
    from storage.warc import Exchange, WarcWriter, WarcWriterConfig

    data_dir = tmp_path_factory.mktemp("hostile")
    url = "https://kudakyv.test/2025/04/28/berita/?q=%3Cscript%3E&x=\"'><b>"
    html = (f"<!DOCTYPE html><html><head><title>{SCRIPT} Judul</title></head><body>"
            f"<h1>{SCRIPT} Judul</h1><p>Isi berita tentang banjir.</p>"
            '<a href="/tidak-pernah-diarsipkan/">tautan</a></body></html>').encode()
    writer = WarcWriter(WarcWriterConfig(directory=data_dir / "warc"))
    when = datetime(2025, 4, 28, 7, 0, tzinfo=UTC)

    def exchange(target: str, at: datetime, body: bytes,
                 headers: list[tuple[bytes, bytes]] = ()) -> Any:
        return writer.write_exchange(Exchange(
            url=target, method="GET", request_headers=[(b"Accept-Encoding", b"gzip")],
            request_body=b"", status=200, reason=b"OK",
            response_headers=[(b"Content-Type", b"text/html; charset=utf-8"), *headers],
            body=body, fetched_at=at))[0]

    location = exchange(url, when, html, [
        (b"X-Note", b"a\rb\x00c value"), (b"Service-Worker-Allowed", b"/"),
        (b"Refresh", b"0; url=https://live.example/"), (b"Link", b"<https://live.example/>")])
    loop = writer.write_exchange(Exchange(
        url="http://kudakyv.test/putar", method="GET", request_headers=[], request_body=b"",
        status=301, reason=b"Moved Permanently",
        response_headers=[(b"Location", b"https://kudakyv.test/putar/")], body=b"",
        fetched_at=when))[0]
    seconds = [exchange("https://kudakyv.test/detik/", at, f"capture {n}".encode())
               for n, at in enumerate((when.replace(second=43, microsecond=580000),
                                       when.replace(second=44, microsecond=640000)))]
    crlf = exchange("https://kudakyv.test/crlf/", when, b"crlf page")
    writer.close()
    archive = Archive.open(f"sqlite:///{data_dir / 'arsip.db'}")
    capture = archive.record_capture(CaptureRecord(
        url=url, fetched_at=when, status=200, mime="text/html", payload_digest=None,
        location=location))
    for n, (at, loc) in enumerate(zip((when.replace(second=43, microsecond=580000),
                                       when.replace(second=44, microsecond=640000)),
                                      seconds, strict=True)):
        archive.record_capture(CaptureRecord(
            url="https://kudakyv.test/detik/", fetched_at=at, status=200, mime="text/html",
            payload_digest=f"sha1:D{n}", location=loc))
    archive.record_capture(CaptureRecord(
        url="http://kudakyv.test/putar", fetched_at=when, status=301, mime=None,
        payload_digest=None, location=loop))
    for n, name in enumerate(("../../../../../../etc/passwd", "/etc/passwd", ".hidden")):
        archive.record_capture(CaptureRecord(
            url=f"https://kudakyv.test/traversal/{n}/", fetched_at=when, status=200,
            mime="text/html", payload_digest=None,
            location=replace(location, warc_file=name, record_id=f"<urn:uuid:t{n}>")))
    archive.record_capture(CaptureRecord(
        url="https://kudakyv.test/crlf/\r\nSet-Cookie: x=1", fetched_at=when, status=200,
        mime="text/html", payload_digest=None, location=crlf))
    # an index row whose record id is not the one at its offset (the file changed under it)
    archive.record_capture(CaptureRecord(
        url="https://kudakyv.test/diganti/", fetched_at=when, status=200, mime="text/html",
        payload_digest=None, location=replace(crlf, record_id="<urn:uuid:other>")))
    archive.store_article(site_id=None, url=url, capture_id=capture, fetched_at=when,
                          article=ArticleRecord(url=url, title=f"{SCRIPT} Judul",
                                                text=f"Isi berita {SCRIPT} tentang banjir."))
    archive.close()
    app = create_app(ReplayConfig(f"sqlite:///{data_dir / 'arsip.db'}", data_dir / "warc"))
    with TestClient(app, base_url="http://127.0.0.1:8080", follow_redirects=False) as test_client:
        yield test_client, url
    app.state.replay.close()


def test_a_capture_is_reached_by_its_own_second(hostile) -> None:
    client, _ = hostile
    url = "https://kudakyv.test/detik/"
    for stamp, body in (("20250428070044", b"capture 1"), ("20250428070043", b"capture 0")):
        page = client.get(f"/{stamp}id_/{url}")
        assert page.status_code == 200 and page.content == body
        assert page.headers["memento-datetime"].endswith(f"07:00:{stamp[-2:]} GMT")
        assert client.get(f"/{stamp}/{url}").status_code == 200  # no redirect elsewhere
    closest = client.get("/cdx", params={"url": url, "sort": "closest",
                                         "closest": "20250428070044", "fl": "timestamp",
                                         "output": "text"})
    assert closest.text.split() == ["20250428070044", "20250428070043"]


def test_a_redirect_to_itself_does_not_loop(hostile) -> None:
    client, _ = hostile
    page = client.get("/20250428070000/https://kudakyv.test/putar/")
    assert page.status_code == 404 and "only as a redirect to itself" in page.text
    raw = client.get("/20250428070000id_/https://kudakyv.test/putar/")
    assert raw.status_code == 301  # as captured


def test_index_rows_never_open_files_outside_the_warc_folder(hostile) -> None:
    client, _ = hostile
    for n in range(3):
        page = client.get(f"/2025id_/https://kudakyv.test/traversal/{n}/")
        assert page.status_code == 502, page.text
        assert "root:" not in page.text and "refusing WARC file name" in page.text


def test_headers_that_act_outside_the_archive_are_renamed(hostile) -> None:
    client, url = hostile
    for mode in ("id_", ""):
        page = client.get(f"/20250428070000{mode}/{url}")
        assert page.status_code == 200
        for name in ("service-worker-allowed", "refresh"):
            assert name not in page.headers
            assert f"x-archive-orig-{name}" in page.headers
        assert "live.example" not in page.headers["link"]
        # kept (as received in id_, renamed when rewritten), less the NUL; the writer had
        # already made the lone CR a space
        note = page.headers["x-note" if mode else "x-archive-orig-x-note"]
        assert note == "a bc value"
    worker = client.get(f"/20250428070000id_/{url}", headers={"Service-Worker": "script"})
    assert worker.status_code == 403


def test_a_record_is_served_only_if_it_is_the_one_indexed(hostile) -> None:
    client, _ = hostile
    page = client.get("/2025id_/https://kudakyv.test/diganti/")
    assert page.status_code == 502 and "not &lt;urn:uuid:other&gt; as indexed" in page.text


def test_a_url_holding_cr_lf_gives_clean_headers(hostile) -> None:
    client, _ = hostile
    # (its SURT key drops the CR LF, as URL parsers do: this address finds it)
    response = client.get("/2025/https://kudakyv.test/crlf/Set-Cookie:%20x=1")
    assert response.status_code == 302
    assert "set-cookie" not in response.headers
    assert "\r" not in response.headers["location"] and "\n" not in response.headers["location"]
    followed = client.get(response.headers["location"])
    assert followed.status_code == 200 and "set-cookie" not in followed.headers
    assert all("\n" not in v and "\r" not in v for v in followed.headers.values())


def test_archived_markup_never_reaches_our_pages_unescaped(hostile) -> None:
    client, url = hostile
    page = client.get(f"/20250428070000/{url}")
    assert page.status_code == 200
    banner = re.search(r"<arsip-banner>.*?</arsip-banner>", page.text, re.DOTALL).group(0)
    assert "<script" not in banner and "\"'><b>" not in banner
    assert "&lt;script&gt;" in banner or "%3Cscript%3E" in banner
    assert page.text.count(SCRIPT) == 2  # the page's own title and heading, as archived
    for ours in (client.get("/search", params={"q": "banjir"}), client.get(f"/article/{url}"),
                 client.get(f"/*/{url}"), client.get("/")):
        assert ours.status_code == 200
        assert SCRIPT not in ours.text and "\"'><b>" not in ours.text
        assert "script-src 'none'" in ours.headers["content-security-policy"]
    assert "&lt;script&gt;alert" in client.get("/search", params={"q": "banjir"}).text


def test_a_link_to_a_never_archived_url_stays_in_the_archive(hostile) -> None:
    client, url = hostile
    page = client.get(f"/20250428070000/{url}")
    link = re.search(r'href="([^"]*tidak-pernah-diarsipkan[^"]*)"', page.text).group(1)
    assert link == "/20250428070000/https://kudakyv.test/tidak-pernah-diarsipkan/"
    missing = client.get(link)
    assert missing.status_code == 404 and "never archived" in missing.text


def test_the_app_on_postgresql(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    """The same app over an archive in PostgreSQL: tsvector search, CDX, replay."""
    site = build_site()
    site.slow_seconds = 0.2
    data_dir = tmp_path / "arsip-data"
    with serve(site) as base:
        crawled = run_arsip("crawl", base, "--data-dir", str(data_dir), "--db", pg_url, *CRAWL)
        assert crawled.returncode == 0, crawled.stderr
    app = create_app(ReplayConfig(pg_url, data_dir / "warc"))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8080",
                        follow_redirects=False) as client:
            assert base.rstrip("/") in client.get("/").text
            spec = site.articles[5]
            word = max(spec.title.split(), key=len)
            results = client.get("/search", params={"q": word})
            assert spec.url(base) in results.text and "<mark>" in results.text
            rows = cdx_rows(client, url=spec.url(base))
            assert rows and rows[0]["status"] == "200"
            page = client.get(f"/{rows[0]['timestamp']}/{spec.url(base)}")
            assert page.status_code == 200 and "<arsip-banner>" in page.text
            served, _ = base.server.rendered(spec.path, site.resources[spec.path])
            raw = client.get(f"/{rows[0]['timestamp']}id_/{spec.url(base)}",
                             headers={"Accept-Encoding": "identity"})
            assert raw.content == served
            everything = cdx_rows(client, url=base, matchType="domain")
            assert len(everything) > 40
            hosts = {row["urlkey"].split(")")[0] for row in everything}
            assert hosts == {rows[0]["urlkey"].split(")")[0]}
    finally:
        app.state.replay.close()


def test_replay_index_to_a_reader_that_stops_early(archived) -> None:
    import os

    _, _, data_dir = archived
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "replay", "index", "--data-dir", str(data_dir)],
        cwd=Path(__file__).parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    proc.stdout.close()  # as `| head -0` would
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err.decode() == "", err.decode()
