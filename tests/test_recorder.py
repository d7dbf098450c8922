"""The recorder, driven in-process with the messages a crawl sends it."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from storage.archive import Archive
from storage.errors import DatabaseError
from storage.liveness import this_process
from storage.protocol import Article, Capture, Closed, Fatal, Finish, Note, RecorderConfig
from storage.recorder import Recorder, RecorderClient
from storage.records import ArticleRecord, Fetch
from storage.warc import WarcWriterConfig
from tests.test_warc import exchange

T0 = datetime(2025, 4, 28, 7, 5, tzinfo=UTC)
URL = "https://kudakyv.test/2025/04/28/korea-utara-bantu-rusia/"


def config_for(tmp_path: Path, db_url: str | None = None) -> RecorderConfig:
    return RecorderConfig(db_url or f"sqlite:///{tmp_path / 'arsip.db'}",
                          WarcWriterConfig(directory=tmp_path / "warc"),
                          site="kudakyv", base_url="https://kudakyv.test/",
                          owner=this_process())


@pytest.fixture
def setup(tmp_path: Path):
    replies: list[tuple] = []
    config = config_for(tmp_path)
    recorder = Recorder(config, replies.append)  # creates the schema, the site and the run
    archive = Archive.open(config.db_url)
    yield recorder, archive, replies, tmp_path / "warc"
    recorder.close()
    archive.close()


def test_opening_registers_the_site_and_starts_a_run(setup) -> None:
    recorder, archive, _, _ = setup
    with archive.read() as conn:
        site = conn.exec_driver_sql("SELECT id, name, base_url FROM sites").one()
        run = conn.exec_driver_sql("SELECT id, site_id, outcome, trigger FROM crawl_runs").one()
    assert tuple(site) == (recorder.site_id, "kudakyv", "https://kudakyv.test/")
    assert tuple(run) == (recorder.run_id, recorder.site_id, "running", "cli")
    # a first crawl: nothing to revalidate, nothing in earlier runs to refer to
    assert recorder.opened.revalidate is False and recorder.recrawl is False
    assert recorder.writer.config.is_part_of == f"kudakyv/run-{recorder.run_id}"


def article(text: str = "Paragraf pertama.") -> ArticleRecord:
    return ArticleRecord(url=URL, title="Korea Utara", text=text)


def test_article_links_to_its_capture_and_run_counts(setup) -> None:
    recorder, archive, replies, _ = setup
    recorder.handle(Capture(1, exchange(url=URL, body=b"<html>satu</html>", fetched_at=T0)))
    recorder.handle(Article(1, URL, article(), T0, Fetch(200, '"e1"', None)))
    recorder.handle(Finish("finished", {"response_received_count": 1}))
    recorder.archive.commit()
    with archive.read() as conn:
        linked = conn.exec_driver_sql(
            "SELECT c.url, c.record_type FROM article_versions v "
            "JOIN captures c ON c.id = v.capture_id").fetchall()
        run = conn.exec_driver_sql("SELECT outcome, stats FROM crawl_runs").fetchone()
    assert linked == [(URL, "response")]
    assert run[0] == "finished" and '"arsip/articles_stored": 1' in run[1]
    assert archive.validators(URL) == ('"e1"', None)
    assert replies == []


def test_identical_payload_becomes_a_revisit_and_304_refers_back(setup) -> None:
    recorder, archive, _, warc_dir = setup
    body = b"<html>sama</html>"
    recorder.handle(Capture(1, exchange(url=URL, body=body, fetched_at=T0)))
    recorder.handle(Capture(2, exchange(url=URL + "?amp=1", body=body, fetched_at=T0)))
    recorder.recrawl = True  # as on a later run: 304s look up the last full capture
    recorder.handle(Capture(3, exchange(url=URL, body=b"", status=304, fetched_at=T0)))
    recorder.close()
    kinds = []
    for path in sorted(warc_dir.iterdir()):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    kinds.append((record.rec_type,
                                  record.rec_headers.get_header("WARC-Profile") or "",
                                  record.rec_headers.get_header("WARC-Refers-To")))
    assert kinds[0] == ("response", "", None)
    assert kinds[1][0] == "revisit" and kinds[1][1].endswith("identical-payload-digest")
    assert kinds[2][0] == "revisit" and kinds[2][1].endswith("server-not-modified")
    # both revisits point at the first, full capture
    with archive.read() as conn:
        original = conn.exec_driver_sql(
            "SELECT warc_record_id FROM captures WHERE record_type = 'response'").scalar()
        not_modified = conn.exec_driver_sql(
            "SELECT payload_digest, refers_to FROM captures WHERE status = 304").fetchone()
    assert kinds[1][2] == kinds[2][2] == original
    assert not_modified == (None, original)


def test_disk_full_is_reported_and_later_articles_are_not_orphaned(setup) -> None:
    recorder, archive, replies, _ = setup

    def no_space(*_args: object) -> None:
        from storage.errors import DiskFullError

        raise DiskFullError("no space left on device")

    recorder.writer.write_exchange = no_space  # type: ignore[method-assign]
    recorder.handle(Capture(7, exchange(url=URL, body=b"<html>x</html>", fetched_at=T0)))
    recorder.handle(Article(7, URL, article(), T0, Fetch(200)))
    recorder.archive.commit()
    assert replies == [Fatal("disk full: no space left on device", "disk_full")]
    with archive.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM article_versions").scalar() == 0


def test_the_process_records_what_it_is_sent_after_it_is_opened(tmp_path: Path) -> None:
    client = RecorderClient()  # starts before it knows where to record, as a crawl's does
    client.open(config_for(tmp_path))
    opened = client.wait_opened()
    assert opened.revalidate is False and client.run == opened
    client.send(Capture(1, exchange(url=URL, body=b"<html>satu</html>", fetched_at=T0)))
    client.send(Article(1, URL, article(), T0, Fetch(200)))
    client.send(Finish("finished", {}))
    counts = {"arsip/warc_response_records": 1, "arsip/articles_stored": 1}
    assert client.close() == [Closed(counts)]
    assert client.final == counts
    assert not client.process.is_alive()
    with Archive.open(config_for(tmp_path).db_url) as archive, archive.read() as conn:
        assert conn.exec_driver_sql(
            "SELECT id, outcome FROM crawl_runs").one() == (opened.run_id, "finished")


def test_a_database_it_cannot_open_is_the_answer_to_waiting(tmp_path: Path) -> None:
    client = RecorderClient()
    client.open(config_for(tmp_path, "postgresql://root@127.0.0.1:1/nowhere"))
    with pytest.raises(DatabaseError, match="cannot open database"):
        client.wait_opened()
    # the recorder's last word is Closed (read by now or by close): nothing else is said
    assert [r for r in client.close(timeout=60) if not isinstance(r, Closed)] == []
    assert client.final == {}
    assert not client.process.is_alive()


def test_a_recorder_closed_before_it_was_opened_exits_cleanly() -> None:
    # a crawl whose database could not be opened closes its recorder unopened
    client = RecorderClient()
    assert client.close(timeout=60) == [Closed({})]
    assert client.final == {}
    assert not client.process.is_alive() and client.process.exitcode == 0


def test_a_recorder_that_fails_mid_run_says_why_at_once_and_keeps_its_warc(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # a bug (here: a capture with no exchange) must not leave the crawl fetching into nothing,
    # a traceback on the terminal, a WARC file open or the run "running"
    client = RecorderClient()
    client.open(config_for(tmp_path))
    opened = client.wait_opened()
    client.send(Capture(1, exchange(url=URL, body=b"<html>satu</html>", fetched_at=T0)))
    client.send(Capture(2, None))  # type: ignore[arg-type]
    replies: list[object] = []
    while client.final is None:
        replies += client.pump(1.0)
    fatal = next(r for r in replies if isinstance(r, Fatal))
    assert fatal.message.startswith("the recorder failed: AttributeError")
    assert "Traceback" in fatal.detail  # for the crawl's log file
    assert isinstance(replies[-1], Closed)
    client.close()
    assert client.process.exitcode == 0
    assert "Traceback" not in capfd.readouterr().err
    files = sorted((tmp_path / "warc").iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    with Archive.open(config_for(tmp_path).db_url) as archive, archive.read() as conn:
        assert conn.exec_driver_sql("SELECT id, outcome FROM crawl_runs").one() == (
            opened.run_id, "failed")
        # the capture before the failure is indexed, whatever the failed batch held
        assert conn.exec_driver_sql("SELECT url FROM captures").scalars().all() == [URL]


def test_a_recorder_that_ends_without_a_word_is_a_fatal_error() -> None:
    # its last word came unasked (no Close was sent) and no Fatal before it: the crawl must
    # stop all the same
    class Ended:
        exitcode = 0

        def is_alive(self) -> bool:
            return False

        def join(self, _timeout: float | None = None) -> None:
            pass

    client = RecorderClient.__new__(RecorderClient)
    client.conn, recorder_end = multiprocessing.Pipe()
    client.process = Ended()  # type: ignore[assignment]
    client.run = client.fatal = client.final = None
    client.closed = client.broken = False
    recorder_end.send(Closed({}))
    replies = client.pump(5.0)
    assert replies[0] == Closed({}) and isinstance(replies[1], Fatal)
    assert client.fatal is not None and "stopped unexpectedly" in client.fatal.message


@pytest.mark.postgres
def test_two_recorders_at_once_on_postgresql_store_everything_once(
        tmp_path: Path, pg_url: str) -> None:
    """Two crawl nodes record into one PostgreSQL archive at once, in batches, and meet on the
    same pages in opposite orders (a page both sites link to): neither fails, nothing is lost
    or stored twice."""
    import threading

    shared = [f"https://shared.test/2025/04/28/berita-{n}/" for n in range(12)]
    configs = [RecorderConfig(pg_url, WarcWriterConfig(directory=tmp_path / f"warc-{name}"),
                              site=name, base_url=f"https://{name}.test/", owner=this_process())
               for name in ("a", "b")]
    recorders = [Recorder(config, lambda _reply: None) for config in configs]
    # each holds its batch open over six pages in turn, the same six, b in a's order reversed
    orders = [shared, [*shared[5::-1], *shared[:5:-1]]]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def crawl(recorder: Recorder, urls: list[str], name: str) -> None:
        try:
            start.wait()
            for key, url in enumerate([*urls, *(f"https://{name}.test/{n}/" for n in range(12))]):
                recorder.handle(Capture(key, exchange(url=url, body=f"<p>{name}{key}</p>".encode(),
                                                      fetched_at=T0)))
                recorder.handle(Article(key, url, ArticleRecord(url=url, title="t", text=url),
                                        T0, Fetch(200)))
                time.sleep(0.02)  # the other recorder's batch takes its rows in between
                if key % 6 == 5:
                    recorder.commit()
            recorder.handle(Finish("finished", {}))
            recorder.commit()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=crawl, args=(r, urls, c.site))
               for r, urls, c in zip(recorders, orders, configs, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for recorder in recorders:
        recorder.close()
    assert failures == []
    with Archive.open(pg_url) as archive, archive.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM captures").scalar() == 48
        pages = conn.exec_driver_sql(
            "SELECT url, versions FROM pages WHERE kind = 'article'").fetchall()
        assert len(pages) == 36 and {v for _, v in pages} == {1}  # one text per page, once
        assert conn.exec_driver_sql("SELECT count(*) FROM article_versions").scalar() == 36
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM article_versions WHERE capture_id IS NULL").scalar() == 0
        assert conn.exec_driver_sql(
            "SELECT outcome FROM crawl_runs ORDER BY id").scalars().all() == ["finished"] * 2


@pytest.mark.postgres
@pytest.mark.parametrize("when", ["mid-batch", "at-commit"])
def test_a_dropped_connection_loses_no_capture_or_article(
        tmp_path: Path, pg_url: str, when: str) -> None:
    """PostgreSQL ends the recorder's connection (a restart, ``pg_terminate_backend``) with a
    batch open: the recorder writes the batch again on a new connection and goes on."""
    from sqlalchemy import create_engine, text

    from tests.dbfixtures import pg_server_url

    recorder = Recorder(config_for(tmp_path, pg_url), lambda _reply: None)
    urls = [f"https://kudakyv.test/2025/04/28/berita-{n}/" for n in range(10)]

    def send(keys: range) -> None:
        for key in keys:
            recorder.handle(Capture(key, exchange(url=urls[key], body=f"<p>{key}</p>".encode(),
                                                  fetched_at=T0)))
            recorder.handle(Article(key, urls[key],
                                    ArticleRecord(url=urls[key], title="t", text=f"teks {key}"),
                                    T0, Fetch(200)))

    def drop() -> None:
        admin = create_engine(pg_server_url())
        with admin.begin() as conn:
            ended = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND application_name = :name"),
                {"name": dict(x.split("=", 1) for x in pg_url.split("?", 1)[1].split("&"))
                 ["application_name"]}).scalars().all()
        admin.dispose()
        assert ended and all(ended)

    recorder.commit()
    send(range(5))
    if when == "mid-batch":
        drop()
        send(range(5, 10))
    else:
        send(range(5, 10))
        drop()
    recorder.commit()
    recorder.handle(Finish("finished", {}))
    recorder.commit()
    assert recorder.journal.replays >= 1
    recorder.close()
    with Archive.open(pg_url) as archive, archive.read() as conn:
        linked = conn.exec_driver_sql(
            "SELECT c.url, v.text FROM article_versions v JOIN captures c ON c.id = v.capture_id "
            "ORDER BY c.url").fetchall()
        assert linked == sorted((url, f"teks {n}") for n, url in enumerate(urls))
        assert conn.exec_driver_sql("SELECT count(*) FROM captures").scalar() == 10
        outcome, stats = conn.exec_driver_sql("SELECT outcome, stats FROM crawl_runs").one()
        assert outcome == "finished" and stats["arsip/db_batches_replayed"] == 1
        # each article counted once for the site's boilerplate, although written twice
        assert conn.exec_driver_sql("SELECT pages FROM boilerplate_sites").scalar() == 10


def _dropped(pg_url: str) -> DatabaseError:
    """The archive's error for a connection PostgreSQL ended (``pg_terminate_backend``, as
    in a restart), made for real: a connection is ended, then used."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    from tests.dbfixtures import pg_server_url

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            admin = create_engine(pg_server_url())
            with admin.begin() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.dispose()
            try:
                conn.exec_driver_sql("SELECT 1")
            except SQLAlchemyError as exc:
                try:
                    raise DatabaseError("cannot read the archive database: dropped") from exc
                except DatabaseError as error:
                    return error
    finally:
        engine.dispose()
    raise AssertionError("the ended connection still answered")


