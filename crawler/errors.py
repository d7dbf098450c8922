"""Named errors for the crawler side. The CLI turns every ``ArsipError`` into a one-line message."""

from __future__ import annotations


class ArsipError(Exception):
    """An expected failure that the user can act on."""


class UsageError(ArsipError):
    """A flag or argument is wrong."""


class ProfileError(ArsipError):
    """A site profile is missing or malformed."""


class SiteUnreachableError(ArsipError):
    """No start URL of the site answered."""


class ExtractionError(ArsipError):
    """An article could not be extracted from a page."""


class EmptyDocumentError(ExtractionError):
    """The page has no body at all, or only whitespace."""


class NotHTMLError(ExtractionError):
    """The input is not an HTML document."""


class NoContentError(ExtractionError):
    """The page parsed but no article text was found in it."""
