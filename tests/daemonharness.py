"""``arsip daemon`` with the crawl command replaced by tests/fakecrawl.py, for the scheduler's
tests: ``python -m tests.daemonharness DATA_DIR [--max-concurrent N] [-s NAME=VALUE]...``.
``--draw F`` makes every run's jitter delay F times the site's jitter, not a random share."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crawler.config import resolve_warc_dir
from scheduler.daemon import Daemon, DaemonConfig
from scheduler.logs import configure_logging
from storage.archive import Archive


class _FixedDraw:
    """A stand-in for the jobs' random draw: always the same share of the range."""

    def __init__(self, share: float) -> None:
        self.share = share

    def uniform(self, low: float, high: float) -> float:
        return low + self.share * (high - low)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--max-concurrent", type=int, default=2)
    parser.add_argument("--stop-timeout", type=float, default=20.0)
    parser.add_argument("--stop-now-timeout", type=float, default=10.0)
    parser.add_argument("--sites-poll", type=float, default=0.3)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--keep-logs", type=int, default=100)
    parser.add_argument("--draw", type=float, default=None)
    parser.add_argument("--retry-delays", default="5,15,60,300")
    parser.add_argument("-s", dest="settings", action="append", default=[])
    args = parser.parse_args(argv)
    configure_logging(args.data_dir / "logs", to_stdout=False)
    db_url = f"sqlite:///{args.data_dir / 'arsip.db'}"
    archive = Archive.open(db_url)
    try:
        daemon = Daemon(DaemonConfig(
            data_dir=args.data_dir, db_url=db_url,
            crawl_command=(sys.executable, "-m", "tests.fakecrawl"),
            max_concurrent=args.max_concurrent, max_jitter=args.jitter,
            stop_timeout=args.stop_timeout,
            stop_now_timeout=args.stop_now_timeout, sites_poll=args.sites_poll,
            settings=tuple(args.settings), keep_logs=args.keep_logs,
            retry_delays=tuple(float(x) for x in args.retry_delays.split(",") if x),
            warc_dir=resolve_warc_dir(dict(s.partition("=")[::2] for s in args.settings)
                                      .get("ARSIP_WARC_DIR"), args.data_dir),
        ), archive)
        if args.draw is not None:
            daemon.jobs.rng = _FixedDraw(args.draw)  # type: ignore[assignment]
        return daemon.run()
    finally:
        archive.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
