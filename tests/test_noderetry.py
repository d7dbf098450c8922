"""The daemon with ``--nodes`` against stand-in nodes (tests/fakenode.py; real Scrapyd nodes
are in tests/test_scrapyd.py): a node's crawl that ended without a run (its first job fails
before its run opens, as a crawl whose database connection dropped at its start does) is
dispatched again within seconds, not at the site's next interval; a schedule.json that timed
out is not a second dispatch; a node that hangs holds up the daemon's loop only so often."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.nodes import NodeCrawl, Nodes
from storage.archive import Archive
from storage.liveness import this_process
from tests.conftest import REPO, run_arsip
from tests.fakenode import FakeNode, fake_node
from tests.test_scheduler import wait_for


def _add_site(data_dir: Path, pg_url: str) -> None:
    added = run_arsip("sites", "add", "http://satu.test/", "--name", "satu", "--every", "1h",
                      "--data-dir", str(data_dir), "--db", pg_url)
    assert added.returncode == 0, added.stderr


@contextmanager
def _daemon(data_dir: Path, pg_url: str, node: FakeNode) -> Iterator[subprocess.Popen[str]]:
    """``arsip daemon`` dispatching to ``node``; stopped (SIGTERM, exit 0) when the block
    ends without an error, killed when it fails."""
    daemon = subprocess.Popen(
        [sys.executable, "-m", "crawler", "daemon", "--data-dir", str(data_dir),
         "--db", pg_url, "--nodes", node.url, "--nodes-db", pg_url, "--jitter", "0",
         "--sites-poll", "0.5"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        yield daemon
        os.killpg(daemon.pid, signal.SIGTERM)
        assert daemon.wait(60) == 0, daemon.stderr.read() if daemon.stderr else ""
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(10)


def _runs(db_url: str) -> list[str]:
    with Archive.open(db_url) as archive, archive.read() as conn:
        return [outcome for (outcome,) in conn.exec_driver_sql(
            "SELECT outcome FROM crawl_runs ORDER BY id")]


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_a_node_crawl_that_ends_without_a_run_is_dispatched_again_within_seconds(
        tmp_path: Path, pg_url: str) -> None:
    data_dir = tmp_path / "arsip-data"
    attempts: list[str] = []

    def crawl(job: str, settings: dict[str, str]) -> None:
        attempts.append(job)
        if len(attempts) == 1:
            return  # failed before its run opened: no run
        with Archive.open(pg_url) as archive:
            run = archive.start_run(int(settings["ARSIP_SITE_ID"]), "daemon", this_process())
            archive.finish_run(run, "finished", {"response_received_count": 1})

    _add_site(data_dir, pg_url)
    with fake_node(crawl) as node, _daemon(data_dir, pg_url, node):
        started = time.monotonic()
        wait_for("the retried crawl's run", lambda: _runs(pg_url) == ["finished"], timeout=90)
        elapsed = time.monotonic() - started
    assert elapsed < 75  # seconds, not the hour of its interval
    assert len(node.scheduled) == 2
    log = (data_dir / "logs" / "daemon.log").read_text(encoding="utf-8")
    assert "satu: crawl ended (exit 0) after" in log and "without a run" in log
    assert "satu: trying again in 5 s (attempt 1 of 4 after a crawl without a run)" in log
    assert log.count(f"satu: crawl started on {node.url}") == 2


def _nodes(*urls: str, timeout: float) -> Nodes:
    return Nodes(urls, 1, "postgresql://unused", timeout=timeout)


def _start(nodes: Nodes, tmp_path: Path) -> NodeCrawl | None:
    return nodes.start(site_id=1, site="satu", due=datetime.now(UTC), max_pages=None,
                       settings=(), logs=tmp_path / "logs", running=())


def test_a_schedule_that_timed_out_but_was_taken_is_the_crawl_not_dispatched_twice(
        tmp_path: Path) -> None:
    """schedule.json times out, yet the node took the job: the node's listing says so, and
    that job is the crawl; the other node gets nothing (review 10-1, should-fix a)."""
    with fake_node(lambda _job, _settings: time.sleep(1)) as slow, \
            fake_node(lambda _job, _settings: None) as other:
        slow.schedule_delay = 1.5
        crawl = _start(_nodes(slow.url, other.url, timeout=0.5), tmp_path)
        assert crawl is not None and crawl.node.url == slow.url
        assert [job for job, _ in slow.scheduled] == [crawl.job]
        assert other.scheduled == []


def test_a_job_a_node_could_not_be_asked_about_is_cancelled_when_it_answers(
        tmp_path: Path) -> None:
    """schedule.json times out and the listing does too: the crawl goes to the other node,
    and the job the first node may hold is cancelled once it answers again."""
    with fake_node(lambda _job, _settings: time.sleep(0.5)) as hung, \
            fake_node(lambda _job, _settings: None) as other:
        hung.schedule_delay = hung.list_delay = 1.5
        nodes = _nodes(hung.url, other.url, timeout=0.5)
        crawl = _start(nodes, tmp_path)
        assert crawl is not None and crawl.node.url == other.url
        taken = [job for job, _ in hung.scheduled]
        assert len(taken) == 1 and hung.cancelled == []
        hung.schedule_delay = hung.list_delay = 0.0
        nodes.nodes[0].down_until = 0.0  # its time out is over
        _start(nodes, tmp_path)  # the next dispatch cancels it first
        assert hung.cancelled[:1] == taken


def test_a_node_that_hangs_holds_up_the_loop_once_per_backoff(tmp_path: Path) -> None:
    """A node whose listing hangs: polling its crawl costs one timeout per POLL_BACKOFF
    seconds, not one per call (the daemon's loop polls every crawl on every turn)."""
    with fake_node(lambda _job, _settings: time.sleep(5)) as node:
        crawl = _start(_nodes(node.url, timeout=0.4), tmp_path)
        assert crawl is not None
        node.list_delay = 2.0
        crawl.node._jobs = None  # no listing cached: the next poll asks
        started = time.monotonic()
        for _ in range(10):
            assert crawl.poll() is None
        assert time.monotonic() - started < 2.0  # one timeout (0.4 s), not ten
        assert crawl.unreachable_since is not None


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_a_node_crawls_run_is_found_by_its_job_id_not_by_site_and_time(
        tmp_path: Path, pg_url: str) -> None:
    """The node's job fails before its run opens, while another run of the site (another
    job's) starts and ends meanwhile: that run is not the job's (review 10-1, should-fix c),
    so the job ended without a run and the site is dispatched again."""
    data_dir = tmp_path / "arsip-data"
    attempts: list[str] = []

    def run_of(job: str, site_id: int) -> None:
        with Archive.open(pg_url) as archive:
            run = archive.start_run(site_id, "daemon", this_process())
            archive.heartbeat(run, {"arsip/job": job})
            archive.finish_run(run, "finished", {"arsip/job": job})

    def crawl(job: str, settings: dict[str, str]) -> None:
        attempts.append(job)
        site_id = int(settings["ARSIP_SITE_ID"])
        # the first job: another job's run of the site, and none of its own
        run_of(job if len(attempts) > 1 else "another-job", site_id)

    _add_site(data_dir, pg_url)
    with fake_node(crawl) as node, _daemon(data_dir, pg_url, node):
        wait_for("the second dispatch's run", lambda: len(_runs(pg_url)) == 2 and
                 "run 2 finished" in _log(data_dir), timeout=90)
    log = _log(data_dir)
    assert len(node.scheduled) == 2
    assert "run 1 finished" not in log  # another job's run is not taken for this job's
    assert "satu: trying again in 5 s" in log


def _log(data_dir: Path) -> str:
    path = data_dir / "logs" / "daemon.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""
