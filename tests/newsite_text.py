"""Words, templates and filler for the fixture news site (``tests/newsite.py``).

Everything here is written for this fixture: generated Indonesian headlines and prose, the inline
promo forms seen on Indonesian newsrooms, and the page weight (menus, scripts, JSON, comments) the
benchmark needs. Output is deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.newsite import ArticleSpec

DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
          "Oktober", "November", "Desember")

AUTHORS = ("Rina Wulandari", "Agus Setiawan", "Dewi Lestari Putri", "Bayu Pratama",
           "Siti Nurhaliza", "Yohanes Sitompul", "Fitri Handayani", "Made Suarjana",
           "Andi Mappasessu", "Nur Aini")
EDITORS = ("Hendra Gunawan", "Maria Ulfa", "Teguh Santoso", "Larasati")
TAGS = ("pemerintah", "ekonomi", "banjir", "pemilu", "harga pangan", "pendidikan", "kesehatan",
        "transportasi", "digital", "energi", "investasi", "sepak bola", "cuaca", "UMKM", "pajak")

_SUBJECTS = ("Pemprov DKI", "Bank Indonesia", "Kemenkes", "Timnas U-23", "Warga Bantul",
             "DPR", "Polda Metro Jaya", "Startup Lokal", "Pertamina", "BMKG", "KPK",
             "Pemkot Surabaya",
             "Mahasiswa UGM", "Petani Jember", "OJK", "Kemendikbud", "PLN", "Basarnas")
_VERBS = ("Umumkan", "Tolak", "Siapkan", "Luncurkan", "Tinjau", "Bahas", "Percepat", "Tunda",
          "Evaluasi", "Dukung", "Kritik", "Targetkan")
_OBJECTS = ("Program Bantuan Pangan", "Kenaikan Tarif Listrik", "Proyek Jalan Tol",
            "Vaksinasi Lanjutan", "Aturan Ojek Daring", "Subsidi Pupuk", "Revitalisasi Pasar",
            "Normalisasi Sungai", "Kurikulum Baru", "Layanan Kereta Malam", "Pajak Kendaraan",
            "Digitalisasi UMKM", "Relokasi Pedagang", "Pembangunan Rusun", "Program Makan Siang",
            "Penertiban Tambang", "Sistem Zonasi", "Bursa Kerja", "Festival Budaya",
            "Pengadaan Bus Listrik")
_PLACES = ("Jakarta", "Surabaya", "Makassar", "Medan", "Bandung", "Semarang", "Palembang",
           "Denpasar", "Balikpapan", "Kupang", "Pontianak", "Ambon", "Manado", "Padang",
           "Yogyakarta", "Jayapura")
_PEOPLE = ("Budi Hartono", "Sri Rahayu", "Ahmad Fauzi", "Yuliana Tan", "I Ketut Arsana",
           "Rudi Simanjuntak", "Wahyuni Kartika", "Joko Susilo", "Maya Anggraini", "Hasan Basri")
_ROLES = ("kepala dinas", "juru bicara", "pengamat kebijakan publik", "ketua RT setempat",
          "anggota komisi", "direktur utama", "ekonom senior", "kepala bidang", "warga setempat")
_SENTENCES = (
    "{subj} menyatakan bahwa {topic} akan mulai berjalan pada {month} mendatang.",
    "Menurut {who}, {role} di {place}, langkah ini diperlukan agar pelayanan kepada masyarakat "
    "tidak terganggu.",
    "Data terbaru menunjukkan sekitar {n} warga di {place} merasakan dampak langsung dari {topic}.",
    "{who} menambahkan, pihaknya masih menunggu petunjuk teknis dari pemerintah pusat.",
    "Rencana tersebut sempat menuai pro dan kontra di kalangan warga sejak pekan lalu.",
    "Anggaran yang disiapkan untuk {topic} mencapai Rp{n} miliar pada tahun ini.",
    "Sejumlah warga yang ditemui di {place} mengaku belum mendapat sosialisasi yang memadai.",
    "Ia berharap seluruh pihak dapat bekerja sama agar target {pct} persen bisa tercapai.",
    "Sebelumnya, program serupa pernah diuji coba di {place2} dengan hasil yang beragam.",
    "Hingga Senin sore, belum ada tanggapan resmi dari pihak terkait mengenai {topic}.",
    "Pengamat menilai kebijakan ini perlu diawasi ketat agar tidak menimbulkan masalah baru.",
    "Dalam rapat yang berlangsung selama {h} jam itu, peserta juga membahas skema pendanaan.",
    "{who} memastikan bahwa proses evaluasi akan dilakukan setiap {h} bulan sekali.",
    "Kondisi di lapangan menunjukkan antrean panjang sejak pukul {h}.00 pagi.",
    "Pemerintah daerah juga menyiapkan posko pengaduan bagi warga yang mengalami kendala.",
    "Tahun lalu, capaian program di {place2} hanya sekitar {pct} persen dari target awal.",
)
PROSE_BACA_JUGA = ("Kepala dinas meminta warga tidak hanya membaca judul pengumuman, tetapi baca "
                   "juga isi lengkapnya sebelum datang ke kantor kelurahan.")
CHARSET_HEADER_TITLE = "Harga Kopi di Café Ünal Bandung Tembus €4 per Cangkir"
CHARSET_META_TITLE = "Festival Kuliner di Café Müller Yogyakarta Tarik Ribuan Pengunjung"

# form -> the label it prints; PROMO_TEMPLATES gets {a} (one link), {items} (<li> links),
# {t}/{h} (first title / href) and {label}.
PROMO_FORMS = {
    "strong": "Baca Juga", "curly": "Baca Juga", "spaced": "Baca juga", "chevron": ">>",
    "box": "Baca Juga", "table": "Baca Juga", "aside": "Artikel Terkait", "simak": "Simak Juga",
    "lihat": "Lihat Juga", "terkait": "Artikel Terkait",
}
PROMO_TEMPLATES = {
    "strong": "<p><strong>Baca Juga:</strong> {a}</p>",
    "curly": "<p>“{label}: {a}“</p>",
    "spaced": "<p>Baca juga : {a}</p>",
    "chevron": "<p><strong>&gt;&gt; {a}</strong></p>",
    "box": '<div class="baca-juga-box"><span class="judul">Baca Juga</span><ul>{items}</ul></div>',
    "table": '<table class="linksisip"><tbody><tr><td><div class="linkisi">Baca Juga<br>'
             '<a href="{h}">{t}</a></div></td></tr></tbody></table>',
    "aside": '<aside class="artikel-terkait"><h4>Artikel Terkait</h4><p>{a}</p></aside>',
    "simak": "<p><em>Simak Juga: {a}</em></p>",
    "lihat": "<p><strong>Lihat Juga:</strong><br>{a}</p>",
    "terkait": '<div class="related-inline"><strong>Artikel Terkait</strong> – {a}</div>',
}
AD_INLINE = ('<div class="iklan iklan-inline"><p class="iklan-label">ADVERTISEMENT</p>'
             '<ins class="adsbygoogle" style="display:block" '
             'data-ad-client="ca-pub-0000000000000000" data-ad-slot="1234567890"></ins>'
             '<script>(adsbygoogle = window.adsbygoogle || [])'
             '.push({});</script><p class="iklan-label">SCROLL TO CONTINUE WITH CONTENT</p></div>')
SHARE = (("Facebook", "https://www.facebook.com/sharer.php?u={u}"),
         ("X", "https://x.com/intent/tweet?url={u}"),
         ("WhatsApp", "https://api.whatsapp.com/send?text={u}"),
         ("Telegram", "https://t.me/share/url?url={u}"))


class TitleMaker:
    """Distinct headlines; each comes with its topic phrase for the prose."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def make(self) -> tuple[str, str]:
        r = self.rng
        for attempt in range(1000):
            obj = r.choice(_OBJECTS)
            title = f"{r.choice(_SUBJECTS)} {r.choice(_VERBS)} {obj} di {r.choice(_PLACES)}"
            if attempt > 50:
                title += f" Tahap {attempt}"
            if title not in self.used:
                self.used.add(title)
                return title, obj.lower()
        raise RuntimeError("ran out of headlines")


