"""``arsip crawl``: one crawl of one site, in this process."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import click

from crawler.commands.common import archive_options, checked_url, expected_errors
from crawler.errors import ArsipError
from crawler.launch import HeldSignals


@click.command()
@click.argument("urls", nargs=-1)
@click.option("--site", help="A site registered with `arsip sites add` (its stored profile "
              "wins over a profile of the same name), or a site profile name or .toml path.")
@click.option("--site-id", type=click.IntRange(min=1), metavar="ID",
              help="A registered site by its id, never a profile (the daemon's crawls use it).")
@click.option("--max-pages", type=click.IntRange(min=1), help="Stop after fetching N pages.")
@click.option("--since", help="Skip articles dated before DATE (YYYY-MM-DD, midnight UTC): "
              "by their sitemap or feed date, or by their own published date.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override a Scrapy or ARSIP_* setting (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="Log every request (INFO) on stderr.")
@click.option("--progress/--no-progress", default=None,
              help="Live progress [default: on when stderr is a terminal].")
@click.option("--wait", is_flag=True,
              help="If the site is being crawled already (by the daemon, or another crawl), "
                   "wait for that crawl to end rather than stop with an error.")
@archive_options
@expected_errors
def crawl(urls: tuple[str, ...], site: str | None, site_id: int | None, max_pages: int | None,
          since: str | None, overrides: tuple[str, ...], verbose: bool, progress: bool | None,
          wait: bool, data_dir: Path, db_url: str) -> None:
    """Crawl a news site once: every article into the database, every response into WARC.

    Ctrl-C (or SIGTERM, SIGHUP) stops it cleanly: requests in flight finish and everything
    fetched is archived; a second one stops at once, still keeping what was fetched.

    \b
    Example:
      arsip crawl https://kudakyv.com/ --max-pages 500 --since 2025-04-01
    """
    from crawler.config import parse_overrides, parse_since
    from scheduler.child import DaemonGoneError, daemon_pid, exit_with_daemon

    try:
        exit_with_daemon()  # started by `arsip daemon`: end with it
    except DaemonGoneError as exc:
        raise ArsipError(str(exc)) from None
    if site and site_id:
        raise click.UsageError("give --site NAME or --site-id ID, not both")
    if not urls and not site and not site_id:
        raise click.UsageError("give at least one URL, or --site NAME")
    for url in urls:
        checked_url(url)
    parse_since(since)
    settings: dict[str, Any] = {
        "ARSIP_DATA_DIR": str(data_dir),
        "ARSIP_DB_URL": db_url,
        "ARSIP_TRIGGER": "cli",
        "ARSIP_PROGRESS": sys.stderr.isatty() if progress is None else progress,
    }
    if max_pages:
        settings["ARSIP_MAX_PAGES"] = max_pages
    if site_id:
        settings["ARSIP_SITE_ID"] = site_id
    if wait:
        settings["ARSIP_WAIT"] = True
    settings.update(parse_overrides(overrides))
    # From here on a signal stops the crawl cleanly, whatever it is doing: the runtime comes
    # before the imports and processes of the crawl itself.
    from crawler.runtime import CrawlRuntime

    runtime = CrawlRuntime(install_signal_handlers=True,
                           state_file=settings.get("ARSIP_STATE_FILE") or None,
                           daemon_pid=daemon_pid())
    held = click.get_current_context().find_object(HeldSignals)
    if held is not None:  # signals that came while arsip was starting (crawler.launch)
        runtime.take_signals(held.received)
    from crawler.run import run_crawl
    from crawler.summary import print_summary

    try:
        result = run_crawl(urls, settings, runtime=runtime, site=site, since=since,
                           verbose=verbose)
    except BaseException:
        runtime.exiting()
        raise
    # Everything is written and closed; a signal from here on ends the process at once with
    # the decided exit code (the runtime is in its final state).
    if result.opened:
        print_summary(result, data_dir)
    if result.failure:
        click.echo(f"Error: {result.failure}", err=True)
    elif result.signal:
        kept = "what was fetched is archived" if result.opened else "nothing was fetched"
        click.echo(f"Error: interrupted ({result.signal}); {kept}", err=True)
    runtime.exiting()
    # Frozen objects are skipped by the collections of interpreter shutdown, which otherwise
    # walk the whole heap of a big crawl once more (0.3 s after a 1,000-article crawl).
    gc.freeze()
    sys.exit(result.exit_code)
