"""Capture lookup over the ``captures`` table: SURT keys, closest capture, CDX queries.

Every capture carries its URL's SURT key (``urlkey``), the sort-friendly form web archives
index by (``com,kudakyv)/2025/04/28/slug``): the host reversed, ``www.`` and the scheme
dropped, query arguments sorted. Captures of ``http://`` and ``https://www.`` forms of one URL
share a key, and everything under a path, a host or a domain is one contiguous key range, so
prefix, host and domain queries are range scans of the ``(urlkey, fetched_at)`` index.

``cdx`` answers pywb's CDX server API (field names, match types, ``from``/``to`` padding,
filters, ``closest`` and ``reverse`` sorting, output formats) over that index; a test compares
its lines with what ``cdxj-indexer`` makes of the same WARC files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

import regex
from sqlalchemy import Engine, and_, bindparam, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from warcio.timeutils import PAD_14_DOWN, PAD_14_UP, pad_timestamp, timestamp_to_datetime

from storage.db import reason
from storage.errors import DatabaseError, StorageError

MATCH_TYPES = ("exact", "prefix", "host", "domain")
OUTPUTS = ("cdxj", "json", "link", "text")
# pywb's field names, in the order its indexer writes them; ``CDX_ALIASES`` are the older names
CDX_FIELDS = ("urlkey", "timestamp", "url", "mime", "status", "digest", "length", "offset",
              "filename")
CDX_ALIASES = {"original": "url", "u": "url", "statuscode": "status", "s": "status",
               "mimetype": "mime", "m": "mime", "l": "length", "o": "offset", "d": "digest",
               "t": "timestamp", "k": "urlkey", "f": "filename"}
DEFAULT_CDX_LIMIT = 100_000  # pywb's
# a larger limit is no limit: every database integer type holds this one
MAX_CDX_LIMIT = 2**31 - 1
# how long one filter regex may take on one line: a pattern that backtracks without end
# (``(a+)+$``) would otherwise hold a server thread for good
REGEX_SECONDS = 0.5
# the 14-digit form of a capture time, and how a replay URL may give one (4 to 14 digits)
TIMESTAMP_RE = re.compile(r"\d{4,14}")
REVISIT_MIME = "warc/revisit"


class CdxQueryError(StorageError):
    """A CDX query with a missing or malformed parameter."""


def surt_key(url: str) -> str:
    """The SURT key of ``url`` as pywb and cdxj-indexer compute it (the ``surt`` package)."""
    import surt  # loaded on first use: it pulls in tldextract

    try:
        return str(surt.surt(url))
    except Exception:  # surt raises assorted errors on odd input; such URLs index as given
        return url.strip().lower()


def timestamp14(when: datetime) -> str:
    """``20250428140500``: a capture time as web archives print it (UTC, to the second)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y%m%d%H%M%S")


def parse_timestamp(value: str, *, pad: str = "up") -> datetime:
    """A 4- to 14-digit timestamp as a UTC datetime; a partial one stands for the latest moment
    of the period it names (``pad="up"``, pywb's reading for closest captures) or the earliest
    (``pad="down"``)."""
    if not TIMESTAMP_RE.fullmatch(value):
        raise CdxQueryError(f"not a timestamp (4 to 14 digits): {value!r}")
    padded = pad_timestamp(value, PAD_14_UP if pad == "up" else PAD_14_DOWN)
    try:
        return timestamp_to_datetime(padded).replace(tzinfo=UTC)
    except ValueError:
        # warcio clamps most out-of-range parts itself; anything left is not a date
        raise CdxQueryError(f"not a valid timestamp: {value!r}") from None


