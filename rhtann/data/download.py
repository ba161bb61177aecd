"""Download the standard ann-benchmarks HDF5 files, resumably and checked.

Files are fetched from ``https://ann-benchmarks.com/{name}.hdf5`` with
:mod:`urllib` and streamed to ``{dest}.part``. Only ``http`` and ``https``
URLs are followed, redirects included. An interrupted transfer is resumed
from where it stopped with an HTTP ``Range`` request (automatically
``retries`` times, and again on the next call). A transfer that runs past an
overall deadline, or slower than a minimum rate, is stopped.

The finished file must have a known size (announced by the server, given by
the caller, or a complete chunked body; otherwise a SHA-256 must be given),
the SHA-256 given by the caller (when one is given) and, for ``.hdf5``
files, the four ann-benchmarks datasets. A file that fails a check is
deleted (a corrupt part file included, so the next call starts afresh) and
:class:`DownloadError` is raised. Only a checked file is renamed to its
final name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ._core import progress_bar
from .paths import check_name, default_root
from .registry import ANN_BENCHMARKS

#: URL pattern of the ann-benchmarks files.
BASE_URL = "https://ann-benchmarks.com/{name}.hdf5"

#: Known SHA-256 digests by name. Empty by default: the ann-benchmarks site
#: publishes none; files are checked by size and structure instead.
CHECKSUMS: dict[str, str] = {}


class DownloadError(RuntimeError):
    """A download failed, was incomplete, or the file failed its checks."""


def check_url(url: object) -> str:
    """Return ``url`` if it is an ``http://`` or ``https://`` URL with a host."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must be an http:// or https:// URL; got {url!r}")
    return url


