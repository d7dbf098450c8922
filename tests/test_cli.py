"""The command line as a user meets it: exit codes, errors that say what to do, `-s` names
checked, `extract --site`, `history` forgiving how a URL is typed, `status` in 80 columns."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_arsip
from tests.newsite import build_site, serve
from tests.signal_cases import QUICK, screen_of, the_error_line

PARAGRAPHS = "".join(
    f"<p>Paragraf {i} tentang banjir di Jakarta yang merendam ratusan rumah warga dan memaksa "
    f"pemerintah daerah membuka posko pengungsian di sejumlah kelurahan sejak Senin pagi.</p>"
    for i in range(1, 7))
PAGE = (f"<html><head><title>Banjir Jakarta</title></head><body><article><h1>Banjir Jakarta</h1>"
        f"{PARAGRAPHS}<p class='iklan-khusus'>Pesan sponsor yang tidak termasuk berita.</p>"
        f"</article></body></html>")
PROFILE = ('name = "lokal"\nbase_url = "https://lokal.test/"\n\n'
           '[extraction]\nremove = [".iklan-khusus"]\n')


@pytest.mark.parametrize(("args", "message"), [
    (("crawl", "http://"), "not an http(s) URL"),
    (("crawl", "ftp://x/"), "not an http(s) URL"),
    # urlsplit raises on these: it used to end in a traceback
    (("crawl", "http://[::1"), "not an http(s) URL: 'http://[::1'"),
    (("history", "http://[::1"), "not an http(s) URL: 'http://[::1'"),
    (("sites", "add", "http://[::1", "--every", "1h"), "not an http(s) URL: 'http://[::1'"),
    (("sites", "add", "https://x.test:99999/"), "not an http(s) URL"),
    (("crawl", "http://x/", "--max-pages", "many"), "'many' is not a valid integer"),
    (("crawl", "http://x/", "--since", "yesterday"), "is not a date"),
    (("crawl", "http://x/", "--bogus"), "No such option"),
    (("crawl",), "give at least one URL"),
    (("crawl", "http://x/", "-s", "DOWNLOAD_TIMOUT=3"), "did you mean DOWNLOAD_TIMEOUT"),
    (("crawl", "http://x/", "-s", "ARSIP_MAX_PAGE=3"), "did you mean ARSIP_MAX_PAGES"),
    (("crawl", "http://x/", "-s", "NOTHING_LIKE_IT_AT_ALL=1"),
     "no such setting; arsip's are ARSIP_BOILERPLATE, "),
    (("crawl", "http://x/", "-s", "DOWNLOAD_TIMEOUT=abc"),
     "-s DOWNLOAD_TIMEOUT: expects a number, got 'abc'"),
    (("crawl", "http://x/", "-s", "ROBOTSTXT_OBEY=maybe"), "expects True or False"),
    (("crawl", "http://x/", "-s", "DEFAULT_REQUEST_HEADERS=x"), "expects a JSON object"),
    (("daemon", "-s", "CONCURRENT_REQUESTS=x"), "-s CONCURRENT_REQUESTS: expects a number"),
    (("crawl", "http://x/", "-s", "novalue"), "-s expects NAME=VALUE"),
    (("daemon", "-s", "CONCURENT_REQUESTS=4"), "did you mean CONCURRENT_REQUESTS"),
    # a huge rung used to overflow the ladder and fail the recorder on its first article
    (("crawl", "http://x/", "-s", "ARSIP_REVISIT_LADDER=1h,3000000d"),
     "ARSIP_REVISIT_LADDER: revisit ladder: '3000000d': a duration can be at most 3660d"),
    (("daemon", "-s", "ARSIP_REVISIT_LADDER=1h,3661d"), "a duration can be at most 3660d"),
    (("extract", "/nonexistent"), "no such file or folder: /nonexistent"),
    (("export", "--format", "xml"), "Invalid value"),
    (("history", "http://x/", "--diff", "1"), "--diff takes two version numbers"),
])
def test_usage_errors_exit_2_with_one_line(data_dir: Path, args: tuple[str, ...],
                                           message: str) -> None:
    result = run_arsip(*args, "--data-dir", str(data_dir))
    assert result.returncode == 2, result.stderr
    assert message in the_error_line(result.stderr)


def test_a_missing_database_suggests_the_command_that_uses_it(tmp_path: Path) -> None:
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = run_arsip("status", "--db", elsewhere)
    assert result.returncode == 1
    error = the_error_line(result.stderr)
    assert f"run `arsip crawl URL --data-dir arsip-data --db {elsewhere}`" in error
    plain = run_arsip("status", "--data-dir", str(tmp_path / "d"))
    assert f"run `arsip crawl URL --data-dir {tmp_path / 'd'}`" in the_error_line(plain.stderr)


def test_extract_site_finds_profiles_in_the_data_dir_and_the_archive(data_dir: Path,
                                                                      tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    plain = run_arsip("extract", str(page), "--data-dir", str(data_dir))
    assert "Pesan sponsor" in json.loads(plain.stdout)["text"]
    # a profile in DATA_DIR/sites/, as `arsip crawl --site lokal` finds it
    (data_dir / "sites").mkdir()
    (data_dir / "sites" / "lokal.toml").write_text(PROFILE, encoding="utf-8")
    ruled = run_arsip("extract", str(page), "--site", "lokal", "--data-dir", str(data_dir))
    assert ruled.returncode == 0, ruled.stderr
    assert "Pesan sponsor" not in json.loads(ruled.stdout)["text"]
    assert "Paragraf 6" in json.loads(ruled.stdout)["text"]
    # a site registered in the archive under another name, its profile stored there
    other = tmp_path / "other"
    added = run_arsip("sites", "add", "https://lokal.test/", "--name", "lokal-terdaftar",
                      "--profile", str(data_dir / "sites" / "lokal.toml"), "--data-dir",
                      str(other))
    assert added.returncode == 0, added.stderr
    registered = run_arsip("extract", str(page), "--site", "lokal-terdaftar",
                           "--data-dir", str(other))
    assert registered.returncode == 0, registered.stderr
    assert "Pesan sponsor" not in json.loads(registered.stdout)["text"]
    missing = run_arsip("extract", str(page), "--site", "nope", "--data-dir", str(data_dir))
    assert missing.returncode == 1 and "nope" in the_error_line(missing.stderr)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[str]]]:
    """One small crawl: ``(base URL, data dir, article URLs)``."""
    site = build_site(n_articles=6)
    data_dir = tmp_path_factory.mktemp("cli") / "arsip-data"
    with serve(site) as base:
        crawled = run_arsip("crawl", base, "--data-dir", str(data_dir), *QUICK)
        assert crawled.returncode == 0, crawled.stderr
    urls = [json.loads(line)["url"] for line in
            run_arsip("export", "--data-dir", str(data_dir)).stdout.splitlines()]
    yield base, data_dir, urls


def test_history_finds_an_article_however_its_url_is_typed(archive) -> None:
    _, data_dir, urls = archive
    url = next(u for u in urls if u.endswith("/"))
    bare = url.rstrip("/")
    for typed in (url, bare, bare.replace("http://", "https://"),
                  url.replace("http://", "http://www.")):
        found = run_arsip("history", typed, "--json", "--data-dir", str(data_dir))
        assert found.returncode == 0, (typed, found.stderr)
        assert json.loads(found.stdout)[0]["version"] == 1


def test_history_names_each_version_by_its_warc_record_id(archive) -> None:
    from warcio.archiveiterator import ArchiveIterator

    _, data_dir, urls = archive
    url = next(u for u in urls if u.endswith("/"))
    dd = ("--data-dir", str(data_dir))
    [version] = json.loads(run_arsip("history", url, "--json", *dd).stdout)
    capture = version["capture"]
    # the record the index points at is the article's response, under that ID
    with (data_dir / "warc" / capture["warc_file"]).open("rb") as stream:
        stream.seek(capture["warc_offset"])
        record = next(iter(ArchiveIterator(stream)))
    assert record.rec_headers.get_header("WARC-Record-ID") == capture["record_id"]
    assert record.rec_headers.get_header("WARC-Target-URI") == url
    listed = run_arsip("history", url, *dd).stdout.splitlines()
    assert listed[1].strip() == f"WARC record {capture['record_id']} in {capture['warc_file']}"
    assert re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", capture["record_id"])


def test_history_suggests_close_urls_when_there_is_none(archive) -> None:
    _, data_dir, urls = archive
    url = next(u for u in urls if u.endswith("/"))
    typo = url[:-6] + url[-5:]  # one letter lost near the end
    result = run_arsip("history", typo, "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "the archive holds no article at" in the_error_line(result.stderr)
    assert f"  {url}" in result.stderr.splitlines()


def in_a_terminal(*args: str, columns: int = 80, env: dict[str, str] | None = None
                  ) -> tuple[int, str]:
    """``arsip ARGS`` on a terminal ``columns`` wide: its exit code and what it showed."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    from tests.conftest import REPO

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=REPO, stdin=slave,
                            stdout=slave, stderr=slave, env={**full_env, **(env or {})})
    os.close(slave)
    shown = screen_of(master)
    return proc.wait(timeout=60), shown.replace("\r\n", "\n")


def test_status_fits_80_columns_with_local_times_to_the_minute(archive) -> None:
    _, data_dir, _ = archive
    code, shown = in_a_terminal("status", "--data-dir", str(data_dir),
                                env={"TZ": "Asia/Jakarta"})
    assert code == 0, shown
    lines = shown.splitlines()
    assert max(map(len, lines)) <= 80, shown
    assert "…" not in "\n".join(line for line in lines if re.search(r"\d{4}-\d\d-\d\d", line))
    assert sum("UTC+07:00" in line for line in lines) == 1  # the zone, named once
    assert re.search(r"\b20\d\d-\d\d-\d\d \d\d:\d\d\b", shown)
    assert not re.search(r"\d\d:\d\d:\d\d", shown)  # minutes, not seconds


def test_errors_are_named_by_kind_in_summary_and_status(archive) -> None:
    _, data_dir, _ = archive
    status = run_arsip("status", "--data-dir", str(data_dir)).stdout
    assert re.search(r"errors: \d+ fetch, \d+ HTTP, \d+ extraction", status)