@dataclass(frozen=True)
class CaptureRow:
    """One row of the archive index."""

    id: int
    url: str
    urlkey: str
    fetched_at: datetime
    status: int
    mime: str | None
    payload_digest: str | None
    warc_file: str
    warc_offset: int
    warc_length: int
    warc_record_id: str
    record_type: str
    refers_to: str | None

    @property
    def timestamp(self) -> str:
        return timestamp14(self.fetched_at)

    @property
    def not_modified(self) -> bool:
        """A server-not-modified revisit: no HTTP response of its own, only the 304's date."""
        return self.record_type == "revisit" and self.status == 304

    @property
    def line(self) -> str:
        """The capture's line in a CDXJ index: what the index is sorted by, what a filter on no
        field reads, what ``/cdx`` writes by default. Encoded once, whoever asks first."""
        # kept in the instance dict by hand: functools.cached_property takes a lock per row on
        # Python 3.11, which costs a plain scan more than it saves
        line: str | None = self.__dict__.get("line")
        if line is None:
            line = self.__dict__["line"] = _format(self, self.cdx(), _CDXJ)
        return line

    def cdx(self) -> dict[str, str]:
        """The capture as pywb's CDX fields (the way cdxj-indexer writes them)."""
        fields = {"urlkey": self.urlkey, "timestamp": self.timestamp, "url": self.url,
                  "mime": REVISIT_MIME if self.record_type == "revisit"
                  else (self.mime or "unk")}
        if not self.not_modified:
            fields["status"] = str(self.status)
        if self.payload_digest:
            fields["digest"] = self.payload_digest
        fields.update(length=str(self.warc_length), offset=str(self.warc_offset),
                      filename=self.warc_file)
        return fields


@dataclass(frozen=True)
class Neighbours:
    """Where one capture stands among the captures of its URL key."""

    count: int
    first: CaptureRow
    last: CaptureRow
    prev: CaptureRow | None
    next: CaptureRow | None

    def urls(self) -> list[str]:
        """The URLs these captures were made under (http/https, www. or not)."""
        rows = (self.first, self.last, self.prev, self.next)
        return sorted({row.url for row in rows if row is not None})


@dataclass(frozen=True)
class CdxFilter:
    """One ``filter=`` of pywb's syntax: ``[!][=|~]field:expression``."""

    field: str
    how: str  # "contains", "exact" or "regex"
    value: str
    negate: bool = False
    regex: regex.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str) -> CdxFilter:
        negate = text.startswith("!")
        text = text[1:] if negate else text
        how = "contains"
        if text[:1] == "=":
            how, text = "exact", text[1:]
        elif text[:1] == "~":
            how, text = "regex", text[1:]
        name, sep, value = text.partition(":")
        if not sep:
            name, value = "", name  # no field: the whole CDX line
        name = CDX_ALIASES.get(name, name)
        pattern = None
        if how == "regex":
            try:
                pattern = regex.compile(value)
            except regex.error as exc:
                raise CdxQueryError(f"bad regular expression in filter {text!r}: {exc}") from None
        return cls(name, how, value, negate, pattern)

    def __call__(self, fields: Mapping[str, str], line: str) -> bool:
        got = fields.get(self.field, "") if self.field else line
        if self.how == "exact":
            hit = got == self.value
        elif self.how == "regex":
            assert self.regex is not None
            try:
                hit = self.regex.match(got, timeout=REGEX_SECONDS) is not None
            except TimeoutError:
                raise CdxQueryError(f"the filter regex {self.value!r} took over "
                                    f"{REGEX_SECONDS} s on one line") from None
        else:
            hit = self.value in got
        return hit != self.negate


@dataclass(frozen=True)
class CdxQuery:
    """A parsed CDX API query (see ``CdxQuery.parse``)."""

    url: str
    match_type: str = "exact"
    start: str = ""  # urlkey range [start, end)
    end: str = ""
    from_ts: datetime | None = None
    to_ts: datetime | None = None
    limit: int = DEFAULT_CDX_LIMIT
    reverse: bool = False
    closest: datetime | None = None
    filters: tuple[CdxFilter, ...] = ()
    fields: tuple[str, ...] | None = None
    output: str = "cdxj"

    @classmethod
    def parse(cls, params: Mapping[str, Sequence[str]]) -> CdxQuery:
        """From query parameters (each a list of values, as a web framework gives them)."""
        def one(name: str) -> str | None:
            values = params.get(name) or ()
            return values[-1] if values else None

        url = one("url")
        if not url:
            raise CdxQueryError("a url= parameter is required")
        match_type = one("matchType")
        if not match_type:
            match_type = "exact"
            if url.startswith("*."):
                url, match_type = url[2:], "domain"
            elif url.endswith("*"):
                url, match_type = url[:-1], "prefix"
        if match_type not in MATCH_TYPES:
            raise CdxQueryError(f"matchType must be one of {', '.join(MATCH_TYPES)}, "
                                f"not {match_type!r}")
        start, end = search_range(url, match_type)
        output = one("output") or "cdxj"
        if output not in OUTPUTS:
            raise CdxQueryError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")
        limit = DEFAULT_CDX_LIMIT
        if one("limit"):
            try:
                limit = int(one("limit") or "")
            except ValueError:
                raise CdxQueryError(f"limit must be a number, not {one('limit')!r}") from None
            if limit < 1:
                raise CdxQueryError("limit must be a positive number")
            limit = min(limit, MAX_CDX_LIMIT)
        sort = one("sort")
        if sort not in (None, "", "reverse", "closest"):
            raise CdxQueryError(f"sort must be reverse or closest, not {sort!r}")
        closest = one("closest")
        if sort == "closest" and not closest:
            raise CdxQueryError("sort=closest needs closest=TIMESTAMP")
        # pywb reads fields= first (fl= is its older name); a field no capture has is
        # printed "-" in text and left out of JSON, as pywb does
        fields_text = one("fields") or one("fl")
        fields = None
        if fields_text:
            fields = tuple(CDX_ALIASES.get(f.strip(), f.strip())
                           for f in fields_text.split(",") if f.strip())
        return cls(
            url=url, match_type=match_type, start=start, end=end,
            from_ts=parse_timestamp(one("from") or "", pad="down") if one("from") else None,
            to_ts=parse_timestamp(one("to") or "", pad="up") if one("to") else None,
            limit=limit, reverse=sort == "reverse" or one("reverse") in ("1", "true"),
            closest=parse_timestamp(closest, pad="up") if closest else None,
            filters=tuple(CdxFilter.parse(f) for f in params.get("filter") or ()),
            fields=fields, output=output,
        )


