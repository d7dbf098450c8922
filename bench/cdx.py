"""``/cdx`` query cost in ``storage.index``: this tree beside a baseline revision's, same archive.

    python bench/cdx.py                       # 20,000 captures, baseline main
    python bench/cdx.py --captures 50000 --rounds 7 --baseline HEAD~3

An SQLite archive of synthetic captures (URLs of one host, a few captures a second) is built
once; then each round runs the same queries through the baseline's ``CaptureIndex`` (its
``storage/index.py`` as ``git show`` gives it) and this tree's, alternating which goes first,
and prints the median seconds per query kind and the ratio. The queries are a closest query
over the whole host (every capture read and ordered by distance), a filtered scan of the host,
and a plain scan, each written out as CDXJ lines as the replay server writes them. Both sides
must give the same lines.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUERIES = {
    "closest over the host": {"url": ["kudakyv.test/*"], "sort": ["closest"],
                              "closest": ["20260101020000"]},
    "filtered scan": {"url": ["kudakyv.test/*"], "filter": ["~mime:text/.*", "!status:404"]},
    "filter on the line": {"url": ["kudakyv.test/*"], "filter": ["warc.gz"]},
    "plain scan": {"url": ["kudakyv.test/*"]},
}


def baseline_module(rev: str) -> ModuleType:
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:storage/index.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_index.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_index", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_index"] = module
    spec.loader.exec_module(module)
    return module


def build(db: Path, captures: int) -> None:
    from storage.archive import Archive
    from storage.records import CaptureRecord, WarcLocation

    archive = Archive.open(f"sqlite:///{db}")
    archive.batch()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(captures):
        # four captures a second: ties within a second, and at equal distances
        archive.record_capture(CaptureRecord(
            url=f"https://kudakyv.test/{n % 2000}/", fetched_at=t0 + timedelta(seconds=n / 4),
            status=404 if n % 17 == 0 else 200, mime="text/html" if n % 3 else "image/png",
            payload_digest=f"sha1:{n:032d}",
            location=WarcLocation(f"arsip-{n // 5000}.warc.gz", n * 1000, 900, f"<urn:{n}>"),
            record_type="response", refers_to=None, run_id=None))
    archive.close()


def timed(module: ModuleType, engine: object, params: dict[str, list[str]]
          ) -> tuple[float, list[str]]:
    index = module.CaptureIndex(engine)
    query = module.CdxQuery.parse(params)
    start = time.perf_counter()
    lines = [module.format_cdx(row, query) for row in index.cdx(query)]
    return time.perf_counter() - start, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", default="main")
    args = parser.parse_args()
    from sqlalchemy import create_engine

    import storage.index as current

    baseline = baseline_module(args.baseline)
    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "arsip.db"
        build(db, args.captures)
        engine = create_engine(f"sqlite:///{db}")
        sides: dict[str, ModuleType] = {args.baseline: baseline, "this tree": current}
        times: dict[tuple[str, str], list[float]] = {}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(sides)[::-1]
            for kind, params in QUERIES.items():
                got: dict[str, list[str]] = {}
                for side in order:
                    seconds, got[side] = timed(sides[side], engine, params)
                    times.setdefault((kind, side), []).append(seconds)
                if len({tuple(lines) for lines in got.values()}) != 1:
                    sys.exit(f"{kind}: the two sides give different lines")
        print(f"{args.captures} captures, {args.rounds} rounds alternating; median seconds "
              "per query (lines identical on both sides)")
        print(f"| query | {args.baseline} | this tree | this / {args.baseline} |")
        print("| --- | ---: | ---: | ---: |")
        median: Callable[[str, str], float] = lambda kind, side: statistics.median(  # noqa: E731
            times[(kind, side)])
        for kind in QUERIES:
            old, new = median(kind, args.baseline), median(kind, "this tree")
            print(f"| {kind} | {old:.3f} | {new:.3f} | {new / old:.2f} |")


if __name__ == "__main__":
    main()
