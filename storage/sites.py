"""The site registry: one identity per site, shared by one-off crawls, the daemon and replay.

A site is a row of ``sites``: a unique name, a base URL, how to crawl it (a profile, stored as a
bundled profile's name or as the TOML text itself, never a path), and for the daemon a schedule
and whether it is paused. A URL belongs to the registered site whose base URL has the same host,
with or without ``www.``, either scheme, and a path its path starts with (the longest wins), so
``arsip crawl https://www.kudakyv.com/`` and a daemon run of site ``kudakyv`` share one site:
its validators, versions and schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from storage.durations import format_duration
from storage.errors import StorageError
from storage.models import Page, Site
from storage.urls import host_key, site_name_for

if TYPE_CHECKING:
    from storage.archive import Archive

_sites = Site.__table__
_pages = Page.__table__

# The daemon delays each run by a random share of up to this much of the site's interval (its
# jitter; scheduler.jobs), never more.
JITTER_SHARE = 0.1
# A next run past by more than its jitter and this is overdue: no daemon is running it.
OVERDUE_GRACE = timedelta(minutes=1)


class SiteNotFoundError(StorageError):
    """No registered site has this name (or id)."""


class SiteExistsError(StorageError):
    """A site with this name, or for this URL, is registered already."""


class SiteRunningError(StorageError):
    """The site has a crawl running, and the change has to wait for it."""


@dataclass(frozen=True)
class SiteRow:
    """One registered site, as the CLI and the daemon see it."""

    id: int
    name: str
    base_url: str
    profile: str | None
    schedule_seconds: int | None
    enabled: bool
    created_at: datetime
    last_run_at: datetime | None
    next_run_at: datetime | None
    max_pages: int | None

    @property
    def scheduled(self) -> bool:
        """Whether the daemon crawls it (registered with a schedule, and not paused)."""
        return self.enabled and bool(self.schedule_seconds)

    def overdue_since(self, now: datetime | None = None) -> datetime | None:
        """Its next run, when that passed longer ago than the daemon ever delays a run (the
        jitter) plus ``OVERDUE_GRACE``: then no daemon is running, or none can reach the
        database. None for a site the daemon does not crawl."""
        if not self.scheduled or self.next_run_at is None:
            return None
        late = timedelta(seconds=(self.schedule_seconds or 0) * JITTER_SHARE) + OVERDUE_GRACE
        when = _aware(self.next_run_at)
        return when if (now or datetime.now(UTC)) - when > late else None

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "base_url": self.base_url,
            "profile": self.profile, "every": format_duration(self.schedule_seconds),
            "schedule_seconds": self.schedule_seconds, "enabled": self.enabled,
            "max_pages": self.max_pages, "created_at": _iso(self.created_at),
            "last_run_at": _iso(self.last_run_at), "next_run_at": _iso(self.next_run_at),
            "overdue_since": _iso(self.overdue_since(now)),
        }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _row(mapping: Any) -> SiteRow:
    return SiteRow(**{field: mapping[field] for field in SiteRow.__dataclass_fields__})


# --- matching URLs to sites ---------------------------------------------------------------------

def match_site(sites: list[SiteRow], url: str) -> SiteRow | None:
    """The site ``url`` belongs to: same host (``www.`` or not, either scheme), and the longest
    base path that the URL's path starts with."""
    key = host_key(url)
    if key is None:
        return None
    best: tuple[int, SiteRow] | None = None
    for site in sites:
        base = host_key(site.base_url)
        if base is None or base[:2] != key[:2]:
            continue
        prefix = base[2] if base[2].endswith("/") else base[2] + "/"
        if not (key[2] == base[2] or key[2].startswith(prefix) or base[2] == "/"):
            continue
        if best is None or len(base[2]) > best[0]:
            best = (len(base[2]), site)
    return best[1] if best else None


# --- reading ------------------------------------------------------------------------------------

def list_sites(archive: Archive) -> list[SiteRow]:
    with archive.read() as conn:
        rows = conn.execute(select(_sites).order_by(_sites.c.name)).mappings().all()
    return [_row(row) for row in rows]


def _lookup(archive: Archive, column: Any, value: object) -> SiteRow | None:
    """The site whose ``column`` is ``value`` (its id or its name), or None."""
    with archive.read() as conn:
        row = conn.execute(select(_sites).where(column == value)).mappings().first()
    return _row(row) if row is not None else None


