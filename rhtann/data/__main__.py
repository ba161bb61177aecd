"""``python -m rhtann.data``: see :func:`rhtann.data.cli.main`."""

import sys

from .cli import main

sys.exit(main())
