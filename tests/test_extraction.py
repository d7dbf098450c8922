"""Extraction regression cases (tests/data/extract/<case>/) and the helpers around them.

expected.json keys, each asserted only when present: url, rules, http_charset (inputs);
title, authors, published, updated, language, section, tags, canonical_url, site_name, related
(exact); text_contains, text_excludes, text_starts_with, text_ends_with, text_order (substrings
that must appear in this order), paragraphs (line count); error (an ExtractionError class name).
"""

from __future__ import annotations

import gzip
import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler import errors
from crawler.extraction import article_to_dict, decode_html, extract_article, iter_extract_paths
from crawler.extraction.dates import parse_human, parse_iso
from crawler.extraction.document import body_of, parse
from crawler.extraction.maintext import LinkTexts, looks_like_navigation
from crawler.extraction.metadata import clean_authors, clean_title
from crawler.sites import ExtractionRules
from storage.records import ArticleRecord, RelatedLink

CASES = Path(__file__).parent / "data" / "extract"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "expected.json").is_file())
WIB = timezone(timedelta(hours=7))


def _load(case: str) -> tuple[bytes, dict]:
    folder = CASES / case
    return (folder / "page.html").read_bytes(), json.loads(
        (folder / "expected.json").read_text(encoding="utf-8"))


def _rules(expected: dict) -> ExtractionRules | None:
    raw = expected.get("rules")
    if raw is None:
        return None
    return ExtractionRules(body_selector=raw.get("body"),
                           remove_selectors=tuple(raw.get("remove", ())),
                           promo_labels=tuple(raw.get("promo_labels", ())))


def test_enough_cases() -> None:
    assert len(CASE_NAMES) >= 26
    assert "seed_wordpress" in CASE_NAMES


@pytest.mark.parametrize("case", CASE_NAMES)
def test_case(case: str) -> None:
    page, expected = _load(case)
    kwargs = {"rules": _rules(expected), "http_charset": expected.get("http_charset")}
    if "error" in expected:
        with pytest.raises(getattr(errors, expected["error"])):
            extract_article(page, expected.get("url"), **kwargs)
        return
    record = extract_article(page, expected.get("url"), **kwargs)
    assert isinstance(record, ArticleRecord)
    data = article_to_dict(record, source=case)
    text = record.text
    for key in ("title", "language", "section", "canonical_url", "site_name", "updated",
                "published"):
        if key in expected:
            assert data[key] == expected[key], key
    if "authors" in expected:
        assert list(record.authors) == expected["authors"]
    if "tags" in expected:
        assert list(record.tags) == expected["tags"]
    if "related" in expected:
        assert data["related"] == expected["related"]
    for snippet in expected.get("text_contains", ()):
        assert snippet in text, snippet
    for snippet in expected.get("text_excludes", ()):
        assert snippet not in text, snippet
    if "text_starts_with" in expected:
        assert text.startswith(expected["text_starts_with"]), text[:200]
    if "text_ends_with" in expected:
        assert text.endswith(expected["text_ends_with"]), text[-200:]
    positions = [text.find(s) for s in expected.get("text_order", ())]
    assert -1 not in positions and positions == sorted(positions), positions
    if "paragraphs" in expected:
        assert len(text.splitlines()) == expected["paragraphs"], text


def test_article_to_dict_contract() -> None:
    record = ArticleRecord(
        url="https://example.id/a", title="T", text="body", authors=("A", "B"),
        published=datetime(2025, 4, 28, 14, 5, tzinfo=WIB), language="id",
        related=(RelatedLink("R", "https://example.id/r"),),
    )
    data = article_to_dict(record, source="a.html")
    assert list(data)[:8] == ["source", "url", "title", "author", "published", "language",
                              "text", "related"]
    assert data["author"] == "A; B"
    assert data["published"] == "2025-04-28T14:05:00+07:00"
    assert data["related"] == [{"title": "R", "url": "https://example.id/r"}]
    assert json.loads(json.dumps(data)) == data


