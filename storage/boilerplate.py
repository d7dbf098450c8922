"""Site boilerplate: the lines a site prints in every article, learned from the crawl.

Menus, footers, newsletter and app boxes, "Simak breaking news ... di ponselmu" and "Dapatkan
update berita pilihan setiap hari di Google News" sit inside the article body of every page of a
site. One page cannot tell them from the article; many pages of one site can. ``SiteBoilerplate``
counts, per site, on how many articles each line appears, and strips the lines that appear on a
large share of them.

The rules:

- **What is a line**: a line of the extracted text (a paragraph, a heading, a list item). Lines
  are compared normalised: Unicode NFKC, case folded, whitespace collapsed, and in lines of up
  to 40 characters every run of digits read as one ("Like (12)" and "Like (0)", "© 2024" and
  "© 2025" are one line); a longer line with numbers is data and compared exactly.
- **Whole lines only.** A line is stripped only when all of it matches a learned line; a line
  that merely starts like one stays. A dateline that opens every article ("KOMPAS.com - Presiden
  ...") is part of a different line on every page, so it is never learned. A line ending in a
  dash is a dateline running into the next line ("JAKARTA, KOMPAS.com -"): never counted, never
  stripped. Nor is a text ever stripped to nothing: an article made only of learned lines keeps
  them.
- **Counted once per article**, from the lines as extracted (before stripping), on the article's
  first stored text: a page fetched again does not count again.
- **Judged** once the site has ``min_pages`` articles counted: a line is learned when it appears
  on at least ``share`` of the site's recent articles (and on 3 of them at least; a paragraph
  longer than ``LONG_LINE`` on at least ``LONG_SHARE``: the background paragraph repeated
  across one story's articles stays). "Recent" is an exponentially weighted window of about
  ``WINDOW`` articles, so a redesign's new footer is learned and the old one fades out; a
  learned line stops being stripped only below ``KEEP_SHARE``, so a line near the threshold
  does not flip back and forth. Such a line is **retired**, not forgotten: its row stays
  however far its count fades (see "No spurious versions").
- **The first articles of a site** are stored before anything can be judged. When the site
  reaches ``min_pages`` its stored texts are stripped in place, with no new version: the texts
  are derived data (the WARC keeps every response as received) and the first articles should
  read like the rest. After that every text is stripped before it is stored. A line learned
  later (a new footer) is stripped from new texts, and at the end of the run from the texts the
  same run stored before (``storage.recorder``). Versions stored by earlier runs keep it until
  ``arsip replay reextract`` re-strips them, by design: a run rewrites only what it stored
  itself, so a crawl never pays for a pass over the whole site's history (nor holds the
  database for it) because one footer was learned; the re-extraction that rewrites every
  version is the user's to start. Such a page fetched again is no new version (below), so the
  difference never spreads: it stays in the old versions until re-extraction.
- **No spurious versions**: a re-fetched page whose text differs from its current version only
  by learned or retired lines is not a new version, whichever way round: lines learned since
  that version was stored (the old version has them), or lines retired since it was stripped
  of them (the page still has a footer the site has stopped using elsewhere). That is why
  retired lines are kept. The comparison is by line key, so a short retired template line
  (digits read as 0, e.g. "Harga emas: Rp 1.234.000/gram") edited in an old article makes no
  new version either: accepted, such lines were the site's boilerplate.

The recorder (``storage.recorder``) owns the database during a crawl, so it does the learning and
stripping: extraction workers send raw text, and the recorder strips it before storing.
``crawler.reextract`` does the same, learning afresh from every archived article of a site.
While a crawl runs, the recorder writes the learned lines (and those just retired) with each
commit, so a killed crawl keeps what it learned; every other count is written at the end of the
run: lines seen on two articles or more, and lines seen once while still recent (the last
``SINGLETON_PAGES`` articles). Faded lines are deleted then, except retired ones.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import delete, select, update

from storage.archive import Archive, StoredText, content_hash
from storage.models import ArticleVersion, BoilerplateLine, BoilerplateSite, Page
from storage.records import ArticleRecord, BoilerplateConfig

# The window of recent articles a line's share is measured over (the decay's time constant).
WINDOW = 1000
# A learned line is retired (no longer stripped, but kept) only when its share falls below this.
KEEP_SHARE = 0.1
# A line is learned only once it was seen on this many articles, whatever its share.
MIN_REPEATS = 3
# Lines kept in memory per site; past it, the oldest lines seen only once are forgotten.
MAX_LINES = 100_000
# A line seen on one article is kept (and written at the end of a run) for this many articles.
SINGLETON_PAGES = 200
# A line whose decayed count falls below this is forgotten.
FORGET_WEIGHT = 0.5
# Lines up to this long have their digits ignored ("Like (12)", "© 2025"); longer lines with
# numbers are data ("Harga emas hari ini Rp 1.234.000 per gram") and compared exactly.
SHORT_LINE = 40
# A line this long is a paragraph: learned only at this share at least (a background paragraph
# repeated across the articles of one story is not the site's boilerplate).
LONG_LINE = 120
LONG_SHARE = 0.5

_DIGITS = re.compile(r"\d+")
_LEAD_IN = ("-", "–", "—")  # a line ending in one is a dateline running into the next line


def line_key(line: str) -> str:
    """A line as it is compared: NFKC, case folded, whitespace collapsed, and in a short line
    every run of digits as 0."""
    # The recorder runs this on every line of every article, so the cheap paths matter. Digits
    # vary in short template lines (counters, years); a long line is prose, and a digit
    # substitution on it costs more than the rest of the key.
    text = line.casefold() if line.isascii() else unicodedata.normalize("NFKC", line).casefold()
    if len(text) <= SHORT_LINE:
        text = _DIGITS.sub("0", text)
    return " ".join(text.split())


def _digest(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()


def _keys(lines: list[str]) -> list[str | None]:
    """Each line's key; None for a line that is never counted nor stripped (blank, or a
    dateline running into the next line)."""
    keys: list[str | None] = []
    for line in lines:
        bare = line.rstrip()
        keys.append(line_key(bare) if bare and not bare.endswith(_LEAD_IN) else None)
    return keys


@dataclass(slots=True)
class _Line:
    text: str  # as first seen
    weight: float  # articles it was on, decayed to article number ``at``
    at: int
    pages: int  # articles it was on, all told
    learned: bool = False
    retired: bool = False  # learned once, faded since: kept, not stripped from new texts
    stored: bool = False  # has a row


@dataclass(frozen=True)
class LearnedLine:
    """A line of a site's boilerplate, for reports."""

    text: str
    pages: int  # articles it was seen on
    share: float  # of the site's recent articles
    learned: bool


