"""Crawl runs: owners and heartbeats, one crawl per site at a time, dead runs marked killed.

Each test runs on SQLite and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from storage.archive import Archive
from storage.db import create_engine_for, upgrade_with_alembic
from storage.errors import SiteBusyError
from storage.liveness import STALE_AFTER, process_identity, run_is_alive, this_process
from storage.records import CaptureRecord, RunOwner, WarcLocation
from tests.dbfixtures import db_url, pg_url, sqlite_url  # noqa: F401

T0 = datetime(2025, 4, 28, 8, 0, tzinfo=UTC)


@pytest.fixture
def archive(db_url: str):  # noqa: F811
    arc = Archive.open(db_url)
    yield arc
    arc.close()


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def run_row(arc: Archive, run_id: int) -> dict:
    with arc.read() as conn:
        row = conn.execute(text("SELECT * FROM crawl_runs WHERE id = :i"), {"i": run_id}
                           ).mappings().one()
    return dict(row)


def test_a_run_records_its_owner_and_heartbeat(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    run = archive.start_run(site, "cli", this_process())
    row = run_row(archive, run)
    assert (row["pid"], row["host"], row["outcome"]) == (os.getpid(), socket.gethostname(),
                                                         "running")
    assert row["heartbeat_at"] is not None
    archive.heartbeat(run, {"arsip/articles_stored": 3})
    assert "arsip/articles_stored" in json.dumps(run_row(archive, run)["stats"])


def test_a_second_run_of_a_busy_site_names_the_first(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    other = archive.ensure_site("lain", "https://lain.test/")
    first = archive.start_run(site, "cli", this_process())
    with pytest.raises(SiteBusyError) as caught:
        archive.start_run(site, "daemon", this_process())
    message = str(caught.value)
    assert f"run {first}" in message and f"pid {os.getpid()}" in message
    assert socket.gethostname() in message and "\n" not in message
    assert caught.value.run_id == first
    # another site is not blocked, and a finished run no longer blocks its own
    archive.start_run(other, "cli", this_process())
    archive.finish_run(first, "finished", {})
    assert archive.start_run(site, "cli", this_process()) > first


def test_a_run_whose_process_is_gone_is_killed_and_no_longer_blocks(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    stale = archive.start_run(site, "cli", RunOwner(dead_pid(), socket.gethostname()))
    archive.record_capture(CaptureRecord(
        url="https://kudakyv.test/a/1", fetched_at=datetime.now(UTC), status=200,
        mime="text/html", payload_digest="sha1:A",
        location=WarcLocation("arsip-1.warc.gz", 0, 10, "<urn:uuid:a1>"), run_id=stale))
    archive.heartbeat(stale, {"arsip/warc_response_records": 1})
    fresh = archive.start_run(site, "cli", this_process())
    row = run_row(archive, stale)
    assert row["outcome"] == "killed" and row["finished_at"] is not None
    stats = row["stats"] if isinstance(row["stats"], dict) else json.loads(row["stats"])
    # what it had stored, and what its last heartbeat said
    assert stats["arsip/captures"] == 1 and stats["arsip/warc_response_records"] == 1
    assert run_row(archive, fresh)["outcome"] == "running"


def test_reaping_marks_only_dead_runs(archive: Archive) -> None:
    a = archive.ensure_site("a", "https://a.test/")
    b = archive.ensure_site("b", "https://b.test/")
    live = archive.start_run(a, "cli", this_process())
    dead = archive.start_run(b, "cli", RunOwner(dead_pid(), socket.gethostname()))
    assert archive.reap_dead_runs() == [dead]
    assert run_row(archive, live)["outcome"] == "running"
    assert run_row(archive, dead)["outcome"] == "killed"
    assert archive.reap_dead_runs() == []


def test_liveness_of_runs_on_this_host_and_others() -> None:
    me, here = this_process(), socket.gethostname()
    assert me.identity and run_is_alive(me.pid, here, me.identity, None)
    gone = dead_pid()
    assert not run_is_alive(gone, here, None, None)
    assert not run_is_alive(None, None, None, None)  # from before runs had owners
    # another host: only the heartbeat can tell, its age read on the database's clock
    assert run_is_alive(1, "elsewhere", None, timedelta(seconds=5))
    assert not run_is_alive(1, "elsewhere", None, STALE_AFTER + timedelta(seconds=1))
    assert not run_is_alive(1, "elsewhere", None, None)


def test_a_reused_pid_does_not_keep_a_dead_run_alive() -> None:
    # the run's pid now belongs to another process: this one, started at another tick (or
    # after a reboot: another boot id)
    me = this_process()
    assert me.identity is not None
    boot_ticks, namespace = me.identity.split("/")
    boot, ticks = boot_ticks.rsplit(":", 1)
    assert not run_is_alive(me.pid, me.host, f"{boot}:{int(ticks) + 1}/{namespace}", None)
    assert not run_is_alive(me.pid, me.host, f"another-boot:{ticks}/{namespace}", None)
    # an identity written before it carried the namespace is still recognised
    assert run_is_alive(me.pid, me.host, boot_ticks, None)


def test_a_run_in_another_pid_namespace_is_judged_by_its_heartbeat() -> None:
    """Two containers given one host name: the other one's processes are not in this
    process table, so neither a missing pid nor a matching one proves anything."""
    me = this_process()
    assert me.identity is not None
    boot_ticks, namespace = me.identity.split("/")
    other = f"{boot_ticks}/{int(namespace) + 1}"
    assert run_is_alive(dead_pid(), me.host, other, timedelta(seconds=5))
    assert not run_is_alive(me.pid, me.host, other, STALE_AFTER + timedelta(seconds=1))
    assert not run_is_alive(me.pid, me.host, other, None)


def test_without_a_process_identity_a_live_pid_also_needs_a_fresh_heartbeat() -> None:
    """No /proc (macOS): after a reboot a dead run's pid may be another process's; its
    heartbeat, stale since the crash, tells."""
    me, here = this_process(), socket.gethostname()
    assert run_is_alive(me.pid, here, None, timedelta(seconds=5))
    assert not run_is_alive(me.pid, here, None, STALE_AFTER + timedelta(seconds=1))


def test_a_clock_step_does_not_kill_a_live_run(archive: Archive) -> None:
    # the wall clock stepped a day forward after the run began (NTP, a VM resumed): its owner
    # is the same process, so it is alive; no clock takes part on the owner's host
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    run = archive.start_run(site, "cli", this_process())
    with archive._write() as conn:
        conn.execute(text("UPDATE crawl_runs SET started_at = :t, heartbeat_at = :t"),
                     {"t": datetime.now(UTC) - timedelta(days=1)})
    assert archive.reap_dead_runs() == []
    assert run_row(archive, run)["outcome"] == "running"
    with pytest.raises(SiteBusyError):
        archive.start_run(site, "daemon", this_process())


def test_a_zombie_is_not_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        identity = process_identity(proc.pid)
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
        assert not run_is_alive(proc.pid, socket.gethostname(), identity, None)
        assert not run_is_alive(proc.pid, socket.gethostname(), None, None)
    finally:
        proc.wait()


def _start(db: str, barrier: object, queue: object, owner: RunOwner | None) -> None:
    arc = Archive.open(db)
    try:
        site = arc.ensure_site("kudakyv", "https://kudakyv.test/")
        barrier.wait(timeout=60)  # type: ignore[attr-defined]
        try:
            run = arc.start_run(site, "cli", owner or this_process())
            queue.put(("run", run, os.getpid()))  # type: ignore[attr-defined]
        except SiteBusyError as exc:
            queue.put(("busy", exc.run_id, exc.pid))  # type: ignore[attr-defined]
        # a run's owner must outlive the others' attempts: once it exits, its run is dead
        barrier.wait(timeout=60)  # type: ignore[attr-defined]
    except BaseException as exc:
        queue.put(("error", repr(exc), 0))  # type: ignore[attr-defined]
    finally:
        arc.close()


@pytest.mark.parametrize("stale_holder", [False, True], ids=["free", "stale-holder"])
def test_two_starts_at_once_get_one_run(db_url: str, stale_holder: bool) -> None:  # noqa: F811
    arc = Archive.open(db_url)
    try:
        site = arc.ensure_site("kudakyv", "https://kudakyv.test/")
        stale = (arc.start_run(site, "cli", RunOwner(dead_pid(), socket.gethostname()))
                 if stale_holder else None)
    finally:
        arc.close()
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    starters = [ctx.Process(target=_start, args=(db_url, barrier, queue, None))
                for _ in range(3)]
    for starter in starters:
        starter.start()
    results = [queue.get(timeout=120) for _ in starters]
    for starter in starters:
        starter.join(timeout=60)
    assert not [r for r in results if r[0] == "error"], results
    runs = [r for r in results if r[0] == "run"]
    busy = [r for r in results if r[0] == "busy"]
    assert len(runs) == 1 and len(busy) == 2, results
    # the losers were told which run holds the site, and whose it is
    assert all(b[1] == runs[0][1] and b[2] == runs[0][2] for b in busy)
    arc = Archive.open(db_url)
    try:
        with arc.read() as conn:
            outcomes = dict(conn.execute(text("SELECT id, outcome FROM crawl_runs")).all())
    finally:
        arc.close()
    assert outcomes[runs[0][1]] == "running"
    assert list(outcomes.values()).count("running") == 1
    if stale is not None:
        assert outcomes[stale] == "killed"


def test_migration_keeps_one_running_run_per_site(db_url: str) -> None:  # noqa: F811
    # before 0003 every killed crawl left its run "running", several per site
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            from alembic import command
            from alembic.config import Config

            from storage.db import MIGRATIONS

            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
            conn.execute(text("INSERT INTO sites (name, base_url, enabled, created_at) "
                              "VALUES ('a', 'https://a.test/', true, :t)"), {"t": T0})
            for _ in range(3):
                conn.execute(text("INSERT INTO crawl_runs (site_id, started_at, trigger, "
                                  "outcome) VALUES (1, :t, 'cli', 'running')"), {"t": T0})
        with engine.begin() as conn:
            upgrade_with_alembic(conn)
            outcomes = conn.execute(text("SELECT id, outcome FROM crawl_runs ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in outcomes] == [(1, "killed"), (2, "killed"), (3, "running")]
    arc = Archive.open(db_url)
    try:
        # the one left has no owner: nobody can be waiting on it, the next start takes over
        new = arc.start_run(1, "cli", this_process())
        assert run_row(arc, 3)["outcome"] == "killed"
        assert run_row(arc, new)["outcome"] == "running"
    finally:
        arc.close()