def test_record_pickles_for_the_process_pool() -> None:
    page, expected = _load("seed_wordpress")
    record = extract_article(page, expected["url"])
    assert pickle.loads(pickle.dumps(record)) == record


# ---- decode_html -------------------------------------------------------------------------

def test_decode_header_charset_wins_over_guessing() -> None:
    body = "<html><body><p>Caf\u00e9 \u201cx\u201d</p></body></html>".encode("cp1252")
    assert "Caf\u00e9 \u201cx\u201d" in decode_html(body, "windows-1252")


def test_decode_meta_charset() -> None:
    body = ('<html><head><meta charset="iso-8859-1"></head><body><p>Caf\u00e9 na\u00efve</p>'
            "</body></html>").encode("latin-1")
    assert "Caf\u00e9 na\u00efve" in decode_html(body)


def test_decode_http_equiv_charset() -> None:
    body = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
            "</head><body><p>\u2013 Stra\u00dfe</p></body></html>").encode("cp1252")
    assert "\u2013 Stra\u00dfe" in decode_html(body)


def test_decode_without_charset_is_utf8() -> None:
    body = "<html><body><p>Rp 5.000 \u2013 caf\u00e9 \u201cok\u201d</p></body></html>".encode()
    assert "\u2013 caf\u00e9 \u201cok\u201d" in decode_html(body)


def test_decode_without_any_charset_guesses_a_non_utf8_page() -> None:
    # windows-1252 declared nowhere, neither in a header nor in the page
    text = ("Harga kopi di kafe \u201cSederhana\u201d naik menjadi \u20ac5 per cangkir, "
            "kata pemilik kafe yang ramah itu kepada wartawan. ") * 8
    body = f"<html><head><title>Kopi</title></head><body><p>{text}</p></body></html>"
    decoded = decode_html(body.encode("cp1252"))
    assert "\ufffd" not in decoded
    assert "\u201cSederhana\u201d naik menjadi \u20ac5" in decoded


def test_decode_utf8_page_under_a_stale_meta_charset() -> None:
    # a page re-saved as UTF-8 that still says gb2312: read as gb2312 it is mojibake
    text = "<p>新华社北京4月24日电 习近平主席向首届论坛致贺信</p>"
    body = f'<html><head><meta charset="gb2312"></head><body>{text}</body></html>'.encode()
    assert text in decode_html(body)
    # a header is still believed, and a real gb2312 page still decodes as gb2312
    assert text not in decode_html(body, "gb2312")
    legacy = f'<html><head><meta charset="gb2312"></head><body>{text}</body></html>'
    assert text in decode_html(legacy.encode("gb18030"))


def test_decode_bom() -> None:
    body = b"\xef\xbb\xbf<html><body><p>caf\xc3\xa9</p></body></html>"
    assert "caf\u00e9" in decode_html(body)


