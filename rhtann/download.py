"""Alias of :mod:`rhtann.data.download` (the downloader moved there)."""

from __future__ import annotations

import sys

from .data import download as _download

sys.modules[__name__] = _download
