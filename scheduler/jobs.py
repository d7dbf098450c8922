"""The daemon's APScheduler jobs: one interval job per scheduled site, built from the database.

The database is the source of truth (DESIGN.md "Scheduler"): the jobs live in memory, are built
from ``sites`` when the daemon starts, and are kept in step with it while it runs (``sync``), so
``arsip sites add``, ``pause``, ``resume`` and ``remove`` from another terminal take effect
without a restart, and a restart loses nothing.

When a job first fires:

- a site never crawled, or whose next run passed while the daemon was down, runs at once: once,
  however many intervals were missed (coalescing);
- otherwise at the next run the database recorded.

Every run gets a random delay of up to ``jitter`` seconds (10% of the interval, at most the
daemon's ``--jitter``), so sites that share an interval do not all start in the same second. The
delay is the daemon's, not APScheduler's: APScheduler's own jitter moves the time it counts the
next run from, so each run's delay would shift every later one (a random walk of half the jitter
per run, ~24 minutes a day for a 30-minute site with a 60 s jitter). Here the jobs fire on the
site's interval grid exactly, and hand each due time with the delay drawn for that run alone:
the due time the daemon records and compares (a crawl that started after it covers it) is the
grid's, and the next run stays on the grid.

APScheduler says when; the daemon's own loop starts the crawls, because it alone owns the
subprocesses (start, cap, stop). A job therefore only hands its site and its scheduled time to
the loop: ``on_due`` is called from APScheduler's thread and must return at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from storage.durations import MAX_DURATION_SECONDS

# A site's runs are delayed by up to this share of its interval (capped by --jitter); `arsip
# status` knows it too, to tell a late run from a daemon that is not running.
from storage.sites import JITTER_SHARE

_PREFIX = "site-"


@dataclass(frozen=True)
class SiteSchedule:
    """What the daemon needs of a ``sites`` row."""

    site_id: int
    name: str
    every: int  # seconds
    enabled: bool
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None

    @property
    def key(self) -> tuple[int, bool]:
        """What, when it changes, changes the job."""
        return self.every, self.enabled


def jitter_for(every: float, max_jitter: float) -> float:
    """Seconds of random delay a site's runs get."""
    return max(0.0, min(max_jitter, every * JITTER_SHARE))


def first_run(site: SiteSchedule, now: datetime) -> datetime:
    """When a site's job fires first (see the module docs): its recorded next run, or now when
    that passed (the delay of its jitter comes on top, as for every run)."""
    if site.next_run_at is not None:
        due = site.next_run_at
    elif site.last_run_at is not None:
        due = site.last_run_at + timedelta(seconds=site.every)
    else:
        due = now
    return max(due, now)


def _tick() -> None:
    """The jobs' function. The work is done by the listener ``Jobs`` installs, because
    APScheduler tells listeners, not jobs, the time a run was scheduled for."""