# ---- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize(("page", "error"), [
    (b"", errors.EmptyDocumentError),
    ("   \n ", errors.EmptyDocumentError),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", errors.NotHTMLError),
    ('{"title": "not a page"}', errors.NotHTMLError),
    ("<html><head><title>x</title></head><body>  </body></html>", errors.EmptyDocumentError),
])
def test_named_errors(page: str | bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        extract_article(page, "https://example.id/")
    assert issubclass(error, errors.ExtractionError)


# ---- files ------------------------------------------------------------------------------

def test_iter_extract_paths_folder_with_gzip(tmp_path: Path) -> None:
    page, expected = _load("seed_wordpress")
    (tmp_path / "b").mkdir()
    (tmp_path / "a.html").write_bytes(page)
    (tmp_path / "b" / "c.html.gz").write_bytes(gzip.compress(page))
    (tmp_path / "b" / "d.htm").write_text("<html><body></body></html>")
    (tmp_path / "notes.txt").write_text("ignored")
    results = list(iter_extract_paths([str(tmp_path)], url=expected["url"]))
    sources = [Path(source).relative_to(tmp_path).as_posix() for source, _ in results]
    assert sources == ["a.html", "b/c.html.gz", "b/d.htm"]
    first, second, third = (value for _, value in results)
    assert isinstance(first, ArticleRecord) and first == second
    assert isinstance(third, errors.EmptyDocumentError)


def test_iter_extract_paths_keeps_the_path_as_given(tmp_path: Path) -> None:
    page, _ = _load("seed_wordpress")
    path = tmp_path / "one.html"
    path.write_bytes(page)
    [(source, record)] = list(iter_extract_paths([str(path)]))
    assert source == str(path)
    assert isinstance(record, ArticleRecord)
    assert record.url == "https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/"


def test_iter_extract_paths_missing_path(tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError):
        list(iter_extract_paths([str(tmp_path / "nope.html")]))


# ---- units ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Senin, 28 April 2025 14:05 WIB", datetime(2025, 4, 28, 14, 5, tzinfo=WIB)),
    ("28/04/2025, 14:05 WIB", datetime(2025, 4, 28, 14, 5, tzinfo=WIB)),
    ("Selasa, 3 Des 2024 | 09.30 WITA",
     datetime(2024, 12, 3, 9, 30, tzinfo=timezone(timedelta(hours=8)))),
    ("Rabu, 17 Agt 2022 20:15 WIT",
     datetime(2022, 8, 17, 20, 15, tzinfo=timezone(timedelta(hours=9)))),
    ("Kamis, 2 Mei 2024", datetime(2024, 5, 2)),
    ("April 28, 2025 2:05 pm", datetime(2025, 4, 28, 14, 5)),
    ("Jumat, 5 Okt 2023 07:00 WIB", datetime(2023, 10, 5, 7, 0, tzinfo=WIB)),
])
def test_parse_human_dates(text: str, expected: datetime) -> None:
    assert parse_human(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-04-28T14:05:00+07:00", datetime(2025, 4, 28, 14, 5, tzinfo=WIB)),
    ("2025-04-28T14:05:00+0700", datetime(2025, 4, 28, 14, 5, tzinfo=WIB)),
    ("2025-04-28T07:05:00Z", datetime(2025, 4, 28, 7, 5, tzinfo=UTC)),
    ("2025-04-28 14:05:00", datetime(2025, 4, 28, 14, 5)),
    ("Mon, 28 Apr 2025 14:05:00 +0700", datetime(2025, 4, 28, 14, 5, tzinfo=WIB)),
    ("nonsense", None),
])
def test_parse_iso(text: str, expected: datetime | None) -> None:
    assert parse_iso(text) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    (["Oleh Ahmad Fauzi"], ("Ahmad Fauzi",)),
    (["Penulis: Rina Sari dan Budi Santoso"], ("Rina Sari", "Budi Santoso")),
    (["Reporter: Dewi Lestari | Editor: Agus Salim"], ("Dewi Lestari", "Agus Salim")),
    (["By Jane Doe and John Roe"], ("Jane Doe", "John Roe")),
    (["A. Rahman, B. Wijaya"], ("A. Rahman", "B. Wijaya")),
    (["https://example.id/author/x", "Penulis Sari"], ("Sari",)),
])
def test_clean_authors(raw: list[str], expected: tuple[str, ...]) -> None:
    assert clean_authors(raw) == expected


@pytest.mark.parametrize(("title", "site", "url", "expected"), [
    ("Harga Beras Naik | Kudakyv", "Kudakyv", None, "Harga Beras Naik"),
    ("Harga Beras Naik - Kompas.com", None, "https://www.kompas.com/x", "Harga Beras Naik"),
    ("Kudakyv – Harga Beras Naik", "Kudakyv", None, "Harga Beras Naik"),
    ("Jokowi - Prabowo Bertemu di Solo", "Kudakyv", None, "Jokowi - Prabowo Bertemu di Solo"),
])
def test_clean_title(title: str, site: str | None, url: str | None, expected: str) -> None:
    assert clean_title(title, site, url) == expected


