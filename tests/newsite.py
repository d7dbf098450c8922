"""A generated Kudakyv-style Indonesian WordPress newsroom, served on 127.0.0.1 for tests.

    site = build_site(n_articles=12)
    with serve(site) as base:          # "http://127.0.0.1:PORT/", a str with .requests and .site
        ...crawl base...
        assert not [r for r in base.requests if r.path.startswith("/private/")]

Pages are written with absolute links to ``PLACEHOLDER`` (WordPress writes absolute URLs) and the
server swaps in its real address when it first serves a resource, so a ``Site`` is plain data that
can be built once and served on any port. Everything a test needs to judge a crawl is ground truth
on ``Site`` and ``ArticleSpec``: article paths, titles, authors, dates, promo links, and the strings
that must or must not survive extraction.

``python -m tests.newsite --articles 1000 --page-kb 64`` serves a site in the foreground and prints
the base URL on its first line (the benchmark runs it in its own process).
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import html
import json
import random
import re
import socket
import sys
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests import newsite_feeds as feeds
from tests import newsite_text as txt
from tests.newsite_feeds import (
    CDN_PLACEHOLDER,
    MALFORMED_FEED_PATH,
    MALFORMED_SITEMAP_PATH,
    PLACEHOLDER,
)

WIB = timezone(timedelta(hours=7), "WIB")
# beside the repository, never copied into it; the seed article is skipped when absent
SEED_FILE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_b55a468557d253ac.txt"
SECTIONS = ("nasional", "internasional", "ekonomi", "teknologi")

# Ground-truth paths of the special, non-article resources.
PRIVATE_PATH = "/private/2025/04/28/rapat-redaksi-internal/"
NOT_FOUND_PATH = "/2025/04/01/berita-yang-sudah-dihapus/"
ERROR_PATH = "/2025/04/02/halaman-galat-server/"
EMPTY_PATH = "/2025/04/03/halaman-kosong-tanpa-isi/"
PDF_AT_PAGE_PATH = "/2025/04/04/dokumen-apbd-tahun-2025/"
PDF_PATH = "/wp-content/uploads/2025/04/laporan-apbd-2025.pdf"
JPEG_PATH = "/wp-content/uploads/2025/04/foto-rapat-paripurna.jpg"
SHORTLINK_PATH = "/?p=123"          # 301 -> an article
OLD_SLUG_PATH = "/old-slug/"        # 301 -> /?p=124 -> 301 -> another article
# Page requisites: (path, host) of each; "site" is the site's host, "cdn" its static host.
STYLE_PATH = "/wp-content/themes/kabar/style.css?ver=2.4.1"
REQUISITES = {
    STYLE_PATH: "site",
    "/wp-content/themes/kabar/parts/layout.css?ver=2.4.1": "site",
    "/wp-content/themes/kabar/images/header-bg.png": "site",
    "/wp-content/themes/kabar/images/ad-slot.gif": "site",
    "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1": "site",
    "/kabar/fonts.css?ver=2.4.1": "cdn",
    "/kabar/fonts/kabar-sans.woff2": "cdn",
}
CDN_IMAGE_PATH = "/uploads/2025/04/grafik-anggaran.png"   # in the media article's body
# the colour the theme's stylesheet gives an article title (the browser test reads it back)
TITLE_COLOR = "rgb(179, 0, 27)"

# Lines of boilerplate no extractor should keep as article text.
BOILERPLATE = ("ADVERTISEMENT", "SCROLL TO CONTINUE WITH CONTENT", "Bagikan:",
               "Hak Cipta © 2025 Kudakyv", "Tinggalkan Balasan", "Berita Terpopuler")

_TEXT_TYPES = ("text/", "xml", "json", "javascript")


@dataclass
class Resource:
    """One URL's answer. ``body`` may contain ``PLACEHOLDER``; the server substitutes it."""

    body: bytes
    content_type: str
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    gzip_ok: bool = True            # may be sent with Content-Encoding: gzip when asked
    gzip_file: bool = False         # the entity is a .gz file (compressed after substitution)
    etag: str | None = None         # strong validator, quoted; answers If-None-Match with 304
    last_modified: datetime | None = None
    slow: bool = False              # sleeps Site.slow_seconds before answering


@dataclass
class Promo:
    label: str                      # as printed: "Baca Juga", ">>", "Artikel Terkait", ...
    title: str
    href: str                       # site path of the promoted article
    form: str                       # which template wrote it (see newsite_text.PROMO_FORMS)


