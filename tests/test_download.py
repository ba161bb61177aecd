"""The downloader against a local HTTP server on 127.0.0.1 (no other traffic)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from rhtann import data
from rhtann.data.download import DownloadError, download, download_dataset


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files[path]`` with HTTP Range support.

    ``server.cut[path] = n`` makes the next full or partial response stop
    after ``n`` bytes of body while announcing the full length (a dropped
    connection); it applies once.
    """

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        cut = srv.cut.pop(self.path, None)
        if cut is not None:
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


@pytest.fixture()
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.cut, srv.requests = {}, {}, []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def _hdf5_bytes(tmp_path: Path) -> bytes:
    rng = np.random.default_rng(0)
    train = rng.standard_normal((300, 8)).astype(np.float32)
    test = rng.standard_normal((5, 8)).astype(np.float32)
    nb, di = data.ground_truth(train, test, "euclidean", k=10, progress=False)
    path = tmp_path / "src.hdf5"
    data.write_hdf5(path, data.Dataset("src", train, test, nb, di, "euclidean"))
    return path.read_bytes()


def test_plain_download_checks_sha(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    server.files["/tiny.hdf5"] = body
    digest = hashlib.sha256(body).hexdigest()
    out = download(server.url + "/tiny.hdf5", tmp_path / "out" / "tiny.hdf5", sha256=digest,
                   progress=False)
    assert out.read_bytes() == body
    assert data.read_hdf5(out).train.shape == (300, 8)
    assert not (tmp_path / "out" / "tiny.hdf5.part").exists()


def test_interrupted_download_resumes_with_range(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    server.files["/tiny.hdf5"] = body
    server.cut["/tiny.hdf5"] = 1000
    out = download(server.url + "/tiny.hdf5", tmp_path / "tiny.hdf5", progress=False, chunk=256)
    assert out.read_bytes() == body
    assert server.requests == [("/tiny.hdf5", None), ("/tiny.hdf5", "bytes=1000-")]


def test_partial_file_is_kept_and_resumed_by_next_call(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    server.files["/tiny.hdf5"] = body
    server.cut["/tiny.hdf5"] = 700
    dest = tmp_path / "tiny.hdf5"
    with pytest.raises(DownloadError, match="interrupted at 700"):
        download(server.url + "/tiny.hdf5", dest, retries=0, progress=False)
    part = tmp_path / "tiny.hdf5.part"
    assert part.stat().st_size == 700 and not dest.exists()
    download(server.url + "/tiny.hdf5", dest, retries=0, progress=False)
    assert dest.read_bytes() == body
    assert server.requests[-1] == ("/tiny.hdf5", "bytes=700-")


def test_corrupt_file_rejected_by_checksum(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    bad = bytearray(body)
    bad[len(bad) // 2] ^= 0xFF
    server.files["/tiny.hdf5"] = bytes(bad)
    dest = tmp_path / "tiny.hdf5"
    with pytest.raises(DownloadError, match="SHA-256"):
        download(server.url + "/tiny.hdf5", dest, sha256=hashlib.sha256(body).hexdigest(),
                 progress=False)
    assert not dest.exists() and not (tmp_path / "tiny.hdf5.part").exists()


def test_file_that_is_not_an_ann_benchmarks_hdf5_is_rejected(server, tmp_path):
    server.files["/junk.hdf5"] = b"<html>not found</html>" * 50
    with pytest.raises(DownloadError, match="HDF5"):
        download(server.url + "/junk.hdf5", tmp_path / "junk.hdf5", progress=False)
    assert not (tmp_path / "junk.hdf5").exists()


def test_wrong_size_rejected(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    server.files["/tiny.hdf5"] = body
    with pytest.raises(DownloadError, match="expected"):
        download(server.url + "/tiny.hdf5", tmp_path / "tiny.hdf5", size=len(body) + 5,
                 progress=False)


def test_http_error_and_offline_messages(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP error 404"):
        download(server.url + "/missing.hdf5", tmp_path / "m.hdf5", progress=False)
    # a closed loopback port stands for a machine without network
    sock_srv = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    port = sock_srv.server_address[1]
    sock_srv.server_close()
    with pytest.raises(DownloadError, match="offline"):
        download(f"http://127.0.0.1:{port}/x.hdf5", tmp_path / "x.hdf5", progress=False,
                 timeout=2)


def test_download_dataset_by_name_uses_url_and_root(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    server.files["/fashion-mnist-784-euclidean.hdf5"] = body
    out = download_dataset("fashion-mnist-784-euclidean", root=tmp_path / "ds",
                           url=server.url + "/fashion-mnist-784-euclidean.hdf5", progress=False)
    assert out == tmp_path / "ds" / "fashion-mnist-784-euclidean.hdf5"
    assert data.load("fashion-mnist-784-euclidean", root=tmp_path / "ds").test.shape == (5, 8)
    with pytest.raises(ValueError, match="unknown ann-benchmarks dataset"):
        download_dataset("no-such-set", root=tmp_path)
