"""Extraction health per site (storage.health) and how ``arsip status`` and ``history --diff``
say it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.health import problems
from storage.archive import Archive
from storage.health import extraction_health, find_run, health_warnings, site_report
from storage.records import ArticleRecord
from storage.sites import get_site
from tests.conftest import run_arsip

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _run(id_: int, read: int, **problems: int) -> dict:
    stats = {"arsip/health/read": read}
    stats.update({f"arsip/health/{name}": n for name, n in problems.items()})
    return {"id": id_, "stats": stats}


def test_a_jump_against_the_usual_share_is_a_warning() -> None:
    runs = [_run(9, 10, no_date=9), _run(8, 0), _run(7, 12, no_date=1), _run(6, 10),
            _run(5, 3, no_date=3)]  # run 5 read too few to count as usual
    health = extraction_health(runs, "kudakyv")
    assert health is not None
    assert (health["run"], health["read"], health["compared_runs"]) == (9, 10, 2)
    assert health["shares"]["no_date"] == 0.9
    assert health["usual"]["no_date"] == 1 / 24  # median of 1/12 and 0
    [warning] = health["warnings"]
    assert warning.startswith("kudakyv: 9 of the 10 articles read in run 9 had no date (90%; "
                              "usually 4%)")
    assert "changed its layout" in warning


def test_runs_that_read_a_few_articles_each_are_pooled() -> None:
    """A site crawled every half hour reads two or three new articles a run: the runs are
    pooled until they read MIN_READ, so a layout change is still seen."""
    runs = [_run(13, 2, no_date=2), _run(12, 2, no_date=2), _run(11, 2, no_date=2),
            *(_run(i, 2) for i in range(10, 0, -1))]
    health = extraction_health(runs, "tempo")
    assert health is not None
    assert (health["run"], health["runs"], health["read"]) == (13, [13, 12, 11], 6)
    assert health["compared_runs"] == 3  # runs 10-8, 7-5, 4-2; run 1 alone is too few
    [warning] = health["warnings"]
    assert warning.startswith("tempo: 6 of the 6 articles read in runs 11-13 had no date "
                              "(100%; usually 0%)")
    steady = extraction_health([_run(i, 2, no_date=i % 2) for i in range(13, 0, -1)], "x")
    assert steady is not None and steady["warnings"] == []


def test_no_warning_without_history_or_without_a_jump() -> None:
    assert extraction_health([_run(1, 10, no_title=10)], "x")["warnings"] == []
    assert extraction_health([_run(2, 10, no_title=2), _run(1, 10, no_title=1)],
                             "x")["warnings"] == []
    assert extraction_health([_run(1, 0)], "x") is None


def _finished(arc: Archive, site: int, stats: dict) -> int:
    run = arc.start_run(site, "daemon")
    arc.finish_run(run, "finished", stats)
    return run


def test_status_says_when_a_site_changed_its_layout(data_dir: Path) -> None:
    arc = Archive.open(f"sqlite:///{data_dir / 'arsip.db'}")
    try:
        site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
        for _ in range(3):
            _finished(arc, site, {"arsip/health/read": 20, "arsip/health/promo_left": 0,
                                  "response_received_count": 30})
        last = _finished(arc, site, {"arsip/health/read": 20, "arsip/health/promo_left": 15,
                                     "arsip/health/empty_text": 1, "arsip/articles_stored": 20,
                                     "response_received_count": 31,
                                     "downloader/response_status_count/404": 2})
        assert health_warnings(arc, site, last)
        assert health_warnings(arc, site, last - 1) == []  # only the run that measured it
        report = site_report(arc, get_site(arc, "kudakyv.test"))
        assert report["runs"][0]["errors"] == {"fetch": 0, "http": 2, "extraction": 0}
    finally:
        arc.close()
    shown = run_arsip("status", "--data-dir", str(data_dir))
    assert shown.returncode == 0, shown.stderr
    assert "kudakyv.test: not scheduled" in shown.stdout
    assert "promo left 75% (usually 0%)" in shown.stdout
    assert "WARNING: kudakyv.test: 15 of the 20 articles read in run" in shown.stdout
    assert "kept a promo line in the text" in shown.stdout
    as_json = json.loads(run_arsip("status", "--json", "--data-dir", str(data_dir)).stdout)
    [site_health] = as_json["site_health"]
    assert site_health["health"]["shares"]["promo_left"] == 0.75


def test_history_diff_word_by_word(data_dir: Path) -> None:
    url = "https://kudakyv.test/2026/11/01/gempa/"
    arc = Archive.open(f"sqlite:///{data_dir / 'arsip.db'}")
    try:
        site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
        middle = "\nWarga mengungsi.\nSekolah libur.\nKantor tutup.\nJalan retak.\n"
        bodies = [f"Gempa mengguncang Palu.{middle}Pasar tutup.",
                  f"Gempa kuat mengguncang Palu.{middle}Pasar buka.",
                  f"Gempa mengguncang Palu.{middle}Pasar tutup."]
        for hour, body in enumerate(bodies):
            arc.store_article(site_id=site, url=url, article=ArticleRecord(url, "Gempa", body),
                              capture_id=None, fetched_at=T0 + timedelta(hours=hour))
    finally:
        arc.close()
    dd = ("--data-dir", str(data_dir))
    listed = run_arsip("history", url, *dd)
    assert [line.split()[0] for line in listed.stdout.splitlines() if line.startswith("v")] \
        == ["v1", "v2", "v3"]  # the revert is version 3
    last_two = run_arsip("history", url, "--diff", *dd)
    assert last_two.returncode == 0, last_two.stderr
    assert "version 2 (2026-11-01 01:00 UTC) -> version 3 (2026-11-01 02:00 UTC)" \
        in last_two.stdout
    assert "Gempa[- kuat-] mengguncang Palu." in last_two.stdout
    assert "Pasar [-buka-]{+tutup+}." in last_two.stdout
    # one paragraph of context around each change, the rest left out
    assert "Warga mengungsi." in last_two.stdout and "Jalan retak." in last_two.stdout
    assert "… 2 unchanged paragraphs …" in last_two.stdout
    assert "Sekolah libur." not in last_two.stdout
    same = run_arsip("history", url, "--diff", "1", "3", *dd)
    assert "the same text" in same.stdout
    as_json = json.loads(run_arsip("history", url, "--diff", "1", "2", "--json", *dd).stdout)
    assert {"op": "insert", "text": " kuat"} in as_json["text"]
    for args, code, message in (
        (("--diff", "1", "9"), 1, "has no version 9; it has versions 1 to 3"),
        (("--diff", "1"), 2, "two version numbers"),
        (("1", "2"), 2, "go with --diff"),
        (("--diff", "0", "1"), 2, "0"),
    ):
        bad = run_arsip("history", url, *args, *dd)
        assert bad.returncode == code and message in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("title", "text", "published", "found"),
    [
        ("Gempa", "Gempa mengguncang.", T0, []),
        ("Gempa", "Isi.\nBaca Juga: Gempa susulan\nLanjut.", T0, ["promo_left"]),
        ("Gempa", "Isi.\n» Simak juga video Putin di Kursk", T0, ["promo_left"]),
        # prose that mentions the label is not a promo line
        ("Gempa", "Warga diminta baca juga imbauan BMKG.", T0, []),
        ("", "Isi.", None, ["no_date", "no_title"]),
        ("Gempa", "  ", T0, ["empty_text"]),
    ],
)
def test_what_counts_as_a_health_problem(title: str, text: str, published: datetime | None,
                                         found: list[str]) -> None:
    assert problems(ArticleRecord("u", title, text, published=published)) == found


def test_the_daemons_report_of_a_run_reads_only_the_newest_runs(data_dir: Path) -> None:
    """After every run the daemon finds it and checks the site's health against its recent runs.
    Those reads must not grow with the runs a site has had: reading (and sorting) all of them
    made the daemon's work, and its SQLite page cache, grow with every run."""
    from sqlalchemy import event

    from storage.liveness import this_process

    arc = Archive.open(f"sqlite:///{data_dir / 'arsip.db'}")
    try:
        site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
        for _ in range(3):
            run = arc.start_run(site, "daemon", this_process())
            arc.finish_run(run, "finished", {"arsip/health/read": 10})
        seen: list[tuple[str, tuple[object, ...]]] = []

        def record(_conn: object, _cursor: object, statement: str, parameters: tuple[object, ...],
                   _context: object, _many: bool) -> None:
            if "crawl_runs" in statement and statement.lstrip().upper().startswith("SELECT"):
                seen.append((statement, parameters))

        event.listen(arc.engine, "before_cursor_execute", record)
        assert find_run(arc, site, T0) is not None
        assert find_run(arc, site, T0, pid=this_process().pid) is not None
        assert health_warnings(arc, site, run) == []
        event.remove(arc.engine, "before_cursor_execute", record)
        assert len(seen) >= 3
        with arc.engine.connect() as conn:
            for statement, parameters in seen:
                plan = " / ".join(row[3] for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters).all())
                # one index range in the order wanted: no scan of the table, no sort of the
                # site's runs
                assert "SCAN crawl_runs" not in plan and "TEMP B-TREE" not in plan, \
                    (statement, plan)
    finally:
        arc.close()


@pytest.mark.parametrize(("started", "finished", "took"), [
    ("2026-11-01T00:00:00+00:00", "2026-11-01T00:00:45.4+00:00", "45s"),
    ("2026-11-01T00:00:00+00:00", "2026-11-01T00:12:29+00:00", "12m"),
    ("2026-11-01T00:00:00+00:00", "2026-11-01T01:30:10+00:00", "1h30m"),
    ("2026-11-01T00:00:00+00:00", None, "-"),
])
def test_status_says_how_long_a_run_took_as_schedules_are_written(
        started: str, finished: str | None, took: str) -> None:
    from crawler.summary import _took

    assert _took(started, finished) == took


def test_diff_times_are_utc_whatever_offset_they_carry() -> None:
    from crawler.summary import _minutes

    assert _minutes("2026-11-01T09:04:59+07:00", zone=UTC) == "2026-11-01 02:04 UTC"
    assert _minutes("2026-11-01T02:04:00+00:00", zone=UTC) == "2026-11-01 02:04 UTC"
    assert _minutes(None, zone=UTC) == "-"