@dataclass
class ArticleSpec:
    path: str
    title: str
    author: str
    published: datetime             # aware, +07:00
    modified: datetime
    section: str
    text: list[str]                 # the real paragraphs, in order, as plain text
    promos: list[Promo] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    in_sitemap: bool = True
    in_feed: bool = False
    on_home: bool = False
    encoding: str = "utf-8"
    charset_in_header: bool = True  # False: declared only by <meta charset>
    flags: frozenset[str] = frozenset()   # seed, prose_baca_juga, charset_header, charset_meta,
    #                                       broken_html, date_line_only, slow, hidden, has_media
    keep: list[str] = field(default_factory=list)   # sentences that must stay in the text
    editor: str = "Redaksi"
    promo_positions: list[int] | None = None   # paragraph index each promo precedes (seed only)

    @property
    def body_text(self) -> str:
        return "\n".join(self.text)

    @property
    def must_not_contain(self) -> list[str]:
        """Promo headlines and ad lines; none may appear in the extracted article text."""
        return [p.title for p in self.promos] + ["ADVERTISEMENT", "SCROLL TO CONTINUE WITH CONTENT"]

    def url(self, base: str) -> str:
        return base.rstrip("/") + self.path

    def related(self, base: str) -> list[dict[str, str]]:
        """Expected ``related`` links: every promoted article, in page order."""
        return [{"title": p.title, "url": base.rstrip("/") + p.href} for p in self.promos]


@dataclass
class RequestRecord:
    path: str
    method: str
    headers: list[tuple[str, str]]
    at: float
    status: int = 0         # what the server answered (0: no answer, e.g. a slow page cut off)
    body_bytes: int = 0     # bytes of body sent (0 for a 304 or a HEAD)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass
class Site:
    resources: dict[str, Resource]
    articles: list[ArticleSpec]
    slow_seconds: float = 2.0
    per_page: int = 4
    requests: list[RequestRecord] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)     # from path -> final article path
    private_paths: tuple[str, ...] = (PRIVATE_PATH,)
    not_found_path: str = NOT_FOUND_PATH
    error_path: str = ERROR_PATH
    empty_path: str = EMPTY_PATH
    binary_paths: tuple[str, ...] = (PDF_PATH, JPEG_PATH, PDF_AT_PAGE_PATH)
    malformed_sitemap_path: str = MALFORMED_SITEMAP_PATH
    malformed_feed_path: str = MALFORMED_FEED_PATH
    boilerplate: tuple[str, ...] = BOILERPLATE
    # paragraphs every article body carries (an app box, a newsletter line): the first after the
    # second paragraph, the others at the end; none is article text
    site_lines: tuple[str, ...] = ()
    page_kb: int = 0
    # A closed gate holds every request whose path ``held`` accepts until it opens (or the
    # server stops): how a test keeps a crawl in a state for as long as it needs.
    gate: threading.Event | None = None
    held: Callable[[str], bool] = field(default=lambda _path: True, repr=False)
    _render: Callable[[ArticleSpec], Resource] | None = field(default=None, repr=False)

    def article(self, path_or_flag: str) -> ArticleSpec:
        """The article at a path, or the first one carrying a flag (``site.article("seed")``)."""
        for spec in self.articles:
            if spec.path == path_or_flag or path_or_flag in spec.flags:
                return spec
        raise KeyError(path_or_flag)

    def with_flag(self, flag: str) -> list[ArticleSpec]:
        return [a for a in self.articles if flag in a.flags]

    def article_paths(self, *, include_slow: bool = True) -> set[str]:
        return {a.path for a in self.articles if include_slow or "slow" not in a.flags}

    @property
    def hidden_paths(self) -> set[str]:
        """Articles reachable only through page 2+ of a section listing."""
        return {a.path for a in self.with_flag("hidden")}

    @property
    def slow_path(self) -> str:
        return self.article("slow").path

    def edit_article(self, path: str, *, append: str | None = None,
                     text: list[str] | None = None, modified: datetime | None = None) -> None:
        """Change an article in place, as an editor would: a paragraph appended, or the whole
        text replaced (``text``, e.g. reverting to an earlier one). Its validators change, and
        the sitemaps and feeds date it ``modified`` (default: now), as WordPress does."""
        spec = self.article(path)
        if text is not None:
            spec.text = list(text)
        if append is not None:
            spec.text.append(append)
        spec.modified = modified or datetime.now(WIB)
        assert self._render is not None
        self.resources[path] = self._render(spec)
        _add_discovery(self, [a for a in self.articles if "hidden" not in a.flags])


# --- building -----------------------------------------------------------------------------------

def _http_date(value: datetime) -> str:
    return email.utils.format_datetime(value.astimezone(UTC), usegmt=True)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:16] + '"'


def _slugify(title: str) -> str:
    # as WordPress does: accents dropped, not the letters (Café -> cafe)
    ascii_title = unicodedata.normalize("NFKD", title.replace("€", "euro"))
    ascii_title = ascii_title.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return "-".join(slug.split("-")[:9])


