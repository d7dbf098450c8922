"""The daemon's crawls: each one a subprocess of ``arsip crawl --site-id ID``.

The site goes by its id, never by its name: a name can also be a site profile's (bundled, or in
``DATA_DIR/sites/``), and a site removed and added again under its old name is another site.

A Twisted reactor cannot be restarted, and a crawl process gives its memory back to the system
when it ends; so every run is a process of its own (DESIGN.md "Scheduler"). Each gets:

- its own session (process group), so a Ctrl-C or a SIGTERM to the daemon's group reaches the
  daemon alone, and the daemon stops each crawl exactly once: SIGTERM to the crawl's group, a
  bounded wait, then SIGKILL;
- ``ARSIP_DAEMON_PID`` in its environment: the crawl asks the kernel for SIGTERM when the daemon
  dies (``scheduler.child``), so a crawl never outlives a killed daemon by more than its own
  clean stop;
- one log file, ``DATA_DIR/logs/crawl-SITE-TIME.log``, holding its log and everything it prints;
  the newest ``keep_logs`` of each site are kept.

The database URL travels in the environment, not on the command line, where ``ps`` would show
its password to every user of the machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

DAEMON_PID_ENV = "ARSIP_DAEMON_PID"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class RunningCrawl:
    """One crawl subprocess the daemon started."""

    site_id: int
    site: str
    due: datetime
    started: datetime
    process: subprocess.Popen[bytes]
    log_file: Path
    stop_sent: float | None = None  # monotonic time SIGTERM went out
    killed: bool = False
    recovery: bool = False  # a re-run of a site whose last run died with the daemon
    exit_code: int | None = field(default=None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        if self.exit_code is None:
            self.exit_code = self.process.poll()
        return self.exit_code

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the crawl's whole process group (crawl, recorder, workers)."""
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass  # already gone
        except PermissionError:
            # the group leader is gone and its pid was reused: only the process, if still ours
            if self.process.poll() is None:
                self.process.send_signal(signum)

    def stop(self) -> None:
        """Ask it to stop cleanly (once): SIGTERM, as systemd would."""
        if self.stop_sent is None and self.poll() is None:
            self.stop_sent = time.monotonic()
            self.signal(signal.SIGTERM)

    def stop_now(self) -> None:
        """Ask it again: a crawl takes a further signal as "stop now" (requests in flight are
        dropped; what it fetched is still written out)."""
        if self.poll() is None:
            if self.stop_sent is None:
                self.stop_sent = time.monotonic()
            self.signal(signal.SIGTERM)

    def kill(self) -> None:
        """Stop it now: SIGKILL to its group. Whatever it wrote is recovered by the next run."""
        if self.poll() is None:
            self.killed = True
        self.signal(signal.SIGKILL)


def log_path(logs: Path, site: str, now: datetime) -> Path:
    """A new log file for one run of ``site`` (created, so two runs never share one)."""
    logs.mkdir(parents=True, exist_ok=True)
    stem = f"crawl-{_UNSAFE.sub('_', site)}-{now:%Y%m%dT%H%M%S}"
    for serial in range(1, 1000):
        path = logs / (f"{stem}.log" if serial == 1 else f"{stem}-{serial}.log")
        try:
            path.open("x").close()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free log file name for {stem} in {logs}")


def prune_logs(logs: Path, site: str, keep: int) -> int:
    """Remove all but the newest ``keep`` crawl logs of ``site``; how many went."""
    if keep <= 0:
        return 0
    # exactly log_path's names: a prefix alone would take site "tempo-2"'s logs for "tempo"'s
    # (and delete them first: they sort first)
    own = re.compile(re.escape(f"crawl-{_UNSAFE.sub('_', site)}-")
                     + r"(\d{8}T\d{6})(?:-(\d+))?\.log")
    found = ((own.fullmatch(p.name), p) for p in logs.glob("crawl-*.log"))
    # oldest first: by time, then by serial (a name's "-2" sorts before its "." otherwise)
    files = [p for _, p in sorted(((m.group(1), int(m.group(2) or 1)), p)
                                   for m, p in found if m)]
    removed = 0
    for path in files[:-keep]:
        try:
            path.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def start_crawl(command: list[str], *, site_id: int, site: str, due: datetime,
                data_dir: Path, db_url: str, max_pages: int | None,
                settings: tuple[str, ...], logs: Path, recovery: bool = False) -> RunningCrawl:
    """Start ``arsip crawl --site-id SITE_ID`` for the daemon; its output goes to its own log
    file (named after ``site``)."""
    now = datetime.now(UTC)
    log_file = log_path(logs, site, now)
    args = [*command, "crawl", "--site-id", str(site_id), "--no-progress",
            "-s", "ARSIP_TRIGGER=daemon", "-s", f"ARSIP_LOG_FILE={log_file}"]
    if max_pages:
        args += ["--max-pages", str(max_pages)]
    for setting in settings:
        args += ["-s", setting]
    env = {**os.environ, "ARSIP_DATA_DIR": str(data_dir), "ARSIP_DB_URL": db_url,
           DAEMON_PID_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"}
    with open(log_file, "ab") as out:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                   close_fds=True)
    return RunningCrawl(site_id=site_id, site=site, due=due, started=now, process=process,
                        log_file=log_file, recovery=recovery)


def last_error_line(log_file: Path, limit: int = 64_000) -> str | None:
    """The crawl's last ``Error: ...`` line (what it told the user), if it printed one."""
    try:
        with open(log_file, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    errors = [line for line in tail.splitlines() if line.startswith("Error:")]
    return errors[-1].removeprefix("Error:").strip() if errors else None
