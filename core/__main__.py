"""``python -m core`` runs the ``colorize`` command line."""

import sys

from core.cli import main

sys.exit(main())