def _fill(rng: random.Random, template: str, subject: str, topic: str) -> str:
    return template.format(
        subj=subject, topic=topic, who=rng.choice(_PEOPLE), role=rng.choice(_ROLES),
        place=rng.choice(_PLACES), place2=rng.choice(_PLACES), month=rng.choice(MONTHS),
        n=f"{rng.randint(12, 980)}.{rng.randint(100, 999)}", pct=rng.randint(40, 95),
        h=rng.randint(2, 9))


def paragraphs(rng: random.Random, title: str, topic: str) -> list[str]:
    """6-10 paragraphs of plausible news prose about ``topic``, opening with the dateline."""
    subject = title.split(" ")[0]
    out = [f"Kudakyv – {_fill(rng, _SENTENCES[0], subject, topic)} "
           f"{_fill(rng, rng.choice(_SENTENCES[1:]), subject, topic)}"]
    for _ in range(rng.randint(5, 9)):
        picked = rng.sample(_SENTENCES, rng.randint(2, 3))
        out.append(" ".join(_fill(rng, s, subject, topic) for s in picked))
    return out


def charset_paragraphs(rng: random.Random, *, euro: bool) -> list[str]:
    price = "€4 atau sekitar Rp70 ribu" if euro else "70 ribu rupiah"
    first = ("Kudakyv – Pemilik Café Ünal di Bandung, Ünal Demir, mengatakan harga secangkir kopi "
             f"kini mencapai {price} karena biaya impor naik." if euro else
             "Kudakyv – Festival kuliner di Café Müller, Yogyakarta, dipadati pengunjung yang "
             "ingin mencicipi crème brûlée dan kopi tubruk.")
    more = [
        "Menurut Ünal, pelanggan tetap tidak banyak berkurang meski harga naik.",
        "Pengelola Café Müller, Jürgen Müller, menyebut jumlah pengunjung naik dua kali lipat.",
        "Menu andalan seperti crème brûlée dan pâtisserie lokal habis sebelum sore.",
        "Pemerintah kota berencana menjadikan festival ini agenda tahunan.",
        "Para pelaku usaha berharap harga bahan baku segera stabil kembali.",
    ]
    rng.shuffle(more)
    return [first, *more]