def distance(row: CaptureRow, when: datetime) -> float:
    """Seconds between a capture and a moment, both to the whole second (as pywb compares)."""
    return abs((row.fetched_at.replace(microsecond=0) - when.replace(microsecond=0))
               .total_seconds())


_CDXJ = CdxQuery(url="")


def search_range(url: str, match_type: str) -> tuple[str, str]:
    """The ``[start, end)`` urlkey range of a match type, as pywb computes it."""
    key = surt_key(url)
    if match_type == "exact":
        return key, key + "!"
    if match_type == "prefix":
        if url.endswith("/") and not key.endswith("/"):
            key += "/"
        if url.endswith("?") and not key.endswith("?"):
            key += "?"
        return key, key[:-1] + chr(ord(key[-1]) + 1)
    host = key.split(")/")[0]
    if match_type == "host":
        return host + ")/", host + "*"
    # domain: the host and every subdomain ("com,example)" and "com,example,www)" alike)
    return (host + "," if "," not in host else host + ")/"), host + "-"


def site_range(url: str) -> tuple[str, str]:
    """The urlkey range of ``url``'s host and all its subdomains. (pywb's ``domain`` match
    leaves out a host without a dot, such as ``localhost``; a site's own captures never are.)"""
    host = surt_key(url).split(")/")[0]
    return host + ")", host + "-"


def format_cdx(row: CaptureRow, query: CdxQuery) -> str:
    """One output line (without the newline) in the query's format."""
    if query.output == "cdxj" and not query.fields:
        return row.line
    return _format(row, row.cdx(), query)


def _format(row: CaptureRow, fields: dict[str, str], query: CdxQuery) -> str:
    if query.output == "json":
        names = query.fields or tuple(fields)
        return json.dumps({name: fields[name] for name in names if name in fields})
    if query.output == "text":
        if query.fields is None:  # as pywb: the values the capture has, in index order
            return " ".join(fields.values())
        return " ".join(fields.get(name, "-") for name in query.fields)
    if query.output == "link":
        raise ValueError("output=link is written by the replay server (storage.replay.memento)")
    body = {name: value for name, value in fields.items() if name not in ("urlkey", "timestamp")}
    if query.fields:
        body = {name: body[name] for name in query.fields if name in body}
    return f"{row.urlkey} {row.timestamp} {json.dumps(body)}"