def _read_seed(path: Path = SEED_FILE) -> tuple[str, list[str], list[tuple[int, str, str]]] | None:
    """Title, paragraphs, and (position, label, headline) of the promo lines, or None if absent."""
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except OSError:
        return None
    if len(lines) < 3:
        return None
    paras: list[str] = []
    promos: list[tuple[int, str, str]] = []
    for line in lines[1:]:
        m = re.fullmatch(r"[“\"]?\s*((?:Baca|Simak|Lihat) Juga)\s*:\s*(.+?)\s*[“”\"]?", line)
        if m:
            promos.append((len(paras), m.group(1), m.group(2)))
        else:
            paras.append(line)
    return lines[0], paras, promos


def build_site(*, n_articles: int = 12, page_kb: int = 0, seed: int = 0,
               per_page: int | None = None, seed_file: Path | None = SEED_FILE,
               newest: datetime | None = None, site_lines: tuple[str, ...] = ()) -> Site:
    """Build the fixture newsroom: ``n_articles`` article pages plus hubs, feeds and traps.

    The first articles are the special cases (seed text, charset, broken HTML, slow, page-2-only);
    with a small ``n_articles`` the later specials are dropped, never the traps around them.
    ``newest`` is the publication time of the newest article (default 28 April 2025, 14:05 WIB);
    the others are older by an hour and a half to ten hours each.
    """
    rng = random.Random(seed)
    seed_data = _read_seed(seed_file) if seed_file else None
    specials = ["seed"] if seed_data else []
    specials += ["prose_baca_juga", "charset_header", "charset_meta", "broken_html", "slow"]
    # hidden ones come last: the oldest articles, past page 1 of their section's listing
    n_generic = max(0, n_articles - len(specials) - 2)
    kinds = (specials + ["generic"] * n_generic + ["hidden", "hidden"])[:n_articles]
    # the seed's promo headlines become real articles, so its promos link somewhere true
    seed_headlines = [h for _, _, h in seed_data[2]] if seed_data else []
    titles = txt.TitleMaker(rng)
    when = newest or datetime(2025, 4, 28, 14, 5, tzinfo=WIB)
    articles: list[ArticleSpec] = []
    for i, kind in enumerate(kinds):
        if i:
            when -= timedelta(minutes=rng.randint(95, 600))
        author, editor = rng.choice(txt.AUTHORS), rng.choice(txt.EDITORS)
        section = SECTIONS[i % len(SECTIONS)]
        flags = {kind} if kind != "generic" else set()
        encoding, in_header, keep = "utf-8", True, []
        if kind == "seed" and seed_data:
            title, text = seed_data[0], list(seed_data[1])
            section = "internasional"
        elif kind == "charset_header":
            title, author = txt.CHARSET_HEADER_TITLE, "Ünal Demir"
            text, encoding = txt.charset_paragraphs(rng, euro=True), "windows-1252"
        elif kind == "charset_meta":
            title, text = txt.CHARSET_META_TITLE, txt.charset_paragraphs(rng, euro=False)
            encoding, in_header = "iso-8859-1", False
        elif kind == "generic" and seed_headlines:
            title = seed_headlines.pop(0)
            text = txt.paragraphs(rng, title, "kasus tersebut")
        else:
            title, topic = titles.make()
            text = txt.paragraphs(rng, title, topic)
        if kind == "prose_baca_juga":
            text.insert(2, txt.PROSE_BACA_JUGA)
            keep = [txt.PROSE_BACA_JUGA]
        if kind == "broken_html":
            flags.add("date_line_only")
        if kind == "hidden":
            section = "nasional"
        slug = _slugify(title)
        path = f"/{when:%Y/%m/%d}/{slug}/" + ("?slow=1" if kind == "slow" else "")
        articles.append(ArticleSpec(
            path=path, title=title, author=author, editor=editor, published=when,
            modified=when + timedelta(minutes=rng.choice((0, 0, 17, 45, 180))), section=section,
            text=text, tags=rng.sample(txt.TAGS, 3), encoding=encoding,
            charset_in_header=in_header, flags=frozenset(flags), keep=keep,
            in_sitemap=kind != "hidden",
        ))
    # Unique paths even when two generated headlines slugify alike on the same day.
    seen: set[str] = set()
    for spec in articles:
        while spec.path in seen:
            head, sep, query = spec.path.partition("?")
            spec.path = head[:-1] + "-2/" + sep + query
        seen.add(spec.path)

    visible = [a for a in articles if "hidden" not in a.flags]
    _assign_promos(articles, visible, seed_data, rng)
    for spec in visible[:10]:
        spec.in_feed = True
    for spec in visible[:6]:
        spec.on_home = True
    media = next((a for a in reversed(visible) if not a.flags), None)
    if media:
        media.flags = media.flags | {"has_media"}

    if per_page is None:
        per_page = 4 if len(articles) <= 60 else 10
    hidden = [a for a in articles if "hidden" in a.flags]
    if hidden:
        # hidden articles are the oldest of "nasional": they land past page 1 of its listing
        n_first = sum(1 for a in visible if a.section == "nasional")
        per_page = max(1, min(per_page, n_first))

    site = Site(resources={}, articles=articles, per_page=per_page, page_kb=page_kb,
                site_lines=site_lines)
    pad = txt.Padding(rng, page_kb, visible) if page_kb > 0 else None
    site._render = lambda spec: _render_article(spec, site, pad)
    for spec in articles:
        site.resources[spec.path] = site._render(spec)
    _add_hubs(site, visible)
    _add_discovery(site, visible)
    _add_traps(site, visible)
    return site


