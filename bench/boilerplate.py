"""Site boilerplate: what the recorder learns and strips, and what it costs per article.

    python bench/boilerplate.py                  # 1,000 fixture articles with 3 site-wide lines
    python bench/boilerplate.py --articles 300 --rounds 5

The fixture site (``tests/newsite.py``) is built with three site-wide lines inside every article
body (an app box, a Google News line, a newsletter line). Every article is extracted once, as
the crawl's workers would; then the recorder's side is timed, in this process, on a fresh SQLite
archive in batch mode: ``store_article`` alone (the anchor, what the recorder did before) and
``SiteBoilerplate.prepare`` + ``store_article`` + its flushes, alternating rounds. It prints the
time per article of both, the lines learned, the lines stripped, and checks the outcome against
the site's ground truth: no site-wide line left in any text, every article paragraph kept (the
dateline "Kudakyv – ..." that opens each article included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SITE_LINES = (
    "Simak breaking news dan berita pilihan kami langsung di ponselmu. Pilih saluran andalanmu "
    "akses berita Kudakyv WhatsApp Channel.",
    "Dapatkan update berita pilihan setiap hari di Google News",
    "Daftar newsletter Kudakyv: ringkasan berita pagi di kotak masukmu.",
)
COMMIT_EVERY = 50  # articles between commits (the recorder commits every 0.5 s)


def _extract(n: int) -> tuple[list[tuple[str, object]], object]:
    from crawler.extraction import extract_article
    from tests.newsite import PLACEHOLDER, build_site

    site = build_site(n_articles=n, site_lines=SITE_LINES)
    base = "http://kudakyv.example"
    out = []
    for spec in site.articles:
        res = site.resources[spec.path]
        html = res.body.replace(PLACEHOLDER.encode(), base.encode())
        charset = res.content_type.partition("charset=")[2] or None
        try:
            out.append((base + spec.path, extract_article(html, base + spec.path,
                                                          http_charset=charset)))
        except Exception:  # the fixture's empty page: no article, as in a crawl
            continue
    return out, site


def _run(articles: list[tuple[str, object]], workdir: Path, *, learn: bool) -> tuple[float, dict]:
    from storage.archive import Archive
    from storage.boilerplate import SiteBoilerplate
    from storage.records import BoilerplateConfig

    db = workdir / f"{'learn' if learn else 'anchor'}-{time.monotonic_ns()}.db"
    archive = Archive.open(f"sqlite:///{db}")
    site_id = archive.ensure_site("kudakyv", "http://kudakyv.example/")
    state = SiteBoilerplate.load(archive, site_id, BoilerplateConfig()) if learn else None
    archive.batch()
    at = datetime(2025, 5, 1, tzinfo=UTC)
    started = time.perf_counter()
    for i, (url, article) in enumerate(articles, 1):
        if state is not None:
            article = state.prepare(archive, url, article)
        archive.store_article(site_id=site_id, url=url, article=article, capture_id=None,
                              fetched_at=at)
        if i % COMMIT_EVERY == 0:
            if state is not None:
                state.flush(archive)
            archive.commit()
    if state is not None:
        state.flush(archive, final=True)
    archive.commit()
    seconds = time.perf_counter() - started
    with archive.read() as conn:
        texts = dict(conn.exec_driver_sql(
            "SELECT p.url, v.text FROM article_versions v JOIN pages p ON p.id = v.page_id"
        ).all())
    archive.close()
    figures = {"texts": texts,
               "learned": len(state.learned) if state else 0,
               "stripped": state.stripped if state else 0}
    return seconds, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    articles, site = _extract(args.articles)
    print(f"{len(articles)} articles extracted in {time.perf_counter() - started:.1f} s "
          "(not part of the figures)", file=sys.stderr)
    times: dict[str, list[float]] = {"anchor": [], "boilerplate": []}
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="arsip-bench-boiler-") as tmp:
        for round_no in range(1, args.rounds + 1):
            for side in ("anchor", "boilerplate"):
                seconds, got = _run(articles, Path(tmp), learn=side == "boilerplate")
                times[side].append(seconds)
                figures[side] = got
                print(f"round {round_no} {side:12s} {seconds * 1e6 / len(articles):8.0f} µs "
                      "per article", file=sys.stderr)

    per = {side: statistics.median(t) * 1e6 / len(articles) for side, t in times.items()}
    print(f"\nRecorder side, {len(articles)} fixture articles, {args.rounds} alternating rounds "
          "(medians):")
    print(f"  store_article alone (anchor):        {per['anchor']:8.0f} µs per article")
    print(f"  with boilerplate learned + stripped:  {per['boilerplate']:8.0f} µs per article "
          f"(+{per['boilerplate'] - per['anchor']:.0f} µs)")
    texts: dict[str, str] = figures["boilerplate"]["texts"]
    left = sum(line in text for text in texts.values() for line in SITE_LINES)
    by_url = {"http://kudakyv.example" + spec.path: spec for spec in site.articles}

    def lost(side: str) -> set[tuple[str, str]]:
        return {(url, paragraph) for url, text in figures[side]["texts"].items()
                if url in by_url for paragraph in by_url[url].text if paragraph not in text}

    # a paragraph the extraction itself misses is missing on both sides: not the stripping's
    stripped_away = lost("boilerplate") - lost("anchor")
    datelines = [sum(text.startswith("Kudakyv – ") for text in figures[side]["texts"].values())
                 for side in ("anchor", "boilerplate")]
    learned = figures["boilerplate"]
    print(f"  lines learned: {learned['learned']}; lines stripped: {learned['stripped']:,} "
          f"(site-wide lines in {len(texts)} texts: {3 * len(texts):,})")
    print(f"  site-wide lines left in stored texts: {left}; article paragraphs lost to "
          f"stripping: {len(stripped_away)} (lost by the extraction on both sides: "
          f"{len(lost('anchor'))})")
    print(f"  texts opening with the dateline 'Kudakyv – ': {datelines[1]} "
          f"(anchor: {datelines[0]})")
    return 0 if left == 0 and not stripped_away else 1


if __name__ == "__main__":
    raise SystemExit(main())
