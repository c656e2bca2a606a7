"""The trial's pre-specified analyses: primary/secondary, effect modifiers, individual benefit.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis import analyze
>>> result = analyze(datasets.load("resolve"))
>>> row = result.primary.query("outcome == 'pain' and visit == 'week 18'").iloc[0]
>>> round(float(row.estimate), 2), bool(row.p_value < 0.01)
(-1.04, True)
"""

from __future__ import annotations

from resolve.analysis.effect_modifiers import analyse_modifiers
from resolve.analysis.individual import predict_individual
from resolve.analysis.mi import multiple_imputation
from resolve.analysis.plan import Plan, load_plan
from resolve.analysis.result import ModifierAnalysis, TrialAnalysis
from resolve.analysis.run import analyze, write_tables

__all__ = [
    "ModifierAnalysis",
    "Plan",
    "TrialAnalysis",
    "analyse_modifiers",
    "analyze",
    "load_plan",
    "multiple_imputation",
    "predict_individual",
    "write_tables",
]
