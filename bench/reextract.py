"""``arsip replay reextract``: this tree beside a baseline revision's, on one archive.

    python bench/reextract.py                      # 1,000 articles crawled twice, baseline main
    python bench/reextract.py --articles 3000 --rounds 5 --baseline HEAD~2 --workers 2

The archive is built once in --work by crawling the fixture site twice, the second time asking
for every article again (``bench.replay.build_archive``: the re-crawl's answers are revisit
records, as a re-crawled archive holds). Each round re-extracts a fresh copy of it under the
baseline's tree (``git archive``) and under this tree, alternating which goes first, and takes
the wall time, the pages per second the command reports, the extractions it ran, the SQL
statements and the peak resident memory of its main process (where the outcomes of payloads
are kept). Both must store
the same article versions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.baseline import baseline_tree  # noqa: E402
from bench.replay import build_archive  # noqa: E402

# run the CLI and say, on stderr's last line, the main process's peak memory (kB) and the SQL
# statements it ran
_RUN = ("import atexit, resource, runpy, sys\n"
        "from sqlalchemy import event\n"
        "from sqlalchemy.engine import Engine\n"
        "ran = [0]\n"
        "event.listen(Engine, 'before_cursor_execute', lambda *_: ran.__setitem__(0, ran[0] + 1))\n"
        "atexit.register(lambda: print('ran', resource.getrusage(resource.RUSAGE_SELF)"
        ".ru_maxrss, ran[0], file=sys.stderr))\n"
        "sys.argv = ['arsip', *sys.argv[1:]]\n"
        "runpy.run_module('crawler', run_name='__main__')\n")


def _round(tree: Path, data: Path, copy: Path, workers: int) -> dict:
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    shutil.copy(data / "arsip.db", copy / "arsip.db")
    (copy / "warc").symlink_to(data / "warc")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARSIP_")}
    env["PYTHONPATH"] = str(tree)  # before the editable install of this tree
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", _RUN, "replay", "reextract", "--data-dir",
                             str(copy), "--json", "--no-progress", "--workers", str(workers)],
                            cwd=tree, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"reextract under {tree} failed:\n{result.stderr[-3000:]}")
    summary = json.loads(result.stdout)
    _, rss, statements = result.stderr.strip().splitlines()[-1].split()
    with sqlite3.connect(copy / "arsip.db") as db:
        versions = db.execute(
            "SELECT p.url, v.number, v.content_hash FROM article_versions v "
            "JOIN pages p ON p.id = v.page_id ORDER BY p.url, v.number").fetchall()
    return {"wall": wall, "pages_per_second": summary["pages_per_second"],
            "examined": summary["examined"], "extracted": summary["extracted"],
            "rss_mb": int(rss) / 1024, "statements": int(statements), "versions": versions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--work", type=Path, default=Path("/tmp/arsip-bench-reextract"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    data, _rate = build_archive(args.work, args.articles)
    trees = {args.baseline: baseline_tree(args.baseline, args.work / "baseline"),
             "this tree": REPO}
    runs: dict[str, list[dict]] = {side: [] for side in trees}
    for n in range(args.rounds):
        for side in list(trees) if n % 2 == 0 else list(trees)[::-1]:
            got = _round(trees[side], data, args.work / "copy", args.workers)
            runs[side].append(got)
            print(f"round {n + 1} {side:10}: {got['wall']:.1f} s, {got['pages_per_second']} "
                  f"pages/s, {got['extracted']} extractions of {got['examined']} pages, "
                  f"{got['rss_mb']:.0f} MB, {got['statements']} SQL statements", file=sys.stderr,
                  flush=True)
    same = all(r["versions"] == runs[args.baseline][0]["versions"]
               for side in runs for r in runs[side])
    print(f"reextract of {runs['this tree'][0]['examined']} archived pages, "
          f"{args.workers} workers, {args.rounds} rounds alternating (medians):")
    print("| side | wall s | pages/s | extractions | SQL statements | main process peak MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for side, got in runs.items():
        print(f"| {side} | {statistics.median(r['wall'] for r in got):.1f} | "
              f"{statistics.median(r['pages_per_second'] for r in got):.1f} | "
              f"{statistics.median(r['extracted'] for r in got):.0f} | "
              f"{statistics.median(r['statements'] for r in got):.0f} | "
              f"{statistics.median(r['rss_mb'] for r in got):.0f} |")
    print(f"same article versions stored by every run: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
