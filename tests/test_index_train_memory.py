"""Index.train holds neither every input row nor every rotated row."""

from __future__ import annotations

import faiss
import numpy as np

import rhtann
from rhtann.rounds import AUTO_SAMPLE


class CountingRows:
    """A lazy 2-D source (shape, dtype, __getitem__) that counts the rows read."""

    def __init__(self, x: np.ndarray) -> None:
        self.x, self.shape, self.dtype, self.rows_read = x, x.shape, x.dtype, 0

    def __getitem__(self, key):
        out = self.x[key]
        self.rows_read += len(out)
        return out


def test_auto_rounds_read_only_the_sample():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((AUTO_SAMPLE + 700, 32)).astype(np.float32)
    x[::5, 2:] = 0
    src = CountingRows(x)
    ix = rhtann.Index(32, "RHTauto,Flat", threads=1)
    ix.train(src)
    assert src.rows_read == AUTO_SAMPLE  # Flat needs no rotated rows; the choice reads its sample
    ref = rhtann.RHT(32, rounds="auto").train(x)
    assert ix.rht.n_rounds_ == ref.n_rounds_
    mine = {k: v for k, v in ix.rht.auto_report_.items() if k != "seconds"}
    theirs = {k: v for k, v in ref.auto_report_.items() if k != "seconds"}
    assert mine == theirs and mine["n_total"] == len(x)


def test_minmax_sq_trained_from_ranges_equals_full_training():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3000, 40)).astype(np.float32)
    for key in ("SQ8", "SQ4", "SQ6"):
        ix = rhtann.Index(40, f"RHT2,{key}", chunk_size=256)
        ix.train(x)
        full = faiss.index_factory(ix.d_out, key)
        full.train(ix.rht.apply(x))
        np.testing.assert_array_equal(
            faiss.vector_to_array(faiss.downcast_index(ix.sub_index).sq.trained),
            faiss.vector_to_array(full.sq.trained),
        )


def test_flat_training_reads_nothing():
    src = CountingRows(np.ones((500, 8), dtype=np.float32))
    rhtann.Index(8, "RHT,HNSW8,Flat").train(src)
    assert src.rows_read == 0
