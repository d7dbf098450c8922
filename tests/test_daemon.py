"""``arsip daemon`` end to end: real crawls of the fixture site on a schedule of seconds.

Every wait is for a state the daemon, its crawls or the served site report (a row in
``crawl_runs``, a line in the daemon's log, a request the site answered), never a sleep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from storage.archive import content_hash
from tests.conftest import REPO, run_arsip, slow_site
from tests.newsite import WIB, BaseURL, Site, build_site, serve
from tests.signal_cases import descendants
from tests.test_failures import alive, captures_are_readable, warcio_check
from tests.test_scheduler import wait_for

CRAWL_SETTINGS = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1",
                  "-s", "DOWNLOAD_TIMEOUT=5", "-s", "RETRY_TIMES=0")


class Daemon:
    """``arsip daemon`` on a data dir, in a session of its own, and what it left behind."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db = data_dir / "arsip.db"
        self.procs: list[subprocess.Popen[str]] = []

    def add(self, base: str, every: str, name: str = "fixture") -> None:
        added = run_arsip("sites", "add", base, "--name", name, "--every", every,
                          "--data-dir", str(self.data_dir))
        assert added.returncode == 0, added.stderr

    def start(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "daemon", "--data-dir", str(self.data_dir),
             "--jitter", "0", "--sites-poll", "0.5", *CRAWL_SETTINGS, *args],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.procs.append(proc)
        starts = len(self.lines("arsip daemon started"))
        wait_for("the daemon to start", lambda: len(self.lines("arsip daemon started")) > starts)
        return proc

    def log(self) -> str:
        path = self.data_dir / "logs" / "daemon.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.log().splitlines() if needle in line]

    def query(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.db)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def runs(self) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM crawl_runs ORDER BY id")

    def finished(self) -> list[sqlite3.Row]:
        return [r for r in self.runs() if r["outcome"] != "running"]

    def crawl_pids(self) -> list[int]:
        return [int(line.split("(pid ", 1)[1].split(",", 1)[0])
                for line in self.lines("crawl started (pid ")]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for pid in self.crawl_pids():  # no crawl may outlive its test
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def daemon(data_dir: Path) -> Iterator[Daemon]:
    d = Daemon(data_dir)
    try:
        yield d
    finally:
        d.close()


def _when(value: str) -> datetime:
    """A time the archive stores: SQLite keeps UTC without its zone (not the machine's)."""
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _requests_during(base: BaseURL, run: sqlite3.Row) -> list[Any]:
    start = _when(run["started_at"]).timestamp() - 1.5  # the crawl fetches robots.txt first
    end = _when(run["finished_at"]).timestamp() + 0.5
    return [r for r in base.requests if start <= r.at <= end]