def test_read_more_button_is_not_a_related_headline() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {i} of a long enough article about the council budget and bus routes, "
        f"with several clauses so that it reads like real prose for the extractor.</p>"
        for i in range(4)
    )
    page = (f"<html><body><article><h1>Budget</h1>{paragraphs}"
            '<p><a href="/sharing">Read more about sharing.</a></p>'
            '<p><a href="/x">Read more: Council delays vote</a></p></article></body></html>')
    record = extract_article(page, "https://news.example.com/a")
    assert record.related == (RelatedLink("Council delays vote", "https://news.example.com/x"),)
    assert "Paragraph 3 of a long" in record.text


def test_article_inside_a_declarative_shadow_root_is_kept() -> None:
    # <template shadowrootmode> holds rendered content: trafilatura keeps it, so must we
    paragraphs = "".join(
        f"<p>Paragraf ke-{i} dari berita ini cukup panjang untuk dianggap isi artikel yang "
        f"sebenarnya oleh ekstraktor, bukan sekadar menu atau tautan.</p>" for i in range(6))
    html = ("<html><head><title>Judul</title></head><body><nav><a href='/'>Menu</a></nav>"
            f"<div><template shadowrootmode='open'><article>{paragraphs}</article></template>"
            "</div></body></html>")
    record = extract_article(html, "https://kudakyv.test/2025/04/28/berita/")
    assert "Paragraf ke-5 dari berita ini" in record.text


# ---- the fast path's answer, checked ------------------------------------------------------

def _links_page(titles: list[str]) -> LinkTexts:
    links = "".join(f'<li><a href="/a/{i}">{t}</a></li>' for i, t in enumerate(titles))
    return LinkTexts(parse(f"<html><body><ul>{links}</ul></body></html>"))


def test_a_list_of_linked_headlines_is_navigation() -> None:
    titles = [f"Harga beras medium naik lagi di pasar tradisional kota nomor {i}" for i in range(8)]
    assert looks_like_navigation("\n".join(titles), _links_page(titles))
    menu = ["Berita", "Bola", "Video", "Indeks", "Foto"]
    assert looks_like_navigation("\n".join(menu), _links_page(menu))


def test_a_menu_as_list_items_is_navigation() -> None:
    # trafilatura writes list items as "- Item": the dash is not part of the link's text
    menu = ["Berita", "Bola", "Video", "Indeks", "Foto"]
    lead = ("Pemerintah kota menyiapkan anggaran tambahan untuk memperbaiki jalan yang rusak "
            "setelah banjir pekan lalu.")
    text = "\n".join([lead] + [f"- {item}" for item in menu])
    assert looks_like_navigation(text, _links_page(menu))


def test_a_long_run_of_short_items_without_sentences_is_navigation() -> None:
    # a calendar or a list of categories, linked or not; a short ingredient list is not
    days = [f"| {d} | {d + 1} | {d + 2} |" for d in range(1, 40, 3)]
    assert looks_like_navigation("\n".join(days), _links_page([]))
    ingredients = ["- 125 g Mehl", "- 65 g Zucker", "- 1 Ei", "- 1 TL Backpulver",
                   "Alles verkneten und kalt stellen."]
    assert not looks_like_navigation("\n".join(ingredients), _links_page([]))


def test_prose_with_a_few_linked_lines_is_not_navigation() -> None:
    prose = ("Pemerintah kota menyiapkan anggaran tambahan untuk memperbaiki jalan yang rusak "
             "setelah banjir pekan lalu, kata kepala dinas kepada wartawan di balai kota.")
    titles = ["Bulog Jamin Stok", "Harga Beras Naik"]
    text = "\n".join([prose, titles[0], prose, prose, titles[1], prose])
    assert not looks_like_navigation(text, _links_page(titles))


