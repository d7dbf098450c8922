"""The daemon's run claims (issue 7) beside its retries and lost node crawls (issue 10), driven
on the ``Daemon`` class against a throwaway SQLite archive (review 14)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.daemon import Daemon, DaemonConfig, Pending
from storage.archive import Archive
from storage.sites import add_site, claim_run, list_sites


@contextmanager
def _daemon(tmp_path: Path) -> Iterator[tuple[Daemon, Archive, int]]:
    db_url = f"sqlite:///{tmp_path / 'arsip.db'}"
    with Archive.open(db_url) as archive:
        site, *_ = add_site(archive, base_url="https://example.org/", name="a",
                            schedule_seconds=600)
        daemon = Daemon(DaemonConfig(data_dir=tmp_path, db_url=db_url, crawl_command=(),
                                     warc_dir=tmp_path / "warc"), archive)
        daemon.sites = {s.id: s for s in list_sites(archive)}
        yield daemon, archive, site.id


def _lost(site_id: int, due: datetime, log_file: Path) -> object:
    """A crawl whose node went away (``scheduler.nodes.NodeCrawl``, as ``_reap`` reads it)."""

    @dataclass
    class Lost:
        site_id: int
        due: datetime
        log_file: Path
        site: str = "a"
        pid: int = 0
        killed: bool = True
        lost: bool = True
        stop_sent: float | None = None
        recovery: bool = False
        exit_code: int = -9
        job: str = "site1-lost"

        def __post_init__(self) -> None:
            self.started = self.due

        def poll(self) -> int:
            return self.exit_code

    return Lost(site_id, due, log_file)


def test_a_node_crawl_lost_before_its_run_began_is_run_again(tmp_path: Path) -> None:
    """The node went away after taking the job but before the crawl opened its run: the newest
    run is the last interval's finished one, which must not drop the new attempt (M1)."""
    with _daemon(tmp_path) as (daemon, archive, site_id):
        earlier = archive.start_run(site_id, "daemon")
        archive.finish_run(earlier, "finished", {})
        due = datetime.now(UTC) + timedelta(seconds=5)
        assert claim_run(archive, site_id, due, due + timedelta(hours=1)) is None
        daemon.running[site_id] = _lost(site_id, due, tmp_path / "crawl-a.log")  # type: ignore[assignment]
        daemon._reap()
        pending = daemon.pending[site_id]
        assert pending.due == due and pending.claimed and not pending.recovery
        assert daemon._claim(pending)


def test_a_lost_node_crawl_whose_run_finished_is_not_run_again(tmp_path: Path) -> None:
    """The node was only cut off and its crawl finished its run: nothing to re-run."""
    with _daemon(tmp_path) as (daemon, archive, site_id):
        due = datetime.now(UTC)
        crawl = _lost(site_id, due - timedelta(seconds=2), tmp_path / "crawl-a.log")
        run = archive.start_run(site_id, "daemon")
        archive.finish_run(run, "finished", {})
        daemon.running[site_id] = crawl  # type: ignore[assignment]
        daemon._reap()
        pending = daemon.pending[site_id]
        assert pending.recovery and pending.claimed
        assert not daemon._claim(pending)


def test_a_lost_node_crawl_leaves_a_run_already_waiting_for_its_site_as_it_is(
        tmp_path: Path) -> None:
    """The site came due again while its crawl ran on the node that went away: the run that
    waits stays a scheduled run that claims its own due time (a re-run would skip the claim,
    and be dropped if the lost run in fact finished); it waits for the lost run to be seen dead
    like every waiting run (``_held_elsewhere``), so the site lock does not refuse it (M1)."""
    with _daemon(tmp_path) as (daemon, _archive, site_id):
        waiting = Pending(site_id, datetime.now(UTC))
        daemon.pending[site_id] = waiting
        lost = _lost(site_id, datetime(2026, 12, 1, tzinfo=UTC), tmp_path / "crawl-a.log")
        daemon.running[site_id] = lost  # type: ignore[assignment]
        daemon._reap()
        assert daemon.pending[site_id] is waiting
        assert not waiting.recovery and not waiting.claimed


