"""Articles stored per second by concurrent recorders: PostgreSQL against SQLite.

    python bench/recorders.py                        # 300 articles per recorder, 2 rounds
    python bench/recorders.py --articles 1000 --rounds 3 --pg postgresql://...

Crawl nodes write one archive at once, each through its own recorder (``storage.recorder``:
the WARC record, its ``captures`` row, the page upsert and the article version, committed
every half second). Here 1, 2 and 4 recorders, each a process of its own recording a site of
its own as a crawl would send it (a capture of a ~30 kB page, then its article), write one
archive at once: a SQLite file (WAL, one writer at a time) and a PostgreSQL schema created and
dropped by this script. Printed: articles stored per second, all recorders together (from the
moment all have opened their runs to the last commit), median over alternating rounds. The
machine's cores bound it too: on 2 cores, 4 recorders share them.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.pgschemas import pg_schemas  # noqa: E402
from storage.errors import StorageError  # noqa: E402
from storage.liveness import this_process  # noqa: E402
from storage.protocol import Article, Capture, Finish, RecorderConfig  # noqa: E402
from storage.recorder import COMMIT_SECONDS, Recorder  # noqa: E402
from storage.records import ArticleRecord, Fetch  # noqa: E402
from storage.warc import Exchange, WarcWriterConfig  # noqa: E402

PARAGRAPH = ("Pemerintah daerah menyiapkan anggaran tambahan untuk perbaikan jalan dan "
             "jembatan yang rusak akibat banjir pekan lalu, kata kepala dinas kepada wartawan. ")


def record(db_url: str, warc: str, site: int, articles: int, ready: object, go: object,
           done: object) -> None:
    recorder = Recorder(RecorderConfig(db_url, WarcWriterConfig(directory=Path(warc)),
                                       site=f"site{site}", base_url=f"https://s{site}.test/",
                                       owner=this_process()), lambda _reply: None)
    ready.release()  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    last = time.monotonic()
    for n in range(articles):
        url = f"https://s{site}.test/2025/04/28/berita-{n}/"
        text = "\n".join(f"{PARAGRAPH} ({n}.{p})" for p in range(12))
        body = (f"<html><body><article>{text}</article>" + "<div>menu</div>" * 1500
                + "</body></html>").encode()
        now = datetime.now(UTC)
        recorder.handle(Capture(n, Exchange(
            url=url, method="GET", request_headers=[(b"User-Agent", b"arsip")],
            request_body=b"", status=200, reason=b"OK",
            response_headers=[(b"Content-Type", b"text/html; charset=utf-8")], body=body,
            fetched_at=now)))
        recorder.handle(Article(n, url, ArticleRecord(url=url, title=f"Berita {n}", text=text),
                                now, Fetch(200, f'"{site}-{n}"', None)))
        if time.monotonic() - last >= COMMIT_SECONDS:
            recorder.commit()
            last = time.monotonic()
    recorder.handle(Finish("finished", {}))
    recorder.commit()
    recorder.close()
    done.put(time.monotonic())  # type: ignore[attr-defined]


def one_round(db_url: str, folder: Path, recorders: int, articles: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    ready, go, done = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=record, args=(db_url, str(folder / f"warc{i}"), i, articles,
                                              ready, go, done)) for i in range(recorders)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    start = time.monotonic()
    go.set()
    ends = [done.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(60)
        if proc.exitcode != 0:
            raise SystemExit(f"a recorder failed (exit {proc.exitcode})")
    return recorders * articles / (max(ends) - start)


def main(argv: list[str] | None = None) -> int:
    from storage.archive import Archive

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args(argv)

    rates: dict[tuple[str, int], list[float]] = {}
    try:
        with (pg_schemas(args.pg, "bench_rec") as new_schema,
              tempfile.TemporaryDirectory(prefix="arsip-bench-") as tmp):
            for round_no in range(args.rounds):
                for backend in (("SQLite", "PostgreSQL") if round_no % 2 == 0
                                else ("PostgreSQL", "SQLite")):
                    for recorders in (1, 2, 4):
                        folder = Path(tmp) / f"{backend}-{recorders}-{round_no}"
                        folder.mkdir()
                        db_url = (f"sqlite:///{folder / 'arsip.db'}" if backend == "SQLite"
                                  else new_schema())
                        Archive.open(db_url).close()  # the schema, before the clock starts
                        rate = one_round(db_url, folder, recorders, args.articles)
                        rates.setdefault((backend, recorders), []).append(rate)
    except StorageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"articles stored per second, all recorders together ({args.articles} each, "
          f"{os.cpu_count()} cores); median of {args.rounds} alternating rounds")
    print(f"{'recorders':>10}{'SQLite':>12}{'PostgreSQL':>12}")
    for recorders in (1, 2, 4):
        row = [statistics.median(rates[(b, recorders)]) for b in ("SQLite", "PostgreSQL")]
        print(f"{recorders:>10}{row[0]:>12.0f}{row[1]:>12.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
