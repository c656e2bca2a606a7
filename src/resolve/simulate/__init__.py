"""Participant-level simulation of RESOLVE-like trials, calibrated to published numbers.

One scenario file (TOML) holds every parameter, each with its provenance
(published / derived from published / placeholder); :func:`simulate_trial`
turns it and a seed into a long-format trial; :func:`simulate_trials` makes
many replicates at once. Outcomes are potential outcomes: the treated outcome
is the control outcome plus an explicit effect ``tau(x)`` that depends on
baseline variables only where the scenario configures effect modification.
:func:`named_scenario` gives the scenarios of the operating-characteristics
study (``"null"``, ``"no_modification"``, ``"frebaq_modification"``);
:func:`treatment_effect` the true conditional effect of each participant;
:mod:`resolve.simulate.calibration` the published targets and the per-trial
statistics to compare with them. The model is described in
``docs/simulation.md``.

Examples
--------
>>> from resolve.simulate import named_scenario, simulate_trial
>>> trial = simulate_trial(seed=20221004)
>>> wk18 = trial[trial["week"] == 18]
>>> wk18.groupby("arm")["pain"].count().to_dict()
{'resolve': 131, 'sham': 130}
>>> null = simulate_trial(named_scenario("null"), seed=20221004)
>>> null.shape == trial.shape
True
"""

from resolve.simulate.calibration import TARGETS, Target, calibration_report, summarise
from resolve.simulate.generate import COLUMNS, simulate_trial, simulate_trials
from resolve.simulate.latent import treatment_effect
from resolve.simulate.scenario import (
    MODIFIERS,
    NAMED_SCENARIOS,
    Scenario,
    default_scenario,
    load_scenario,
    named_scenario,
    resize,
    scenario_from_dict,
)

__all__ = [
    "COLUMNS",
    "MODIFIERS",
    "NAMED_SCENARIOS",
    "TARGETS",
    "Scenario",
    "Target",
    "calibration_report",
    "default_scenario",
    "load_scenario",
    "named_scenario",
    "resize",
    "scenario_from_dict",
    "simulate_trial",
    "simulate_trials",
    "summarise",
    "treatment_effect",
]
