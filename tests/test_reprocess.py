"""Re-processing the archive offline: ``arsip replay reextract``, ``export-wacz`` (checked by the
reference validator, in its own virtualenv) and ``index``, on the fixture site crawled twice."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from storage.archive import content_hash
from tests import toolvenv
from tests.conftest import run_arsip
from tests.newsite import Resource, build_site, serve

CRAWL = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1")
EDIT = "Paragraf tambahan setelah ralat redaksi."


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture site crawled twice, one article edited in between (two versions)."""
    site = build_site()
    site.slow_seconds = 0.2
    data_dir = tmp_path_factory.mktemp("reprocess") / "arsip-data"
    with serve(site) as base:
        assert run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL).returncode == 0
        site.edit_article(site.articles[1].path, append=EDIT)
        assert run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL).returncode == 0
    return data_dir


def articles(data_dir: Path) -> dict[str, tuple]:
    result = run_arsip("export", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {r["url"]: (r["title"], r["text"], r["author"], r["published"], r["related"],
                       r["versions"]) for r in rows}


def site_names(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "arsip.db") as db:
        return [name for (name,) in db.execute("SELECT name FROM sites ORDER BY name")]


def reextract(data_dir: Path, *args: str) -> dict:
    result = run_arsip("replay", "reextract", "--data-dir", str(data_dir), "--json",
                       "--workers", "2", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_warc_files_alone_rebuild_the_archive(archive_dir: Path, tmp_path: Path) -> None:
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    shutil.copytree(archive_dir / "warc", rebuilt / "warc")
    assert run_arsip("reindex", "--data-dir", str(rebuilt)).returncode == 0
    assert articles(rebuilt) == {}  # captures only, so far
    summary = reextract(rebuilt)
    original = articles(archive_dir)
    assert summary["new_articles"] == len(original) and summary["new_versions"] == 1
    # the empty page: fetched by the first crawl only (the second found nothing due there)
    assert summary["errors"] == {"EmptyDocumentError": 1}
    # every article back, with its metadata and both versions of the edited one
    assert articles(rebuilt) == original
    assert any(EDIT in text for _, text, *_ in original.values())
    # the sites are those with articles: not the host that served only the stylesheets
    # one site, named as the crawl named it: its host and (not the scheme's default) port
    [name] = site_names(archive_dir)
    assert site_names(rebuilt) == [name] and re.fullmatch(r"127\.0\.0\.1:\d+", name), name
    # and running it again changes nothing
    again = reextract(rebuilt)
    assert (again["new_articles"], again["new_versions"]) == (0, 0)
    assert again["examined"] == summary["examined"]


def test_new_versions_only_where_todays_extraction_differs(archive_dir: Path,
                                                           tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(archive_dir, copy)
    db = sqlite3.connect(copy / "arsip.db")
    with db:
        # as if an older arsip had kept a promo line in one article's text
        page_id, url, version_id, title, text = db.execute(
            "SELECT p.id, p.url, v.id, v.title, v.text FROM pages p JOIN article_versions v "
            "ON v.page_id = p.id AND v.content_hash = p.content_hash WHERE p.versions = 1 "
            "ORDER BY p.id LIMIT 1").fetchone()
        worse = text + "\nBaca Juga: Berita lain yang tidak ada hubungannya"
        digest = content_hash(title, worse)
        db.execute("UPDATE article_versions SET text = ?, content_hash = ? WHERE id = ?",
                   (worse, digest, version_id))
        db.execute("UPDATE pages SET content_hash = ? WHERE id = ?", (digest, page_id))
    db.close()
    summary = reextract(copy)
    assert site_names(copy) == site_names(archive_dir)  # no site made for a requisites host
    assert summary["new_versions"] == 1 and summary["changed"] == [url]
    assert summary["new_articles"] == 0
    assert articles(copy)[url][1] == text  # the clean text is current again...
    history = run_arsip("history", url, "--json", "--data-dir", str(copy))
    assert [v["current"] for v in json.loads(history.stdout)] == [False, True]  # ...as v2
    assert articles(copy) == articles(archive_dir) | {url: articles(copy)[url]}


def test_reextract_selects_by_site_and_date(archive_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(archive_dir, copy)
    site = sqlite3.connect(copy / "arsip.db").execute("SELECT name FROM sites").fetchone()[0]
    assert reextract(copy, "--site", site)["articles"] > 10
    assert reextract(copy, "--since", "2100-01-01")["examined"] == 0
    bad = run_arsip("replay", "reextract", "--data-dir", str(copy), "--site", "nope")
    assert bad.returncode == 1 and "no site called 'nope'" in bad.stderr
    bad = run_arsip("replay", "reextract", "--data-dir", str(copy), "--since", "soon")
    assert bad.returncode != 0 and "--since" in bad.stderr and "Traceback" not in bad.stderr


def test_export_wacz_passes_the_reference_validator(archive_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "kudakyv.wacz"
    result = run_arsip("replay", "export-wacz", "-o", str(out), "--data-dir", str(archive_dir))
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as wacz:
        names = wacz.namelist()
        assert {i.compress_type for i in wacz.infolist()} == {zipfile.ZIP_STORED}
        assert sorted(n for n in names if n.startswith("archive/")) == sorted(
            f"archive/{p.name}" for p in (archive_dir / "warc").glob("*.warc.gz"))
        assert {"indexes/index.cdx.gz", "indexes/index.idx", "pages/pages.jsonl",
                "datapackage.json", "datapackage-digest.json"} <= set(names)
        lines = wacz.read("pages/pages.jsonl").decode().splitlines()
        package = json.loads(wacz.read("datapackage.json"))
    assert json.loads(lines[0])["format"] == "json-pages-1.0"
    pages = [json.loads(line) for line in lines[1:]]
    known = articles(archive_dir)
    assert {p["url"] for p in pages} == set(known)
    assert all(p["title"] == known[p["url"]][0] and p["text"] == known[p["url"]][1]
               for p in pages)
    assert package["wacz_version"] == "1.1.1"
    wacz_tool = toolvenv.require("wacz")
    check = subprocess.run([str(wacz_tool), "validate", "-f", str(out)], capture_output=True,
                           text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "the passed WACZ is valid" in check.stdout
    # the validator does check: one altered byte in pages.jsonl fails it
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "pages/pages.jsonl":
                data = data.replace(b"Kudakyv", b"Kudakyw", 1)
            dst.writestr(info, data)
    bad = subprocess.run([str(wacz_tool), "validate", "-f", str(tampered)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0


def test_export_wacz_by_site_and_date_and_bad_input(archive_dir: Path, tmp_path: Path) -> None:
    site = sqlite3.connect(archive_dir / "arsip.db").execute("SELECT name FROM sites").fetchone()
    out = tmp_path / "site.wacz"
    ok = run_arsip("replay", "export-wacz", "-o", str(out), "--site", site[0],
                   "--data-dir", str(archive_dir))
    assert ok.returncode == 0 and out.exists(), ok.stderr
    for args, message in (
        (("--site", "nope"), "no site called 'nope'"),
        (("--since", "2100-01-01"), "nothing to export"),
        (("--since", "soon"), "--since"),
    ):
        target = tmp_path / "x.wacz"
        result = run_arsip("replay", "export-wacz", "-o", str(target), *args,
                           "--data-dir", str(archive_dir))
        assert result.returncode != 0 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not target.exists()
    wrong = run_arsip("replay", "export-wacz", "-o", str(tmp_path / "x.zip"),
                      "--data-dir", str(archive_dir))
    assert wrong.returncode == 2 and ".wacz" in wrong.stderr


def test_replay_index_is_sorted_and_matches_cdxj_indexer(archive_dir: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "index.cdxj"
    result = run_arsip("replay", "index", "-o", str(out), "--data-dir", str(archive_dir))
    assert result.returncode == 0, result.stderr
    ours = out.read_bytes().splitlines()
    assert ours == sorted(ours)  # byte order: what pywb's binary search needs
    files = sorted(str(p) for p in (archive_dir / "warc").glob("*.warc.gz"))
    theirs = subprocess.run([sys.executable, "-m", "cdxj_indexer.main", "-s", *files],
                            capture_output=True, check=True).stdout.splitlines()
    assert len(ours) == len(theirs)

    def fields(line: bytes) -> tuple:
        key, stamp, body = line.decode().split(" ", 2)
        data = json.loads(body)
        return key, stamp, data["url"], data["filename"], data["offset"], data["length"]

    assert sorted(map(fields, ours)) == sorted(map(fields, theirs))


def test_outcomes_are_kept_only_for_the_revisits_still_to_come() -> None:
    """Re-extraction keeps a payload's outcome for the revisits that read it later, no longer
    and never more than its cache holds; an outcome dropped is extracted again, and a payload
    read twice in the pages in flight is extracted once."""
    from collections import Counter, OrderedDict

    from crawler.reextract import ReextractResult, _Now, _ordered, _Payload

    class Echo:  # a pool whose extraction gives back what it was given
        def submit(self, _fn: object, task: str) -> _Now:
            return _Now(("extracted", task))

    class Watched(OrderedDict):
        most = 0

        def __setitem__(self, key: str, value: object) -> None:
            super().__setitem__(key, value)
            Watched.most = max(Watched.most, len(self))

    def payload(source: str, task: str) -> _Payload:
        return _Payload(source, lambda: task)

    # 100 payloads, each read once more by a revisit after all of them
    items = [(n, payload(f"s{n % 100}", f"t{n % 100}")) for n in range(200)]
    kept, result = Watched(), ReextractResult()
    out = list(_ordered(Echo(), iter(items), Counter({f"s{n}": 2 for n in range(100)}), result,
                        cache=10, kept=kept))
    assert [key for key, _ in out] == list(range(200))
    assert all(outcome == ("extracted", f"t{key % 100}") for key, outcome in out)
    assert Watched.most <= 10 and len(kept) == 0  # bounded, and empty once all were read
    assert result.extracted == 190  # the 10 newest came from memory, 90 extracted again
    # payloads read once are never kept at all
    Watched.most = 0
    once = [(n, payload(f"u{n}", f"t{n}")) for n in range(100)]
    assert len(list(_ordered(Echo(), iter(once), Counter({f"u{n}": 1 for n in range(100)}),
                             ReextractResult(), kept=Watched()))) == 100
    assert Watched.most == 0
    # a revisit in the same batch as its original waits for the original's extraction
    twice, result = [(0, payload("v", "t")), (1, payload("v", "t"))], ReextractResult()
    assert [outcome for _, outcome in _ordered(Echo(), iter(twice), Counter({"v": 2}),
                                               result)] == [("extracted", "t")] * 2
    assert result.extracted == 1
    # an article is kept compressed, and comes back whole
    from crawler.reextract import _packed, _unpacked
    from storage.records import ArticleRecord

    article = ArticleRecord(url="https://kudakyv.test/a/", title="Judul", text="kata " * 2000)
    kept = _packed(article)
    assert len(kept[1]) < 1000 and _unpacked(kept) == article


def test_a_payload_that_cannot_be_decoded_is_unreadable_for_its_revisits_too(
        tmp_path: Path) -> None:
    site = build_site(n_articles=2)
    # says gzip, is not: no reader can undo it (a gzip body merely cut short still reads)
    site.resources["/rusak/"] = Resource(b"<html><body><p>kata</p></body></html>",
                                         "text/html; charset=UTF-8",
                                         headers=[("Content-Encoding", "gzip")], gzip_ok=False)
    data_dir = tmp_path / "arsip-data"
    with serve(site) as base:
        for _ in range(2):  # the second crawl archives the same bytes as a revisit
            result = run_arsip("crawl", f"{base}rusak/", "--data-dir", str(data_dir), *CRAWL,
                               "-s", "ARSIP_REVISIT_ALL=True", "--max-pages", "3")
            assert result.returncode in (0, 1), result.stderr
    with sqlite3.connect(data_dir / "arsip.db") as db:
        kinds = [kind for (kind,) in db.execute(
            "SELECT record_type FROM captures WHERE url LIKE '%/rusak/' ORDER BY fetched_at")]
    assert kinds == ["response", "revisit"], kinds
    summary = reextract(data_dir)
    assert summary["unreadable"] == 2 and summary["not_articles"] == 0, summary
