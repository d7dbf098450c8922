"""One identity per site: the registry (storage.sites), stored profiles, and ``arsip sites``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.errors import ProfileError
from crawler.sites import load_profile, stored_profile
from storage.archive import Archive
from storage.liveness import this_process
from storage.sites import (
    SiteExistsError,
    SiteNotFoundError,
    SiteRow,
    SiteRunningError,
    add_site,
    find_site,
    get_site,
    list_sites,
    match_site,
    registered_site,
    remove_site,
    resolve_for_crawl,
    set_enabled,
    set_next_run,
    update_site,
)
from tests.conftest import run_arsip
from tests.dbfixtures import db_url, pg_url, sqlite_url  # noqa: F401


def _site(id_: int, base_url: str) -> SiteRow:
    return SiteRow(id=id_, name=f"s{id_}", base_url=base_url, profile=None,
                   schedule_seconds=None, enabled=True, created_at=None,  # type: ignore[arg-type]
                   last_run_at=None, next_run_at=None, max_pages=None)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://kudakyv.com/2025/04/28/a/", 1),
        ("https://www.kudakyv.com/", 1),            # www. or not
        ("http://KUDAKYV.com/x", 1),                # scheme and case
        ("https://kudakyv.com:443/x", 1),           # default port
        ("https://kudakyv.com:8443/x", None),       # another port is another site
        ("https://news.kudakyv.com/x", None),       # a subdomain is another site
        ("https://detik.com/edu/2025/a", 3),        # the longest base path wins
        ("https://detik.com/edukasi/a", 2),         # a path prefix ends at a slash
        ("https://detik.com/", 2),
        ("ftp://kudakyv.com/", None),
    ],
)
def test_a_url_belongs_to_its_registered_site(url: str, expected: int | None) -> None:
    sites = [_site(1, "https://www.kudakyv.com/"), _site(2, "https://detik.com/"),
             _site(3, "https://www.detik.com/edu")]
    found = match_site(sites, url)
    assert (found.id if found else None) == expected


@pytest.fixture
def archive(db_url: str):  # noqa: F811
    arc = Archive.open(db_url)
    yield arc
    arc.close()


def test_one_identity_for_one_off_crawls_and_the_daemon(archive: Archive) -> None:
    # a one-off crawl of the bare host registers the site, unscheduled
    first = resolve_for_crawl(archive, name=None, url="https://kudakyv.test/", profile=None).id
    assert get_site(archive, "kudakyv.test").schedule_seconds is None
    # a profile crawl (named after the profile) and a www. crawl find the same site
    assert resolve_for_crawl(archive, name="kudakyv", url="https://www.kudakyv.test/x",
                             profile="kudakyv").id == first
    assert resolve_for_crawl(archive, name=None, url="http://www.kudakyv.test/",
                             profile=None).id == first
    # registering it for the daemon takes that site over, with its name changed if asked
    site, adopted = add_site(archive, base_url="https://www.kudakyv.test/", name="kudakyv",
                             schedule_seconds=1800)
    assert adopted and site.id == first and site.name == "kudakyv" and site.scheduled
    assert [s.name for s in list_sites(archive)] == ["kudakyv"]
    # and a crawl by that name is the same site again
    assert resolve_for_crawl(archive, name="kudakyv", url=None, profile=None).id == first
    with pytest.raises(SiteExistsError, match="registered already, as site 'kudakyv'"):
        add_site(archive, base_url="https://kudakyv.test/", schedule_seconds=60)
    with pytest.raises(SiteExistsError, match="a site named 'kudakyv' exists"):
        add_site(archive, base_url="https://lain.test/", name="kudakyv", schedule_seconds=60)
    with pytest.raises(SiteNotFoundError, match="registered: kudakyv"):
        get_site(archive, "nope")
    with pytest.raises(SiteNotFoundError):
        resolve_for_crawl(archive, name="nope", url=None, profile=None)


def test_a_crawl_names_its_registered_site_by_id_or_exact_name(archive: Archive) -> None:
    first = resolve_for_crawl(archive, name="kudakyv", url="https://kudakyv.test/",
                              profile=None)
    assert registered_site(archive, site_id=first.id, name="other") == first  # the id wins
    assert registered_site(archive, site_id=None, name="kudakyv") == first
    # a name no site has may be a profile's; a digit name is no id here (get_site reads it so)
    assert registered_site(archive, site_id=None, name="nope") is None
    assert registered_site(archive, site_id=None, name=str(first.id)) is None
    assert get_site(archive, str(first.id)) == first
    assert registered_site(archive, site_id=None, name=None) is None
    with pytest.raises(SiteNotFoundError, match=f"no registered site with id {first.id + 1}"):
        registered_site(archive, site_id=first.id + 1, name="kudakyv")


def test_adopting_keeps_the_profile_crawls_used(archive: Archive) -> None:
    resolve_for_crawl(archive, name="kudakyv", url="https://kudakyv.test/", profile="kudakyv")
    site, _ = add_site(archive, base_url="https://kudakyv.test/", schedule_seconds=60)
    assert site.profile == "kudakyv" and site.name == "kudakyv"  # the name it is known by
    assert find_site(archive, "https://www.kudakyv.test/a") == site


def test_pause_resume_and_remove_keep_the_archive(archive: Archive) -> None:
    site, _ = add_site(archive, base_url="https://kudakyv.test/", schedule_seconds=60,
                       max_pages=50, name="kudakyv")
    assert not set_enabled(archive, site.name, False).scheduled
    assert set_enabled(archive, str(site.id), True).scheduled  # by id too
    archive.note_fetch("https://kudakyv.test/", site_id=site.id, kind="hub",
                       fetched_at=site.created_at, status=200)
    run = archive.start_run(site.id, "daemon", this_process())
    with pytest.raises(SiteRunningError, match="is being crawled by run"):
        remove_site(archive, site.name)
    archive.finish_run(run, "finished", {})
    removed = remove_site(archive, site.name)
    assert (removed.site.id, removed.deleted, removed.pages, removed.runs) == \
        (site.id, False, 1, 1)
    # off the schedule, with its history: same site, same name, its page and run still its own
    [kept] = list_sites(archive)
    assert (kept.id, kept.name, kept.scheduled, kept.next_run_at) == \
        (site.id, site.name, False, None)
    assert archive.validators("https://kudakyv.test/") is not None  # the page is still there
    assert find_site(archive, "https://kudakyv.test/x") == kept  # one-off crawls go there
    again, adopted = add_site(archive, base_url="https://kudakyv.test/", schedule_seconds=60)
    assert adopted and (again.id, again.name) == (site.id, "kudakyv")  # its name is kept
    # a site never crawled leaves nothing behind
    never, _ = add_site(archive, base_url="https://baru.test/", schedule_seconds=60)
    assert remove_site(archive, never.name).deleted
    assert [s.name for s in list_sites(archive)] == [site.name]


def test_set_changes_interval_profile_and_cap(archive: Archive) -> None:
    site, _ = add_site(archive, base_url="https://kudakyv.test/", schedule_seconds=3600)
    set_next_run(archive, site.id, site.created_at)
    changed = update_site(archive, site.name, schedule_seconds=60, max_pages=10)
    # the old next run is dropped: the new interval counts from the last run
    assert (changed.schedule_seconds, changed.max_pages, changed.next_run_at) == (60, 10, None)
    changed = update_site(archive, site.name, profile="kudakyv", max_pages=None)
    assert (changed.schedule_seconds, changed.profile, changed.max_pages) == \
        (60, "kudakyv", None)
    with pytest.raises(SiteNotFoundError):
        update_site(archive, "nope", max_pages=1)


def test_profiles_are_stored_as_a_bundled_name_or_as_text(tmp_path: Path) -> None:
    bundled = load_profile("kudakyv")
    assert bundled.stored == "kudakyv"
    assert stored_profile("kudakyv", "x").feeds == bundled.feeds
    custom = tmp_path / "custom.toml"
    custom.write_text('name = "lokal"\nbase_url = "https://lokal.test/"\n'
                      'feeds = ["https://lokal.test/rss"]\n', encoding="utf-8")
    loaded = load_profile(str(custom))
    assert loaded.stored == custom.read_text(encoding="utf-8")
    custom.unlink()  # the archive must not depend on the file
    assert stored_profile(loaded.stored or "", "lokal").feeds == ("https://lokal.test/rss",)
    with pytest.raises(ProfileError, match="bundled profile 'gone'"):
        stored_profile("gone", "x")


# --- the commands, as a user types them --------------------------------------------------------

def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Error:")]


def test_sites_commands_good_and_bad_input(data_dir: Path, tmp_path: Path) -> None:
    dd = ("--data-dir", str(data_dir))
    empty = run_arsip("sites", "list", *dd)
    assert empty.returncode == 1 and "no archive" in empty.stderr  # nothing to list yet
    profile = tmp_path / "lokal.toml"
    profile.write_text('base_url = "https://lokal.test/"\n', encoding="utf-8")
    added = run_arsip("sites", "add", "https://www.kudakyv.test/", "--every", "30m",
                      "--max-pages", "40", "--profile", str(profile), *dd)
    assert added.returncode == 0, added.stderr
    assert "Added site 'kudakyv.test'" in added.stdout and "every 30m" in added.stdout
    listed = run_arsip("sites", "list", "--json", *dd)
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["name"], row["every"], row["max_pages"], row["enabled"]) == \
        ("kudakyv.test", "30m", 40, True)
    assert row["profile"] == profile.read_text(encoding="utf-8")  # the text, not the path
    shown = run_arsip("sites", "show", "kudakyv.test", *dd)
    assert shown.returncode == 0 and "every 30m" in shown.stdout
    assert "stored TOML" in shown.stdout
    assert run_arsip("sites", "pause", "kudakyv.test", *dd).stdout.startswith("Paused")
    assert "paused" in run_arsip("sites", "list", *dd).stdout
    assert run_arsip("sites", "resume", "1", *dd).stdout.startswith("Resumed")
    for args, code, message in (
        (("sites", "add", "kudakyv.test"), 2, "not an http(s) URL"),
        (("sites", "add", "https://x.test/", "--every", "soon"), 2, "not a duration"),
        (("sites", "add", "https://x.test/", "--every", "3000000d"), 2, "at most 366d"),
        (("sites", "add", "https://x.test/", "--max-pages", "0"), 2, "--max-pages"),
        (("sites", "add", "https://x.test/", "--profile", "nope"), 1, "no site profile"),
        (("sites", "add", "https://kudakyv.test/"), 1, "registered already"),
        (("sites", "show", "nope"), 1, "no site named 'nope'"),
        (("sites", "pause", "nope"), 1, "no site named 'nope'"),
        (("sites", "remove", "nope"), 1, "no site named 'nope'"),
        (("sites", "frobnicate"), 2, "No such command"),
        (("sites", "set", "kudakyv.test"), 2, "nothing to change"),
        (("sites", "set", "kudakyv.test", "--every", "often"), 2, "not a duration"),
        (("sites", "set", "kudakyv.test", "--every", "367d"), 2, "at most 366d"),
        (("sites", "set", "kudakyv.test", "--max-pages", "-1"), 2, "--max-pages"),
        (("sites", "set", "kudakyv.test", "--profile", "kudakyv", "--no-profile"), 2,
         "not both"),
        (("sites", "set", "kudakyv.test", "--profile", "nope"), 1, "no site profile"),
        (("sites", "set", "nope", "--every", "1h"), 1, "no site named 'nope'"),
    ):
        result = run_arsip(*args, *dd)
        assert result.returncode == code, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(_lines(result.stderr)) == 1 and message in result.stderr, result.stderr
    changed = run_arsip("sites", "set", "kudakyv.test", "--every", "2h", "--max-pages", "0",
                        "--profile", "kudakyv", *dd)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("Changed site 'kudakyv.test': every 2h; profile: "
                                     "kudakyv; no page cap.")
    [row] = [json.loads(line) for line in run_arsip("sites", "list", "--json", *dd)
             .stdout.splitlines()]
    assert (row["every"], row["max_pages"], row["profile"]) == ("2h", None, "kudakyv")
    # never crawled: nothing archived, so nothing kept
    removed = run_arsip("sites", "remove", "kudakyv.test", *dd)
    assert removed.returncode == 0 and "nothing had been archived" in removed.stdout
    assert "No sites yet" in run_arsip("sites", "list", *dd).stdout


def test_status_says_when_a_sites_next_run_is_overdue(data_dir: Path) -> None:
    """A next run hours in the past used to be printed as a plain time, and ``sites list``
    printed UTC where ``status`` printed local time: both print local time now."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with Archive.open(f"sqlite:///{data_dir / 'arsip.db'}") as arc:
        late, _ = add_site(arc, base_url="https://lambat.test/", name="lambat",
                           schedule_seconds=1800)
        set_next_run(arc, late.id, now - timedelta(hours=2))
        # within its jitter (3 minutes, a tenth of its interval) and a minute: only late
        soon, _ = add_site(arc, base_url="https://tepat.test/", name="tepat",
                           schedule_seconds=1800)
        set_next_run(arc, soon.id, now - timedelta(seconds=30))
    jakarta = timezone(timedelta(hours=7))
    overdue = (now - timedelta(hours=2)).astimezone(jakarta).strftime("%Y-%m-%d %H:%M")
    due = (now - timedelta(seconds=30)).astimezone(jakarta).strftime("%Y-%m-%d %H:%M")
    env = {"TZ": "Asia/Jakarta", "COLUMNS": "200"}
    dd = ("--data-dir", str(data_dir))
    status = run_arsip("status", *dd, env=env)
    assert status.returncode == 0, status.stderr
    assert (f"lambat: every 30m, next run overdue since {overdue} (is `arsip daemon` "
            "running?)") in status.stdout
    assert f"tepat: every 30m, next run {due};" in status.stdout
    listed = run_arsip("sites", "list", *dd, env=env).stdout
    assert "times: WIB, UTC+07:00" in listed
    [lambat] = [line for line in listed.splitlines() if "lambat" in line]
    assert overdue in lambat and "overdue" in lambat.replace(overdue, "")
    [tepat] = [line for line in listed.splitlines() if "tepat" in line]
    assert due in tepat and "overdue" not in tepat and "UTC" not in tepat
    rows = {json.loads(line)["name"]: json.loads(line)
            for line in run_arsip("sites", "list", "--json", *dd).stdout.splitlines()}
    assert rows["lambat"]["overdue_since"] == (now - timedelta(hours=2)).isoformat()
    assert rows["tepat"]["overdue_since"] is None