def _assign_promos(articles: list[ArticleSpec], visible: list[ArticleSpec],
                   seed_data: tuple[str, list[str], list[tuple[int, str, str]]] | None,
                   rng: random.Random) -> None:
    forms = list(txt.PROMO_FORMS)
    k = 0
    for spec in articles:
        others = [a for a in visible if a is not spec and a.title not in spec.body_text]
        if "seed" in spec.flags and seed_data:
            by_title = {a.title: a for a in visible}
            for _pos, label, headline in seed_data[2]:
                target = by_title.get(headline)
                if target:
                    spec.promos.append(Promo(label, headline, target.path, "curly"))
            spec.promo_positions = [pos for pos, _, _ in seed_data[2]]
            continue
        if not others:
            continue
        count = 3 if len(spec.text) > 6 else 2
        chosen = forms[k:k + count] if k + count <= len(forms) else (forms * 2)[k:k + count]
        k = (k + count) % len(forms)
        sizes = [3 if form == "box" else 1 for form in chosen]
        # every promoted article at most once per page, so `related` has no duplicates
        targets = rng.sample(others, min(sum(sizes), len(others)))
        for form, size in zip(chosen, sizes, strict=True):
            picked, targets = targets[:size], targets[size:]
            spec.promos += [Promo(txt.PROMO_FORMS[form], t.title, t.path, form) for t in picked]


# --- rendering ----------------------------------------------------------------------------------

def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _abs(path: str) -> str:
    return PLACEHOLDER + path


def _indo_date(value: datetime) -> str:
    return (f"{txt.DAYS[value.weekday()]}, {value.day} {txt.MONTHS[value.month - 1]} "
            f"{value.year} {value:%H:%M} WIB")


def _page(*, title: str, head: str, body: str, charset: str = "UTF-8", body_class: str = "",
          pad_head: str = "", pad_nav: str = "", pad_side: str = "", pad_foot: str = "",
          popular: list[ArticleSpec] | None = None, meta_charset: bool = True) -> str:
    nav = "".join(f'<li class="menu-item"><a href="{_abs(f"/category/{s}/")}">{s.title()}</a></li>'
                  for s in SECTIONS)
    pop = "".join(f'<li><a href="{_abs(a.path)}">{_e(a.title)}</a></li>' for a in popular or [])
    return txt.PAGE.format(
        B=PLACEHOLDER, CDN=CDN_PLACEHOLDER, title=_e(title), head=head, body=body,
        body_class=body_class, nav=nav,
        popular=pop, charset_tag=f'<meta charset="{charset}">' if meta_charset else "",
        pad_head=pad_head, pad_nav=pad_nav, pad_side=pad_side, pad_foot=pad_foot)


def _promo_html(form: str, promos: list[Promo]) -> str:
    a = [f'<a href="{_abs(p.href)}">{_e(p.title)}</a>' for p in promos]
    return txt.PROMO_TEMPLATES[form].format(a=a[0], items="".join(f"<li>{x}</li>" for x in a),
                                            t=_e(promos[0].title), h=_abs(promos[0].href),
                                            label=_e(promos[0].label))


