"""Memento (RFC 7089): the headers of a replayed page, the TimeGate and the TimeMap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from w3lib.url import safe_url_string

from storage.index import CaptureRow

LINK_FORMAT = "application/link-format"


class BadAcceptDatetime(ValueError):
    """An Accept-Datetime header that is not an HTTP date."""


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def parse_accept_datetime(value: str) -> datetime:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise BadAcceptDatetime(f"Accept-Datetime is not an HTTP date: {value!r}") from None
    if when is None:
        raise BadAcceptDatetime(f"Accept-Datetime is not an HTTP date: {value!r}")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def header_url(url: str) -> str:
    """A URL safe to put in a header: percent-encoded, no spaces, no control characters, no
    angle brackets (an archived URL is data, and must not end a Link value early)."""
    return safe_url_string(url).replace("<", "%3C").replace(">", "%3E")


class Links:
    """Builds the URLs of one replay server (``root`` is its absolute base, ending in /)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def memento(self, row: CaptureRow, modifier: str = "") -> str:
        return f"{self.root}{row.timestamp}{modifier}/{header_url(row.url)}"

    def timegate(self, url: str) -> str:
        return f"{self.root}timegate/{header_url(url)}"

    def timemap(self, url: str) -> str:
        return f"{self.root}timemap/link/{header_url(url)}"

    def common(self, url: str) -> list[str]:
        return [f'<{header_url(url)}>; rel="original"',
                f'<{self.timegate(url)}>; rel="timegate"',
                f'<{self.timemap(url)}>; rel="timemap"; type="{LINK_FORMAT}"']

    def memento_header(self, memento: CaptureRow, url: str,
                       captures: Sequence[CaptureRow] = ()) -> str:
        """The Link header of a replayed memento: original, TimeGate, TimeMap, and the memento
        itself with its neighbours when ``captures`` (all of the URL's, oldest first) is given."""
        links = self.common(url)
        rels: dict[int, list[str]] = {}
        if captures:
            ids = [row.id for row in captures]
            at = ids.index(memento.id) if memento.id in ids else -1
            rels.setdefault(captures[0].id, []).append("first")
            rels.setdefault(captures[-1].id, []).append("last")
            if at > 0:
                rels.setdefault(captures[at - 1].id, []).append("prev")
            if 0 <= at < len(captures) - 1:
                rels.setdefault(captures[at + 1].id, []).append("next")
        rels.setdefault(memento.id, [])
        by_id = {row.id: row for row in captures}
        by_id[memento.id] = memento
        for row_id, names in rels.items():
            row = by_id[row_id]
            rel = " ".join([*names, "memento"])
            links.append(f'<{self.memento(row)}>; rel="{rel}"; '
                         f'datetime="{http_date(row.fetched_at)}"')
        return ", ".join(links)

    def timemap_body(self, url: str, captures: Sequence[CaptureRow]) -> str:
        """A link-format TimeMap of every capture of ``url``."""
        lines = [f'<{header_url(url)}>; rel="original"']
        span = ""
        if captures:
            span = (f'; from="{http_date(captures[0].fetched_at)}"'
                    f'; until="{http_date(captures[-1].fetched_at)}"')
        lines.append(f'<{self.timemap(url)}>; rel="self"; type="{LINK_FORMAT}"{span}')
        lines.append(f'<{self.timegate(url)}>; rel="timegate"')
        for n, row in enumerate(captures):
            rel = "memento"
            if n == 0:
                rel = "first memento"
            if n == len(captures) - 1:
                rel = "last memento" if n else "first last memento"
            lines.append(f'<{self.memento(row)}>; rel="{rel}"; '
                         f'datetime="{http_date(row.fetched_at)}"')
        return ",\n".join(lines) + "\n"
