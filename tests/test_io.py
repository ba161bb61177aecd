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
