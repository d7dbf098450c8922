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


@pytest.mark.parametrize("text", ["", "0", "10x", "m", "1h 2q", "-5m"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|second"):
        parse_duration(text)


def test_ladder_must_increase() -> None:
    assert parse_ladder("1h, 6h,1d") == (H, 6 * H, D)
    with pytest.raises(ValueError, match="increase"):
        parse_ladder("6h,1h")
    with pytest.raises(ValueError, match="revisit ladder"):
        parse_ladder("1h,soon")


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
                            ("https://kudakyv.test/sitemap.xml", 200)):
            arc.note_fetch(hub, site_id=site, kind="hub", fetched_at=PUB, status=status)
        arc.note_fetch("https://lain.test/", site_id=other, kind="hub", fetched_at=PUB,
                       status=200)
        plan = load_plan(arc, site, POLICY, now)
        assert plan.hubs == ("https://kudakyv.test/", "https://kudakyv.test/sitemap.xml")
        assert set(plan.due) == {fresh, failed}  # its 1h rung passed; the 500 is retried
        assert plan.wants("https://KUDAKYV.test/2026/11/09/belum-dikenal/")  # never seen
        assert not plan.wants(old)  # past its ladder, and nothing dates it
        assert not plan.wants(old, PUB - 2 * D)  # dated before its last fetch
        assert plan.wants(old, PUB - D / 2)  # a sitemap lastmod after the last fetch
        assert plan.wants(old, (PUB - D / 2).replace(tzinfo=None))  # naive: UTC
        assert plan.validators(fresh) == ('"f"', None)
        assert plan.validators(old) == (None, "Sat, 01 Nov 2026 07:00:00 GMT")
        assert plan.validators(failed) is None
        everything = load_plan(arc, site, POLICY, now, revisit_all=True)
        assert set(everything.due) == {fresh, old, failed}
    finally:
        arc.close()


def test_archive_from_before_the_policy_gets_due_pages_worked_out(
        db_url: str) -> None:  # noqa: F811
    arc = Archive.open(db_url)  # no policy: an older arsip wrote these pages
    try:
        site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
        url = "https://kudakyv.test/2026/11/01/baru/"
        arc.store_article(site_id=site, url=url, capture_id=None, fetched_at=PUB + H / 2,
                          article=ArticleRecord(url, "Baru", "x", published=PUB))
        assert _page(arc, url)["next_due"] is None
        assert load_plan(arc, site, POLICY, PUB + 50 * timedelta(minutes=1)).due == []
        assert load_plan(arc, site, POLICY, PUB + 2 * H).due == [url]
    finally:
        arc.close()
