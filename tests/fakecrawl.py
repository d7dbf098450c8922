"""A stand-in for ``arsip crawl --site-id ID`` in the scheduler's tests.

It does what the daemon relies on a crawl to do, and nothing else: ends with the daemon
(``scheduler.child``), starts a run of the site in the database, works for ``FAKE_SECONDS``
(a ``-s`` setting), and on SIGTERM finishes the run as ``interrupted`` and exits 143, as the real
crawl does, after ``FAKE_STOP_SECONDS`` (0) of closing; with ``-s FAKE_STOP_NOW=1`` a second
SIGTERM cuts that short (the real crawl's "stop now"; not by default, because a killed daemon's
crawl can get its parent-death SIGTERM twice, see scheduler/child.py). ``-s FAKE_IGNORE_TERM=1``
makes it
ignore SIGTERM (a stuck crawl). ``-s FAKE_FAIL_FIRST=N`` makes the site's first N crawls fail
before their run opens, as a crawl whose database connection dropped at its start does (counted
in ``DATA_DIR/fake-failed-SITE``). Real crawls under
the daemon are tested in tests/test_daemon.py.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from scheduler.child import exit_with_daemon
from storage.archive import Archive
from storage.errors import SiteBusyError
from storage.liveness import this_process
from storage.sites import get_site


def main(argv: list[str]) -> int:
    exit_with_daemon()
    site_id = int(argv[argv.index("--site-id") + 1])
    settings = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "-s")
    stop = []
    if settings.get("FAKE_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    # the real crawl's start-up (imports, helper processes) before its run begins
    start_by = time.monotonic() + float(settings.get("FAKE_START_SECONDS", "0"))
    while time.monotonic() < start_by and not stop:
        time.sleep(0.02)
    if stop:
        print("Error: interrupted (SIGTERM); nothing was fetched", flush=True)
        return 143
    if _fails_now(site_id, int(settings.get("FAKE_FAIL_FIRST", "0"))):
        print("Error: cannot read the archive database: server closed the connection "
              "unexpectedly (a stand-in failure before the run opened)", flush=True)
        return 1
    archive = Archive.open(os.environ["ARSIP_DB_URL"])
    try:
        site = get_site(archive, str(site_id)).name
        try:
            run = archive.start_run(site_id, settings.get("ARSIP_TRIGGER", "cli"),
                                    this_process())
        except SiteBusyError as exc:  # as the real crawl says it
            print(f"Error: {exc}", flush=True)
            return 1
        cap = argv[argv.index("--max-pages") + 1] if "--max-pages" in argv else "none"
        print(f"fake crawl of {site}: run {run} started (max pages {cap})", flush=True)
        deadline = time.monotonic() + float(settings.get("FAKE_SECONDS", "1"))
        while time.monotonic() < deadline and not stop:
            time.sleep(0.02)
        closed_by = time.monotonic() + float(settings.get("FAKE_STOP_SECONDS", "0"))
        stop_now = 2 if settings.get("FAKE_STOP_NOW") else 0
        while stop and len(stop) != stop_now and time.monotonic() < closed_by:
            time.sleep(0.02)
        outcome = "interrupted" if stop else "finished"
        # a real crawl's stats are ~1.5 KB of JSON (a 5-article site): FAKE_STATS_BYTES pads
        padding = "x" * int(settings.get("FAKE_STATS_BYTES", "0"))
        archive.finish_run(run, outcome, {"response_received_count": 3,
                                          "arsip/health/read": 1, "arsip/articles_stored": 1,
                                          **({"fake/padding": padding} if padding else {})})
        print(f"fake crawl of {site}: run {run} {outcome}", flush=True)
    finally:
        archive.close()
    return 143 if stop else 0


def _fails_now(site_id: int, first: int) -> bool:
    """Whether this crawl is one of the site's first ``first``, which fail."""
    if not first:
        return False
    counter = Path(os.environ["ARSIP_DATA_DIR"]) / f"fake-failed-{site_id}"
    failed = int(counter.read_text()) if counter.exists() else 0
    if failed >= first:
        return False
    counter.write_text(str(failed + 1))
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