def _article_body(spec: ArticleSpec) -> str:
    """Paragraphs with promos, ad slots and media between them; text always follows a promo."""
    groups: list[list[Promo]] = []
    for p in spec.promos:
        if groups and p.form == "box" and groups[-1][0].form == "box" and len(groups[-1]) < 3:
            groups[-1].append(p)
        else:
            groups.append([p])
    n = len(spec.text)
    positions = spec.promo_positions or [
        1 + (i + 1) * max(1, (n - 2)) // (len(groups) + 1) for i in range(len(groups))]
    blocks: dict[int, list[str]] = {}
    for pos, group in zip(positions, groups, strict=False):
        blocks.setdefault(min(max(pos, 1), n - 1), []).append(_promo_html(group[0].form, group))
    ad = max(2, n // 2 + 1) if n > 3 else None
    out = []
    for i, para in enumerate(spec.text):
        out.extend(blocks.get(i, []))
        if i == ad:
            out.append(txt.AD_INLINE)
        if i == 0 and para.startswith("Kudakyv – "):
            out.append(f"<p><strong>Kudakyv</strong> – {_e(para[len('Kudakyv – '):])}</p>")
        else:
            out.append(f"<p>{_e(para)}</p>")
        if i == 1 and "has_media" in spec.flags:
            out.append(f'<figure class="wp-block-image"><img src="{_abs(JPEG_PATH)}" alt="Rapat '
                       f'paripurna"><figcaption>Suasana rapat. (Foto: Dok. Kudakyv)</figcaption>'
                       f'</figure><p class="unduh"><a href="{_abs(PDF_PATH)}">Unduh dokumen '
                       f'lengkap (PDF)</a></p><figure><img src="{CDN_PLACEHOLDER}{CDN_IMAGE_PATH}"'
                       f' alt="Grafik anggaran" loading="lazy"></figure>')
    return "\n".join(out)


def _with_site_lines(content: str, lines: tuple[str, ...]) -> str:
    if not lines:
        return content
    parts = content.split("\n")
    parts.insert(min(3, len(parts)), f"<p>{_e(lines[0])}</p>")
    parts += [f"<p>{_e(line)}</p>" for line in lines[1:]]
    return "\n".join(parts)


def _json_ld(spec: ArticleSpec) -> str:
    url = _abs(spec.path)
    graph = [
        {"@type": "NewsArticle", "@id": url + "#article", "headline": spec.title,
         "datePublished": spec.published.isoformat(), "dateModified": spec.modified.isoformat(),
         "author": [{"@type": "Person", "name": spec.author,
                     "url": _abs(f"/author/{_slugify(spec.author)}/")}],
         "publisher": {"@type": "Organization", "name": "Kudakyv",
                       "logo": {"@type": "ImageObject", "url": _abs("/logo.png")}},
         "mainEntityOfPage": {"@id": url}, "articleSection": [spec.section.title()],
         "keywords": spec.tags, "inLanguage": "id-ID"},
        {"@type": "BreadcrumbList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Beranda", "item": _abs("/")},
            {"@type": "ListItem", "position": 2, "name": spec.section.title(),
             "item": _abs(f"/category/{spec.section}/")}]},
    ]
    return ('<script type="application/ld+json" class="yoast-schema-graph">'
            + json.dumps({"@context": "https://schema.org", "@graph": graph}, ensure_ascii=False)
            + "</script>")


def _render_article(spec: ArticleSpec, site: Site, pad: txt.Padding | None) -> Resource:
    url = _abs(spec.path)
    dated = "date_line_only" not in spec.flags
    head = [f'<link rel="canonical" href="{url}">',
            f'<meta name="description" content="{_e(spec.text[0][:150])}">',
            f'<meta name="author" content="{_e(spec.author)}">' if dated else "",
            '<meta property="og:locale" content="id_ID">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:title" content="{_e(spec.title)}">',
            f'<meta property="og:url" content="{url}">',
            '<meta property="og:site_name" content="Kudakyv">']
    if dated:
        head += [f'<meta property="article:published_time" content="{spec.published.isoformat()}">',
                 f'<meta property="article:modified_time" content="{spec.modified.isoformat()}">',
                 f'<meta property="article:section" content="{spec.section.title()}">',
                 *(f'<meta property="article:tag" content="{_e(t)}">' for t in spec.tags),
                 _json_ld(spec)]
    share = "".join(f'<li><a class="share-{n.lower()}" href="{h.format(u=url)}" rel="nofollow" '
                    f'target="_blank">{n}</a></li>' for n, h in txt.SHARE)
    tags = ", ".join(f'<a href="{_abs(f"/tag/{_slugify(t)}/")}" rel="tag">{_e(t)}</a>'
                     for t in spec.tags)
    time_attr = f' datetime="{spec.published.isoformat()}"' if dated else ""
    body = txt.ARTICLE.format(
        B=PLACEHOLDER, post_id=zlib.crc32(spec.path.encode()) % 90000 + 10000,
        section=spec.section, section_title=spec.section.title(), title=_e(spec.title),
        author_slug=_slugify(spec.author), author=_e(spec.author), editor=_e(spec.editor),
        time_attr=time_attr, date_line=_indo_date(spec.published), share=share,
        content=_with_site_lines(_article_body(spec), site.site_lines), tags=tags,
        comments=pad.comments(spec) if pad else "")
    popular = [a for a in site.articles if "hidden" not in a.flags and a is not spec][:5]
    extra = pad.slots(spec) if pad else {}
    page = _page(title=f"{spec.title} - Kudakyv", head="\n".join(h for h in head if h), body=body,
                 charset=spec.encoding.upper(), meta_charset=spec.encoding == "utf-8"
                 or not spec.charset_in_header, popular=popular,
                 body_class="post-template-default single single-post single-format-standard",
                 **extra)
    if pad:
        page = pad.fill(page, spec)
    if "broken_html" in spec.flags:
        page = txt.break_html(page)
    body_bytes = page.encode(spec.encoding, errors="xmlcharrefreplace")
    ctype = "text/html" + (f"; charset={spec.encoding.upper()}" if spec.charset_in_header else "")
    return Resource(body_bytes, ctype, etag=_etag(body_bytes),
                    last_modified=spec.modified.replace(second=0), slow="slow" in spec.flags,
                    headers=[("Link", f'<{PLACEHOLDER}/wp-json/>; rel="https://api.w.org/"'),
                             ("Set-Cookie", "pll_language=id; path=/"),
                             ("Set-Cookie", "kdk_visitor=1; path=/; HttpOnly"),
                             ("Cache-Control", "max-age=0, must-revalidate")])


