"""Download the standard ann-benchmarks HDF5 files, resumably and checked.

Files are fetched from ``https://ann-benchmarks.com/{name}.hdf5`` with
:mod:`urllib` and streamed to ``{dest}.part``. An interrupted transfer is
resumed from where it stopped with an HTTP ``Range`` request (automatically
``retries`` times, and again on the next call). The finished file must have
the size the server announced, the SHA-256 given by the caller (when one is
given) and, for ``.hdf5`` files, the four ann-benchmarks datasets; otherwise
it is deleted and :class:`DownloadError` is raised. Only a checked file is
renamed to its final name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

#: URL pattern of the ann-benchmarks files.
BASE_URL = "https://ann-benchmarks.com/{name}.hdf5"

#: Dense ann-benchmarks datasets by name: (dimension, train size, distance).
ANN_BENCHMARKS: dict[str, tuple[int, int, str]] = {
    "deep-image-96-angular": (96, 9_990_000, "angular"),
    "fashion-mnist-784-euclidean": (784, 60_000, "euclidean"),
    "gist-960-euclidean": (960, 1_000_000, "euclidean"),
    "glove-25-angular": (25, 1_183_514, "angular"),
    "glove-50-angular": (50, 1_183_514, "angular"),
    "glove-100-angular": (100, 1_183_514, "angular"),
    "glove-200-angular": (200, 1_183_514, "angular"),
    "mnist-784-euclidean": (784, 60_000, "euclidean"),
    "nytimes-16-angular": (16, 290_000, "angular"),
    "nytimes-256-angular": (256, 290_000, "angular"),
    "sift-128-euclidean": (128, 1_000_000, "euclidean"),
    "lastfm-64-dot": (65, 292_385, "angular"),
    "coco-i2i-512-angular": (512, 113_287, "angular"),
    "coco-t2i-512-angular": (512, 113_287, "angular"),
}

#: Known SHA-256 digests by name. Empty by default: the ann-benchmarks site
#: publishes none; files are checked by size and structure instead.
CHECKSUMS: dict[str, str] = {}


class DownloadError(RuntimeError):
    """A download failed, was incomplete, or the file failed its checks."""


def _tqdm(**kwargs):
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


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
    import h5py

    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("train", "test", "neighbors", "distances") if k not in f]
    except OSError as exc:
        raise DownloadError(f"downloaded file is not a readable HDF5 file ({exc})") from None
    if missing:
        raise DownloadError(f"downloaded HDF5 file lacks the datasets {missing}")


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
) -> Path:
    """Fetch ``url`` into ``dest``, resuming a partial ``{dest}.part``.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL.
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
        Socket timeout in seconds.
    chunk : int
        Bytes read per step.
    progress : bool
        Show a tqdm progress bar.
    check_hdf5 : bool, optional
        Check the ann-benchmarks structure; default: when ``dest`` ends in
        ``.hdf5``.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        When the server cannot be reached (with a hint about being offline),
        answers with an HTTP error, the transfer keeps failing, or the file
        fails its size, checksum or structure check (the file is then
        deleted).
    """
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if check_hdf5 is None:
        check_hdf5 = dest.suffix.lower() == ".hdf5"
    total = size
    attempt = 0
    while True:
        offset = part.stat().st_size if part.exists() else 0
        if total is not None and offset == total:
            break
        if total is not None and offset > total:
            part.unlink()
            offset = 0
        request = urllib.request.Request(url, headers={"User-Agent": "rhtann"})
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                # the server has nothing past ``offset``: the part file is complete
                # or corrupt; the checks below decide
                break
            raise DownloadError(f"{url}: HTTP error {exc.code} {exc.reason}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot reach {url} ({reason}); are you offline? Download the file by "
                f"other means and pass its path instead"
            ) from None
        with response:
            if offset and response.status != 206:
                offset = 0  # the server ignored the Range header: start again
            announced = _total_from_headers(response, offset)
            if total is None:
                total = announced
            elif announced is not None and announced != total:
                response.close()
                part.unlink(missing_ok=True)
                raise DownloadError(
                    f"{url}: the server announces {announced} bytes, expected {total}"
                )
            bar = _tqdm(
                total=total, initial=offset, unit="B", unit_scale=True,
                desc=dest.name, disable=not progress,
            )
            try:
                with open(part, "ab" if offset else "wb") as f:
                    while True:
                        block = response.read(chunk)
                        if not block:
                            break
                        f.write(block)
                        bar.update(len(block))
            except (TimeoutError, http.client.IncompleteRead, ConnectionError, OSError):
                pass  # keep what arrived; resumed below
            finally:
                bar.close()
        received = part.stat().st_size if part.exists() else 0
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
        if total is not None and received != total:
            raise DownloadError(f"{url}: got {received} bytes, expected {total}")
        if sha256 is not None:
            digest = sha256_of(part)
            if digest.lower() != sha256.lower():
                raise DownloadError(f"{url}: SHA-256 is {digest}, expected {sha256}")
        if check_hdf5:
            _check_hdf5(part)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def download_dataset(
    name: str,
    root: str | os.PathLike = "datasets",
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
    root : str or path-like
        Destination folder.
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
    if url is None and name not in ANN_BENCHMARKS:
        raise ValueError(
            f"unknown ann-benchmarks dataset {name!r}; known: {', '.join(sorted(ANN_BENCHMARKS))}"
        )
    return download(
        url or BASE_URL.format(name=name),
        Path(root) / f"{name}.hdf5",
        sha256=sha256 or CHECKSUMS.get(name),
        progress=progress,
        **kwargs,
    )
