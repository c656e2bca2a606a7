"""Result containers of a trial analysis (the contract between analysis and report).

Every table is a tidy :class:`pandas.DataFrame` with stable snake_case columns;
visits are named as in the plan (``"week 18"``). Columns:

``TrialAnalysis.primary`` / ``.sensitivity``
    outcome, visit, model, estimate, std_error, df, conf_low, conf_high, p_value
    (between-arm difference, treatment minus reference, at each follow-up visit);
    also ``contrast`` ("resolve - sham"; one row per non-reference arm), ``statistic``,
    ``n_subjects``, ``n_obs`` (see :mod:`resolve.analysis.primary`).
``TrialAnalysis.table2``
    JAMA Table 2 layout: outcome, visit, then per arm ``<arm>_mean``, ``<arm>_sd``,
    ``<arm>_n`` (and text ``<arm>_mean_sd``), and ``difference`` (text
    "−1.0 (−1.5 to −0.4)"), ``p_value`` (number; NaN at baseline), ``p_text``
    (JAMA style "<.001", ".008"); see :func:`resolve.analysis.descriptive.table2`.
``TrialAnalysis.trajectories``
    outcome, arm, visit, n, mean, sd, conf_low, conf_high (observed data, per visit).
``TrialAnalysis.consort``
    stage, arm, n, detail (CONSORT-style flow derived from the data, from
    "assessed for eligibility" when a screening log was given); also ``outcome``,
    ``visit``, ``n_missing`` (see :func:`resolve.analysis.descriptive.consort`).
``TrialAnalysis.screening``
    measure, reason, n: the screening log's enrolment counts, or None
    (see :func:`resolve.analysis.baseline.screening_counts`).
``TrialAnalysis.table1``
    variable, characteristic, source, type, level, arm, n, mean, sd, count,
    percent, missing, text: baseline characteristics by arm and overall (see
    :func:`resolve.analysis.baseline.table1`).
``TrialAnalysis.responders``
    responder, label, outcome, visit, contrast, arm, comparator, n_arm,
    responders_arm, proportion_arm, n_comparator, responders_comparator,
    proportion_comparator, risk_difference, conf_low, conf_high, ci_method,
    nnt_type, nnt, nnt_low, nnt_high, nnt_text, analysis (observed cases; see
    :func:`resolve.analysis.responders.responder_analysis`).
``TrialAnalysis.plain_summary``
    Plain-language sentences generated from the numbers
    (:func:`resolve.analysis.summary.plain_summary`).
``TrialAnalysis.benefit``
    Who benefits (exploratory): ``risk_groups``, ``risk_tests``, ``models``,
    ``calibration``, ``coefficients``, ``individual`` (see
    :class:`resolve.analysis.benefit.BenefitAnalysis`); None when not run.
``TrialAnalysis.mediation``
    Causal mediation (:class:`resolve.analysis.mediation.planned.PlannedMediation`:
    ``result.effects``, ``result.paths``, ``result.sensitivity``); None when not run.
``ModifierAnalysis.table``
    modifier, label, type, unit, outcome, visit, n, estimate, std_error, conf_low,
    conf_high, p_value, sd, estimate_per_sd, conf_low_per_sd, conf_high_per_sd,
    p_holm, p_bh, in_family, exploratory, nonlinearity_p, direction_hypothesised,
    direction_observed, df, statistic, se_method ("hc2", "hc3" or "ols").
``ModifierAnalysis.quartiles``
    modifier, outcome, visit, quartile, modifier_value, estimate, conf_low, conf_high.
``ModifierAnalysis.curves``
    modifier, outcome, visit, modifier_value, estimate, conf_low, conf_high.
``ModifierAnalysis.global_tests``
    outcome, visit, statistic, df_num, df_den, p_value.
``ModifierAnalysis.credibility``
    modifier, outcome, visit, then ICEMAN's core items with their evidence, extra
    considerations and ``credibility`` (the ICEMAN-based overall rating, resolve rule;
    :mod:`resolve.analysis.credibility`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from resolve._results import Result, jsonable
from resolve.analysis.plan import Plan

if TYPE_CHECKING:
    from resolve.analysis.benefit import BenefitAnalysis
    from resolve.analysis.mediation.planned import PlannedMediation

__all__ = ["ModifierAnalysis", "TrialAnalysis"]


@dataclass(frozen=True, eq=False)
class ModifierAnalysis(Result):
    """Effect-modification results (see the module docstring for columns)."""

    table: pd.DataFrame
    quartiles: pd.DataFrame
    curves: pd.DataFrame
    global_tests: pd.DataFrame
    credibility: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "table": self.table,
                "quartiles": self.quartiles,
                "global_tests": self.global_tests,
                "credibility": self.credibility,
            }
        )
        return out

    def summary(self) -> str:
        cols = ["modifier", "outcome", "visit", "estimate", "conf_low", "conf_high", "p_value"]
        return self.table[cols].to_string(index=False)


@dataclass(frozen=True, eq=False)
class TrialAnalysis(Result):
    """Everything a plan produces on one data set (see the module docstring)."""

    plan: Plan
    primary: pd.DataFrame
    table2: pd.DataFrame
    trajectories: pd.DataFrame
    consort: pd.DataFrame
    sensitivity: pd.DataFrame
    modifiers: ModifierAnalysis | None = None
    imputation: pd.DataFrame | None = None
    notes: tuple[str, ...] = field(default=())
    #: Factors of the models and their reference levels
    #: (:func:`resolve.analysis.validate.factor_levels_table`: factor, column, levels,
    #: n_levels, reference, how); None when not computed.
    levels: pd.DataFrame | None = None
    table1: pd.DataFrame | None = None
    responders: pd.DataFrame | None = None
    #: Plain-language sentences (``summary`` is the :class:`Result` text method).
    plain_summary: tuple[str, ...] = field(default=())
    screening: pd.DataFrame | None = None
    #: Who benefits (exploratory; :mod:`resolve.analysis.benefit`); None when not run.
    benefit: BenefitAnalysis | None = None
    #: Causal mediation (:mod:`resolve.analysis.mediation.planned`); None when not run.
    mediation: PlannedMediation | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.primary.copy()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "trial": self.plan.trial.name,
                "plan": self.plan.source,
                "primary": self.primary,
                "sensitivity": self.sensitivity,
                "table2": self.table2,
                "trajectories": self.trajectories,
                "consort": self.consort,
                "modifiers": None if self.modifiers is None else self.modifiers.to_dict(),
                "imputation": self.imputation,
                "notes": list(self.notes),
                "table1": self.table1,
                "responders": self.responders,
                "plain_summary": list(self.plain_summary),
                "screening": self.screening,
                "levels": self.levels,
                "benefit": None if self.benefit is None else self.benefit.to_dict(),
                "mediation": None if self.mediation is None else self.mediation.to_dict(),
            }
        )
        return out

    def summary(self) -> str:
        cols = ["outcome", "visit", "estimate", "conf_low", "conf_high", "p_value"]
        return self.primary[cols].to_string(index=False)