class SiteBoilerplate:
    """One site's line counts and learned lines; built by ``load``, used from one thread."""

    def __init__(self, site_id: int, config: BoilerplateConfig) -> None:
        self.site_id = site_id
        self.config = config
        self.pages = 0  # articles counted
        self.lines: dict[str, _Line] = {}
        self.learned: set[str] = set()
        self.stripped = 0  # lines stripped by this object (a run's figure)
        self._decay = 1.0 - 1.0 / WINDOW
        self._dirty: set[str] = set()
        self._forgotten: set[str] = set()  # keys of stored rows to delete
        self._wipe = False  # delete every stored row of the site first (``reset``)
        self._flipped: set[str] = set()  # lines learned or forgotten since the last flush
        self._total = (0, 0.0)  # (articles counted, their decayed total)
        self.newly_learned = 0  # lines learned since this object was loaded
        self._site_dirty = False

    # --- loading and saving -------------------------------------------------------------------

    @classmethod
    def load(cls, archive: Archive, site_id: int, config: BoilerplateConfig) -> SiteBoilerplate:
        """The site's state as the database has it."""
        state = cls(site_id, config)
        sites, lines = BoilerplateSite.__table__, BoilerplateLine.__table__
        with archive.read() as conn:
            state.pages = conn.execute(select(sites.c.pages).where(
                sites.c.site_id == site_id)).scalar() or 0
            rows = conn.execute(select(lines.c.text, lines.c.weight, lines.c.at, lines.c.pages,
                                       lines.c.learned, lines.c.retired)
                                .where(lines.c.site_id == site_id)).all()
        for row in rows:
            key = line_key(row.text)
            state.lines[key] = _Line(row.text, row.weight, row.at, row.pages, row.learned,
                                     row.retired, stored=True)
            if row.learned:
                state.learned.add(key)
        return state

    def reset(self) -> None:
        """Forget everything learned (re-extraction learns again from every article)."""
        self._wipe = True
        self._forgotten.clear()
        self.lines.clear()
        self.learned.clear()
        self._dirty.clear()
        self.pages = 0
        self._site_dirty = True

    def flush(self, archive: Archive, *, final: bool = False,
              through: Callable[[Callable[[], None]], None] | None = None) -> None:
        """Write what changed. While a run goes on (the recorder flushes with each commit) that
        is the learned lines and those that stopped being learned, with the site's count: a
        killed run keeps what it learned. ``final`` (the end of a run) writes every count that
        changed, lines seen once while recent, and forgets the faded lines. ``through`` makes
        the write (the recorder's journal, which can make it again: ``storage.journal``)."""
        if final:
            self._prune(keep_singletons=True)
        rows = []
        waiting: set[str] = set()
        for key in self._dirty:
            line = self.lines.get(key)
            if line is None:
                continue
            if not (final or line.learned or key in self._flipped):
                waiting.add(key)
                continue
            line.stored = True
            rows.append({"site_id": self.site_id, "key": _digest(key), "text": line.text,
                         "weight": line.weight, "at": line.at, "pages": line.pages,
                         "learned": line.learned, "retired": line.retired})
        self._dirty = waiting
        self._flipped.clear()
        if not (rows or self._forgotten or self._wipe or (final and self._site_dirty)):
            return
        # what is written is taken out of this state now, so the write can be made again
        wipe, self._wipe = self._wipe, False
        forgotten = [_digest(key) for key in self._forgotten]
        self._forgotten.clear()
        self._site_dirty = False
        write = partial(_write_changes, archive, self.site_id, self.pages, wipe, forgotten, rows)
        if through is None:
            write()
        else:
            through(write)

    def _prune(self, *, keep_singletons: bool) -> None:
        """Forget lines whose count has faded, and lines seen once that are no longer recent
        (all lines seen once, unless ``keep_singletons``). Lines learned once stay."""
        for key, line in list(self.lines.items()):
            if line.learned or line.retired:
                continue
            age = max(0, self.pages - line.at)
            if line.pages < 2:  # its weight is at most 1: only its age matters
                forget = not keep_singletons or age >= SINGLETON_PAGES
            else:
                forget = line.weight * self._decay ** age < FORGET_WEIGHT
            if forget:
                del self.lines[key]
                self._dirty.discard(key)
                if line.stored:
                    self._forgotten.add(key)

    # --- learning -----------------------------------------------------------------------------

    def share(self, line: _Line) -> float:
        """The share of the site's recent articles the line is on."""
        if not self.pages:
            return 0.0
        if self._total[0] != self.pages:  # the same for every line of an article: once each
            self._total = (self.pages, (1.0 - self._decay ** self.pages) / (1.0 - self._decay))
        # never negative: counts written by two processes must not inflate a share past 1
        age = max(0, self.pages - line.at)
        return (line.weight * self._decay ** age if age else line.weight) / self._total[1]

    @property
    def judged(self) -> bool:
        """Whether enough articles were counted to judge any line."""
        return self.pages >= self.config.min_pages

    def _judge(self, key: str, line: _Line) -> None:
        if not self.judged or (not line.learned and line.pages < MIN_REPEATS):
            return
        share = self.share(line)
        needed = (max(self.config.share, LONG_SHARE) if len(line.text) > LONG_LINE
                  else self.config.share)
        learned = (share >= KEEP_SHARE if line.learned
                   else share >= needed and line.pages >= MIN_REPEATS)
        if learned != line.learned:
            line.learned = learned
            line.retired = not learned
            self._dirty.add(key)
            self._flipped.add(key)
            if learned:
                self.learned.add(key)
                self.newly_learned += 1
            else:
                self.learned.discard(key)

    def observe(self, text: str) -> bool:
        """Count the lines of one article's text (its first, as extracted); True when this
        article is the one that makes the site judged."""
        lines = text.split("\n")
        return self._observe(lines, _keys(lines))

    def _observe(self, raw_lines: list[str], line_keys: list[str | None]) -> bool:
        keys: dict[str, str] = {}
        for raw, key in zip(raw_lines, line_keys, strict=True):
            if key is not None and key not in keys:
                keys[key] = raw.strip()
        self.pages += 1
        self._site_dirty = True
        now = self.pages
        for key, raw in keys.items():
            line = self.lines.get(key)
            if line is None:
                line = self.lines[key] = _Line(raw, 0.0, now, 0)
            line.weight = line.weight * self._decay ** (now - line.at) + 1.0
            line.at = now
            line.pages += 1
            self._dirty.add(key)
            self._judge(key, line)
        if len(self.lines) > MAX_LINES:
            self._prune(keep_singletons=False)
        if now == self.config.min_pages:
            for key, line in list(self.lines.items()):
                self._judge(key, line)
            return True
        return False

    # --- stripping ----------------------------------------------------------------------------

    def _is_learned(self, key: str) -> bool:
        line = self.lines.get(key)
        if line is None or not line.learned:
            return False
        self._judge(key, line)  # it may have faded since
        return line.learned

    def strip(self, text: str) -> str:
        """``text`` without its learned lines (whole lines only; never all of them)."""
        if not self.learned:
            return text
        lines = text.split("\n")
        return self._strip(text, lines, _keys(lines))

    def _strip(self, text: str, raw_lines: list[str], line_keys: list[str | None]) -> str:
        if not self.learned:
            return text
        kept: list[str] = []
        dropped = 0
        for raw, key in zip(raw_lines, line_keys, strict=True):
            if key is not None and self._is_learned(key):
                dropped += 1
            else:
                kept.append(raw)
        if not dropped or not any(line.strip() for line in kept):
            return text
        self.stripped += dropped
        return "\n".join(kept).strip()

    # --- storing --------------------------------------------------------------------------------

    def prepare(self, article: ArticleRecord, stored: StoredText, *,
                first: bool | None = None) -> ArticleRecord:
        """The article as it is to be stored, against the page's ``stored`` text (what
        ``Archive.store_article`` hands it): counted when it is the page's first text, and
        stripped. A text that differs from the page's current version only by learned or
        retired lines comes back as that version's text, so no new version is made of it.

        ``first`` says whether to count it (re-extraction knows better than the page's row).
        No database work here: the site's first texts are stripped in place (``restrip``) by
        the caller, once the site is ``judged``."""
        lines = article.text.split("\n")
        keys = _keys(lines)
        if first is None:
            first = not stored.versions  # the page's first text
        if first:
            self._observe(lines, keys)
        text = self._strip(article.text, lines, keys)
        if stored.versions and content_hash(article.title, text) != stored.content_hash:
            current = stored.text
            if (current is not None and current != text
                    and content_hash(article.title, current) == stored.content_hash
                    and self._settled(current) == self._settled(text)):
                text = current
        return article if text == article.text else replace(article, text=text)

    def _settled(self, text: str) -> list[str]:
        """The lines of ``text`` that are neither learned nor retired: two texts that agree on
        them differ only by the site's boilerplate, as it was learned at one time or another
        (lines learned since a version was stored, or faded since it was stripped)."""
        lines = text.split("\n")
        settled = []
        for line, key in zip(lines, _keys(lines), strict=True):
            known = self.lines.get(key) if key is not None else None
            if line.strip() and not (known is not None and (known.learned or known.retired)):
                settled.append(line.strip())
        return settled

    def report(self, limit: int = 50) -> list[LearnedLine]:
        """The learned lines, most widespread first, then the nearest candidates."""
        lines = sorted(self.lines.values(), key=lambda line: (not line.learned, -self.share(line)))
        return [LearnedLine(line.text, line.pages, round(self.share(line), 3), line.learned)
                for line in lines[:limit] if line.pages >= 2]


