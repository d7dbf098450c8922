"""The fixture news site serves what it says it serves (checked with plain urllib)."""

from __future__ import annotations

import gzip
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from http.client import HTTPResponse

import pytest

from tests.newsite import BaseURL, Site, build_site, serve


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict[str, str] | None = None,
          timeout: float = 5.0) -> tuple[int, Message, bytes]:
    """Status, headers and raw body; redirects and error statuses are answers, not exceptions."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        response: HTTPResponse = _opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()
    with response:
        return response.status, response.headers, response.read()


@pytest.fixture(scope="module")
def site() -> Site:
    return build_site()


@pytest.fixture(scope="module")
def base(site: Site) -> Iterator[BaseURL]:
    with serve(site) as url:
        yield url


def test_robots_names_sitemap_and_disallows_private(base: BaseURL) -> None:
    status, headers, body = fetch(base + "robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    assert "Disallow: /private/" in text
    assert f"Sitemap: {base}sitemap_index.xml" in text
    _, _, home = fetch(base)
    assert f'href="{base}private/'.encode() in home


def test_gzip_sitemap_and_news_sitemap(site: Site, base: BaseURL) -> None:
    _, _, index = fetch(base + "sitemap_index.xml")
    assert f"{base}sitemap-posts.xml.gz".encode() in index
    status, headers, body = fetch(base + "sitemap-posts.xml.gz",
                                  {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"] == "application/x-gzip"
    assert "Content-Encoding" not in headers  # the file is gzip, not the transfer
    xml = gzip.decompress(body).decode()
    listed = {a.path for a in site.articles if a.in_sitemap}
    assert all(f"<loc>{base.rstrip('/')}{p}</loc>".replace("&", "&amp;") in xml for p in listed)
    assert not any(p in xml for p in site.hidden_paths)
    _, _, news = fetch(base + "news-sitemap.xml")
    assert b"<news:publication_date>2025-04-28T14:05:00+07:00" in news
    _, _, broken = fetch(base + site.malformed_sitemap_path.lstrip("/"))
    assert not broken.rstrip().endswith(b"</urlset>")


def test_feed_has_pubdates_and_only_visible_articles(site: Site, base: BaseURL) -> None:
    status, headers, body = fetch(base + "feed/")
    assert status == 200 and "rss+xml" in headers["Content-Type"]
    assert b"<pubDate>Mon, 28 Apr 2025 14:05:00 +0700</pubDate>" in body
    assert not any(p.encode() in body for p in site.hidden_paths)


def test_hidden_articles_only_on_listing_page_two(site: Site, base: BaseURL) -> None:
    assert len(site.hidden_paths) == 2
    pages = {p: r.body for p, r in site.resources.items() if r.status == 200}
    for path in site.hidden_paths:
        linked_from = [p for p, body in pages.items() if path.encode() in body and p != path]
        assert linked_from == ["/category/nasional/page/2/"]
    _, _, first = fetch(base + "category/nasional/")
    assert f'<link rel="next" href="{base}category/nasional/page/2/">'.encode() in first


def test_article_metadata_and_promos(site: Site, base: BaseURL) -> None:
    spec = site.article("prose_baca_juga")
    _, headers, body = fetch(spec.url(base))
    page = body.decode()
    assert '<meta property="og:type" content="article">' in page
    assert f'content="{spec.published.isoformat()}"' in page and "+07:00" in page
    assert '"@type": "NewsArticle"' in page and "Penulis:" in page
    assert spec.keep[0] in page and "ADVERTISEMENT" in page
    for promo in spec.promos:
        assert f'href="{base.rstrip("/")}{promo.href}"' in page
    assert headers.get_all("Set-Cookie") and len(headers.get_all("Set-Cookie")) == 2
    forms = {p.form for a in site.articles for p in a.promos}
    assert forms >= {"strong", "curly", "spaced", "chevron", "box", "table", "aside", "simak",
                     "lihat", "terkait"}


def test_seed_article_is_the_seed_text(site: Site) -> None:
    seeds = site.with_flag("seed")
    if not seeds:
        pytest.skip("seed article not present beside the repository")
    spec = seeds[0]
    assert spec.title.startswith("Korea Utara Bantu Rusia")
    assert [p.label for p in spec.promos] == ["Baca Juga", "Simak Juga"]
    body = site.resources[spec.path].body.decode()
    assert "“Baca Juga: <a href=" in body and not any("Baca Juga" in t for t in spec.text)


def test_conditional_requests_answer_304(site: Site, base: BaseURL) -> None:
    url = site.articles[1].url(base)
    status, headers, body = fetch(url)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag and last_modified and body
    status, headers, body = fetch(url, {"If-None-Match": etag})
    assert (status, body) == (304, b"") and headers["ETag"] == etag
    status, _, _ = fetch(url, {"If-Modified-Since": last_modified})
    assert status == 304
    status, _, _ = fetch(url, {"If-None-Match": '"something-else"'})
    assert status == 200


def test_gzip_content_encoding_on_request(site: Site, base: BaseURL) -> None:
    url = site.articles[1].url(base)
    _, plain_headers, plain = fetch(url)
    status, headers, body = fetch(url, {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body) < len(plain)
    assert gzip.decompress(body) == plain and "Content-Encoding" not in plain_headers
    # the weak ETag of the gzip variant still revalidates
    status, _, _ = fetch(url, {"If-None-Match": headers["ETag"], "Accept-Encoding": "gzip"})
    assert headers["ETag"].startswith("W/") and status == 304


def test_redirects_one_and_two_hops(site: Site, base: BaseURL) -> None:
    status, headers, _ = fetch(base + "?p=123")
    assert status == 301 and headers["Location"] == base.rstrip("/") + site.redirects["/?p=123"]
    status, headers, _ = fetch(base + "old-slug/")
    assert status == 301 and headers["Location"] == base + "?p=124"
    status, headers, _ = fetch(headers["Location"])
    assert status == 301 and headers["Location"].endswith(site.redirects["/old-slug/"])


def test_charsets_declared_in_header_and_in_meta(site: Site, base: BaseURL) -> None:
    spec = site.article("charset_header")
    _, headers, body = fetch(spec.url(base))
    assert headers["Content-Type"] == "text/html; charset=WINDOWS-1252"
    assert b"<meta charset" not in body
    assert "Café Ünal" in body.decode("cp1252") and "€4" in body.decode("cp1252")
    spec = site.article("charset_meta")
    _, headers, body = fetch(spec.url(base))
    assert headers["Content-Type"] == "text/html"
    assert b'<meta charset="ISO-8859-1">' in body and "Müller".encode("latin-1") in body


def test_error_statuses_and_odd_bodies(site: Site, base: BaseURL) -> None:
    assert fetch(base + site.not_found_path.lstrip("/"))[0] == 404
    assert fetch(base + site.error_path.lstrip("/"))[0] == 500
    status, headers, body = fetch(base + site.empty_path.lstrip("/"))
    assert (status, body, headers["Content-Length"]) == (200, b"", "0")
    status, headers, body = fetch(base + site.binary_paths[0].lstrip("/"))
    assert headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF-")


def test_slow_page_outlasts_a_short_timeout(site: Site, base: BaseURL) -> None:
    site.slow_seconds = 1.0
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        fetch(base + site.slow_path.lstrip("/"), timeout=0.3)
    assert time.monotonic() - start < 1.0


def test_requests_are_recorded(base: BaseURL) -> None:
    fetch(base + "feed/", {"User-Agent": "arsip-test/1"})
    record = base.requests[-1]
    assert (record.path, record.method, record.header("user-agent")) == (
        "/feed/", "GET", "arsip-test/1")


def test_padding_reaches_page_size() -> None:
    padded = build_site(n_articles=20, page_kb=64)
    sizes = [len(padded.resources[a.path].body) for a in padded.articles]
    assert min(sizes) >= 64 * 1024 and max(sizes) < 96 * 1024


def test_server_stops_cleanly() -> None:
    site = build_site(n_articles=3)
    with serve(site) as url:
        assert fetch(url)[0] == 200
    with pytest.raises(OSError):
        fetch(url, timeout=1.0)


def test_edited_article_gets_new_validators(site: Site, base: BaseURL) -> None:
    spec = site.articles[-3]
    _, before, _ = fetch(spec.url(base))
    site.edit_article(spec.path, append="Pembaruan: rapat lanjutan digelar pekan depan.")
    status, after, body = fetch(spec.url(base), {"If-None-Match": before["ETag"]})
    assert status == 200 and after["ETag"] != before["ETag"]
    assert b"Pembaruan: rapat lanjutan" in body
    assert after["Last-Modified"] != before["Last-Modified"]
