"""A replayed article in a real browser: headless Chromium (Debian's package, driven through
Playwright's protocol client, no browser download) opens an article of the crawled fixture site
from ``arsip replay serve``.

It checks what a person sees: the article title, the archived stylesheet applied (a colour only
the theme's CSS sets), the banner with the capture time, unaffected by the page's CSS and out of
its scripts' reach; and that nothing left for any host but the replay server, although the page
has a third-party tag and a script that calls the live site.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_arsip
from tests.newsite import (
    PLACEHOLDER,
    TITLE_COLOR,
    BaseURL,
    Resource,
    Site,
    build_site,
    serve,
)

CHROMIUM = os.environ.get("ARSIP_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# what the probe found Chromium needs here (root, no display, no network beyond loopback);
# Playwright adds --headless and its own fresh profile
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def _browser_or_skip() -> None:
    reasons = []
    if not Path(CHROMIUM).exists():
        reasons.append(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reasons.append("the playwright package is not installed")
    if reasons:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("; ".join(reasons))
        pytest.skip("; ".join(reasons))


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, BaseURL, str]]:
    """The fixture site crawled (with its requisites), its archive served by ``arsip replay
    serve``, and the live site still up, so that any request reaching it is seen."""
    _browser_or_skip()
    site = build_site()
    site.slow_seconds = 0.2
    site.resources[HOSTILE] = Resource(HOSTILE_PAGE.encode(), "text/html; charset=UTF-8")
    data_dir = tmp_path_factory.mktemp("browser") / "arsip-data"
    with serve(site) as base:
        result = run_arsip("crawl", base, f"{base}{HOSTILE.lstrip('/')}", "--data-dir",
                           str(data_dir), "--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False",
                           "-s", "ARSIP_EXTRACT_WORKERS=1", "-s", "METAREFRESH_ENABLED=False")
        assert result.returncode == 0, result.stderr
        server = subprocess.Popen(
            [sys.executable, "-m", "crawler", "replay", "serve", "--port", "0",
             "--data-dir", str(data_dir)], cwd=REPO, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        try:
            found = re.search(r"at (http://127\.0\.0\.1:\d+)/", server.stderr.readline())
            assert found, "replay server did not start"
            yield site, base, found.group(1)
        finally:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


# an archived page that sends its reader to the live site on its own, by a script and by a
# meta refresh (PLACEHOLDER: the live site's address)
HOSTILE = "/pindah/"
HOSTILE_PAGE = f"""<!DOCTYPE html><html><head><title>Pindah</title>
<meta http-equiv="refresh" content="1; url={PLACEHOLDER}/live-by-refresh/">
<script>location.href = "{PLACEHOLDER}/live-by-script/";</script></head>
<body><p>Halaman ini pindah.</p></body></html>"""


def _banner_text_and_colour(cdp: object) -> tuple[str, str]:
    """The banner's text and its text colour, read through the DevTools protocol: a closed
    shadow root is out of reach of the page's scripts, and of Playwright's selectors too."""
    send = cdp.send  # type: ignore[attr-defined]
    send("DOM.enable")
    send("CSS.enable")
    root = send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]

    def find(node: dict, name: str) -> dict | None:
        if node.get("nodeName", "").lower() == name:
            return node
        for child in (*node.get("children", ()), *node.get("shadowRoots", ())):
            hit = find(child, name)
            if hit:
                return hit
        return None

    def texts(node: dict) -> list[str]:
        out = [node["nodeValue"]] if node.get("nodeType") == 3 else []
        if node.get("nodeName", "").lower() == "style":
            return []
        for child in (*node.get("children", ()), *node.get("shadowRoots", ())):
            out += texts(child)
        return out

    host = find(root, "arsip-banner")
    assert host is not None and host.get("shadowRoots"), "no banner with a shadow root"
    shadow = host["shadowRoots"][0]
    assert shadow["shadowRootType"] == "closed"
    inner = find(shadow, "div")
    assert inner is not None
    style = send("CSS.getComputedStyleForNode", {"nodeId": inner["nodeId"]})["computedStyle"]
    colour = next(p["value"] for p in style if p["name"] == "color")
    return " ".join(" ".join(texts(shadow)).split()), colour


def test_a_replayed_article_in_chromium(replayed) -> None:
    from playwright.sync_api import sync_playwright

    site, base, replay = replayed
    spec = next(a for a in site.articles if "has_media" in a.flags)
    live_before = len(base.requests)
    requests: list[str] = []
    responses: list[tuple[str, int]] = []
    console: list[str] = []
    failed: dict[str, str] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("response", lambda r: responses.append((r.url, r.status)))
            page.on("console", lambda m: console.append(m.text))
            page.on("requestfailed", lambda r: failed.update({r.url: r.failure or ""}))
            page.goto(f"{replay}/2025/{spec.url(base)}", wait_until="load")
            page.wait_for_load_state("networkidle")
            # the Memento URI of the capture
            assert re.fullmatch(rf"{re.escape(replay)}/\d{{14}}/{re.escape(spec.url(base))}",
                                page.url)
            # the article, styled by the archived theme
            title = page.locator("h1.entry-title")
            assert title.inner_text() == spec.title
            assert title.evaluate("e => getComputedStyle(e).color") == TITLE_COLOR
            # the banner: visible, the capture time, its own colours whatever the page's CSS
            banner = page.locator("arsip-banner")
            box = banner.bounding_box()
            assert box and box["height"] > 10 and box["width"] > 300
            assert page.evaluate("document.querySelector('arsip-banner').shadowRoot") is None
            text, colour = _banner_text_and_colour(page.context.new_cdp_session(page))
            stamp = page.url[len(replay) + 1:][:14]
            shown = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[8:10]}:{stamp[10:12]}"
            assert f"Captured {shown}" in text, text
            assert spec.url(base) in text  # the live URL, as text
            assert colour == "rgb(255, 255, 255)"
        finally:
            browser.close()
    # everything the page loaded came from the replay server...
    elsewhere = [url for url in requests if not url.startswith((replay + "/", "data:"))]
    assert requests and all(failed.get(url) == "csp" for url in elsewhere), \
        {url: failed.get(url) for url in elsewhere}
    ok = {url for url, status in responses if status == 200}
    assert any("cs_/" in url and "style.css" in url for url in ok)
    assert any("im_/" in url and "grafik-anggaran.png" in url for url in ok)
    # ...though the page tried the live site: refused in the browser by the policy (the one
    # request above that failed with "csp"), and never seen by the live site
    assert any("Content Security Policy" in line and "wp-json" in line for line in console), \
        console
    assert len(base.requests) == live_before


def test_a_page_in_identity_mode_runs_nothing_that_leaves_the_archive(replayed) -> None:
    """The original bytes (``id_``) of a page whose script and meta refresh go to the live
    site: shown, but sandboxed, so neither fires."""
    from playwright.sync_api import sync_playwright

    _, base, replay = replayed
    live_before = len(base.requests)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{replay}/2030id_/{base}{HOSTILE.lstrip('/')}", wait_until="load")
            page.wait_for_timeout(2500)  # past the refresh's second
            assert page.url.startswith(replay + "/") and "live-by" not in page.url
            assert "Halaman ini pindah" in page.content()
        finally:
            browser.close()
    assert [r.path for r in base.requests[live_before:]] == []