def test_a_due_time_folded_into_a_claimed_waiting_run_is_claimed(tmp_path: Path) -> None:
    """A run claimed for T1 waits (a retry's backoff, a refusal, no node) when T2 comes due:
    the waiting run takes T2 in the database, so another daemon does not crawl T2 too (M2)."""
    with _daemon(tmp_path) as (daemon, archive, site_id):
        t1 = datetime.now(UTC) - timedelta(seconds=600)
        t2 = t1 + timedelta(seconds=600)
        assert claim_run(archive, site_id, t1, t2) is None
        daemon.pending[site_id] = Pending(site_id, t1, claimed=True, retry=True,
                                          not_before=0.0)
        daemon.due.put((site_id, t2, 0.0))
        daemon._take_due()
        pending = daemon.pending[site_id]
        assert pending.due == t2 and not pending.claimed
        assert daemon._claim(pending) and pending.claimed
        assert list_sites(archive)[0].next_run_at > t2
        # a second daemon on the database finds T2 taken
        assert claim_run(archive, site_id, t2, t2 + timedelta(seconds=600)) is not None


def test_only_a_claim_made_in_the_database_marks_the_run_claimed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run started because its claim could not be looked up was not claimed: when no node
    takes it, the next try claims it then (should-fix 3)."""
    import storage.sites

    with _daemon(tmp_path) as (daemon, _archive, site_id):
        due = datetime.now(UTC)

        def unreachable(*_args: object) -> None:
            raise OSError("database went away")

        monkeypatch.setattr(storage.sites, "claim_run", unreachable)
        pending = Pending(site_id, due)
        assert daemon._claim(pending) and not pending.claimed
        monkeypatch.undo()
        assert daemon._claim(pending) and pending.claimed


def test_a_run_found_is_not_retried_when_only_its_health_cannot_be_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection dropped after the run was found: the site that just ran is not tried
    again 5 s later (should-fix 1)."""
    import storage.health

    with _daemon(tmp_path) as (daemon, archive, site_id):
        crawl = _lost(site_id, datetime.now(UTC) - timedelta(seconds=2), tmp_path / "c.log")
        crawl.lost = False  # type: ignore[attr-defined]
        crawl.exit_code = 0  # type: ignore[attr-defined]
        crawl.killed = False  # type: ignore[attr-defined]
        run = archive.start_run(site_id, "daemon")
        archive.finish_run(run, "finished", {})

        def unreadable(*_args: object) -> list[str]:
            raise OSError("database went away")

        monkeypatch.setattr(storage.health, "health_warnings", unreadable)
        daemon.running[site_id] = crawl  # type: ignore[assignment]
        daemon._reap()
        assert site_id not in daemon.pending and not daemon.retries


def test_a_run_that_waited_for_a_slot_is_still_told_no_node_takes_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The "slots are taken" line does not hide the warning that no node takes the crawl
    (should-fix 4)."""

    class NoNode:
        def start(self, **_kwargs: object) -> None:
            return None

    with _daemon(tmp_path) as (daemon, _archive, site_id):
        daemon.nodes = NoNode()  # type: ignore[assignment]
        pending = Pending(site_id, datetime.now(UTC), told=True, claimed=True)
        with caplog.at_level("WARNING", logger="arsip.daemon"):
            assert not daemon._start(pending)
            assert not daemon._start(pending)
        said = [r.getMessage() for r in caplog.records if "no crawl node" in r.getMessage()]
        assert said == ["a: no crawl node takes the crawl now; trying again"]


def test_a_failed_attempt_does_not_hold_back_a_newer_run_already_waiting(
        tmp_path: Path) -> None:
    """The crawl of T1 ended without a run while T2 waits: T2 starts at its own time, not
    after T1's backoff (should-fix 2)."""
    with _daemon(tmp_path) as (daemon, _archive, site_id):
        t1 = datetime.now(UTC) - timedelta(seconds=600)
        waiting = Pending(site_id, t1 + timedelta(seconds=600))
        daemon.pending[site_id] = waiting
        daemon._retry(site_id, "a", t1, False)
        assert daemon.pending[site_id] is waiting
        assert waiting.not_before == 0.0 and not waiting.retry and not waiting.claimed
