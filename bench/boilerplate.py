"""Site boilerplate: what the recorder learns and strips, and what it costs per article, beside
a baseline revision's recorder.

    python bench/boilerplate.py                  # 1,000 fixture articles, baseline main
    python bench/boilerplate.py --articles 300 --rounds 5 --baseline HEAD~2

The fixture site (``tests/newsite.py``) is built with three site-wide lines inside every article
body (an app box, a Google News line, a newsletter line). Every article is extracted once, as
the crawl's workers would. Then the recorder's side is timed: a ``storage.recorder.Recorder``
on a fresh SQLite archive is sent every article (a crawl), then, as a second run, every article
again with every fifth one edited (a re-crawl), committing every 50 articles. Three sides, each
in its own process, alternating round by round: this tree without boilerplate (the anchor),
the baseline revision's tree (``git archive``) with it, and this tree with it. It prints the
time and the SQL statements per article of each side and pass, the lines learned and stripped,
and checks this tree's outcome against the site's ground truth: no site-wide line left in any
text, every article paragraph kept (the dateline "Kudakyv – ..." that opens each article
included).
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SITE_LINES = (
    "Simak breaking news dan berita pilihan kami langsung di ponselmu. Pilih saluran andalanmu "
    "akses berita Kudakyv WhatsApp Channel.",
    "Dapatkan update berita pilihan setiap hari di Google News",
    "Daftar newsletter Kudakyv: ringkasan berita pagi di kotak masukmu.",
)
COMMIT_EVERY = 50  # articles between commits (the recorder commits every 0.5 s)
EDIT_EVERY = 5  # the re-crawl finds every fifth article edited


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


def _pass(db_url: str, warc: Path, articles: list[tuple[str, object]], learn: bool,
          at: datetime) -> tuple[float, int, object]:
    """One run of the recorder over the articles: seconds, statements, its boilerplate."""
    from sqlalchemy import event

    from storage.liveness import this_process
    from storage.protocol import Article, Finish, RecorderConfig
    from storage.recorder import Recorder
    from storage.records import BoilerplateConfig, Fetch
    from storage.warc import WarcWriterConfig

    config = RecorderConfig(db_url, WarcWriterConfig(directory=warc), site="kudakyv",
                            base_url="http://kudakyv.example/", owner=this_process(),
                            boilerplate=BoilerplateConfig(enabled=learn))
    recorder = Recorder(config, lambda _reply: None)
    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    event.listen(recorder.archive.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    for i, (url, article) in enumerate(articles, 1):
        recorder.handle(Article(None, url, article, at, Fetch(200)))
        if i % COMMIT_EVERY == 0:
            recorder.commit()
    recorder.handle(Finish("finished", {}))
    recorder.close()
    return time.perf_counter() - started, statements[0], recorder.boilerplate


def _worker(articles_file: Path, workdir: Path, learn: bool) -> dict:
    """One side of one round, in this process (run by ``main`` under either tree)."""
    articles = pickle.loads(articles_file.read_bytes())
    db = workdir / f"{'learn' if learn else 'anchor'}-{time.monotonic_ns()}.db"
    db_url = f"sqlite:///{db}"
    at = datetime(2025, 5, 1, tzinfo=UTC)
    crawl = _pass(db_url, workdir / "warc", articles, learn, at)
    from storage.archive import Archive

    archive = Archive.open(db_url)
    with archive.read() as conn:
        texts = dict(conn.exec_driver_sql(
            "SELECT p.url, v.text FROM article_versions v JOIN pages p ON p.id = v.page_id"
        ).all())
    archive.close()
    edited = [(url, replace(article, text=article.text + "\nParagraf tambahan dari redaksi.")
               if i % EDIT_EVERY == 0 else article) for i, (url, article) in enumerate(articles)]
    recrawl = _pass(db_url, workdir / "warc", edited, learn, at + timedelta(days=1))
    state = crawl[2]
    return {"passes": [{"seconds": crawl[0], "statements": crawl[1]},
                       {"seconds": recrawl[0], "statements": recrawl[1]}],
            "texts": texts, "learned": len(state.learned) if state else 0,
            "stripped": state.stripped if state else 0}


def _side(tree: Path, articles_file: Path, workdir: Path, learn: bool) -> dict:
    out = workdir / f"out-{time.monotonic_ns()}.json"
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", str(tree),
                    "--articles-file", str(articles_file), "--workdir", str(workdir),
                    "--out", str(out), *(["--learn"] if learn else [])], check=True)
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="main", help="the revision to compare with")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--articles-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--learn", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:  # one side of one round, under the tree given
        sys.path.insert(0, str(args.worker))
        args.out.write_text(json.dumps(_worker(args.articles_file, args.workdir, args.learn)))
        return 0
    sys.path.insert(0, str(REPO))
    from bench.baseline import baseline_tree

    started = time.perf_counter()
    articles, site = _extract(args.articles)
    n = len(articles)
    print(f"{n} articles extracted in {time.perf_counter() - started:.1f} s "
          "(not part of the figures)", file=sys.stderr)
    sides = ("anchor", args.baseline, "this tree")
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="arsip-bench-boiler-") as tmp:
        work = Path(tmp)
        articles_file = work / "articles.pickle"
        articles_file.write_bytes(pickle.dumps(articles))
        trees = {"anchor": REPO,
                 args.baseline: baseline_tree(args.baseline, work / "baseline"),
                 "this tree": REPO}
        for round_no in range(1, args.rounds + 1):
            for side in sides if round_no % 2 else sides[::-1]:
                got = _side(trees[side], articles_file, work, learn=side != "anchor")
                runs[side].append(got)
                print(f"round {round_no} {side:12s} " + "; ".join(
                    f"{p['seconds'] * 1e6 / n:6.0f} µs {p['statements'] / n:5.2f} statements "
                    "per article" for p in got["passes"]), file=sys.stderr)

    print(f"\nRecorder side, {n} fixture articles, a crawl then a re-crawl ({n // EDIT_EVERY} "
          f"edited), {args.rounds} alternating rounds (medians; statements per article "
          "include the run's own: opening, commits, the end):")
    print("| side | crawl µs/article | crawl statements/article | re-crawl µs/article "
          "| re-crawl statements/article |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for side in sides:
        cells = []
        for at in (0, 1):
            seconds = statistics.median(r["passes"][at]["seconds"] for r in runs[side])
            statements = statistics.median(r["passes"][at]["statements"] for r in runs[side])
            cells += [f"{seconds * 1e6 / n:.0f}", f"{statements / n:.2f}"]
        name = side if side == "anchor" else f"{side}, boilerplate"
        print(f"| {name} | " + " | ".join(cells) + " |")

    ours, anchor = runs["this tree"][-1], runs["anchor"][-1]
    texts: dict[str, str] = ours["texts"]
    left = sum(line in text for text in texts.values() for line in SITE_LINES)
    by_url = {"http://kudakyv.example" + spec.path: spec for spec in site.articles}

    def lost(got: dict) -> set[tuple[str, str]]:
        return {(url, paragraph) for url, text in got["texts"].items()
                if url in by_url for paragraph in by_url[url].text if paragraph not in text}

    # a paragraph the extraction itself misses is missing on both sides: not the stripping's
    stripped_away = lost(ours) - lost(anchor)
    datelines = [sum(text.startswith("Kudakyv – ") for text in got["texts"].values())
                 for got in (anchor, ours)]
    print(f"  lines learned: {ours['learned']}; lines stripped: {ours['stripped']:,} "
          f"(site-wide lines in {len(texts)} texts: {3 * len(texts):,})")
    print(f"  site-wide lines left in stored texts: {left}; article paragraphs lost to "
          f"stripping: {len(stripped_away)} (lost by the extraction on both sides: "
          f"{len(lost(anchor))})")
    print(f"  texts opening with the dateline 'Kudakyv – ': {datelines[1]} "
          f"(anchor: {datelines[0]})")
    same = runs[args.baseline][-1]["texts"] == texts
    print(f"  stored texts identical to the baseline's: {same}")
    return 0 if left == 0 and not stripped_away and same else 1


if __name__ == "__main__":
    raise SystemExit(main())