def break_html(page: str) -> str:
    """Typical CMS breakage: unclosed <p> and <div>, mis-nested inline tags, stray end tags,
    unquoted attributes, no </body></html>. Browsers (and lxml) still read it."""
    page = page.replace("</p>\n<p>", "\n<p>")
    page = page.replace('<div class="entry-content">',
                        '<div class="entry-content"><div class="inner-content"><span class=x>')
    page = page.replace("<strong>Kudakyv</strong>", "<b><i>Kudakyv</b></i></span></font>")
    page = page.replace('<footer class="entry-footer">', '</span><footer class=entry-footer>')
    return page.replace("</body>\n</html>\n", "")


def _pdf() -> bytes:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
            b"<< /Length 35 >>\nstream\nBT /F1 12 Tf 20 50 Td (APBD) Tj ET\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


PDF_BYTES = _pdf()
# A 1x1 PNG and GIF, and bytes with a WOFF2 signature: real enough for Content-Type and
# sniffing; a browser simply falls back from the font.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a4f1bd2f0000000049454e44ae426082")
GIF_BYTES = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000"
                          "010001000002024401003b")
WOFF2_BYTES = b"wOF2\x00\x01\x00\x00" + b"arsip fixture font".ljust(64, b"\x00")

# The theme's stylesheets: an @import, url() images relative to each sheet, fonts on the CDN.
STYLE_CSS = """@import url("parts/layout.css?ver=2.4.1");
body{font-family:Kabar,Georgia,serif;color:#222}
.entry-title{color:#b3001b;letter-spacing:.01em}
.site-header{background:#14324a url("images/header-bg.png") no-repeat}
"""
LAYOUT_CSS = """.site-content{max-width:1100px;margin:0 auto}
.iklan{background:url(../images/ad-slot.gif) repeat-x}
"""
FONTS_CSS = """@font-face{font-family:Kabar;src:url(fonts/kabar-sans.woff2) format("woff2");
font-display:swap}
"""
JQUERY_JS = "/*! fixture jQuery */window.jQuery=window.$=function(){return {ready:function(){}}};\n"
# JFIF-shaped bytes (SOI, APP0, comment, EOI): enough for sniffers and Content-Type checks.
JPEG_BYTES = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
              b"\xff\xfe\x00\x10arsip fixture\x00\xff\xd9")

_COMMENTS = (
    "Semoga kebijakan ini benar-benar dijalankan, jangan cuma wacana.",
    "Di kampung saya belum ada sosialisasi sama sekali, mohon diperhatikan.",
    "Terima kasih infonya, sangat membantu.",
    "Harusnya dari dulu seperti ini. Tapi pengawasannya bagaimana?",
    "Beritanya kurang lengkap, narasumbernya hanya satu pihak.",
    "Mantap, semoga daerah lain ikut menyusul.",
    "Kapan mulai berlaku untuk wilayah timur?",
    "Setuju, asal anggarannya transparan dan bisa diakses publik.",
)