@pytest.mark.postgres
@pytest.mark.parametrize("where", ["before-the-run", "as-the-run-starts"])
def test_a_connection_dropped_while_the_recorder_opens_is_made_again(
        tmp_path: Path, pg_url: str, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL ends the connection while the recorder opens the archive: before the run
    starts, or as it starts (the run written, its answer lost). The recorder tries again and
    opens with one run, its own, instead of failing before the run (which left the site for
    its next interval)."""
    from storage import sites

    Archive.open(pg_url).close()  # the schema, made before anything is dropped
    error = _dropped(pg_url)
    dropped: list[str] = []
    if where == "before-the-run":
        real_site = sites.registered_site

        def registered_site(*args: Any, **kwargs: Any) -> Any:
            if not dropped:
                dropped.append(where)
                raise error
            return real_site(*args, **kwargs)

        monkeypatch.setattr(sites, "registered_site", registered_site)
    else:
        real_start = Archive.start_run

        def start_run(self: Archive, *args: Any, **kwargs: Any) -> int:
            run = real_start(self, *args, **kwargs)
            if not dropped:
                dropped.append(where)
                raise error  # written, but the answer never came
            return run

        monkeypatch.setattr(Archive, "start_run", start_run)
    replies: list[Any] = []
    recorder = Recorder(config_for(tmp_path, pg_url), replies.append)
    try:
        assert dropped == [where]
        if where == "before-the-run":  # the crawl's log says so
            assert any(isinstance(r, Note) and "dropped the connection" in r.message
                       for r in replies)
        with Archive.open(pg_url) as archive, archive.read() as conn:
            runs = conn.exec_driver_sql("SELECT id, outcome FROM crawl_runs").fetchall()
        assert [tuple(r) for r in runs] == [(recorder.run_id, "running")]
        recorder.handle(Finish("finished", {}))
        recorder.commit()
    finally:
        recorder.close()


@pytest.mark.postgres
def test_a_batch_written_again_after_a_commit_that_went_through_makes_no_duplicate(
        tmp_path: Path, pg_url: str) -> None:
    """The connection drops as the batch commits, and the commit had gone through (its answer
    lost): the journal writes the batch again. Nothing is there twice: a capture is keyed by
    its WARC record id, an article's text that is already its current version is no new one,
    and the site's boilerplate count is written as a value, not added to (review 10-1,
    should-fix d)."""
    recorder = Recorder(config_for(tmp_path, pg_url), lambda _reply: None)
    urls = [f"https://kudakyv.test/2025/04/28/berita-{n}/" for n in range(6)]
    for key, url in enumerate(urls):
        recorder.handle(Capture(key, exchange(url=url, body=f"<p>{key}</p>".encode(),
                                              fetched_at=T0)))
        recorder.handle(Article(key, url, ArticleRecord(url=url, title="t", text=f"teks {key}"),
                                T0, Fetch(200)))
    error = _dropped(pg_url)
    real_commit = recorder.archive.commit
    lost: list[bool] = []

    def commit() -> None:
        real_commit()
        if not lost:
            lost.append(True)
            raise error  # committed, but the answer never came

    recorder.archive.commit = commit  # type: ignore[method-assign]
    recorder.commit()
    assert lost and recorder.journal.replays == 1
    recorder.handle(Finish("finished", {}))
    recorder.commit()
    recorder.close()
    with Archive.open(pg_url) as archive, archive.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM captures").scalar() == 6
        assert conn.exec_driver_sql("SELECT count(*) FROM article_versions").scalar() == 6
        assert {v for (v,) in conn.exec_driver_sql("SELECT versions FROM pages "
                                                   "WHERE kind = 'article'")} == {1}
        assert conn.exec_driver_sql("SELECT pages FROM boilerplate_sites").scalar() == 6
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM article_versions WHERE capture_id IS NULL").scalar() == 0


@pytest.mark.postgres
def test_a_connection_dropped_as_the_run_ends_loses_nothing(tmp_path: Path,
                                                             pg_url: str) -> None:
    """The connection drops as the last batch (the run's end) commits: that batch is written
    again, and the run ends finished with every row, not failed (a dropped last commit failed
    the run before)."""
    recorder = Recorder(config_for(tmp_path, pg_url), lambda _reply: None)
    urls = [f"https://kudakyv.test/2025/04/28/akhir-{n}/" for n in range(3)]
    for key, url in enumerate(urls):
        recorder.handle(Capture(key, exchange(url=url, body=f"<p>{key}</p>".encode(),
                                              fetched_at=T0)))
        recorder.handle(Article(key, url, ArticleRecord(url=url, title="t", text=f"akhir {key}"),
                                T0, Fetch(200)))
    recorder.handle(Finish("finished", {}))
    error = _dropped(pg_url)
    real_commit = recorder.archive.commit
    dropped: list[bool] = []

    def commit() -> None:
        if not dropped:
            dropped.append(True)
            raise error  # the batch is gone with its connection
        real_commit()

    recorder.archive.commit = commit  # type: ignore[method-assign]
    recorder.close()
    assert dropped and recorder.journal.replays == 1
    with Archive.open(pg_url) as archive, archive.read() as conn:
        assert conn.exec_driver_sql("SELECT outcome FROM crawl_runs").scalar() == "finished"
        assert conn.exec_driver_sql("SELECT count(*) FROM captures").scalar() == 3
        assert conn.exec_driver_sql("SELECT count(*) FROM article_versions").scalar() == 3
