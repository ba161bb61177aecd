import struct

import pytest

from rhtann.io import (
    FORMAT_VERSION,
    MAGIC,
    FormatError,
    peek_kind,
    read_container,
    write_container,
)


def test_round_trip(tmp_path):
    path = tmp_path / "obj.rht"
    write_container(path, "Thing", {"a": 1, "b": [1, 2]}, {"x": b"\x00\x01", "y": b""})
    meta, blobs = read_container(path, "Thing")
    assert meta == {"a": 1, "b": [1, 2]}
    assert blobs == {"x": b"\x00\x01", "y": b""}
    assert peek_kind(path) == "Thing"
    assert [p.name for p in tmp_path.iterdir()] == ["obj.rht"]  # no temporary left


def test_rejects_truncated_flipped_foreign_future_and_wrong_kind(tmp_path):
    path = tmp_path / "obj.rht"
    write_container(path, "Thing", {"a": 1}, {"x": bytes(range(200))})
    data = path.read_bytes()

    cases = {
        "truncated": data[: len(data) // 2],
        "flipped": data[:100] + bytes([data[100] ^ 0x10]) + data[101:],
        "foreign": b"PK\x03\x04" + data[4:],
        "future": MAGIC + struct.pack("<I", FORMAT_VERSION + 1) + data[12:],
        "empty": b"",
    }
    messages = {
        "truncated": "truncated",
        "flipped": "corrupted",
        "foreign": "not an rhtann file",
        "future": "version",
        "empty": "not an rhtann file",
    }
    for name, blob in cases.items():
        bad = tmp_path / f"{name}.rht"
        bad.write_bytes(blob)
        with pytest.raises(FormatError, match=messages[name]):
            read_container(bad, "Thing")
    with pytest.raises(FormatError, match="holds a 'Thing' object"):
        read_container(path, "Other")


def test_failed_write_leaves_previous_file(tmp_path):
    path = tmp_path / "obj.rht"
    write_container(path, "Thing", {"v": 1})

    class NotBytes:
        """Has a length, so the header is written, but cannot be written itself."""

        def __len__(self):
            return 3

    with pytest.raises(TypeError):
        write_container(path, "Thing", {"v": 2}, {"x": NotBytes()})  # type: ignore[dict-item]
    meta, _ = read_container(path, "Thing")
    assert meta == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["obj.rht"]


# ----------------------------------------------------------------------
# hostile files: special files, forged headers, cross-checks, umask
# ----------------------------------------------------------------------


def _special_paths(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    paths = {"/dev/zero": "/dev/zero", "fifo": fifo, "folder": folder}
    for name, target in list(paths.items()):
        link = tmp_path / f"link_{name.strip('/').replace('/', '_')}"
        link.symlink_to(target)
        paths[f"symlink to {name}"] = link
    return paths


def test_special_files_rejected_without_reading(tmp_path):
    import rhtann

    for path in _special_paths(tmp_path).values():
        for loader in (rhtann.load, rhtann.RHT.load, rhtann.Index.load, peek_kind):
            with pytest.raises(FormatError, match="not a regular file"):
                loader(path)
        with pytest.raises(FormatError, match="not a regular file"):
            read_container(path, "Thing")


def test_saved_files_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        write_container(tmp_path / "a.rht", "Thing", {})
    finally:
        os.umask(old)
    assert (tmp_path / "a.rht").stat().st_mode & 0o777 == 0o640
    old = os.umask(0o002)
    try:
        write_container(tmp_path / "b.rht", "Thing", {})
    finally:
        os.umask(old)
    assert (tmp_path / "b.rht").stat().st_mode & 0o777 == 0o664


def _nested(depth: int) -> list:
    out: list = []
    for _ in range(depth):
        out = [out]
    return out


def test_header_bounds(tmp_path):
    from fuzz_files import join

    cases = {
        "deep": ({"kind": "Thing", "meta": {"a": _nested(40)}, "blobs": []}, "nested"),
        "blob size": ({"kind": "Thing", "meta": {}, "blobs": [["x", 2**40]]}, "truncated"),
        "negative": ({"kind": "Thing", "meta": {}, "blobs": [["x", -5]]}, "invalid blob entry"),
        "float size": ({"kind": "Thing", "meta": {}, "blobs": [["x", 1.5]]}, "invalid blob entry"),
        "twice": ({"kind": "Thing", "meta": {}, "blobs": [["x", 0], ["x", 0]]}, "twice"),
        "list": ([1, 2], "without the keys"),
        "meta type": ({"kind": "Thing", "meta": [], "blobs": []}, "wrong type"),
    }
    for name, (header, message) in cases.items():
        p = tmp_path / f"{name}.rht"
        p.write_bytes(join(header, b""))
        with pytest.raises(FormatError, match=message):
            read_container(p, "Thing")
    big = tmp_path / "big.rht"
    big.write_bytes(MAGIC + struct.pack("<II", 1, 2**31) + bytes(64))
    with pytest.raises(FormatError, match="truncated"):
        read_container(big, "Thing")


def _forge(path, edit):
    from fuzz_files import join, split

    header, blobs = split(path.read_bytes())
    edit(header)
    path.write_bytes(join(header, blobs))


def test_forged_rht_dimension_rejected_before_allocation(tmp_path):
    import time

    import rhtann

    p = tmp_path / "t.rht"
    rhtann.RHT(32).save(p)
    for d in (2**26, 10**29, True, -3, "32"):
        _forge(p, lambda h, d=d: h["meta"].__setitem__("d", d))
        t0 = time.perf_counter()
        with pytest.raises(FormatError, match="invalid RHT parameters"):
            rhtann.load(p)
        assert time.perf_counter() - t0 < 5
        rhtann.RHT(32).save(p)


def test_forged_index_parts_are_cross_checked(tmp_path):
    import numpy as np

    import rhtann

    x = np.random.default_rng(0).standard_normal((400, 16)).astype("float32")
    x[::3, 2:] = 0
    p = tmp_path / "a.rht"
    ada = rhtann.Index(16, "RHT,SQ8", adaptive=True)
    ada.train(x)
    ada.add(x)
    fixed = rhtann.Index(16, "RHT2,SQ8")
    fixed.train(x)
    fixed.add(x)
    q = tmp_path / "f.rht"
    edits = {
        "adaptive relabelled fixed": (p, lambda h: h["meta"].__setitem__("adaptive", False), "levels"),
        "levels": (p, lambda h: h["meta"].__setitem__("levels", [1, 3]), "levels"),
        "fixed relabelled adaptive": (q, lambda h: h["meta"].__setitem__("adaptive", True), "levels|blobs"),
        "d": (q, lambda h: h["meta"].__setitem__("d", 17), "transform|sub-index"),
        "rht d": (q, lambda h: h["meta"]["rht"].__setitem__("d", 9), "transform"),
        "rounds": (q, lambda h: h["meta"]["rht"].update(rounds=3, n_rounds=3), "transform"),
        "is_trained": (q, lambda h: h["meta"]["rht"].__setitem__("is_trained", "yes"), "is_trained"),
        "spec": (q, lambda h: h["meta"].__setitem__("spec", "RHT,HNSW0"), "HNSW"),
        "long spec": (q, lambda h: h["meta"].__setitem__("spec", "RHT," + "Flat" * 4000), "256 characters"),
        "ntotal": (q, lambda h: h["meta"].__setitem__("ntotal", [5]), "ntotal"),
        "extra blob": (q, lambda h: h["blobs"].append(["zzz", 0]), "blobs"),
        "renamed signs": (q, lambda h: h["blobs"][0].__setitem__(0, "zzz"), "sign vectors"),
        "stats": (q, lambda h: h["meta"].__setitem__("stats", [1]), "stats"),
    }
    for path, edit, message in edits.values():
        ada.save(p)
        fixed.save(q)
        _forge(path, edit)
        with pytest.raises(FormatError, match=message):
            rhtann.load(path)