class Padding:
    """Page weight of a real WordPress newsroom: global styles, mega menus, tracking and ad
    scripts, JSON state blobs, widgets and reader comments, up to ``page_kb`` per article."""

    def __init__(self, rng: random.Random, page_kb: int, visible: list[ArticleSpec]) -> None:
        self.rng = rng
        self.target = page_kb * 1024
        self.visible = visible
        colors = "".join(f"--wp--preset--color--c{i}: #{rng.randrange(0x1000000):06x};"
                         for i in range(60))
        self.styles = (f'<style id="global-styles-inline-css">:root{{{colors}'
                       + "".join(f"--wp--preset--spacing--{i}: {i * 0.25:.2f}rem;"
                                 for i in range(40))
                       + "}" + "".join(f".has-c{i}-color{{color:var(--wp--preset--color--c{i})"
                                       f" !important;}}" for i in range(60)) + "</style>")
        self.scripts = [self._script(i) for i in range(24)]

    def _script(self, i: int) -> str:
        r = self.rng
        kind = i % 4
        if kind == 0:
            state = {"posts": [{"id": r.randint(10000, 99999), "slug": f"post-{r.randrange(10**6)}",
                                "views": r.randint(10, 90000), "score": round(r.random(), 4)}
                               for _ in range(25)], "build": f"{r.randrange(16**8):08x}"}
            return (f'<script type="application/json" id="kabar-state-{i}">'
                    f"{json.dumps(state)}</script>")
        if kind == 1:
            slots = {f"slot_{j}": {"size": [[300, 250], [728, 90]], "targeting": {
                "pos": j, "kw": r.sample(TAGS, 3)}} for j in range(12)}
            return (f'<script id="kabar-ads-js-extra-{i}">var kabarAds{i} = '
                    f"{json.dumps(slots)};</script>")
        if kind == 2:
            return ("<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push"
                    "(arguments);}gtag('js',new Date());" + "".join(
                        f"gtag('event','scroll_{j}',{{'depth':{j * 10},"
                        f"'nonce':'{r.randrange(16**12):012x}'}});"
                        for j in range(20)) + "</script>")
        return ("<script>(function(){var s=" + json.dumps(
            [f"{r.randrange(16**16):016x}" for _ in range(40)])
            + ";for(var i=0;i<s.length;i++){if(s[i].charAt(0)==='f'){console.debug(s[i]);}}})();"
            "</script>")

    def _mega_menu(self, spec: ArticleSpec) -> str:
        panels = []
        for section in ("nasional", "internasional", "ekonomi", "teknologi"):
            items = [a for a in self.visible if a.section == section and a is not spec][:4]
            links = "".join(f'<li><a href="http://kudakyv.test{a.path}">{a.title}</a></li>'
                            for a in items)
            panels.append(f'<div class="mega-panel" data-section="{section}"><ul>{links}</ul>'
                          "</div>")
        return '<div class="mega-menu" hidden>' + "".join(panels) + "</div>"

    def slots(self, spec: ArticleSpec) -> dict[str, str]:
        return {"pad_head": self.styles, "pad_nav": self._mega_menu(spec),
                "pad_side": '<section class="widget widget_tag_cloud"><h2 class="widget-title">'
                            "Topik</h2><div>" + " ".join(f"<span>{t}</span>" for t in TAGS)
                            + "</div></section>"}

    def comments(self, spec: ArticleSpec) -> str:
        r = self.rng
        items = []
        for i in range(max(2, self.target // 8192)):
            items.append(
                f'<li id="comment-{r.randint(1000, 99999)}" class="comment"><article class='
                f'"comment-body"><footer class="comment-meta"><b class="fn">{r.choice(_PEOPLE)}'
                f'</b> <time>{r.randint(1, 28)} {r.choice(MONTHS)} 2025</time></footer><div '
                f'class="comment-content"><p>{r.choice(_COMMENTS)}</p></div><div class="reply">'
                f'<a rel="nofollow" class="comment-reply-link" href="#comment-{i}">Balas</a></div>'
                "</article></li>")
        return (f'<h2 class="comments-title">{len(items)} tanggapan</h2><ol class="comment-list">'
                + "".join(items) + "</ol>")

    def fill(self, page: str, spec: ArticleSpec) -> str:
        """Top the page up to the target with scripts before </body>."""
        extra: list[str] = []
        size = len(page)
        meta: dict[str, Any] = {"path": spec.path, "section": spec.section, "tags": spec.tags}
        extra.append(f'<script id="kabar-post-meta">var kabarPost = {json.dumps(meta)};</script>')
        while size + sum(len(x) for x in extra) < self.target:
            extra.append(self.rng.choice(self.scripts))
        return page.replace("</body>", "\n".join(extra) + "\n</body>", 1)


# Page templates for str.format: {B} is the site's base URL placeholder; doubled braces are CSS.
PAGE = """<!DOCTYPE html>
<html lang="id-ID">
<head>
{charset_tag}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="alternate" type="application/rss+xml" title="Kudakyv &raquo; Feed"
 href="{B}/feed/">
<link rel="alternate" type="application/atom+xml" title="Kudakyv &raquo; Atom"
 href="{B}/feed/atom/">
<link rel="stylesheet" id="kudakyv-style-css" media="all"
 href="{B}/wp-content/themes/kabar/style.css?ver=2.4.1">
<link rel="stylesheet" id="kabar-fonts-css" media="all" href="{CDN}/kabar/fonts.css?ver=2.4.1">
<script async src="https://www.googletagmanager.com/gtag/js?id=G-KDK2025"></script>
<script>(function(){{var hit=new Image();hit.src="{B}/wp-json/kabar/v1/hit?p="+
encodeURIComponent(location.pathname);}})();</script>
{head}
<style id="kabar-inline-css">.entry-content p{{margin:0 0 1.2em}}
.iklan{{text-align:center;color:#999}}</style>
{pad_head}
</head>
<body class="{body_class}">
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#primary">Langsung ke konten</a>
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="{B}/" rel="home">Kudakyv</a></p>
<p class="site-description">Kabar Terkini, Tajam dan Terpercaya</p></div>
<nav id="site-navigation" class="main-navigation" aria-label="Menu Utama">
<ul id="primary-menu" class="menu">
<li class="menu-item"><a href="{B}/">Beranda</a></li>{nav}</ul>{pad_nav}</nav>
<div class="iklan iklan-header"><span>ADVERTISEMENT</span></div>
</header>
<div id="content" class="site-content">
{body}
<aside id="secondary" class="widget-area">
<section class="widget widget_popular"><h2 class="widget-title">Berita Terpopuler</h2>
<ol>{popular}</ol></section>
<section class="widget widget_search"><form role="search" method="get" action="{B}/">
<input type="search" name="s" placeholder="Cari berita..."><button type="submit">Cari</button>
</form></section>
{pad_side}
</aside>
</div>
<footer id="colophon" class="site-footer">
<nav class="footer-navigation"><ul><li><a href="{B}/tentang-kami/">Tentang Kami</a></li>
<li><a href="{B}/pedoman-media-siber/">Pedoman Media Siber</a></li>
<li><a href="{B}/kontak/">Kontak</a></li></ul></nav>
<div class="site-info">Hak Cipta © 2025 Kudakyv. Seluruh hak dilindungi.</div>
</footer>
</div>
<script src="{B}/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
{pad_foot}
</body>
</html>
"""

ARTICLE = """<main id="primary" class="site-main">
<article id="post-{post_id}"
 class="post type-post status-publish format-standard category-{section}">
<header class="entry-header">
<nav class="breadcrumb"><a href="{B}/">Beranda</a> »
 <a href="{B}/category/{section}/">{section_title}</a></nav>
<h1 class="entry-title">{title}</h1>
<div class="entry-meta">
<span class="byline">Penulis:
 <a class="url fn n" href="{B}/author/{author_slug}/">{author}</a></span>
<span class="editor">Editor: {editor}</span>
<span class="posted-on"><time class="entry-date published"{time_attr}>{date_line}</time></span>
</div>
</header>
<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Bagikan:</h3><ul>{share}</ul></div>
<div class="entry-content">
{content}
</div>
<footer class="entry-footer"><div class="post-tags">Tags: {tags}</div></footer>
</article>
<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Bagikan:</h3><ul>{share}</ul></div>
<div id="comments" class="comments-area">
<div id="respond" class="comment-respond">
<h3 id="reply-title" class="comment-reply-title">Tinggalkan Balasan</h3>
<form action="{B}/wp-comments-post.php" method="post" id="commentform">
<p class="comment-notes">Alamat email Anda tidak akan dipublikasikan.</p>
<textarea id="comment" name="comment"></textarea>
<input name="submit" type="submit" value="Kirim Komentar"></form></div>
{comments}</div>
</main>"""
