"""``arsip nodes`` and ``arsip deploy``: the Scrapyd crawl nodes (``scheduler.nodes``)."""

from __future__ import annotations

import functools
import json
import time
import zipfile
from collections.abc import Callable
from importlib import metadata
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import click

from crawler.commands.common import expected_errors
from crawler.errors import ArsipError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

# what an egg of arsip holds: its packages (modules and their data files)
PACKAGES = ("crawler", "storage", "scheduler")


def nodes_option(func: F) -> F:
    """``--nodes URL,URL`` (env ``ARSIP_NODES``): the command gets ``nodes``, a tuple."""

    @click.option("--nodes", "node_urls", multiple=True, metavar="URL[,URL...]",
                  envvar="ARSIP_NODES",
                  help="Scrapyd crawl nodes, http://HOST:6800 (comma-separated or repeated; "
                       "env ARSIP_NODES).")
    @functools.wraps(func)
    def wrapper(*args: Any, node_urls: tuple[str, ...], **kwargs: Any) -> Any:
        from scheduler.nodes import NodeError, parse_nodes

        try:
            nodes = parse_nodes(node_urls)
        except NodeError as exc:
            raise click.BadParameter(str(exc), param_hint="--nodes") from None
        return func(*args, nodes=nodes, **kwargs)

    return wrapper  # type: ignore[return-value]


def node_database(db_url: str, override: str | None) -> str:
    """The database URL crawl nodes are sent: ``override``, else the daemon's own without
    its password (nodes read it from PGPASSWORD or ~/.pgpass; a job's settings are shown by
    Scrapyd's listjobs.json and on its command line)."""
    from storage.db import normalise_url

    for given in (db_url, override):
        # the daemon's own database too: its sites, runs and run lock are the nodes' ones
        if given is not None and normalise_url(given).get_backend_name() == "sqlite":
            raise UsageError("crawl nodes need a database they can all reach: "
                             "--db postgresql://USER@HOST/DB (and --nodes-db)")
    url = normalise_url(override or db_url)
    return url.set(password=None).render_as_string(hide_password=False)


@click.command()
@nodes_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@expected_errors
def nodes(nodes: tuple[str, ...], as_json: bool) -> None:
    """Show the crawl nodes: whether each answers, and the arsip crawls it runs.

    \b
    Example:
      arsip nodes --nodes http://crawl1:6800,http://crawl2:6800
    """
    from scheduler.nodes import node_report

    if not nodes:
        raise UsageError("name the crawl nodes: --nodes http://HOST:6800 (or ARSIP_NODES)")
    report = node_report(nodes)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for entry in report:
            if entry["health"] != "ok":
                click.echo(f"{entry['url']}  down: {entry['error']}")
                continue
            click.echo(f"{entry['url']}  ok ({entry.get('node_name') or '?'}): "
                       f"{len(entry['running'])} running, {len(entry['pending'])} pending, "
                       f"{entry['finished']} finished")
            for job in entry["running"]:
                click.echo(f"    running  {job['id']}  pid {job.get('pid', '?')}  since "
                           f"{job.get('start_time', '?')}")
            for job in entry["pending"]:
                click.echo(f"    pending  {job['id']}")
    if all(entry["health"] != "ok" for entry in report):
        raise ArsipError("no crawl node answers")


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--egg", "egg_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also keep the egg in this file.")
@expected_errors
def deploy(urls: tuple[str, ...], egg_out: Path | None) -> None:
    """Put this arsip on Scrapyd crawl nodes, as project "arsip" (an egg, addversion.json).

    A node needs arsip's dependencies and Scrapyd installed. Scrapyd puts the egg last on
    Python's path: a node where arsip is installed as a regular package (or on PYTHONPATH) runs
    that copy instead; an editable install (pip install -e '.[scale]') or the dependencies alone
    let the egg run. Each crawl logs "arsip code from PATH".

    \b
    Example:
      arsip deploy http://crawl1:6800 http://crawl2:6800
    """
    import tempfile

    from scheduler.nodes import PROJECT, NodeError, ScrapydNode, parse_nodes

    try:
        targets = parse_nodes(urls)
    except NodeError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    version = f"{_arsip_version()}.{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="arsip-egg-") as tmp:
        egg = build_egg(Path(tmp) / f"arsip-{version}.egg", version)
        data = egg.read_bytes()
        if egg_out is not None:
            egg_out.write_bytes(data)
    failed = []
    for url in targets:
        try:
            answer = ScrapydNode(url, 0, timeout=60).call(
                "addversion.json", [("project", PROJECT), ("version", version),
                                    ("egg", data)])  # type: ignore[list-item]
        except NodeError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed.append(url)
            continue
        click.echo(f"{url}: arsip {version} deployed ({answer.get('spiders', '?')} spider)")
    if failed:
        raise ArsipError(f"not deployed to {', '.join(failed)}")


def build_egg(path: Path, version: str) -> Path:
    """An egg of arsip's packages as they are installed here, with the entry point Scrapyd
    reads the settings module from."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as egg:
        for package in PACKAGES:
            _add_tree(egg, files(package), package)
        egg.writestr("EGG-INFO/PKG-INFO",
                     f"Metadata-Version: 2.1\nName: arsip\nVersion: {version}\n")
        egg.writestr("EGG-INFO/entry_points.txt", "[scrapy]\nsettings = crawler.settings\n")
        egg.writestr("EGG-INFO/top_level.txt", "".join(f"{p}\n" for p in PACKAGES))
        egg.writestr("EGG-INFO/zip-safe", "")
    return path


def _add_tree(egg: zipfile.ZipFile, folder: Traversable, name: str) -> None:
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.name == "__pycache__" or item.name.endswith(".pyc"):
            continue
        if item.is_dir():
            _add_tree(egg, item, f"{name}/{item.name}")
        else:
            egg.writestr(f"{name}/{item.name}", item.read_bytes())


def _arsip_version() -> str:
    try:
        return metadata.version("arsip")
    except metadata.PackageNotFoundError:
        return "0"
