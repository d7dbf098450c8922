"""Named errors for the storage layer (which never imports the crawler)."""

from __future__ import annotations


class StorageError(Exception):
    """An expected storage failure that the user can act on."""


class DatabaseError(StorageError):
    """The database cannot be opened, migrated or written."""


class WarcError(StorageError):
    """A WARC file cannot be written or read."""


class DiskFullError(WarcError):
    """The disk holding the WARC folder is full."""


class CaptureNotFoundError(StorageError):
    """No capture matches the URL and time asked for."""
