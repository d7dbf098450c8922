"""The ``arsip`` command: a click group with one thin function per subcommand over a library
function (``crawler/commands/``).

Expected failures (``ArsipError``, ``StorageError``) become one ``Error:`` line on stderr and a
non-zero exit (2 for a wrong flag, 1 for a failure, 128 + N for a signal); a traceback means a
bug. A new command or group goes in ``crawler/commands/NAME.py`` and gets one line below.
"""

from __future__ import annotations

import click

from crawler.commands.archive import export, history, reindex, search, status
from crawler.commands.crawl import crawl
from crawler.commands.daemon import daemon
from crawler.commands.extract import extract
from crawler.commands.nodes import deploy, nodes
from crawler.commands.replay import replay
from crawler.commands.sites import sites
from crawler.launch import HeldSignals
from crawler.runtime import signal_name


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="arsip")
@click.pass_context
def main(ctx: click.Context) -> None:
    """arsip: archive news sites into WARC files and a searchable database.

    \b
    Example:
      arsip crawl https://kudakyv.com/
      arsip export --format jsonl -o articles.jsonl
    """
    held = ctx.find_object(HeldSignals)
    if held is None or ctx.invoked_subcommand in ("crawl", "daemon"):
        return  # the crawl's runtime or the daemon takes the signals over, and those received
    held.release()
    if held.received:
        click.echo(f"Error: interrupted ({signal_name(held.received[0])}) before "
                   f"`arsip {ctx.invoked_subcommand}` began", err=True)
        ctx.exit(128 + held.received[0])


main.add_command(crawl)
main.add_command(extract)
main.add_command(export)
main.add_command(status)
main.add_command(search)
main.add_command(history)
main.add_command(reindex)
main.add_command(replay)
main.add_command(sites)
main.add_command(daemon)
main.add_command(nodes)
main.add_command(deploy)


if __name__ == "__main__":
    main()