def test_a_short_fast_answer_gives_way_to_the_full_extraction(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from crawler.extraction import maintext

    prose = " ".join(["Warga mengeluhkan genangan yang tidak kunjung surut di jalan utama."] * 6)
    page = "<html><body>" + f"<p>{prose}</p>" * 6 + "</body></html>"
    answers = {True: "Warga mengeluhkan genangan.", False: "\n".join([prose] * 6)}
    monkeypatch.setattr(maintext, "_extract", lambda tree, url, *, fast: answers[fast])
    tree = parse(page)
    assert maintext.main_text(tree, body_of(tree), None, lambda: parse(page)) == answers[False]
    # a long fast answer that reads as prose is kept without a second extraction
    answers[True] = answers[False][:-10]
    assert maintext.main_text(tree, body_of(tree), None, lambda: 1 / 0) == answers[True]


def test_related_links_resolve_against_the_canonical_url_without_a_page_url() -> None:
    prose = "Harga cabai rawit di pasar induk turun hingga sepertiga dalam sepekan terakhir. " * 5
    page = ('<html><head><link rel="canonical" href="https://warta.example/ekonomi/2025/cabai">'
            f'</head><body><article><p>{prose}</p><p>Baca juga: <a href="../bawang">Harga '
            f'Bawang Stabil</a></p><p>{prose}</p></article></body></html>')
    record = extract_article(page)
    assert [link.url for link in record.related] == ["https://warta.example/ekonomi/bawang"]
    # a page URL, when given, still wins
    record = extract_article(page, "https://mirror.example/x/y")
    assert [link.url for link in record.related] == ["https://mirror.example/bawang"]


def test_a_wall_of_text_from_the_fast_path_gives_way_to_paragraphs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # trafilatura's last resort returns a JSON-LD articleBody or the page's text as one line:
    # long enough to pass every other check, but the comparison finds the paragraphs
    from crawler.extraction import maintext

    sentence = "Warga mengungsi ke masjid setelah air sungai naik sejak dini hari. "
    page = "<html><body>" + f"<p>{sentence * 8}</p>" * 8 + "</body></html>"
    paragraphs = "\n".join([(sentence * 8).strip()] * 8)
    answers = {True: " ".join([(sentence * 8).strip()] * 8) + ' <iframe src="x">',
               False: paragraphs}
    monkeypatch.setattr(maintext, "_extract", lambda tree, url, *, fast: answers[fast])
    tree = parse(page)
    assert len(answers[True]) > len(answers[False])
    assert maintext.main_text(tree, body_of(tree), None, lambda: parse(page)) == paragraphs


def test_link_texts_are_gathered_once_per_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    # the navigation check and the trailing-headline cut share one walk over the links
    from crawler.extraction import maintext

    walks: list[int] = []
    gather = maintext.LinkTexts._gather
    monkeypatch.setattr(maintext.LinkTexts, "_gather",
                        lambda self: walks.append(1) or gather(self))
    titles = [f"Harga beras medium naik lagi di pasar kota nomor {i}" for i in range(4)]
    prose = "Pemerintah kota menyiapkan anggaran tambahan untuk memperbaiki jalan. " * 3
    lines = ["Singkat.", "Pendek.", (prose * 4).strip(), *(f"- {t}" for t in titles)]
    links = "".join(f'<li><a href="/a/{i}">{t}</a></li>' for i, t in enumerate(titles))
    page = f"<html><body><p>{prose * 4}</p><ul>{links}</ul></body></html>"
    monkeypatch.setattr(maintext, "_extract", lambda tree, url, *, fast: "\n".join(lines))
    tree = parse(page)
    text = maintext.main_text(tree, body_of(tree), None, lambda: 1 / 0)
    assert text == "\n".join(lines[:3])
    assert len(walks) == 1


@pytest.mark.parametrize("layout", [
    "<table><tr><td>{0}<br><br>{0}</td></tr></table>",  # no <p> at all
    "<table><tr><td><p> </p>{0}</td></tr></table>",  # only empty <p>
    "<table><tr><td><p>{0}</p></td><td><table><tr><td>x</td></tr></table></td></tr></table>",
])
def test_a_long_fast_answer_on_a_table_layout_is_checked(layout: str) -> None:
    from crawler.extraction import maintext

    prose = "Warga mengungsi ke masjid setelah air sungai naik sejak dini hari. " * 12
    tree = parse(f"<html><body>{layout.format(prose)}</body></html>")
    answer = prose[:1500]  # long enough to pass on length and paragraph share alone
    assert maintext._tabular(body_of(tree))
    prose_page = parse(f"<html><body><div><p>{prose}</p><p>{prose}</p></div></body></html>")
    assert not maintext._tabular(body_of(prose_page))
    assert not maintext._short(answer, body_of(prose_page))


def test_paragraphs_set_as_divs_count_as_the_page_prose() -> None:
    # a site that sets its paragraphs as <div>s: a fast answer of 900 characters is a small
    # part of the story even though the page's few <p>s hold less than that
    from crawler.extraction import maintext

    prose = "Der Reporter hat die Redaktion mit gefälschten Artikeln in eine Krise gestürzt. " * 4
    page = parse("<html><body><p>Ein Albtraum</p><p>Vervielfältigung nur mit Genehmigung</p>"
                 + f'<div class="absatz">{prose}</div>' * 20 + "</body></html>")
    answer = (prose * 3)[:900]
    assert maintext._short(answer, body_of(page))
    # the same answer from a page whose whole story it is stays unchecked
    alone = parse(f"<html><body><div>{answer}</div><ul><li><a href='/'>Start</a></li></ul>"
                  "</body></html>")
    assert not maintext._short(answer, body_of(alone))


def test_on_a_table_layout_the_full_comparison_wins_unless_much_shorter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # plain trafilatura's comparison is made for these layouts; a few more lines in the fast
    # answer are the page's furniture, many more are the story the comparison missed
    from crawler.extraction import maintext

    prose = "Warga mengungsi ke masjid setelah air sungai naik sejak dini hari. " * 12
    page = f"<html><body><table><tr><td>{prose}<br><br>{prose}</td></tr></table></body></html>"
    full = "\n".join([prose.strip()] * 3)
    answers = {True: full + "\nPartner news: the Queen of Thieves, a crime boss", False: full}
    monkeypatch.setattr(maintext, "_extract", lambda tree, url, *, fast: answers[fast])
    tree = parse(page)
    assert maintext.main_text(tree, body_of(tree), None, lambda: parse(page)) == full
    answers[True] = "\n".join([prose.strip()] * 4)
    tree = parse(page)
    assert maintext.main_text(tree, body_of(tree), None, lambda: parse(page)) == answers[True]


def test_a_wall_from_the_full_comparison_loses_to_the_fast_paragraphs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the mirror of the wall rule: on a table layout the comparison may fall back to a wall
    from crawler.extraction import maintext

    prose = "Warga mengungsi ke masjid setelah air sungai naik sejak dini hari. " * 12
    page = f"<html><body><table><tr><td>{prose}<br><br>{prose}</td></tr></table></body></html>"
    paragraphs = "\n".join([prose.strip()] * 4)
    answers = {True: paragraphs, False: " ".join([prose.strip()] * 5)}
    monkeypatch.setattr(maintext, "_extract", lambda tree, url, *, fast: answers[fast])
    tree = parse(page)
    assert maintext._wall(answers[False]) and not maintext._wall(paragraphs)
    assert maintext.main_text(tree, body_of(tree), None, lambda: parse(page)) == paragraphs


def test_the_quality_bench_tells_table_layouts_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "bench"))
    devsets = importlib.import_module("devsets")
    prose = "Warga mengungsi ke masjid setelah air sungai naik sejak dini hari. " * 5
    layout = (f"<html><body><table><tr><td><a href='/'>Beranda</a></td><td>{prose}</td></tr>"
              "</table></body></html>")
    article = (f"<html><body><div><p>{prose}</p><table><tr><td>Rp 12.000</td><td>naik</td>"
               "</tr></table></div></body></html>")
    assert devsets.uses_table_layout(layout.encode())
    assert not devsets.uses_table_layout(article.encode())
    assert not devsets.uses_table_layout(b"")  # nothing to tell: not a table layout


