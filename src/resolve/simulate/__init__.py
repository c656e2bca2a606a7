"""Participant-level simulation of RESOLVE-like trials, calibrated to published numbers.

One scenario file (TOML) holds every parameter; :func:`simulate_trial` turns
it and a seed into a long-format trial; :func:`simulate_trials` makes many
replicates at once; :mod:`resolve.simulate.calibration` holds the published
targets and the per-arm summaries to compare with them. The model is
described in ``docs/simulation.md``.

Examples
--------
>>> from resolve.simulate import simulate_trial
>>> trial = simulate_trial(seed=20221004)
>>> wk18 = trial[trial["week"] == 18]
>>> wk18.groupby("arm")["pain"].count().to_dict()
{'resolve': 127, 'sham': 133}
"""

from resolve.simulate.calibration import TARGETS, Target, calibration_report, summarise
from resolve.simulate.generate import COLUMNS, simulate_trial, simulate_trials
from resolve.simulate.scenario import (
    MODIFIERS,
    Scenario,
    default_scenario,
    load_scenario,
    scenario_from_dict,
)

__all__ = [
    "COLUMNS",
    "MODIFIERS",
    "TARGETS",
    "Scenario",
    "Target",
    "calibration_report",
    "default_scenario",
    "load_scenario",
    "scenario_from_dict",
    "simulate_trial",
    "simulate_trials",
    "summarise",
]
