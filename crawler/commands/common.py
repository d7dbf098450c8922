"""What every ``arsip`` command shares: the archive options, error handling, exit codes.

Command groups in their own modules (``crawler.commands.replay``) import these from here, so
that ``crawler.cli`` can register them without an import cycle.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from crawler.config import resolve_data_dir, resolve_db_url
from crawler.errors import ArsipError, UsageError
from storage.errors import StorageError

F = TypeVar("F", bound=Callable[..., Any])

# click's convention: 2 for a wrong flag or argument; 1 for a failure at run time; 128 + N for a
# process a signal stopped (130 Ctrl-C, 143 SIGTERM).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def archive_options(func: F) -> F:
    """``--data-dir`` and ``--db``, which every command that touches the archive takes."""

    @click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                  envvar="ARSIP_DATA_DIR", default=None,
                  help="Archive folder [default: ./arsip-data; env ARSIP_DATA_DIR].")
    @click.option("--db", "db_url", envvar="ARSIP_DB_URL", default=None,
                  help="SQLAlchemy URL [default: sqlite:///DATA_DIR/arsip.db; env ARSIP_DB_URL].")
    @functools.wraps(func)
    def wrapper(*args: Any, data_dir: Path | None, db_url: str | None, **kwargs: Any) -> Any:
        directory = resolve_data_dir(data_dir)
        return func(*args, data_dir=directory, db_url=resolve_db_url(db_url, directory), **kwargs)

    return wrapper  # type: ignore[return-value]


def warc_root_options(func: F) -> F:
    """``--warc-root HOST=DIR``: where the WARC files of crawl nodes whose storage root is not
    the archive's own WARC folder are read (``storage.warcroots``). Goes below
    ``archive_options``; the command gets ``warc_roots``."""

    @click.option("--warc-root", "warc_root", multiple=True, metavar="HOST=DIR",
                  envvar="ARSIP_WARC_ROOTS",
                  help="Read the WARC files crawl node HOST wrote from DIR (repeatable; env "
                       "ARSIP_WARC_ROOTS, comma-separated) [default: every file in "
                       "DATA_DIR/warc].")
    @functools.wraps(func)
    def wrapper(*args: Any, data_dir: Path, warc_root: tuple[str, ...], **kwargs: Any) -> Any:
        from storage.warcroots import WarcRootError, WarcRoots

        try:
            roots = WarcRoots.parse(data_dir / "warc", warc_root)
        except WarcRootError as exc:
            raise click.BadParameter(str(exc), param_hint="--warc-root") from None
        return func(*args, data_dir=data_dir, warc_roots=roots, **kwargs)

    return wrapper  # type: ignore[return-value]


def expected_errors(func: F) -> F:
    """Turn expected failures into one ``Error: ...`` line: exit 2 for a usage error, 1 for
    anything else, 130 for Ctrl-C."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UsageError as exc:
            raise click.UsageError(str(exc)) from None
        except (ArsipError, StorageError) as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def checked_url(url: str, *, http_only: bool = True) -> str:
    """``url`` if it can be read as an http(s) URL with a host (with ``http_only=False``: read
    at all); else a ``UsageError``. ``urlsplit`` raises ``ValueError`` on some (an unclosed
    ``[::1``, a port out of range), which used to end the command in a traceback."""
    try:
        parts = urlsplit(url)
        ok = parts.port is None or parts.port >= 0  # reading the port checks it
        if http_only:
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(f"not an http(s) URL: {url!r}")
    return url


def require_archive_file(data_dir: Path, db_url: str) -> None:
    """A clear error when a SQLite archive is not there yet (opening would create it)."""
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.exists():
            raise ArsipError(f"no archive at {path}; run `{crawl_into(data_dir, db_url)}`")


def crawl_into(data_dir: Path, db_url: str) -> str:
    """The command that creates this archive, with the options that name it."""
    options = f"--data-dir {shlex.quote(str(data_dir))}"
    if db_url != resolve_db_url(None, data_dir) or os.environ.get("ARSIP_DB_URL"):
        options += f" --db {shlex.quote(db_url)}"
    return f"arsip crawl URL {options}"


def open_existing_archive(data_dir: Path, db_url: str) -> Any:
    """The archive for read-only commands; a clear error when there is none yet."""
    from storage.archive import Archive

    require_archive_file(data_dir, db_url)
    return Archive.open(db_url, read_only=True)
