"""One frozen configuration object, built once from Scrapy settings and handed down.

Nothing here is read at import time: :meth:`CrawlConfig.from_settings` resolves the ``ARSIP_*``
settings (see ``crawler/settings.py`` for their documented defaults) when a crawl starts.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.errors import UsageError
from storage.records import BoilerplateConfig
from storage.revisit import DEFAULT_LADDER, parse_ladder

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

DEFAULT_DATA_DIR = "arsip-data"


def resolve_data_dir(value: str | os.PathLike[str] | None) -> Path:
    """``--data-dir`` / ``ARSIP_DATA_DIR`` / ``./arsip-data``, in that order."""
    return Path(value or os.environ.get("ARSIP_DATA_DIR") or DEFAULT_DATA_DIR)


def resolve_db_url(value: str | None, data_dir: Path) -> str:
    """``--db`` / ``ARSIP_DB_URL`` / a SQLite file in the data dir, in that order."""
    url = value or os.environ.get("ARSIP_DB_URL")
    if url:
        return url
    return f"sqlite:///{(data_dir / 'arsip.db').absolute()}"


def parse_since(value: str | datetime | None) -> datetime | None:
    """Parse ``--since``: an ISO date or datetime; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(
                f"--since: {value!r} is not a date; use YYYY-MM-DD or an ISO 8601 datetime"
            ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def resolve_warc_dir(value: str | None, data_dir: Path) -> Path:
    """The WARC folder: ARSIP_WARC_DIR if set, else DATA_DIR/warc (the crawl writes there, the
    daemon repairs what a killed crawl left there)."""
    return Path(value) if value else data_dir / "warc"


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``-s NAME=VALUE`` items as settings, checked as a usage error would be: a name that is
    neither a Scrapy nor an arsip setting names the closest real ones (a typo would otherwise be
    ignored), and a value that cannot be what the setting's default is (a number, a boolean, a
    JSON object) says so (it would otherwise fail the crawl, or every crawl of the daemon)."""
    defaults: dict[str, object] | None = None
    settings: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"-s expects NAME=VALUE, got {item!r}")
        defaults = defaults if defaults is not None else setting_defaults()
        if name not in defaults:
            close = difflib.get_close_matches(name.upper(), defaults, n=3, cutoff=0.6)
            arsip = sorted(n for n in defaults if n.startswith("ARSIP_"))
            hint = (f"did you mean {_either(close)}?" if close else
                    f"arsip's are {', '.join(arsip)}; Scrapy's are at "
                    "https://docs.scrapy.org/en/latest/topics/settings.html")
            raise UsageError(f"-s {name}: no such setting; {hint}")
        _check_value(name, value, defaults[name])
        if name == "ARSIP_REVISIT_LADDER":
            _ladder(value)  # a bad rung would fail the recorder on the first article it stores
        settings[name] = value
    return settings


def _check_value(name: str, value: str, default: object) -> None:
    """As Scrapy's ``getbool``/``getfloat``/``getdict`` would read ``value``."""
    if isinstance(default, bool):
        if value not in ("0", "1", "True", "False", "true", "false"):
            raise UsageError(f"-s {name}: expects True or False (or 1, 0), got {value!r}")
    elif isinstance(default, int | float):
        try:
            float(value)
        except ValueError:
            raise UsageError(f"-s {name}: expects a number, got {value!r}") from None
    elif isinstance(default, dict):
        try:
            ok = isinstance(json.loads(value), dict)
        except ValueError:
            ok = False
        if not ok:
            raise UsageError(f"-s {name}: expects a JSON object, got {value!r}")


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


_NOT_A_LITERAL = object()


def setting_defaults() -> dict[str, object]:
    """Every setting a crawl reads, with its default where that is a literal: Scrapy's (its
    defaults module names them all) and arsip's (``crawler/settings.py``). Read from the two
    modules' source: importing Scrapy for this would cost the daemon, which checks its ``-s``
    too, a third of a second and its memory."""
    scrapy = importlib.util.find_spec("scrapy")
    assert scrapy is not None and scrapy.submodule_search_locations
    # arsip's as a package resource, not a path beside this file: inside a Scrapyd egg (a zip)
    # there is none
    sources: list[Path | Traversable] = [
        Path(next(iter(scrapy.submodule_search_locations))) / "settings" / "default_settings.py",
        files("crawler") / "settings.py"]
    defaults: dict[str, object] = {}
    for source in sources:
        for node in ast.parse(source.read_text(encoding="utf-8")).body:
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, ast.AnnAssign) else [])
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    try:
                        defaults[target.id] = ast.literal_eval(node.value)  # type: ignore[arg-type]
                    except (ValueError, TypeError, SyntaxError, RecursionError):
                        defaults[target.id] = _NOT_A_LITERAL
    return defaults


