"""The downloader against a local HTTP server on 127.0.0.1 (no other traffic)."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
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
        if self.path in srv.redirect:
            self.send_response(302)
            self.send_header("Location", srv.redirect[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path in srv.special:
            return self._special(*srv.special[self.path])
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


    def _special(self, mode, body, arg):
        """``nolength``: body (cut to ``arg`` bytes) without Content-Length, then close;
        ``chunked``: chunked encoding, stopping before the last chunk when ``arg``;
        ``slow``: one byte every ``arg`` seconds (with Content-Length)."""
        try:
            if mode == "chunked":
                self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            if mode == "nolength":
                self.end_headers()
                self.wfile.write(body[:arg] if arg else body)
            elif mode == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                for i in range(0, len(body), 4096):
                    block = body[i : i + 4096]
                    self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                if not arg:
                    self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(arg)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


@pytest.fixture()
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.files, srv.cut, srv.requests, srv.redirect, srv.special = {}, {}, [], {}, {}
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


def test_corrupt_full_size_part_file_is_deleted_and_fetched_again(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    server.files["/tiny.hdf5"] = body
    dest = tmp_path / "tiny.hdf5"
    part = tmp_path / "tiny.hdf5.part"
    part.write_bytes(b"\0" * len(body))  # full size, garbage: the server answers 416 to its Range
    out = download(server.url + "/tiny.hdf5", dest, progress=False)
    assert out.read_bytes() == body and not part.exists()
    assert server.requests == [("/tiny.hdf5", f"bytes={len(body)}-"), ("/tiny.hdf5", None)]


def test_corrupt_part_is_deleted_even_when_the_server_keeps_serving_garbage(server, tmp_path):
    server.files["/junk.hdf5"] = b"\x89HDF\r\n\x1a\n" + b"\0" * 3000  # an HDF5 signature, no file
    dest = tmp_path / "junk.hdf5"
    for _ in range(2):  # the second call starts afresh, it is not stuck on the part file
        with pytest.raises(DownloadError, match="HDF5"):
            download(server.url + "/junk.hdf5", dest, progress=False)
        assert not (tmp_path / "junk.hdf5.part").exists() and not dest.exists()
    assert [r for _, r in server.requests] == [None, None]


def test_body_without_content_length_is_refused_unless_its_size_is_known(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    server.special["/cut.hdf5"] = ("nolength", body, len(body) // 2)
    with pytest.raises(DownloadError, match="no size"):
        download(server.url + "/cut.hdf5", tmp_path / "cut.hdf5", progress=False)
    assert not (tmp_path / "cut.hdf5").exists() and not (tmp_path / "cut.hdf5.part").exists()
    # the whole body without a length is refused too (it cannot be told from a cut one) ...
    server.special["/full.hdf5"] = ("nolength", body, 0)
    with pytest.raises(DownloadError, match="no size"):
        download(server.url + "/full.hdf5", tmp_path / "full.hdf5", progress=False)
    # ... but accepted with its checksum, or with the expected size
    digest = hashlib.sha256(body).hexdigest()
    assert download(server.url + "/full.hdf5", tmp_path / "a.hdf5", sha256=digest,
                    progress=False).read_bytes() == body
    assert download(server.url + "/full.hdf5", tmp_path / "b.hdf5", size=len(body),
                    progress=False).read_bytes() == body
    with pytest.raises(DownloadError, match=f"interrupted at {len(body) // 2} of {len(body)} bytes"):
        download(server.url + "/cut.hdf5", tmp_path / "c.hdf5", size=len(body), retries=0,
                 progress=False)


def test_chunked_body_is_accepted_when_complete_and_refused_when_cut(server, tmp_path):
    body = _hdf5_bytes(tmp_path)
    server.special["/ok.hdf5"] = ("chunked", body, False)
    server.special["/cut.hdf5"] = ("chunked", body, True)
    assert download(server.url + "/ok.hdf5", tmp_path / "ok.hdf5", progress=False).read_bytes() == body
    with pytest.raises(DownloadError, match="no size"):
        download(server.url + "/cut.hdf5", tmp_path / "cut.hdf5", progress=False)
    assert not (tmp_path / "cut.hdf5").exists()


def test_trickling_server_is_stopped_by_the_minimum_rate(server, tmp_path):
    server.special["/slow.hdf5"] = ("slow", b"x" * 10_000, 0.02)  # 50 B/s
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="too slow"):
        download(server.url + "/slow.hdf5", tmp_path / "slow.hdf5", progress=False,
                 min_rate=1000, rate_window=0.5, timeout=5)
    assert time.monotonic() - t0 < 5
    part = tmp_path / "slow.hdf5.part"
    assert 0 < part.stat().st_size < 10_000  # kept for a later resume


def test_overall_deadline_stops_a_download_that_keeps_up_the_rate(server, tmp_path):
    server.special["/slow.hdf5"] = ("slow", b"x" * 10_000, 0.01)
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="deadline"):
        download(server.url + "/slow.hdf5", tmp_path / "slow.hdf5", progress=False,
                 deadline=0.6, min_rate=0, timeout=5)
    assert time.monotonic() - t0 < 4


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.hdf5", "/etc/passwd",
                                 "http:///nohost", "gopher://x/y"])
def test_only_http_and_https_urls_are_accepted(tmp_path, url):
    with pytest.raises(ValueError, match="http:// or https://"):
        download(url, tmp_path / "x.hdf5", progress=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x.hdf5"])
def test_redirect_to_another_scheme_is_refused(server, tmp_path, target):
    server.redirect["/r.hdf5"] = target
    with pytest.raises(DownloadError, match="(refused a redirect|Redirection to url .* not allowed)"):
        download(server.url + "/r.hdf5", tmp_path / "r.hdf5", progress=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["../../x", "../x", "a/b", "/abs/x", "x/../../y"])
def test_dataset_names_cannot_escape_the_root(server, tmp_path, name):
    root = tmp_path / "root"
    server.files["/x.hdf5"] = _hdf5_bytes(tmp_path)
    with pytest.raises(ValueError, match="dataset name must match"):
        download_dataset(name, root=root, url=server.url + "/x.hdf5", progress=False)
    assert server.requests == []
    assert not root.exists() and not (tmp_path / "x.hdf5").exists()
