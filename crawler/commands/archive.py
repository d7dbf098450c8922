"""The commands that read (or rebuild) the archive: export, status, search, history, reindex."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.commands.common import (
    EXIT_FAILED,
    archive_options,
    checked_url,
    expected_errors,
    open_existing_archive,
    warc_root_options,
)
from crawler.errors import ArsipError

if TYPE_CHECKING:
    from storage.warcroots import WarcRoots


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of stdout.")
@archive_options
@expected_errors
def export(fmt: str, output: Path | None, data_dir: Path, db_url: str) -> None:
    """Export the latest version of every article.

    \b
    Example:
      arsip export --format csv -o articles.csv
    """
    from storage.report import export_articles, write_export

    archive = open_existing_archive(data_dir, db_url)
    try:
        if output is None:
            write_export(export_articles(archive), fmt, sys.stdout)
        else:
            try:
                out = output.open("w", encoding="utf-8", newline="")
            except OSError as exc:
                raise ArsipError(f"cannot write {output}: {exc.strerror or exc}") from None
            with out:
                write_export(export_articles(archive), fmt, out)
    finally:
        archive.close()


@click.command()
@click.option("--recover", "recover", multiple=True, metavar="NODE",
              help="First repair the WARC files crawl node NODE left open (its name as in "
                   "its files: ARSIP_NODE, or its host name), in every WARC folder. Only for "
                   "a node that is down for good: on a shared folder a live node's lock may "
                   "not be seen, and its file would be cut (repeatable).")
@archive_options
@warc_root_options
@expected_errors
def reindex(recover: tuple[str, ...], data_dir: Path, db_url: str,
            warc_roots: WarcRoots) -> None:
    """Rebuild the captures index from the WARC files, after a database failure or restore.

    Every response and revisit record of every closed WARC file gets its row back; rows
    already there are left alone, so it is safe to run at any time, even during a crawl.
    A crawl node that died leaves its last WARC file open; it repairs that itself when it
    crawls again, or --recover NODE does it here.

    \b
    Example:
      arsip reindex --data-dir /srv/arsip
      arsip reindex --recover node-b --warc-root node-b=/mnt/node-b/warc
    """
    from storage.archive import Archive
    from storage.reindex import reindex as reindex_archive
    from storage.warc import recover_open_files

    for folder in warc_roots.folders():
        if not folder.is_dir():  # before the database, which opening would create
            raise ArsipError(f"no WARC folder at {folder}")
    for node in recover:
        repaired = [path for folder in warc_roots.folders()
                    for path in recover_open_files(folder, node)]
        click.echo(f"{len(repaired)} WARC file{'s' * (len(repaired) != 1)} node {node} left "
                   f"open repaired{': ' if repaired else '.'}"
                   + ", ".join(path.name for path in repaired))
    archive = Archive.open(db_url)
    try:
        result = reindex_archive(archive, warc_roots)
    finally:
        archive.close()
    click.echo(f"{result.files} WARC files, {result.records} response and revisit records read, "
               f"{result.added} captures added to the index.")
    if result.still_open:
        click.echo(f"Left to the crawl writing them: {', '.join(result.still_open)}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@archive_options
@expected_errors
def status(as_json: bool, data_dir: Path, db_url: str) -> None:
    """Show what is in the archive: sites, pages, articles, captures, WARC files, last runs.

    \b
    Example:
      arsip status --data-dir /srv/arsip
    """
    from crawler.summary import print_sites_health, print_status
    from storage.health import sites_health
    from storage.report import archive_status

    archive = open_existing_archive(data_dir, db_url)
    try:
        report = archive_status(archive, data_dir / "warc")
        report["site_health"] = sites_health(archive)
    finally:
        archive.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        print_status({k: v for k, v in report.items() if k != "site_health"})
        print_sites_health(report["site_health"])


@click.command()
@click.argument("query")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--all-versions", is_flag=True,
              help="Also search earlier versions of articles (text since edited).")
@click.option("--site", help="Only articles of this site (its name).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON lines.")
@archive_options
@expected_errors
def search(query: str, limit: int, all_versions: bool, site: str | None, as_json: bool,
           data_dir: Path, db_url: str) -> None:
    """Full-text search of article titles and texts, best matches first.

    Every word must match; "quoted words" match as a phrase, OR accepts either of two
    terms, and -word excludes one. Words are matched whole, in any case. A query that
    starts with "-" goes after "--", as for any command: arsip search -- "-x banjir".

    \b
    Example:
      arsip search "korea utara" kursk --limit 5
      arsip search 'banjir -jakarta' --all-versions
    """
    from storage.report import search_articles
    from storage.search import SearchQueryError, checked_query

    try:
        checked_query(query)
    except SearchQueryError as exc:
        raise click.BadParameter(str(exc), param_hint="QUERY") from None
    archive = open_existing_archive(data_dir, db_url)
    try:
        hits = search_articles(archive, query, limit, all_versions=all_versions, site=site)
    finally:
        archive.close()
    for hit in hits:
        if as_json:
            click.echo(json.dumps({k: v for k, v in hit.items() if k != "marked"},
                                  ensure_ascii=False))
        else:
            earlier = "" if hit["current"] else \
                f"  [earlier version, {hit['version_fetched_at']}]"
            click.echo(f"{hit['published'] or '-'}  {hit['title'] or '(no title)'}{earlier}\n"
                       f"    {hit['url']}\n    {hit['snippet']}\n")
    if not hits:
        click.echo(f"no article matches {query!r}", err=True)
        sys.exit(EXIT_FAILED)


@click.command()
@click.argument("url")
@click.argument("versions", nargs=-1, type=click.IntRange(min=1), metavar="[A B]")
@click.option("--diff", is_flag=True,
              help="Show what changed between versions A and B, word by word [default: the "
                   "last two].")
@click.option("--json", "as_json", is_flag=True, help="Print the versions (or the diff) as JSON.")
@archive_options
@expected_errors
def history(url: str, versions: tuple[int, ...], diff: bool, as_json: bool, data_dir: Path,
            db_url: str) -> None:
    """List every stored version of one article, with its capture time and WARC record.

    \b
    Example:
      arsip history https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/
      arsip history https://kudakyv.com/2025/04/28/korea-utara-bantu-rusia/ --diff 1 3
    """
    from storage.report import article_url, similar_article_urls
    from storage.report import history as versions_of

    if versions and not diff:
        raise click.UsageError("version numbers go with --diff: arsip history URL --diff A B")
    if diff and len(versions) not in (0, 2):
        raise click.UsageError("--diff takes two version numbers, or none for the last two")
    checked_url(url, http_only=False)  # typed without its scheme, it is still looked for
    archive = open_existing_archive(data_dir, db_url)
    try:
        kept = article_url(archive, url)
        if kept is None:
            close = similar_article_urls(archive, url)
            raise ArsipError(f"the archive holds no article at {url}" + (
                "; the closest it holds:\n  " + "\n  ".join(close) if close else ""))
        url = kept
        found = versions_of(archive, url)
        if diff:
            show_diff(archive, url, found, versions, as_json)
            return
    finally:
        archive.close()
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for version in found:
        mark = " (current)" if version["current"] else ""
        where = "\n    ".join(_cited(version["capture"]))
        click.echo(f"v{version['version']}{mark}  {version['fetched_at']}  "
                   f"{version['text_length']} chars  {version['title']}\n    {where}")


def _cited(capture: dict[str, Any] | None) -> list[str]:
    """The lines that say which WARC record holds a version."""
    # the WARC-Record-ID is what a reader can cite and look up in any WARC tool; the file says
    # where it is (its offset is in --json)
    if capture is None:
        return ["no WARC record (stored without a capture)"]
    record = f"{capture['record_id']} in {capture['warc_file']}"
    if capture["record_type"] != "revisit":
        return [f"WARC record {record}"]
    # a revisit record has no body: the page answered what an earlier capture holds (a revert)
    lines = [f"WARC revisit record {record} (no body: the same payload as an earlier capture)"]
    original = capture["refers_to"]
    if original is None:
        lines.append("its body: not named by the revisit record (no WARC-Refers-To)")
    elif original["warc_file"] is None:
        lines.append(f"its body: WARC response record {original['record_id']} "
                     f"(WARC-Refers-To; not in this archive's index)")
    else:
        lines.append(f"its body: WARC response record {original['record_id']} in "
                     f"{original['warc_file']} (WARC-Refers-To, captured "
                     f"{original['fetched_at']})")
    return lines


def show_diff(archive: Any, url: str, found: list[dict[str, Any]], versions: tuple[int, ...],
              as_json: bool) -> None:
    """The word-level diff between two versions of ``url`` (the last two by default)."""
    from crawler.summary import print_diff
    from storage.report import version_texts
    from storage.textdiff import word_diff

    numbers = [v["version"] for v in found]
    if not versions:
        if len(numbers) < 2:
            raise ArsipError(f"{url} has one version only: nothing to compare")
        versions = (numbers[-2], numbers[-1])
    missing = [n for n in versions if n not in numbers]
    if missing:
        raise ArsipError(f"{url} has no version {missing[0]}; it has versions "
                         f"{numbers[0]} to {numbers[-1]}")
    a, b = versions
    texts = version_texts(archive, url, (a, b))
    title = word_diff(texts[a]["title"] or "", texts[b]["title"] or "")
    body = word_diff(texts[a]["text"], texts[b]["text"])
    if as_json:
        click.echo(json.dumps({"url": url, "from": {"version": a, **texts[a]},
                               "to": {"version": b, **texts[b]},
                               "title": [vars(p) for p in title],
                               "text": [vars(p) for p in body]}, ensure_ascii=False, indent=2))
        return
    print_diff(url, (a, texts[a]["fetched_at"]), (b, texts[b]["fetched_at"]), title, body)
