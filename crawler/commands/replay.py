"""``arsip replay``: serve, re-process and export what the archive holds."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import click

from crawler.commands.common import EXIT_INTERRUPTED, archive_options, expected_errors
from crawler.errors import ArsipError


def open_replay_archive(data_dir: Path, db_url: str) -> None:
    """Check there is an archive, and bring its schema up to date (the replay index and the
    search index came with schema 0002; an older archive is upgraded once, here)."""
    from storage.archive import Archive

    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.exists():
            raise ArsipError(f"no archive at {path}; run `arsip crawl URL --data-dir {data_dir}`")
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
@archive_options
@expected_errors
def serve(host: str, port: int, data_dir: Path, db_url: str) -> None:
    """Serve the archive in a web browser: pages as captured, search, CDX and Memento.

    Pages load only from the archive: nothing is ever fetched from the live web.

    \b
    Example:
      arsip replay serve --data-dir /srv/arsip --port 8080
      # then open http://127.0.0.1:8080/
    """
    import uvicorn

    from storage.replay.app import ReplayConfig, create_app

    open_replay_archive(data_dir, db_url)
    warc_dir = data_dir / "warc"
    if not warc_dir.is_dir():
        click.echo(f"Warning: no WARC folder at {warc_dir}: pages cannot be replayed, only "
                   "listed and searched.", err=True)
    app = create_app(ReplayConfig(db_url=db_url, warc_dir=warc_dir))
    try:
        sock = socket.create_server((host, port), family=_family(host), reuse_port=False)
    except OSError as exc:
        raise ArsipError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
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
