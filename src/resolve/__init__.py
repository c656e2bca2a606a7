"""resolve: analyse, run and deliver graded sensorimotor retraining trials for chronic LBP.

The top-level import is light: subpackages (:mod:`resolve.instruments`,
:mod:`resolve.stats`, ...) are imported on demand.
"""

from __future__ import annotations

from resolve.errors import (
    ConvergenceError,
    DataValidationError,
    ResolveError,
    UnknownNameError,
)

__all__ = [
    "ConvergenceError",
    "DataValidationError",
    "ResolveError",
    "UnknownNameError",
    "__version__",
]

__version__ = "0.1.0"
