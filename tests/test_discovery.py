"""Sitemap and feed parsing, and the URL rules that tell articles from listing pages."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawler.discovery import (
    MalformedDocumentError,
    follow_links,
    looks_like_article,
    looks_like_hub,
    page_kind,
    parse_date,
    parse_feed,
    parse_sitemap,
    same_site,
    should_skip,
)
from crawler.sites import default_profile, parse_profile

WIB = timezone(timedelta(hours=7))
PROFILE = default_profile("https://www.kudakyv.com/")

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/</loc>
    <lastmod>2025-04-29T01:00:00+07:00</lastmod>
    <news:news><news:publication><news:name>Kudakyv</news:name><news:language>id</news:language>
    </news:publication><news:publication_date>2025-04-28T14:05:00+07:00</news:publication_date>
    <news:title>Korea Utara</news:title></news:news></url>
  <url><loc> https://kudakyv.com/2025/04/27/lain/ </loc><lastmod>2025-04-27</lastmod></url>
</urlset>"""


def test_news_sitemap_prefers_publication_date_over_lastmod() -> None:
    sitemap = parse_sitemap(NEWS_SITEMAP)
    assert not sitemap.is_index
    assert [link.url for link in sitemap.links] == [
        "https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/",
        "https://kudakyv.com/2025/04/27/lain/",
    ]
    assert sitemap.links[0].date == datetime(2025, 4, 28, 14, 5, tzinfo=WIB)
    assert sitemap.links[1].date == datetime(2025, 4, 27, tzinfo=UTC)


def test_gzipped_sitemap_index() -> None:
    body = gzip.compress(
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>https://kudakyv.com/post-sitemap.xml</loc>"
        b"<lastmod>2025-04-28T10:00:00Z</lastmod></sitemap></sitemapindex>"
    )
    sitemap = parse_sitemap(body)
    assert sitemap.is_index
    assert sitemap.links[0].url == "https://kudakyv.com/post-sitemap.xml"
    assert sitemap.links[0].date == datetime(2025, 4, 28, 10, tzinfo=UTC)


def test_truncated_sitemap_keeps_complete_entries() -> None:
    cut = NEWS_SITEMAP[: NEWS_SITEMAP.index(b"<url><loc> https")] + b"<url><loc>https://ku"
    sitemap = parse_sitemap(cut)
    assert sitemap.damaged
    # the complete entry is kept, the torn one ("https://ku") is not
    assert [link.url for link in sitemap.links] == [
        "https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/"]
    assert not parse_sitemap(NEWS_SITEMAP).damaged


@pytest.mark.parametrize(
    "body",
    [b"", b"<html><body>not a sitemap</body></html>", b"\x1f\x8b\x08garbage", b"{\"json\": 1}"],
)
def test_malformed_sitemaps_raise(body: bytes) -> None:
    with pytest.raises(MalformedDocumentError):
        parse_sitemap(body)