# --- a registered site is crawled as the registry says ------------------------------------------

FAST = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1",
        "-s", "ARSIP_REQUISITES=False")


def _captured_hosts(data_dir: Path) -> set[str]:
    import sqlite3
    from urllib.parse import urlsplit

    with sqlite3.connect(data_dir / "arsip.db") as conn:
        return {urlsplit(url).netloc for (url,) in conn.execute("SELECT url FROM captures")}


def test_a_registered_name_wins_over_a_profile_of_that_name(served_site, data_dir: Path
                                                             ) -> None:
    _, base = served_site
    dd = ("--data-dir", str(data_dir))
    # a profile in DATA_DIR/sites/ (and a bundled one) share the registered site's name, and
    # point elsewhere: a port nothing listens on
    (data_dir / "sites").mkdir()
    (data_dir / "sites" / "kudakyv.toml").write_text(
        'name = "kudakyv"\nbase_url = "http://127.0.0.1:9/"\n', encoding="utf-8")
    assert run_arsip("sites", "add", base, "--name", "kudakyv", "--every", "1h",
                     *dd).returncode == 0
    result = run_arsip("crawl", "--site", "kudakyv", "--max-pages", "5", *FAST, *dd)
    assert result.returncode == 0, result.stderr
    assert _captured_hosts(data_dir) == {base.split("/")[2]}
    assert [s.name for s in list_sites(Archive.open(f"sqlite:///{data_dir / 'arsip.db'}"))] \
        == ["kudakyv"]


