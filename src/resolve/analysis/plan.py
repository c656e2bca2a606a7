"""Analysis plans: one declarative file says what to analyse and how.

A plan (TOML) names the trial's columns, arms and reference arm, visits, outcomes,
covariates, the candidate effect modifiers (type, unit, pre-specified direction)
and the multiplicity methods. The RESOLVE plan ships as the default
(``plans/resolve.toml``); a user's own trial runs with its own plan.

Examples
--------
>>> plan = load_plan()
>>> plan.trial.reference_arm, [o.name for o in plan.outcomes], len(plan.modifiers)
('sham', ['pain', 'rmdq'], 8)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from resolve._validation import parse_toml
from resolve.errors import DataValidationError

__all__ = [
    "AnalysisSettings",
    "EffectModificationSettings",
    "ModifierSpec",
    "OutcomeSpec",
    "Plan",
    "ResponderSpec",
    "TrialSpec",
    "load_plan",
]


@dataclass(frozen=True)
class TrialSpec:
    """Columns and design facts of the trial."""

    name: str
    subject: str
    arm: str
    arms: tuple[str, ...]
    reference_arm: str
    visit: str
    visits: tuple[str, ...]
    baseline_visit: str
    primary_visit: str
    #: Time of each visit (same order as ``visits``), e.g. weeks since randomisation;
    #: ``None`` when the plan gives none (figures then label visits by name).
    visit_times: tuple[float, ...] | None = None
    #: What ``visit_times`` measure, e.g. ``"weeks since randomisation"``.
    time_label: str = "weeks since randomisation"
    #: Extra between-arm contrasts beyond every arm against the reference arm, as
    #: ``(arm, comparator)`` pairs, e.g. ``(("GSR+education", "GSR"),)``.
    extra_contrasts: tuple[tuple[str, str], ...] = ()

    @property
    def followup_visits(self) -> tuple[str, ...]:
        return tuple(v for v in self.visits if v != self.baseline_visit)


@dataclass(frozen=True)
class OutcomeSpec:
    """One outcome measured at every visit."""

    name: str
    column: str
    label: str
    role: Literal["primary", "secondary"] = "secondary"
    higher_is: Literal["worse", "better"] = "worse"
    mcid: float | None = None
    #: Valid range ``(low, high)`` of the outcome's values; ``None`` = no check.
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class ModifierSpec:
    """A candidate baseline effect modifier."""

    name: str
    column: str
    label: str
    type: Literal["continuous", "binary"] = "continuous"
    unit: str = "unit"
    direction: Literal["+", "-"] = "+"


@dataclass(frozen=True)
class ResponderSpec:
    """A responder definition: improvement from baseline of at least ``percent`` % or ``points``.

    Improvement is the change from the participant's baseline value in the
    direction of benefit (a decrease when the outcome's ``higher_is`` is
    ``"worse"``).  When both thresholds are given, either suffices.  Evaluated at
    ``visits`` (default: every follow-up visit).
    """

    name: str
    outcome: str
    label: str
    percent: float | None = None
    points: float | None = None
    visits: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalysisSettings:
    """Primary and sensitivity models, df method, covariates, missing data."""

    conf_level: float = 0.95
    primary: str = "lmm_random_intercept"
    sensitivity: tuple[str, ...] = ("mmrm_baseline_adjusted",)
    sensitivity_cov: str = "us"
    df: str = "satterthwaite"
    covariates: tuple[str, ...] = ()
    #: Declared levels of categorical covariates (first = reference level), by column.
    covariate_levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    mi_m: int = 20
    mi_seed: int = 2022
    mi_enabled: bool = False


@dataclass(frozen=True)
class EffectModificationSettings:
    """Which effect-modification analyses to run and how to adjust them."""

    outcomes: tuple[str, ...] = ()
    visits: tuple[str, ...] = ()
    family_visits: tuple[str, ...] = ()
    adjust_for_baseline: bool = True
    multiplicity: tuple[str, ...] = ("holm", "bh")
    exploratory_p: float = 0.2
    spline_knots: int = 3


@dataclass(frozen=True)
class Plan:
    """A validated analysis plan."""

    trial: TrialSpec
    outcomes: tuple[OutcomeSpec, ...]
    analysis: AnalysisSettings
    effect_modification: EffectModificationSettings
    modifiers: tuple[ModifierSpec, ...]
    responders: tuple[ResponderSpec, ...] = ()
    source: str = "<default>"
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def outcome(self, name: str) -> OutcomeSpec:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise DataValidationError(f"plan {self.source}: no outcome {name!r}")

    @property
    def columns(self) -> tuple[str, ...]:
        """Every data column the plan names."""
        t = self.trial
        cols = [t.subject, t.arm, t.visit, *(o.column for o in self.outcomes)]
        cols += [m.column for m in self.modifiers] + list(self.analysis.covariates)
        return tuple(dict.fromkeys(cols))

    def validate_data(self, data: pd.DataFrame, *, source: str = "data") -> pd.DataFrame:
        """Check ``data`` against the plan; see :func:`resolve.analysis.validate.validate_data`."""
        from resolve.analysis.validate import validate_data

        return validate_data(data, self, source=source)


# ----------------------------------------------------------------------------- loading
def _get(table: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in table:
        raise DataValidationError(f"{where}: missing key {key!r}")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise DataValidationError(f"{where}: {key!r} has the wrong type ({value!r})")
    return value


def _opt(table: Mapping[str, Any], key: str, default: Any, where: str) -> Any:
    if key not in table:
        return default
    value = table[key]
    want = type(default)
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataValidationError(f"{where}: {key!r} must be a list of strings; got {value!r}")
        return tuple(value)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, want) or (isinstance(value, bool) and want is not bool):
        raise DataValidationError(f"{where}: {key!r} must be {want.__name__}; got {value!r}")
    return value


def _choice(value: str, allowed: tuple[str, ...], where: str, key: str) -> str:
    if value not in allowed:
        raise DataValidationError(
            f"{where}: {key!r} must be one of {', '.join(allowed)}; got {value!r}"
        )
    return value


def _parse(raw: Mapping[str, Any], source: str) -> Plan:
    t = _get(raw, "trial", source, dict)
    w = f"{source} [trial]"
    trial = TrialSpec(
        name=_get(t, "name", w, str),
        subject=_get(t, "subject", w, str),
        arm=_get(t, "arm", w, str),
        arms=tuple(_get(t, "arms", w, list)),
        reference_arm=_get(t, "reference_arm", w, str),
        visit=_get(t, "visit", w, str),
        visits=tuple(_get(t, "visits", w, list)),
        baseline_visit=_get(t, "baseline_visit", w, str),
        primary_visit=_get(t, "primary_visit", w, str),
        visit_times=_numbers(t, "visit_times", w),
        time_label=_opt(t, "time_label", "weeks since randomisation", w),
        extra_contrasts=tuple(tuple(pair) for pair in t.get("extra_contrasts", [])),  # type: ignore[misc]
    )
    if trial.visit_times is not None and len(trial.visit_times) != len(trial.visits):
        raise DataValidationError(f"{w}: 'visit_times' must give one time per visit")
    for pair in trial.extra_contrasts:
        if len(pair) != 2 or any(a not in trial.arms for a in pair) or pair[0] == pair[1]:
            raise DataValidationError(
                f"{w}: 'extra_contrasts' entries must be [arm, comparator] of two plan arms; "
                f"got {list(pair)!r}"
            )
    if len(trial.arms) < 2 or len(set(trial.arms)) != len(trial.arms):
        raise DataValidationError(f"{w}: 'arms' must list at least two distinct arms")
    if trial.reference_arm not in trial.arms:
        raise DataValidationError(f"{w}: reference_arm {trial.reference_arm!r} is not in arms")
    for key in ("baseline_visit", "primary_visit"):
        if getattr(trial, key) not in trial.visits:
            raise DataValidationError(f"{w}: {key} {getattr(trial, key)!r} is not in visits")
    outcomes = []
    for k, o in enumerate(_get(raw, "outcomes", source, list)):
        wo = f"{source} [[outcomes]] #{k + 1}"
        outcomes.append(
            OutcomeSpec(
                name=_get(o, "name", wo, str),
                column=_get(o, "column", wo, str),
                label=_opt(o, "label", _get(o, "name", wo, str), wo),
                role=_choice(
                    _opt(o, "role", "secondary", wo), ("primary", "secondary"), wo, "role"
                ),  # type: ignore[arg-type]
                higher_is=_choice(
                    _opt(o, "higher_is", "worse", wo), ("worse", "better"), wo, "higher_is"
                ),  # type: ignore[arg-type]
                mcid=float(o["mcid"]) if "mcid" in o else None,
                range=_range(o, wo),
            )
        )
    a = _opt(raw, "analysis", {}, source)
    wa = f"{source} [analysis]"
    mi = _opt(a, "multiple_imputation", {}, wa)
    analysis = AnalysisSettings(
        conf_level=_opt(a, "conf_level", 0.95, wa),
        primary=_choice(
            _opt(a, "primary", "lmm_random_intercept", wa),
            ("lmm_random_intercept", "mmrm_baseline_adjusted"),
            wa,
            "primary",
        ),
        sensitivity=_opt(a, "sensitivity", ("mmrm_baseline_adjusted",), wa),
        sensitivity_cov=_opt(a, "sensitivity_cov", "us", wa),
        df=_opt(a, "df", "satterthwaite", wa),
        covariates=_opt(a, "covariates", (), wa),
        covariate_levels={
            str(k): tuple(map(str, v)) for k, v in _opt(a, "covariate_levels", {}, wa).items()
        },
        mi_m=_opt(mi, "m", 20, wa + " multiple_imputation"),
        mi_seed=_opt(mi, "seed", 2022, wa + " multiple_imputation"),
        mi_enabled=_opt(mi, "enabled", False, wa + " multiple_imputation"),
    )
    if not 0 < analysis.conf_level < 1:
        raise DataValidationError(f"{wa}: conf_level must be in (0, 1); got {analysis.conf_level}")
    e = _opt(raw, "effect_modification", {}, source)
    we = f"{source} [effect_modification]"
    names = tuple(o.name for o in outcomes)
    em = EffectModificationSettings(
        outcomes=_opt(e, "outcomes", names, we),
        visits=_opt(e, "visits", trial.followup_visits, we),
        family_visits=_opt(e, "family_visits", trial.followup_visits, we),
        adjust_for_baseline=_opt(e, "adjust_for_baseline", True, we),
        multiplicity=_opt(e, "multiplicity", ("holm", "bh"), we),
        exploratory_p=_opt(e, "exploratory_p", 0.2, we),
        spline_knots=_opt(e, "spline_knots", 3, we),
    )
    for o in em.outcomes:
        if o not in names:
            raise DataValidationError(f"{we}: outcome {o!r} is not one of the plan's outcomes")
    for v in (*em.visits, *em.family_visits):
        if v not in trial.followup_visits:
            raise DataValidationError(f"{we}: visit {v!r} is not a follow-up visit of the plan")
    for meth in em.multiplicity:
        _choice(meth, ("holm", "bh"), we, "multiplicity")
    modifiers = []
    for k, m in enumerate(_opt(raw, "modifiers", [], source)):
        wm = f"{source} [[modifiers]] #{k + 1}"
        modifiers.append(
            ModifierSpec(
                name=_get(m, "name", wm, str),
                column=_get(m, "column", wm, str),
                label=_opt(m, "label", _get(m, "name", wm, str), wm),
                type=_choice(
                    _opt(m, "type", "continuous", wm), ("continuous", "binary"), wm, "type"
                ),  # type: ignore[arg-type]
                unit=_opt(m, "unit", "unit", wm),
                direction=_choice(_opt(m, "direction", "+", wm), ("+", "-"), wm, "direction"),  # type: ignore[arg-type]
            )
        )
    if len({m.name for m in modifiers}) != len(modifiers):
        raise DataValidationError(f"{source}: modifier names must be unique")
    responders = []
    for k, r in enumerate(_opt(raw, "responders", [], source)):
        wr = f"{source} [[responders]] #{k + 1}"
        spec = ResponderSpec(
            name=_get(r, "name", wr, str),
            outcome=_get(r, "outcome", wr, str),
            label=_opt(r, "label", _get(r, "name", wr, str), wr),
            percent=float(r["percent"]) if "percent" in r else None,
            points=float(r["points"]) if "points" in r else None,
            visits=_opt(r, "visits", (), wr),
        )
        if spec.outcome not in names:
            raise DataValidationError(f"{wr}: outcome {spec.outcome!r} is not a plan outcome")
        if spec.percent is None and spec.points is None:
            raise DataValidationError(f"{wr}: give 'percent', 'points' or both")
        for v in spec.visits:
            if v not in trial.followup_visits:
                raise DataValidationError(f"{wr}: visit {v!r} is not a follow-up visit")
        responders.append(spec)
    return Plan(
        trial,
        tuple(outcomes),
        analysis,
        em,
        tuple(modifiers),
        tuple(responders),
        source,
        raw,
    )


def _numbers(table: Mapping[str, Any], key: str, where: str) -> tuple[float, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise DataValidationError(f"{where}: {key!r} must be a list of numbers; got {value!r}")
    return tuple(float(v) for v in value)


def _range(table: Mapping[str, Any], where: str) -> tuple[float, float] | None:
    r = _numbers(table, "range", where)
    if r is None:
        return None
    if len(r) != 2 or not r[0] < r[1]:
        raise DataValidationError(f"{where}: 'range' must be [low, high] with low < high")
    return (r[0], r[1])


def load_plan(path: str | Path | None = None) -> Plan:
    """Load and validate a plan file (TOML); ``None`` loads the bundled RESOLVE plan."""
    if path is None:
        text = resources.files("resolve.analysis").joinpath("plans", "resolve.toml").read_text()
        source = "resolve.toml (bundled)"
    else:
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        source = p.name
    return _parse(parse_toml(text, source), source)
