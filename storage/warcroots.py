"""Where each WARC file lives when several crawl nodes write them.

Every node writes its own files into its own storage root, and names each one after its host
(``PREFIX-TIMESTAMP-SERIAL-HOST.warc.gz``, ``storage.warc``); the ``captures`` index holds the
file name. So the name says which node a file lives under, and the index needs no column of its
own for it: ``WarcRoots`` maps a node's host to the folder its files are read from here (a
mount of that node's storage root), and every other file is read from the archive's own WARC
folder -- which is all there is to it when the nodes share one folder (NFS), or on one machine.

Configured as ``HOST=DIR`` pairs (``--warc-root``, ``ARSIP_WARC_ROOTS``, comma-separated).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from storage.errors import StorageError

# the host part of a name arsip gave a WARC file (the writer keeps only these characters)
_HOST = re.compile(r"-([A-Za-z0-9._]+)\.warc\.gz(?:\.open)?$")


class WarcRootError(StorageError):
    """A node's storage root is named wrongly."""


def name_part(text: str) -> str:
    """``text`` as a field of a WARC file name (a host, a prefix): '-' separates the fields,
    so it may not appear inside one."""
    return re.sub(r"[^A-Za-z0-9._]+", "_", text).strip("_") or "host"


def node_of(warc_file: str) -> str | None:
    """The host part of an arsip WARC file name, or None for a name arsip did not give."""
    found = _HOST.search(warc_file)
    return found.group(1) if found else None


@dataclass(frozen=True)
class WarcRoots:
    """The archive's WARC folder, and the storage roots of nodes whose files are elsewhere."""

    default: Path
    # host part of the node's file names -> the folder they are read from
    nodes: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def parse(cls, default: Path, pairs: Iterable[str]) -> WarcRoots:
        """From ``HOST=DIR`` pairs (each may hold several, comma-separated)."""
        nodes: dict[str, Path] = {}
        for pair in pairs:
            for item in filter(None, (p.strip() for p in pair.split(","))):
                host, sep, folder = item.partition("=")
                if not sep or not host.strip() or not folder.strip():
                    raise WarcRootError(f"a node's WARC root is HOST=DIR, not {item!r}")
                nodes[name_part(host.strip())] = Path(folder.strip()).expanduser()
        return cls(default, nodes)

    def folder_of(self, warc_file: str) -> Path:
        """The folder ``warc_file`` is read from."""
        node = node_of(warc_file)
        return self.nodes.get(node, self.default) if node else self.default

    def folders(self) -> list[Path]:
        """Every folder that holds files of this archive, the archive's own first (left out
        when it does not exist and nodes' roots are named: the nodes hold every file)."""
        seen = [] if self.nodes and not self.default.is_dir() else [self.default]
        for folder in self.nodes.values():
            if folder not in seen:
                seen.append(folder)
        return seen


def locate(where: Path | WarcRoots, warc_file: str) -> Path:
    """The path of ``warc_file``: in ``where`` when it is one folder, else in its node's."""
    folder = where.folder_of(warc_file) if isinstance(where, WarcRoots) else where
    return folder / warc_file