def _html(text: str) -> Resource:
    return Resource(text.encode("utf-8"), "text/html; charset=UTF-8",
                    headers=[("Set-Cookie", "pll_language=id; path=/")])


def _listing(items: list[ArticleSpec]) -> str:
    return "\n".join(
        f'<article class="post category-{a.section}"><h2 class="entry-title">'
        f'<a href="{_abs(a.path)}" rel="bookmark">{_e(a.title)}</a></h2>'
        f'<time datetime="{a.published.isoformat()}">'
        f'{_indo_date(a.published)}</time><p class="excerpt">{_e(a.text[-1][:160])}…</p></article>'
        for a in items)


def _hub_head(url: str, extra: str = "") -> str:
    return (f'<link rel="canonical" href="{_abs(url)}">\n'
            '<meta property="og:type" content="website">\n'
            f'<meta property="og:site_name" content="Kudakyv">\n{extra}')


def _add_hubs(site: Site, visible: list[ArticleSpec]) -> None:
    popular = visible[:5]
    slow = site.slow_path if site.with_flag("slow") else "/"
    home_extra = f"""<section class="pilihan"><h2>Pilihan Redaksi</h2><ul>
<li><a href="{_abs(SHORTLINK_PATH)}">Tautan pendek ke berita pilihan</a></li>
<li><a href="{_abs(OLD_SLUG_PATH)}">Berita yang pindah alamat</a></li>
<li><a href="{_abs(slow)}">Laporan khusus (lambat)</a></li>
<li><a href="{_abs(NOT_FOUND_PATH)}">Berita yang sudah dihapus</a></li>
<li><a href="{_abs(ERROR_PATH)}">Halaman galat</a></li>
<li><a href="{_abs(EMPTY_PATH)}">Halaman kosong</a></li>
<li><a href="{_abs(PDF_AT_PAGE_PATH)}">Dokumen APBD 2025</a></li>
<li><a href="{_abs(PRIVATE_PATH)}">Ruang redaksi</a></li></ul></section>"""
    home = [a for a in visible if a.on_home]
    site.resources["/"] = _html(_page(
        title="Kudakyv - Kabar Terkini, Tajam dan Terpercaya", head=_hub_head("/"),
        body=f'<main id="primary" class="site-main home">{_listing(home)}\n{home_extra}</main>',
        body_class="home blog", popular=popular))
    for section in SECTIONS:
        items = [a for a in site.articles if a.section == section]
        pages = [items[i:i + site.per_page] for i in range(0, len(items), site.per_page)] or [[]]
        for n, chunk in enumerate(pages, 1):
            path = f"/category/{section}/" + (f"page/{n}/" if n > 1 else "")
            nxt = f"/category/{section}/page/{n + 1}/" if n < len(pages) else None
            prv = (f"/category/{section}/" + (f"page/{n - 1}/" if n > 2 else "")) if n > 1 else None
            rel = "".join(f'<link rel="{r}" href="{_abs(u)}">' for r, u in (("prev", prv),
                                                                             ("next", nxt)) if u)
            if section == "ekonomi":
                rel += (f'<link rel="alternate" type="application/rss+xml" title="Ekonomi Feed" '
                        f'href="{_abs(MALFORMED_FEED_PATH)}">')
            nav = "".join(f'<a class="{c} page-numbers" href="{_abs(u)}">{t}</a>' for c, u, t in
                          (("prev", prv, "« Sebelumnya"), ("next", nxt, "Berikutnya »")) if u)
            site.resources[path] = _html(_page(
                title=f"{section.title()} - Halaman {n} - Kudakyv", head=_hub_head(path, rel),
                body=f'<main id="primary" class="site-main archive"><h1 class="page-title">'
                     f'Kategori: {section.title()}</h1>{_listing(chunk)}<nav class="pagination">'
                     f'{nav}</nav></main>',
                body_class="archive category", popular=popular))


