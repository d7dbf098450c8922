"""``arsip extract``: the crawl's extraction, on local files."""

from __future__ import annotations

import json
import sys

import click

from crawler.commands.common import EXIT_FAILED, expected_errors


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--url", help="The URL the page was served from (resolves relative links).")
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl", "text"]), default="json",
              show_default=True)
@click.option("--site", help="Site profile whose extraction rules to apply.")
@expected_errors
def extract(paths: tuple[str, ...], url: str | None, fmt: str, site: str | None) -> None:
    """Extract clean article text and metadata from local HTML files, folders or - (stdin).

    \b
    Example:
      arsip extract page.html --url https://kudakyv.com/2025/04/28/korea-utara/
      arsip extract saved-pages/ --format jsonl > articles.jsonl
    """
    from crawler.extraction import article_to_dict, iter_extract_paths
    from crawler.sites import load_profile

    rules = load_profile(site).extraction if site else None
    results, failures = [], 0
    for source, outcome in iter_extract_paths(list(paths), url=url, rules=rules):
        if isinstance(outcome, Exception):
            failures += 1
            click.echo(f"{source}: {outcome}", err=True)
            continue
        record = article_to_dict(outcome, source)
        if fmt == "jsonl":
            click.echo(json.dumps(record, ensure_ascii=False))
        elif fmt == "text":
            click.echo(f"{record['title'] or ''}\n\n{record['text']}\n")
        else:
            results.append(record)
    if fmt == "json" and results:
        payload = results[0] if len(results) == 1 and len(paths) == 1 else results
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    if failures:
        sys.exit(EXIT_FAILED)
