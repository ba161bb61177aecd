"""``python -m bench``: the harness's main job (see :mod:`bench.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
