"""The replay web app (Starlette): browse, search and query what the archive holds.

Routes (``/`` is the app's root):

- ``/`` sites and search box; ``/search?q=`` full-text search; ``/article/{url}`` clean text
  and versions (``/article/v{N}/{url}``, ``/article/diff{N}/{url}``); ``/*/{url}`` every
  capture of a URL (``/{timestamp}*/{url}``: those whose timestamp starts so);
- ``/{timestamp}/{url}`` the capture closest to the timestamp (4 to 14 digits), rewritten so
  it loads from the archive only, with the banner; ``/{timestamp}{mod}/{url}`` the same for an
  embedded resource (pywb's ``im_``, ``cs_``, ``js_``, ``if_``, ``oe_``, ``mp_``... no banner);
  ``/{timestamp}id_/{url}`` the original bytes and headers;
- ``/cdx`` pywb's CDX server API; ``/timegate/{url}`` and ``/timemap/link/{url}`` Memento.

Nothing here fetches from the network. Archived pages are served with a Content-Security-Policy
that confines what they load (images, scripts, styles, fonts, frames, fetches, form posts) to
this server, whatever their scripts ask for. What a policy cannot stop is a navigation: a
script that sets ``location`` to a live URL, or ``window.open``, leaves the archive, as a click
on a link a script built would (pywb's client-side rewriting covers part of that; arsip has
none). Every database and file read is synchronous and runs in Starlette's thread pool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from w3lib.encoding import html_to_unicode

from storage.db import create_engine_for, require_current_schema
from storage.errors import StorageError
from storage.index import (
    CaptureIndex,
    CaptureRow,
    CdxQuery,
    CdxQueryError,
    Neighbours,
    format_cdx,
    parse_timestamp,
    surt_key,
    timestamp14,
)
from storage.replay.capture import CaptureUnavailable, Replayable, load
from storage.replay.catalog import Catalog, diff_texts
from storage.replay.memento import (
    LINK_FORMAT,
    BadAcceptDatetime,
    Links,
    header_url,
    http_date,
    parse_accept_datetime,
)
from storage.replay.rewrite import UrlRewriter, rewrite_css, rewrite_html
from storage.search import MARK_END, MARK_START, SearchQueryError
from storage.warcread import decode_content
from storage.warcroots import WarcRoots

# /{timestamp}{modifier}/{url} and /{timestamp}*/{url}, /*/{url}
ARCHIVE_PATH = re.compile(r"^/(?P<ts>\d{4,14})?(?P<mod>[a-z]{2}_)?(?P<star>\*)?/(?P<url>.+)$",
                          re.DOTALL)
ARTICLE_PATH = re.compile(r"^/article/(?:(?P<what>v|diff)(?P<number>\d{1,6})/)?(?P<url>.+)$",
                          re.DOTALL)
IDENTITY = "id_"
# archived pages may load anything, but only from this server
ARCHIVE_CSP = ("default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; "
               "form-action 'self'; base-uri 'self'")
# The identity mode serves a page's bytes unchanged, so its links and scripts still aim at the
# live web; its scripts would run on the replay origin and could send the browser there. As a
# sandboxed document it runs none (no allow-scripts), submits no form and opens no window;
# its bytes stay as they were.
IDENTITY_CSP = ARCHIVE_CSP + "; sandbox"
# our own pages run no script at all
PAGE_CSP = "default-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; script-src 'none'"
HTML_TYPES = ("text/html", "application/xhtml+xml")
CSS_TYPES = ("text/css",)
# archived headers a rewritten response keeps; the rest are sent as X-Archive-Orig-<name>
KEPT_HEADERS = frozenset({b"content-type", b"content-language", b"content-disposition"})
# kept even by the identity mode: none would describe the archive's own origin truthfully
# Archived headers that would act on the replay origin itself, or send the browser to the live
# web on its own (a navigation is out of a Content-Security-Policy's reach): renamed to
# X-Archive-Orig-<name> in the identity mode too. Location is rewritten into the archive.
RENAMED_ALWAYS = frozenset({b"set-cookie", b"set-cookie2", b"strict-transport-security",
                            b"alt-svc", b"clear-site-data", b"public-key-pins",
                            b"service-worker-allowed", b"refresh", b"content-location", b"link",
                            b"origin-agent-cluster", b"permissions-policy", b"report-to",
                            b"nel", b"reporting-endpoints", b"content-security-policy",
                            b"content-security-policy-report-only", b"x-frame-options"})
SEARCH_PAGE_SIZE = 20
LAST_SEARCH_PAGE = 10_000  # deeper pages are refused: an OFFSET that size reads every match
LATEST = 10  # article texts listed on the home page
CDX_CHUNK = 500  # lines per piece of a streamed CDX answer
NEAREST = 5  # captures either side tried, closest first, when one cannot be replayed


# The names a browser on this machine reaches a loopback-bound server by. Any other Host is
# refused: a page on the web could otherwise rebind a name of its own to 127.0.0.1 and read the
# archive through the visitor's browser (DNS rebinding).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass(frozen=True)
class ReplayConfig:
    """What a replay server reads: the archive database and its WARC folder; the Host names
    it answers to (``("*",)``: any)."""

    db_url: str
    warc_dir: Path | WarcRoots  # the archive's WARC folder, and the nodes' storage roots
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS


class Replay:
    """The app's state: engine, index, templates. One per process."""

    def __init__(self, config: ReplayConfig) -> None:
        self.config = config
        self.engine = create_engine_for(config.db_url, pool_size=8, max_overflow=8) \
            if not config.db_url.startswith("sqlite") else create_engine_for(config.db_url)
        require_current_schema(self.engine)
        self.index = CaptureIndex(self.engine)
        self.catalog = Catalog(self.engine)
        self.templates = Environment(loader=PackageLoader("storage.replay", "templates"),
                                     autoescape=select_autoescape(default=True),
                                     trim_blocks=True, lstrip_blocks=True)
        self.templates.globals.update(when=_when, stamp=_stamp)

    def close(self) -> None:
        self.engine.dispose()

    # --- our own pages ----------------------------------------------------------------------

    def page(self, request: Request, template: str, status: int = 200, **context: Any
             ) -> HTMLResponse:
        html = self.templates.get_template(template).render(root=_root(request), **context)
        return HTMLResponse(html, status_code=status, headers=_page_headers())

    def message(self, request: Request, status: int, heading: str, message: str,
                url: str | None = None) -> HTMLResponse:
        return self.page(request, "message.html", status, heading=heading, message=message,
                         url=url)

    def home(self, request: Request) -> Response:
        return self.page(request, "home.html", sites=self.catalog.sites(),
                         totals=self.catalog.totals(), latest=self.catalog.latest(LATEST))

    def search(self, request: Request) -> Response:
        from storage.report import search_articles

        query = request.query_params.get("q", "").strip()
        all_versions = request.query_params.get("all") in ("1", "on", "true")
        site = request.query_params.get("site") or None
        try:
            page = min(max(1, int(request.query_params.get("page", "1"))), LAST_SEARCH_PAGE)
        except ValueError:
            page = 1
        hits: list[dict[str, Any]] = []
        error = None
        if query:
            try:
                hits = search_articles(self.engine, query, SEARCH_PAGE_SIZE + 1,
                                       all_versions=all_versions, site=site,
                                       offset=(page - 1) * SEARCH_PAGE_SIZE)
            except SearchQueryError as exc:
                error = str(exc)
        more = len(hits) > SEARCH_PAGE_SIZE
        hits = hits[:SEARCH_PAGE_SIZE]
        for hit in hits:
            hit["marked_html"] = Markup(str(escape(hit["marked"]))
                                        .replace(MARK_START, "<mark>")
                                        .replace(MARK_END, "</mark>"))
            hit["version_fetched_at"] = datetime.fromisoformat(hit["version_fetched_at"])
            if not hit["current"]:
                numbers = [v.number for v in self.catalog.versions(hit["url"])
                           if v.id == hit["version_id"]]
                hit["version_number"] = numbers[0] if numbers else 1

        def pager(n: int, **extra: Any) -> str:
            params = {"q": query, "page": n, **({"all": 1} if all_versions else {}),
                      **({"site": site} if site else {}), **extra}
            return urlencode(params)

        return self.page(request, "search.html", query=query, hits=hits, error=error,
                         all_versions=all_versions, site=site, page=page, more=more,
                         pager=pager)

    def article(self, request: Request) -> Response:
        """``/article/{url}`` (the current text), ``/article/v{N}/{url}`` (version N),
        ``/article/diff{N}/{url}`` (what changed from version N-1 to N)."""
        match = ARTICLE_PATH.match(_raw_path(request))
        url = _archived_url(match.group("url"), request) if match else None
        if match is None or url is None:
            return self.message(request, 400, "Not a web address",
                                "Only http and https URLs are archived.")
        versions = self.catalog.versions(url)
        if not versions:
            return self.message(request, 404, "No article here",
                                "The archive holds no article text for this URL.", url)
        shown, diff, diff_from = versions[-1], None, None
        current = [v for v in versions if v.current]
        if current:
            shown = current[0]
        if match.group("number"):
            number = int(match.group("number"))
            if not 1 <= number <= len(versions):
                return self.message(request, 404, "No such version",
                                    f"This article has versions 1 to {len(versions)}.", url)
            shown = versions[number - 1]
            if match.group("what") == "diff" and number > 1:
                diff_from = versions[number - 2]
                diff = diff_texts(diff_from.text, shown.text)
        return self.page(request, "article.html", url=url, versions=versions, shown=shown,
                         diff=diff, diff_from=diff_from)

    def captures(self, request: Request, url: str, prefix: str | None) -> Response:
        rows = self.index.captures_of(url)
        if prefix:
            rows = [row for row in rows if row.timestamp.startswith(prefix)]
        versions = self.catalog.versions_by_capture([row.id for row in rows])
        listed = [{"capture": row, "kind": _record_kind(row), "version": versions.get(row.id)}
                  for row in rows]
        return self.page(request, "captures.html", url=url, rows=listed, prefix=prefix,
                         is_article=self.catalog.is_article(url),
                         status=200 if rows else 404)

    # --- replay -----------------------------------------------------------------------------

    def replay(self, request: Request, timestamp: str, modifier: str, url: str) -> Response:
        if request.headers.get("service-worker", "").lower() == "script":
            # a worker registered by archived content would answer for the whole replay origin
            return PlainTextResponse("Error: the archive installs no service worker\n",
                                     status_code=403)
        try:
            when = parse_timestamp(timestamp)
        except CdxQueryError as exc:
            return self.message(request, 400, "Bad timestamp", str(exc), url)
        candidates = self.index.nearest(url, when, NEAREST)
        if not candidates:
            return self.message(request, 404, "Not in the archive",
                                "This URL was never archived.", url)
        links = Links(_root(request, absolute=True))
        if modifier == "" and candidates[0].timestamp != timestamp:
            # a page is shown at the address of the capture it is (its Memento URI)
            return _redirect(f"{_root(request)}{candidates[0].timestamp}/"
                             f"{header_url(candidates[0].url)}", 302,
                             link=links.memento_header(candidates[0], url))
        replayable, problems = None, []
        for row in candidates:
            try:
                found = load(self.index, self.config.warc_dir, row)
            except CaptureUnavailable as exc:
                problems.append(str(exc))
                continue
            if _self_redirect(found) and row is not candidates[-1]:
                continue  # http -> https, or a trailing slash: replay the page itself
            replayable = found
            break
        if replayable is not None and modifier != IDENTITY and _self_redirect(replayable):
            # every capture of this key is a redirect to itself (http -> https, a slash): it
            # would send the browser round in circles
            return self.message(request, 404, "Only a redirect was archived",
                                "The archive holds this URL only as a redirect to itself "
                                "(the page it led to was not captured).", url)
        if replayable is None:
            return self.message(request, 502, "Capture unreadable",
                                "The archive index lists this URL, but its WARC record cannot "
                                f"be read: {problems[0] if problems else 'unknown'}", url)
        capture = replayable.capture
        around = self.index.neighbours(capture) if modifier == "" else None
        if modifier == IDENTITY:
            urls = UrlRewriter(_root(request), capture.timestamp, capture.url)
            response = _identity(replayable, request.headers.get("accept-encoding", ""), urls)
        else:
            response = self._rewritten(request, replayable, modifier, around)
        response.headers["Memento-Datetime"] = http_date(capture.fetched_at)
        response.headers["Link"] = links.memento_header(capture, url, around)
        if capture.timestamp != timestamp:
            response.headers["Content-Location"] = links.memento(capture, modifier)
        response.headers["Content-Security-Policy"] = \
            IDENTITY_CSP if modifier == IDENTITY else ARCHIVE_CSP
        response.headers["X-DNS-Prefetch-Control"] = "off"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def _rewritten(self, request: Request, rep: Replayable, modifier: str,
                   around: Neighbours | None) -> Response:
        capture = rep.capture
        urls = UrlRewriter(_root(request), capture.timestamp, capture.url)
        headers: list[tuple[bytes, bytes]] = []
        for name, value in rep.headers:
            low = name.lower()
            if low == b"location" and 300 <= rep.status < 400:
                target = urljoin(capture.url, value.decode("latin-1").strip())
                headers.append((b"location", header_url(urls(target, modifier)).encode()))
            elif low in KEPT_HEADERS:
                headers.append((low, value))
            elif low != b"content-encoding":
                headers.append((b"x-archive-orig-" + low, value))
        body, encoded = _decoded(rep)
        if encoded:  # undecodable: passed on as stored, still encoded
            headers.extend((b"content-encoding", c.encode()) for c in rep.content_encodings)
        elif rep.mime in HTML_TYPES or (not rep.mime and body.lstrip()[:1] == b"<"):
            encoding, text = html_to_unicode(rep.content_type or None, body)
            banner = self._banner(request, capture, around) if around is not None else None
            text = rewrite_html(text, urls, banner)
            body = text.encode(encoding, errors="xmlcharrefreplace")
            headers = [(k, v) for k, v in headers if k != b"content-type"]
            headers.append((b"content-type",
                            f"{rep.mime or 'text/html'}; charset={encoding}".encode()))
        elif rep.mime in CSS_TYPES:
            encoding, text = html_to_unicode(rep.content_type or None, body)
            body = rewrite_css(text, urls).encode(encoding, errors="replace")
        response = Response(body, status_code=rep.status or 200)
        response.raw_headers = [(k, v) for k, v in response.raw_headers
                                if k == b"content-length"] + headers
        return response

    def _banner(self, request: Request, capture: CaptureRow, around: Neighbours) -> str:
        when = capture.fetched_at.astimezone(UTC)
        return self.templates.get_template("banner.html").render(
            root=_root(request), iso=when.isoformat(), human=_when(when), url=capture.url,
            count=around.count, prev=around.prev, next=around.next,
            is_article=self.catalog.is_article(capture.url, around.urls()))

    # --- APIs ---------------------------------------------------------------------------------

    def cdx(self, request: Request) -> Response:
        params: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key, []).append(value)
        try:
            query = CdxQuery.parse(params)
        except CdxQueryError as exc:
            return PlainTextResponse(f"Error: {exc}\n", status_code=400)
        media = {"json": "text/x-ndjson", "link": LINK_FORMAT, "text": "text/plain",
                 "cdxj": "text/x-cdxj"}[query.output]
        rows = self.index.cdx(query)
        links = Links(_root(request, absolute=True))

        def lines() -> Any:
            # in chunks: each item of a streamed body is one trip to the thread pool
            chunk: list[str] = []
            for n, row in enumerate(rows):
                if query.output == "link":  # link format: entries separated by ",\n"
                    chunk.append(("" if n == 0 else ",\n") + links.memento_line(row))
                else:
                    chunk.append(format_cdx(row, query) + "\n")
                if len(chunk) == CDX_CHUNK:
                    yield "".join(chunk)
                    chunk = []
            if query.output == "link":
                chunk.append("\n")
            if chunk:
                yield "".join(chunk)

        # the first piece is read before the status line goes out: a query that fails (the
        # database, a filter) gets an error status, not a 200 with a cut-off body
        chunks = lines()
        try:
            first = next(chunks, None)
        except CdxQueryError as exc:
            return PlainTextResponse(f"Error: {exc}\n", status_code=400)
        except StorageError as exc:
            return PlainTextResponse(f"Error: {exc}\n", status_code=503)
        body = chain(() if first is None else (first,), chunks)
        return StreamingResponse(body, media_type=f"{media}; charset=utf-8")

    def timegate(self, request: Request, url: str) -> Response:
        accept = request.headers.get("accept-datetime")
        try:
            when = parse_accept_datetime(accept) if accept else datetime.now(UTC)
        except BadAcceptDatetime as exc:
            return PlainTextResponse(f"Error: {exc}\n", status_code=400)
        found = self.index.closest(url, when)
        if found is None:
            return self.message(request, 404, "Not in the archive",
                                "This URL was never archived.", url)
        links = Links(_root(request, absolute=True))
        response = _redirect(links.memento(found), 302,
                             link=links.memento_header(found, url))
        response.headers["Vary"] = "accept-datetime"
        return response

    def timemap(self, request: Request, url: str) -> Response:
        captures = self.index.captures_of(url)
        if not captures:
            return PlainTextResponse("Error: this URL was never archived\n", status_code=404)
        body = Links(_root(request, absolute=True)).timemap_body(url, captures)
        return Response(body, media_type=LINK_FORMAT)

    # --- dispatch -----------------------------------------------------------------------------

    def archive_path(self, request: Request) -> Response:
        """Everything under the root that is not one of the named pages."""
        path = _raw_path(request)
        match = ARCHIVE_PATH.match(path)
        if match:
            url = _archived_url(match.group("url"), request)
            if url is None:
                return self.message(request, 400, "Not a web address",
                                    "Only http and https URLs are archived.")
            if match.group("star"):
                return self.captures(request, url, match.group("ts"))
            if match.group("ts"):
                return self.replay(request, match.group("ts"), match.group("mod") or "", url)
        return self._from_referer(request, path)

    def _from_referer(self, request: Request, path: str) -> Response:
        """A root-relative URL that a script built in an archived page (``/wp-json/...``):
        sent back into the archive, resolved against the page it came from."""
        referer = request.headers.get("referer", "")
        root = _root(request, absolute=True)
        if referer.startswith(root):
            match = ARCHIVE_PATH.match("/" + referer[len(root):])
            if match and match.group("ts") and not match.group("star"):
                page = _archived_url(match.group("url"), None)
                if page:
                    query = request.url.query
                    target = urljoin(page, path + (f"?{query}" if query else ""))
                    return _redirect(f"{_root(request)}{match.group('ts')}"
                                     f"{match.group('mod') or ''}/{header_url(target)}", 307)
        return self.message(request, 404, "Not found", "Nothing is served at this address.")


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    root = request.scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def _archived_url(part: str, request: Request | None) -> str | None:
    """The archived URL in a replay path (query string included), scheme fixed up:
    ``http:/x`` (a collapsed double slash) and ``example.com/x`` (no scheme) are accepted."""
    if request is not None and request.url.query:
        part += "?" + request.url.query
    if re.match(r"^https?%3A", part, re.IGNORECASE):
        part = unquote(part)
    fixed = re.sub(r"^(https?):/+", r"\1://", part, flags=re.IGNORECASE)
    if "://" not in fixed.split("?", 1)[0][:12]:
        if re.match(r"^[a-z][a-z0-9+.-]*:", fixed, re.IGNORECASE) and \
                not re.match(r"^[^/:]+:\d", fixed):
            return None  # another scheme (mailto:, ftp:, javascript:)
        fixed = "http://" + fixed
    try:
        if urlsplit(fixed).scheme.lower() not in ("http", "https") or not urlsplit(fixed).netloc:
            return None
    except ValueError:
        return None
    return fixed


