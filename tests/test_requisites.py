"""Page requisites: a real crawl of the fixture site fetches each article's stylesheets (and
what they import), fonts, scripts and body images from the site's own host and its static host,
once per run, and never a third-party tag."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crawler.requisites import css_requisites, host_allowed, page_requisites
from tests.conftest import run_arsip
from tests.newsite import CDN_IMAGE_PATH, REQUISITES, STYLE_PATH, build_site, serve

CRAWL = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1")


def test_page_requisites_are_found_in_the_markup() -> None:
    html = """<html><head><base href="https://k.test/sub/">
    <link rel='stylesheet' href="a.css?v=1&amp;x=2"><link rel="alternate stylesheet" href="alt.css">
    <link rel="preconnect" href="https://fonts.example"><script src="//cdn.k.test/j.js"></script>
    <script>var x = '<img src="no.png">';</script></head><body><img src="logo.png">
    <article class="post"><p><img data-src="/up/1.jpg"
    srcset="/up/1-300.jpg 300w, /up/1-600.jpg 600w" src="data:image/gif;base64,R0lGOD"></p>
    </article><img src="footer.png"></body></html>"""
    found = page_requisites(html, "https://k.test/2025/x/")
    assert found.stylesheets == ("https://k.test/sub/a.css?v=1&x=2",)
    assert found.scripts == ("https://cdn.k.test/j.js",)
    assert found.images == ("https://k.test/up/1.jpg", "https://k.test/up/1-300.jpg",
                            "https://k.test/up/1-600.jpg")  # the body's only
    assert found.hosts() == {"k.test"}
    imports, assets = css_requisites(
        '@import "b.css"; @import url(c.css); x{background:url( "../i/bg.png" )}'
        "@font-face{src:url(f.woff2) format('woff2'),url(data:font/woff2;base64,AA)}",
        "https://cdn.k.test/css/a.css")
    assert imports == ("https://cdn.k.test/css/b.css", "https://cdn.k.test/css/c.css")
    assert assets == ("https://cdn.k.test/i/bg.png", "https://cdn.k.test/css/f.woff2")
    own = ("k.test", "*.kcdn.net")
    assert host_allowed("img.k.test", own, frozenset())
    assert host_allowed("a.kcdn.net", own, frozenset())
    assert host_allowed("fonts.example", own, frozenset({"fonts.example"}))
    assert not host_allowed("www.googletagmanager.com", own, frozenset({"fonts.example"}))
    assert not host_allowed("k.test.evil", own, frozenset())


@pytest.fixture(scope="module")
def crawled_twice(tmp_path_factory: pytest.TempPathFactory):
    site = build_site()
    site.slow_seconds = 0.2
    data_dir = tmp_path_factory.mktemp("requisites") / "arsip-data"
    with serve(site) as base:
        first = run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL)
        assert first.returncode == 0, first.stderr
        first_requests = list(base.requests)
        # an edited article is fetched whole again, and so are its requisites
        site.edit_article(site.articles[2].path, append="Paragraf ralat.")
        second = run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL)
        assert second.returncode == 0, second.stderr
        yield site, base, data_dir, first, first_requests


def _captures(data_dir: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(data_dir / "arsip.db") as db:
        return db.execute("SELECT url, record_type, status FROM captures ORDER BY id").fetchall()


def test_each_requisite_is_fetched_once_from_its_own_host(crawled_twice) -> None:
    _, base, data_dir, first, requests = crawled_twice
    port = base.rstrip("/").rsplit(":", 1)[1]
    hosts = {"site": f"127.0.0.1:{port}", "cdn": f"localhost:{port}"}
    for path, where in {**REQUISITES, CDN_IMAGE_PATH: "cdn"}.items():
        asked = [r for r in requests if r.path == path]
        assert len(asked) == 1, (path, len(asked))  # once per run, though every page loads it
        assert asked[0].header("Host") == hosts[where], path
    urls = {url for url, _, _ in _captures(data_dir)}
    assert f"{base}{STYLE_PATH.lstrip('/')}" in urls
    assert f"http://localhost:{port}/kabar/fonts/kabar-sans.woff2" in urls
    assert not [u for u in urls if "googletagmanager" in u]
    assert "Page requisites fetched" in first.stdout
    # robots.txt is asked of the static host too, politely, once
    robots = [r.header("Host") for r in requests if r.path == "/robots.txt"]
    assert sorted(robots) == sorted(hosts.values())


def test_a_recrawl_revisits_requisites_by_payload_digest(crawled_twice) -> None:
    _, base, data_dir, _, _ = crawled_twice
    style = f"{base}{STYLE_PATH.lstrip('/')}"
    kinds = [(kind, status) for url, kind, status in _captures(data_dir) if url == style]
    assert kinds[0] == ("response", 200)
    assert len(kinds) == 2 and kinds[1] == ("revisit", 200)


def test_requisites_can_be_switched_off(tmp_path: Path) -> None:
    site = build_site()
    site.slow_seconds = 0.2
    with serve(site) as base:
        result = run_arsip("crawl", base, "--data-dir", str(tmp_path / "d"), *CRAWL,
                           "-s", "ARSIP_REQUISITES=False")
        assert result.returncode == 0, result.stderr
        assert not [r for r in base.requests if r.path in REQUISITES]