def _write_changes(archive: Archive, site_id: int, pages: float, wipe: bool,
                   forgotten: list[str], rows: list[dict[str, Any]]) -> None:
    table = BoilerplateLine.__table__
    with archive.write() as conn:
        if wipe:
            conn.execute(delete(table).where(table.c.site_id == site_id))
        for start in range(0, len(forgotten), 500):
            conn.execute(delete(table).where(table.c.site_id == site_id,
                                             table.c.key.in_(forgotten[start:start + 500])))
        if rows:
            stmt = archive._insert(table)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[table.c.site_id, table.c.key],
                set_={name: stmt.excluded[name]
                      for name in ("weight", "at", "pages", "learned", "retired")}), rows)
        sites = BoilerplateSite.__table__
        stmt = archive._insert(sites).values(site_id=site_id, pages=pages,
                                              updated_at=datetime.now(UTC))
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[sites.c.site_id],
            set_={"pages": stmt.excluded.pages, "updated_at": stmt.excluded.updated_at}))


def restrip(archive: Archive, state: SiteBoilerplate, site_id: int,
            urls: Iterable[str] | None = None) -> int:
    """Strip the learned lines from the stored versions of the site's articles (of ``urls``
    only, in the form ``pages`` keeps them), in place: no new version (see the module docs).
    The number of versions changed. Reads the texts a few hundred at a time."""
    if not state.learned:
        return 0
    versions, page_table = ArticleVersion.__table__, Page.__table__
    base = (select(versions.c.id, versions.c.page_id, versions.c.number, versions.c.title,
                   versions.c.text, page_table.c.versions)
            .join(page_table, page_table.c.id == versions.c.page_id)
            .where(page_table.c.site_id == site_id)
            .order_by(versions.c.id).limit(_CHUNK))
    if urls is None:
        selections = [base]
    else:
        wanted = sorted(set(urls))
        selections = [base.where(page_table.c.url.in_(wanted[at:at + _CHUNK]))
                      for at in range(0, len(wanted), _CHUNK)]
    changed = 0
    for stmt in selections:
        after = 0
        while True:
            with archive.write() as conn:
                rows = conn.execute(stmt.where(versions.c.id > after)).all()
                for row in rows:
                    changed += _restrip_one(conn, state, row)
            if len(rows) < _CHUNK:
                break
            after = rows[-1].id
    return changed


_CHUNK = 500


def _restrip_one(conn: Any, state: SiteBoilerplate, row: Any) -> int:
    versions, page_table = ArticleVersion.__table__, Page.__table__
    text = state.strip(row.text)
    if text == row.text:
        return 0
    digest = content_hash(row.title, text)
    conn.execute(update(versions).where(versions.c.id == row.id)
                 .values(text=text, content_hash=digest))
    if row.number == row.versions:
        conn.execute(update(page_table).where(page_table.c.id == row.page_id)
                     .values(content_hash=digest))
    return 1


def site_boilerplate(archive: Archive, site_id: int, limit: int = 50) -> dict[str, Any]:
    """What ``arsip sites show`` prints: articles counted, and the learned lines."""
    state = SiteBoilerplate.load(archive, site_id, BoilerplateConfig())
    return {"articles": state.pages,
            "learned": [{"text": line.text, "articles": line.pages, "share": line.share}
                        for line in state.report(limit) if line.learned]}
