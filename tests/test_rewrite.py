"""Link rewriting of archived HTML and CSS (storage.replay.rewrite), case by case."""

# ruff: noqa: E501  (cases are clearest one to a line)

from __future__ import annotations

import pytest

from storage.replay.rewrite import UrlRewriter, rewrite_css, rewrite_html

TS = "20250428070530"
BASE = "https://kudakyv.test/2025/04/28/berita/"


def urls() -> UrlRewriter:
    return UrlRewriter("/", TS, BASE)


@pytest.mark.parametrize("markup, expected", [
    ('<a href="../lain/">x</a>', f'<a href="/{TS}/https://kudakyv.test/2025/04/28/lain/">x</a>'),
    ('<img src="//cdn.kudakyv.test/a.jpg">', f'<img src="/{TS}im_/https://cdn.kudakyv.test/a.jpg">'),
    ('<link rel="stylesheet" href="/s.css">', f'<link rel="stylesheet" href="/{TS}cs_/https://kudakyv.test/s.css">'),
    ('<link rel="icon" href="/f.ico">', f'<link rel="icon" href="/{TS}im_/https://kudakyv.test/f.ico">'),
    ('<link rel="canonical" href="/c/">', f'<link rel="canonical" href="/{TS}/https://kudakyv.test/c/">'),
    ('<script src="/j.js" integrity="sha384-x" async></script>', f'<script src="/{TS}js_/https://kudakyv.test/j.js" async></script>'),
    ('<iframe src="/embed/"></iframe>', f'<iframe src="/{TS}if_/https://kudakyv.test/embed/"></iframe>'),
    ('<img data-src="/l.jpg" data-lazy-srcset="/a.jpg 1x, /b.jpg 2x">',
     f'<img data-src="/{TS}im_/https://kudakyv.test/l.jpg" data-lazy-srcset="/{TS}im_/https://kudakyv.test/a.jpg 1x, /{TS}im_/https://kudakyv.test/b.jpg 2x">'),
    ('<img srcset="/a,b.jpg 300w, /c.jpg 600w">',
     f'<img srcset="/{TS}im_/https://kudakyv.test/a,b.jpg 300w, /{TS}im_/https://kudakyv.test/c.jpg 600w">'),
    ('<img srcset="/x.jpg, /y.jpg">',  # no descriptors: split at the comma and space
     f'<img srcset="/{TS}im_/https://kudakyv.test/x.jpg, /{TS}im_/https://kudakyv.test/y.jpg">'),
    ('<img srcset="/x.jpg 1x,/y.jpg 2x,">',  # a comma after descriptors ends a candidate
     f'<img srcset="/{TS}im_/https://kudakyv.test/x.jpg 1x, /{TS}im_/https://kudakyv.test/y.jpg 2x">'),
    ('<img srcset="/x.jpg,, /y.jpg">',  # commas that end a URL end its candidate
     f'<img srcset="/{TS}im_/https://kudakyv.test/x.jpg, /{TS}im_/https://kudakyv.test/y.jpg">'),
    ('<div style="background:url(\'/bg.png\')">', f'<div style="background:url(\'/{TS}im_/https://kudakyv.test/bg.png\')">'),
    ('<meta http-equiv="refresh" content="5; url=/baru/">', f'<meta http-equiv="refresh" content="5; url=/{TS}/https://kudakyv.test/baru/">'),
    ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">',
     '<meta http-equiv="x-archive-orig-content-security-policy" content="default-src \'none\'">'),
    ('<form action="/cari"><input type="image" src="/go.png"></form>',
     f'<form action="/{TS}/https://kudakyv.test/cari"><input type="image" src="/{TS}im_/https://kudakyv.test/go.png"></form>'),
    ('<a href="mailto:redaksi@kudakyv.test">m</a><a href="#atas">a</a><img src="data:image/gif;base64,R0">',
     '<a href="mailto:redaksi@kudakyv.test">m</a><a href="#atas">a</a><img src="data:image/gif;base64,R0">'),
    ('<a href="ftp://kudakyv.test/x">f</a><a href="javascript:void(0)">j</a>',
     '<a href="ftp://kudakyv.test/x">f</a><a href="javascript:void(0)">j</a>'),
])
def test_each_kind_of_url_points_into_the_archive(markup: str, expected: str) -> None:
    assert rewrite_html(markup, urls()) == expected