def test_two_cycles_catch_edits_and_a_revert_fetching_only_what_is_due(
        daemon: Daemon) -> None:
    site: Site = build_site(n_articles=10)
    site.slow_seconds = 0.2
    # a plain article, and a ladder whose first rung it reaches 15 s into the test: the newer
    # articles reach it hours later, the older ones are past it and wait a month for the next
    newest, edited, reverted = site.articles[6], site.articles[2], site.articles[7]
    assert not newest.flags
    rung = int((datetime.now(WIB) - newest.published).total_seconds()) + 15
    ladder = f"{rung}s,{rung + 30 * 86400}s"
    due_at = newest.published.timestamp() + rung
    original = list(reverted.text)
    with serve(site) as base:
        daemon.add(base, "3s")
        proc = daemon.start("-s", f"ARSIP_REVISIT_LADDER={ladder}")
        wait_for("the first run", lambda: daemon.finished(), timeout=120)
        site.edit_article(edited.path, append="Ralat: jumlah korban diperbarui.")
        site.edit_article(reverted.path, text=[*original[:-1], "Paragraf yang diganti."])
        edits_at = time.time()
        wait_for("a run after the edits", lambda: any(
            _when(r["started_at"]).timestamp() > edits_at for r in daemon.finished()),
            timeout=120)
        site.edit_article(reverted.path, text=original)  # the editor takes it back
        revert_at = time.time()
        wait_for("a run after the revert and the newest article's rung", lambda: any(
            _when(r["started_at"]).timestamp() > max(revert_at, due_at)
            for r in daemon.finished()), timeout=120)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    runs = daemon.runs()
    # one crawl of the site at a time: each run ended before the next began
    for before, after in pairwise(runs):
        assert before["finished_at"] and before["finished_at"] <= after["started_at"]
    assert {r["trigger"] for r in runs} == {"daemon"}
    assert len(daemon.lines("fixture: run ")) == len(runs)

    versions = {row["url"]: row["versions"] for row in daemon.query(
        "SELECT url, versions FROM pages WHERE kind = 'article' AND versions > 0")}
    assert versions[edited.url(base)] == 2
    assert versions[reverted.url(base)] == 3  # A, B, then A again: a third version
    hashes = [row["content_hash"] for row in daemon.query(
        "SELECT v.content_hash FROM article_versions v JOIN pages p ON p.id = v.page_id "
        "WHERE p.url = ? ORDER BY v.number", reverted.url(base))]
    assert hashes[0] == hashes[2] != hashes[1]
    assert hashes[0] == content_hash(reverted.title, "\n".join(original))
    assert all(n == 1 for url, n in versions.items()
               if url not in (edited.url(base), reverted.url(base)))

    # only what was due was fetched after the first run: hubs, the edited articles once their
    # sitemap date moved, and the newest article once its rung came (a 304)
    first = runs[0]
    stored = {spec.path for spec in site.articles
              if spec.url(base) in versions and spec is not newest}
    later = [r for run in runs[1:] if run["finished_at"] for r in _requests_during(base, run)
             if r.at > _when(first["finished_at"]).timestamp()]
    bodies = {r.path for r in later if r.path in stored and r.body_bytes}
    assert bodies == {edited.path, reverted.path}
    asked_newest = [r for r in later if r.path == newest.path]
    assert asked_newest and all(r.at >= due_at for r in asked_newest)
    assert {r.status for r in asked_newest} == {304}
    assert all(r.header("If-None-Match") for r in asked_newest)
    unchanged = stored - {edited.path, reverted.path}
    assert not [r for r in later if r.path in unchanged and r.body_bytes]
    # and the archive holds them as revisits
    revisits = daemon.query("SELECT url, status FROM captures WHERE record_type = 'revisit'")
    assert (newest.url(base), 304) in {(r["url"], r["status"]) for r in revisits}
    assert len(revisits) > len(runs)  # hubs that did not change are identical-payload revisits

    health = run_arsip("status", "--data-dir", str(daemon.data_dir))
    assert "fixture: every 3s" in health.stdout and "extraction health" in health.stdout


# --- kills, restarts, manual crawls, systemd ------------------------------------------------------

