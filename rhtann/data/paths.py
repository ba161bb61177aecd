"""Where datasets live on disk, and which names may be used there.

One cache folder holds every built or downloaded dataset: ``$RHTANN_DATA``
when that environment variable is set, otherwise ``rhtann/datasets`` under
the user's cache folder (``$XDG_CACHE_HOME``, or ``~/.cache``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: Environment variable naming the dataset cache folder.
ENV_VAR = "RHTANN_DATA"

#: Dataset names: letters, digits, ``.``, ``_`` and ``-``, starting with a
#: letter or digit, at most 128 characters (no path separators, no ``..``).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def default_root() -> Path:
    """The dataset cache folder, read from the environment at each call.

    Returns
    -------
    pathlib.Path
        ``$RHTANN_DATA`` if set and non-empty; else
        ``$XDG_CACHE_HOME/rhtann/datasets``; else ``~/.cache/rhtann/datasets``.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "rhtann" / "datasets"


def check_name(name: object) -> str:
    """Return ``name`` if it is a safe dataset name (see :data:`NAME_PATTERN`).

    Raises
    ------
    ValueError
        For anything that could name a path outside the dataset folder.
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or ".." in name:
        raise ValueError(
            f"dataset name must match {NAME_PATTERN.pattern} (letters, digits, '.', '_', '-'; "
            f"no path separators or '..'); got {name!r}"
        )
    return name


def cached_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """``{root}/{name}.hdf5`` for a checked ``name`` (``root`` defaults to :func:`default_root`)."""
    return Path(default_root() if root is None else root) / f"{check_name(name)}.hdf5"
