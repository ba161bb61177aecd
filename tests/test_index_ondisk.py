"""On-disk IVF lists: same results as in memory, every id stored once, saved and loaded with checks."""

from __future__ import annotations

import shutil

import faiss
import numpy as np
import pytest

import rhtann
from rhtann.index import ondisk

D = 32
N = 6000
SPEC = "RHT,IVF32,SQ8"


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(11).standard_normal((N, D)).astype(np.float32)


@pytest.fixture(scope="module")
def reference(x) -> tuple[np.ndarray, np.ndarray]:
    index = rhtann.Index(D, SPEC).train(x)
    index.add(x)
    return index.search(x[:64], 10, nprobe=6)


def stored_ids(index: rhtann.Index) -> np.ndarray:
    lists = ondisk.lists_of(index.sub_index)
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
        for i in range(lists.nlist)
        if lists.list_size(i)
    ]
    return np.sort(np.concatenate(parts))


def on_disk(x: np.ndarray, path, before: int = 0) -> rhtann.Index:
    index = rhtann.Index(D, SPEC).train(x)
    index.add(x[:before])
    index.to_ondisk(path)
    index.add_from(x[before:], chunk_rows=1000, progress=False)
    return index


@pytest.mark.parametrize("before", [0, 1500])
def test_ondisk_equals_in_memory(tmp_path, x, reference, before, one_thread):
    index = on_disk(x, tmp_path / "lists.ivfdata", before)
    assert isinstance(ondisk.lists_of(index.sub_index), faiss.OnDiskInvertedLists)
    assert (tmp_path / "lists.ivfdata").stat().st_size >= N * (D + 8)
    np.testing.assert_array_equal(stored_ids(index), np.arange(N))  # each id exactly once
    D_, I_ = index.search(x[:64], 10, nprobe=6)
    np.testing.assert_array_equal(I_, reference[1])
    np.testing.assert_array_equal(D_, reference[0])


def test_save_load_and_move(tmp_path, x, reference, one_thread):
    folder = tmp_path / "a"
    folder.mkdir()
    index = on_disk(x, folder / "lists.ivfdata")
    index.save(folder / "index.rhtann")
    loaded = rhtann.load(folder / "index.rhtann")
    assert loaded._ondisk == str(folder / "lists.ivfdata")
    assert isinstance(ondisk.lists_of(loaded.sub_index), faiss.OnDiskInvertedLists)
    np.testing.assert_array_equal(loaded.search(x[:64], 10, nprobe=6)[1], reference[1])
    del index, loaded
    shutil.move(folder, tmp_path / "b")
    moved = rhtann.load(tmp_path / "b" / "index.rhtann")
    assert moved._ondisk == str(tmp_path / "b" / "lists.ivfdata")
    np.testing.assert_array_equal(moved.search(x[:64], 10, nprobe=6)[1], reference[1])


def test_lists_elsewhere_are_recorded_by_absolute_path(tmp_path, x):
    (tmp_path / "lists").mkdir()
    (tmp_path / "meta").mkdir()
    index = on_disk(x[:500], tmp_path / "lists" / "l.ivfdata")
    index.save(tmp_path / "meta" / "i.rhtann")
    assert rhtann.load(tmp_path / "meta" / "i.rhtann").ntotal == 500


def test_empty_ondisk_index_round_trips(tmp_path, x):
    index = rhtann.Index(D, SPEC).train(x)
    index.to_ondisk(tmp_path / "l.ivfdata")
    index.save(tmp_path / "i.rhtann")
    loaded = rhtann.load(tmp_path / "i.rhtann")
    assert loaded.ntotal == 0
    loaded.add(x[:100])
    assert loaded.search(x[:3], 1, nprobe=32)[1][:, 0].tolist() == [0, 1, 2]


def test_changed_lists_file_is_refused(tmp_path, x):
    index = on_disk(x[:800], tmp_path / "l.ivfdata")
    index.save(tmp_path / "i.rhtann")
    del index
    lists = tmp_path / "l.ivfdata"
    good = lists.read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 1
    lists.write_bytes(bytes(flipped))
    with pytest.raises(rhtann.FormatError, match="changed since the index was saved"):
        rhtann.load(tmp_path / "i.rhtann")
    lists.write_bytes(good[:-100])
    with pytest.raises(rhtann.FormatError, match="changed since the index was saved"):
        rhtann.load(tmp_path / "i.rhtann")
    lists.unlink()
    with pytest.raises(rhtann.FormatError, match="lists file .* is missing"):
        rhtann.load(tmp_path / "i.rhtann")
    lists.write_bytes(good)
    assert rhtann.load(tmp_path / "i.rhtann").ntotal == 800


def test_to_ondisk_errors(tmp_path, x):
    with pytest.raises(RuntimeError, match="not trained"):
        rhtann.Index(D, SPEC).to_ondisk(tmp_path / "a")
    flat = rhtann.Index(D, "RHT,SQ8").train(x)
    with pytest.raises(ValueError, match="need an IVF index; spec 'RHT,SQ8' has no IVF stage"):
        flat.to_ondisk(tmp_path / "b")
    index = rhtann.Index(D, SPEC).train(x)
    (tmp_path / "exists").write_bytes(b"")
    with pytest.raises(FileExistsError, match="exists"):
        index.to_ondisk(tmp_path / "exists")
    with pytest.raises(FileNotFoundError, match="folder"):
        index.to_ondisk(tmp_path / "no" / "such")
    index.to_ondisk(tmp_path / "c")
    with pytest.raises(RuntimeError, match="already on disk"):
        index.to_ondisk(tmp_path / "d")
    adaptive = rhtann.Index(D, SPEC, adaptive=True)
    with pytest.raises(RuntimeError, match="non-adaptive"):
        adaptive.to_ondisk(tmp_path / "e")
