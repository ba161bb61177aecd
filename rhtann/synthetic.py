"""Alias of :mod:`rhtann.data.synthetic` (the generators moved there).

``from rhtann import synthetic`` and ``import rhtann.synthetic`` give the
same module object as ``rhtann.data.synthetic``. No core module imports it.
"""

from __future__ import annotations

import sys

from .data import synthetic as _synthetic

sys.modules[__name__] = _synthetic
