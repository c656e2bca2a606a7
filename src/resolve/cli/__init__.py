"""The ``resolve`` command line: a thin layer over the library.

Each command group lives in its own module and registers itself on :data:`app`.
Library code never prints; commands do. Any :class:`~resolve.errors.ResolveError`
(or an unreadable input file) becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys

from resolve.cli._app import app, run

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))
