"""Entry point of the ``colorize`` plugin group: what colorize-ray adds to the toolkit.

Targets are imported only when used, so registering costs no import of the
application's own dependencies.
"""

from __future__ import annotations

