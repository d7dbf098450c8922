"""How each site is doing: its last run, its next one, the pages due, and extraction health.

Extraction health is the share of a run's article pages read with empty text, no date, no
title, or a promo label left in the text, counted by the crawl into the run's figures
(``arsip/health/*``). Compared with the site's usual share (the median of its earlier runs) a
jump means the site changed its layout and extraction no longer fits it: ``arsip status`` says
so in words, and the daemon logs a warning after the run.
"""

from __future__ import annotations

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
# A run that read fewer articles says little; the usual share is over this many earlier runs.
MIN_READ = 5
USUAL_RUNS = 10
# A share this much above the usual one (in points of 100) is a jump.
JUMP = 0.25
_RECENT = 1 + USUAL_RUNS * 3  # enough runs to find USUAL_RUNS that read articles


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


def extraction_health(runs: list[dict[str, Any]], site: str) -> dict[str, Any] | None:
    """Shares of the newest run that read articles against the usual ones, and warnings.

    ``runs`` are the site's finished runs, newest first.
    """
    measured = [(run, found) for run in runs if (found := shares(run.get("stats")))]
    if not measured:
        return None
    (last, (read, now_shares)), earlier = measured[0], measured[1:]
    usual_runs = [found[1] for _, found in earlier if found[0] >= MIN_READ][:USUAL_RUNS]
    usual = ({name: median(s[name] for s in usual_runs) for name in PROBLEMS}
             if usual_runs else None)
    warnings = []
    if usual is not None and read >= MIN_READ:
        for name, (key, words) in PROBLEMS.items():
            if now_shares[name] - usual[name] >= JUMP:
                count = int((last.get("stats") or {}).get(key, 0) or 0)
                warnings.append(
                    f"{site}: {count} of the {read} articles read in run {last['id']} {words} "
                    f"({now_shares[name]:.0%}; usually {usual[name]:.0%}). The site may have "
                    "changed its layout: check a page with `arsip extract`, and its profile.")
    return {"run": last["id"], "read": read, "shares": now_shares, "usual": usual,
            "compared_runs": len(usual_runs), "warnings": warnings}


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
    return {
        **site.as_dict(),
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


def last_daemon_runs(archive: Archive) -> dict[int, str]:
    """Outcome of each site's newest run, for the sites whose newest run the daemon started."""
    newest = (select(_runs.c.site_id, func.max(_runs.c.id).label("id"))
              .group_by(_runs.c.site_id).subquery())
    stmt = (select(_runs.c.site_id, _runs.c.outcome)
            .join(newest, newest.c.id == _runs.c.id).where(_runs.c.trigger == "daemon"))
    with archive.read() as conn:
        return {row.site_id: row.outcome for row in conn.execute(stmt)}