class _HttpOnlyRedirect(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http/https URLs only."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise DownloadError(f"{req.full_url}: refused a redirect to {newurl!r} (not http/https)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    """An opener with HTTP(S), proxies and safe redirects, and no file:// or ftp:// handler."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _HttpOnlyRedirect(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _bar(progress: bool, **kwargs):
    return progress_bar(progress, **kwargs)


def _total_from_headers(response, offset: int) -> int | None:
    """Full file size from Content-Range (206) or Content-Length (200)."""
    content_range = response.headers.get("Content-Range")
    if content_range:
        match = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", content_range)
        if match and match.group(3) != "*":
            return int(match.group(3))
    length = response.headers.get("Content-Length")
    if length is not None:
        return offset + int(length)
    return None


def _check_hdf5(path: Path) -> None:
    """Structure checks of :func:`rhtann.data.hdf5.read_hdf5` that read no data."""
    import h5py

    from .hdf5 import KEYS, _check_dataset

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DownloadError(f"downloaded file is not a readable HDF5 file ({exc})") from None
    with f:
        missing = [k for k in KEYS if k not in f]
        if missing:
            raise DownloadError(f"downloaded HDF5 file lacks the datasets {missing}")
        for key in KEYS:
            try:
                _check_dataset(f, key, "downloaded file")
            except ValueError as exc:
                raise DownloadError(str(exc)) from None


class _CorruptPart(DownloadError):
    """The finished file failed a check (it has been deleted)."""


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    size: int | None = None,
    retries: int = 3,
    timeout: float = 30.0,
    chunk: int = 1 << 20,
    progress: bool = True,
    check_hdf5: bool | None = None,
    deadline: float = 6 * 3600.0,
    min_rate: float = 4096.0,
    rate_window: float = 60.0,
) -> Path:
    """Fetch ``url`` into ``dest``, resuming a partial ``{dest}.part``.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL (redirects to other schemes are refused).
    dest : str or path-like
        Final file name. If it already exists it is returned unchanged.
    sha256 : str, optional
        Expected hex SHA-256 of the whole file.
    size : int, optional
        Expected size in bytes (otherwise the size announced by the server).
    retries : int
        How many times an interrupted transfer is resumed before giving up;
        the partial file is kept so a later call resumes too.
    timeout : float
        Socket timeout in seconds (one connect or one read).
    chunk : int
        Most bytes read per step.
    progress : bool
        Show a tqdm progress bar (when tqdm is installed).
    check_hdf5 : bool, optional
        Check the ann-benchmarks structure; default: when ``dest`` ends in
        ``.hdf5``.
    deadline : float
        Seconds the whole call may take, resumes included.
    min_rate : float
        Bytes per second the transfer must keep up, averaged over
        ``rate_window`` seconds (0 disables the check).
    rate_window : float
        Seconds over which ``min_rate`` is measured.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    ValueError
        If ``url`` is not http(s).
    DownloadError
        When the server cannot be reached (with a hint about being offline),
        answers with an HTTP error, the transfer keeps failing, runs past
        ``deadline`` or below ``min_rate`` (the partial file is kept), the
        size of the file cannot be known, or the file fails its size,
        checksum or structure check (the file is then deleted).
    """
    check_url(url)
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    resumed = part.exists()
    args = (url, dest, part, sha256, size, retries, timeout, chunk, progress, check_hdf5,
            deadline, min_rate, rate_window)
    try:
        return _download_once(*args)
    except _CorruptPart:
        if not resumed:
            raise
    # the part file left by an earlier call was corrupt and is gone: start afresh once
    return _download_once(*args)


def _download_once(url, dest, part, sha256, size, retries, timeout, chunk, progress, check_hdf5,
                   deadline, min_rate, rate_window) -> Path:
    """One attempt of :func:`download` (resumes included); raises _CorruptPart on a bad file."""
    if check_hdf5 is None:
        check_hdf5 = dest.suffix.lower() == ".hdf5"
    opener = _opener()
    t_end = time.monotonic() + float(deadline)
    total = size
    complete_chunked = False
    attempt = 0
    while True:
        offset = part.stat().st_size if part.exists() else 0
        if total is not None and offset == total:
            break
        if total is not None and offset > total:
            part.unlink()
            offset = 0
        if time.monotonic() >= t_end:
            raise DownloadError(
                f"{url}: not finished within the deadline of {deadline:g} s ({offset} bytes so far; "
                f"the partial file {part} is kept and the next call resumes it)"
            )
        request = urllib.request.Request(url, headers={"User-Agent": "rhtann"})
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            response = opener.open(request, timeout=min(timeout, max(t_end - time.monotonic(), 0.1)))
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                # the server has nothing past ``offset``: the part file is complete
                # or corrupt; the checks below decide
                break
            raise DownloadError(f"{url}: HTTP error {exc.code} {exc.reason}") from None
        except DownloadError:
            raise
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot reach {url} ({reason}); are you offline? Download the file by "
                f"other means and pass its path instead"
            ) from None
        stalled = None
        with response:
            if offset and response.status != 206:
                offset = 0  # the server ignored the Range header: start again
            announced = _total_from_headers(response, offset)
            if total is None:
                total = announced
            elif announced is not None and announced != total:
                response.close()
                part.unlink(missing_ok=True)
                raise DownloadError(f"{url}: the server announces {announced} bytes, expected {total}")
            chunked = bool(getattr(response, "chunked", False))
            bar = _bar(progress, total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name)
            window_start, window_bytes = time.monotonic(), 0
            try:
                with open(part, "ab" if offset else "wb") as f:
                    while True:
                        block = response.read1(chunk)
                        if not block:
                            complete_chunked = chunked
                            break
                        f.write(block)
                        bar.update(len(block))
                        now = time.monotonic()
                        window_bytes += len(block)
                        if now >= t_end:
                            stalled = f"ran past the deadline of {deadline:g} s"
                            break
                        if now - window_start >= rate_window:
                            if min_rate > 0 and window_bytes < min_rate * (now - window_start):
                                rate = window_bytes / (now - window_start)
                                stalled = (
                                    f"too slow: {rate:.0f} B/s over {now - window_start:.1f} s, "
                                    f"below min_rate={min_rate:g} B/s"
                                )
                                break
                            window_start, window_bytes = now, 0
            except (TimeoutError, http.client.IncompleteRead, ConnectionError, OSError):
                pass  # keep what arrived; resumed below
            finally:
                bar.close()
        received = part.stat().st_size if part.exists() else 0
        if stalled is not None:
            raise DownloadError(
                f"{url}: transfer stopped at {received} bytes, {stalled}; the partial file "
                f"{part} is kept and the next call resumes it"
            )
        if total is None or received >= total:
            break
        attempt += 1
        if attempt > retries:
            raise DownloadError(
                f"{url}: transfer interrupted at {received} of {total} bytes after "
                f"{retries} resumes; the partial file {part} is kept and the next call "
                "resumes it"
            )
    received = part.stat().st_size if part.exists() else 0
    try:
        if total is None and sha256 is None and not complete_chunked:
            raise DownloadError(
                f"{url}: the server announced no size (no Content-Length), so a truncated body "
                f"cannot be told from a complete one ({received} bytes arrived); pass size= or sha256="
            )
        if total is not None and received != total:
            raise DownloadError(f"{url}: got {received} bytes, expected {total}")
        if sha256 is not None:
            digest = sha256_of(part)
            if digest.lower() != sha256.lower():
                raise DownloadError(f"{url}: SHA-256 is {digest}, expected {sha256}")
        if check_hdf5:
            _check_hdf5(part)
    except Exception as exc:
        # whatever failed, a part file that cannot pass must not block later calls
        part.unlink(missing_ok=True)
        raise _CorruptPart(str(exc) if isinstance(exc, DownloadError)
                           else f"{url}: the downloaded file failed its checks ({exc})") from None
    os.replace(part, dest)
    return dest


def download_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    url: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    **kwargs,
) -> Path:
    """Download the ann-benchmarks file ``name`` into ``{root}/{name}.hdf5``.

    Parameters
    ----------
    name : str
        A name from :data:`ANN_BENCHMARKS` (any name is accepted with an
        explicit ``url``).
    root : str or path-like, optional
        Destination folder; default :func:`rhtann.data.default_root`
        (``$RHTANN_DATA`` or the user's cache folder).
    url : str, optional
        Source; default ``https://ann-benchmarks.com/{name}.hdf5``.
    sha256 : str, optional
        Expected digest; default from :data:`CHECKSUMS` when known.
    progress : bool
        Show a progress bar.
    **kwargs
        Passed to :func:`download`.

    Returns
    -------
    pathlib.Path
    """
    check_name(name)
    if url is None and name not in ANN_BENCHMARKS:
        raise ValueError(
            f"unknown ann-benchmarks dataset {name!r}; known: {', '.join(sorted(ANN_BENCHMARKS))}"
        )
    if root is None:
        root = default_root()
    return download(
        url or BASE_URL.format(name=name),
        Path(root) / f"{name}.hdf5",
        sha256=sha256 or CHECKSUMS.get(name),
        progress=progress,
        **kwargs,
    )
