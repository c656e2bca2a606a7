"""Error and warning types shared by every part of :mod:`resolve`.

The hierarchy is deliberately shallow. Every exception raised on purpose by
``resolve`` derives from :class:`ResolveError`, and also from the built-in type
a Python user would expect (``ValueError`` for bad values, ``LookupError`` for
unknown names), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "DataValidationError",
    "ResolveError",
    "ResolveWarning",
    "ScoringWarning",
    "UnknownNameError",
]


class ResolveError(Exception):
    """Base class of every error raised deliberately by ``resolve``."""


class DataValidationError(ResolveError, ValueError):
    """Input data or an argument failed a boundary check.

    The message names where the problem is (file, row or respondent id,
    column or item) and the offending value.
    """


class UnknownNameError(ResolveError, LookupError):
    """A name (instrument id, covariance structure, column...) is not known."""

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class ConvergenceError(ResolveError, RuntimeError):
    """A numerical fit did not converge after every fallback was tried.

    ``report`` holds the structured record of what was tried (for the MMRM
    engine a :class:`~resolve.stats.mmrm.fit.ConvergenceReport`), or None.
    """

    def __init__(self, *args: object, report: object = None) -> None:
        super().__init__(*args)
        self.report = report


class ResolveWarning(UserWarning):
    """Base class of warnings issued by ``resolve``."""


class ConvergenceWarning(ResolveWarning):
    """A fit converged only with a fallback, or with a warning sign."""


class ScoringWarning(ResolveWarning):
    """A questionnaire was scored with a caveat (e.g. prorated items)."""
