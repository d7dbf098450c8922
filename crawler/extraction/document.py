"""Decoding bytes and parsing HTML once into the lxml tree every later step shares."""

from __future__ import annotations

import re

from charset_normalizer import from_bytes
from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    document_fromstring,
    fromstring,
)
from w3lib.encoding import html_body_declared_encoding, html_to_unicode, read_bom

from crawler.errors import EmptyDocumentError, NotHTMLError

# Same parser options as trafilatura's own, so the tree we hand over is the tree it expects.
_PARSER = HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
    remove_pis=True,
)
# Every element an HtmlElement, chosen in C. lxml.html's own lookup is a Python method called
# for each element a Python loop touches (a tenth of an extraction), and what it adds, form and
# input classes, nothing here uses; bench/extract_quality.py's pages extract the same with both.
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))
# C0 controls other than tab, newline and carriage return: XML has no place for them.
_XML_FORBIDDEN = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_SLASHED_DOCTYPE = re.compile(rb"^< ?! ?DOCTYPE[^>]*/[^<>]*>", re.IGNORECASE)
_SELF_CLOSED_HTML = re.compile(rb"(<html.*?)\s*/>", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b")
_MARKUP = re.compile(r"<\s*(?:!doctype|html|head|body|div|p|article|meta|title|span|table|h\d)\b",
                     re.IGNORECASE)


def decode_html(body: bytes, http_charset: str | None = None) -> str:
    """Decode a page: BOM, then the HTTP header charset, then <meta charset> / http-equiv, then
    detection. w3lib puts the BOM first, as browsers do: a BOM cannot lie, a header can. Without
    a header, bytes that are valid UTF-8 beyond ASCII are read as UTF-8 whatever the tag says."""
    content_type = f"text/html; charset={http_charset}" if http_charset else None
    if content_type is None and _utf8_despite_meta(body):
        return body.decode("utf-8")
    _encoding, text = html_to_unicode(content_type, body, auto_detect_fun=_guess_encoding)
    return text


def _utf8_despite_meta(body: bytes) -> bool:
    """A page saved or re-served as UTF-8 that still carries its old ``<meta charset=gb2312>``.
    Text in a legacy multi-byte or 8-bit charset is almost never valid UTF-8 once it holds a
    few non-ASCII characters, so valid UTF-8 with them outweighs the tag (not an HTTP header)."""
    if read_bom(body)[0] is not None or body.isascii():
        return False
    declared = html_body_declared_encoding(body)
    if declared is None or declared.replace("-", "").replace("_", "").lower() == "utf8":
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _guess_encoding(body: bytes) -> str | None:
    """A page that declares no charset: UTF-8 when it decodes as such, else the best guess
    from its bytes. The same order Scrapy follows in a crawl, so a page read from a file and
    the same page fetched come out alike."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        match = from_bytes(body).best()
        return match.encoding if match else None
    return "utf-8"


def to_text(html: str | bytes, http_charset: str | None = None) -> str:
    """The page as text, or a named error when it is empty or plainly not HTML."""
    if isinstance(html, bytes):
        if not html.strip():
            raise EmptyDocumentError("empty document")
        utf16 = html.startswith((b"\xff\xfe", b"\xfe\xff"))  # a BOM: NULs are expected
        if html.startswith(_BINARY_MAGIC) or (b"\x00" in html[:1024] and not utf16):
            raise NotHTMLError("binary content, not HTML")
        html = decode_html(html, http_charset)
    if not html.strip():
        raise EmptyDocumentError("empty document")
    head = html[:4096].lstrip("\ufeff \t\r\n")
    if head[:1] in "{[" and not _MARKUP.search(head):
        raise NotHTMLError("JSON, not HTML")
    if not _MARKUP.search(html[:65536]) and "<" not in head[:200]:
        raise NotHTMLError("no HTML markup found")
    return html


def parse(text: str) -> HtmlElement:
    """Parse once, into the tree trafilatura's own loader would build.

    The page goes to libxml2 as UTF-8 bytes after the repairs trafilatura's ``load_html``
    makes (characters XML forbids, a doctype libxml2 mishandles, a self-closing ``<html/>``).
    Done on bytes they cost a fraction of what its regex over the decoded text does: half a
    millisecond of a 65 KB page, a tenth of its whole extraction.
    """
    text = _XML_DECLARATION.sub("", text, count=1)
    data = text.encode("utf-8", "replace").translate(None, _XML_FORBIDDEN)
    if b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data:  # U+FFFE, U+FFFF
        data = data.replace(b"\xef\xbf\xbe", b"").replace(b"\xef\xbf\xbf", b"")
    first, newline, rest = data.partition(b"\n")
    if b"doctype" in first[:60].lower():
        data = _SLASHED_DOCTYPE.sub(b"", first, count=1) + newline + rest
    if any(b"<html" in line and line.endswith(b"/>") for line in data[:4096].splitlines()[:4]):
        data = _SELF_CLOSED_HTML.sub(rb"\1>", data, count=1)
    try:
        tree = fromstring(data, parser=_PARSER)
    except (etree.ParserError, ValueError):
        tree = None
    if tree is None or tree.tag != "html":
        # a fragment or something odd: wrap it in a document rather than give up
        try:
            tree = document_fromstring(data, parser=_PARSER)
        except (etree.ParserError, ValueError) as exc:
            raise NotHTMLError(f"unparseable HTML: {exc}") from None
    if tree is None:
        raise NotHTMLError("unparseable HTML")
    return tree


def body_of(tree: HtmlElement) -> HtmlElement | None:
    found = tree.find("body")
    return found if found is not None else tree.find(".//body")
