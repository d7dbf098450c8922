"""``python -m crawler``: the ``arsip`` command (``crawler.launch``)."""

from __future__ import annotations

import sys

from crawler.launch import main

sys.exit(main())