def _unindexed(data_dir: Path) -> list[str]:
    """Response and revisit records of the WARC files that have no row in ``captures``."""
    from warcio.archiveiterator import ArchiveIterator

    indexed = {row[0] for row in sqlite3.connect(data_dir / "arsip.db").execute(
        "SELECT warc_record_id FROM captures")}
    missing = []
    for path in sorted((data_dir / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    record_id = record.rec_headers.get_header("WARC-Record-ID")
                    if record_id not in indexed:
                        missing.append(f"{path.name}: {record_id}")
    return missing


@pytest.mark.parametrize("everything", [False, True], ids=["daemon", "daemon-and-crawls"])
def test_kill_9_and_restart_leaves_a_whole_archive_and_catches_up_once(
        daemon: Daemon, everything: bool) -> None:
    site = slow_site(12, 0.3)
    with serve(site) as base:
        daemon.add(base, "1h")
        first = daemon.start()
        wait_for_requests_(base, 8)  # mid-crawl
        [crawl_pid] = daemon.crawl_pids()
        helpers = descendants(crawl_pid)
        os.kill(first.pid, signal.SIGKILL)
        if everything:  # the OOM killer, a power cut, systemd's last SIGKILL to the cgroup
            for pid in (crawl_pid, *helpers):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        first.wait(10)
        # no crawl outlives its daemon by more than its own clean stop
        wait_for("the crawl's processes gone", lambda: not any(
            alive(pid) for pid in (crawl_pid, *helpers)), timeout=60)
        [run] = daemon.runs()
        assert run["outcome"] == ("running" if everything else "interrupted")
        assert bool(list((daemon.data_dir / "warc").glob("*.open"))) == everything
        # the restart: the dead run is marked, the WARC repaired and indexed, the site re-run
        # first, once, and its next run an hour away
        second = daemon.start()
        wait_for("the catch-up run", lambda: len(daemon.finished()) == 2, timeout=180)
        runs = daemon.runs()
        assert runs[0]["outcome"] == ("killed" if everything else "interrupted")
        assert runs[1]["outcome"] == "finished"
        started = daemon.lines("fixture: crawl started")
        assert len(started) == 2 and "re-run of a crawl that did not finish" in started[1]
        if everything:
            assert daemon.lines(f"Run {runs[0]['id']} died with its process: marked killed")
            assert daemon.lines("Recovered WARC file left open by a crawl that died")
        next_run = daemon.query("SELECT next_run_at FROM sites")[0]["next_run_at"]
        assert _when(next_run).timestamp() > time.time() + 50 * 60
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
    files = sorted((daemon.data_dir / "warc").iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)
    assert _unindexed(daemon.data_dir) == []
    assert captures_are_readable(daemon.db, daemon.data_dir / "warc") > 0


def wait_for_requests_(base: BaseURL, count: int) -> None:
    wait_for(f"{count} requests answered", lambda: len(base.requests) >= count, timeout=120)


def test_a_manual_crawl_beside_a_scheduled_one_is_refused_or_waits(daemon: Daemon) -> None:
    site = build_site(n_articles=8)
    site.slow_seconds = 0.2
    site.gate = threading.Event()  # the daemon's crawl is held at its first requests
    with serve(site) as base:
        daemon.add(base, "1h")
        proc = daemon.start("-s", "DOWNLOAD_TIMEOUT=180")
        wait_for_requests_(base, 1)
        [scheduled] = daemon.runs()
        assert scheduled["outcome"] == "running"
        dd = ("--data-dir", str(daemon.data_dir), "--no-progress", *CRAWL_SETTINGS)
        seen = len(base.requests)
        refused = run_arsip("crawl", base, *dd)
        assert refused.returncode == 1
        errors = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and f"already being crawled by run {scheduled['id']}" in errors[0]
        assert "Traceback" not in refused.stderr
        assert len(base.requests) == seen  # refused before fetching anything
        waiting = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", base, "--wait", *dd], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            assert waiting.stderr is not None
            said = waiting.stderr.readline()  # the line it says at once
            assert said.startswith("Waiting") and f"run {scheduled['id']}" in said, said
            site.gate.set()  # let the daemon's crawl go on and end
            out, err = waiting.communicate(timeout=240)
        finally:
            site.gate.set()
            if waiting.poll() is None:
                os.killpg(waiting.pid, signal.SIGKILL)
        assert waiting.returncode == 0, err
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    runs = daemon.runs()
    assert [r["trigger"] for r in runs] == ["daemon", "cli"]
    assert [r["outcome"] for r in runs] == ["finished", "finished"]
    assert runs[0]["finished_at"] <= runs[1]["started_at"]  # it waited: no overlap
    assert "arsip crawl summary" in out


def _unit() -> dict[str, str]:
    """The systemd unit the README gives, as key -> value."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("# /etc/systemd/system/arsip.service", 1)[1].split("```", 1)[0]
    return {key.strip(): value.strip() for line in block.splitlines()
            if "=" in line and not line.lstrip().startswith("#")
            for key, value in [line.split("=", 1)]}


def test_systemd_stop(daemon: Daemon) -> None:
    """What ``systemctl stop`` does with the README's unit: SIGTERM to the main process only
    (KillMode=mixed), up to TimeoutStopSec for it to exit, then SIGKILL to every process left
    in the unit. The daemon must exit 0 first, with its crawls stopped the clean way."""
    unit = _unit()
    assert (unit["KillMode"], unit["KillSignal"], unit["Restart"]) == \
        ("mixed", "SIGTERM", "on-failure")
    command = unit["ExecStart"].split()
    assert command[1:3] == ["daemon", "--max-concurrent"]
    stop_timeout = float(command[command.index("--stop-timeout") + 1])
    timeout_stop = float(unit["TimeoutStopSec"])
    assert timeout_stop > stop_timeout
    site = slow_site(12, 0.3)
    with serve(site) as base:
        daemon.add(base, "1h")
        main = daemon.start(*command[2:])
        wait_for_requests_(base, 6)
        unit_processes = {main.pid, *descendants(main.pid)}
        assert len(unit_processes) >= 3  # the daemon, its crawl, the crawl's helpers
        main.send_signal(signal.SIGTERM)  # KillSignal, to the main PID only
        exited = main.wait(timeout_stop)
        left = [pid for pid in unit_processes if alive(pid)]
        for pid in left:  # what systemd would SIGKILL after TimeoutStopSec
            os.kill(pid, signal.SIGKILL)
    assert exited == 0 and left == []  # Restart=on-failure: a clean stop stays stopped
    [run] = daemon.runs()
    assert run["outcome"] == "interrupted"
    assert daemon.lines("stopping: SIGTERM to 1 running crawl")
    assert daemon.lines("fixture: run 1 interrupted (exit 143)")
    files = sorted((daemon.data_dir / "warc").iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)
    assert _unindexed(daemon.data_dir) == []


def _ignored_signals(pid: int) -> set[int]:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigIgn:"))
               .split()[1], 16)
    return {signum for signum in range(1, 64) if mask & (1 << (signum - 1))}


def test_a_daemon_started_under_nohup_outlives_a_hangup(daemon: Daemon) -> None:
    """``nohup arsip daemon &``: a hangup (the SSH session closing) is ignored, as the user
    asked; SIGTERM still stops it, with exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "daemon", "--data-dir", str(daemon.data_dir)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    daemon.procs.append(proc)
    wait_for("the daemon to start", lambda: daemon.lines("arsip daemon started"))
    ignored = _ignored_signals(proc.pid)
    assert signal.SIGHUP in ignored  # the kernel drops it: nothing in the daemon can act on it
    assert not {signal.SIGTERM, signal.SIGINT} & ignored
    os.killpg(proc.pid, signal.SIGHUP)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(1)
    assert not daemon.lines("arsip daemon stopped")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert daemon.lines("arsip daemon stopped")


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_while_the_daemon_starts_stops_it_cleanly(data_dir: Path, signame: str
                                                           ) -> None:
    """systemd's stop (or a Ctrl-C) while the daemon opens its log and migrates the database:
    held until the daemon has its own handlers, then a clean stop, exit 0, before any run."""
    (data_dir / "logs").mkdir(parents=True)
    log = data_dir / "logs" / "daemon.log"
    os.mkfifo(log)  # opening the log blocks until the test reads it: start-up stands still
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "daemon", "--data-dir", str(data_dir)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        wait_for("the daemon to open its log", lambda: Path(
            f"/proc/{proc.pid}/wchan").read_text() == "wait_for_partner")
        proc.send_signal(getattr(signal, signame))
        read: list[bytes] = []
        reader = threading.Thread(target=lambda: read.append(log.read_bytes()), daemon=True)
        reader.start()  # lets the open go on; reads the daemon's log until it exits
        code = proc.wait(60)
        reader.join(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr
    [text] = read
    lines = text.decode().splitlines()
    assert [line.split(" ", 3)[3] for line in lines] == \
        [f"arsip daemon stopped by {signame} while it was starting: nothing run"]
    with sqlite3.connect(data_dir / "arsip.db") as conn:  # migrated whole, nothing run
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall()
        assert conn.execute("SELECT count(*) FROM crawl_runs").fetchone() == (0,)


def test_a_third_ctrl_c_changes_nothing(daemon: Daemon) -> None:
    """Ctrl-C three times to the daemon's group (review S3): the first stops it gracefully,
    the second tells the crawls to stop now; the third is not passed on, because a crawl takes
    a third signal as "leave now" and abandons its recorder (a WARC file left ``.open``, the
    run left ``running``)."""
    site = build_site(n_articles=8)
    articles = {spec.path for spec in site.articles}
    site.gate = threading.Event()  # the articles are held: the crawl is mid-crawl for good
    site.held = lambda path: path in articles
    with serve(site) as base:
        daemon.add(base, "1h")
        proc = daemon.start("-s", "DOWNLOAD_TIMEOUT=180")
        try:
            wait_for("an article asked for", lambda: any(
                r.path in articles for r in base.requests), timeout=120)
            wait_for("the WARC file open", lambda: list(
                (daemon.data_dir / "warc").glob("*.open")), timeout=60)
            os.killpg(proc.pid, signal.SIGINT)
            wait_for("the crawl told to stop", lambda: daemon.lines("stopping: SIGTERM to 1"))
            os.killpg(proc.pid, signal.SIGINT)
            wait_for("the crawl told to stop now", lambda: daemon.lines("stopping now"))
            # at once: a crawl acts on a repeated SIGTERM a second after it (scheduler.child)
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(60) == 0
        finally:
            site.gate.set()
    files = sorted((daemon.data_dir / "warc").iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)
    assert _unindexed(daemon.data_dir) == []
    [run] = daemon.runs()
    assert run["outcome"] == "interrupted"  # ended by the crawl, not abandoned
    assert daemon.lines("fixture: run 1 interrupted (exit 143)")
    assert daemon.lines("another signal: the crawls are stopping now")
    assert not daemon.lines("did not stop in time: SIGKILL")


def test_a_second_daemon_on_the_database_leaves_a_site_the_first_is_crawling(
        daemon: Daemon) -> None:
    """Review S8 with real crawls: a second daemon started mid-crawl waits for the first's
    crawl, and once it finished does not crawl the site again before its interval."""
    site = build_site(n_articles=6)
    articles = {spec.path for spec in site.articles}
    site.gate = threading.Event()  # the first daemon's crawl is held at the articles
    site.held = lambda path: path in articles
    with serve(site) as base:
        daemon.add(base, "1h")
        first = daemon.start("-s", "DOWNLOAD_TIMEOUT=180")
        try:
            wait_for("an article asked for", lambda: any(
                r.path in articles for r in base.requests), timeout=120)
            second = daemon.start()
            wait_for("the second daemon waiting for the first's crawl",
                     lambda: daemon.lines("fixture: waiting for run 1"), timeout=60)
        finally:
            site.gate.set()
        wait_for("the second daemon to leave the site", lambda: daemon.lines(
            "fixture: run 1 finished meanwhile; nothing to re-run"), timeout=180)
        for proc in (second, first):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
    assert [r["outcome"] for r in daemon.runs()] == ["finished"]
    assert len(daemon.lines("fixture: crawl started")) == 1
    next_run = daemon.query("SELECT next_run_at FROM sites")[0]["next_run_at"]
    assert _when(next_run).timestamp() > time.time() + 50 * 60