def test_rss_and_atom_feeds() -> None:
    rss = b"""<rss version="2.0"><channel><item><title>A</title>
      <link>https://kudakyv.com/2025/04/28/a-b-c-d/</link>
      <pubDate>Mon, 28 Apr 2025 14:05:00 +0700</pubDate></item>
      <item><guid isPermaLink="true">https://kudakyv.com/2025/04/27/e-f-g-h/</guid></item>
    </channel></rss>"""
    links = parse_feed(rss)
    assert [link.url for link in links] == [
        "https://kudakyv.com/2025/04/28/a-b-c-d/", "https://kudakyv.com/2025/04/27/e-f-g-h/"]
    assert links[0].date == datetime(2025, 4, 28, 14, 5, tzinfo=WIB)
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry>
      <link rel="alternate" href="https://kudakyv.com/x-y-z-w/"/>
      <link rel="replies" href="https://kudakyv.com/comments/"/>
      <published>2025-04-28T07:05:00Z</published></entry></feed>"""
    assert parse_feed(atom)[0].url == "https://kudakyv.com/x-y-z-w/"
    with pytest.raises(MalformedDocumentError):
        parse_feed(NEWS_SITEMAP)


def test_parse_date_forms() -> None:
    assert parse_date("2025-04-28") == datetime(2025, 4, 28, tzinfo=UTC)
    assert parse_date("Mon, 28 Apr 2025 07:05:00 GMT") == datetime(2025, 4, 28, 7, 5, tzinfo=UTC)
    assert parse_date("kemarin") is None
    assert parse_date(None) is None


@pytest.mark.parametrize(
    ("url", "article"),
    [
        ("https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/", True),
        ("https://kudakyv.com/korea-utara-bantu-rusia-melawan-ukraina/", True),
        ("https://news.detik.com/berita/d-7891234/judul-berita", True),
        ("https://kudakyv.com/?p=123", True),
        ("https://kudakyv.com/internasional/", False),
        ("https://kudakyv.com/category/internasional/page/2/", False),
        ("https://kudakyv.com/", False),
    ],
)
def test_article_urls(url: str, article: bool) -> None:
    assert looks_like_article(url, PROFILE) is article


def test_hubs_and_skips() -> None:
    assert looks_like_hub("https://kudakyv.com/")
    assert looks_like_hub("https://kudakyv.com/category/internasional/page/3/")
    assert looks_like_hub("https://kudakyv.com/nasional/")
    assert not looks_like_hub("https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/")
    assert should_skip("https://kudakyv.com/tag/rusia/")
    assert should_skip("https://kudakyv.com/wp-content/uploads/foto.jpg")
    assert should_skip("https://kudakyv.com/?s=korea")
    assert should_skip("mailto:redaksi@kudakyv.com")
    assert not should_skip("https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/")


def test_same_site_includes_subdomains_not_lookalikes() -> None:
    assert same_site("https://kudakyv.com/a", PROFILE)
    assert same_site("https://m.kudakyv.com/a", PROFILE)
    assert not same_site("https://notkudakyv.com/a", PROFILE)


def test_profile_rules_override_defaults() -> None:
    profile = parse_profile(
        'base_url = "https://kudakyv.com/"\n[articles]\nallow = ["^/read/"]\ndeny = ["/video/"]\n'
    )
    assert looks_like_article("https://kudakyv.com/read/123", profile)
    assert not looks_like_article("https://kudakyv.com/2025/04/28/a-b-c-d/", profile)
    assert not looks_like_article("https://kudakyv.com/read/video/1", profile)


def test_page_kind_trusts_the_page_over_the_url() -> None:
    assert page_kind("article", [], False) == "article"
    assert page_kind(None, ["NewsArticle"], False) == "article"
    assert page_kind("website", [], True) == "hub"
    assert page_kind(None, [], True) == "article"


def test_follow_links_from_an_article_page() -> None:
    html = """<html><body>
      <a href="https://kudakyv.com/2025/04/27/rusia-tangkap-agen-intelejen/">abs</a>
      <a href='/2025/04/26/dampak-krisis-pelanggaran-ham/'>rel</a>
      <a href="https://kudakyv.com/?p=12&amp;utm=x">entity</a>
      <a href="https://kudakyv.com/category/internasional/">hub</a>
      <a href="https://kudakyv.com/tag/rusia/">tag</a>
      <a href="https://other.example/2025/04/26/x-y-z-w/">offsite</a>
      <a href="https://kudakyv.com/2025/04/27/rusia-tangkap-agen-intelejen/#respond">again</a>
      <link rel="next" href="https://kudakyv.com/page/2/">
    </body></html>"""
    articles, hubs = follow_links(html, "https://kudakyv.com/2025/04/28/a-b-c-d/", PROFILE)
    assert articles == (
        "https://kudakyv.com/2025/04/27/rusia-tangkap-agen-intelejen/",
        "https://kudakyv.com/2025/04/26/dampak-krisis-pelanggaran-ham/",
    )
    assert hubs == ("https://kudakyv.com/category/internasional/", "https://kudakyv.com/page/2/")
