"""How each site is doing: its last run, its next one, the pages due, and extraction health.

Extraction health is the share of a run's article pages read with empty text, no date, no
title, or a promo label left in the text, counted by the crawl into the run's figures
(``arsip/health/*``). Compared with the site's usual share (the median of its earlier runs) a
jump means the site changed its layout and extraction no longer fits it: ``arsip status`` says
so in words, and the daemon logs a warning after the run.

A run that read few articles says little, and a site crawled every half hour often reads only
a handful of new ones per run. So runs are pooled, newest first, into windows of at least
``MIN_READ`` articles: the newest window is "now" (the last run and as many before it as that
takes), and each earlier window is one sample of the usual share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from storage.models import CrawlRun, Page, Site
from storage.protocol import JOB_STAT
from storage.sites import SiteRow, list_sites

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from storage.archive import Archive

_runs = CrawlRun.__table__
_pages = Page.__table__
_sites = Site.__table__

# stats key of the article pages a run read, and of each problem, with the words for it
READ = "arsip/health/read"
PROBLEMS = {
    "empty_text": ("arsip/health/empty_text", "had no text"),
    "no_date": ("arsip/health/no_date", "had no date"),
    "no_title": ("arsip/health/no_title", "had no title"),
    "promo_left": ("arsip/health/promo_left", "kept a promo line in the text"),
}
# Runs are pooled until they read this many articles; the usual share is the median of this
# many earlier pools.
MIN_READ = 5
USUAL_RUNS = 10
# A share this much above the usual one (in points of 100) is a jump.
JUMP = 0.25
# enough runs to fill the windows when most runs read a few articles; a site whose runs read
# fewer is compared against fewer windows
_RECENT = (1 + USUAL_RUNS) * MIN_READ


def shares(stats: dict[str, Any] | None) -> tuple[int, dict[str, float]] | None:
    """(articles read, share of each problem) of one run, None when it read none."""
    stats = stats or {}
    read = int(stats.get(READ, 0) or 0)
    if read <= 0:
        return None
    return read, {name: min(1.0, int(stats.get(key, 0) or 0) / read)
                  for name, (key, _) in PROBLEMS.items()}


def _errors(stats: dict[str, Any]) -> dict[str, int]:
    http = sum(int(v) for k, v in stats.items()
               if k.startswith("downloader/response_status_count/")
               and k.rsplit("/", 1)[1].isdigit() and int(k.rsplit("/", 1)[1]) >= 400)
    return {"fetch": int(stats.get("arsip/fetch_errors", 0) or 0), "http": http,
            "extraction": int(stats.get("arsip/extraction_errors", 0) or 0)}


def run_figures(run: dict[str, Any]) -> dict[str, Any]:
    """What a user wants to know of one run."""
    stats = run.get("stats") or {}
    return {
        "id": run["id"], "trigger": run["trigger"], "outcome": run["outcome"],
        "started_at": _iso(run["started_at"]), "finished_at": _iso(run["finished_at"]),
        "pages": int(stats.get("response_received_count", 0) or 0),
        "articles": int(stats.get(READ, stats.get("arsip/articles_extracted", 0)) or 0),
        "versions": int(stats.get("arsip/articles_stored", 0) or 0),
        "not_modified": int(stats.get("arsip/not_modified", 0) or 0),
        "errors": _errors(stats),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class _Window:
    """Consecutive runs pooled until they read at least ``MIN_READ`` articles."""

    run_ids: list[int] = field(default_factory=list)
    read: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROBLEMS, 0))

    def add(self, run: dict[str, Any], read: int) -> None:
        stats = run.get("stats") or {}
        self.run_ids.append(run["id"])
        self.read += read
        for name, (key, _) in PROBLEMS.items():
            self.counts[name] += int(stats.get(key, 0) or 0)

    def shares(self) -> dict[str, float]:
        return {name: min(1.0, count / self.read) for name, count in self.counts.items()}

    def named(self) -> str:
        first, last = self.run_ids[-1], self.run_ids[0]
        return f"run {last}" if first == last else f"runs {first}-{last}"


def _windows(runs: list[dict[str, Any]]) -> list[_Window]:
    """The runs that read articles, newest first, pooled into windows; the oldest one may
    fall short of ``MIN_READ`` (only the newest is kept then: it is all there is)."""
    windows: list[_Window] = []
    current = _Window()
    for run in runs:
        found = shares(run.get("stats"))
        if found is None:
            continue
        current.add(run, found[0])
        if current.read >= MIN_READ:
            windows.append(current)
            current = _Window()
    if current.read and not windows:
        windows.append(current)
    return windows[:1 + USUAL_RUNS]


def extraction_health(runs: list[dict[str, Any]], site: str) -> dict[str, Any] | None:
    """Shares of the newest window of runs against the usual ones, and warnings.

    ``runs`` are the site's finished runs, newest first.
    """
    windows = _windows(runs)
    if not windows:
        return None
    now, earlier = windows[0], windows[1:]
    now_shares = now.shares()
    usual_shares = [window.shares() for window in earlier]
    usual = ({name: median(s[name] for s in usual_shares) for name in PROBLEMS}
             if usual_shares else None)
    warnings = []
    if usual is not None and now.read >= MIN_READ:
        for name, (_, words) in PROBLEMS.items():
            if now_shares[name] - usual[name] >= JUMP:
                warnings.append(
                    f"{site}: {now.counts[name]} of the {now.read} articles read in "
                    f"{now.named()} {words} ({now_shares[name]:.0%}; usually "
                    f"{usual[name]:.0%}). The site may have changed its layout: check a page "
                    "with `arsip extract`, and its profile.")
    return {"run": now.run_ids[0], "runs": now.run_ids, "read": now.read, "shares": now_shares,
            "usual": usual, "compared_runs": len(usual_shares), "warnings": warnings}


def _recent_runs(conn: Connection, site_id: int, limit: int = _RECENT) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(_runs).where(_runs.c.site_id == site_id)
        .order_by(_runs.c.started_at.desc(), _runs.c.id.desc()).limit(limit)
    ).mappings().all()
    return [dict(row) for row in rows]


def _page_counts(conn: Connection, site_id: int, now: datetime) -> dict[str, int]:
    kinds = dict(conn.execute(
        select(_pages.c.kind, func.count()).where(_pages.c.site_id == site_id)
        .group_by(_pages.c.kind)).all())
    due = conn.execute(
        select(func.count()).select_from(_pages)
        .where(_pages.c.site_id == site_id, _pages.c.kind == "article",
               _pages.c.next_due <= now)).scalar_one()
    return {"articles": int(kinds.get("article", 0)), "hubs": int(kinds.get("hub", 0)),
            "due": int(due)}


def site_report(archive: Archive, site: SiteRow, now: datetime | None = None,
                runs: int = 5) -> dict[str, Any]:
    """One site: registry fields, pages, pages due, recent runs and extraction health."""
    now = now or datetime.now(UTC)
    with archive.read() as conn:
        recent = _recent_runs(conn, site.id)
        pages = _page_counts(conn, site.id, now)
    finished = [run for run in recent if run["outcome"] != "running"]
    report = site.as_dict(now)
    if recent and recent[0]["outcome"] == "running":
        report["overdue_since"] = None  # a crawl of it is running: it is late, not forgotten
    return {
        **report,
        "pages": pages,
        "runs": [run_figures(run) for run in recent[:runs]],
        "health": extraction_health(finished, site.name),
    }


def sites_health(archive: Archive, now: datetime | None = None) -> list[dict[str, Any]]:
    """``site_report`` of every site, for ``arsip status``."""
    return [site_report(archive, site, now, runs=1) for site in list_sites(archive)]


def health_warnings(archive: Archive, site_id: int, run_id: int) -> list[str]:
    """The extraction-health warnings run ``run_id`` of a site gives (for the daemon's log):
    none when it read no articles."""
    with archive.read() as conn:
        recent = _recent_runs(conn, site_id)
        name = conn.execute(select(_sites.c.name).where(_sites.c.id == site_id)).scalar_one()
    health = extraction_health([r for r in recent if r["outcome"] != "running"], name)
    return health["warnings"] if health and health["run"] == run_id else []


def find_run(archive: Archive, site_id: int, since: datetime, pid: int | None = None,
             job: str | None = None) -> dict[str, Any] | None:
    """The run a crawl process started: the site's newest run begun after ``since`` by that
    process (``pid``, as the run records its owner). ``job``: a crawl node's job, whose run
    carries the job's id in its figures (``JOB_STAT``); a run that names another job is not
    its run (one without a job id is, as an older crawl on a node writes none)."""
    # the run starts after the process does, on the same clock (a second of slack for rounding)
    stmt = (select(_runs).where(_runs.c.site_id == site_id,
                                _runs.c.started_at >= since - timedelta(seconds=1))
            .order_by(_runs.c.started_at.desc(), _runs.c.id.desc()).limit(20))
    if pid is not None:
        stmt = stmt.where(_runs.c.pid == pid)
    with archive.read() as conn:
        rows = conn.execute(stmt).mappings().all()
    for row in rows:
        named = (row["stats"] or {}).get(JOB_STAT)
        if job is None or named in (job, None):
            return dict(row)
    return None


def last_daemon_runs(archive: Archive, site_id: int | None = None
                     ) -> dict[int, tuple[int, str]]:
    """Id and outcome of each site's newest run (of one site, or all), for the sites whose
    newest run the daemon started."""
    newest = select(_runs.c.site_id, func.max(_runs.c.id).label("id")).group_by(_runs.c.site_id)
    if site_id is not None:
        newest = newest.where(_runs.c.site_id == site_id)
    last = newest.subquery()
    stmt = (select(_runs.c.site_id, _runs.c.id, _runs.c.outcome)
            .join(last, last.c.id == _runs.c.id).where(_runs.c.trigger == "daemon"))
    with archive.read() as conn:
        return {row.site_id: (row.id, row.outcome) for row in conn.execute(stmt)}
