"""Site profiles: what to crawl on a site and how to read its articles.

A profile is a small TOML file. Every key is optional except ``base_url``; a site with no profile
gets :func:`default_profile`, whose general rules fit most WordPress-style newsrooms. Example::

    name = "kudakyv"
    base_url = "https://kudakyv.com/"
    start_urls = ["https://kudakyv.com/", "https://kudakyv.com/category/internasional/"]
    sitemaps = ["https://kudakyv.com/sitemap_index.xml"]
    feeds = ["https://kudakyv.com/feed/"]
    requisite_hosts = ["*.kudakyv-cdn.net"]  # more hosts page requisites may come from

    [articles]
    allow = ['/\\d{4}/\\d{2}/\\d{2}/']     # regexes on the URL path: these are articles
    deny = ['/tag/', '/author/']          # never treat these as articles

    [extraction]
    body = "div.entry-content"            # take this element as the article body
    remove = ["div.related-posts", ".ads"]   # drop these before extraction
    promo_labels = ["Jangan Lewatkan"]    # extra inline promo labels for this site
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import urlsplit

from crawler.errors import ProfileError
from storage.urls import site_name_for


@dataclass(frozen=True)
class ExtractionRules:
    """Per-site additions to the general extraction rules."""

    body_selector: str | None = None
    remove_selectors: tuple[str, ...] = ()
    promo_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteProfile:
    """Everything arsip needs to know about one site."""

    name: str
    base_url: str
    start_urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    article_allow: tuple[str, ...] = ()
    article_deny: tuple[str, ...] = ()
    extraction: ExtractionRules = field(default_factory=ExtractionRules)
    source: str | None = None  # where it was read from, for messages
    # hosts (``*.example`` for subdomains) whose page requisites are fetched besides the site's
    # own and its pages' stylesheet hosts (crawler/requisites.py)
    requisite_hosts: tuple[str, ...] = ()
    # what the archive keeps for the site (``sites.profile``): a bundled profile's name, or the
    # TOML text itself, never a path; None for the general rules
    stored: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def domains(self) -> tuple[str, ...]:
        return self.allowed_domains or (_registrable_host(self.host),)

    def denies(self, url: str) -> bool:
        """True when the profile says this URL is never an article."""
        path = urlsplit(url).path
        return any(re.search(p, path) for p in self.article_deny)

    def with_start_urls(self, urls: tuple[str, ...]) -> SiteProfile:
        return replace(self, start_urls=urls)


def _registrable_host(host: str) -> str:
    # "www." is the one prefix newsrooms swap freely between sitemap and page links
    return host[4:] if host.startswith("www.") else host


def default_profile(url: str, name: str | None = None) -> SiteProfile:
    """The profile of a site nobody wrote a profile for."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError(f"not an absolute http(s) URL: {url!r}")
    base = f"{parts.scheme}://{parts.netloc}/"
    # the registry's own rule (a non-default port is part of the name): a crawl names its site
    # before the recorder looks it up, and a name that dropped the port would find the site of
    # another port on the same host
    return SiteProfile(name=name or site_name_for(url), base_url=base, start_urls=(url,))


def _strings(data: dict, key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def parse_profile(text: str, source: str = "<profile>", stored: str | None = None) -> SiteProfile:
    """Parse and validate one TOML profile."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source}: not valid TOML: {exc}") from None
    base_url = data.get("base_url")
    if not isinstance(base_url, str):
        raise ProfileError(f"{source}: 'base_url' is required")
    default = default_profile(base_url, data.get("name"))
    articles = data.get("articles", {})
    extraction = data.get("extraction", {})
    if not isinstance(articles, dict) or not isinstance(extraction, dict):
        raise ProfileError(f"{source}: [articles] and [extraction] must be tables")
    allow = _strings(articles, "allow", source)
    deny = _strings(articles, "deny", source)
    for pattern in allow + deny:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ProfileError(f"{source}: bad article pattern {pattern!r}: {exc}") from None
    body = extraction.get("body")
    if body is not None and not isinstance(body, str):
        raise ProfileError(f"{source}: [extraction] body must be a CSS selector string")
    return SiteProfile(
        name=default.name,
        base_url=default.base_url,
        start_urls=_strings(data, "start_urls", source) or default.start_urls,
        sitemaps=_strings(data, "sitemaps", source),
        feeds=_strings(data, "feeds", source),
        allowed_domains=_strings(data, "allowed_domains", source),
        article_allow=allow,
        article_deny=deny,
        extraction=ExtractionRules(
            body_selector=body,
            remove_selectors=_strings(extraction, "remove", source),
            promo_labels=_strings(extraction, "promo_labels", source),
        ),
        source=source,
        requisite_hosts=_strings(data, "requisite_hosts", source),
        stored=text if stored is None else stored,
    )


def is_profile_path(name_or_path: str) -> bool:
    """Whether ``--site`` names a profile file rather than a site or profile by name."""
    candidate = Path(name_or_path)
    return candidate.suffix == ".toml" or candidate.is_file()


def load_profile(name_or_path: str, search_dirs: tuple[Path, ...] = ()) -> SiteProfile:
    """Load a profile from a ``.toml`` path, or by name from ``search_dirs``, then bundled.

    A bundled profile is stored in the archive by its name (it is part of arsip, and improves
    with it); any other is stored as its TOML text, so the site does not depend on the file.
    """
    own: Traversable | None = None
    if is_profile_path(name_or_path):
        paths: list[Path | Traversable] = [Path(name_or_path)]
    else:
        own = bundled(name_or_path)
        paths = [*(d / f"{name_or_path}.toml" for d in search_dirs), own]
    for path in paths:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return parse_profile(text, str(path), stored=name_or_path if path is own else None)
    raise ProfileError(f"no site profile named {name_or_path!r} (looked in: "
                       + ", ".join(str(p) for p in paths) + ")")


def is_profile_text(stored: str) -> bool:
    """Whether a stored profile is TOML text rather than a bundled profile's name."""
    return "=" in stored or "\n" in stored  # TOML has a key; a name has neither


def stored_profile(stored: str, site: str) -> SiteProfile:
    """The profile a site keeps in the archive: a bundled profile's name, or TOML text."""
    if is_profile_text(stored):
        return parse_profile(stored, f"<the profile stored for site {site!r}>")
    path = bundled(stored)
    if not path.is_file():
        raise ProfileError(f"site {site!r} uses the bundled profile {stored!r}, which this "
                           "arsip does not have")
    return parse_profile(path.read_text(encoding="utf-8"), str(path), stored=stored)



def bundled(name: str) -> Traversable:
    """The bundled profile ``name``, read as a package resource: inside Scrapyd's egg (a zip)
    there is no folder beside this module to look in."""
    return files("crawler").joinpath("profiles", f"{name}.toml")
