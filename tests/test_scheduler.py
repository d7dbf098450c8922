"""The daemon's scheduling and process handling (scheduler/), with a stand-in crawl.

Jobs are built from the database; the loop runs due crawls under a cap, follows ``arsip sites``
changes while running, catches up once after downtime, and stops the way systemd and a terminal
stop it. The crawl is tests/fakecrawl.py, which keeps the crawl's contract with the daemon (a
run row, SIGTERM -> interrupted, end with the daemon); tests/test_daemon.py runs real crawls.
Every wait is for a state the daemon or its crawls report (a log line, a row), never a sleep.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.jobs import Jobs, SiteSchedule, first_run, jitter_for
from scheduler.runner import log_path, prune_logs
from storage.archive import Archive
from storage.sites import SiteNotFoundError, add_site, claim_run, remove_site, set_next_run
from storage.warcroots import name_part
from tests.conftest import REPO, run_arsip

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


# --- building jobs ------------------------------------------------------------------------------

def test_first_run_catches_up_once_and_otherwise_keeps_the_recorded_time() -> None:
    never = SiteSchedule(1, "a", 60, True)
    assert first_run(never, NOW) == NOW
    missed = SiteSchedule(1, "a", 60, True, next_run_at=NOW - timedelta(hours=5))
    assert first_run(missed, NOW) == NOW  # its jitter is the daemon's, as for every run
    ahead = SiteSchedule(1, "a", 60, True, next_run_at=NOW + timedelta(seconds=30))
    assert first_run(ahead, NOW) == NOW + timedelta(seconds=30)
    # no next run recorded (an older daemon): one interval after the last run
    ran = SiteSchedule(1, "a", 3600, True, last_run_at=NOW - timedelta(minutes=10))
    assert first_run(ran, NOW) == NOW + timedelta(minutes=50)
    assert jitter_for(1800, 60) == 60 and jitter_for(10, 60) == 1 and jitter_for(10, 0) == 0


def test_jitter_delays_one_run_and_never_moves_the_schedule() -> None:
    """Each run's jitter delays that run alone: the due times stay on the site's interval grid
    (APScheduler's own jitter would count each next run from the jittered one, and drift)."""
    got: list[tuple[datetime, float]] = []
    # every second, jitter up to 10% of it: 0.1 s
    jobs = Jobs(lambda site, when, *delay: got.append((when, *delay)), max_jitter=5,
                rng=random.Random(7))
    start = datetime.now(UTC) + timedelta(seconds=0.2)
    jobs.sync([SiteSchedule(1, "a", 1, True, next_run_at=start)])
    jobs.start()
    try:
        wait_for("five runs due", lambda: len(got) >= 5, timeout=30)
        ahead = (jobs.next_runs()[1] - start).total_seconds()
    finally:
        jobs.shutdown()
    dues = [when for when, *_ in got]
    assert dues[:5] == [start + timedelta(seconds=k) for k in range(5)]
    delays = [delay for _, *rest in got for delay in rest]
    assert len(delays) == len(got) and all(0 <= d <= 0.1 for d in delays)
    assert len(set(delays)) == len(delays)  # drawn for each run
    assert ahead >= 4 and ahead == int(ahead)  # the next one too


def test_jobs_follow_the_sites_table() -> None:
    due: list[tuple[int, datetime]] = []
    jobs = Jobs(lambda site, when, _delay: due.append((site, when)), max_jitter=0)
    jobs.scheduler.start(paused=True)  # jobs are computed, none runs
    try:
        a = SiteSchedule(1, "a", 60, True, next_run_at=NOW + timedelta(minutes=5))
        b = SiteSchedule(2, "b", 600, True)
        assert jobs.sync([a, b], NOW) == \
            {"added": ["a", "b"], "removed": [], "changed": [], "failed": []}
        assert jobs.next_runs() == {1: NOW + timedelta(minutes=5), 2: NOW}
        assert jobs.sync([a, b], NOW) == \
            {"added": [], "removed": [], "changed": [], "failed": []}
        faster = SiteSchedule(2, "b", 60, True, last_run_at=NOW - timedelta(minutes=5))
        paused = SiteSchedule(1, "a", 60, False)
        assert jobs.sync([paused, faster], NOW) == \
            {"added": [], "removed": ["a"], "changed": ["b"], "failed": []}
        # the new interval counts from the last run, which makes it overdue: at once
        assert jobs.next_runs() == {2: NOW}
        assert jobs.sync([], NOW)["removed"] == ["b"] and jobs.next_runs() == {}
    finally:
        jobs.shutdown()
    assert due == []


def test_a_run_due_by_the_wall_clock_fires_when_the_jobs_are_woken() -> None:
    """A suspend, or a wall clock set forward, makes a run due while APScheduler sleeps out
    the wait it computed on the monotonic clock; the daemon wakes it at every look at the
    sites (``Daemon._sync``), and it fires then, not up to an interval late."""
    due: list[datetime] = []
    jobs = Jobs(lambda site, when, _delay: due.append(when), max_jitter=0)
    jobs.sync([SiteSchedule(1, "a", 3600, True,
                            next_run_at=datetime.now(UTC) + timedelta(hours=1))])
    jobs.start()
    try:
        # the job's time passes behind APScheduler's back (its store, without a wake-up)
        passed = datetime.now(UTC) - timedelta(seconds=1)
        job = jobs.scheduler.get_job("site-1")
        job._modify(next_run_time=passed)
        jobs.scheduler._lookup_jobstore("default").update_job(job)
        time.sleep(0.5)
        assert due == []  # still asleep: the premise
        jobs.wake()
        wait_for("the run fired", lambda: due, timeout=10)
    finally:
        jobs.shutdown()
    assert due == [passed]


def test_a_due_run_is_taken_once(db_url: str) -> None:
    """Two daemons on one database: the first to take a due run moves the site's next run past
    it; the other is told that next run (SQLite and PostgreSQL)."""
    later = NOW + timedelta(minutes=1)
    with Archive.open(db_url) as arc:
        site, _ = add_site(arc, base_url="http://satu.test/", name="satu", schedule_seconds=60)
        assert claim_run(arc, site.id, NOW, later) is None  # never run: no next run yet
        assert claim_run(arc, site.id, NOW, later) == later  # the other daemon, same due time
        assert claim_run(arc, site.id, later, later + timedelta(minutes=1)) is None
        remove_site(arc, "satu")  # never crawled: forgotten outright
        with pytest.raises(SiteNotFoundError):
            claim_run(arc, site.id, later + timedelta(minutes=1), later + timedelta(minutes=2))


def test_a_site_that_cannot_be_scheduled_is_skipped_once_and_the_others_are_not() -> None:
    """A row written before durations were capped (or by hand) overflowed ``datetime`` in the
    trigger; it is said once, and tried again only when the row changes."""
    jobs = Jobs(lambda *_: None, max_jitter=0)
    jobs.scheduler.start(paused=True)
    try:
        good = SiteSchedule(1, "baik", 60, True)
        huge = SiteSchedule(2, "rusak", 3_000_000 * 86400, True)
        done = jobs.sync([good, huge], NOW)
        assert done["added"] == ["baik"] and len(done["failed"]) == 1
        assert done["failed"][0].startswith("rusak: ") and "366d" in done["failed"][0]
        assert jobs.next_runs() == {1: NOW}
        assert jobs.sync([good, huge], NOW)["failed"] == []  # said once
        # a good site changed to a bad interval is taken off; fixed, it is back
        worse = SiteSchedule(1, "baik", 3_000_000 * 86400, True)
        done = jobs.sync([worse, huge], NOW)
        assert done["failed"] and jobs.next_runs() == {}
        fixed = SiteSchedule(2, "rusak", 3600, True)
        assert jobs.sync([worse, fixed], NOW)["added"] == ["rusak"]
        assert list(jobs.next_runs()) == [2]
    finally:
        jobs.shutdown()


def test_pruning_a_sites_logs_leaves_other_sites_logs_alone(tmp_path: Path) -> None:
    """``tempo``'s pruning used to take ``tempo-2``'s logs for its own, and delete them first."""
    when = [NOW + timedelta(minutes=k) for k in range(3)]
    tempo = [log_path(tmp_path, "tempo", t) for t in when]
    tempo.append(log_path(tmp_path, "tempo", when[-1]))  # same second: crawl-...-2.log
    other = [log_path(tmp_path, "tempo-2", t) for t in when]
    stray = tmp_path / "crawl-tempo-catatan.log"
    stray.touch()
    assert tempo[-1].name.endswith("-2.log")
    assert prune_logs(tmp_path, "tempo", 2) == 2
    assert sorted(tmp_path.iterdir()) == sorted([*tempo[2:], *other, stray])
    assert prune_logs(tmp_path, "tempo-2", 1) == 2
    assert sorted(tmp_path.iterdir()) == sorted([*tempo[2:], other[-1], stray])


# --- the daemon loop, with a stand-in crawl -----------------------------------------------------

def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Until ``check()`` gives something true (a row, a line); fails with ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Harness:
    """A daemon (tests/daemonharness.py) in its own session, and what it reports."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db = data_dir / "arsip.db"
        self.proc: subprocess.Popen[str] | None = None

    def add(self, name: str, every: int, **fields: Any) -> int:
        with Archive.open(f"sqlite:///{self.db}") as arc:
            site, _ = add_site(arc, base_url=f"http://{name}.test/", name=name,
                               schedule_seconds=every)
            if "next_run_at" in fields:
                set_next_run(arc, site.id, fields["next_run_at"])
            return site.id

    def start(self, *args: str) -> subprocess.Popen[str]:
        starts = len(self.lines("arsip daemon started"))  # another daemon may share the log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.daemonharness", str(self.data_dir), *args],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        wait_for("the daemon to start",
                 lambda: len(self.lines("arsip daemon started")) > starts)
        return self.proc

    def log(self) -> str:
        path = self.data_dir / "logs" / "daemon.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.log().splitlines() if needle in line]

    def runs(self, site: str | None = None) -> list[dict[str, Any]]:
        conn = sqlite3.connect(self.db)
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute(
                "SELECT r.id, s.name AS site, r.outcome, r.trigger, r.started_at, r.finished_at,"
                " r.pid"
                " FROM crawl_runs r JOIN sites s ON s.id = r.site_id ORDER BY r.id").fetchall()
        finally:
            conn.close()
        return [dict(row) for row in rows if site is None or row["site"] == site]

    def finished(self, site: str) -> list[dict[str, Any]]:
        return [r for r in self.runs(site) if r["outcome"] != "running"]

    def stop(self, signum: int = signal.SIGTERM, group: bool = False) -> int:
        assert self.proc is not None
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)
        return self.proc.wait(60)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def harness(data_dir: Path) -> Iterator[Harness]:
    Archive.open(f"sqlite:///{data_dir / 'arsip.db'}").close()
    h = Harness(data_dir)
    try:
        yield h
    finally:
        h.close()
        # no stand-in crawl may outlive its test
        for line in h.lines("crawl started (pid "):
            pid = int(line.split("(pid ", 1)[1].split(",", 1)[0])
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _overlap(runs: list[dict[str, Any]]) -> int:
    """The most runs recorded as running at one moment."""
    edges = sorted([(r["started_at"], 1) for r in runs] + [(r["finished_at"], -1) for r in runs])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def test_cycles_run_under_the_cap_and_coalesce(harness: Harness) -> None:
    harness.add("satu", 1)
    harness.add("dua", 1)
    # each stand-in crawl takes longer than the interval: ticks in between are coalesced
    harness.start("--max-concurrent", "1", "-s", "FAKE_SECONDS=1.3")
    wait_for("three runs of each site", lambda: all(
        len(harness.finished(s)) >= 3 for s in ("satu", "dua")), timeout=90)
    assert harness.stop() == 0
    runs = [r for r in harness.runs() if r["finished_at"]]
    assert _overlap(runs) == 1  # the cap: one crawl at a time over both sites
    assert {r["trigger"] for r in runs} == {"daemon"}
    for site in ("satu", "dua"):
        done = [r for r in harness.runs(site) if r["outcome"] == "finished"]
        lines = harness.lines(f"{site}: run ")
        assert len(lines) >= len(done)
        assert all("3 pages, 1 articles read, 1 new versions" in line for line in lines)
    assert harness.lines("arsip daemon stopped")


def _all_crawls_reported(harness: Harness, site: str) -> bool:
    """Every crawl of ``site`` the daemon started has ended (its end is in the log)."""
    ends = re.compile(rf" {re.escape(site)}: (run \d+ \S+ \(|crawl ended|crawl stopped|"
                      r"crawl refused)")
    ended = [line for line in harness.log().splitlines() if ends.search(line)]
    return len(ended) == len(harness.lines(f"{site}: crawl started"))


def test_sites_changes_reach_a_running_daemon(harness: Harness) -> None:
    harness.add("satu", 1)
    harness.start("-s", "FAKE_SECONDS=0.2")
    wait_for("a run of satu", lambda: harness.finished("satu"))
    dd = ("--data-dir", str(harness.data_dir))
    assert run_arsip("sites", "add", "http://dua.test/", "--name", "dua", "--every", "1s",
                     *dd).returncode == 0
    wait_for("the new site scheduled", lambda: harness.lines("dua: scheduled every 1s"))
    wait_for("a run of dua", lambda: harness.finished("dua"))
    assert run_arsip("sites", "pause", "satu", *dd).returncode == 0
    wait_for("satu unscheduled", lambda: harness.lines("satu: no longer scheduled"))
    seen = len(harness.finished("dua"))
    wait_for("two more runs of dua", lambda: len(harness.finished("dua")) >= seen + 2)
    after_pause = harness.log().split("satu: no longer scheduled", 1)[1]
    assert "satu: crawl started" not in after_pause  # paused: no new run started
    assert run_arsip("sites", "resume", "satu", *dd).returncode == 0
    wait_for("satu running again", lambda: "satu: crawl started" in
             harness.log().split("satu: no longer scheduled", 1)[1])
    # removing a site the daemon runs every second: refused while a crawl of it runs
    unscheduled = len(harness.lines("dua: no longer scheduled"))
    deadline = time.monotonic() + 60
    while (removed := run_arsip("sites", "remove", "dua", *dd)).returncode != 0:
        assert removed.returncode == 1 and "is being crawled by run" in removed.stderr
        assert time.monotonic() < deadline, "dua was never between two crawls"
    assert removed.stdout.startswith("Removed site 'dua' from the daemon's schedule.")
    wait_for("dua unscheduled",
             lambda: len(harness.lines("dua: no longer scheduled")) > unscheduled)
    # every crawl of dua the daemon started has ended, also one it started just before the
    # removal whose run was not recorded yet (the removal could not see it)
    wait_for("dua's crawls to end", lambda: _all_crawls_reported(harness, "dua") and
             all(r["outcome"] != "running" for r in harness.runs("dua")))
    dua_runs = len(harness.runs("dua"))
    seen = len(harness.finished("satu"))
    wait_for("two more runs of satu", lambda: len(harness.finished("satu")) >= seen + 2)
    assert len(harness.runs("dua")) == dua_runs  # removed: never run again
    listed = run_arsip("sites", "list", *dd)
    [row] = [line for line in listed.stdout.splitlines() if "│ dua " in line]
    assert "not scheduled" in row  # kept in the archive, off the schedule
    assert harness.stop() == 0


def test_one_bad_site_row_is_logged_once_and_the_daemon_runs_the_others(harness: Harness
                                                                         ) -> None:
    """An interval no ``datetime`` can hold, at start and arriving in a running daemon, used to
    end the daemon with a traceback (and systemd restarted it into the same crash)."""
    harness.add("satu", 1)
    harness.add("dua", 1)
    harness.add("rusak", 3_000_000 * 86400)  # the CLI refuses it now; an older row keeps it
    proc = harness.start("-s", "FAKE_SECONDS=0.1")
    wait_for("runs of satu and dua", lambda: harness.finished("satu") and harness.finished("dua"))
    conn = sqlite3.connect(harness.db)
    try:
        conn.execute("UPDATE sites SET schedule_seconds = ? WHERE name = 'dua'",
                     (3_000_000 * 86400,))
        conn.commit()
    finally:
        conn.close()
    wait_for("dua taken off", lambda: harness.lines("dua: its interval"))
    seen = len(harness.finished("satu"))
    # several --sites-poll rounds (0.3 s) go by while satu runs three more times
    wait_for("satu running on", lambda: len(harness.finished("satu")) >= seen + 3)
    assert proc.poll() is None
    for name in ("rusak", "dua"):
        [line] = harness.lines(f"{name}: its interval")
        assert "ERROR" in line and "longer than 366d" in line and "not scheduled" in line
    assert not harness.runs("rusak")
    assert harness.stop() == 0
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_a_missed_run_runs_once_at_start(harness: Harness) -> None:
    # down for five intervals: one catch-up run, then the schedule goes on from now
    harness.add("satu", 3600, next_run_at=datetime.now(UTC) - timedelta(hours=5))
    harness.add("dua", 3600, next_run_at=datetime.now(UTC) + timedelta(hours=1))
    harness.start("-s", "FAKE_SECONDS=0.1")
    wait_for("the catch-up run", lambda: harness.finished("satu"))
    conn = sqlite3.connect(harness.db)
    try:
        next_run = wait_for("the next run recorded", lambda: conn.execute(
            "SELECT next_run_at FROM sites WHERE name = 'satu' AND next_run_at > ?",
            ((datetime.now(UTC) + timedelta(minutes=50)).replace(tzinfo=None).isoformat(" "),)
        ).fetchone())
    finally:
        conn.close()
    assert next_run
    assert len(harness.runs("satu")) == 1 and harness.runs("dua") == []
    assert harness.stop() == 0


@pytest.mark.parametrize("group", [False, True], ids=["daemon", "group"])
def test_sigterm_stops_crawls_then_kills_the_stuck_ones(harness: Harness, group: bool) -> None:
    harness.add("satu", 1)
    harness.add("macet", 1)
    harness.start("--stop-timeout", "2", "-s", "FAKE_SECONDS=60")
    wait_for("both crawls running", lambda: len(harness.runs()) == 2)
    # what systemd sends (KillMode=mixed): SIGTERM to the daemon; a terminal or a group kill:
    # SIGTERM to the daemon's whole group, which the crawls (own sessions) are not in
    assert harness.stop(signal.SIGTERM, group=group) == 0
    assert harness.lines("stopping: SIGTERM to 2 running crawls")
    assert {r["outcome"] for r in harness.runs()} == {"interrupted"}
    assert harness.lines("run 1 interrupted (exit 143)") or \
        harness.lines("run 2 interrupted (exit 143)")


def test_a_crawl_that_ignores_sigterm_is_killed_after_the_timeout(harness: Harness) -> None:
    harness.add("macet", 1)
    harness.start("--stop-timeout", "1", "-s", "FAKE_SECONDS=60", "-s", "FAKE_IGNORE_TERM=1")
    wait_for("the crawl running", lambda: harness.runs("macet"))
    assert harness.stop(signal.SIGINT) == 0  # Ctrl-C
    assert harness.lines("macet: crawl (pid")[0].endswith("did not stop in time: SIGKILL")
    pid = int(harness.lines("crawl started (pid ")[0].split("(pid ", 1)[1].split(",", 1)[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("signum, group", [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["ctrl-c-twice", "kill-twice"])
def test_a_second_signal_tells_the_crawls_to_stop_now(harness: Harness, signum: int,
                                                      group: bool) -> None:
    # Ctrl-C twice in a terminal (SIGINT to the daemon's group), or `kill PID` twice (what
    # `systemctl kill --kill-whom=main` sends): the crawls' slow close is cut short by a second
    # SIGTERM, not SIGKILLed; they still end their runs themselves
    harness.add("satu", 3600)
    harness.start("--stop-timeout", "120", "-s", "FAKE_SECONDS=60", "-s", "FAKE_STOP_SECONDS=60",
                  "-s", "FAKE_STOP_NOW=1")
    wait_for("the crawl running", lambda: harness.runs("satu"))
    assert harness.proc is not None
    send = (lambda: os.killpg(harness.proc.pid, signum)) if group else \
        (lambda: harness.proc.send_signal(signum))
    send()
    wait_for("the crawls told to stop", lambda: harness.lines("stopping: SIGTERM to 1"))
    began = time.monotonic()
    send()
    assert harness.proc.wait(60) == 0
    assert time.monotonic() - began < 30  # not the 60 s close, nor the 120 s timeout
    [run] = harness.runs("satu")
    assert run["outcome"] == "interrupted"  # ended by the crawl, not killed
    assert not harness.lines("SIGKILL")
    assert harness.lines("stopping now (another signal): SIGTERM again to 1 running crawl")
    assert harness.lines("satu: run 1 interrupted (exit 143)")


def test_a_crawl_that_ignores_the_second_signal_is_killed_after_a_bounded_wait(
        harness: Harness) -> None:
    harness.add("macet", 3600)
    harness.start("--stop-timeout", "120", "--stop-now-timeout", "1",
                  "-s", "FAKE_SECONDS=60", "-s", "FAKE_IGNORE_TERM=1")
    wait_for("the crawl running", lambda: harness.runs("macet"))
    assert harness.proc is not None
    harness.proc.send_signal(signal.SIGTERM)
    wait_for("the crawl told to stop", lambda: harness.lines("stopping: SIGTERM to 1"))
    began = time.monotonic()
    harness.proc.send_signal(signal.SIGTERM)
    assert harness.proc.wait(60) == 0
    assert 1 <= time.monotonic() - began < 30
    assert harness.lines("macet: crawl (pid")[0].endswith("did not stop in time: SIGKILL")
    assert [r["outcome"] for r in harness.runs("macet")] == ["killed"]


def test_a_killed_daemon_takes_its_crawls_with_it_and_reruns_them_first(harness: Harness
                                                                         ) -> None:
    harness.add("satu", 3600)
    harness.start("-s", "FAKE_SECONDS=60")
    [run] = wait_for("the crawl running", lambda: harness.runs("satu"))
    assert run["outcome"] == "running"
    harness.stop(signal.SIGKILL)
    # the kernel tells the crawl its daemon died; it stops the clean way
    wait_for("the crawl to end by itself", lambda: harness.finished("satu"), timeout=30)
    assert harness.runs("satu")[0]["outcome"] == "interrupted"
    pid = int(harness.lines("crawl started (pid ")[0].split("(pid ", 1)[1].split(",", 1)[0])
    wait_for("the crawl process gone", lambda: not os.path.exists(f"/proc/{pid}")
             or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z")
    # its next run is an hour away, but the unfinished run goes first, at once
    harness.add("dua", 3600, next_run_at=datetime.now(UTC) - timedelta(minutes=1))
    harness.start("--max-concurrent", "1", "-s", "FAKE_SECONDS=0.1")
    wait_for("both sites run", lambda: harness.finished("dua") and
             len(harness.finished("satu")) == 2)
    started = harness.lines("crawl started")
    assert "satu: crawl started" in started[-2] and "re-run of a crawl" in started[-2]
    assert "dua: crawl started" in started[-1]
    assert harness.stop() == 0


def test_a_run_waiting_for_a_slot_is_still_due_after_a_restart(harness: Harness) -> None:
    harness.add("lama", 3600)
    harness.start("--max-concurrent", "1", "--stop-timeout", "5", "-s", "FAKE_SECONDS=60")
    wait_for("lama's crawl running", lambda: harness.runs("lama"))
    harness.add("antri", 3600)  # due at once, but the one slot is taken
    wait_for("antri waiting for a slot", lambda: harness.lines("antri: due"))
    assert harness.stop() == 0
    assert harness.runs("antri") == []
    # an hour early, by its interval: the run it was waiting for is still due, once
    harness.start("--max-concurrent", "1", "-s", "FAKE_SECONDS=0.1")
    wait_for("lama's re-run and antri's run", lambda: harness.finished("antri") and
             len(harness.finished("lama")) == 2, timeout=20)
    started = harness.lines("crawl started")
    assert "lama: crawl started" in started[-2] and "re-run of a crawl" in started[-2]
    assert "antri: crawl started" in started[-1]
    assert harness.stop() == 0
    assert len(harness.runs("antri")) == 1


def test_a_quick_restart_reruns_the_crawl_the_killed_daemon_left(harness: Harness) -> None:
    harness.add("satu", 3600)
    harness.start("-s", "FAKE_SECONDS=60", "-s", "FAKE_STOP_SECONDS=3")
    wait_for("the crawl running", lambda: harness.runs("satu"))
    harness.stop(signal.SIGKILL)
    # started again at once: the killed daemon's crawl is still closing, and holds the site
    harness.start("-s", "FAKE_SECONDS=0.1")
    wait_for("the re-run", lambda: len(harness.finished("satu")) == 2, timeout=30)
    first, second = harness.runs("satu")
    assert first["outcome"] == "interrupted" and second["outcome"] == "finished"
    assert second["started_at"] >= first["finished_at"]
    assert harness.lines("satu: waiting for run 1")
    assert "re-run of a crawl" in harness.lines("crawl started")[-1]
    assert harness.stop() == 0


def test_sites_set_reaches_a_running_daemon(harness: Harness) -> None:
    harness.add("satu", 3600, next_run_at=datetime.now(UTC) + timedelta(hours=1))
    harness.start("-s", "FAKE_SECONDS=0.1")
    wait_for("satu scheduled", lambda: harness.lines("satu: scheduled every 1h"))
    dd = ("--data-dir", str(harness.data_dir))
    changed = run_arsip("sites", "set", "satu", "--every", "1s", "--max-pages", "7", *dd)
    assert changed.returncode == 0, changed.stderr
    wait_for("the new interval", lambda: harness.lines("satu: schedule changed to every 1s"))
    wait_for("two runs at the new interval", lambda: len(harness.finished("satu")) >= 2)
    logs = sorted((harness.data_dir / "logs").glob("crawl-satu-*.log"))
    assert "(max pages 7)" in logs[0].read_text(encoding="utf-8")
    assert harness.stop() == 0


def test_a_crawl_stopped_before_its_run_began_is_still_due_after_a_restart(harness: Harness
                                                                            ) -> None:
    harness.add("satu", 3600)
    harness.start("-s", "FAKE_START_SECONDS=60")
    wait_for("the crawl starting", lambda: harness.lines("satu: crawl started"))
    assert harness.stop() == 0  # before the crawl's run began
    assert harness.runs("satu") == []
    assert harness.lines("satu: crawl stopped before its run began; still due")
    harness.start("-s", "FAKE_SECONDS=0.1")
    wait_for("the run, an hour before its interval", lambda: harness.finished("satu"),
             timeout=20)
    assert harness.stop() == 0
    assert len(harness.runs("satu")) == 1


@pytest.mark.parametrize("jitter", ["0", "2"])
def test_a_restart_after_a_long_downtime_reruns_a_killed_crawl_once(harness: Harness,
                                                                    jitter: str) -> None:
    # the killed daemon's crawl and the run missed while it was down are one catch-up run,
    # also when the catch-up run's jitter puts its start after the re-run's
    site_id = harness.add("satu", 3600)
    harness.start("-s", "FAKE_SECONDS=60")
    wait_for("the crawl running", lambda: harness.runs("satu"))
    harness.stop(signal.SIGKILL)
    wait_for("the crawl to end by itself", lambda: harness.finished("satu"), timeout=30)
    with Archive.open(f"sqlite:///{harness.db}") as arc:
        set_next_run(arc, site_id, datetime.now(UTC) - timedelta(hours=2))
    harness.start("--jitter", jitter, "-s", "FAKE_SECONDS=1")
    wait_for("the re-run", lambda: len(harness.finished("satu")) == 2, timeout=30)
    time.sleep(3)
    assert len(harness.runs("satu")) == 2, harness.lines("satu: ")
    assert "re-run of a crawl" in harness.lines("crawl started")[-1]
    assert harness.stop() == 0


def _start_delay(line: str) -> float:
    return float(line.split("delay ", 1)[1].split(" s", 1)[0])


def test_the_daemon_waits_out_a_runs_jitter(harness: Harness) -> None:
    # every 60 s: a jitter of up to 6 s (10%), capped at 4 s by --jitter; the draw is half
    harness.add("satu", 60)
    harness.start("--jitter", "4", "--draw", "0.5", "-s", "FAKE_SECONDS=0.1")
    line = wait_for("the run", lambda: harness.lines("satu: crawl started"), timeout=60)[0]
    # started no earlier than its 2 s delay; the bound above leaves room for a loaded machine
    assert 2.0 - 0.05 <= _start_delay(line) <= 4 + 5, line
    assert harness.stop() == 0


def test_a_site_paused_while_its_run_waits_out_the_jitter_is_not_crawled(harness: Harness
                                                                        ) -> None:
    harness.add("satu", 600)  # a jitter of up to 60 s, capped at 12 s; the draw is all of it
    harness.start("--jitter", "12", "--draw", "1", "-s", "FAKE_SECONDS=0.1")
    wait_for("the run due", lambda: harness.lines("waiting out its jitter"), timeout=30)
    due = time.monotonic()
    assert not harness.lines("satu: crawl started")
    dd = ("--data-dir", str(harness.data_dir))
    assert run_arsip("sites", "pause", "satu", *dd).returncode == 0
    wait_for("satu unscheduled", lambda: harness.lines("satu: no longer scheduled"))
    assert time.monotonic() - due < 12, "too slow to pause within the delay; inconclusive"
    time.sleep(max(0.0, due + 12 + 3 - time.monotonic()))  # past the delay
    assert not harness.lines("satu: crawl started") and harness.runs("satu") == []
    assert harness.stop() == 0


def test_start_repairs_the_open_warc_files_in_the_crawls_warc_folder(harness: Harness,
                                                                     tmp_path: Path) -> None:
    # -s ARSIP_WARC_DIR moves the crawls' WARC files: recovery at start must look there
    from io import BytesIO

    from warcio.warcwriter import WARCWriter

    warc_dir = tmp_path / "elsewhere"
    warc_dir.mkdir()
    harness.start("-s", f"ARSIP_WARC_DIR={warc_dir}")
    harness.stop(signal.SIGKILL)
    # what a crawl killed with it leaves: a whole record, then a torn one
    writer = WARCWriter(buf := BytesIO(), gzip=True)
    writer.write_record(writer.create_warc_record(
        "http://satu.test/", "resource", payload=BytesIO(b"halo"),
        warc_content_type="text/plain"))
    # named as this machine's crawls name theirs: only those are this daemon's to repair
    name = f"arsip-20261201000000000-00000-{name_part(socket.gethostname())}.warc.gz"
    left = warc_dir / f"{name}.open"
    left.write_bytes(buf.getvalue() + buf.getvalue()[:20])
    harness.start("-s", f"ARSIP_WARC_DIR={warc_dir}")
    [line] = wait_for("the recovery", lambda: harness.lines("Recovered WARC file"))
    assert f"{name} " in line
    assert sorted(f.name for f in warc_dir.iterdir()) == [name]
    assert (warc_dir / name).stat().st_size == len(buf.getvalue())
    assert not (harness.data_dir / "warc").exists()
    assert harness.stop() == 0


# --- two daemons on one database ------------------------------------------------------------------

def _started_crawls(harness: Harness, site: str) -> list[tuple[int, str]]:
    """(pid, due time) of each crawl of ``site`` any daemon on the data dir started."""
    return [(int(line.split("(pid ", 1)[1].split(",", 1)[0]),
             line.split(", due ", 1)[1].split(",", 1)[0])
            for line in harness.lines(f"{site}: crawl started (pid ")]


def test_a_second_daemon_leaves_the_sites_the_first_is_crawling(harness: Harness) -> None:
    # review S8: the second daemon took the first's running runs for crawls that did not
    # finish, and re-ran both sites the moment they ended, an hour before their next run
    harness.add("satu", 3600)
    harness.add("dua", 3600)
    harness.start("-s", "FAKE_SECONDS=4")
    wait_for("both crawls running", lambda: len(harness.runs()) == 2)
    second = Harness(harness.data_dir)
    try:
        second.start("-s", "FAKE_SECONDS=0.1")
        assert all(r["outcome"] == "running" for r in harness.runs())  # started mid-crawl
        for name in ("satu", "dua"):
            # (the daemons share the log): the second says it leaves the site, or crawls it
            wait_for(f"the second daemon to leave {name}", lambda name=name: [
                line for line in second.lines(f"{name}: ")
                if line.endswith("finished meanwhile; nothing to re-run")
                or len(second.lines(f"{name}: crawl started")) > 1], timeout=60)
        assert second.stop() == 0
    finally:
        second.close()
    assert harness.stop() == 0
    runs = harness.runs()
    assert len(runs) == 2 and {r["outcome"] for r in runs} == {"finished"}
    assert len(harness.lines("crawl started (pid ")) == 2
    assert len(harness.lines("finished meanwhile; nothing to re-run")) == 2


def test_two_daemons_on_one_database_crawl_each_due_run_once(harness: Harness) -> None:
    harness.add("satu", 2)
    harness.start("-s", "FAKE_SECONDS=0.7")
    second = Harness(harness.data_dir)
    try:
        second.start("-s", "FAKE_SECONDS=0.7")
        wait_for("six runs", lambda: len(harness.finished("satu")) >= 6, timeout=120)
        wait_for("a run one daemon left to the other",
                 lambda: harness.lines("was taken by another daemon"), timeout=60)
        assert second.stop() == 0
    finally:
        second.close()
    assert harness.stop() == 0
    runs = harness.runs("satu")
    assert all(r["finished_at"] for r in runs)
    # the database's run lock: no two runs of the site ever overlapped
    assert _overlap(runs) == 1
    # no due run crawled twice (a crawl stopped before its run began leaves its run due, and
    # refused crawls have no run: only crawls that ran count)
    ran = {r["pid"] for r in runs}
    dues = [due for pid, due in _started_crawls(harness, "satu") if pid in ran]
    assert len(dues) == len(set(dues)) == len(runs), dues


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_run_stopped_while_it_waits_out_its_jitter_runs_once_after_a_restart(
        harness: Harness, signum: int) -> None:
    harness.add("satu", 600)  # a jitter of up to 60 s, capped at 12 s; the draw is all of it
    harness.start("--jitter", "12", "--draw", "1", "-s", "FAKE_SECONDS=0.1")
    wait_for("the run due", lambda: harness.lines("waiting out its jitter"), timeout=30)
    assert harness.stop(signum) == (0 if signum == signal.SIGTERM else -signum)  # as it waits
    assert harness.runs("satu") == [] and not harness.lines("satu: crawl started")
    conn = sqlite3.connect(harness.db)
    try:
        [(due,)] = conn.execute("SELECT next_run_at FROM sites WHERE name = 'satu'").fetchall()
    finally:
        conn.close()
    assert datetime.fromisoformat(due).replace(tzinfo=UTC) <= datetime.now(UTC)  # still due
    # the restart makes it up once (its own jitter, a fifth of 12 s, on top), and no more
    harness.start("--jitter", "12", "--draw", "0.2", "-s", "FAKE_SECONDS=0.1")
    [run] = wait_for("the run", lambda: harness.finished("satu"), timeout=60)
    assert run["outcome"] == "finished"
    conn = sqlite3.connect(harness.db)
    try:
        wait_for("its next run recorded, an interval on", lambda: conn.execute(
            "SELECT next_run_at FROM sites WHERE name = 'satu' AND next_run_at > ?",
            ((datetime.now(UTC) + timedelta(minutes=9)).replace(tzinfo=None).isoformat(" "),)
        ).fetchone())
    finally:
        conn.close()
    time.sleep(3)  # room for a second catch-up, were there one (the jitter is 2.4 s)
    assert len(harness.runs("satu")) == 1
    assert len(harness.lines("satu: crawl started")) == 1
    assert len(harness.lines("waiting out its jitter")) == 2  # once for each daemon
    assert harness.stop() == 0


def test_start_indexes_a_repaired_warc_in_one_transaction_per_file(tmp_path: Path) -> None:
    """Recovery used to commit once per record: on PostgreSQL a large ``.open`` file kept the
    daemon starting (and a stop waiting) for a commit per capture."""
    from io import BytesIO

    from sqlalchemy import event
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from scheduler.daemon import Daemon, DaemonConfig

    warc_dir = tmp_path / "warc"
    warc_dir.mkdir()
    for n in range(2):
        writer = WARCWriter(buf := BytesIO(), gzip=True)
        for k in range(40):
            writer.write_record(writer.create_warc_record(
                f"http://satu.test/{n}/{k}/", "response", payload=BytesIO(b"halo"),
                http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/plain")],
                                              protocol="HTTP/1.1")))
        # a crawl killed mid-record leaves a torn one at the end
        host = name_part(socket.gethostname())  # recovery takes only this node's files
        (warc_dir / f"arsip-2026120100000{n}000-00000-{host}.warc.gz.open").write_bytes(
            buf.getvalue() + buf.getvalue()[:30])
    db_url = f"sqlite:///{tmp_path / 'arsip.db'}"
    with Archive.open(db_url) as archive:
        daemon = Daemon(DaemonConfig(data_dir=tmp_path, db_url=db_url,
                                     crawl_command=(sys.executable,), warc_dir=warc_dir),
                        archive)
        commits: list[int] = []
        event.listen(archive.engine, "commit", lambda _conn: commits.append(1))
        daemon._recover()
        assert len(commits) <= 2 + 2  # a transaction per file (and the reaping's)
        site, _ = add_site(archive, base_url="http://satu.test/", name="satu",
                           schedule_seconds=60)
        set_next_run(archive, site.id, NOW)  # writes after recovery are not held in a batch
        conn = sqlite3.connect(tmp_path / "arsip.db")
        try:
            assert conn.execute("SELECT count(*) FROM captures").fetchone() == (80,)
            assert conn.execute("SELECT next_run_at FROM sites").fetchone()[0] is not None
        finally:
            conn.close()
    assert sorted(p.name for p in warc_dir.iterdir()) == [
        f"arsip-2026120100000{n}000-00000-{name_part(socket.gethostname())}.warc.gz"
        for n in range(2)]


def test_a_crawl_that_ends_without_a_run_is_tried_again_within_seconds(harness: Harness
                                                                        ) -> None:
    """A crawl that fails before its run opens (its database connection dropped at start)
    is tried again after the first backoff delay (5 s), not at the site's next interval (an
    hour); the attempt that gets a run ends the backoff."""
    harness.add("satu", 3600)
    harness.start("-s", "FAKE_SECONDS=0.1", "-s", "FAKE_FAIL_FIRST=1")
    started = time.monotonic()
    wait_for("the retried crawl's run", lambda: harness.finished("satu"), timeout=60)
    assert time.monotonic() - started < 45
    assert harness.stop() == 0
    assert [r["outcome"] for r in harness.runs("satu")] == ["finished"]
    assert len(harness.lines("satu: crawl started")) == 2
    assert harness.lines("satu: crawl ended (exit 1)")
    assert "without a run: cannot read the archive database" in harness.log()
    assert harness.lines("satu: trying again in 5 s (attempt 1 of 4")


def test_a_crawl_that_never_gets_a_run_is_tried_a_bounded_number_of_times(harness: Harness
                                                                           ) -> None:
    """A failure that does not go away: the backoff's attempts, then the site waits for its
    next scheduled run, and the log says so; a crawl that gets a run later starts afresh."""
    harness.add("satu", 3600)
    harness.start("--retry-delays", "0.3,0.6", "-s", "FAKE_SECONDS=0.1",
                  "-s", "FAKE_FAIL_FIRST=100")
    wait_for("the attempts to end", lambda: harness.lines("not tried again"), timeout=60)
    time.sleep(2.0)  # nothing more starts: a bounded wait for something that must not happen
    assert harness.stop() == 0
    assert len(harness.lines("satu: crawl started")) == 3  # the first and two more
    assert [line.split("satu: ", 1)[1] for line in harness.lines("trying again")] == [
        "trying again in 0.3 s (attempt 1 of 2 after a crawl without a run)",
        "trying again in 0.6 s (attempt 2 of 2 after a crawl without a run)"]
    assert harness.lines("satu: 3 attempts in a row ended without a run; not tried again "
                         "before its next scheduled run")
    assert harness.runs("satu") == []
