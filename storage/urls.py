"""The form URLs are kept in: one function, without database code, so the crawl process can key
its revisit plan the way ``pages`` does."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# a listing's page N: WordPress's /page/N/, and ?page=N / ?paged=N
_PAGE_N = re.compile(r"/page/(\d+)/?$|[?&](?:page|paged)=(\d+)$", re.IGNORECASE)


def page_url(url: str) -> str:
    """The form a URL is kept in ``pages``: scheme and host lower-cased, default port and
    fragment dropped. Path and query are left alone; servers may treat their case as meaningful.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.username or parts.password:
        # userinfo is rare on news sites and better kept verbatim than rebuilt wrongly
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + host
    else:
        netloc = host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def later_page(url: str) -> bool:
    """Whether ``url`` is page 2 or later of a listing (``/page/57/``, ``?paged=3``)."""
    found = _PAGE_N.search(url.split("#", 1)[0])
    return found is not None and int(found.group(1) or found.group(2)) > 1


def host_key(url: str) -> tuple[str, int | None, str] | None:
    """(host without ``www.``, explicit non-default port, path) of an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    if port in (80, 443):
        port = None
    return host, port, parts.path or "/"


def site_name_for(url: str) -> str:
    """The name a site gets when nobody named it: its host without ``www.``, and its port
    when that is not the scheme's default."""
    key = host_key(url)
    if key is None:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host, port, _ = key
    return f"{host}:{port}" if port else host
