"""Interop with pywb, the reference replay tool (in its own virtualenv: see tests/toolvenv.py).

Our WARC files, added to a pywb collection, replay the article bytes the fixture site sent
(revisits included); the sorted CDXJ of ``arsip replay index`` serves as a pywb collection's
index; and pywb's CDX server and ours answer the same query with the same captures.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from storage.replay.app import ReplayConfig, create_app
from tests import toolvenv
from tests.conftest import run_arsip
from tests.newsite import BaseURL, Site, build_site, serve

CRAWL = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            headers = {k.lower(): v for k, v in response.headers.items()}
            status = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return status, headers, body


@pytest.fixture(scope="module")
def pywb(tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Site, BaseURL, Path, str]]:
    """The fixture site crawled twice (revisits on the second crawl), and pywb serving two
    collections of its WARC files: "indexed" (pywb's own index) and "ours" (our CDXJ)."""
    wayback = toolvenv.require("pywb")
    wb_manager = toolvenv.program("pywb", "wb-manager")
    site = build_site()
    site.slow_seconds = 0.2
    root = tmp_path_factory.mktemp("pywb")
    data_dir = root / "arsip-data"
    with serve(site) as base:
        assert run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL).returncode == 0
        # every known article asked again (conditionally), due or not: 304 revisits to replay
        assert run_arsip("crawl", base, "--data-dir", str(data_dir), *CRAWL,
                         "-s", "ARSIP_REVISIT_ALL=True").returncode == 0
        warcs = sorted((data_dir / "warc").glob("*.warc.gz"))
        pywb_dir = root / "pywb"
        pywb_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        for collection in ("indexed", "ours"):
            subprocess.run([str(wb_manager), "init", collection], cwd=pywb_dir, env=env,
                           check=True, capture_output=True, timeout=120)
        subprocess.run([str(wb_manager), "add", "indexed", *map(str, warcs)], cwd=pywb_dir,
                       env=env, check=True, capture_output=True, timeout=300)
        ours = pywb_dir / "collections" / "ours"
        for path in warcs:
            shutil.copy(path, ours / "archive" / path.name)
        index = run_arsip("replay", "index", "-o", str(ours / "indexes" / "index.cdxj"),
                          "--data-dir", str(data_dir))
        assert index.returncode == 0, index.stderr
        port = _free_port()
        server = subprocess.Popen([str(wayback), "-b", "127.0.0.1", "-p", str(port)],
                                  cwd=pywb_dir, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        why = (server.stderr.read().decode()[-2000:]
                               if server.poll() is not None else "timeout")
                        raise AssertionError(f"pywb did not start: {why}") from None
                    time.sleep(0.2)
            yield site, base, data_dir, f"http://127.0.0.1:{port}"
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _cdx(pywb_url: str, collection: str, url: str, extra: str = "") -> list[dict[str, str]]:
    status, _, body = _get(f"{pywb_url}/{collection}/cdx?url={url}&output=json{extra}")
    assert status == 200, body[:500]
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


def test_pywb_replays_our_warc_files_byte_for_byte(pywb) -> None:
    site, base, _, pywb_url = pywb
    spec = site.articles[2]
    url = spec.url(base)
    served, _ = base.server.rendered(spec.path, site.resources[spec.path])
    for collection in ("indexed", "ours"):
        rows = _cdx(pywb_url, collection, url)
        assert [r.get("mime") for r in rows] == ["text/html", "warc/revisit"], rows
        for row in rows:  # the response, and the 304 revisit of the re-crawl
            status, _, body = _get(f"{pywb_url}/{collection}/{row['timestamp']}id_/{url}")
            assert status == 200, (collection, row, body[:300])
            assert body == served, (collection, row["timestamp"])
        # and through pywb's own rewriting (its content frame), the page is there too
        status, _, page = _get(f"{pywb_url}/{collection}/{rows[0]['timestamp']}mp_/{url}")
        assert status == 200 and spec.title.split()[0].encode() in page


def _pick(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    key = ("urlkey", "timestamp", "url", "offset", "filename", "length")
    return sorted(tuple(str(r.get(k)) for k in key) for r in rows)


def test_pywb_and_arsip_answer_cdx_queries_alike(pywb) -> None:
    _, base, data_dir, pywb_url = pywb
    app = create_app(ReplayConfig(f"sqlite:///{data_dir / 'arsip.db'}", data_dir / "warc"))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8080") as client:
            cases = [(f"{base}*", ()), (f"{base}robots.txt", ()), (f"{base}2025/*", ())]
            # filters as pywb applies them: no mark = contains, "=" exact, "~" regex, "!" not.
            # (No filter on a revisit's status: pywb's own indexer writes "-" there, where
            # cdxj-indexer, py-wacz and arsip give the status of the revisit's HTTP answer.)
            cases += [(f"{base}*", (f,)) for f in ("mime:html", "~mime:.*html$",
                                                  "!=status:404", "=status:301",
                                                  "~url:.*/2025/04/2[0-9]/.*", "revisit")]
            for query, filters in cases:
                extra = "".join(f"&filter={quote(f)}" for f in filters)
                theirs = _cdx(pywb_url, "indexed", query, extra)
                response = client.get("/cdx", params=[("url", query), ("output", "json"),
                                                      *(("filter", f) for f in filters)])
                ours = [json.loads(line) for line in response.text.splitlines()]
                assert len(ours) == len(theirs) > 0, (query, filters)
                assert _pick(ours) == _pick(theirs), (query, filters)
    finally:
        app.state.replay.close()


# what pywb's aggregator adds to every line it serves: where the line came from
PYWB_ONLY = ("source", "source-coll", "access")


def _comparable(body: str, *, text_without_fields: bool, pywb: bool) -> list[str]:
    """The lines of a CDX answer without pywb's provenance fields, in their order."""
    lines = []
    for line in body.splitlines():
        cdxj = re.match(r"^(\S+ \d{14} )(\{.*\})$", line)
        if cdxj or line.startswith("{"):
            prefix, data = (cdxj.group(1), cdxj.group(2)) if cdxj else ("", line)
            fields = {k: v for k, v in json.loads(data).items() if k not in PYWB_ONLY}
            line = prefix + json.dumps(fields)
        elif text_without_fields and pywb:
            line = line.rsplit(" ", len(PYWB_ONLY))[0]  # their values come last
        lines.append(line)
    return lines


def test_pywb_and_arsip_answer_every_cdx_parameter_alike(pywb) -> None:
    """The whole query API against pywb's CDX server reading our index, raw lines in order:
    match types, from/to (partial timestamps), limit, reverse, closest, fl/fields, every
    output format."""
    _, base, data_dir, pywb_url = pywb
    everything = f"{base}*"
    _, _, listing = _get(f"{pywb_url}/ours/cdx?url={quote(everything)}&output=json")
    rows = [json.loads(line) for line in listing.decode().splitlines()]
    stamps = sorted({r["timestamp"] for r in rows})
    revisited = next(r["url"] for r in rows if r["mime"] == "warc/revisit")
    middle = stamps[len(stamps) // 2]
    cases = [
        {"url": everything},
        {"url": base, "matchType": "host"},
        {"url": base, "matchType": "host", "limit": "3"},
        {"url": base, "matchType": "domain", "output": "json"},
        {"url": f"{base}2025", "matchType": "prefix", "output": "json"},
        {"url": everything, "from": stamps[0][:12], "to": middle[:13]},
        {"url": everything, "from": middle, "output": "json"},
        {"url": everything, "to": stamps[0]},
        {"url": everything, "limit": "5"},
        {"url": everything, "sort": "reverse", "limit": "4"},
        {"url": everything, "reverse": "1", "limit": "2", "output": "json"},
        {"url": revisited, "sort": "closest", "closest": stamps[-1], "limit": "1"},
        {"url": revisited, "sort": "closest", "closest": stamps[0]},
        {"url": revisited, "closest": middle[:10]},
        # fl/fields with the default output (CDXJ), JSON and text; fields= wins over fl=
        {"url": everything, "fl": "timestamp"},
        {"url": everything, "fl": "timestamp,url"},
        {"url": everything, "fl": "status,mime", "output": "json"},
        {"url": everything, "fl": "timestamp,status,url", "output": "text"},
        {"url": everything, "fields": "timestamp", "fl": "url", "output": "text"},
        {"url": everything, "fl": "timestamp,nosuchfield", "output": "text"},
        {"url": everything, "fl": "timestamp,nosuchfield", "output": "json"},
        {"url": everything, "output": "text"},
        {"url": everything, "output": "cdxj", "limit": "9" * 30},
        {"url": f"{base}never-archived/"},
    ]
    app = create_app(ReplayConfig(f"sqlite:///{data_dir / 'arsip.db'}", data_dir / "warc"))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8080") as client:
            for params in cases:
                query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
                status, _, theirs = _get(f"{pywb_url}/ours/cdx?{query}")
                ours = client.get(f"/cdx?{query}")
                assert (ours.status_code, status) == (200, 200), (params, ours.text[:300])
                plain = params.get("output") == "text" and not ({"fl", "fields"} & set(params))
                expected = _comparable(theirs.decode(), text_without_fields=plain, pywb=True)
                got = _comparable(ours.text, text_without_fields=plain, pywb=False)
                assert got == expected, params
                assert expected or params["url"].endswith("never-archived/"), params
    finally:
        app.state.replay.close()
