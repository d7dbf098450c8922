"""``arsip extract``: the crawl's extraction, on local files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from crawler.commands.common import (
    EXIT_FAILED,
    archive_options,
    expected_errors,
    open_existing_archive,
)
from crawler.errors import ArsipError, ProfileError


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--url", help="The URL the page was served from (resolves relative links).")
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl", "text"]), default="json",
              show_default=True)
@click.option("--site", help="Whose extraction rules to apply: a site profile (DATA_DIR/sites/"
              "NAME.toml, a bundled one, or a .toml path) or a site registered in the archive.")
@archive_options
@expected_errors
def extract(paths: tuple[str, ...], url: str | None, fmt: str, site: str | None,
            data_dir: Path, db_url: str) -> None:
    """Extract clean article text and metadata from local HTML files, folders or - (stdin).

    \b
    Example:
      arsip extract page.html --url https://kudakyv.com/2025/04/28/korea-utara/
      arsip extract saved-pages/ --format jsonl > articles.jsonl
    """
    from crawler.extraction import article_to_dict, iter_extract_paths

    rules = profile_named(site, data_dir, db_url).extraction if site else None
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


def profile_named(name: str, data_dir: Path, db_url: str) -> Any:
    """The profile ``--site NAME`` means, found as ``arsip crawl --site`` finds it: a profile
    file (``DATA_DIR/sites/NAME.toml``, a bundled one, a path), else the profile a site
    registered under that name keeps in the archive."""
    from crawler.reextract import profile_of
    from crawler.sites import load_profile

    try:
        return load_profile(name, (data_dir / "sites",))
    except ProfileError as no_file:
        from storage.errors import StorageError
        from storage.sites import get_site

        try:
            # no archive yet, or no site of that name: the profile's own error says more
            with open_existing_archive(data_dir, db_url) as archive:
                site = get_site(archive, name)
        except (ArsipError, StorageError):
            raise no_file from None
        return profile_of(site.name, site.base_url, site.profile, data_dir)
