"""Re-run today's extraction over archived responses: nothing is fetched.

Every archived HTML response of the selection (a site, captures since a date) is read back from
its WARC record, revisits resolved to the payload they stand for, and put through the same
extraction a crawl runs (``crawler.extraction.extract_article`` with the site's profile rules),
in a process pool. A page is an article when the archive says so, or, for pages the database
does not know (a database rebuilt by ``arsip reindex`` holds captures only), when the crawl's own
rules say so: its URL, ``og:type`` and JSON-LD types. Captures are processed oldest first, so a
page ends up showing the text of its newest capture. On a page the archive holds versions of, a
new version is stored only where the text differs from every version it has; a page with none
(an archive rebuilt by ``arsip reindex``) gets a version wherever its text changed from one
capture to the next, reverts included, as the crawls stored them.

The WARC files are therefore enough to rebuild the archive: ``arsip reindex`` restores the
captures, ``arsip replay reextract`` the articles and their versions.

Site boilerplate (``storage.boilerplate``) is learned again as the crawls learn it: a site
re-extracted whole forgets what it had learned and counts each page once, on its oldest capture;
with ``--since`` it keeps what it knows and counts only pages new to the archive. Texts are
stripped before they are compared and stored, and at the end every stored version of the site
(of the pages re-extracted, with ``--since``) is stripped in place with the lines learned, so an
archive crawled before a line was learned is cleaned without new versions.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import pickle
import re
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from crawler.discovery import looks_like_article, page_kind
from crawler.errors import ArsipError, ExtractionError, ProfileError
from crawler.sites import SiteProfile, default_profile, load_profile, parse_profile
from storage.archive import Archive, StoredText, page_url
from storage.boilerplate import SiteBoilerplate, restrip
from storage.errors import StorageError
from storage.index import CaptureIndex, CaptureRow, site_range
from storage.liveness import this_process
from storage.records import ArticleRecord, BoilerplateConfig
from storage.replay.capture import CaptureUnavailable, payload_source, replay_of
from storage.warcread import decode_content
from storage.warcroots import WarcRoots

HTML_TYPES = ("text/html", "application/xhtml+xml")
COMMIT_EVERY = 200
BATCH = 32  # pages handed to the pool at a time
# outcomes kept for revisits still to come (an article compressed, a few kB): a re-crawl's
# revisits come one crawl after their originals, so this holds a crawl of 20,000 pages; past it
# the oldest is dropped, and a revisit of it has its payload extracted again, so memory stays
# bounded on any archive
OUTCOME_CACHE = 20_000
# the outcome of a capture that is not an HTML page that can be read (not "not an article"),
# and of one whose WARC record or Content-Encoding cannot be read
SKIPPED = "skipped"
UNREADABLE = "unreadable"
_OG_TYPE = re.compile(
    r"""<meta[^>]+property=["']og:type["'][^>]*content=["']([^"']*)|"""
    r"""<meta[^>]+content=["']([^"']*)["'][^>]*property=["']og:type""", re.IGNORECASE)
_LD_TYPE = re.compile(r'"@type"\s*:\s*(?:"([^"]+)"|\[([^\]]*)\])')
_HEAD_BYTES = 200_000


@dataclass
class SiteJob:
    """One site to re-process: its row, profile, and which captures are its. A host no site
    covers has no row until an article of it is stored (``site_id`` None): the hosts that
    serve only stylesheets, fonts and images to the pages do not become sites."""

    site_id: int | None
    name: str
    profile: SiteProfile


@dataclass
class ReextractResult:
    """What a re-extraction found and changed."""

    examined: int = 0  # HTML captures read
    articles: int = 0  # of which articles, extracted
    new_versions: int = 0  # text differed from every stored version
    new_articles: int = 0  # pages that had no article before
    not_articles: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    unreadable: int = 0  # captures whose WARC record could not be read
    extracted: int = 0  # extractions run (a revisit reuses its original's outcome while kept)
    seconds: float = 0.0
    changed_urls: list[str] = field(default_factory=list)
    boilerplate_learned: int = 0  # lines learned, all sites
    boilerplate_stripped: int = 0  # lines stripped from texts extracted now
    boilerplate_restripped: int = 0  # stored versions stripped in place

    @property
    def rate(self) -> float:
        return self.examined / self.seconds if self.seconds else 0.0


def profile_of(name: str, base_url: str, stored: str | None, data_dir: Path) -> SiteProfile:
    """The profile a site was crawled with: the one its row names (a path, a profile name, or
    the TOML text itself), else the general rules for its base URL."""
    if stored:
        try:
            if "\n" in stored or "=" in stored:
                return parse_profile(stored, f"<profile of {name}>")
            return load_profile(stored, (data_dir / "sites",))
        except ProfileError:
            pass  # a profile file that moved: the general rules still read most sites
    return default_profile(base_url, name)


def _sites(archive: Archive, data_dir: Path, site: str | None) -> list[SiteJob]:
    from storage.models import Capture, Site

    sites, captures = Site.__table__, Capture.__table__
    with archive.read() as conn:
        rows = conn.execute(select(sites.c.id, sites.c.name, sites.c.base_url, sites.c.profile)
                            .order_by(sites.c.id)).all()
    if site is not None:
        rows = [row for row in rows if row.name == site]
        if not rows:
            raise ArsipError(f"the archive holds no site called {site!r}")
    jobs = [SiteJob(row.id, row.name, profile_of(row.name, row.base_url, row.profile, data_dir))
            for row in rows]
    if site is None:
        # hosts no site covers (a database rebuilt by reindex has no sites at all): each
        # becomes the site a crawl of it would have made
        covered = [site_range(job.profile.base_url) for job in jobs]
        with archive.read() as conn:
            stmt = (select(captures.c.url)
                    .where(captures.c.status == 200, captures.c.mime.in_(HTML_TYPES))
                    .distinct())
            for start, end in covered:
                stmt = stmt.where(or_(captures.c.urlkey < start, captures.c.urlkey >= end))
            hosts = {}
            for (url,) in conn.execute(stmt):
                try:
                    profile = default_profile(url)
                except ProfileError:
                    continue
                hosts.setdefault(profile.name, profile)
        jobs.extend(SiteJob(None, name, profile) for name, profile in sorted(hosts.items()))
    return jobs


def _captures(archive: Archive, job: SiteJob, since: datetime | None) -> list[CaptureRow]:
    from storage.models import Capture, CrawlRun

    captures, runs = Capture.__table__, CrawlRun.__table__
    index = CaptureIndex(archive.engine)
    start, end = site_range(job.profile.base_url)
    own = (captures.c.urlkey >= start) & (captures.c.urlkey < end)
    if job.site_id is not None:
        own = or_(captures.c.run_id.in_(select(runs.c.id).where(runs.c.site_id == job.site_id)),
                  own)
    stmt = (select(*index.columns)
            .where(own, captures.c.status.in_((200, 304)))
            .order_by(captures.c.fetched_at, captures.c.id))
    if since is not None:
        stmt = stmt.where(captures.c.fetched_at >= since)
    with archive.read() as conn:
        rows = [CaptureRow(*row) for row in conn.execute(stmt)]
    # HTML only; a 304 revisit carries no type of its own and is judged by what it stands for
    return [row for row in rows if row.mime in HTML_TYPES or row.mime is None]


def _known_kinds(archive: Archive) -> dict[str, str]:
    from storage.models import Page

    pages = Page.__table__
    with archive.read() as conn:
        return dict(conn.execute(select(pages.c.url, pages.c.kind)).all())


def _versioned(archive: Archive) -> set[str]:
    from storage.models import Page

    pages = Page.__table__
    with archive.read() as conn:
        return set(conn.execute(select(pages.c.url).where(pages.c.versions > 0)).scalars())


def _ld_types(head: str) -> list[str]:
    types: list[str] = []
    for single, listed in _LD_TYPE.findall(head):
        if single:
            types.append(single)
        else:
            types.extend(t.strip().strip('"') for t in listed.split(","))
    return types


def is_article(html: str, url: str, profile: SiteProfile, known: str | None) -> bool:
    """Whether a page is an article: as the archive recorded it, else by the crawl's rules."""
    if known is not None:
        return known == "article"
    if profile.denies(url):
        return False
    head = html[:_HEAD_BYTES]
    og = _OG_TYPE.search(head)
    og_type = (og.group(1) or og.group(2)) if og else None
    return page_kind(og_type, _ld_types(head), looks_like_article(url, profile)) == "article"


def extract_one(task: tuple[bytes, str | None, str, SiteProfile, str | None]
                ) -> ArticleRecord | str | None:
    """Run in a worker: the article of one archived page, an error text, or None when the
    page is not an article."""
    from crawler.extraction import decode_html, extract_article

    body, charset, url, profile, known = task
    try:
        html = decode_html(body, charset)
        if not is_article(html, url, profile, known):
            return None
        return extract_article(html, url, rules=profile.extraction)
    except ExtractionError as exc:
        return f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # one odd page must not stop the run
        return f"unexpected {type(exc).__name__}: {exc}"


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset=([\w.:-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


def reextract(archive: Archive, warc_dir: Path | WarcRoots, data_dir: Path, *,
              site: str | None = None,
              since: datetime | None = None, workers: int | None = None,
              progress: Callable[[int, int], None] | None = None,
              boilerplate: BoilerplateConfig | None = None) -> ReextractResult:
    """Re-extract the selection (see the module docs); ``progress(done, total)`` is called
    as pages are processed. ``boilerplate`` (default: the crawl's defaults) says when a site's
    boilerplate lines are learned; disabled, texts are stored as extracted."""
    started = time.monotonic()
    result = ReextractResult()
    jobs = _sites(archive, data_dir, site)
    work = [(job, row) for job in jobs for row in _captures(archive, job, since)]
    known = _known_kinds(archive)
    had_article = {url for url, kind in known.items() if kind == "article"}
    # pages whose history the archive holds already: a capture's text that one of their
    # versions has is not stored again (an archive rebuilt from its WARC files has none, and
    # gets every version back in order, reverts included)
    versioned = _versioned(archive)
    index = CaptureIndex(archive.engine)
    # each capture's payload record, resolved once (a revisit's original, one row per record);
    # how many captures read each is how long its outcome is kept
    rows = {row.warc_record_id: row for _, row in work}
    sources = [None if (found := payload_source(index, row)) is None
               else rows.setdefault(found.warc_record_id, found) for _, row in work]
    refs = Counter(source.warc_record_id for source in sources if source is not None)
    learning = _Learning.start(archive, jobs, boilerplate or BoilerplateConfig(),
                               whole=since is None, versioned=versioned)
    total = len(work)
    if progress:
        progress(0, total)

    def tasks() -> Iterator[tuple[tuple[SiteJob, CaptureRow], _Payload | str]]:
        for (job, row), source in zip(work, sources, strict=True):
            try:
                rep = replay_of(warc_dir, row, source)
            except CaptureUnavailable:
                yield (job, row), UNREADABLE
                continue
            if rep.status != 200 or (rep.mime and rep.mime not in HTML_TYPES):
                yield (job, row), SKIPPED
                continue
            yield (job, row), _Payload(rep.source.warc_record_id,
                                       functools.partial(_task, rep, row.url, job.profile, known))

    archive.batch()
    done = 0
    try:
        with _pool(workers) as pool:
            for (job, row), outcome in _ordered(pool, tasks(), refs, result):
                done += 1
                if outcome is UNREADABLE:
                    result.unreadable += 1
                elif outcome is not SKIPPED:
                    result.examined += 1
                    _store(archive, result, job, row, outcome, had_article, versioned,
                           learning)
                if done % COMMIT_EVERY == 0:
                    archive.commit()
                if progress:
                    progress(done, total)
        learning.finish(archive, result)
        archive.commit()
    finally:
        learning.release(archive, "failed")  # a pass that ended early
        archive.commit()
    result.seconds = time.monotonic() - started
    return result


def _task(rep: Any, url: str, profile: SiteProfile, known: dict[str, str]
          ) -> tuple[bytes, str | None, str, SiteProfile, str | None]:
    """What a worker extracts from: the payload without its Content-Encoding (StorageError
    when that cannot be undone), its charset, URL, profile and known kind."""
    body = rep.payload
    for coding in reversed(rep.content_encodings):
        body = decode_content(body, coding)
    return body, _charset(rep.content_type), url, profile, known.get(page_url(url))


class _Learning:
    """Each site's boilerplate during a re-extraction (see the module docs)."""

    def __init__(self, config: BoilerplateConfig, whole: bool, versioned: set[str]) -> None:
        self.config = config
        self.whole = whole
        self.versioned = versioned
        self.states: dict[int, SiteBoilerplate] = {}
        self.counted: set[str] = set()  # pages counted in this pass
        self.touched: dict[int, set[str]] = {}
        self.runs: dict[int, int] = {}  # site -> the run that holds its lock for this pass

    @classmethod
    def start(cls, archive: Archive, jobs: list[SiteJob], config: BoilerplateConfig, *,
              whole: bool, versioned: set[str]) -> _Learning:
        """Load each site's boilerplate under the site's run lock: a crawl's recorder keeps
        the same counts in memory and writes them back, so the two must not run together
        (``SiteBusyError`` while a live crawl holds the site). A host registered during the
        pass had no row for a crawl to hold."""
        learning = cls(config, whole, versioned)
        if not config.enabled:
            return learning
        try:
            for job in jobs:
                if job.site_id is not None:
                    learning.runs[job.site_id] = archive.start_run(job.site_id, "reextract",
                                                                   this_process())
                    learning.state(archive, job.site_id)
        except BaseException:
            learning.release(archive, "interrupted")
            raise
        return learning

    def release(self, archive: Archive, outcome: str) -> None:
        """End this pass's runs (once), giving the sites' locks back."""
        runs, self.runs = self.runs, {}
        for run_id in runs.values():
            archive.finish_run(run_id, outcome, {})

    def state(self, archive: Archive, site_id: int) -> SiteBoilerplate | None:
        """The site's boilerplate, loaded on first use: a site registered during this pass
        (a host that had no row before its first article) learns too."""
        if not self.config.enabled:
            return None
        state = self.states.get(site_id)
        if state is None:
            self.states[site_id] = state = SiteBoilerplate.load(archive, site_id, self.config)
            self.touched[site_id] = set()
            if self.whole:
                state.reset()
        return state

    def preparer(self, archive: Archive, site_id: int, url: str
                 ) -> Callable[[ArticleRecord, StoredText], ArticleRecord] | None:
        """What ``store_article`` strips the page's article with (None: stored as extracted)."""
        state = self.state(archive, site_id)
        if state is None:
            return None
        key = page_url(url)
        first = key not in self.counted and (self.whole or key not in self.versioned)
        self.counted.add(key)
        self.touched[site_id].add(key)
        return functools.partial(state.prepare, first=first)

    def finish(self, archive: Archive, result: ReextractResult) -> None:
        for site_id, state in self.states.items():
            state.flush(archive, final=True)
            if self.whole:
                result.boilerplate_restripped += restrip(archive, state, site_id)
            elif self.touched[site_id]:
                result.boilerplate_restripped += restrip(archive, state, site_id,
                                                         urls=self.touched[site_id])
            result.boilerplate_learned += len(state.learned)
            result.boilerplate_stripped += state.stripped
        self.release(archive, "finished")


def _store(archive: Archive, result: ReextractResult, job: SiteJob, row: CaptureRow,
           outcome: ArticleRecord | str | None, had_article: set[str],
           versioned: set[str], learning: _Learning) -> None:
    if outcome is None:
        result.not_articles += 1
        return
    if isinstance(outcome, str):
        result.errors[outcome.split(":", 1)[0]] += 1
        return
    result.articles += 1
    url = page_url(row.url)
    if job.site_id is None:
        job.site_id = archive.ensure_site(job.name, job.profile.base_url)
    new = archive.store_article(site_id=job.site_id, url=row.url, article=outcome,
                                capture_id=row.id, fetched_at=row.fetched_at,
                                skip_known_text=url in versioned,
                                prepare=learning.preparer(archive, job.site_id, row.url))
    if new:
        if url in had_article:
            result.new_versions += 1
            if len(result.changed_urls) < 1000:
                result.changed_urls.append(row.url)
        else:
            had_article.add(url)
            result.new_articles += 1


class _Now:
    """A finished future: what ``_Serial.submit`` returns."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _Serial:
    """The pool's interface in this process (one worker asked for)."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> _Now:
        return _Now(fn(arg))


def _pool(workers: int | None) -> Any:
    count = workers or os.cpu_count() or 1
    if count <= 1:
        return _Serial()
    return ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"))


@dataclass(frozen=True)
class _Payload:
    """A capture's payload to extract: the WARC record it is read from (a revisit's original),
    and what a worker extracts from it (``_task``, decoded only when it is extracted)."""

    source: str
    task: Callable[[], tuple[bytes, str | None, str, SiteProfile, str | None]]


def _ordered(pool: Any, tasks: Iterator[tuple[Any, _Payload | str]], refs: Counter[str],
             result: ReextractResult, cache: int = OUTCOME_CACHE,
             kept: OrderedDict[str, Any] | None = None) -> Iterator[tuple[Any, Any]]:
    """Each task's outcome, in task order. Batches are submitted one ahead of the one being
    collected, so the pool extracts while this process reads the next WARC records, and only
    two batches of pages are ever held in memory. An outcome (an extraction under way, then
    its result) is kept by payload record while ``refs`` says a later task reads it, the
    ``cache`` most recently read at most: a task whose payload is not kept has it extracted
    (again, if it was dropped)."""
    kept = OrderedDict() if kept is None else kept

    def outcome_of(payload: _Payload) -> Any:
        refs[payload.source] -= 1
        found = kept.pop(payload.source, None)
        if found is None:
            try:
                found = pool.submit(extract_one, payload.task())
                result.extracted += 1
            except StorageError:  # its Content-Encoding cannot be undone
                found = _Now(UNREADABLE)
        if refs[payload.source] > 0:  # read again later: kept, as the most recent
            if len(kept) >= cache:
                kept.popitem(last=False)
            kept[payload.source] = found
        return found

    def submitted(batch: list[tuple[Any, _Payload | str]]) -> list[tuple[Any, Any, Any]]:
        return [(key, what, outcome_of(what) if isinstance(what, _Payload) else _Now(what))
                for key, what in batch]

    def collect(batch: list[tuple[Any, Any, Any]]) -> Iterator[tuple[Any, Any]]:
        for key, what, found in batch:
            outcome = _unpacked(found.result())
            if isinstance(what, _Payload) and kept.get(what.source) is found:
                kept[what.source] = _Now(_packed(outcome))  # kept compressed once it is done
            yield key, outcome

    waiting: list[tuple[Any, Any, Any]] | None = None
    batch: list[tuple[Any, _Payload | str]] = []
    for item in tasks:
        batch.append(item)
        if len(batch) == BATCH:
            current = submitted(batch)
            batch = []
            if waiting is not None:
                yield from collect(waiting)
            waiting = current
    current = submitted(batch)
    if waiting is not None:
        yield from collect(waiting)
    yield from collect(current)


def _packed(outcome: Any) -> Any:
    """An article as kept for later revisits: pickled and compressed (its text is most of it)."""
    if isinstance(outcome, ArticleRecord):
        return ("packed", zlib.compress(pickle.dumps(outcome), 1))
    return outcome


def _unpacked(kept: Any) -> Any:
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == "packed":
        return pickle.loads(zlib.decompress(kept[1]))
    return kept


def summary_lines(result: ReextractResult) -> list[str]:
    lines = [f"Re-extracted {result.examined:,} archived pages in {result.seconds:.1f} s "
             f"({result.rate:.1f} pages/s; {result.extracted:,} payloads extracted).",
             f"  articles: {result.articles:,}; text changed (new versions): "
             f"{result.new_versions:,}; new articles: {result.new_articles:,}; "
             f"not articles: {result.not_articles:,}"]
    if result.errors:
        lines.append("  extraction errors: " + ", ".join(
            f"{kind} {n}" for kind, n in result.errors.most_common()))
    if result.boilerplate_learned:
        lines.append(f"  site boilerplate: {result.boilerplate_learned} lines learned, "
                     f"{result.boilerplate_stripped:,} stripped from the texts extracted, "
                     f"{result.boilerplate_restripped:,} stored versions stripped in place")
    if result.unreadable:
        lines.append(f"  unreadable WARC records: {result.unreadable}")
    for url in result.changed_urls[:10]:
        lines.append(f"  changed: {url}")
    if len(result.changed_urls) > 10:
        lines.append(f"  ... and {len(result.changed_urls) - 10} more")
    return lines


def as_json(result: ReextractResult) -> str:
    return json.dumps({"examined": result.examined, "articles": result.articles,
                       "new_versions": result.new_versions, "new_articles": result.new_articles,
                       "not_articles": result.not_articles, "errors": dict(result.errors),
                       "unreadable": result.unreadable, "extracted": result.extracted,
                       "seconds": round(result.seconds, 3),
                       "pages_per_second": round(result.rate, 1),
                       "boilerplate": {"learned": result.boilerplate_learned,
                                       "stripped": result.boilerplate_stripped,
                                       "restripped": result.boilerplate_restripped},
                       "changed": result.changed_urls})