@dataclass
class CaptureIndex:
    """Lookups over ``captures`` through one engine (safe to share between threads)."""

    engine: Engine
    _table: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from storage.models import Capture

        self._table = Capture.__table__
        t = self._table
        self.columns = [t.c[name] for name in CaptureRow.__dataclass_fields__]
        key = bindparam("urlkey")
        self._before = (select(*self.columns)
                        .where(t.c.urlkey == key, t.c.fetched_at <= bindparam("when"))
                        .order_by(t.c.fetched_at.desc(), t.c.id.desc()).limit(bindparam("n")))
        self._after = (select(*self.columns)
                       .where(t.c.urlkey == key, t.c.fetched_at > bindparam("when"))
                       .order_by(t.c.fetched_at, t.c.id).limit(bindparam("n")))
        self._all = (select(*self.columns).where(t.c.urlkey == key)
                     .order_by(t.c.fetched_at, t.c.id))
        self._count = select(func.count()).select_from(t).where(t.c.urlkey == key)
        self._first = self._all.limit(1)
        self._last = (select(*self.columns).where(t.c.urlkey == key)
                      .order_by(t.c.fetched_at.desc(), t.c.id.desc()).limit(1))
        at, row_id = bindparam("at"), bindparam("row_id")
        self._prev = (select(*self.columns)
                      .where(t.c.urlkey == key, or_(t.c.fetched_at < at,
                                                    and_(t.c.fetched_at == at, t.c.id < row_id)))
                      .order_by(t.c.fetched_at.desc(), t.c.id.desc()).limit(1))
        self._next = (select(*self.columns)
                      .where(t.c.urlkey == key, or_(t.c.fetched_at > at,
                                                    and_(t.c.fetched_at == at, t.c.id > row_id)))
                      .order_by(t.c.fetched_at, t.c.id).limit(1))
        self._by_record = select(*self.columns).where(t.c.warc_record_id == bindparam("rid"))
        digest = bindparam("digest")
        self._by_digest = (select(*self.columns)
                           .where(t.c.payload_digest == digest, t.c.record_type == "response")
                           .order_by(t.c.fetched_at, t.c.id).limit(1))
        self._by_digest_here = (select(*self.columns)
                                .where(t.c.urlkey == key, t.c.payload_digest == digest,
                                       t.c.record_type == "response",
                                       t.c.fetched_at <= bindparam("when"))
                                .order_by(t.c.fetched_at.desc(), t.c.id.desc()).limit(1))

    def _rows(self, stmt: Any, params: Mapping[str, Any]) -> list[CaptureRow]:
        try:
            with self.engine.connect() as conn:
                return [CaptureRow(*row) for row in conn.execute(stmt, dict(params))]
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the archive index: {reason(exc)}") from exc

    def nearest(self, url: str, when: datetime, n: int = 3) -> list[CaptureRow]:
        """About ``n`` captures either side of ``when`` for ``url``'s key, closest first, by
        whole seconds as their 14-digit timestamps say (so the capture a memento URI names is
        the one it gets); a tie goes to the capture of this very URL, then the earlier one."""
        return self._nearest_key(surt_key(url), when, n, url)[:2 * n]

    def _nearest_key(self, urlkey: str, when: datetime, n: int, url: str | None = None
                     ) -> list[CaptureRow]:
        # a capture within the asked-for second is "before" it as far as the query goes
        params = {"urlkey": urlkey, "when": when.replace(microsecond=0) + timedelta(seconds=1),
                  "n": n + 1}
        found = self._rows(self._before, params) + self._rows(self._after, params)
        found.sort(key=lambda row: (distance(row, when), row.url != url, row.fetched_at))
        return found

    def closest(self, url: str, when: datetime) -> CaptureRow | None:
        found = self.nearest(url, when, 1)
        return found[0] if found else None

    def captures_of(self, url: str) -> list[CaptureRow]:
        """Every capture of ``url``'s key, oldest first."""
        return self._rows(self._all, {"urlkey": surt_key(url)})

    def neighbours(self, capture: CaptureRow) -> Neighbours:
        """The count, first, last, previous and next captures of a capture's key: index seeks,
        however many captures the URL has (an hourly home page has thousands)."""
        key = {"urlkey": capture.urlkey}
        around = {**key, "at": capture.fetched_at, "row_id": capture.id}
        try:
            with self.engine.connect() as conn:
                count = int(conn.execute(self._count, key).scalar_one())
                found = [conn.execute(stmt, params).first()
                         for stmt, params in ((self._first, key), (self._last, key),
                                              (self._prev, around), (self._next, around))]
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the archive index: {reason(exc)}") from exc
        first, last, prev, following = (CaptureRow(*row) if row else None for row in found)
        return Neighbours(count, first or capture, last or capture, prev, following)

    def by_record_id(self, record_id: str) -> CaptureRow | None:
        found = self._rows(self._by_record, {"rid": record_id})
        return found[0] if found else None

    def original_of(self, revisit: CaptureRow) -> CaptureRow | None:
        """The response a revisit stands for: the record it refers to; else the last response
        of the same URL key before it with its payload digest (a 304 replays that response's
        status and headers, so they must be this URL's); else, for the payload alone, the
        earliest response of any URL with that digest."""
        if revisit.refers_to:
            found = self.by_record_id(revisit.refers_to)
            if found is not None and found.record_type == "response":
                return found
        if revisit.payload_digest:
            for stmt, params in (
                    (self._by_digest_here, {"urlkey": revisit.urlkey, "when": revisit.fetched_at,
                                            "digest": revisit.payload_digest}),
                    (self._by_digest, {"digest": revisit.payload_digest})):
                found_by_digest = self._rows(stmt, params)
                if found_by_digest:
                    return found_by_digest[0]
        return None

    def cdx(self, query: CdxQuery) -> Iterator[CaptureRow]:
        """The captures a CDX query selects, in its order (see the module docs)."""
        t = self._table
        if (query.closest is not None and query.match_type == "exact" and not query.filters
                and query.from_ts is None and query.to_ts is None):
            # the usual closest query (pywb's own fallback lookups): index seeks either side
            found = self._nearest_key(query.start, query.closest, query.limit)
            yield from _by_distance(found, query.closest)[:query.limit]
            return
        conditions = [t.c.urlkey >= query.start, t.c.urlkey < query.end]
        if query.from_ts is not None:
            conditions.append(t.c.fetched_at >= query.from_ts)
        if query.to_ts is not None:
            # to= is inclusive to the second (WARC dates carry microseconds)
            conditions.append(t.c.fetched_at < query.to_ts + timedelta(seconds=1))
        order = (t.c.urlkey, t.c.fetched_at)
        stmt = select(*self.columns).where(and_(*conditions))
        reverse = query.reverse and query.closest is None
        stmt = stmt.order_by(*(column.desc() for column in order) if reverse else order)
        if not query.filters and query.closest is None:
            # room to finish the last group of captures in one second (see _index_order)
            stmt = stmt.limit(query.limit + TIE_ROOM)
        rows = self._stream(stmt, query, reverse)
        if query.closest is not None:
            rows = iter(_by_distance(list(rows), query.closest)[:query.limit])
        yield from rows

    def _stream(self, stmt: Any, query: CdxQuery, reverse: bool) -> Iterator[CaptureRow]:
        emitted = 0
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(yield_per=1000).execute(stmt)
                for row in _index_order((CaptureRow(*values) for values in result), reverse):
                    if query.filters:
                        fields = row.cdx()
                        if not all(check(fields, row.line) for check in query.filters):
                            continue
                    yield row
                    emitted += 1
                    if emitted >= query.limit and query.closest is None:
                        return
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the archive index: {reason(exc)}") from exc