def _load(archive: Archive, site_id: int) -> SiteRow:
    """The site with this id; ``SiteNotFoundError`` when there is none (removed meanwhile)."""
    site = _lookup(archive, _sites.c.id, site_id)
    if site is None:
        raise SiteNotFoundError(f"no registered site with id {site_id} (was it removed? "
                                "arsip sites list)")
    return site


def get_site(archive: Archive, name: str) -> SiteRow:
    """The site called ``name`` (or with that id); ``SiteNotFoundError`` with the names known."""
    site = _lookup(archive, _sites.c.name, name)
    if site is None and name.isdigit():
        site = _lookup(archive, _sites.c.id, int(name))
    if site is None:
        known = [other.name for other in list_sites(archive)]
        hint = f"; registered: {', '.join(known[:10])}" if known else \
            "; none is registered yet (arsip sites add URL)"
        raise SiteNotFoundError(f"no site named {name!r}{hint}")
    return site


def find_site(archive: Archive, url: str) -> SiteRow | None:
    """The registered site ``url`` belongs to (see ``match_site``), or None."""
    return match_site(list_sites(archive), url)


# --- writing ------------------------------------------------------------------------------------

def add_site(archive: Archive, *, base_url: str, name: str | None = None,
             profile: str | None = None, schedule_seconds: int | None = None,
             max_pages: int | None = None) -> tuple[SiteRow, bool]:
    """Register a site for the daemon; ``(site, adopted)``.

    A site one-off crawls already put in the archive (same host, no schedule), or one taken off
    the schedule, is adopted rather than duplicated: it keeps its name (unless ``name`` is
    given), pages, versions and validators, and gets the schedule. A site
    already scheduled, or a name already taken, is a ``SiteExistsError``.
    """
    existing = find_site(archive, base_url)
    # a site taken over keeps its name (the one its archive is known by) unless given another
    name = name or (existing.name if existing is not None else site_name_for(base_url))
    if existing is not None and existing.schedule_seconds:
        raise SiteExistsError(f"{base_url} is registered already, as site {existing.name!r} "
                              f"(arsip sites show {existing.name})")
    values = {"name": name, "base_url": base_url, "profile": profile,
              "schedule_seconds": schedule_seconds, "max_pages": max_pages, "enabled": True}
    try:
        with archive.write() as conn:
            if existing is not None:
                # the profile its crawls used so far stays, unless another one is given
                values["profile"] = profile if profile is not None else existing.profile
                conn.execute(update(_sites).where(_sites.c.id == existing.id).values(**values))
                site_id = existing.id
            else:
                site_id = conn.execute(
                    _sites.insert().values(**values, created_at=datetime.now(UTC))
                    .returning(_sites.c.id)).scalar_one()
    except StorageError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            raise SiteExistsError(f"a site named {name!r} exists already "
                                  f"(arsip sites show {name}); choose another --name") from None
        raise
    return _load(archive, site_id), existing is not None


def set_enabled(archive: Archive, name: str, enabled: bool) -> SiteRow:
    """Pause or resume the daemon's runs of a site."""
    site = get_site(archive, name)
    with archive.write() as conn:
        conn.execute(update(_sites).where(_sites.c.id == site.id).values(enabled=enabled))
    return _load(archive, site.id)


def set_next_run(archive: Archive, site_id: int, when: datetime | None) -> None:
    """Record when the daemon runs the site next (a restart catches up from it)."""
    with archive.write() as conn:
        conn.execute(update(_sites).where(_sites.c.id == site_id).values(next_run_at=when))


def claim_run(archive: Archive, site_id: int, due: datetime, then: datetime
              ) -> datetime | None:
    """Take the site's run due at ``due`` for this daemon, recording ``then`` as its next run;
    None when taken, else the next run another daemon recorded when it took this one;
    ``SiteNotFoundError`` for a site removed meanwhile.

    Two daemons on one database fire at the same times (they schedule from the same
    ``next_run_at``); the first to move ``next_run_at`` past ``due`` runs it, in one atomic
    update, and the other sees it moved and leaves the run alone (the database's run lock alone
    would let the second crawl the site again the moment the first's crawl ends).
    """
    with archive.write() as conn:
        moved = conn.execute(
            update(_sites).where(_sites.c.id == site_id,
                                 _sites.c.next_run_at.is_(None) | (_sites.c.next_run_at <= due))
            .values(next_run_at=then)).rowcount
        if moved:
            return None
        now = conn.execute(select(_sites.c.next_run_at).where(_sites.c.id == site_id)).first()
    if now is None:
        raise SiteNotFoundError(f"site {site_id} is no longer registered")
    return now[0] if now[0] is not None else due


_KEEP: Any = object()  # ``update_site``: leave this field as it is