def _ladder(text: str) -> str:
    """``ARSIP_REVISIT_LADDER``, checked (``UsageError`` says what is wrong)."""
    try:
        parse_ladder(text)
    except ValueError as exc:
        raise UsageError(f"ARSIP_REVISIT_LADDER: {exc}") from None
    return text


@dataclass(frozen=True)
class CrawlConfig:
    """Where a crawl writes and how it behaves; one per crawl."""

    data_dir: Path
    db_url: str
    warc_dir: Path
    warc_prefix: str = "arsip"
    node: str | None = None  # HOST in the WARC file names; None: the host name
    warc_max_size: int = 1_000_000_000
    warc_idle_timeout: float = 300.0
    extract_workers: int = 0
    site: str | None = None
    site_id: int | None = None  # a registered site, by id (what the daemon's crawls use)
    since: datetime | None = None
    max_pages: int = 0
    trigger: str = "cli"
    conditional_requests: bool = True
    revisit_ladder: str = DEFAULT_LADDER
    revisit_all: bool = False
    requisites: bool = True
    wait: bool = False
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)

    @property
    def workers(self) -> int:
        return self.extract_workers or os.cpu_count() or 1

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CrawlConfig:
        try:
            config = cls._from_settings(settings)
        except ValueError as exc:
            raise UsageError(f"a setting has a wrong value: {exc}") from None
        if config.site_id is not None and config.site_id < 0:
            raise UsageError("ARSIP_SITE_ID must be a site's id (arsip sites list --json)")
        if config.extract_workers < 0 or config.warc_max_size <= 0 or config.max_pages < 0:
            raise UsageError("ARSIP_EXTRACT_WORKERS and ARSIP_MAX_PAGES must be 0 or more, "
                             "ARSIP_WARC_MAX_SIZE more than 0")
        return config

    @classmethod
    def _from_settings(cls, settings: BaseSettings) -> CrawlConfig:
        data_dir = resolve_data_dir(settings.get("ARSIP_DATA_DIR"))
        return cls(
            data_dir=data_dir,
            db_url=resolve_db_url(settings.get("ARSIP_DB_URL"), data_dir),
            warc_dir=resolve_warc_dir(settings.get("ARSIP_WARC_DIR"), data_dir),
            warc_prefix=settings.get("ARSIP_WARC_PREFIX", "arsip"),
            # a Scrapyd node names itself in its environment: its jobs get no setting for it
            node=settings.get("ARSIP_NODE") or os.environ.get("ARSIP_NODE") or None,
            warc_max_size=settings.getint("ARSIP_WARC_MAX_SIZE", 1_000_000_000),
            warc_idle_timeout=settings.getfloat("ARSIP_WARC_IDLE_TIMEOUT", 300.0),
            extract_workers=settings.getint("ARSIP_EXTRACT_WORKERS", 0),
            site=settings.get("ARSIP_SITE") or None,
            site_id=settings.getint("ARSIP_SITE_ID", 0) or None,
            since=parse_since(settings.get("ARSIP_SINCE")),
            max_pages=settings.getint("ARSIP_MAX_PAGES", 0),
            trigger=settings.get("ARSIP_TRIGGER", "cli"),
            conditional_requests=settings.getbool("ARSIP_CONDITIONAL_REQUESTS", True),
            revisit_ladder=_ladder(settings.get("ARSIP_REVISIT_LADDER") or DEFAULT_LADDER),
            revisit_all=settings.getbool("ARSIP_REVISIT_ALL", False),
            requisites=settings.getbool("ARSIP_REQUISITES", True),
            wait=settings.getbool("ARSIP_WAIT", False),
            boilerplate=BoilerplateConfig(
                enabled=settings.getbool("ARSIP_BOILERPLATE", True),
                min_pages=settings.getint("ARSIP_BOILERPLATE_MIN_PAGES", 20),
                share=settings.getfloat("ARSIP_BOILERPLATE_SHARE", 0.3),
            ),
        )