class Jobs:
    """The APScheduler jobs of the scheduled sites."""

    def __init__(self, on_due: Callable[[int, datetime, float], None], max_jitter: float,
                 rng: random.Random | None = None) -> None:
        self.on_due = on_due
        self.max_jitter = max_jitter
        self.rng = rng or random.Random()
        # no thread pool of its own: a job does nothing but tell the listener below
        self.scheduler = BackgroundScheduler(timezone=UTC, executors={
            "default": {"type": "threadpool", "max_workers": 1}})
        self.scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        self.known: dict[int, SiteSchedule] = {}
        # when each job added or changed by ``sync`` fires first, until the daemon records it
        # (not the job's next time: APScheduler moves that on before it tells of the run due)
        self.first_runs: dict[int, datetime] = {}
        self.rejected: dict[int, tuple[int, bool]] = {}  # site -> the key that failed

    def _submitted(self, event: JobSubmissionEvent) -> None:
        if event.job_id.startswith(_PREFIX):
            site_id = int(event.job_id.removeprefix(_PREFIX))
            site = self.known.get(site_id)
            jitter = jitter_for(site.every, self.max_jitter) if site is not None else 0.0
            # coalesced: APScheduler hands over only the newest of the missed times, a time
            # on the site's grid; this run's own delay goes with it
            self.on_due(site_id, event.scheduled_run_times[-1],
                        self.rng.uniform(0, jitter) if jitter else 0.0)

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def sync(self, sites: Iterable[SiteSchedule], now: datetime | None = None
             ) -> dict[str, list[str]]:
        """Make the jobs match ``sites``: add the new ones, drop the removed and paused ones,
        and reschedule those whose interval changed; what was done, by site name ("failed":
        "name: why" for a row that cannot be scheduled, once until the row changes)."""
        now = now or datetime.now(UTC)
        wanted = {site.site_id: site for site in sites if site.enabled and site.every > 0}
        done: dict[str, list[str]] = {"added": [], "removed": [], "changed": [], "failed": []}
        for site_id in list(self.known):
            if site_id not in wanted:
                gone = self.known.pop(site_id)
                self.first_runs.pop(site_id, None)
                self.scheduler.remove_job(_PREFIX + str(site_id))
                done["removed"].append(gone.name)
        for site_id in list(self.rejected):
            if site_id not in wanted:
                del self.rejected[site_id]
        for site_id, site in wanted.items():
            old = self.known.get(site_id)
            if old is not None and old.key == site.key:
                continue
            if self.rejected.get(site_id) == site.key:
                continue  # said once; the row is tried again when it changes
            try:
                start = self._schedule(site, old, now)
            except (OverflowError, ValueError) as exc:
                # one bad row (written before durations were capped, or by hand) must not
                # stop the daemon, and with it every other site: that site alone is skipped
                if old is not None:
                    self.scheduler.remove_job(_PREFIX + str(site_id))
                    del self.known[site_id]
                    self.first_runs.pop(site_id, None)
                self.rejected[site_id] = site.key
                done["failed"].append(f"{site.name}: {exc}")
                continue
            self.rejected.pop(site_id, None)
            self.known[site_id] = site
            self.first_runs[site_id] = start
            done["changed" if old is not None else "added"].append(site.name)
        return done

    def wake(self) -> None:
        """Have APScheduler look at the wall clock now (and fire what is due by it)."""
        if self.scheduler.running:
            self.scheduler.wakeup()

    def move(self, site_id: int, when: datetime) -> None:
        """Fire the site's job next at ``when`` (its interval counts on from there)."""
        job = self.scheduler.get_job(_PREFIX + str(site_id))
        if job is not None and job.next_run_time != when:
            job.modify(next_run_time=when)

    def _schedule(self, site: SiteSchedule, old: SiteSchedule | None, now: datetime
                  ) -> datetime:
        """Add or replace ``site``'s job; when it fires first. ``ValueError``/``OverflowError``
        for a bad row."""
        if site.every > MAX_DURATION_SECONDS:
            raise ValueError(f"its interval ({site.every} s) is longer than 366d")
        # no APScheduler jitter: it would move the grid (see the module docs)
        trigger = IntervalTrigger(seconds=site.every, timezone=UTC)
        if old is None:
            start = first_run(site, now)
        else:
            # a new interval counts from the last run, and a run it makes overdue is now
            last = site.last_run_at or now
            start = max(last + timedelta(seconds=site.every), now)
        self.scheduler.add_job(
            _tick, trigger, id=_PREFIX + str(site.site_id), name=site.name,
            next_run_time=start, coalesce=True, max_instances=1, misfire_grace_time=None,
            replace_existing=True)
        return start

    def next_runs(self) -> dict[int, datetime]:
        """When each site's job fires next."""
        out = {}
        for job in self.scheduler.get_jobs():
            if job.id.startswith(_PREFIX) and job.next_run_time is not None:
                out[int(job.id.removeprefix(_PREFIX))] = job.next_run_time
        return out