def test_a_stripped_promo_block_keeps_its_place_in_the_container() -> None:
    # a body of one <p> and a promo <p>: without a stand-in the container has one child left,
    # and trafilatura widens its search to a wrapper with the page's footer
    from crawler.extraction.promos import PLACEHOLDER, drop_placeholders, strip_promos

    prose = "Perbaikan jalan di kawasan pelabuhan rampung sebelum arus mudik dimulai. " * 4
    tree = parse(f'<html><body><div id="area"><p>{prose}<br><br>{prose}</p><p><strong>Baca '
                 'juga:</strong><br><a href="/a">Jalan rusak bikin truk antre panjang</a></p>'
                 '</div></body></html>')
    related = strip_promos(body_of(tree), "https://warta.example/", ())
    assert [link.title for link in related] == ["Jalan rusak bikin truk antre panjang"]
    area = tree.get_element_by_id("area")
    assert [child.tag for child in area] == ["p", "p"]
    assert "Baca" not in area.text_content()
    text = f"{prose}\n{PLACEHOLDER}\n- {PLACEHOLDER}\n| {PLACEHOLDER} |\n---"
    assert drop_placeholders(text) == f"{prose}\n---"


def test_a_label_cut_out_of_a_word_by_the_window_edge_is_no_label() -> None:
    # the search window's first character is no start of text: "sp|read more:" is a sentence
    from crawler.extraction.promos import _TRAILING_WINDOW, PromoStripper

    stripper = PromoStripper(None)
    label = "read more:"
    chunk = "Farmers say they must sp" + label + " " * (_TRAILING_WINDOW - len(label))
    assert stripper._label_before(chunk) is None
    closing = "Harvests were late this year. Read more: "
    found = stripper._label_before(closing)
    assert found is not None and found.group("label") == "Read more"