def _xml(text: str, ctype: str = "application/xml; charset=UTF-8") -> Resource:
    return Resource(text.encode("utf-8"), ctype)


def _add_discovery(site: Site, visible: list[ArticleSpec]) -> None:
    docs = feeds.documents(site.articles, visible)
    for path, (text, ctype) in docs.items():
        site.resources[path] = _xml(text, ctype)
    # the posts sitemap is a .gz file: compressed entity, never Content-Encoding on top
    posts = site.resources["/sitemap-posts.xml.gz"]
    site.resources["/sitemap-posts.xml.gz"] = replace(posts, gzip_ok=False, gzip_file=True)


def _add_traps(site: Site, visible: list[ArticleSpec]) -> None:
    res = site.resources
    res[PRIVATE_PATH] = _html(_page(title="Rapat Redaksi Internal", head=_hub_head(PRIVATE_PATH),
                                    body="<main><h1>Rapat redaksi internal</h1><p>Hanya untuk "
                                         "staf.</p></main>"))
    if len(visible) >= 2:
        site.redirects = {SHORTLINK_PATH: visible[0].path, "/?p=124": visible[1].path,
                          OLD_SLUG_PATH: visible[1].path}
        hops = {SHORTLINK_PATH: visible[0].path, "/?p=124": visible[1].path,
                OLD_SLUG_PATH: "/?p=124"}
        for src, dst in hops.items():
            res[src] = Resource(f'<a href="{_abs(dst)}">Moved Permanently</a>'.encode(),
                                "text/html; charset=UTF-8", status=301,
                                headers=[("Location", _abs(dst)),
                                         ("X-Redirect-By", "WordPress")])
    res[ERROR_PATH] = Resource(b"<!DOCTYPE html><html><head><title>Galat</title></head><body>"
                               b"<h1>Error establishing a database connection</h1></body></html>",
                               "text/html; charset=UTF-8", status=500, gzip_ok=False)
    res[EMPTY_PATH] = Resource(b"", "text/html; charset=UTF-8")
    res[PDF_PATH] = Resource(txt.PDF_BYTES, "application/pdf", gzip_ok=False,
                             etag=_etag(txt.PDF_BYTES))
    res[PDF_AT_PAGE_PATH] = Resource(txt.PDF_BYTES, "application/pdf", gzip_ok=False)
    res[JPEG_PATH] = Resource(txt.JPEG_BYTES, "image/jpeg", gzip_ok=False,
                              etag=_etag(txt.JPEG_BYTES))
    _add_requisites(res)


def _add_requisites(res: dict[str, Resource]) -> None:
    """The theme's stylesheets, script, images and fonts (see ``REQUISITES``)."""
    css = "text/css; charset=UTF-8"
    for path, text in ((STYLE_PATH, txt.STYLE_CSS),
                       ("/wp-content/themes/kabar/parts/layout.css?ver=2.4.1", txt.LAYOUT_CSS),
                       ("/kabar/fonts.css?ver=2.4.1", txt.FONTS_CSS)):
        res[path] = Resource(text.encode(), css, etag=_etag(text.encode()))
    res["/wp-includes/js/jquery/jquery.min.js?ver=3.7.1"] = Resource(
        txt.JQUERY_JS.encode(), "application/javascript; charset=UTF-8")
    for path, body, ctype in (("/wp-content/themes/kabar/images/header-bg.png", txt.PNG_BYTES,
                               "image/png"),
                              ("/wp-content/themes/kabar/images/ad-slot.gif", txt.GIF_BYTES,
                               "image/gif"),
                              ("/kabar/fonts/kabar-sans.woff2", txt.WOFF2_BYTES, "font/woff2"),
                              (CDN_IMAGE_PATH, txt.PNG_BYTES, "image/png")):
        res[path] = Resource(body, ctype, gzip_ok=False, etag=_etag(body))


def not_found_page() -> Resource:
    return Resource(b"<!DOCTYPE html><html lang=\"id-ID\"><head><title>Halaman tidak ditemukan - "
                    b"Kudakyv</title></head><body><h1>Oops! Halaman tidak ditemukan.</h1>"
                    b"</body></html>", "text/html; charset=UTF-8", status=404)


