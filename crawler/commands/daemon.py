"""``arsip daemon``: keep every scheduled site's archive current (``scheduler.daemon``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crawler.commands.common import archive_options, expected_errors
from crawler.commands.nodes import node_database, nodes_option


@click.command()
@click.option("--max-concurrent", type=click.IntRange(min=1), default=None,
              help="Crawls running at once, at most [default: 2; with --nodes, their number "
                   "times --per-node].")
@click.option("--jitter", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Delay each run by up to this many seconds (and 10% of its interval at "
                   "most), so sites do not all start at once.")
@click.option("--stop-timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="On SIGTERM or Ctrl-C, seconds running crawls get to close their WARC files "
                   "before SIGKILL.")
@click.option("--sites-poll", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds between looks at the sites table (arsip sites add/pause/remove "
                   "take effect within this).")
@click.option("--keep-logs", type=click.IntRange(min=1), default=100, show_default=True,
              help="Crawl logs kept per site (the oldest are removed).")
@click.option("--retry-delays", default="5,15,60,300", show_default=True, metavar="S,S,...",
              callback=lambda _ctx, _param, value: _delays(value),
              help="A crawl that ends without a run (it failed before its run opened, e.g. a "
                   "dropped database connection) runs again after each of these waits in "
                   "turn, never later than its next scheduled run; then the site waits for "
                   "that. An empty value: no retries.")
@click.option("-s", "--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="A setting for every crawl, as `arsip crawl -s` takes (repeatable).")
@nodes_option
@click.option("--per-node", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --nodes: crawls running at once on each node, at most.")
@click.option("--nodes-db", "nodes_db", metavar="URL",
              help="With --nodes: the database URL the nodes write to [default: --db without "
                   "its password; a node reads that from its PGPASSWORD or ~/.pgpass].")
@click.option("--node-lost-after", type=click.FloatRange(min=0.1), default=30.0,
              show_default=True,
              help="With --nodes: seconds a node may not answer before its crawls are taken "
                   "for lost and their sites dispatched again.")
@archive_options
@expected_errors
def daemon(max_concurrent: int | None, jitter: float, stop_timeout: float, sites_poll: float,
           keep_logs: int, retry_delays: tuple[float, ...], settings: tuple[str, ...],
           nodes: tuple[str, ...], per_node: int,
           nodes_db: str | None, node_lost_after: float, data_dir: Path, db_url: str) -> None:
    """Crawl every site registered with `arsip sites add` on its schedule, until stopped.

    A run missed while the daemon was down runs once when it starts; sites whose crawl died
    with an earlier daemon run first. Its log is DATA_DIR/logs/daemon.log (and stdout on a
    terminal); each crawl logs to its own file beside it. SIGTERM or Ctrl-C stops it cleanly
    (exit 0), also while it is starting.

    \b
    With --nodes the crawls run on Scrapyd crawl nodes instead of here (see `arsip nodes`).

    \b
    Example:
      arsip sites add https://kudakyv.com/ --every 30m
      arsip daemon --max-concurrent 4
      arsip daemon --db postgresql://arsip@db/arsip --nodes http://n1:6800,http://n2:6800
    """
    from crawler.config import parse_overrides, resolve_warc_dir
    from crawler.launch import HeldSignals
    from scheduler.daemon import Daemon, DaemonConfig
    from scheduler.logs import configure_logging
    from storage.archive import Archive

    # checked here: a typo must not fail every crawl later
    overrides = parse_overrides(settings)
    nodes_db_url = ""
    if nodes:
        nodes_db_url = node_database(db_url, nodes_db)
        max_concurrent = max_concurrent or len(nodes) * per_node
    # still held (crawler.cli): a SIGTERM while the database is migrated or the log opened is
    # recorded, and the daemon stops cleanly once it has its own handlers
    held = click.get_current_context().find_object(HeldSignals)
    log = configure_logging(data_dir / "logs", to_stdout=sys.stdout.isatty())
    if not sys.stdout.isatty():
        click.echo(f"arsip daemon: logging to {log}", err=True)
    archive = Archive.open(db_url)
    try:
        code = Daemon(DaemonConfig(
            data_dir=data_dir, db_url=db_url,
            crawl_command=(sys.executable, "-m", "crawler"),
            max_concurrent=max_concurrent or 2, max_jitter=jitter, stop_timeout=stop_timeout,
            sites_poll=sites_poll, settings=settings, keep_logs=keep_logs,
            warc_dir=resolve_warc_dir(overrides.get("ARSIP_WARC_DIR"), data_dir),
            nodes=nodes, per_node=per_node, nodes_db_url=nodes_db_url,
            node_lost_after=node_lost_after, retry_delays=retry_delays,
        ), archive, held.received if held else ()).run()
    finally:
        archive.close()
    sys.exit(code)


def _delays(value: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(item) for item in value.split(",") if item.strip())
    except ValueError:
        raise click.BadParameter(f"seconds separated by commas (5,15,60), not {value!r}"
                                 ) from None
    if any(delay <= 0 for delay in delays):
        raise click.BadParameter(f"each wait is more than 0 seconds, not {value!r}")
    return delays
