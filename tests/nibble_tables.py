"""Test helpers: read and write a query's uint8 nibble tables in the scanners' layout.

The layout is host-dependent (:func:`rhtann.kernels.tables.table_slots`); these
helpers go through the slot offsets so that the references built from them hold
on every host.
"""

from __future__ import annotations

import numpy as np

from rhtann.kernels.tables import table_slots


def tables_of(lu: np.ndarray, npairs: int, copy: int = 0) -> np.ndarray:
    """The 16-entry tables held by one query's uint8 tables, shape (npairs, 2, 16) (copy 0 or 1)."""
    out = np.empty((2 * npairs, 16), dtype=lu.dtype)
    for t in range(2 * npairs):
        at = table_slots(t, npairs)[copy]
        out[t] = lu[at:at + 16]
    return out.reshape(npairs, 2, 16)


def lay_out(tabs: np.ndarray) -> np.ndarray:
    """Tables of shape (npairs, 2, 16) written in the scanners' layout, each twice (npairs * 64 bytes)."""
    npairs = tabs.shape[0]
    lu = np.zeros(npairs * 64, dtype=np.uint8)
    for t, tab in enumerate(tabs.reshape(2 * npairs, 16)):
        for at in table_slots(t, npairs):
            lu[at:at + 16] = tab
    return lu
