"""The re-crawl policy as library code: the ladder, next_due on every write, and the run's plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from storage.archive import Archive
from storage.durations import format_duration, parse_duration
from storage.records import ArticleRecord, Fetch
from storage.revisit import RevisitPolicy, load_plan, parse_ladder
from tests.dbfixtures import db_url, pg_url, sqlite_url  # noqa: F401

H = timedelta(hours=1)
D = timedelta(days=1)
PUB = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
POLICY = RevisitPolicy()  # 1h, 6h, 1d, 3d, 7d, 30d


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h30m", 5400),
                                               ("2d", 172800), ("1w", 604800), ("45", 45)])
def test_durations_read_and_print_the_same(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds) or "") == seconds


@pytest.mark.parametrize("text", ["", "0", "10x", "m", "1h 2q", "-5m", "367d", "53w",
                                  "3000000d", "99999999999999999999"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|second"):
        parse_duration(text)


def test_ladder_must_increase() -> None:
    assert parse_ladder("1h, 6h,1d") == (H, 6 * H, D)
    with pytest.raises(ValueError, match="increase"):
        parse_ladder("6h,1h")
    with pytest.raises(ValueError, match="revisit ladder"):
        parse_ladder("1h,soon")
    # ages from publication: a rung may be years (tests/test_daemon.py uses the fixture's age)
    assert parse_ladder("1h,3660d")[-1] == 3660 * D
    with pytest.raises(ValueError, match="at most 3660d"):
        parse_ladder("1h,3000000d")  # would overflow next_due (year 9999)


@pytest.mark.parametrize(
    ("fetched", "due"),
    [
        (PUB + 10 * timedelta(minutes=1), PUB + H),       # first rung
        (PUB + 2 * H, PUB + 6 * H),                        # a rung passed: the next one
        (PUB + 6 * H, PUB + D),                            # exactly on a rung: the one after
        (PUB + 20 * D, PUB + 30 * D),
        (PUB + 31 * D, None),                              # past the ladder: lastmod only
    ],
)
def test_ladder_gives_the_next_rung_after_the_fetch(fetched: datetime, due: datetime | None
                                                    ) -> None:
    assert POLICY.next_due(PUB, fetched) == due


def test_server_errors_are_due_next_run_and_future_dates_start_now() -> None:
    assert POLICY.next_due(PUB, PUB + 40 * D, status=503) == PUB + 40 * D
    assert POLICY.next_due(PUB, PUB + 40 * D, status=404) is None
    # a page dated in the future (a wrong zone) starts its ladder at the fetch
    assert POLICY.next_due(PUB + 3 * H, PUB) == PUB + H


def test_a_change_restarts_the_ladder_from_the_change() -> None:
    changed = PUB + 10 * D
    anchor = POLICY.anchor(published=PUB, first_seen=PUB, changes=1, last_changed_at=changed)
    assert POLICY.next_due(anchor, changed) == changed + H
    first = POLICY.anchor(published=PUB, first_seen=PUB + H, changes=0, last_changed_at=PUB + H)
    assert first == PUB


def _page(arc: Archive, url: str) -> dict:
    with arc.read() as conn:
        return dict(conn.execute(text("SELECT * FROM pages WHERE url = :u"), {"u": url})
                    .mappings().one())


def _aware(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_every_fetch_of_an_article_sets_next_due(db_url: str) -> None:  # noqa: F811
    arc = Archive.open(db_url)
    arc.revisits = POLICY
    try:
        site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
        url = "https://kudakyv.test/2026/11/01/gempa/"
        body = ArticleRecord(url, "Gempa", "Gempa mengguncang.", published=PUB)

        def store(at: datetime, art: ArticleRecord = body, status: int = 200) -> bool:
            return arc.store_article(site_id=site, url=url, article=art, capture_id=None,
                                     fetched_at=at, fetch=Fetch(status, '"e1"', None))

        assert store(PUB + 30 * timedelta(minutes=1))
        assert _aware(_page(arc, url)["next_due"]) == PUB + H
        # a 304 two hours in: the next rung
        arc.note_fetch(url, site_id=site, kind="article", fetched_at=PUB + 2 * H, status=304)
        assert _aware(_page(arc, url)["next_due"]) == PUB + 6 * H
        # seen changing on day 10: the ladder starts again from the change
        changed = ArticleRecord(url, "Gempa", "Gempa kuat mengguncang.", published=PUB)
        assert store(PUB + 10 * D, changed)
        assert _aware(_page(arc, url)["next_due"]) == PUB + 10 * D + H
        # a server error: due on the next run
        arc.note_fetch(url, site_id=site, kind="article", fetched_at=PUB + 11 * D, status=502)
        assert _aware(_page(arc, url)["next_due"]) == PUB + 11 * D
        # hubs are fetched on every run and carry no next_due
        arc.note_fetch("https://kudakyv.test/", site_id=site, kind="hub", fetched_at=PUB,
                       status=200)
        assert _page(arc, "https://kudakyv.test/")["next_due"] is None
    finally:
        arc.close()


def test_plan_fetches_hubs_due_and_newly_dated_articles(db_url: str) -> None:  # noqa: F811
    arc = Archive.open(db_url)
    arc.revisits = POLICY
    try:
        site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
        other = arc.ensure_site("lain.test", "https://lain.test/")
        base = "https://kudakyv.test/2026/11/"
        fresh, old, failed = base + "01/baru/", base + "02/lama/", base + "03/galat/"
        now = PUB + 3 * H
        arc.store_article(site_id=site, url=fresh, capture_id=None, fetched_at=PUB + H / 2,
                          article=ArticleRecord(fresh, "Baru", "x", published=PUB),
                          fetch=Fetch(200, '"f"', None))
        old_published = PUB - 60 * D
        arc.store_article(site_id=site, url=old, capture_id=None, fetched_at=PUB - 59 * D,
                          article=ArticleRecord(old, "Lama", "y", published=old_published),
                          fetch=Fetch(200, None, "Sat, 01 Nov 2026 07:00:00 GMT"))
        arc.note_fetch(old, site_id=site, kind="article", fetched_at=PUB - D, status=304)
        arc.note_fetch(failed, site_id=site, kind="article", fetched_at=PUB, status=500)
        for hub, status in (("https://kudakyv.test/", 200),
                            ("https://kudakyv.test/category/hilang/", 404),
                            ("https://kudakyv.test/sitemap.xml", 200),
                            ("https://kudakyv.test/feed/", 503),
                            ("https://kudakyv.test/sitemap-2025.xml", 410)):
            arc.note_fetch(hub, site_id=site, kind="hub", fetched_at=PUB, status=status)
        # gone a while ago: looked at once more, in case it came back
        arc.note_fetch("https://kudakyv.test/category/lama/", site_id=site, kind="hub",
                       fetched_at=PUB - 8 * D, status=404)
        arc.note_fetch("https://lain.test/", site_id=other, kind="hub", fetched_at=PUB,
                       status=200)
        plan = load_plan(arc, site, now)
        assert plan.hubs == ("https://kudakyv.test/", "https://kudakyv.test/sitemap.xml",
                             "https://kudakyv.test/feed/",  # 5xx: passing, asked again
                             "https://kudakyv.test/category/lama/")
        assert plan.gone == {"https://kudakyv.test/category/hilang/",
                             "https://kudakyv.test/sitemap-2025.xml"}
        assert set(plan.due) == {fresh, failed}  # its 1h rung passed; the 500 is retried
        assert plan.wants("https://KUDAKYV.test/2026/11/09/belum-dikenal/")  # never seen
        assert not plan.wants(old)  # past its ladder, and nothing dates it
        assert not plan.wants(old, PUB - 2 * D)  # dated before its last fetch
        assert plan.wants(old, PUB - D / 2)  # a sitemap lastmod after the last fetch
        assert plan.wants(old, (PUB - D / 2).replace(tzinfo=None))  # naive: UTC
        assert plan.validators(fresh) == ('"f"', None)
        assert plan.validators(old) == (None, "Sat, 01 Nov 2026 07:00:00 GMT")
        assert plan.validators(failed) is None
        everything = load_plan(arc, site, now, revisit_all=True)
        assert set(everything.due) == {fresh, old, failed}
        assert everything.validators(old) == (None, "Sat, 01 Nov 2026 07:00:00 GMT")
    finally:
        arc.close()


def test_an_archive_written_without_next_due_gets_it_on_upgrade(
        db_url: str) -> None:  # noqa: F811
    from alembic import command
    from alembic.config import Config

    from storage.db import MIGRATIONS, WRITE, create_engine_for

    engine = create_engine_for(db_url)
    base = "https://kudakyv.test/2026/11/"
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**WRITE)
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            with conn.begin():
                command.upgrade(config, "0006")
                # what an arsip that set no next_due left: a fresh article, one past its
                # ladder, one whose last fetch failed on the server, one never fetched
                site = conn.execute(text(
                    "INSERT INTO sites (name, base_url, enabled, created_at) VALUES "
                    "('kudakyv.test', 'https://kudakyv.test/', true, :t) RETURNING id"),
                    {"t": PUB}).scalar()
                for slug, fetched, status in (("baru", PUB + H / 2, 200),
                                              ("lama", PUB + 40 * D, 200),
                                              ("galat", PUB + 2 * H, 503),
                                              ("belum", None, None)):
                    conn.execute(text(
                        "INSERT INTO pages (url, site_id, kind, first_seen, last_fetched, "
                        "last_status, published, versions, checks, changes) VALUES "
                        "(:u, :s, 'article', :first, :f, :st, :pub, 0, 1, 0)"),
                        {"u": base + slug + "/", "s": site, "first": PUB, "f": fetched,
                         "st": status, "pub": PUB})
        arc = Archive.open(db_url)  # upgrades
        try:
            assert _aware(_page(arc, base + "baru/")["next_due"]) == PUB + H
            assert _page(arc, base + "lama/")["next_due"] is None  # past the ladder
            assert _aware(_page(arc, base + "galat/")["next_due"]) == PUB + 2 * H
            assert _aware(_page(arc, base + "belum/")["next_due"]) == PUB
            plan = load_plan(arc, site, PUB + 3 * H)
            assert plan.due == [base + "belum/", base + "baru/", base + "galat/"]
            assert not plan.wants(base + "lama/") and plan.wants(base + "lama/", PUB + 41 * D)
        finally:
            arc.close()
    finally:
        engine.dispose()


def test_a_plan_loads_only_what_is_due_and_hubs_not_later_listing_pages(
        sqlite_url: str) -> None:  # noqa: F811
    import pickle

    arc = Archive.open(sqlite_url)
    try:
        site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
        n, due_every = 20_000, 100
        now = PUB + 10 * D
        with arc.write() as conn:
            conn.execute(text(
                "INSERT INTO pages (url, site_id, kind, first_seen, last_fetched, last_status, "
                "next_due, etag, versions, checks, changes) VALUES (:u, :s, 'article', :t, :t, "
                "200, :due, :etag, 1, 1, 0)"),
                [{"u": f"https://kudakyv.test/2026/11/{i:05d}/berita-nomor-{i}/", "s": site,
                  "t": PUB.replace(tzinfo=None), "etag": f'"etag-{i}"',
                  "due": ((now - H) if i % due_every == 0 else now + D).replace(tzinfo=None)}
                 for i in range(n)])
        for url in ("https://kudakyv.test/", "https://kudakyv.test/nasional/",
                    "https://kudakyv.test/nasional/page/2/", "https://kudakyv.test/page/57/",
                    "https://kudakyv.test/indeks?page=3", "https://kudakyv.test/feed/",
                    "https://kudakyv.test/page/1/", "https://kudakyv.test/sitemap.xml"):
            arc.note_fetch(url, site_id=site, kind="hub", fetched_at=PUB, status=200)
        plan = load_plan(arc, site, now)
        assert plan.hubs == ("https://kudakyv.test/", "https://kudakyv.test/nasional/",
                             "https://kudakyv.test/feed/", "https://kudakyv.test/page/1/",
                             "https://kudakyv.test/sitemap.xml")
        assert len(plan.due) == n // due_every and len(plan.known) == n
        # whole rows (URL, validators) only for what is due; a slot of four flat arrays for
        # every other article: its key, last fetch, and validators as text
        assert len(pickle.dumps(plan)) < 45 * n + 200 * (n // due_every)
        due = "https://kudakyv.test/2026/11/00100/berita-nomor-100/"
        assert plan.validators(due) == ('"etag-100"', None)
        other = "https://kudakyv.test/2026/11/00101/berita-nomor-101/"
        assert not plan.wants(other) and plan.validators(other) == ('"etag-101"', None)
        assert plan.wants(other, PUB + D) and not plan.wants(other, PUB - D)
        assert plan.wants("https://kudakyv.test/2026/11/99999/baru/")
        with arc.read() as conn:
            steps = " ".join(str(row) for row in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT url FROM pages WHERE site_id = 1 AND "
                "kind = 'article' AND next_due <= '2026-11-11'")))
        assert "ix_pages_site_id_kind_next_due" in steps
    finally:
        arc.close()