# captures of one URL key within one second, at most, that a limited query reads past its limit
TIE_ROOM = 1000


def _index_order(rows: Iterator[CaptureRow], reverse: bool) -> Iterator[CaptureRow]:
    """Rows in (urlkey, time) order put in the order of a sorted CDXJ index, which is what
    pywb reads: by line, so captures of one key within one second (a retry, a redirect and
    its target) go by the rest of their line, not by which came first."""
    group: list[CaptureRow] = []
    for row in rows:
        if group and (row.urlkey, row.timestamp) != (group[0].urlkey, group[0].timestamp):
            yield from _sorted_lines(group, reverse)
            group = []
        group.append(row)
    yield from _sorted_lines(group, reverse)


def _sorted_lines(group: list[CaptureRow], reverse: bool) -> list[CaptureRow]:
    if len(group) < 2:
        return group
    return sorted(group, key=lambda row: row.line, reverse=reverse)


def _by_distance(rows: Sequence[CaptureRow], when: datetime) -> list[CaptureRow]:
    """Closest first; equally close ones in index order (pywb keeps the order it read). Only
    equally close captures are encoded, to be ordered by their lines."""
    keyed = sorted(((distance(row, when), row) for row in rows), key=itemgetter(0))
    ordered: list[CaptureRow] = []
    for _, tied in groupby(keyed, key=itemgetter(0)):
        ordered.extend(_sorted_lines([row for _, row in tied], reverse=False))
    return ordered


def write_cdxj(index: CaptureIndex, out: Any, query: CdxQuery | None = None) -> int:
    """Write the captures a query selects (every capture by default) as a CDXJ index sorted
    the way pywb binary-searches it: by line, as bytes. Returns the number of lines."""
    query = query or CdxQuery(url="", start="", end="\U0010ffff")
    written = 0
    for row in index.cdx(query):  # in index order
        out.write(format_cdx(row, query) + "\n")
        written += 1
    return written
