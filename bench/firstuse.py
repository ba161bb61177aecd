"""Tell the user once, on stderr, when the first use of rhtann is compiling its kernels.

rhtann's numba kernels are compiled on first use and cached on disk; in a
fresh environment that takes minutes with nothing else printed. The harness
runs its warm-ups inside :func:`compile_note`: when one lasts longer than
``after`` seconds, one line says what is happening and, at the end, how
long it took. Later runs, with the cache filled, print nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_said = False


@contextmanager
def compile_note(after: float = 2.0, stream: TextIO | None = None) -> Iterator[None]:
    """Run the body; if it takes more than ``after`` s, say (once per process) that kernels compile."""
    global _said
    out = stream if stream is not None else sys.stderr
    if _said:
        yield
        return
    t0 = time.perf_counter()
    printed = threading.Event()

    def say() -> None:
        printed.set()
        print("rhtann: compiling its numba kernels on first use; in a fresh environment this can take "
              "up to a few minutes, once (the compiled code is cached for later runs) ...",
              file=out, flush=True)

    timer = threading.Timer(after, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if printed.is_set():
            _said = True
            print(f"rhtann: kernels ready after {time.perf_counter() - t0:.0f} s", file=out, flush=True)
