"""The result of a causal mediation analysis: one tidy table per part, metadata apart.

:class:`MediationResult` is the single source of truth shared by the estimation
core, the command line and the report. Its tables have fixed snake_case columns
(:data:`EFFECT_COLUMNS`, :data:`PATH_COLUMNS`, :data:`SENSITIVITY_COLUMNS`); the
confidence level lives in ``settings["conf_level"]``, never in a column name.

Examples
--------
>>> import pandas as pd
>>> effects = pd.DataFrame([{"outcome": "pain", "mediator": "pseq", "effect": "nie",
...     "estimate": -0.2, "std_error": 0.08, "conf_low": -0.36, "conf_high": -0.04,
...     "p_value": 0.012, "ci_method": "delta", "n": 276}])
>>> result = MediationResult(effects=effects, paths=empty_frame(PATH_COLUMNS),
...     sensitivity=empty_frame(SENSITIVITY_COLUMNS), settings={"conf_level": 0.95})
>>> row = result.to_frame().iloc[0]
>>> row.mediator, row.effect, float(row.estimate)
('pseq', 'nie', -0.2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from resolve._validation import show_values
from resolve.errors import DataValidationError

__all__ = [
    "CI_METHODS",
    "EFFECTS",
    "EFFECT_COLUMNS",
    "PATHS",
    "PATH_COLUMNS",
    "SENSITIVITY_COLUMNS",
    "MediationResult",
    "empty_frame",
]

#: Columns of :attr:`MediationResult.effects`, in this order.
EFFECT_COLUMNS: tuple[str, ...] = (
    "outcome",
    "mediator",
    "effect",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "ci_method",
    "n",
)
#: Columns of :attr:`MediationResult.paths`, in this order.
PATH_COLUMNS: tuple[str, ...] = (
    "outcome",
    "mediator",
    "path",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
)
#: Columns of :attr:`MediationResult.sensitivity`, in this order.
SENSITIVITY_COLUMNS: tuple[str, ...] = (
    "outcome",
    "mediator",
    "rho",
    "nie",
    "conf_low",
    "conf_high",
)

#: Values of the ``effect`` column: natural direct, natural indirect, total, proportion mediated.
EFFECTS: tuple[str, ...] = ("nde", "nie", "te", "pm")
#: Values of the ``path`` column (``a``: treatment -> mediator; ``b``: mediator -> outcome;
#: ``c_prime``: treatment -> outcome given the mediator; ``interaction``: treatment x mediator).
PATHS: tuple[str, ...] = ("a", "b", "c_prime", "interaction")
#: Values of the ``ci_method`` column.
CI_METHODS: tuple[str, ...] = ("delta", "percentile", "bca")


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    """An empty table with the given columns (e.g. no sensitivity analysis was run).

    Examples
    --------
    >>> list(empty_frame(SENSITIVITY_COLUMNS).columns)
    ['outcome', 'mediator', 'rho', 'nie', 'conf_low', 'conf_high']
    """
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _conform(frame: pd.DataFrame, columns: Sequence[str], name: str) -> pd.DataFrame:
    """Check ``frame`` has ``columns``; return it with them first (extra columns kept after)."""
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(
            f"MediationResult.{name} must be a pandas DataFrame; got {type(frame).__name__}"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"MediationResult.{name} lacks column(s) {show_values(missing)}; "
            f"required: {', '.join(columns)}"
        )
    extra = [c for c in frame.columns if c not in columns]
    return frame.loc[:, [*columns, *extra]].reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class MediationResult:
    """Natural (and interventional) direct and indirect effects with their inference.

    Attributes
    ----------
    effects : DataFrame
        One row per outcome, mediator, effect and CI method; columns
        :data:`EFFECT_COLUMNS`. ``effect`` is one of ``nde``, ``nie``, ``te``,
        ``pm`` (``pm = nie / te``); ``mediator`` is a mediator's name, ``"joint"``
        for all mediators together, or ``"interventional:<name>"`` for an
        interventional indirect effect. Effects are on the outcome's scale,
        treatment minus reference, with covariates fixed at their sample means;
        ``ci_method`` is ``delta``, ``percentile`` or ``bca``; ``n`` the number of
        complete cases the row is based on.
    paths : DataFrame
        Path coefficients (columns :data:`PATH_COLUMNS`); ``path`` is ``a``
        (treatment -> mediator: a mean difference, or a log odds ratio for a
        binary mediator), ``b`` (mediator -> outcome), ``c_prime`` (treatment ->
        outcome given the mediator; with an interaction, at mediator = 0) or
        ``interaction`` (treatment x mediator).
    sensitivity : DataFrame
        Imai-Keele-Yamamoto curves (columns :data:`SENSITIVITY_COLUMNS`): the
        indirect effect as a function of the correlation ``rho`` between the
        mediator- and outcome-model errors. May be empty.
    settings : Mapping
        Every choice behind the numbers: treatment, reference, covariates,
        interaction, boot, seed, conf_level, ...
    warnings : tuple of str
        Everything the reader must know (rows dropped per model, failed resamples, ...).
    """

    effects: pd.DataFrame
    paths: pd.DataFrame
    sensitivity: pd.DataFrame
    settings: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "effects", _conform(self.effects, EFFECT_COLUMNS, "effects"))
        object.__setattr__(self, "paths", _conform(self.paths, PATH_COLUMNS, "paths"))
        object.__setattr__(
            self, "sensitivity", _conform(self.sensitivity, SENSITIVITY_COLUMNS, "sensitivity")
        )
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))
        object.__setattr__(self, "settings", dict(self.settings))

    def to_frame(self) -> pd.DataFrame:
        """The effects table (a copy): the tidy result most callers want."""
        return self.effects.copy()
