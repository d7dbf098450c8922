"""Search figures: full-text search (SQLite FTS5, PostgreSQL tsvector) beside the ``LIKE`` scan
``arsip search`` used before, on the same 10,000 articles, in alternating rounds.

    python bench/search.py                     # SQLite, and PostgreSQL when it answers
    python bench/search.py --articles 10000 --rounds 5 --backend sqlite

Articles are generated from the fixture site's prose (Indonesian news sentences, about 600 words
each), stored through ``Archive.store_article`` as a crawl stores them. Each round times every
query of a fixed list (common words, rarer words, two words, a phrase) once with each method;
the figure is the median time per query. Both methods search the current version of each
article and return its 20 best (FTS: ranked; LIKE: newest first, as before).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, create_engine, func, or_, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage.archive import Archive  # noqa: E402
from storage.models import ArticleVersion, Page  # noqa: E402
from storage.records import ArticleRecord  # noqa: E402
from storage.report import search_articles  # noqa: E402
from tests import newsite_text as txt  # noqa: E402

QUERIES = ("anggaran", "pemerintah daerah", "banjir", "jakarta", "program", "kebijakan baru",
           '"anggaran yang disiapkan"', "pengawasan ketat", "mahasiswa", "evaluasi",
           "surabaya", "pajak kendaraan", "tidak", "listrik makassar", "sekolah")


def like_search(archive: Archive, query: str, limit: int = 20) -> list[str]:
    """The search arsip had before full-text search (storage/report.py at 0001): every word
    somewhere in the title or text, any case, current versions, newest first."""
    pages, versions = Page.__table__, ArticleVersion.__table__
    conditions = []
    for word in query.replace('"', "").split():
        pattern = "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%")\
            .replace("_", "\\_") + "%"
        conditions.append(or_(func.lower(versions.c.title).like(pattern, escape="\\"),
                              func.lower(versions.c.text).like(pattern, escape="\\")))
    stmt = (select(pages.c.url, versions.c.title)
            .select_from(pages.join(versions, and_(
                versions.c.page_id == pages.c.id,
                versions.c.content_hash == pages.c.content_hash)))
            .where(*conditions)
            .order_by(versions.c.published.desc().nulls_last(), pages.c.id).limit(limit))
    with archive.read() as conn:
        return [row.url for row in conn.execute(stmt)]


def fill(archive: Archive, count: int) -> None:
    rng = random.Random(11)
    titles = txt.TitleMaker(rng)
    site = archive.ensure_site("bench", "https://kudakyv.test/")
    when = datetime(2025, 4, 28, tzinfo=UTC)
    archive.batch()
    for n in range(count):
        title, topic = titles.make()
        body = "\n".join(txt.paragraphs(rng, title, topic))
        archive.store_article(
            site_id=site, url=f"https://kudakyv.test/{n // 1000}/{n}/", capture_id=None,
            fetched_at=when - timedelta(minutes=n),
            article=ArticleRecord(url="", title=title, text=body,
                                  published=when - timedelta(minutes=n)))
        if n % 1000 == 999:
            archive.commit()
    archive.commit()


def timed(fn: object, *args: object) -> tuple[float, int]:
    started = time.perf_counter()
    hits = fn(*args)  # type: ignore[operator]
    return time.perf_counter() - started, len(hits)


def bench(url: str, label: str, articles: int, rounds: int) -> None:
    started = time.monotonic()
    with Archive.open(url) as writer:
        fill(writer, articles)
    archive = Archive.open(url)
    try:
        print(f"{label}: {articles:,} articles stored in {time.monotonic() - started:.1f} s "
              "(full-text index kept by the database as they go in)", flush=True)
        fts: list[float] = []
        like: list[float] = []
        hits: dict[str, tuple[int, int]] = {}
        for n in range(rounds):
            order = (("fts", "like") if n % 2 == 0 else ("like", "fts"))
            for method in order:
                for query in QUERIES:
                    if method == "fts":
                        seconds, found = timed(search_articles, archive, query)
                        fts.append(seconds)
                        hits[query] = (found, hits.get(query, (0, 0))[1])
                    else:
                        seconds, found = timed(like_search, archive, query)
                        like.append(seconds)
                        hits[query] = (hits.get(query, (0, 0))[0], found)
        med_fts, med_like = statistics.median(fts) * 1000, statistics.median(like) * 1000
        print(f"| {label} | {articles:,} | {med_fts:.1f} ms | {med_like:.1f} ms | "
              f"{med_like / med_fts:.1f}x | {max(fts) * 1000:.1f} / {max(like) * 1000:.1f} ms |")
    finally:
        archive.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    print("| backend | articles | FTS median/query | LIKE median/query | speed-up "
          "| slowest query FTS / LIKE |")
    print("|---|---|---|---|---|---|")
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            bench(f"sqlite:///{folder}/bench.db", "SQLite", args.articles, args.rounds)
    if args.backend in ("postgresql", "both"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg_url)
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:
            print(f"PostgreSQL skipped: {exc}".splitlines()[0])
            return 0
        try:
            bench(f"{args.pg_url}?options=-csearch_path%3D{schema}", "PostgreSQL",
                  args.articles, args.rounds)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
