"""Durations as people type them (``30m``, ``1h30m``, ``2d``) for schedules and the revisit
ladder."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
# The longest schedule: a year (and a leap day); the longest rung of the revisit ladder, whose
# ages count from publication: ten years. Longer ones mean nothing for a news archive, and far
# longer ones overflow ``datetime`` (year 9999) in the scheduler and the revisit ladder, which
# used to crash the daemon on a single site's row.
MAX_DURATION_SECONDS = 366 * 86400
MAX_LADDER_SECONDS = 3660 * 86400


def parse_duration(text: str, at_most: int = MAX_DURATION_SECONDS) -> int:
    """Seconds in ``"30m"``, ``"1h30m"``, ``"2d"``, ``"45s"`` or a bare number of seconds, from
    one second to ``at_most``; ``ValueError`` says what is wrong."""
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    else:
        parts = _DURATION.findall(value)
        if not parts or _DURATION.sub("", value).strip():
            raise ValueError(f"{text!r} is not a duration; use e.g. 90s, 30m, 6h, 1d or 1h30m")
        seconds = sum(int(n) * _UNITS[unit] for n, unit in parts)
    if seconds < 1:
        raise ValueError(f"{text!r}: a duration must be at least one second")
    if seconds > at_most:
        raise ValueError(f"{text!r}: a duration can be at most {format_duration(at_most)}")
    return seconds


def format_duration(seconds: int | float | None) -> str | None:
    """``5400`` -> ``"1h30m"``: the largest units first, as ``parse_duration`` reads them."""
    if seconds is None:
        return None
    rest = round(seconds)
    if rest == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out)