def test_the_daemon_names_its_site_by_id(served_site, data_dir: Path) -> None:
    _, base = served_site
    dd = ("--data-dir", str(data_dir))
    assert run_arsip("sites", "add", base, "--name", "lokal", "--every", "1h",
                     *dd).returncode == 0
    result = run_arsip("crawl", "--site-id", "1", "--max-pages", "5", *FAST, *dd)
    assert result.returncode == 0, result.stderr
    assert _captured_hosts(data_dir) == {base.split("/")[2]}
    for args, code, message in (
        (("--site-id", "99"), 1, "no registered site with id 99"),
        (("--site-id", "1", "--site", "x"), 2, "not both"),
        (("--site-id", "x"), 2, "'x' is not a valid integer"),
    ):
        bad = run_arsip("crawl", *args, *FAST, *dd)
        assert bad.returncode == code, (args, bad.stderr)
        assert message in bad.stderr and "Traceback" not in bad.stderr


def test_another_port_on_the_same_host_is_another_site(served_site, tmp_path: Path) -> None:
    """A site is its host and its port: a crawl of a dead port must not find the site served on
    another port of the same host and re-crawl that one's pages instead (it exited 0 so)."""
    _, base = served_site
    data_dir = tmp_path / "arsip-data"
    fast = ("--no-progress", "-s", "DOWNLOAD_TIMEOUT=3", "-s", "RETRY_TIMES=0",
            "-s", "AUTOTHROTTLE_ENABLED=False")
    first = run_arsip("crawl", base, "--data-dir", str(data_dir), *fast)
    assert first.returncode == 0, first.stderr
    dead = run_arsip("crawl", "http://127.0.0.1:9/", "--data-dir", str(data_dir), *fast)
    assert dead.returncode == 1, dead.stdout
    assert dead.stderr.startswith("Error: could not reach"), dead.stderr
    listed = run_arsip("sites", "list", "--json", "--data-dir", str(data_dir))
    names = {json.loads(line)["name"] for line in listed.stdout.splitlines()}
    assert "127.0.0.1:9" in names and len(names) == 2, names
