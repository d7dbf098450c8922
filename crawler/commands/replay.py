"""``arsip replay``: serve, re-process and export what the archive holds."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from crawler.commands.common import (
    EXIT_INTERRUPTED,
    archive_options,
    expected_errors,
    require_archive_file,
    warc_root_options,
)
from crawler.errors import ArsipError

if TYPE_CHECKING:
    from storage.warcroots import WarcRoots


def open_replay_archive(data_dir: Path, db_url: str) -> None:
    """Check there is an archive and that its schema is current; an older one is upgraded
    here, once (the replay and search indexes came with schema 0002). A current archive is
    only read, so a read-only copy can be served."""
    from storage.archive import Archive
    from storage.db import SCHEMA_HEAD, create_engine_for, schema_version

    require_archive_file(data_dir, db_url)
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as conn:
            current = schema_version(conn)
    except Exception:  # unreachable or unreadable: Archive.open says why, in one line
        current = None
    finally:
        engine.dispose()
    if current != SCHEMA_HEAD:
        Archive.open(db_url).close()


@click.group()
def replay() -> None:
    """Browse, search, re-process and export the archive.

    \b
    Example:
      arsip replay serve --port 8080
    """


@replay.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (another than 127.0.0.1 exposes the archive).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this Host name (behind a proxy; repeatable). "
                   "On 127.0.0.1 only 127.0.0.1 and localhost are answered.")
@archive_options
@warc_root_options
@expected_errors
def serve(host: str, port: int, allow_hosts: tuple[str, ...], data_dir: Path,
          db_url: str, warc_roots: WarcRoots) -> None:
    """Serve the archive in a web browser: pages as captured, search, CDX and Memento.

    Pages load only from the archive: nothing is ever fetched from the live web.

    \b
    Example:
      arsip replay serve --data-dir /srv/arsip --port 8080
      # then open http://127.0.0.1:8080/
    """
    import uvicorn

    from storage.replay.app import LOOPBACK_HOSTS, ReplayConfig, create_app

    open_replay_archive(data_dir, db_url)
    for folder in warc_roots.folders():
        if not folder.is_dir():
            click.echo(f"Warning: no WARC folder at {folder}: its pages cannot be replayed, "
                       "only listed and searched.", err=True)
    names = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else ("*",)
    app = create_app(ReplayConfig(db_url=db_url, warc_dir=warc_roots,
                                  allowed_hosts=(*names, *allow_hosts)))
    try:
        sock = socket.create_server((host, port), family=_family(host), reuse_port=False)
    except OSError as exc:
        raise ArsipError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if names == ("*",):
        click.echo(f"Warning: listening on {host}: the archive is open to other machines.",
                   err=True)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {data_dir} at http://{shown}:{bound}/  (Ctrl-C to stop)", err=True)
    # no Server or Date header of uvicorn's own: an id_ response carries the archived ones
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           server_header=False, date_header=False,
                                           timeout_graceful_shutdown=5))
    try:
        # uvicorn shuts down gracefully on Ctrl-C, then raises it again for us
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    finally:
        sock.close()
        app.state.replay.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


@replay.command()
@click.option("--site", help="Only this site (its name, as `arsip status` lists it).")
@click.option("--since", help="Only captures from DATE on (YYYY-MM-DD or ISO 8601).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Extraction processes [default: one per core].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar [default: on when stderr is a terminal].")
@click.option("--boilerplate/--no-boilerplate", default=True, show_default=True,
              help="Learn each site's boilerplate lines again and strip them.")
@archive_options
@warc_root_options
@expected_errors
def reextract(site: str | None, since: str | None, workers: int | None, as_json: bool,
              progress: bool | None, boilerplate: bool, data_dir: Path, db_url: str,
              warc_roots: WarcRoots) -> None:
    """Run today's extraction again over the archived pages; nothing is fetched.

    Stores a new article version wherever the text now differs. After `arsip reindex` on an
    empty database it brings the articles back: the WARC files alone rebuild the archive.

    \b
    Example:
      arsip replay reextract --site kudakyv --since 2025-04-01
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from crawler.config import parse_since
    from crawler.reextract import as_json as result_json
    from crawler.reextract import reextract as run_reextract
    from crawler.reextract import summary_lines
    from storage.archive import Archive
    from storage.records import BoilerplateConfig

    since_at = parse_since(since)
    open_replay_archive(data_dir, db_url)
    show = sys.stderr.isatty() if progress is None else progress
    bar = Progress("Re-extracting", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   disable=not show, transient=True)
    task = bar.add_task("pages", total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    archive = Archive.open(db_url)
    try:
        with bar:
            result = run_reextract(archive, warc_roots, data_dir, site=site,
                                   since=since_at, workers=workers, progress=advance,
                                   boilerplate=BoilerplateConfig(enabled=boilerplate))
    finally:
        archive.close()
    if as_json:
        click.echo(result_json(result))
    else:
        click.echo("\n".join(summary_lines(result)))


@replay.command(name="export-wacz")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The WACZ file to write.")
@click.option("--site", help="Only this site's captures.")
@click.option("--since", help="Only captures from DATE on (YYYY-MM-DD or ISO 8601).")
@archive_options
@warc_root_options
@expected_errors
def export_wacz(output: Path, site: str | None, since: str | None, data_dir: Path,
                db_url: str, warc_roots: WarcRoots) -> None:
    """Export the archive as a WACZ file (for ReplayWeb.page, pywb and other tools).

    It holds the WARC files, a CDXJ index, every article's title and clean text
    (pages/pages.jsonl), and datapackage.json with the hash of each file.

    \b
    Example:
      arsip replay export-wacz -o kudakyv-april.wacz --site kudakyv --since 2025-04-01
    """
    from crawler.config import parse_since
    from storage.db import create_engine_for
    from storage.wacz import export_wacz as write_wacz

    since_at = parse_since(since)
    if output.suffix.lower() != ".wacz":
        raise click.UsageError(f"the output should be a .wacz file, not {output.name!r}")
    open_replay_archive(data_dir, db_url)
    engine = create_engine_for(db_url)
    try:
        result = write_wacz(engine, warc_roots, output, site=site, since=since_at,
                            software=f"arsip {_version()}")
    finally:
        engine.dispose()
    click.echo(f"Wrote {result.path}: {result.warc_files} WARC files, {result.captures:,} "
               f"captures, {result.pages:,} articles, {result.bytes / 1e6:.1f} MB.")


@replay.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of stdout.")
@archive_options
@expected_errors
def index(output: Path | None, data_dir: Path, db_url: str) -> None:
    """Write a sorted CDXJ index of every capture, as pywb and cdxj-indexer write it.

    \b
    Example:
      arsip replay index -o index.cdxj
      # pywb: copy it to collections/NAME/indexes/ beside the WARC files in archive/
    """
    from storage.db import create_engine_for
    from storage.index import CaptureIndex, write_cdxj

    open_replay_archive(data_dir, db_url)
    engine = create_engine_for(db_url)
    try:
        if output is None:
            try:
                write_cdxj(CaptureIndex(engine), sys.stdout)
                sys.stdout.flush()
            except BrokenPipeError:
                # the reader has had enough (`| head`): nothing to report; stdout goes to
                # /dev/null so that Python's own flush at exit does not complain either
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        partial = output.with_name(output.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                count = write_cdxj(CaptureIndex(engine), out)
            partial.replace(output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ArsipError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        engine.dispose()
    click.echo(f"Wrote {count:,} captures to {output}.", err=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("arsip")
    except PackageNotFoundError:
        return "dev"