def test_everything_else_stays_byte_for_byte() -> None:
    page = ("<!DOCTYPE html>\n<html lang=id><HEAD><!-- komentar <a href=/x> -->\n"
            "<script>var s = '<img src=\"/tidak.png\">'; if (a < b && c) {}</script>\n"
            "<style>p{margin:0}</style></HEAD>\n<BODY class='x'>  &amp; &nbsp; &#8212;\n"
            "<p CLASS=teks>Isi</p><br/></BODY></html>\n")
    assert rewrite_html(page, urls()) == page
    banner = rewrite_html(page, urls(), "<arsip-banner></arsip-banner>")
    assert banner == page.replace("<BODY class='x'>", "<BODY class='x'><arsip-banner></arsip-banner>")


def test_base_applies_to_the_urls_after_it() -> None:
    out = rewrite_html('<head><base href="https://static.kudakyv.test/tema/"></head>'
                       '<body><img src="logo.png"></body>', urls())
    assert f'<base href="/{TS}/https://static.kudakyv.test/tema/">' in out
    assert f'src="/{TS}im_/https://static.kudakyv.test/tema/logo.png"' in out


def test_title_and_textarea_are_text() -> None:
    out = rewrite_html('<html><head><title>Pakai tag <body> di sini</title></head><body>'
                       '<textarea><a href="/x">contoh</a></textarea></body></html>', urls(), "<B>")
    assert "<title>Pakai tag <body> di sini</title>" in out
    assert '<textarea><a href="/x">contoh</a></textarea>' in out
    assert out.count("<B>") == 1 and "<body><B>" in out


def test_a_page_without_a_body_tag_gets_the_banner_at_its_end() -> None:
    assert rewrite_html("<p>hanya paragraf</p>", urls(), "<B>") == "<p>hanya paragraf</p><B>"


def test_srcdoc_frames_are_rewritten_too() -> None:
    out = rewrite_html('<iframe srcdoc="<img src=/a.png>"></iframe>', urls())
    assert f"/{TS}im_/https://kudakyv.test/a.png" in out


def test_stylesheets() -> None:
    css = ('@import "tata.css";\n@import url(\'/cetak.css\') print;\n'
           "body{background:url(data:image/png;base64,AA)}\n"
           ".a{background-image:url( ../img/a.png )}\n"
           '@font-face{src:url("f.woff2") format("woff2")}')
    out = rewrite_css(css, UrlRewriter("/", TS, "https://kudakyv.test/tema/css/gaya.css"))
    assert f'@import "/{TS}cs_/https://kudakyv.test/tema/css/tata.css";' in out
    assert f"@import url('/{TS}cs_/https://kudakyv.test/cetak.css') print" in out
    assert "url(data:image/png;base64,AA)" in out
    assert f"url(/{TS}im_/https://kudakyv.test/tema/img/a.png)" in out
    assert f'url("/{TS}im_/https://kudakyv.test/tema/css/f.woff2")' in out


def test_image_sets_and_imports_each_get_their_own_modifier() -> None:
    css = ('.h{background-image:image-set("hero.png" 1x, url(hero@2x.png) 2x)}'
           '.w{background:-webkit-image-set(\'w.png\' 1x)}'
           '@import url("cetak.css");')
    out = rewrite_css(css, UrlRewriter("/", TS, "https://kudakyv.test/tema/gaya.css"))
    assert f'image-set("/{TS}im_/https://kudakyv.test/tema/hero.png" 1x, url(/{TS}im_/https://kudakyv.test/tema/hero@2x.png) 2x)' in out
    assert f"-webkit-image-set('/{TS}im_/https://kudakyv.test/tema/w.png' 1x)" in out
    assert f'@import url("/{TS}cs_/https://kudakyv.test/tema/cetak.css");' in out
    assert out.count(f"/{TS}") == 4  # nothing rewritten twice
