"""Search figures: full-text search (SQLite FTS5, PostgreSQL tsvector) beside the ``LIKE`` scan
``arsip search`` used before, on the same 10,000 articles, in alternating rounds.

    python bench/search.py                     # SQLite, and PostgreSQL when it answers
    python bench/search.py --articles 10000 --rounds 5 --backend sqlite

Articles are made of real prose: sentences drawn from the 181 article bodies of the AEB benchmark
(../shared/benchmarks/aeb, mostly English news) and from the fixture site's Indonesian news
sentences, about 500 words each, so that words are as unevenly common as in real news. They are
stored through ``Archive.store_article``, as a crawl stores them. The queries are chosen from the
corpus by how many articles hold them: very common words, middling ones, rare ones, two-word
queries and phrases. Each round times every query once with each method; the figures are the
median time per query, over all queries and per kind. Both methods search the current version
of each article and return its 20 best (FTS: ranked; LIKE: newest first, as before).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
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

AEB = REPO.parent / "shared" / "benchmarks" / "aeb" / "ground-truth.json"


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


def sentences() -> list[str]:
    found: list[str] = []
    if AEB.exists():
        for page in json.loads(AEB.read_text(encoding="utf-8")).values():
            body = page.get("articleBody") or ""
            found += [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if len(s) > 40]
    rng = random.Random(3)
    titles = txt.TitleMaker(rng)
    for _ in range(300):
        title, topic = titles.make()
        found += txt.paragraphs(rng, title, topic)
    return found


def corpus(count: int) -> Iterator[tuple[str, str]]:
    pool = sentences()
    rng = random.Random(11)
    for _ in range(count):
        picked = rng.sample(pool, 18)
        title = " ".join(picked[0].split()[:9])
        yield title, "\n".join(" ".join(picked[i:i + 3]) for i in range(1, 18, 3))


def pick_queries(archive: Archive) -> list[tuple[str, str]]:
    """(kind, query): words chosen by how many articles hold them."""
    versions = ArticleVersion.__table__
    with archive.read() as conn:
        texts = conn.execute(select(versions.c.text).limit(3000)).scalars().all()
    df: Counter[str] = Counter()
    for body in texts:
        df.update({w for w in re.findall(r"[a-z]{4,}", body.lower())})
    ranked = [w for w, _ in df.most_common()]
    rng = random.Random(5)
    common = ranked[20:60]
    middle = [w for w in ranked if 15 <= df[w] <= 60]
    rare = [w for w in ranked if df[w] == 2]
    out = [("common", w) for w in rng.sample(common, 5)]
    out += [("middling", w) for w in rng.sample(middle, 5)]
    out += [("rare", w) for w in rng.sample(rare, 5)]
    out += [("two words", f"{a} {b}") for a, b in zip(rng.sample(common, 3),
                                                      rng.sample(middle, 3), strict=True)]
    phrases = []
    for body in rng.sample(texts, 3):
        words = re.findall(r"[A-Za-z]{3,}", body)
        start = rng.randrange(max(1, len(words) - 3))
        phrases.append(" ".join(words[start:start + 3]))
    out += [("phrase", f'"{p}"') for p in phrases]
    return out


def fill(archive: Archive, count: int) -> None:
    site = archive.ensure_site("bench", "https://kudakyv.test/")
    when = datetime(2025, 4, 28, tzinfo=UTC)
    archive.batch()
    for n, (title, body) in enumerate(corpus(count)):
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
        queries = pick_queries(archive)
        times: dict[tuple[str, str], list[float]] = {}
        for n in range(rounds):
            for method in (("fts", "like") if n % 2 == 0 else ("like", "fts")):
                run = search_articles if method == "fts" else like_search
                for kind, query in queries:
                    seconds, _ = timed(run, archive, query)
                    times.setdefault((method, kind), []).append(seconds)

        def med(method: str, kind: str | None = None) -> float:
            values = [v for (m, k), vs in times.items() if m == method and kind in (None, k)
                      for v in vs]
            return statistics.median(values) * 1000

        kinds = list(dict.fromkeys(kind for kind, _ in queries))
        print(f"| {label} | {articles:,} | {med('fts'):.1f} ms | {med('like'):.1f} ms | "
              f"{med('like') / med('fts'):.1f}x | "
              + "; ".join(f"{k} {med('fts', k):.0f}/{med('like', k):.0f}" for k in kinds)
              + " |", flush=True)
        print("    queries: " + ", ".join(q for _, q in queries), flush=True)
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
          "| per kind, FTS/LIKE ms |")
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
