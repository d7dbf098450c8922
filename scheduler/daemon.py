"""``arsip daemon``: keeps every scheduled site's archive current.

One loop, in the main thread, owns everything that happens to processes:

- APScheduler (``scheduler.jobs``) says when each site is due (a time on the site's interval
  grid) and hands the site to the loop with the random delay (jitter) drawn for that run; the
  run waits out its delay here, so the delay never moves the grid;
- the loop starts due crawls as subprocesses (``scheduler.runner``), at most ``max_concurrent``
  at a time, sites whose last run died with an earlier daemon first, then by due time; a site
  still being crawled when it comes due again runs once more right after (coalesced);
- a due run that has not started keeps its site's ``next_run_at`` at its due time, so a restart
  before it starts still runs it (once); the next run is recorded only when it starts, and put
  back to the due time when the daemon's stop ends the crawl before its run began;
- several daemons may share one database: just before a run starts, the daemon takes it in the
  database (moves ``next_run_at`` past its due time, atomically); a run another daemon took
  first is left to it, and a run that waits while another process crawls the site looks again
  when that crawl ends, so a site is never crawled twice for one due time, nor re-run after
  another daemon's crawl that finished;
- a re-run of a crawl an earlier daemon left waits while that crawl is still closing (it
  holds the site's run lock): a quick restart does not lose it to a refusal;
- it reaps finished crawls and logs one line per run with its figures, and a warning when the
  site's extraction health jumped (``storage.health``);
- a crawl that ended without a run (it failed before its run opened: the database connection
  dropped, as in a PostgreSQL restart, or the site's lock was held) runs again after a backoff
  (``retry_delays``: 5 s, 15 s, 60 s, 300 s by default; never later than the site's next
  scheduled run); after the last of them the site waits for its next interval, and the log
  says so. A run found again ends the backoff;
- every ``sites_poll`` seconds it re-reads ``sites`` and brings the jobs in step;
- SIGTERM, SIGINT or SIGHUP (to the daemon or to its whole process group) stop it: no new runs,
  SIGTERM to each running crawl, up to ``stop_timeout`` seconds for them to close their WARC
  files and commit, then SIGKILL; exit 0. A second signal (Ctrl-C again, another ``kill``) is
  passed on: each crawl gets a second SIGTERM, which a crawl takes as "stop now" (requests in
  flight dropped, what it fetched still written out), and the wait is cut to
  ``stop_now_timeout`` seconds before SIGKILL. Further signals are not passed on (a crawl takes
  a third one as "leave now", which abandons its recorder mid-write): they change nothing.
  Never SIGKILL at once: a crawl killed mid-write leaves a WARC file for the next run to
  repair. One that came while the daemon was starting (``arsip`` holds them until ``run()``
  takes them over) stops it before anything runs, exit 0 too.

It sleeps in ``select`` on a pipe that signals (``signal.set_wakeup_fd``), APScheduler's thread
and finished children (SIGCHLD) all write to, so it reacts at once and never polls in a loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from scheduler.jobs import Jobs, SiteSchedule
from scheduler.runner import RunningCrawl, last_error_line, prune_logs, start_crawl

if TYPE_CHECKING:
    from storage.archive import Archive
    from storage.sites import SiteRow

logger = logging.getLogger("arsip.daemon")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# seconds between looks at a run that holds a site whose re-run is waiting
HELD_RETRY = 0.5
# runs of the daemon's crawls that did not end by themselves: their sites are crawled first
UNFINISHED = ("killed", "interrupted", "running")
# seconds before each new attempt at a crawl that ended without a run (see the module docs)
RETRY_DELAYS = (5.0, 15.0, 60.0, 300.0)


@dataclass(frozen=True)
class DaemonConfig:
    """How the daemon runs; one per daemon."""

    data_dir: Path
    db_url: str
    crawl_command: tuple[str, ...]  # how to run ``arsip`` (scheduler never imports crawler)
    warc_dir: Path  # where the crawls write (ARSIP_WARC_DIR): recovery repairs what they left
    max_concurrent: int = 2
    max_jitter: float = 60.0
    stop_timeout: float = 60.0
    stop_now_timeout: float = 10.0  # after a second signal: what is left of the wait, at most
    sites_poll: float = 5.0
    settings: tuple[str, ...] = ()  # NAME=VALUE for every crawl
    keep_logs: int = 100
    # Scrapyd crawl nodes to dispatch to instead of local subprocesses (scheduler.nodes), each
    # running ``per_node`` crawls at most; the database URL they get (no password)
    nodes: tuple[str, ...] = ()
    per_node: int = 1
    nodes_db_url: str = ""
    node_lost_after: float = 30.0  # a node unreachable this long has lost its crawls
    retry_delays: tuple[float, ...] = RETRY_DELAYS

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"


@dataclass
class Pending:
    """A site due to be crawled, waiting for a free slot (or for its running crawl to end)."""

    site_id: int
    due: datetime
    recovery: bool = False
    told: bool = False  # the log says it is waiting
    held_told: bool = False  # the log says it waits for a crawl another process runs
    # the log says no crawl node takes it (apart from ``told``: a run that first waited for a
    # slot must still get this warning)
    node_told: bool = False
    claimed: bool = False  # taken in the database already (a crawl of it was refused)
    retry: bool = False  # another attempt at a crawl that ended without a run
    # monotonic: not before its jitter has passed, or (a re-run) before the old crawl lets go
    not_before: float = 0.0


class Daemon:
    """See the module docs. ``run()`` returns the exit code."""

    def __init__(self, config: DaemonConfig, archive: Archive,
                 held: Sequence[int] = ()) -> None:
        self.config = config
        # signals received while the daemon was starting, before ``run()`` took them over
        # (``arsip`` holds them from its first moment): the same as one received in the loop
        self.held = held
        self.archive = archive
        self.nodes = None
        if config.nodes:  # the crawls run on Scrapyd crawl nodes, not here
            from scheduler.nodes import Nodes

            self.nodes = Nodes(config.nodes, config.per_node, config.nodes_db_url,
                               lost_after=config.node_lost_after)
        self.jobs = Jobs(self._on_due, config.max_jitter)
        self.due: queue.SimpleQueue[tuple[int, datetime, float]] = queue.SimpleQueue()
        self.pending: dict[int, Pending] = {}
        self.running: dict[int, RunningCrawl] = {}
        self.last_started: dict[int, datetime] = {}  # when each site's latest crawl started
        self.sites: dict[int, SiteRow] = {}
        self.written_next: dict[int, datetime | None] = {}
        self.retries: dict[int, int] = {}  # attempts in a row that ended without a run
        self.signals = 0
        self.runs_done = 0
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        with self._signals():
            if self.held or self.signals:
                signum = self.held[0] if self.held else signal.SIGTERM
                logger.info("arsip daemon stopped by %s while it was starting: nothing run",
                            signal.Signals(signum).name)
                return 0
            logger.info("arsip daemon started (pid %d): at most %d crawls at once; data in %s",
                        os.getpid(), self.config.max_concurrent, self.config.data_dir)
            self._recover()
            self._sync()
            if not self.sites:
                logger.info("no site is scheduled yet (arsip sites add URL --every 1h); "
                            "sites added later are picked up within %.0f s",
                            self.config.sites_poll)
            self.jobs.start()
            try:
                next_sync = time.monotonic() + self.config.sites_poll
                while not self.signals:
                    self._dispatch()
                    # a run whose wait has passed but has no room yet is woken by the end
                    # of a crawl (SIGCHLD), not by a timeout that has already passed
                    now = time.monotonic()
                    wake = min([next_sync, *(p.not_before for p in self.pending.values()
                                             if p.not_before > now)])
                    self._wait(max(0.0, wake - time.monotonic()))
                    self._take_due()
                    self._reap()
                    if time.monotonic() >= next_sync:
                        self._sync()
                        next_sync = time.monotonic() + self.config.sites_poll
            finally:
                self.jobs.shutdown()
                self._stop_crawls()
        logger.info("arsip daemon stopped")
        return 0

    def _on_due(self, site_id: int, due: datetime, delay: float = 0.0) -> None:
        # APScheduler's thread: hand over, wake the loop, return at once
        self.due.put((site_id, due, delay))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"\0")

    def _wait(self, timeout: float) -> None:
        readable, _, _ = select.select([self._wake_r], [], [], timeout)
        if readable:
            with contextlib.suppress(BlockingIOError, OSError):
                while os.read(self._wake_r, 4096):
                    pass

    def _take_due(self) -> None:
        while True:
            try:
                site_id, due, delay = self.due.get_nowait()
            except queue.Empty:
                return
            if site_id in self.pending:
                # coalesced with the run already waiting; a retry waiting out its backoff
                # runs no later than this due run would
                waiting = self.pending[site_id]
                if waiting.retry and waiting.not_before:
                    waiting.not_before = min(waiting.not_before, time.monotonic() + delay)
                if waiting.claimed and due > waiting.due:
                    # it waits for a due time taken already (a retry's backoff, a refusal, no
                    # node): the newer one must be taken in the database too, or another
                    # daemon crawls it as well; its crawl covers the older one. A re-run
                    # becomes this scheduled run (it still waits for a live holder)
                    waiting.due = due
                    waiting.claimed = False
                    waiting.recovery = False
                continue
            started = self.last_started.get(site_id)
            if started is not None and due <= started:
                # a crawl that started at or after the due time covers it (after a downtime,
                # the re-run of a killed crawl is the one catch-up run); ``due`` is the grid's
                # time, without this run's jitter, so a jittered catch-up is covered too
                continue
            # the run's jitter: it waits here, and starts ``delay`` seconds after it came due
            self.pending[site_id] = Pending(
                site_id, due, not_before=time.monotonic() + delay if delay > 0 else 0.0)
            if delay > 0 and site_id in self.sites:
                logger.info("%s: due at %s; waiting out its jitter, %.1f s",
                            self.sites[site_id].name, _hms(due), delay)

    def _dispatch(self) -> None:
        """Start waiting crawls while there is room: recoveries first, then by due time."""
        now = time.monotonic()
        while len(self.running) < self.config.max_concurrent:
            ready = [p for p in self.pending.values() if p.site_id not in self.running
                     and p.site_id in self.sites and p.not_before <= now]
            if not ready:
                break
            chosen = min(ready, key=lambda p: (not p.recovery, p.due))
            if self._held_elsewhere(chosen):
                chosen.not_before = now + HELD_RETRY
                continue
            del self.pending[chosen.site_id]
            if self._claim(chosen):
                if not self._start(chosen):
                    # no crawl node takes it now; its claim (``_claim`` marks one it made)
                    # stays, so only its start waits
                    self.pending[chosen.site_id] = chosen
                    chosen.not_before = now + HELD_RETRY * 10
                    break
        for pending in self.pending.values():
            # told only of a run that could start now but has no room (not one waiting out
            # its jitter, nor one waiting for an earlier daemon's crawl, which says so itself)
            if not pending.told and pending.site_id in self.sites and pending.not_before <= now:
                pending.told = True
                busy = ("its last crawl is still running" if pending.site_id in self.running
                        else f"all {self.config.max_concurrent} slots are taken")
                logger.info("%s: due at %s; waiting: %s", self.sites[pending.site_id].name,
                            _hms(pending.due), busy)

    def _held_elsewhere(self, pending: Pending) -> bool:
        """Whether a live run the daemon did not start holds the site (the crawl an earlier
        daemon left, still closing; another daemon's or a manual crawl): the run waits for it
        to end, then looks again whether it is still wanted (``_claim``); said once in the log.
        """
        try:
            holder = self.archive.running_run(pending.site_id)
        except Exception as exc:  # cannot tell: start it, the crawl itself checks again
            logger.error("cannot read the runs of site %d: %s", pending.site_id, exc)
            return False
        if holder is None or not holder.alive:
            return False
        if not pending.held_told:
            pending.held_told = True
            if pending.recovery:
                logger.info("%s: waiting for run %d (pid %d on %s) to end before its re-run",
                            holder.site, holder.id, holder.pid, holder.host)
            else:
                logger.info("%s: due at %s; waiting: run %d (pid %d on %s) is crawling it",
                            holder.site, _hms(pending.due), holder.id, holder.pid, holder.host)
        return True

    def _claim(self, pending: Pending) -> bool:
        """Whether the run is still this daemon's to start, looked up in the database just
        before it starts: another daemon on the same database may have run it meanwhile.

        A re-run of a crawl that did not finish is not wanted once the site's newest run
        ended by itself (a crawl that was still running at the start, another daemon's, that
        then finished). A scheduled run is taken in the database (``claim_run``): if another
        daemon took it first, it is left to that one, and this daemon's job moves to the next
        run that daemon recorded.
        """
        from storage.health import last_daemon_runs
        from storage.sites import SiteNotFoundError, claim_run

        site = self.sites[pending.site_id]
        try:
            if pending.recovery:
                newest = last_daemon_runs(self.archive, site.id).get(site.id)
                if newest is not None and newest[1] not in UNFINISHED:
                    logger.info("%s: run %d %s meanwhile; nothing to re-run", site.name,
                                newest[0], newest[1])
                    return False
                return True
            if pending.claimed:
                return True
            then = self.jobs.next_runs().get(site.id)
            grid = pending.due + timedelta(seconds=site.schedule_seconds or 0)
            then = max(then, grid) if then is not None else grid
            other = claim_run(self.archive, site.id, pending.due, then)
        except SiteNotFoundError:
            logger.info("%s: removed; its run due at %s is not started", site.name,
                        _hms(pending.due))
            return False
        except Exception as exc:  # cannot tell: start it, the crawl checks the run lock
            logger.error("%s: cannot look up its runs: %s; starting it", site.name, exc)
            return True
        if other is None:
            self.written_next[site.id] = then
            # taken: a later try (no node took it) must not claim it again, nor take it for
            # another daemon's; not set when the claim could not be made (``except`` above)
            pending.claimed = True
            return True
        self.written_next[site.id] = other
        logger.info("%s: its run due at %s was taken by another daemon on this database; "
                    "next run at %s", site.name, _hms(pending.due), _hms(other))
        if other > datetime.now(UTC):
            self.jobs.move(site.id, other)
        return False

    def _start(self, pending: Pending) -> bool:
        site = self.sites[pending.site_id]
        if self.nodes is not None:
            return self._start_on_node(pending)
        try:
            crawl = start_crawl(
                list(self.config.crawl_command), site_id=site.id, site=site.name,
                due=pending.due, data_dir=self.config.data_dir, db_url=self.config.db_url,
                max_pages=site.max_pages, settings=self.config.settings, logs=self.config.logs,
                recovery=pending.recovery)
        except OSError as exc:
            logger.error("%s: cannot start a crawl: %s", site.name, exc)
            self._retry(site.id, site.name, pending.due, pending.recovery)
            return True
        self.running[site.id] = crawl
        self.last_started[site.id] = crawl.started
        delay = (crawl.started - pending.due).total_seconds()
        logger.info("%s: crawl started (pid %d, due %s, delay %.3f s%s); log %s", site.name,
                    crawl.pid, _hms(pending.due), delay,
                    ", re-run of a crawl that did not finish" if pending.recovery else "",
                    crawl.log_file.name)
        return True

    def _start_on_node(self, pending: Pending) -> bool:
        """Dispatch the crawl to a Scrapyd node (``scheduler.nodes``); False when none takes
        it now."""
        assert self.nodes is not None
        site = self.sites[pending.site_id]
        try:
            crawl = self.nodes.start(
                site_id=site.id, site=site.name, due=pending.due, max_pages=site.max_pages,
                settings=self.config.settings, logs=self.config.logs,
                running=self.running.values(), recovery=pending.recovery)
        except OSError as exc:  # its log file
            logger.error("%s: cannot start a crawl: %s", site.name, exc)
            self._retry(site.id, site.name, pending.due, pending.recovery)
            return True
        if crawl is None:
            if not pending.node_told:
                logger.warning("%s: no crawl node takes the crawl now; trying again",
                               site.name)
                pending.node_told = True
            return False
        self.running[site.id] = crawl  # type: ignore[assignment]
        self.last_started[site.id] = crawl.started
        logger.info("%s: crawl started on %s (job %s, due %s, delay %.3f s%s); log %s",
                    site.name, crawl.node.url, crawl.job, _hms(pending.due),
                    (crawl.started - pending.due).total_seconds(),
                    ", re-run of a crawl that did not finish" if pending.recovery else "",
                    crawl.log_file.name)
        return True

    def _reap(self) -> None:
        for site_id, crawl in list(self.running.items()):
            if crawl.poll() is None:
                continue
            del self.running[site_id]
            self.runs_done += 1
            lost = getattr(crawl, "lost", False)
            ran = self._report_once_more(crawl)
            if lost and not self.signals and site_id not in self.pending:
                # its node went away: the site goes to another node (its due time was
                # claimed when it started). A re-run only if the lost crawl had a run: one
                # lost before its run began has nothing to re-run, and the newest run (the
                # last interval's, finished) must not drop it. A run already waiting is left
                # as it is: it claims its own due time, and ``_held_elsewhere`` makes it wait
                # for the lost run to be seen dead
                self.pending[site_id] = Pending(site_id, crawl.due, recovery=bool(ran),
                                                claimed=True)
            if ran:
                self.retries.pop(site_id, None)
            elif ran is not None and not self.signals and not lost:
                self._retry(site_id, crawl.site, crawl.due, crawl.recovery)
            prune_logs(self.config.logs, crawl.site, self.config.keep_logs)

    def _report_once_more(self, crawl: RunningCrawl) -> bool | None:
        """``_report``, read again once when the archive cannot be read (a connection just
        dropped: the next one is new). Whether the crawl had a run, None when it was stopped
        by the daemon before its run began; False when it cannot be told either (another
        attempt is then cheaper than a site left for a whole interval: the database's site
        lock keeps it from overlapping a run that is still there)."""
        for attempt in (1, 2):
            try:
                return self._report(crawl)
            except Exception as exc:
                if attempt == 2:
                    logger.error("%s: crawl ended (exit %s), but its run cannot be read: %s",
                                 crawl.site, crawl.exit_code, exc)
        return False

    def _retry(self, site_id: int, site: str, due: datetime, recovery: bool) -> None:
        """Another attempt at a crawl that ended without a run, after the next backoff
        delay; after the last one, the site waits for its next scheduled run."""
        delays = self.config.retry_delays
        attempt = self.retries.get(site_id, 0) + 1
        upcoming = self.jobs.next_runs().get(site_id)
        if attempt > len(delays):
            self.retries.pop(site_id, None)
            logger.warning("%s: %d attempts in a row ended without a run; not tried again "
                           "before its next scheduled run (%s)", site, attempt,
                           _hms(upcoming) if upcoming else "none")
            return
        delay = delays[attempt - 1]
        self.retries[site_id] = attempt
        if upcoming is not None and (upcoming - datetime.now(UTC)).total_seconds() <= delay:
            logger.info("%s: its next scheduled run (%s) comes before another attempt would",
                        site, _hms(upcoming))
            return
        waiting = self.pending.get(site_id)
        if waiting is not None and waiting.due > due:
            # the site came due again meanwhile: that run is the next attempt, at its own
            # time (not held back by the backoff of an older run's failure)
            logger.info("%s: its run due at %s waits already; it is the next attempt", site,
                        _hms(waiting.due))
            return
        # the attempt's run was taken in the database already (``_claim``): another claim
        # would find it gone and take it for another daemon's
        pending = self.pending.setdefault(site_id, Pending(site_id, due, recovery=recovery,
                                                           claimed=True))
        pending.retry = True
        pending.not_before = max(pending.not_before, time.monotonic() + delay)
        logger.warning("%s: trying again in %g s (attempt %d of %d after a crawl without a "
                       "run)", site, delay, attempt, len(delays))

    def _report(self, crawl: RunningCrawl) -> bool | None:
        """One line per run with its figures, and the site's health warnings. Whether the
        crawl had a run; None when the daemon's stop ended it before its run began, or it was
        refused for another process's crawl and waits for it."""
        from storage.errors import SiteBusyError
        from storage.health import find_run, health_warnings, run_figures

        seconds = (datetime.now(UTC) - crawl.started).total_seconds()
        # a crawl node's job whose pid was never seen: its newest run since it started
        run = find_run(self.archive, crawl.site_id, crawl.started, crawl.pid or None,
                       job=getattr(crawl, "job", None))
        how = "killed" if crawl.killed else f"exit {crawl.exit_code}"
        if run is None and crawl.stop_sent is not None:
            # stopped by the daemon's own stop before its run began: it never ran, so it stays
            # due (the next start runs it, once)
            from storage.sites import set_next_run

            set_next_run(self.archive, crawl.site_id, crawl.due)
            self.written_next[crawl.site_id] = crawl.due
            logger.info("%s: crawl stopped before its run began; still due (since %s)",
                        crawl.site, _hms(crawl.due))
            return None
        if run is None:
            why = last_error_line(crawl.log_file)
            if why is not None and SiteBusyError.PHRASE in why and crawl.site_id in self.sites:
                # another process's crawl had just begun (its run not yet recorded when this
                # one started): the run is still this daemon's, and waits for that crawl
                self.pending.setdefault(crawl.site_id, Pending(
                    crawl.site_id, crawl.due, recovery=crawl.recovery, claimed=True,
                    not_before=time.monotonic() + HELD_RETRY))
                logger.info("%s: crawl refused (%s); it runs when that crawl ends",
                            crawl.site, why)
                return None
            logger.warning("%s: crawl ended (%s) after %.1f s without a run: %s; log %s",
                           crawl.site, how, seconds, why or "no message; see its log",
                           crawl.log_file.name)
            return False
        fig = run_figures(run)
        errors = fig["errors"]
        logger.info(
            "%s: run %d %s (%s) in %.1f s: %d pages, %d articles read, %d new versions, "
            "%d not modified, errors %d fetch / %d HTTP / %d extraction; log %s",
            crawl.site, fig["id"], fig["outcome"], how, seconds, fig["pages"], fig["articles"],
            fig["versions"], fig["not_modified"], errors["fetch"], errors["http"],
            errors["extraction"], crawl.log_file.name)
        try:
            warnings = health_warnings(self.archive, crawl.site_id, fig["id"])
        except Exception as exc:  # the run was found: no retry for want of its warnings
            logger.error("%s: cannot read the health of run %d: %s", crawl.site, fig["id"], exc)
            warnings = []
        for warning in warnings:
            logger.warning("%s", warning)
        return True

    # --- the sites ------------------------------------------------------------------------------

    def _sync(self) -> None:
        """Bring the jobs in step with the ``sites`` table."""
        from storage.sites import list_sites

        try:
            rows = list_sites(self.archive)
        except Exception as exc:  # a locked or unreachable database: keep the jobs we have
            logger.error("cannot read the sites: %s", exc)
            return
        self.sites = {site.id: site for site in rows if site.scheduled}
        # APScheduler sleeps on the monotonic clock, which stands still while the machine is
        # suspended and ignores a wall clock set forward (a VM that was paused): woken here, it
        # looks at the wall clock again, so a run due meanwhile starts within ``sites_poll``
        # seconds, not up to an interval late
        self.jobs.wake()
        done = self.jobs.sync(SiteSchedule(site.id, site.name, site.schedule_seconds or 0,
                                           site.enabled, site.last_run_at, site.next_run_at)
                              for site in self.sites.values())
        self._write_first_runs()
        for name in done["added"]:
            logger.info("%s: scheduled every %s", name,
                        _every(next(s for s in rows if s.name == name)))
        for name in done["changed"]:
            logger.info("%s: schedule changed to every %s", name,
                        _every(next(s for s in rows if s.name == name)))
        for name in done["removed"]:
            logger.info("%s: no longer scheduled (paused or removed); no new runs", name)
        for why in done["failed"]:
            logger.error("%s; this site is not scheduled, the others are", why)
        for site_id in list(self.pending):
            if site_id not in self.sites:
                del self.pending[site_id]
        for site_id in list(self.retries):
            if site_id not in self.sites:  # paused or removed: its attempts start afresh
                del self.retries[site_id]

    def _write_first_runs(self) -> None:
        """Record when each new or changed job fires first. Later next runs are recorded when
        a run is taken (``_claim``): until then a due run keeps its due time, so a restart
        before it starts still runs it (once)."""
        from storage.sites import set_next_run

        for site_id, when in list(self.jobs.first_runs.items()):
            if site_id in self.sites and self.written_next.get(site_id) != when:
                try:
                    set_next_run(self.archive, site_id, when)
                except Exception as exc:  # tried again at the next look at the sites
                    logger.error("cannot record the next run of site %d: %s", site_id, exc)
                    return
                self.written_next[site_id] = when
            del self.jobs.first_runs[site_id]

    def _recover(self) -> None:
        """What an earlier daemon that died left: repair its open WARC files, and put the sites
        whose last run did not finish first in line."""
        from storage.health import last_daemon_runs
        from storage.reindex import index_file
        from storage.warc import recover_open_files

        for run_id in self.archive.reap_dead_runs():
            logger.warning("Run %d died with its process: marked killed", run_id)
        for path in recover_open_files(self.config.warc_dir):
            with self.archive.batched():  # one transaction per file, as `arsip reindex`
                count = index_file(self.archive, path)
            logger.warning("Recovered WARC file left open by a crawl that died: %s "
                           "(%d captures indexed)", path.name, count)
        now = datetime.now(UTC)
        for site_id, (_run, outcome) in last_daemon_runs(self.archive).items():
            if outcome in UNFINISHED:
                self.pending[site_id] = Pending(site_id, now, recovery=True)

    # --- stopping -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        from storage.processes import handle_shutdown_signal

        previous = {signum: signal.getsignal(signum) for signum in (*STOP_SIGNALS,
                                                                    signal.SIGCHLD)}
        old_fd = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            handle_shutdown_signal(signum, self._on_signal)
        # a handler (not SIG_DFL) so that a child's exit writes to the wake-up pipe
        signal.signal(signal.SIGCHLD, lambda *_: None)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(old_fd)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # only a flag: the loop, woken by the pipe, does the work
        self.signals += 1

    def _stop_crawls(self) -> None:
        if not self.running:
            return
        logger.info("stopping: SIGTERM to %d running crawl%s, waiting up to %.0f s",
                    len(self.running), "s" * (len(self.running) > 1), self.config.stop_timeout)
        for crawl in self.running.values():
            crawl.stop()
        deadline = time.monotonic() + self.config.stop_timeout
        seen = 1  # the signal that stopped the loop
        told_now = False
        while self.running and time.monotonic() < deadline:
            if self.signals > seen and not told_now:
                # a second signal: passed on, and the wait cut short (never SIGKILL at once)
                seen, told_now = self.signals, True
                deadline = min(deadline, time.monotonic() + self.config.stop_now_timeout)
                logger.warning("stopping now (another signal): SIGTERM again to %d running "
                               "crawl%s, waiting up to %.0f s more", len(self.running),
                               "s" * (len(self.running) > 1),
                               max(0.0, deadline - time.monotonic()))
                for crawl in self.running.values():
                    crawl.stop_now()
            elif self.signals > seen:
                # a third Ctrl-C and more: not passed on (a crawl takes a third signal as "leave
                # now", abandoning its recorder and a WARC file mid-write); the bounded wait and
                # its SIGKILL already stand
                seen = self.signals
                logger.warning("another signal: the crawls are stopping now; SIGKILL to those "
                               "left in %.0f s", max(0.0, deadline - time.monotonic()))
            self._wait(min(0.5, max(0.0, deadline - time.monotonic())))
            self._reap()
        for crawl in list(self.running.values()):
            logger.warning("%s: crawl (pid %d) did not stop in time: SIGKILL", crawl.site,
                           crawl.pid)
            crawl.kill()
            with contextlib.suppress(Exception):
                crawl.process.wait(10)
        self._reap()
        self._mark_dead_runs()

    def _mark_dead_runs(self) -> None:
        """Runs of crawls killed just now are dead: record them so (their sites run first
        next time)."""
        try:
            self.archive.reap_dead_runs()
        except Exception as exc:  # the next start marks them
            logger.error("cannot mark the runs of the killed crawls: %s", exc)


def _hms(value: datetime) -> str:
    return f"{value:%H:%M:%S}.{value.microsecond // 1000:03d}"


def _every(site: SiteRow) -> str:
    from storage.durations import format_duration

    return format_duration(site.schedule_seconds) or "-"
