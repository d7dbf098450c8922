"""What loading a run's revisit plan costs on a big site: arsip's plan against the old one.

    python bench/revisit_plan.py                        # 100,000 articles, 5% due, 3 rounds
    python bench/revisit_plan.py --articles 20000 --old ../main

A re-crawl starts by loading its site's plan (``storage.revisit.load_plan``, in the recorder)
and pickling it to the crawl process. Each round builds a SQLite archive of ``--articles``
article pages (5% due, the rest between rungs or past the ladder; 200 hubs, half of them later
pages of listings), then, in fresh subprocesses, loads and pickles the plan with this checkout
and with ``--old`` (another checkout, e.g. main before the plan was indexed), alternating which
goes first. Reported: seconds to load (recorder), pickle (recorder) and unpickle (crawl
process), pickled bytes, peak RSS of the process, articles loaded as rows, due, hubs; medians.
The old side counts as due the past-ladder articles its in-Python fallback worked out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_MEASURE = r"""
import json, pickle, resource, sys, time
sys.path.insert(0, sys.argv[1])
from storage.archive import Archive
from storage.revisit import RevisitPolicy, load_plan
arc = Archive.open(sys.argv[2])
t0 = time.perf_counter()
plan = load_plan(arc, 1)
t1 = time.perf_counter()
data = pickle.dumps(plan)
t2 = time.perf_counter()
pickle.loads(data)  # what the crawl process does with it
t3 = time.perf_counter()
full = len(getattr(plan, "due_pages", None) or getattr(plan, "articles", {}))
print(json.dumps({"load": t1 - t0, "pickle": t2 - t1, "unpickle": t3 - t2,
                  "total": t3 - t0, "bytes": len(data), "full": full,
                  "due": len(plan.due), "hubs": len(plan.hubs),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build(code: Path, db: Path, articles: int) -> None:
    """An archive of ``articles`` article pages and 200 hubs, written by ``code``'s schema."""
    script = r"""
import sys
from datetime import datetime, timedelta, UTC
sys.path.insert(0, sys.argv[1])
from sqlalchemy import text
from storage.archive import Archive
arc = Archive.open(sys.argv[2])
n = int(sys.argv[3])
site = arc.ensure_site("besar.test", "https://besar.test/")
now = datetime.now(UTC).replace(tzinfo=None)
def due(i):
    if i % 20 == 0:
        return now - timedelta(hours=1)          # due
    if i % 3 == 0:
        return None                               # past the ladder
    return now + timedelta(days=1 + i % 7)        # between rungs
rows = [{"u": f"https://besar.test/{2020 + i % 6}/{1 + i % 12:02d}/{i}/berita-nomor-{i}-hari-ini/",
         "s": site, "t": now - timedelta(days=i % 900), "due": due(i), "etag": f'"{i:x}-abc"',
         "lm": "Sat, 01 Nov 2025 07:00:00 GMT"} for i in range(n)]
with arc.write() as conn:
    conn.execute(text(
        "INSERT INTO pages (url, site_id, kind, first_seen, last_fetched, last_status, "
        "published, next_due, etag, last_modified, versions, checks, changes) VALUES "
        "(:u, :s, 'article', :t, :t, 200, :t, :due, :etag, :lm, 1, 1, 0)"), rows)
    conn.execute(text(
        "INSERT INTO pages (url, site_id, kind, first_seen, last_fetched, last_status, "
        "versions, checks, changes) VALUES (:u, :s, 'hub', :t, :t, 200, 0, 1, 0)"),
        [{"u": f"https://besar.test/rubrik-{i % 100}/" + (f"page/{i}/" if i >= 100 else ""),
          "s": site, "t": now} for i in range(200)])
arc.close()
"""
    subprocess.run([sys.executable, "-c", script, str(code), f"sqlite:///{db}", str(articles)],
                   check=True)


def measure(code: Path, db: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(code), f"sqlite:///{db}"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old", type=Path, default=REPO.parent.parent / "main",
                        help="the checkout to compare with [default: /work/main]")
    args = parser.parse_args()
    sides = {"this checkout": REPO, f"old ({args.old})": args.old.resolve()}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory(prefix="arsip-plan-") as tmp:
        for rnd in range(args.rounds):
            order = list(sides.items())
            if rnd % 2:
                order.reverse()
            for name, code in order:
                db = Path(tmp) / f"{rnd}-{len(results[name])}-{abs(hash(name))}.db"
                build(code, db, args.articles)
                results[name].append(measure(code, db))
                db.unlink()
    print(f"revisit plan of a site of {args.articles:,} articles (5% due), "
          f"{args.rounds} rounds, medians")
    print(f"{'side':<28}{'load s':>8}{'pickle s':>10}{'unpickle s':>12}{'total s':>9}"
          f"{'bytes':>12}{'RSS MB':>8}{'full rows':>11}{'due':>7}{'hubs':>6}")
    for name, runs in results.items():
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(f"{name:<28}{med['load']:>8.3f}{med['pickle']:>10.3f}{med['unpickle']:>12.3f}"
              f"{med['total']:>9.3f}{med['bytes']:>12,.0f}"
              f"{med['rss_mb']:>8.0f}{med['full']:>11,.0f}{med['due']:>7,.0f}"
              f"{med['hubs']:>6,.0f}")


if __name__ == "__main__":
    main()
