"""``arsip sites``: the sites the daemon keeps current, one identity each (``storage.sites``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from crawler.commands.common import (
    archive_options,
    checked_url,
    expected_errors,
    open_existing_archive,
)
from crawler.errors import UsageError


def _archive(data_dir: Path, db_url: str, *, write: bool) -> Any:
    from storage.archive import Archive

    if write:
        return Archive.open(db_url)  # creates or upgrades the archive: adding is a first step
    return open_existing_archive(data_dir, db_url)


@click.group()
def sites() -> None:
    """Register the sites ``arsip daemon`` keeps current, and change their schedules.

    \b
    Example:
      arsip sites add https://kudakyv.com/ --every 30m
      arsip sites list
    """


@sites.command("add")
@click.argument("url")
@click.option("--name", help="The site's name [default: the URL's host without www.].")
@click.option("--every", "every", default="1h", show_default=True,
              help="How often the daemon crawls it: 90s, 30m, 6h, 1d, 1h30m.")
@click.option("--profile", help="Site profile: a bundled name, a name in DATA_DIR/sites/, or a "
              ".toml file (its text is stored, not its path).")
@click.option("--max-pages", type=click.IntRange(min=1), help="Cap each crawl at N fetches.")
@archive_options
@expected_errors
def add(url: str, name: str | None, every: str, profile: str | None, max_pages: int | None,
        data_dir: Path, db_url: str) -> None:
    """Register URL's site to be crawled every --every by ``arsip daemon``.

    A site earlier one-off crawls put in the archive is taken over, with its pages, versions and
    validators, rather than registered twice.

    \b
    Example:
      arsip sites add https://kudakyv.com/ --every 30m --profile kudakyv
    """
    from crawler.sites import default_profile, load_profile
    from storage.durations import format_duration, parse_duration
    from storage.sites import add_site

    checked_url(url)
    try:
        seconds = parse_duration(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    default_profile(url)  # a URL with no host is a clear error here
    stored = load_profile(profile, (data_dir / "sites",)).stored if profile else None
    archive = _archive(data_dir, db_url, write=True)
    try:
        site, adopted = add_site(archive, base_url=url, name=name, profile=stored,
                                 schedule_seconds=seconds, max_pages=max_pages)
    finally:
        archive.close()
    how = f"crawled every {format_duration(seconds)} by `arsip daemon`"
    if adopted:
        click.echo(f"Site {site.name!r} was in the archive from earlier crawls; it is now {how}.")
    else:
        click.echo(f"Added site {site.name!r} ({site.base_url}), {how}.")


@sites.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the sites as JSON lines.")
@archive_options
@expected_errors
def list_(as_json: bool, data_dir: Path, db_url: str) -> None:
    """List every site in the archive, with its schedule and its last and next run.

    \b
    Example:
      arsip sites list --json
    """
    from rich.console import Console
    from rich.table import Table

    from crawler.summary import local_zone, minutes
    from storage.sites import list_sites

    archive = _archive(data_dir, db_url, write=False)
    try:
        rows = [site.as_dict() for site in list_sites(archive)]
    finally:
        archive.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo("No sites yet: arsip sites add URL --every 1h")
        return
    # local time, as `arsip status` and `sites show` print it
    table = Table(title=f"Sites (times: {local_zone()})", title_justify="left")
    for column in ("name", "base URL", "every", "state", "last run", "next run"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["base_url"], row["every"] or "-", _state(row),
                      minutes(row["last_run_at"]), minutes(row["next_run_at"]))
    Console().print(table)


def _state(row: dict[str, Any]) -> str:
    if not row["schedule_seconds"]:
        return "not scheduled"
    if not row["enabled"]:
        return "paused"
    return "active, overdue (is `arsip daemon` running?)" if row["overdue_since"] else "active"


@sites.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the site as JSON.")
@archive_options
@expected_errors
def show(name: str, as_json: bool, data_dir: Path, db_url: str) -> None:
    """Show one site: its schedule, profile, pages, health, recent runs and boilerplate.

    \b
    Example:
      arsip sites show kudakyv.com
    """
    from crawler.summary import print_boilerplate, print_site
    from storage.boilerplate import site_boilerplate
    from storage.health import site_report
    from storage.sites import get_site

    archive = _archive(data_dir, db_url, write=False)
    try:
        site = get_site(archive, name)
        report = site_report(archive, site)
        report["boilerplate"] = site_boilerplate(archive, site.id)
    finally:
        archive.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        print_site(report)
        print_boilerplate(report["boilerplate"])


@sites.command("remove")
@click.argument("name")
@archive_options
@expected_errors
def remove(name: str, data_dir: Path, db_url: str) -> None:
    """Take a site off the daemon's schedule. Nothing archived is deleted: its pages, versions,
    captures and runs stay, under its name, as after one-off crawls (search, replay and
    export still find them; `arsip sites add URL` schedules it again). A site never crawled
    is forgotten.

    \b
    Example:
      arsip sites remove kudakyv.com
    """
    from storage.sites import remove_site

    archive = _archive(data_dir, db_url, write=True)
    try:
        done = remove_site(archive, name)
    finally:
        archive.close()
    if done.deleted:
        click.echo(f"Removed site {done.site.name!r}; nothing had been archived of it.")
        return
    click.echo(
        f"Removed site {done.site.name!r} from the daemon's schedule. Its archive stays: "
        f"{done.pages} pages, {done.versions} article versions, {done.captures} captures "
        f"and {done.runs} runs, under the name {done.site.name!r} "
        f"(arsip sites add {done.site.base_url} schedules it again).")


@sites.command("set")
@click.argument("name")
@click.option("--every", help="A new interval: 90s, 30m, 6h, 1d, 1h30m.")
@click.option("--profile", help="A new site profile: a bundled name, a name in "
              "DATA_DIR/sites/, or a .toml file (its text is stored).")
@click.option("--no-profile", is_flag=True, help="Crawl it with the general rules.")
@click.option("--max-pages", type=click.IntRange(min=0),
              help="Cap each crawl at N fetches (0: no cap).")
@archive_options
@expected_errors
def set_(name: str, every: str | None, profile: str | None, no_profile: bool,
         max_pages: int | None, data_dir: Path, db_url: str) -> None:
    """Change how a registered site is crawled. A running daemon picks the change up within
    --sites-poll seconds: a new interval counts from the site's last run, and the profile and
    page cap apply from its next crawl.

    \b
    Example:
      arsip sites set kudakyv.com --every 15m --max-pages 2000
    """
    from crawler.sites import is_profile_text, load_profile
    from storage.durations import format_duration, parse_duration
    from storage.sites import update_site

    if every is None and profile is None and not no_profile and max_pages is None:
        raise click.UsageError("nothing to change: give --every, --profile, --no-profile "
                               "or --max-pages")
    if profile is not None and no_profile:
        raise click.UsageError("give --profile or --no-profile, not both")
    changes: dict[str, Any] = {}
    if every is not None:
        try:
            changes["schedule_seconds"] = parse_duration(every)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--every") from None
    if profile is not None:
        changes["profile"] = load_profile(profile, (data_dir / "sites",)).stored
    if no_profile:
        changes["profile"] = None
    if max_pages is not None:
        changes["max_pages"] = max_pages or None
    archive = _archive(data_dir, db_url, write=True)
    try:
        site = update_site(archive, name, **changes)
    finally:
        archive.close()
    said = []
    if "schedule_seconds" in changes:
        said.append(f"every {format_duration(site.schedule_seconds)}"
                    + ("" if site.enabled else " (paused: from when it is resumed)"))
    if "profile" in changes:
        said.append("profile: the general rules" if site.profile is None else
                    "profile: the TOML text given" if is_profile_text(site.profile) else
                    f"profile: {site.profile}")
    if "max_pages" in changes:
        said.append(f"at most {site.max_pages} fetches a crawl" if site.max_pages
                    else "no page cap")
    click.echo(f"Changed site {site.name!r}: {'; '.join(said)}. A running daemon applies it "
               "within its --sites-poll.")


def _set_enabled(name: str, enabled: bool, data_dir: Path, db_url: str) -> None:
    from storage.sites import get_site, set_enabled

    archive = _archive(data_dir, db_url, write=True)
    try:
        site = get_site(archive, name)
        if not site.schedule_seconds:
            raise UsageError(f"site {site.name!r} has no schedule; "
                             f"arsip sites add {site.base_url} --every 1h gives it one")
        site = set_enabled(archive, site.name, enabled)
    finally:
        archive.close()
    if enabled:
        click.echo(f"Resumed site {site.name!r}: the daemon crawls it again (at once if a run "
                   "was missed meanwhile).")
    else:
        click.echo(f"Paused site {site.name!r}: the daemon starts no new crawl of it.")


@sites.command("pause")
@click.argument("name")
@archive_options
@expected_errors
def pause(name: str, data_dir: Path, db_url: str) -> None:
    """Stop the daemon from crawling a site until ``arsip sites resume``.

    \b
    Example:
      arsip sites pause kudakyv.com
    """
    _set_enabled(name, False, data_dir, db_url)


@sites.command("resume")
@click.argument("name")
@archive_options
@expected_errors
def resume(name: str, data_dir: Path, db_url: str) -> None:
    """Let the daemon crawl a paused site again.

    \b
    Example:
      arsip sites resume kudakyv.com
    """
    _set_enabled(name, True, data_dir, db_url)

