"""Re-crawl cost: what revisiting an archived site costs with arsip's re-crawl policy.

    python bench/recrawl.py                      # 1,000 articles of >= 64 KB, 3 rounds
    python bench/recrawl.py --articles 200 --rounds 1

Each round serves a fresh fixture site (``tests/newsite.py``, in this process: the crawls are
subprocesses and measured from outside), crawls it once into an empty archive, copies that
archive, and then, on each copy:

1. re-crawls the unchanged site;
2. edits 10% of the articles (a paragraph appended, sitemaps and feeds dated now, as WordPress
   does) and re-crawls again.

One copy runs arsip's policy (hubs every run, articles only when due or dated after their last
fetch); the other, side by side, asks for every known article conditionally
(``ARSIP_REVISIT_ALL=True``), which is what arsip did before the policy. The two alternate which
goes first. Reported per re-crawl: full article bodies downloaded, requests, WARC growth as a
share of the first crawl's WARC bytes, wall and CPU seconds (the crawl's whole process tree)
against the first crawl, and new article versions stored against the articles edited.
"""

from __future__ import annotations

import argparse
import compileall
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.newsite import BaseURL, Site, build_site, serve  # noqa: E402

SETTINGS = ("CONCURRENT_REQUESTS=16", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            "AUTOTHROTTLE_ENABLED=False", "LOG_LEVEL=INFO")
SIDES = {"policy": (), "revisit-all": ("ARSIP_REVISIT_ALL=True",)}


@dataclass
class Crawl:
    """One crawl, measured."""

    side: str
    step: str
    round: int
    exit_code: int
    wall: float
    cpu: float
    requests: int
    article_bodies: int
    not_modified: int
    warc_bytes_added: int
    versions_added: int


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def warc_bytes(data_dir: Path) -> int:
    folder = data_dir / "warc"
    return sum(p.stat().st_size for p in folder.iterdir()) if folder.is_dir() else 0


def versions(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'arsip.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM article_versions").fetchone()[0])


def crawl(base: BaseURL, data_dir: Path, side: str, step: str, round_no: int,
          extra: tuple[str, ...], log: Path) -> Crawl:
    site: Site = base.site
    articles = {a.path for a in site.articles}
    seen = len(site.requests)
    bytes_before = warc_bytes(data_dir)
    versions_before = versions(data_dir) if (data_dir / "arsip.db").exists() else 0
    args = [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data_dir),
            "--no-progress"]
    for setting in (*SETTINGS, *extra):
        args += ["-s", setting]
    cpu, start = children_cpu(), time.monotonic()
    with open(log, "ab") as out:
        code = subprocess.run(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, check=False).returncode
    wall, cpu = time.monotonic() - start, children_cpu() - cpu
    requests = site.requests[seen:]
    return Crawl(
        side=side, step=step, round=round_no, exit_code=code, wall=wall, cpu=cpu,
        requests=len(requests),
        article_bodies=sum(1 for r in requests if r.path in articles and r.body_bytes > 0),
        not_modified=sum(1 for r in requests if r.status == 304),
        warc_bytes_added=warc_bytes(data_dir) - bytes_before,
        versions_added=versions(data_dir) - versions_before,
    )


