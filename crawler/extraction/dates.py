"""Date parsing for news pages: ISO 8601, RFC 2822 and Indonesian/English date strings.

htmldate (used by trafilatura) is not used on purpose: it drops the time of day whenever the URL
carries a date, and the time with its zone is what we archive.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# Indonesian time zones; the rest are the few labels newsrooms print after a clock time.
ZONES: dict[str, timezone] = {
    "WIB": timezone(timedelta(hours=7)),
    "WITA": timezone(timedelta(hours=8)),
    "WIT": timezone(timedelta(hours=9)),
    "UTC": UTC,
    "GMT": UTC,
    "Z": UTC,
}

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("januari", "january", "jan", "januar", "jänner"),
        ("februari", "february", "feb", "pebruari", "februar"),
        ("maret", "march", "mar", "mrt", "märz", "maerz"),
        ("april", "apr"),
        ("mei", "may", "mai"),
        ("juni", "june", "jun"),
        ("juli", "july", "jul"),
        ("agustus", "august", "agu", "agt", "aug", "ags"),
        ("september", "sep", "sept"),
        ("oktober", "october", "okt", "oct"),
        ("november", "nov", "nop", "nopember"),
        ("desember", "december", "des", "dec", "dezember", "dez"),
    ),
    start=1,
):
    for _name in _names:
        MONTHS[_name] = _number

_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_ZONE_RE = r"(?P<zone>(?:WITA|WIB|WIT|UTC|GMT|Z)\b)?\s*(?P<offset>[+-]\d{1,2}(?::?\d{2})?)?"
_CLOCK_RE = (
    r"(?:[,\s|\-–]+(?:pukul|jam|um|at)?\s*"
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?\s*" + _ZONE_RE + r")?"
)
# "Senin, 28 April 2025 14:05 WIB", "28 Apr 2025, 14.05 WITA", "28. April 2025 um 14:05 Uhr"
_DAY_MONTH_YEAR = re.compile(
    r"(?P<day>\d{1,2})\.?\s+(?P<month>" + _MONTH_RE + r")\.?,?\s+(?P<year>\d{4})" + _CLOCK_RE,
    re.IGNORECASE,
)
# "April 28, 2025 2:05 pm"
_MONTH_DAY_YEAR = re.compile(
    r"\b(?P<month>" + _MONTH_RE + r")\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})" + _CLOCK_RE,
    re.IGNORECASE,
)
# "28/04/2025, 14:05 WIB", "28-04-2025 14:05"
_NUMERIC = re.compile(
    r"\b(?P<day>\d{1,2})[/.\-](?P<month>\d{1,2})[/.\-](?P<year>\d{4})" + _CLOCK_RE,
    re.IGNORECASE,
)
_ISO_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_SLASHED_ISO = re.compile(r"^(\d{4})/(\d{2})/(\d{2})")  # "2025/04/28 14:05:00" (CNN-style meta)
_OFFSET_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def _offset(text: str) -> timezone:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:-2] or 0) if len(digits) > 2 else int(digits)
    minutes = int(digits[-2:]) if len(digits) > 2 else 0
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_iso(value: str) -> datetime | None:
    """ISO 8601 as found in JSON-LD and meta tags, plus RFC 2822 from feeds-minded CMSes."""
    text = value.strip()
    if not text:
        return None
    text = _SLASHED_ISO.sub(r"\1-\2-\3", text, count=1)
    if _ISO_LIKE.match(text):
        candidate = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
        candidate = re.sub(r"\s+", "", candidate)
        if candidate.endswith(("Z", "z")):
            candidate = candidate[:-1] + "+00:00"
        candidate = _OFFSET_NO_COLON.sub(r"\1:\2", candidate)
        try:
            return datetime.fromisoformat(candidate)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(candidate[:19])
        except ValueError:
            try:
                return datetime.fromisoformat(candidate[:10])
            except ValueError:
                return None
    if re.match(r"^\d{10}(\d{3})?$", text):  # epoch seconds or milliseconds
        stamp = int(text[:10])
        return datetime.fromtimestamp(stamp, tz=UTC)
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return parse_human(text)


def parse_human(text: str, *, require_time: bool = False) -> datetime | None:
    """The first human-written date in ``text`` ("Senin, 28 April 2025 14:05 WIB")."""
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR, _NUMERIC):
        for match in pattern.finditer(text):
            parsed = _from_match(match)
            if parsed is None:
                continue
            if require_time and match.group("hour") is None:
                continue
            return parsed
    return None


def _from_match(match: re.Match[str]) -> datetime | None:
    month_text = match.group("month")
    month = int(month_text) if month_text.isdigit() else MONTHS.get(month_text.lower())
    if month is None:
        return None
    hour = int(match.group("hour") or 0)
    ampm = (match.group("ampm") or "").lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    tz: timezone | None = None
    if match.group("hour") is not None:
        if match.group("zone"):
            tz = ZONES[match.group("zone").upper()]
        if match.group("offset"):
            tz = _offset(match.group("offset"))
    try:
        return datetime(
            int(match.group("year")),
            month,
            int(match.group("day")),
            hour,
            int(match.group("minute") or 0),
            int(match.group("second") or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None


def at_precision(value: datetime | None) -> datetime | date | None:
    """A value that carries no time of day (a date-only source) as the date it is, not a
    made-up midnight."""
    if value is None or has_time(value):
        return value
    return value.date()


def has_time(value: datetime) -> bool:
    """A date-only value parses to midnight with no zone: it says nothing about the time."""
    return value.tzinfo is not None or (value.hour, value.minute, value.second) != (0, 0, 0)
