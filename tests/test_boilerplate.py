"""Site boilerplate learned from the crawl (``storage.boilerplate``): the rules on their own, the
database round trip, and real crawls and re-extractions of the fixture site."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.archive import Archive
from storage.boilerplate import KEEP_SHARE, SiteBoilerplate, line_key, site_boilerplate
from storage.records import ArticleRecord, BoilerplateConfig
from tests.conftest import run_arsip
from tests.newsite import build_site, serve

APP = ("Simak breaking news dan berita pilihan kami langsung di ponselmu. Pilih saluran "
       "andalanmu akses berita Kudakyv WhatsApp Channel.")
GOOGLE = "Dapatkan update berita pilihan setiap hari di Google News"
NEWSLETTER = "Daftar newsletter Kudakyv: ringkasan berita pagi di kotak masukmu."
SITE_LINES = (APP, GOOGLE, NEWSLETTER)
FEW = "Artikel ini telah tayang di Kudakyv edisi cetak."  # in 3 articles: it stays


def _prose(rng: random.Random, n: int) -> list[str]:
    words = ("harga", "beras", "naik", "pemerintah", "pasar", "warga", "kota", "rapat", "dana",
             "jalan", "banjir", "sekolah", "guru", "pajak", "listrik", "kopi")
    return [" ".join(rng.choice(words) for _ in range(14)) + f" ({rng.random():.6f})."
            for _ in range(n)]


def _article(rng: random.Random, *, site_lines: bool = True) -> str:
    prose = _prose(rng, 5)
    lines = [f"KOMPAS.com - {prose[0]}", prose[1], *([APP] if site_lines else []), *prose[2:]]
    return "\n".join(lines + ([GOOGLE] if site_lines else []))


def test_lines_are_compared_normalised() -> None:
    assert line_key("  Like  (12) ") == line_key("like (0)")
    assert line_key("Hak Cipta © 2024 Kudakyv") == line_key("HAK CIPTA © 2025   Kudakyv")
    assert line_key("ｆｕｌｌｗｉｄｔｈ") == "fullwidth"
    assert line_key("Baca berita lain") != line_key("Baca berita lainnya")


def test_recurring_lines_are_learned_and_stripped_and_rare_ones_stay() -> None:
    rng = random.Random(1)
    state = SiteBoilerplate(1, BoilerplateConfig(min_pages=20, share=0.3))
    texts = [_article(rng) for _ in range(40)]
    for i, text in enumerate(texts[:19]):
        state.observe(text + (f"\n{FEW}" if i < 3 else ""))
        assert state.strip(text) == text  # nothing is judged before min_pages
    assert state.observe(texts[19]) is True  # the article that makes the site judged
    assert {line_key(APP), line_key(GOOGLE)} == state.learned
    for text in texts[20:]:
        state.observe(text)
        stripped = state.strip(text)
        assert APP not in stripped and GOOGLE not in stripped
        # the dateline opens every article, inside a different line each time: it stays
        assert stripped.startswith("KOMPAS.com - ")
        assert stripped.split("\n") == [line for line in text.split("\n")
                                        if line not in (APP, GOOGLE)]
    few = texts[25] + f"\n{FEW}"
    assert state.strip(few).endswith(FEW)


def test_numbers_in_a_data_line_keep_it_apart_and_a_counter_does_not() -> None:
    rng = random.Random(8)
    state = SiteBoilerplate(1, BoilerplateConfig(min_pages=20, share=0.3))
    for day in range(30):
        price = f"Harga emas Antam hari ini Rp {1_200_000 + day * 3_500:,} per gram".replace(
            ",", ".")
        state.observe(f"{_article(rng)}\n{price}\nLike ({rng.randint(0, 99)})")
    assert state.learned == {line_key(APP), line_key(GOOGLE), line_key("Like (0)")}


def test_a_background_paragraph_repeated_across_one_story_stays() -> None:
    rng = random.Random(9)
    background = ("Sebelumnya, Gubernur Jawa Barat meminta warga di bantaran sungai mengungsi "
                  "setelah hujan deras tiga hari berturut-turut membuat debit air naik tajam.")
    assert len(background) > 120
    state = SiteBoilerplate(1, BoilerplateConfig(min_pages=20, share=0.3))
    for i in range(20):
        state.observe(_article(rng) + (f"\n{background}" if i % 3 == 0 else ""))  # 7 of 20
    assert line_key(background) not in state.learned
    assert line_key(APP) in state.learned  # a long site-wide line on every article still is


def test_a_dateline_on_a_line_of_its_own_is_never_stripped() -> None:
    rng = random.Random(2)
    state = SiteBoilerplate(1, BoilerplateConfig(min_pages=5))
    texts = ["JAKARTA, KOMPAS.com -\n" + _article(rng) for _ in range(10)]
    for text in texts:
        state.observe(text)
    assert line_key("JAKARTA, KOMPAS.com -") not in state.lines
    assert state.strip(texts[-1]).startswith("JAKARTA, KOMPAS.com -\nKOMPAS.com - ")


def test_a_text_of_nothing_but_learned_lines_is_kept_whole() -> None:
    rng = random.Random(3)
    state = SiteBoilerplate(1, BoilerplateConfig(min_pages=5))
    for _ in range(10):
        state.observe(_article(rng))
    assert state.strip(f"{APP}\n{GOOGLE}") == f"{APP}\n{GOOGLE}"


def test_a_line_the_site_dropped_is_forgotten_and_a_new_one_learned() -> None:
    rng = random.Random(4)
    state = SiteBoilerplate(1, BoilerplateConfig(min_pages=20, share=0.3))
    for _ in range(50):
        state.observe(_article(rng))
    assert line_key(APP) in state.learned
    # a redesign: the app box is gone, a newsletter line is new
    for _ in range(3000):
        state.observe(_article(rng, site_lines=False) + f"\n{NEWSLETTER}")
    assert line_key(NEWSLETTER) in state.learned
    assert state.share(state.lines[line_key(APP)]) < KEEP_SHARE
    text = _article(rng)
    assert APP in state.strip(text)  # judged again when met: no longer learned
    assert line_key(APP) not in state.learned


def _record(url: str, text: str) -> ArticleRecord:
    return ArticleRecord(url=url, title=f"Judul {url[-3:]}", text=text)


def test_state_round_trips_and_first_articles_are_stripped_in_place(db_url: str,
                                                                     tmp_path: Path) -> None:
    from dataclasses import replace

    from storage.protocol import Article, Finish
    from storage.recorder import Recorder
    from storage.records import Fetch
    from tests.test_recorder import config_for

    rng = random.Random(5)
    config = BoilerplateConfig(min_pages=10, share=0.3)
    recorder = Recorder(replace(config_for(tmp_path, db_url), boilerplate=config),
                        lambda _reply: None)
    archive = Archive.open(db_url)
    site_id = recorder.site_id
    at = datetime(2025, 5, 1, tzinfo=UTC)
    texts = {f"https://kompas.example/a/{i:03d}": _article(rng) for i in range(15)}
    for n, (url, text) in enumerate(texts.items(), 1):
        recorder.handle(Article(None, url, _record(url, text), at, Fetch(200)))
        if n == 10:  # the article that makes the site judged: the nine before it are stripped
            recorder.commit()
            stored = _texts(archive)
            assert len(stored) == 10
            assert all(APP not in text and GOOGLE not in text for text in stored.values())
    recorder.handle(Finish("finished", {}))
    recorder.close()
    state = recorder.boilerplate
    assert state is not None
    stored = _texts(archive)
    assert len(stored) == 15  # one version each: the first ten were stripped in place
    assert all(APP not in text and GOOGLE not in text for text in stored.values())
    assert all(text.startswith("KOMPAS.com - ") for text in stored.values())

    again = SiteBoilerplate.load(archive, site_id, config)
    assert again.pages == 15 and again.learned == state.learned
    assert {key: (line.pages, line.at) for key, line in again.lines.items()} == {
        key: (line.pages, line.at) for key, line in state.lines.items()}
    report = site_boilerplate(archive, site_id)
    assert report["articles"] == 15
    assert {line["text"] for line in report["learned"]} == {APP, GOOGLE}

    # a page stored before its lines were learned (as by a crawl without boilerplate), fetched
    # again: it is no new version
    url = "https://kompas.example/a/old"
    raw = _article(rng)
    archive.store_article(site_id=site_id, url=url, article=_record(url, raw), capture_id=None,
                          fetched_at=at)
    assert archive.store_article(site_id=site_id, url=url, article=_record(url, raw),
                                 capture_id=None, fetched_at=at, prepare=again.prepare) is False
    assert _texts(archive)[url] == raw
    # a real edit still is one
    edited = _record(url, raw + "\nParagraf tambahan dari redaksi.")
    assert archive.store_article(site_id=site_id, url=url, article=edited, capture_id=None,
                                 fetched_at=at, prepare=again.prepare) is True
    assert GOOGLE not in _texts(archive)[url]

    # re-extraction starts again from nothing: the stored rows go with it
    again.reset()
    again.flush(archive, final=True)
    fresh = SiteBoilerplate.load(archive, site_id, config)
    assert (fresh.pages, fresh.lines) == (0, {})
    archive.close()


def test_a_line_the_site_dropped_makes_no_new_version_of_a_page_still_carrying_it(
        db_url: str) -> None:
    # review 9-2 S3: the app box was learned and stripped from the stored versions; the site
    # drops it, it fades, and an old page that still carries it is fetched again
    rng = random.Random(10)
    archive = Archive.open(db_url)
    site_id = archive.ensure_site("kompas", "https://kompas.example/")
    config = BoilerplateConfig(min_pages=10, share=0.3)
    state = SiteBoilerplate.load(archive, site_id, config)
    at = datetime(2025, 5, 1, tzinfo=UTC)

    def store(url: str, text: str, boilerplate: SiteBoilerplate) -> bool:
        return archive.store_article(site_id=site_id, url=url, article=_record(url, text),
                                     capture_id=None, fetched_at=at,
                                     prepare=boilerplate.prepare)

    texts = {f"https://kompas.example/a/{i:03d}": _article(rng) for i in range(30)}
    for url, text in texts.items():
        store(url, text, state)
    state.flush(archive, final=True)
    old_url, old_text = list(texts.items())[-1]  # stored once the site was judged: stripped
    stripped = _texts(archive)[old_url]
    assert APP not in stripped
    for _ in range(6000):  # long enough for the app box's count to fade out entirely
        state.observe(_article(rng, site_lines=False) + f"\n{NEWSLETTER}")
    state.flush(archive, final=True)

    again = SiteBoilerplate.load(archive, site_id, config)
    assert store(old_url, old_text, again) is False
    app = line_key(APP)
    assert app not in again.learned and again.lines[app].retired  # judged when met: faded
    again.flush(archive, final=True)
    again = SiteBoilerplate.load(archive, site_id, config)
    assert again.lines[app].retired  # its count has faded out, yet it is kept
    assert store(old_url, old_text, again) is False
    assert _texts(archive)[old_url] == stripped
    # a real edit still is a new version; a new article keeps the line (no longer the site's)
    assert store(old_url, old_text + "\nRalat redaksi.", again) is True
    new_url = "https://kompas.example/a/new"
    assert store(new_url, _article(rng), again) is True
    assert APP in _texts(archive)[new_url]
    archive.close()


def _texts(archive: Archive) -> dict[str, str]:
    with archive.read() as conn:
        return dict(conn.exec_driver_sql(
            "SELECT p.url, v.text FROM article_versions v JOIN pages p ON p.id = v.page_id "
            "WHERE v.number = p.versions").all())


def test_the_recorder_strips_a_line_learned_mid_run_from_the_whole_run(tmp_path: Path) -> None:
    from dataclasses import replace

    from storage.protocol import Article, Finish
    from storage.recorder import Recorder
    from storage.records import Fetch
    from tests.test_recorder import config_for

    rng = random.Random(6)
    config = replace(config_for(tmp_path), boilerplate=BoilerplateConfig(min_pages=5, share=0.3))
    recorder = Recorder(config, lambda _reply: None)
    at = datetime(2025, 5, 1, tzinfo=UTC)
    for i in range(12):
        url = f"https://kudakyv.test/a/{i:03d}"
        # the app box from the start (learned at 5, the site's first texts stripped then); the
        # newsletter line from the 7th article on: learned at the 9th (3 of 9), after two of
        # this run's texts were stored with it
        text = _article(rng) + (f"\n{NEWSLETTER}" if i >= 6 else "")
        recorder.handle(Article(None, url, _record(url, text), at, Fetch(200)))
    recorder.handle(Finish("finished", {}))
    recorder.close()
    archive = Archive.open(config.db_url)
    texts = _texts(archive)
    archive.close()
    assert len(texts) == 12
    assert not [url for url, text in texts.items() if APP in text or NEWSLETTER in text]
    assert all(GOOGLE not in text for text in texts.values())


def test_boilerplate_costs_the_recorder_no_statement_of_its_own(tmp_path: Path) -> None:
    """The page's stored text comes back from ``store_article``'s own upsert: an article costs
    the same statements with boilerplate stripping as without, on a crawl and a re-crawl."""
    from dataclasses import replace

    from sqlalchemy import event

    from storage.protocol import Article, Finish
    from storage.recorder import Recorder
    from storage.records import Fetch
    from tests.test_recorder import config_for

    rng = random.Random(8)
    texts = [(f"https://kudakyv.test/a/{i:03d}", _article(rng)) for i in range(12)]
    at = datetime(2025, 5, 1, tzinfo=UTC)

    def statements(enabled: bool) -> list[int]:
        config = replace(config_for(tmp_path / str(enabled)),
                         boilerplate=BoilerplateConfig(enabled=enabled, min_pages=5, share=0.3))
        recorder = Recorder(config, lambda _reply: None)
        count = [0]

        def counted(*_args: object) -> None:
            count[0] += 1

        event.listen(recorder.archive.engine, "before_cursor_execute", counted)
        per_article = []
        for again in (False, True):  # a crawl, then a re-crawl with every other text edited
            for i, (url, text) in enumerate(texts):
                edited = text + ("\nParagraf tambahan." if again and i % 2 else "")
                before = count[0]
                recorder.handle(Article(None, url, _record(url, edited), at, Fetch(200)))
                per_article.append(count[0] - before)
        recorder.handle(Finish("finished", {}))
        recorder.close()
        return per_article

    on, off = statements(True), statements(False)
    assert on[4] > off[4]  # the fifth article makes the site judged: the texts before it are
    del on[4], off[4]      # stripped in place, the one article that costs more
    assert on == off


def test_reextract_leaves_a_site_being_crawled_alone(tmp_path: Path) -> None:
    from crawler.reextract import reextract
    from storage.errors import SiteBusyError
    from storage.liveness import this_process

    rng = random.Random(7)
    archive = Archive.open(f"sqlite:///{tmp_path / 'arsip.db'}")
    site_id = archive.ensure_site("kompas", "https://kompas.example/")
    state = SiteBoilerplate.load(archive, site_id, BoilerplateConfig(min_pages=5))
    for _ in range(10):
        state.observe(_article(rng))
    state.flush(archive, final=True)
    crawl = archive.start_run(site_id, "cli", this_process())  # a live crawl holds the site
    with pytest.raises(SiteBusyError):
        reextract(archive, tmp_path / "warc", tmp_path, site="kompas", workers=1)
    assert SiteBoilerplate.load(archive, site_id, BoilerplateConfig()).learned == state.learned
    archive.finish_run(crawl, "finished", {})
    result = reextract(archive, tmp_path / "warc", tmp_path, site="kompas", workers=1)
    assert result.examined == 0  # it ran, and gave the lock back
    with archive.read() as conn:
        assert conn.exec_driver_sql("SELECT outcome FROM crawl_runs WHERE trigger = "
                                    "'reextract'").scalars().all() == ["finished"]
    archive.close()


def test_counts_from_two_writers_never_inflate_a_share() -> None:
    state = SiteBoilerplate(1, BoilerplateConfig(min_pages=5))
    for _ in range(10):
        state.observe("satu\ndua")
    line = state.lines[line_key("satu")]
    line.at = state.pages + 5000  # written by another process's counter
    assert state.share(line) <= 1.0 + 1e-9


# --- real crawls ------------------------------------------------------------------------------

CRAWL = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=2",
         "-s", "DOWNLOAD_TIMEOUT=3", "-s", "RETRY_TIMES=0")


def _site() -> object:
    site = build_site(n_articles=30, site_lines=SITE_LINES)
    site.slow_seconds = 0.5
    generic = [spec for spec in site.articles if not spec.flags]
    for spec in generic[:3]:
        site.edit_article(spec.path, append=FEW, modified=spec.modified)
    return site


def _export(data_dir: Path) -> dict[str, dict]:
    result = run_arsip("export", "--data-dir", str(data_dir), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return {row["url"]: row for row in map(json.loads, result.stdout.splitlines())}


def _versions(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "arsip.db") as db:
        return dict(db.execute("SELECT url, versions FROM pages WHERE versions > 0"))


@pytest.fixture(scope="module")
def boiler_crawl(tmp_path_factory: pytest.TempPathFactory):
    site = _site()
    data_dir = tmp_path_factory.mktemp("boiler") / "arsip-data"
    with serve(site) as base:
        result = run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL)
        assert result.returncode == 0, result.stderr
        yield site, base, data_dir, result


def _check_clean(site, base: str, rows: dict[str, dict]) -> None:
    generic = [spec for spec in site.articles if not spec.flags]
    assert len(rows) >= 25
    for url, row in rows.items():
        for line in SITE_LINES:
            assert line not in row["text"], url
    for spec in generic:
        row = rows[spec.url(base)]
        assert row["text"].startswith("Kudakyv – "), row["text"][:80]
        for paragraph in spec.text:  # every line of the article itself stays, FEW included
            assert paragraph in row["text"]


def test_a_crawl_learns_the_site_lines_and_strips_them_from_every_article(boiler_crawl) -> None:
    site, base, data_dir, result = boiler_crawl
    summary = {line.strip("│ ").split("│")[0].strip(): line.strip("│ ").split("│")[-1].strip()
               for line in result.stdout.splitlines() if "│" in line}
    assert summary["Site boilerplate lines learned"] == "3"
    # every article's three, the first ones' stripped in place when the site reached 20
    assert summary["Site boilerplate lines stripped"] == str(3 * len(_export(data_dir)))
    rows = _export(data_dir)
    _check_clean(site, base, rows)
    assert sum(FEW in row["text"] for row in rows.values()) == 3
    assert set(_versions(data_dir).values()) == {1}  # the first articles stripped in place

    listed = run_arsip("sites", "list", "--json", "--data-dir", str(data_dir)).stdout
    name = json.loads(listed.splitlines()[0])["name"]
    shown = run_arsip("sites", "show", "--json", name, "--data-dir", str(data_dir))
    assert shown.returncode == 0, shown.stderr
    learned = {line["text"] for line in json.loads(shown.stdout)["boilerplate"]["learned"]}
    assert set(SITE_LINES) <= learned
    assert not any(line.startswith("Kudakyv") for line in learned)
    shown = run_arsip("sites", "show", name, "--data-dir", str(data_dir))
    assert "boilerplate: 3 lines learned" in shown.stdout and GOOGLE in shown.stdout


def test_a_recrawl_makes_no_new_versions(boiler_crawl) -> None:
    site, base, data_dir, _ = boiler_crawl
    before = _versions(data_dir)
    # every article fetched and extracted again (no 304s)
    result = run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL,
                       "-s", "ARSIP_CONDITIONAL_REQUESTS=False", "-s", "ARSIP_REVISIT_ALL=True")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(data_dir / "arsip.db") as db:
        last = db.execute("SELECT stats FROM crawl_runs ORDER BY id DESC").fetchone()[0]
    stats = json.loads(last)
    assert stats["arsip/articles_unchanged"] >= 25  # read again, and found the same
    assert stats.get("arsip/articles_stored", 0) == 0
    assert stats["arsip/boilerplate_lines_stripped"] >= 3 * 25
    assert _versions(data_dir) == before
    _check_clean(site, base, _export(data_dir))


def test_reextract_strips_an_archive_crawled_without_it(tmp_path: Path) -> None:
    site = _site()
    data_dir = tmp_path / "arsip-data"
    with serve(site) as base:
        result = run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL,
                           "-s", "ARSIP_BOILERPLATE=False")
        assert result.returncode == 0, result.stderr
    rows = _export(data_dir)
    assert all(APP in row["text"] for row in rows.values())
    before = _versions(data_dir)
    result = run_arsip("replay", "reextract", "--json", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["boilerplate"]["learned"] == 3
    assert figures["boilerplate"]["restripped"] >= 25
    _check_clean(site, base, _export(data_dir))
    assert _versions(data_dir) == before  # stripped in place, not new versions


def test_an_archive_rebuilt_from_its_warc_files_learns_the_site_lines(boiler_crawl,
                                                                      tmp_path: Path) -> None:
    """reindex into a new database has no site rows: reextract registers the site with its
    first article and must learn its boilerplate all the same."""
    site, base, data_dir, _ = boiler_crawl
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    (rebuilt / "warc").symlink_to(data_dir / "warc", target_is_directory=True)
    result = run_arsip("reindex", "--data-dir", str(rebuilt))
    assert result.returncode == 0, result.stderr
    result = run_arsip("replay", "reextract", "--json", "--data-dir", str(rebuilt))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["boilerplate"]["learned"] == 3
    _check_clean(site, base, _export(rebuilt))