def run_round(round_no: int, args: argparse.Namespace, work: Path) -> tuple[Crawl, list[Crawl],
                                                                              int]:
    site = build_site(n_articles=args.articles, page_kb=args.page_kb, seed=round_no)
    site.slow_seconds = 0
    with serve(site) as base:
        for path, res in list(site.resources.items()):
            base.server.rendered(path, res)  # the server's first-hit work is not the crawl's
        first_dir = work / f"r{round_no}-first"
        log = work / f"r{round_no}.log"
        first = crawl(base, first_dir, "first", "first crawl", round_no, (), log)
        copies = {side: work / f"r{round_no}-{side}" for side in SIDES}
        for path in copies.values():
            shutil.copytree(first_dir, path)
        order = list(SIDES) if round_no % 2 else list(reversed(SIDES))
        done = [crawl(base, copies[side], side, "unchanged", round_no, SIDES[side], log)
                for side in order]
        # edit 10% of the articles, spread over the site, then re-crawl both copies
        step = max(1, round(100 / args.edit_percent))
        edited = [a for a in site.articles if "slow" not in a.flags][::step]
        for spec in edited:
            site.edit_article(spec.path, append=f"Ralat redaksi pada putaran {round_no}.")
        for path, res in list(site.resources.items()):
            base.server.rendered(path, res)
        done += [crawl(base, copies[side], side, "edited", round_no, SIDES[side], log)
                 for side in order]
    return first, done, len(edited)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--page-kb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--edit-percent", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    for package in ("crawler", "storage", "scheduler"):
        compileall.compile_dir(REPO / package, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="arsip-recrawl-"))
    rows: list[tuple[Crawl, Crawl, int]] = []
    try:
        for round_no in range(1, args.rounds + 1):
            first, done, edited = run_round(round_no, args, work)
            print(f"round {round_no}: first crawl {first.wall:.1f} s, "
                  f"{first.warc_bytes_added / 1e6:.1f} MB WARC, exit {first.exit_code}",
                  file=sys.stderr)
            rows += [(first, c, edited) for c in done]
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(rows, args)
    return 0 if all(c.exit_code == 0 and f.exit_code == 0 for f, c, _ in rows) else 1


def report(rows: list[tuple[Crawl, Crawl, int]], args: argparse.Namespace) -> None:
    firsts = {f.round: f for f, _, _ in rows}
    print(f"\nRe-crawl of a {args.articles}-article site (>= {args.page_kb} KB pages), "
          f"{args.rounds} round(s), 127.0.0.1, AutoThrottle off")
    print("first crawl, median: "
          f"{statistics.median(f.wall for f in firsts.values()):.1f} s wall, "
          f"{statistics.median(f.cpu for f in firsts.values()):.1f} s CPU, "
          f"{statistics.median(f.warc_bytes_added for f in firsts.values()) / 1e6:.1f} MB WARC, "
          f"{statistics.median(f.article_bodies for f in firsts.values()):.0f} article bodies")
    head = (f"{'re-crawl':<11}{'side':<13}{'bodies':>7}{'requests':>9}{'304':>6}{'WARC +%':>9}"
            f"{'wall s':>8}{'wall %':>8}{'CPU s':>7}{'versions':>10}{'edited':>8}")
    print(head)
    print("-" * len(head))
    for step in ("unchanged", "edited"):
        for side in SIDES:
            mine = [(f, c, e) for f, c, e in rows if c.step == step and c.side == side]
            if not mine:
                continue

            def med(values: list[float]) -> float:
                return statistics.median(values)

            growth = med([100 * c.warc_bytes_added / f.warc_bytes_added for f, c, _ in mine])
            print(f"{step:<11}{side:<13}"
                  f"{med([c.article_bodies for _, c, _ in mine]):>7.0f}"
                  f"{med([c.requests for _, c, _ in mine]):>9.0f}"
                  f"{med([c.not_modified for _, c, _ in mine]):>6.0f}"
                  f"{growth:>8.2f}%"
                  f"{med([c.wall for _, c, _ in mine]):>8.1f}"
                  f"{med([100 * c.wall / f.wall for f, c, _ in mine]):>7.0f}%"
                  f"{med([c.cpu for _, c, _ in mine]):>7.1f}"
                  f"{med([c.versions_added for _, c, _ in mine]):>10.0f}"
                  f"{med([e if step == 'edited' else 0 for _, _, e in mine]):>8.0f}")
    print("(medians over rounds; 'bodies' are full article downloads, 'WARC +%' the growth "
          "against the first crawl's WARC bytes, 'wall %' against the first crawl's wall time)")
    for _, c, e in rows:
        if c.exit_code or (c.step == "edited" and c.versions_added != e):
            print(f"  round {c.round} {c.side} {c.step}: exit {c.exit_code}, "
                  f"{c.versions_added} versions for {e} edited")


if __name__ == "__main__":
    raise SystemExit(main())
