"""Imported first by the concurrency tests' forkserver, never by pytest itself.

pandas loads pyarrow whenever it is installed (the ``design`` extra installs it),
which adds about 40 MB to every process; 300 worker processes that only
randomise do not need it, and with it they would not fit in CI's memory. Marking
the module absent in the forkserver (before pandas is imported there) makes
pandas run without it, as on an installation without the extra.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("pyarrow", None)  # type: ignore[arg-type]