def _root(request: Request, *, absolute: bool = False) -> str:
    """The app's root path ("/" unless mounted lower), or its absolute URL."""
    if absolute:
        return str(request.base_url)
    return request.scope.get("root_path", "") + "/"


def _page_headers() -> dict[str, str]:
    return {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin"}


def _redirect(location: str, status: int, link: str | None = None) -> Response:
    response = RedirectResponse(location, status_code=status)
    if link:
        response.headers["Link"] = link
    return response


def _self_redirect(rep: Replayable) -> bool:
    if not 300 <= rep.status < 400:
        return False
    location = rep.header(b"location")
    if not location:
        return False
    target = urljoin(rep.capture.url, location.decode("latin-1").strip())
    return surt_key(target) == rep.capture.urlkey


def _decoded(rep: Replayable) -> tuple[bytes, bool]:
    """The payload without its Content-Encoding, and whether it had to stay encoded."""
    body = rep.payload
    try:
        for coding in reversed(rep.content_encodings):
            body = decode_content(body, coding)
    except StorageError:
        return rep.payload, True
    return body, False


def _identity(rep: Replayable, accept_encoding: str, urls: UrlRewriter) -> Response:
    """The capture as it was received: status, headers and bytes (Content-Encoding kept when
    the client accepts it, undone otherwise), except the headers that would act outside the
    archive (``RENAMED_ALWAYS``) and a redirect's Location, which points into the archive."""
    body, still_encoded = rep.payload, bool(rep.content_encodings)
    if still_encoded and not all(_accepts(accept_encoding, c) for c in rep.content_encodings):
        body, still_encoded = _decoded(rep)
    headers: list[tuple[bytes, bytes]] = []
    for name, value in rep.headers:
        low = name.lower()
        if low == b"content-encoding" and not still_encoded:
            continue
        if low == b"location":
            target = urljoin(rep.capture.url, value.decode("latin-1").strip())
            headers.append((name, header_url(urls(target, IDENTITY)).encode()))
            headers.append((b"x-archive-orig-location", value))
        elif low in RENAMED_ALWAYS:
            headers.append((b"x-archive-orig-" + low, value))
        else:
            headers.append((name, value))
    response = Response(body, status_code=rep.status or 200)
    response.raw_headers = [(k, v) for k, v in response.raw_headers
                            if k == b"content-length"] + headers
    return response


def _accepts(accept_encoding: str, coding: str) -> bool:
    if coding in ("identity", ""):
        return True
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in (coding, "*") or (coding == "x-gzip" and name.strip() == "gzip"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _record_kind(row: CaptureRow) -> str:
    if row.not_modified:
        return "not modified (304)"
    return "same payload as before" if row.record_type == "revisit" else "response"


def _when(value: datetime | None) -> str:
    if value is None:
        return "–"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _stamp(value: datetime | str) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return timestamp14(value)


def create_app(config: ReplayConfig) -> Starlette:
    """The ASGI app serving ``config``'s archive."""
    replay = Replay(config)

    def named(name: str, handler: Any) -> Route:
        return Route(name, handler, methods=["GET", "HEAD"])

    def with_url(method: Any, prefix: str) -> Any:
        def endpoint(request: Request) -> Response:
            part = _raw_path(request)[len(prefix):]
            url = _archived_url(part, request)
            if url is None:
                return replay.message(request, 400, "Not a web address",
                                      "Only http and https URLs are archived.")
            return method(request, url)  # type: ignore[no-any-return]
        return endpoint

    routes = [
        named("/", replay.home),
        named("/search", replay.search),
        named("/cdx", replay.cdx),
        named("/article/{url:path}", replay.article),
        named("/timegate/{url:path}", with_url(replay.timegate, "/timegate/")),
        named("/timemap/link/{url:path}", with_url(replay.timemap, "/timemap/link/")),
    ]

    async def everything_else(scope: Any, receive: Any, send: Any) -> None:
        # what no route above matches, which a route pattern could not say: a path part
        # holding a newline is no match for "{path:path}" (no DOTALL in Starlette's patterns)
        request = Request(scope, receive)
        if request.method not in ("GET", "HEAD"):
            response: Response = PlainTextResponse("Error: the archive is read-only\n",
                                                   status_code=405)
        else:
            response = await run_in_threadpool(replay.archive_path, request)
        await response(scope, receive, send)

    app = Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=list(config.allowed_hosts)),
    ], exception_handlers={
        StorageError: lambda request, exc: replay.message(request, 500, "Archive error",
                                                          str(exc)),
    })
    # an unknown path is the archive's (a URL may end in a slash or not), never a redirect
    app.router.redirect_slashes = False
    app.router.default = everything_else
    app.state.replay = replay
    return app