def update_site(archive: Archive, name: str, *, schedule_seconds: int | None = _KEEP,
                profile: str | None = _KEEP, max_pages: int | None = _KEEP) -> SiteRow:
    """Change how a registered site is crawled: its interval, its stored profile (a bundled
    name or TOML text; None for the general rules), its page cap (None: no cap). A running
    daemon picks the change up when it next reads ``sites``: a new interval reschedules the
    site, the profile and cap apply from its next crawl."""
    site = get_site(archive, name)
    values = {key: value for key, value in (("schedule_seconds", schedule_seconds),
                                            ("profile", profile), ("max_pages", max_pages))
              if value is not _KEEP}
    if values.get("schedule_seconds") is not None and site.next_run_at is not None:
        # the next run counts from the last one at the new interval (the daemon does the same)
        values["next_run_at"] = None
    if values:
        with archive.write() as conn:
            conn.execute(update(_sites).where(_sites.c.id == site.id).values(**values))
    return _load(archive, site.id)


@dataclass(frozen=True)
class Removed:
    """What ``remove_site`` did, and what the archive keeps of the site."""

    site: SiteRow
    deleted: bool  # the row went too: nothing had been archived under it
    pages: int
    versions: int
    captures: int
    runs: int


def remove_site(archive: Archive, name: str) -> Removed:
    """Take a site off the daemon's schedule, keeping its history.

    A site anything was archived under (pages, runs) stays in the archive as an unscheduled
    site, with its name, pages, versions, captures and runs, as one-off crawls leave a site:
    search, replay and export still know it by name, and ``sites add`` takes it up again. A
    site with nothing archived (registered, never crawled) is deleted. A site with a crawl
    running is a ``SiteRunningError``.
    """
    from storage.models import ArticleVersion, Capture, CrawlRun

    site = get_site(archive, name)
    holder = archive.running_run(site.id)
    if holder is not None and holder.alive:
        raise SiteRunningError(f"site {site.name!r} is being crawled by run {holder.id} (pid "
                               f"{holder.pid} on {holder.host}); remove it when that run ends "
                               "(arsip sites pause stops new ones)")
    runs, captures = CrawlRun.__table__, Capture.__table__
    versions = ArticleVersion.__table__

    def count(conn: Any, stmt: Any) -> int:
        return int(conn.execute(stmt).scalar_one())

    with archive.write() as conn:
        pages = count(conn, select(func.count()).select_from(_pages)
                      .where(_pages.c.site_id == site.id))
        n_versions = count(conn, select(func.count()).select_from(versions)
                           .join(_pages, _pages.c.id == versions.c.page_id)
                           .where(_pages.c.site_id == site.id))
        n_runs = count(conn, select(func.count()).select_from(runs)
                       .where(runs.c.site_id == site.id))
        n_captures = count(conn, select(func.count()).select_from(captures)
                           .join(runs, runs.c.id == captures.c.run_id)
                           .where(runs.c.site_id == site.id))
        deleted = not pages and not n_runs
        if deleted:
            conn.execute(delete(_sites).where(_sites.c.id == site.id))
        else:
            conn.execute(update(_sites).where(_sites.c.id == site.id)
                         .values(schedule_seconds=None, next_run_at=None, enabled=True))
    return Removed(site, deleted, pages, n_versions, n_captures, n_runs)


def registered_site(archive: Archive, *, site_id: int | None, name: str | None
                    ) -> SiteRow | None:
    """The registered site a crawl named: by id (``SiteNotFoundError`` when there is none), or
    by exact name (None when no site has it: the name may be a profile's)."""
    if site_id is not None:
        return _load(archive, site_id)
    return _lookup(archive, _sites.c.name, name) if name else None


def resolve_for_crawl(archive: Archive, *, name: str | None, url: str | None,
                      profile: str | None) -> SiteRow:
    """The site a crawl records into, registering it on its first crawl.

    The site called ``name`` if there is one; else the registered site ``url`` belongs to;
    else a new, unscheduled site named ``name`` (or after the URL's host) with this profile.
    A crawl never changes a registered site's profile or schedule: ``arsip sites`` does.
    """
    if name:
        try:
            return get_site(archive, name)
        except SiteNotFoundError:
            pass
    found = find_site(archive, url) if url else None
    if found is not None:
        return found
    if url is None:
        raise SiteNotFoundError(f"no site profile named {name!r}, and no registered site of "
                                "that name either (arsip sites list)")
    return _load(archive, archive.ensure_site(name or site_name_for(url), _base_of(url), profile))


def _base_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"
