"""arsip on crawl nodes: running from a Scrapyd egg (a zip), WARC files of several nodes."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from storage.archive import Archive
from storage.replay.app import ReplayConfig, create_app
from storage.warcroots import WarcRoots
from tests.newsite import BaseURL, Site, build_site, serve

ROOT = Path(__file__).parents[1]

FROM_THE_EGG = """
import sys
import crawler, storage
egg = sys.argv[1]
assert crawler.__file__.startswith(egg) and storage.__file__.startswith(egg), crawler.__file__
from crawler.config import setting_defaults
from crawler.sites import load_profile, stored_profile
from storage.db import SCHEMA_HEAD, WRITE, create_engine_for, schema_version, upgrade_with_alembic
assert load_profile("kudakyv").stored == "kudakyv"
assert stored_profile("kudakyv", "k").base_url.startswith("https://")
assert setting_defaults()["ARSIP_WARC_PREFIX"] == "arsip"
engine = create_engine_for("sqlite:///" + sys.argv[2])
with engine.connect() as conn:
    conn = conn.execution_options(**WRITE)
    with conn.begin():
        upgrade_with_alembic(conn)  # every migration script, read from the zip
        assert schema_version(conn) == SCHEMA_HEAD
print("ok")
"""


def test_bundled_data_is_read_from_an_egg(tmp_path: Path) -> None:
    """Scrapyd runs a project from a zipped egg: profiles, settings and migrations are read as
    package resources, not from a folder beside the module."""
    egg = tmp_path / "arsip.egg"
    with zipfile.ZipFile(egg, "w") as zf:
        for package in ("crawler", "storage", "scheduler"):
            for path in sorted((ROOT / package).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(ROOT).as_posix())
    done = subprocess.run(
        [sys.executable, "-c", FROM_THE_EGG, str(egg), str(tmp_path / "arsip.db")],
        cwd=tmp_path, env={"PYTHONPATH": str(egg), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


CRAWL = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1",
         "-s", "ARSIP_REQUISITES=False")


@pytest.fixture
def two_sites() -> Iterator[list[tuple[Site, BaseURL]]]:
    with ExitStack() as stack:
        sites = [build_site(n_articles=6, seed=n) for n in range(2)]
        yield [(site, stack.enter_context(serve(site))) for site in sites]


def crawl_as_node(node: str, base: str, root: Path, data_dir: Path, db_url: str,
                  ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data_dir),
         "--db", db_url, *CRAWL, "-s", f"ARSIP_NODE={node}", "-s", f"ARSIP_WARC_DIR={root}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.postgres
def test_two_nodes_crawl_at_once_into_one_archive_and_both_replay(
        tmp_path: Path, pg_url: str, two_sites: list[tuple[Site, BaseURL]]) -> None:
    """Two crawl nodes (here: two processes with a node name and a storage root each) crawl
    two sites at once into one PostgreSQL archive. Every article is stored once, each node's
    WARC files carry its name, and replay and reindex read the files from both roots."""
    data_dir = tmp_path / "arsip-data"
    roots = {"node-a": tmp_path / "a-warc", "node-b": tmp_path / "b-warc"}
    crawls = [crawl_as_node(node, base, roots[node], data_dir, pg_url)
              for node, (_, base) in zip(roots, two_sites, strict=True)]
    for crawl in crawls:
        _, err = crawl.communicate(timeout=240)
        assert crawl.returncode == 0, err
    for node, root in roots.items():
        names = [p.name for p in root.iterdir()]
        assert names and all(n.endswith(f"-{node.replace('-', '_')}.warc.gz") for n in names)

    with Archive.open(pg_url) as archive, archive.read() as conn:
        stored = conn.exec_driver_sql(
            "SELECT p.url, count(v.id) FROM pages p JOIN article_versions v ON v.page_id = p.id "
            "GROUP BY p.url").fetchall()
        captures = conn.exec_driver_sql(
            "SELECT url, fetched_at, warc_file FROM captures WHERE status = 200 "
            "AND record_type = 'response'").fetchall()
    articles = {spec.url(base) for site, base in two_sites for spec in site.articles}
    assert {url for url, _ in stored} == articles and {n for _, n in stored} == {1}

    # replay: a capture of each node's, from its own root
    every = WarcRoots.parse(data_dir / "warc", [f"{n}={root}" for n, root in roots.items()])
    app = create_app(ReplayConfig(pg_url, every))
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        for node in roots:
            url, when, _ = next(c for c in captures if c.warc_file.endswith(
                f"-{node.replace('-', '_')}.warc.gz") and c.url in articles)
            page = client.get(f"/{when:%Y%m%d%H%M%S}id_/{url}")
            assert page.status_code == 200 and b"<html" in page.content.lower()
    app.state.replay.close()

    # reindex: an emptied index gets back the captures of both nodes
    with Archive.open(pg_url) as archive, archive.write() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM captures").scalar()
        conn.exec_driver_sql("UPDATE article_versions SET capture_id = NULL")
        conn.exec_driver_sql("DELETE FROM captures")
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "reindex", "--data-dir", str(data_dir), "--db", pg_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "ARSIP_WARC_ROOTS": ",".join(f"{n}={r}" for n, r in roots.items())})
    assert done.returncode == 0, done.stderr
    with Archive.open(pg_url) as archive, archive.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM captures").scalar() == before


def test_a_badly_named_warc_root_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "reindex", "--data-dir", str(tmp_path),
         "--warc-root", "node-a"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "a node's WARC root is HOST=DIR, not 'node-a'" in done.stderr


def test_a_file_is_read_from_its_nodes_root(tmp_path: Path) -> None:
    roots = WarcRoots.parse(tmp_path / "warc", ["node-a=/srv/a,b.example=/srv/b", "c=~/c"])
    assert roots.folder_of("arsip-20250428070500000-00000-node_a.warc.gz") == Path("/srv/a")
    assert roots.folder_of("arsip-20250428070500000-00001-b.example.warc.gz.open") == Path(
        "/srv/b")
    assert roots.folder_of("arsip-20250428070500000-00000-other.warc.gz") == tmp_path / "warc"
    assert roots.folder_of("imported.warc.gz") == tmp_path / "warc"
    assert roots.folders() == [Path("/srv/a"), Path("/srv/b"), Path("~/c").expanduser()]


def test_a_start_up_error_outside_arsip_crawl_is_one_line(tmp_path: Path) -> None:
    """Scrapyd runs ``scrapy crawl``, not ``arsip crawl``: an error while the spider is built
    is one line in its log (no traceback of a task nobody awaited) and the job fails."""
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-s", f"ARSIP_DATA_DIR={tmp_path}",
         "-s", "ARSIP_SINCE=yesterday-ish", "-a", "url=http://127.0.0.1:9/"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "Error:" in x]
    assert "CRITICAL: Error: " in line and "yesterday-ish" in line


def test_nodes_that_do_not_answer_are_reported_down(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "nodes", "--nodes", "http://127.0.0.1:9,http://127.0.0.1:9/"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout.splitlines() == ["http://127.0.0.1:9  down: [Errno 111] Connection refused"]
    assert done.stderr.strip() == "Error: no crawl node answers"


@pytest.mark.parametrize(("args", "message"), [
    (["--nodes", "http://127.0.0.1:9"], "crawl nodes need a database they can all reach"),
    (["--nodes", "crawl1:6800"], "a crawl node is a Scrapyd URL (http://HOST:6800)"),
])
def test_the_daemon_refuses_nodes_it_cannot_use(tmp_path: Path, args: list[str],
                                                message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "daemon", "--data-dir", str(tmp_path), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert message in done.stderr.splitlines()[-1]
