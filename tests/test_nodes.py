"""arsip on crawl nodes: running from a Scrapyd egg (a zip), WARC files of several nodes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


class _ListingNode:
    """A Scrapyd stand-in answering from a dict of jobs (``call`` replaced, nothing else)."""

    def __init__(self) -> None:
        self.jobs: dict[str, str] = {}

    def __call__(self, endpoint: str, data: list[tuple[str, str]] | None = None,
                 query: dict[str, str] | None = None) -> dict[str, object]:
        if endpoint == "schedule.json":
            job = dict(data or [])["jobid"]
            self.jobs[job] = "pending"
            return {"status": "ok", "jobid": job}
        assert endpoint == "listjobs.json"
        return {"status": "ok", **{state: [{"id": j} for j, s in self.jobs.items() if s == state]
                                   for state in ("pending", "running", "finished")}}


def test_a_job_scheduled_after_the_last_listing_is_not_taken_for_lost(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from scheduler.nodes import Nodes

    nodes = Nodes(["http://127.0.0.1:9"], 2, "postgresql://db/arsip")
    stub = _ListingNode()
    nodes.nodes[0].call = stub  # type: ignore[method-assign]
    now = datetime.now(UTC)
    first = nodes.start(site_id=1, site="a", due=now, max_pages=None, settings=(),
                        logs=tmp_path, running=[])
    assert first is not None and first.poll() is None  # listed: pending
    second = nodes.start(site_id=2, site="b", due=now, max_pages=None, settings=(),
                         logs=tmp_path, running=[first])
    assert second is not None and second.poll() is None and not second.lost
    assert nodes.nodes[0].down_until == 0.0
    del stub.jobs[second.job]  # the node restarted: a listing asked for now misses it
    time.sleep(0.01)
    nodes.nodes[0]._jobs = None
    assert second.poll() == -9 and second.lost


def test_a_node_that_does_not_speak_http_is_a_node_error() -> None:
    import socketserver
    import threading

    from scheduler.nodes import NodeError, ScrapydNode

    class Ssh(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    with socketserver.TCPServer(("127.0.0.1", 0), Ssh) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        node = ScrapydNode(f"http://127.0.0.1:{server.server_address[1]}", 1, timeout=5)
        with pytest.raises(NodeError, match="BadStatusLine"):
            node.status()
        server.shutdown()


def test_the_daemon_refuses_its_own_sqlite_database_whatever_the_nodes_get(
        tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "daemon", "--data-dir", str(tmp_path), "--nodes",
         "http://127.0.0.1:9", "--nodes-db", "postgresql://root@127.0.0.1/test"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "crawl nodes need a database they can all reach" in done.stderr


def test_a_nodes_password_is_sent_as_basic_auth_and_never_shown() -> None:
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from scheduler.nodes import NodeError, ScrapydNode

    seen: list[str | None] = []

    class Scrapyd(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"status": "ok", "node_name": "n"}')

        def log_message(self, *_args: object) -> None:
            pass

    with HTTPServer(("127.0.0.1", 0), Scrapyd) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        node = ScrapydNode(f"http://arsip:s%40cret@127.0.0.1:{port}", 1)
        assert node.status()["node_name"] == "n" and node.url == f"http://127.0.0.1:{port}"
        assert seen == ["Basic " + base64.b64encode(b"arsip:s@cret").decode()]
        server.shutdown()
    with pytest.raises(NodeError) as failed:
        ScrapydNode("http://arsip:s%40cret@127.0.0.1:9", 1).status()
    assert "cret" not in str(failed.value) and "127.0.0.1:9" in str(failed.value)


def test_reindex_recovers_the_open_files_of_a_dead_node(tmp_path: Path) -> None:
    """A crawl node that died for good left its last WARC file open, torn mid-record: `arsip
    reindex --recover NODE` repairs that node's files (no other's) and indexes them (review
    10-1, should-fix e)."""
    import gzip

    from tests.test_warc import exchange, make_writer, warcio_check

    data_dir = tmp_path / "arsip-data"
    warc = data_dir / "warc"
    writer = make_writer(tmp_path / "w")
    for n in range(3):
        writer.write_exchange(exchange(url=f"https://a.example/{n}"))
    name = writer.current_file
    assert name is not None and name.endswith("-test_host.warc.gz")
    whole = (tmp_path / "w" / (name + ".open")).read_bytes()
    writer.close()
    torn = gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" + os.urandom(300))[:60]
    warc.mkdir(parents=True)
    dead = warc / (name.replace("-test_host.", "-node_b.") + ".open")
    alive = warc / (name.replace("-test_host.", "-node_a.") + ".open")
    for path in (dead, alive):
        path.write_bytes(whole + torn)
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "reindex", "--data-dir", str(data_dir),
         "--recover", "node-b"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    repaired = dead.with_suffix("")
    assert f"1 WARC file node node-b left open repaired: {repaired.name}" in done.stdout
    assert repaired.read_bytes() == whole
    warcio_check(repaired)
    assert alive.read_bytes() == whole + torn  # another node's file is left alone
    assert "3 captures added to the index" in done.stdout
    assert f"Left to the crawl writing them: {alive.name}" in done.stdout