def test_subheadings_count_as_lost_only_beside_kept_paragraphs() -> None:
    from crawler.extraction.maintext import lost_subheadings

    prose = "Warga mengungsi ke masjid setelah air sungai naik sejak dini hari tadi pagi. " * 2
    other = "Harga cabai rawit di pasar induk turun dua ribu rupiah per kilogram pekan ini. " * 2
    page = (f"<html><body><div><p>{prose}</p><h2>Air mulai surut</h2><p>{prose}x</p></div>"
            f"<div><h3>Terpopuler</h3><p>{other}</p></div></body></html>")
    tree = parse(page)
    bare = f"{' '.join(prose.split())}\n{' '.join((prose + 'x').split())}"
    assert lost_subheadings(bare, body_of(tree)) == ("Air mulai surut",)
    kept = bare.replace("\n", "\nAir mulai surut\n")
    assert lost_subheadings(kept, body_of(tree)) == ()  # the answer has its structure


def test_the_parsed_tree_is_made_of_plain_html_elements() -> None:
    # parse() picks element classes in C (crawler.extraction.document); an lxml that ignored
    # the lookup, or trafilatura needing lxml.html's form classes, would show here first
    from lxml.html import HtmlElement

    tree = parse("<html><body><form><input name=q value=x><select><option>a</option></select>"
                 "</form><p>Satu <b>dua</b> tiga.</p></body></html>")
    assert {type(el) for el in tree.iter()} == {HtmlElement}
    paragraph = tree.find(".//p")
    assert paragraph.text_content() == "Satu dua tiga."
    paragraph.find("b").drop_tag()
    assert paragraph.text == "Satu dua tiga."


@pytest.mark.parametrize("fast", [True, False])
def test_the_shared_trafilatura_options_extract_as_the_keyword_call_does(fast: bool) -> None:
    # maintext builds trafilatura's Extractor once and copies it per page, setting the URL
    # itself: a trafilatura whose options grew or renamed a field would extract differently
    import trafilatura

    from crawler.extraction.maintext import _extract

    url = "https://kudakyv.test/2025/05/03/berita/"
    for case in CASE_NAMES[:12]:
        page, _ = _load(case)
        plain = trafilatura.bare_extraction(
            parse(page.decode("utf-8", "replace")), url=url, include_comments=False,
            with_metadata=False, deduplicate=False, fast=fast)
        expected = " ".join(plain.text.split()) if plain is not None and plain.text else None
        ours = _extract(parse(page.decode("utf-8", "replace")), url, fast=fast)
        assert (" ".join(ours.split()) if ours else None) == expected, case