# --- serving ------------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver listens with a backlog of 5: a crawl opening a dozen connections at once
    # overflowed it, and the kernel dropped the SYNs, which the client sends again after a
    # second (TcpExtListenOverflows). nginx listens with 511.
    request_queue_size = 511

    def __init__(self, addr: tuple[str, int], site: Site) -> None:
        super().__init__(addr, _Handler)
        self.site = site
        self.base = f"http://{addr[0]}:{self.server_port}"
        self.cdn = f"http://localhost:{self.server_port}"
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self._rendered: dict[str, tuple[Resource, bytes, bytes | None]] = {}
        self._lock = threading.Lock()

    def rendered(self, path: str, res: Resource) -> tuple[bytes, bytes | None]:
        """Body with the real base URL (and its gzip form), computed once per resource object."""
        hit = self._rendered.get(path)
        if hit and hit[0] is res:
            return hit[1], hit[2]
        body = res.body.replace(PLACEHOLDER.encode(), self.base.encode())
        body = body.replace(CDN_PLACEHOLDER.encode(), self.cdn.encode())
        if res.gzip_file:
            body = gzip.compress(body, mtime=0)
        compressible = res.gzip_ok and body and any(t in res.content_type for t in _TEXT_TYPES)
        gz = gzip.compress(body, compresslevel=6, mtime=0) if compressible else None
        with self._lock:
            self._rendered[path] = (res, body, gz)
        return body, gz

    def handle_error(self, request: object, client_address: object) -> None:
        # clients hang up on slow pages and at shutdown; that is not a fixture failure
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as crawlers expect; every answer has a length
    server: _Server
    timeout = 30

    def version_string(self) -> str:
        return "nginx/1.24.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, *, head: bool) -> None:
        srv = self.server
        record = RequestRecord(self.path, self.command, list(self.headers.items()), time.time())
        srv.site.requests.append(record)
        path = self.path.split("#", 1)[0]
        if path.startswith(("http://", "https://")):
            path = "/" + path.split("/", 3)[-1]
        res = srv.site.resources.get(path) or not_found_page()
        gate = srv.site.gate
        if gate is not None and srv.site.held(path):
            while not gate.wait(0.05):
                if srv.stopping.is_set():
                    return
        if res.slow and srv.stopping.wait(srv.site.slow_seconds):
            return
        body, gz = srv.rendered(path, res)
        if res.status == 200 and self._not_modified(res):
            record.status = 304
            self.send_response(304)
            self._validators(res, weak=False)
            self.end_headers()
            return
        use_gz = gz is not None and _accepts_gzip(self.headers.get("Accept-Encoding", ""))
        payload = gz if use_gz and gz is not None else body
        self.send_response(res.status)
        self.send_header("Content-Type", res.content_type)
        self.send_header("Content-Length", str(len(payload)))
        if use_gz:
            self.send_header("Content-Encoding", "gzip")
        if gz is not None:
            self.send_header("Vary", "Accept-Encoding")
        self._validators(res, weak=use_gz)
        for name, value in res.headers:
            self.send_header(name, value.replace(PLACEHOLDER, srv.base))
        self.end_headers()
        record.status = res.status
        if not head:
            self.wfile.write(payload)
            record.body_bytes = len(payload)

    def _validators(self, res: Resource, *, weak: bool) -> None:
        if res.etag:
            # nginx weakens the ETag of a gzipped variant; both forms must revalidate
            self.send_header("ETag", ("W/" if weak else "") + res.etag)
        if res.last_modified:
            self.send_header("Last-Modified", _http_date(res.last_modified))

    def _not_modified(self, res: Resource) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm and res.etag:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or res.etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims and res.last_modified:
            try:
                since = email.utils.parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return res.last_modified.replace(microsecond=0) <= since
        return False


def _accepts_gzip(value: str) -> bool:
    for part in value.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "x-gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class BaseURL(str):
    """The served site's base URL, carrying the server's request log and the site."""

    site: Site
    server: _Server

    @property
    def requests(self) -> list[RequestRecord]:
        return self.site.requests

    def paths(self) -> list[str]:
        return [r.path for r in self.site.requests]


@contextmanager
def serve(site: Site, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[BaseURL]:
    """Serve ``site`` from a daemon thread; yields ``http://127.0.0.1:PORT/``."""
    server = _Server((host, port), site)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"newsite:{server.server_port}", daemon=True)
    thread.start()
    base = BaseURL(server.base + "/")
    base.site, base.server = site, server
    try:
        yield base
    finally:
        server.stopping.set()
        server.shutdown()
        # keep-alive connections would otherwise hold their threads until the client hangs up
        for conn in list(server.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the fixture news site on 127.0.0.1.")
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--page-kb", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    site = build_site(n_articles=args.articles, page_kb=args.page_kb, seed=args.seed)
    site.slow_seconds = args.slow_seconds
    with serve(site, port=args.port) as base:
        # render and compress every page before announcing the URL, so a benchmark measures
        # the crawler and not the server's first-hit work
        for path, res in list(site.resources.items()):
            base.server.rendered(path, res)
        print(base, flush=True)
        print(f"{len(site.articles)} articles, {len(site.resources)} resources", file=sys.stderr,
              flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
