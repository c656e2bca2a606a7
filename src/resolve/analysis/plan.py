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

import datetime
import difflib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import pandas as pd
from pydantic import (
    Field,
    GetCoreSchemaHandler,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from resolve._schema import (
    SchemaError,
    Table,
    Text,
    Unique,
    between,
    reference_markdown,
    show_default,
    validate,
)
from resolve._validation import parse_toml
from resolve.errors import DataValidationError
from resolve.stats.mmrm.spec import COVARIANCES, DF_METHODS

__all__ = [
    "AnalysisSettings",
    "BenefitSettings",
    "EffectModificationSettings",
    "MediationSettings",
    "MediatorSpec",
    "ModifierSpec",
    "OutcomeSpec",
    "Plan",
    "ResponderSpec",
    "TrialSpec",
    "bundled_plan_text",
    "load_plan",
    "parse_plan",
    "plan_reference",
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
    #: Where the trial export reads the outcome at every analysis visit:
    #: ``(instrument id, score name)``, e.g. ``("nrs", "total")``; ``None`` = not declared.
    source: tuple[str, str] | None = None


@dataclass(frozen=True)
class ModifierSpec:
    """A candidate baseline effect modifier.

    ``hypothesis_source``, ``hypothesis_date`` and ``hypothesis_timing`` record where
    and when the hypothesised ``direction`` was written down; ``prior_evidence`` and
    ``prior_evidence_answer`` record a reviewer's reading of the evidence from other
    studies. They answer ICEMAN items 1 and 2 (:mod:`resolve.analysis.credibility`).
    """

    name: str
    column: str
    label: str
    type: Literal["continuous", "binary"] = "continuous"
    unit: str = "unit"
    direction: Literal["+", "-"] = "+"
    #: Where the hypothesised direction is recorded (protocol, paper, this plan...).
    hypothesis_source: str | None = None
    #: ISO date (``YYYY-MM-DD``) of that record.
    hypothesis_date: str | None = None
    #: The plan's own statement of whether the direction was hypothesised before the
    #: outcome data were seen; used when the dates cannot decide.
    hypothesis_timing: Literal["a priori", "post hoc"] | None = None
    #: Evidence from other studies about this modification (citation and summary).
    prior_evidence: str | None = None
    #: A reviewer's answer to ICEMAN item 2 given ``prior_evidence``.
    prior_evidence_answer: (
        Literal["definitely yes", "probably yes", "probably no", "definitely no"] | None
    ) = None
    #: Where the trial export reads the baseline value: ``(instrument id, score name)``,
    #: e.g. ``("pcs", "total")``; ``None`` = not declared.
    source: tuple[str, str] | None = None


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
    """Primary, sensitivity and recommended models, df method, covariates, missing data."""

    conf_level: float = 0.95
    primary: str = "lmm_random_intercept"
    sensitivity: tuple[str, ...] = ("mmrm_baseline_adjusted",)
    #: The analysis the plan recommends for inference: the primary model or one of the
    #: sensitivity models; ``None`` = the primary model.  The report shows it beside the
    #: primary model where the two disagree.
    recommended: str | None = None
    sensitivity_cov: str = "us"
    df: str = "satterthwaite"
    covariates: tuple[str, ...] = ()
    #: Declared levels of categorical covariates (first = reference level), by column.
    covariate_levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: More baseline columns described in Table 1 only (e.g. age, sex); not in any model.
    describe: tuple[str, ...] = ()
    #: Display names of ``describe`` columns in Table 1, by column.
    describe_labels: Mapping[str, str] = field(default_factory=dict)
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
    #: Standard errors of the interaction estimates, effect curves and global test:
    #: ``"hc2"`` (HC2 sandwich, Bell-McCaffrey df, HTZ global test), ``"hc3"``
    #: (MacKinnon-White HC3 sandwich, residual df) or ``"ols"`` (model-based, σ̂²(X'X)⁻¹).
    standard_errors: Literal["ols", "hc3", "hc2"] = "hc2"
    #: Findings with interaction P below this are assessed with ICEMAN (its scope: P < 0.1).
    credibility_scope_p: float = 0.1
    #: ISO date from which the trial's outcome data could have been seen; a modifier's
    #: ``hypothesis_date`` before it counts as a priori.
    outcome_data_date: str | None = None


@dataclass(frozen=True)
class BenefitSettings:
    """The who-benefits analysis (:mod:`resolve.analysis.benefit`; exploratory)."""

    enabled: bool = True
    outcomes: tuple[str, ...] = ()
    visits: tuple[str, ...] = ()
    folds: int = 10
    seed: int = 2020
    groups: int = 4
    rule: Literal["one_se", "min"] = "one_se"


@dataclass(frozen=True)
class MediatorSpec:
    """A candidate mediator: where its value and its baseline value are in the data."""

    name: str
    column: str
    label: str
    visit: str | None = None
    baseline: str | None = None
    baseline_visit: str | None = None
    type: Literal["continuous", "binary"] = "continuous"
    placeholder: bool = False


@dataclass(frozen=True)
class MediationSettings:
    """The ``[mediation]`` table: causal mediation of the treatment effect (issue 14)."""

    enabled: bool = False
    outcomes: tuple[str, ...] = ()
    visit: str = ""
    confounders: tuple[str, ...] = ()
    adjust_for_baseline: bool = True
    interaction: bool = True
    boot: int = 1000
    ci: Literal["percentile", "bca"] = "percentile"
    seed: int = 2021
    missing: Literal["complete_cases", "multiple_imputation"] = "complete_cases"
    imputations: int = 20
    joint: bool = True
    interventional: bool = True
    sensitivity: bool = True
    mediators: tuple[MediatorSpec, ...] = ()
    placeholders: tuple[str, ...] = ()


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
    benefit: BenefitSettings = field(default_factory=BenefitSettings)
    mediation: MediationSettings = field(default_factory=MediationSettings)

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
        cols += list(self.analysis.describe)
        return tuple(dict.fromkeys(cols))

    def validate_data(self, data: pd.DataFrame, *, source: str = "data") -> pd.DataFrame:
        """Check ``data`` against the plan; see :func:`resolve.analysis.validate.validate_data`."""
        from resolve.analysis.validate import validate_data

        return validate_data(data, self, source=source)


# ----------------------------------------------------------------------------- file schema
# One pydantic model per TOML table (see resolve._schema): unknown keys are refused with
# the nearest valid key, types are strict, and every rule names the table and key.
# docs/analysis-plan.md is generated from these models (field descriptions included).

#: Models that :mod:`resolve.analysis.primary` can fit (``primary``, ``sensitivity`` and
#: ``recommended``): the keys of ``primary.MODELS``, spelled out so the schema can name them
#: in its messages; tests/analysis/test_primary.py keeps the two lists equal.
_MODELS = Literal["lmm_random_intercept", "mmrm_unstructured_all_visits", "mmrm_baseline_adjusted"]
_Names = Annotated[list[Text], Unique()]
_Number = Annotated[float, between()]
#: Covariance structures of the sensitivity MMRM: the engine's, but the spatial ones
#: (``sp_*``), which need coordinate columns a plan cannot name.
_COVARIANCES = tuple(c for c in COVARIANCES if not c.startswith("sp_"))


class _IsoDate:
    """Annotated metadata for ``str``: a calendar date ``YYYY-MM-DD`` (a TOML date is
    accepted and kept as its ISO text)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def check(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Any:
            if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
                value = value.isoformat()
            if isinstance(value, str):
                try:
                    ok = len(value) == 10 and datetime.date.fromisoformat(value) is not None
                except ValueError:
                    ok = False
                if not ok:
                    raise SchemaError(f"must be a date YYYY-MM-DD; got {value!r}")
            else:
                raise SchemaError(f"must be a date YYYY-MM-DD; got {value!r}")
            return inner(value)

        return core_schema.no_info_wrap_validator_function(check, handler(source))


#: An ISO calendar date, ``"2015-11-27"`` (or the TOML date ``2015-11-27``).
_Date = Annotated[str, _IsoDate()]
#: ICEMAN's four answer options.
_Answer = Literal["definitely yes", "probably yes", "probably no", "definitely no"]


def _followup(trial: _TrialTable) -> list[str]:
    return [v for v in trial.visits if v != trial.baseline_visit]


def _listing(values: Sequence[str]) -> str:
    return ", ".join(values) or "none"


class _TrialTable(Table):
    name: Text = Field(description="Trial name, used in titles and reports.")
    subject: Text = Field(description="Data column of participant ids.")
    arm: Text = Field(description="Data column of the allocated arm (intention to treat).")
    arms: _Names = Field(description="Every arm, at least two, each once.")
    reference_arm: Text = Field(
        description="The arm every other arm is compared with; one of `arms`."
    )
    visit: Text = Field(description="Data column of visit labels.")
    visits: _Names = Field(description="Every visit label, in time order, each once.")
    baseline_visit: Text = Field(description="The baseline visit; one of `visits`.")
    primary_visit: Text = Field(
        description="Follow-up visit of the primary comparison; one of `visits`, not the baseline."
    )
    visit_times: list[_Number] | None = Field(
        default=None,
        description="Time of each visit (one per visit, increasing), e.g. weeks since "
        "randomisation; figures space visits by it. Without it figures label visits by name.",
    )
    time_label: Text = Field(
        default="weeks since randomisation", description="What `visit_times` measure (axis label)."
    )
    extra_contrasts: list[list[Text]] = Field(
        default_factory=list,
        description="Between-arm comparisons beyond every arm against `reference_arm`, as "
        '`[arm, comparator]` pairs of two different plan arms, e.g. `[["b", "a"]]`.',
    )

    @model_validator(mode="after")
    def _design(self) -> Self:
        if len(self.arms) < 2:
            raise SchemaError(f"must list at least two arms; got {self.arms!r}", "arms")
        if self.reference_arm not in self.arms:
            raise SchemaError(
                f"{self.reference_arm!r} is not one of the arms ({_listing(self.arms)})",
                "reference_arm",
            )
        for key in ("baseline_visit", "primary_visit"):
            if getattr(self, key) not in self.visits:
                raise SchemaError(
                    f"{getattr(self, key)!r} is not one of the visits ({_listing(self.visits)})",
                    key,
                )
        if self.primary_visit == self.baseline_visit:
            raise SchemaError(
                f"{self.primary_visit!r} is the baseline visit; the primary visit is a "
                "follow-up visit",
                "primary_visit",
            )
        if self.visit_times is not None:
            times = self.visit_times
            if len(times) != len(self.visits):
                raise SchemaError(
                    f"must give one time per visit ({len(self.visits)}); got {len(times)}",
                    "visit_times",
                )
            if any(b <= a for a, b in itertools.pairwise(times)):
                raise SchemaError(
                    "must increase (visits are in time order); got "
                    f"[{', '.join(f'{t:g}' for t in times)}]",
                    "visit_times",
                )
        seen: set[frozenset[str]] = set()
        for k, pair in enumerate(self.extra_contrasts):
            if len(pair) != 2 or pair[0] == pair[1] or any(a not in self.arms for a in pair):
                raise SchemaError(
                    "entries must be [arm, comparator] of two different plan arms "
                    f"({_listing(self.arms)}); got {pair!r}",
                    "extra_contrasts",
                    k,
                )
            if self.reference_arm in pair:
                raise SchemaError(
                    f"{pair!r}: every arm is compared with the reference arm "
                    f"{self.reference_arm!r} anyway",
                    "extra_contrasts",
                    k,
                )
            if frozenset(pair) in seen:
                raise SchemaError(f"{pair!r} repeats a comparison", "extra_contrasts", k)
            seen.add(frozenset(pair))
        return self


def _suggest(name: str, known: Sequence[str], what: str) -> str:
    """``"did you mean 'nrs'?"``, or the known names when none is near."""
    near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}?" if near else f"{what}: {_listing(known)}"


def _instrument_scores(instrument_id: str) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Numeric scores and categories (name -> labels) of a registered instrument."""
    from resolve.instruments import MedicationInstrument, get

    inst = get(instrument_id)
    if isinstance(inst, MedicationInstrument):
        return ("total", *inst.class_names), {"psychoactive": ("no", "yes")}
    categories = {c.name: tuple(sorted({b.label for b in c.bands})) for c in inst.classifications}
    return tuple(s.name for s in inst.scales), categories


def _score_source(text: str, binary: bool | None) -> tuple[str, str]:
    """Check a ``source`` value ``"<instrument id>.<score>"`` against the instrument registry.

    ``binary`` is ``None`` for an outcome (a numeric score only), else whether the
    modifier is binary (which may also read a yes/no category).
    """
    from resolve.instruments import available

    inst_id, dot, score = text.rpartition(".")
    if not dot or not inst_id or not score:
        raise SchemaError(
            f'must be "<instrument id>.<score>", e.g. "nrs.total"; got {text!r}', "source"
        )
    ids = [i.id for i in available()]
    if inst_id not in ids:
        hint = _suggest(inst_id, ids, "registered")
        raise SchemaError(f"unknown instrument {inst_id!r} in {text!r} ({hint})", "source")
    numeric, categories = _instrument_scores(inst_id)
    if score in categories:
        labels = categories[score]
        if binary is None:
            raise SchemaError(
                f"{text!r} is a category of {inst_id!r}; an outcome reads a numeric score "
                f"({_listing(numeric)})",
                "source",
            )
        if set(labels) != {"yes", "no"}:
            raise SchemaError(
                f"category {score!r} of {inst_id!r} takes {_listing([repr(v) for v in labels])}; "
                f"a modifier reads a numeric score ({_listing(numeric)}) or a yes/no category",
                "source",
            )
        if not binary:
            raise SchemaError(
                f'{text!r} is a yes/no category; only a binary modifier (type = "binary") '
                "reads one",
                "source",
            )
    elif score not in numeric:
        known = [*numeric, *(categories if binary is not None else ())]
        hint = _suggest(score, known, "scores")
        raise SchemaError(f"instrument {inst_id!r} has no score {score!r} ({hint})", "source")
    return inst_id, score


class _OutcomeTable(Table):
    name: Text = Field(description="Outcome name, unique; other tables refer to the outcome by it.")
    column: Text = Field(description="Data column holding the outcome at every visit.")
    source: Text | None = Field(
        default=None,
        description="Where the trial export (`resolve trial export`) reads the outcome at every "
        'analysis visit: `"<instrument id>.<score>"` of a registered instrument and one of its '
        'numeric scores (the total or a subscale), e.g. `"nrs.total"`. Without it the export '
        "cannot fill this column (the analysis of a data file does not need it).",
    )
    label: Text | None = Field(
        default=None,
        description="Label in tables and figures.",
        json_schema_extra=show_default("`name`"),
    )
    role: Literal["primary", "secondary"] = Field(
        default="secondary", description="Role in the SAP."
    )
    higher_is: Literal["worse", "better"] = Field(
        default="worse", description="Direction of the scale (sets the direction of benefit)."
    )
    mcid: Annotated[float, between(0, low_open=True)] | None = Field(
        default=None, description="Minimal clinically important between-group difference."
    )
    range: list[_Number] | None = Field(
        default=None,
        description="Valid values `[low, high]` (low < high); data outside are refused. "
        "Without it values are not range-checked.",
    )

    @field_validator("range", mode="wrap")
    @classmethod
    def _low_high(cls, value: Any, inner: ValidatorFunctionWrapHandler) -> Any:
        checked = inner(value)
        if checked is not None and (len(checked) != 2 or not checked[0] < checked[1]):
            raise SchemaError(f"must be [low, high] with low < high; got {value!r}")
        return checked

    @model_validator(mode="after")
    def _source(self) -> Self:
        if self.source is not None:
            _score_source(self.source, None)
        return self


class _ModifierTable(Table):
    name: Text = Field(description="Modifier name, unique.")
    column: Text = Field(
        description="Data column of the baseline value (constant per participant)."
    )
    source: Text | None = Field(
        default=None,
        description="Where the trial export reads the value, at the baseline visit: "
        '`"<instrument id>.<score>"` of a registered instrument and one of its numeric scores, '
        'e.g. `"pcs.total"`; a binary modifier may read a yes/no category instead (yes = 1, '
        'no = 0), e.g. `"psychoactive_medication.psychoactive"`. Not needed for `age`, `sex`, '
        "`site` and `stratum`, which the export takes from the participant records.",
    )
    label: Text | None = Field(
        default=None,
        description="Label in tables and figures.",
        json_schema_extra=show_default("`name`"),
    )
    type: Literal["continuous", "binary"] = Field(
        default="continuous", description="A binary modifier is coded 0/1 in the data."
    )
    unit: Text = Field(
        default="unit", description='Unit of the interaction estimate, e.g. `"point"`.'
    )
    direction: Literal["+", "-"] = Field(
        default="+",
        description="Hypothesised sign of the arm x modifier interaction on an outcome where "
        'higher is worse: `"+"` = higher modifier, less benefit. Leave out when no direction '
        "was hypothesised (ICEMAN item 1 is then answered probably no).",
    )
    hypothesis_source: Text | None = Field(
        default=None,
        description="Where the hypothesised `direction` is recorded, e.g. "
        '`"trial protocol v2, section 9"` or `"this plan, written after the results"`. '
        "Without it ICEMAN item 1 (direction hypothesised a priori?) cannot be answered yes.",
    )
    hypothesis_date: _Date | None = Field(
        default=None,
        description='Date of that record, `"YYYY-MM-DD"`. Before `[effect_modification] '
        "outcome_data_date`: a priori (item 1 definitely yes); on or after it: post hoc "
        "(definitely no). Needs `hypothesis_source`.",
    )
    hypothesis_timing: Literal["a priori", "post hoc"] | None = Field(
        default=None,
        description='What the source says when the dates cannot decide: `"a priori"` '
        '(item 1 probably yes: stated, not time-stamped) or `"post hoc"` (definitely no). '
        "Needs `hypothesis_source`; the dates win when both are given.",
    )
    prior_evidence: Text | None = Field(
        default=None,
        description="Evidence from other studies (not this trial's data) about this "
        "modification: citation and finding. Shown with ICEMAN item 2.",
    )
    prior_evidence_answer: _Answer | None = Field(
        default=None,
        description="A reviewer's answer to ICEMAN item 2 (is the modification supported by "
        "prior evidence?) from `prior_evidence`, which it needs. Without it item 2 is "
        '"not answered".',
    )

    @model_validator(mode="after")
    def _needs_source(self) -> Self:
        for key in ("hypothesis_date", "hypothesis_timing"):
            if getattr(self, key) is not None and self.hypothesis_source is None:
                raise SchemaError(f"give 'hypothesis_source' with '{key}'", key)
        if self.prior_evidence_answer is not None and self.prior_evidence is None:
            raise SchemaError(
                "give 'prior_evidence' (the evidence) with 'prior_evidence_answer'",
                "prior_evidence_answer",
            )
        return self

    @model_validator(mode="after")
    def _source(self) -> Self:
        if self.source is not None:
            _score_source(self.source, self.type == "binary")
        return self


class _ResponderTable(Table):
    name: Text = Field(description="Responder definition name, unique.")
    outcome: Text = Field(description="The outcome it applies to; one of the `[[outcomes]]` names.")
    label: Text | None = Field(
        default=None, description="Label in tables.", json_schema_extra=show_default("`name`")
    )
    percent: Annotated[float, between(0, 100, low_open=True)] | None = Field(
        default=None, description="Improvement of at least this % of the baseline value."
    )
    points: Annotated[float, between(0, low_open=True)] | None = Field(
        default=None, description="Improvement of at least this many points (either suffices)."
    )
    visits: _Names = Field(
        default_factory=list,
        description="Follow-up visits at which it is evaluated.",
        json_schema_extra=show_default("every follow-up visit"),
    )

    @model_validator(mode="after")
    def _threshold(self) -> Self:
        if self.percent is None and self.points is None:
            raise SchemaError("give 'percent', 'points' or both")
        return self


class _ImputationTable(Table):
    m: Annotated[int, between(2)] = Field(default=20, description="Number of imputations.")
    seed: Annotated[int, between(0)] = Field(
        default=2022, description="Random seed of the imputations."
    )
    enabled: bool = Field(
        default=False, description="Run multiple imputation as a sensitivity analysis."
    )


class _AnalysisTable(Table):
    conf_level: Annotated[float, between(0, 1, low_open=True, high_open=True)] = Field(
        default=0.95, description="Confidence level of every interval."
    )
    primary: _MODELS = Field(default="lmm_random_intercept", description="Primary model.")
    sensitivity: Annotated[list[_MODELS], Unique()] = Field(
        default=["mmrm_baseline_adjusted"], description="Sensitivity models."
    )
    recommended: _MODELS | None = Field(
        default=None,
        description="The analysis recommended for inference, with measured operating "
        "characteristics (docs/operating-characteristics.md): `primary` or one of "
        "`sensitivity`. Where it and the primary model disagree (significance, estimate by "
        "more than 0.25 SE, or SE by more than 5%) the report shows both.",
        json_schema_extra=show_default("the primary model"),
    )
    sensitivity_cov: Text = Field(
        default="us",
        description="Covariance structure of the MMRM sensitivity model, one of "
        f"{', '.join(_COVARIANCES)} (the MMRM engine's structures but the spatial ones).",
    )
    df: Text = Field(
        default="satterthwaite",
        description=f"Degrees-of-freedom method, one of {', '.join(DF_METHODS)}.",
    )
    covariates: _Names = Field(
        default_factory=list,
        description="Extra baseline covariate columns entering every model.",
    )
    covariate_levels: dict[str, _Names] = Field(
        default_factory=dict,
        description="Levels of categorical covariates, first = reference, at least two, by "
        'covariate name, e.g. `{ sex = ["female", "male"] }`; each a `covariates` entry.',
    )
    describe: _Names = Field(
        default_factory=list,
        description="More baseline columns described in Table 1 only (e.g. age, sex); "
        "they enter no model.",
    )
    describe_labels: dict[str, Text] = Field(
        default_factory=dict,
        description='Display names of `describe` columns, e.g. `{ age = "Age, years" }`.',
    )
    multiple_imputation: _ImputationTable = _ImputationTable()

    @field_validator("sensitivity_cov", "df")
    @classmethod
    def _engine_name(cls, value: str, info: ValidationInfo) -> str:
        allowed = _COVARIANCES if info.field_name == "sensitivity_cov" else DF_METHODS
        if value not in allowed:
            raise SchemaError(f"must be one of {', '.join(allowed)}; got {value!r}")
        return value

    @model_validator(mode="after")
    def _recommended_is_fitted(self) -> Self:
        if self.recommended is not None and self.recommended not in (
            self.primary,
            *self.sensitivity,
        ):
            raise SchemaError(
                f"{self.recommended!r} is neither the primary model ({self.primary}) nor a "
                f"sensitivity model ({_listing(self.sensitivity)}); list it there so it is "
                "fitted",
                "recommended",
            )
        return self

    @model_validator(mode="after")
    def _levels(self) -> Self:
        for name, levels in self.covariate_levels.items():
            if name not in self.covariates:
                raise SchemaError(
                    f"not one of the covariates ({_listing(self.covariates)})",
                    "covariate_levels",
                    name,
                )
            if len(levels) < 2:
                raise SchemaError(
                    f"needs at least two levels; got {levels!r}", "covariate_levels", name
                )
        for name in self.describe_labels:
            if name not in self.describe:
                raise SchemaError(
                    f"not one of the described columns ({_listing(self.describe)})",
                    "describe_labels",
                    name,
                )
        return self


class _EffectModificationTable(Table):
    outcomes: _Names | None = Field(
        default=None,
        description="Outcomes analysed; `[[outcomes]]` names.",
        json_schema_extra=show_default("every outcome"),
    )
    visits: _Names | None = Field(
        default=None,
        description="Follow-up visits analysed (those present in the data are).",
        json_schema_extra=show_default("every follow-up visit"),
    )
    family_visits: _Names | None = Field(
        default=None,
        description="The pre-specified family of visits the multiplicity adjustment covers; "
        "a subset of `visits`.",
        json_schema_extra=show_default("`visits`"),
    )
    adjust_for_baseline: bool = Field(
        default=True, description="Adjust for the baseline outcome (y_t ~ arm * modifier + y_0)."
    )
    multiplicity: Annotated[list[Literal["holm", "bh"]], Unique()] = Field(
        default=["holm", "bh"],
        description="Adjustments across the family: Holm (FWER) and/or Benjamini-Hochberg (FDR).",
    )
    exploratory_p: Annotated[float, between(0, 1, low_open=True)] = Field(
        default=0.2, description="Interaction p below this = exploratory evidence of modification."
    )
    spline_knots: Annotated[int, between(3, 7)] = Field(
        default=3, description="Knots of the restricted cubic spline check of non-linearity."
    )
    standard_errors: Literal["ols", "hc3", "hc2"] = Field(
        default="hc2",
        description="Standard errors of the interaction estimates, quartile effects, curves "
        'and global test: `"hc2"` (default: HC2 sandwich with Bell & McCaffrey 2002 degrees '
        "of freedom for single tests and the HTZ test of Pustejovsky & Tipton 2018 for the "
        'global test, as R `clubSandwich` CR2 with one cluster per participant), `"hc3"` '
        "(HC3 sandwich, MacKinnon & White 1985, on the residual df, as R "
        '`lmtest::coeftest(fit, vcov = sandwich::vcovHC(fit, type = "HC3"))`) or `"ols"` '
        "(model-based, R `lm`). The sandwich keeps the tests near their nominal level when "
        "a bounded score's variance depends on its mean. The non-linearity F test stays "
        "model-based.",
    )
    credibility_scope_p: Annotated[float, between(0, 1, low_open=True)] = Field(
        default=0.1,
        description="Findings with interaction p below this are assessed with ICEMAN (its "
        "scope is a suggested effect modification, interaction p < 0.1); independent of "
        "`exploratory_p`.",
    )
    outcome_data_date: _Date | None = Field(
        default=None,
        description='Date from which the outcome data could have been seen, `"YYYY-MM-DD"` '
        "(end of follow-up, unblinding or first report: the earliest documented). A "
        "modifier's `hypothesis_date` is compared with it.",
    )


class _BenefitTable(Table):
    enabled: bool = Field(
        default=True,
        description="Run the exploratory who-benefits analysis (risk-based groups, ridge-"
        "penalised effect model, calibration and c-for-benefit); needs `[[modifiers]]`.",
    )
    outcomes: _Names | None = Field(
        default=None,
        description="Outcomes analysed; `[[outcomes]]` names.",
        json_schema_extra=show_default("`[effect_modification] outcomes`"),
    )
    visits: _Names | None = Field(
        default=None,
        description="Follow-up visits analysed (those present in the data are).",
        json_schema_extra=show_default("`[effect_modification] family_visits`"),
    )
    folds: Annotated[int, between(2, 50)] = Field(
        default=10,
        description="K of the K-fold cross-validation that tunes the ridge penalty and "
        "gives the out-of-fold predictions (folds stratified by arm).",
    )
    seed: Annotated[int, between(0)] = Field(
        default=2020, description="Random seed of the folds and of the c-for-benefit matching."
    )
    groups: Annotated[int, between(2, 10)] = Field(
        default=4,
        description="Equal-sized groups (by rank) of predicted prognosis and of predicted "
        "benefit (4 = quarters).",
    )
    rule: Literal["one_se", "min"] = Field(
        default="one_se",
        description='Penalty choice: `"one_se"` = the largest penalty within one SE of the '
        'fold-wise difference from the CV minimum; `"min"` = the CV minimum.',
    )


class _MediatorTable(Table):
    name: Text = Field(description="Mediator name, unique; used in tables and figures.")
    column: Text = Field(
        description="Data column of the mediator's value (measured after randomisation, "
        "before the outcome: e.g. at the end of treatment)."
    )
    visit: Text | None = Field(
        default=None,
        description="Visit whose row holds the value (long layout, like an outcome).",
        json_schema_extra=show_default(
            "none: the column holds one value per participant, repeated on every row"
        ),
    )
    baseline: Text | None = Field(
        default=None,
        description="Column of the mediator's baseline value: a confounder of this "
        "mediator's models (and of the joint ones).",
        json_schema_extra=show_default("none"),
    )
    baseline_visit: Text | None = Field(
        default=None,
        description="Visit whose row holds `baseline` (long layout).",
        json_schema_extra=show_default("none: one value per participant"),
    )
    label: Text | None = Field(
        default=None,
        description='Display name, e.g. "Back beliefs (BBQ)".',
        json_schema_extra=show_default("`name`"),
    )
    type: Literal["continuous", "binary"] = Field(
        default="continuous", description="Continuous, or binary coded 0/1 (logistic model)."
    )
    placeholder: bool = Field(
        default=False,
        description="True when this entry is not from the protocol (a reconstruction the "
        "report marks as such).",
    )


class _MediationTable(Table):
    enabled: bool = Field(
        default=False,
        description="Run the causal mediation analysis (`resolve analyze`, the report); "
        "needs `[[mediation.mediators]]`. Exploratory unless the protocol pre-specified it.",
    )
    outcomes: _Names | None = Field(
        default=None,
        description="Outcomes analysed; `[[outcomes]]` names.",
        json_schema_extra=show_default("every outcome"),
    )
    visit: Text | None = Field(
        default=None,
        description="Follow-up visit of the outcomes.",
        json_schema_extra=show_default("`[trial] primary_visit`"),
    )
    confounders: _Names = Field(
        default_factory=list,
        description="Baseline confounder columns of every model (one value per "
        "participant); text columns are coded as indicators of their non-first levels.",
    )
    adjust_for_baseline: bool = Field(
        default=True,
        description="Add each outcome's baseline value as a confounder of its models.",
    )
    interaction: bool = Field(
        default=True,
        description="Treatment x mediator term in the outcome models (VanderWeele): natural "
        "direct and indirect effects then differ from the product of paths.",
    )
    method: Literal["regression"] = Field(
        default="regression",
        description="Regression-based natural effects (VanderWeele 2015) with Monte-Carlo "
        "g-computation for the interventional effects; the one method implemented.",
    )
    boot: Annotated[int, between(0)] = Field(
        default=1000,
        description="Bootstrap resamples of participants (0: delta-method intervals only; "
        'else >= 50, or >= 200 with `ci = "bca"`).',
    )
    ci: Literal["percentile", "bca"] = Field(
        default="percentile", description="Bootstrap interval: percentile or BCa."
    )
    seed: Annotated[int, between(0)] = Field(
        default=2021, description="Seed of the resamples, imputations and Monte-Carlo draws."
    )
    missing: Literal["complete_cases", "multiple_imputation"] = Field(
        default="complete_cases",
        description="Missing values: complete cases per model (the number dropped is "
        "reported), or multiple imputation (MICE with PMM by arm) pooled by Rubin's rules "
        "with bootstrap (or delta-method) variances within each imputation.",
    )
    imputations: Annotated[int, between(2)] = Field(
        default=20, description='Number of imputations when `missing = "multiple_imputation"`.'
    )
    joint: bool = Field(default=True, description="Also all mediators jointly.")
    interventional: bool = Field(
        default=True,
        description="Also interventional effects (Vansteelandt & Daniel 2017) for correlated "
        "mediators; needs the bootstrap.",
    )
    sensitivity: bool = Field(
        default=True,
        description="Imai-Keele-Yamamoto rho curve for unmeasured mediator-outcome "
        "confounding (continuous mediators, models without interaction: the curve is "
        "computed from the no-interaction fit when `interaction` is on).",
    )
    placeholders: _Names = Field(
        default_factory=list,
        description="Keys of this table that are reconstructions, not from the protocol; "
        "the report lists them.",
    )
    mediators: list[_MediatorTable] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checks(self) -> Self:
        names = [m.name for m in self.mediators]
        for k, name in enumerate(names):
            if names.index(name) != k:
                raise SchemaError(
                    f"{name!r} also names mediator #{names.index(name) + 1}; names must be unique",
                    "mediators",
                    k,
                    "name",
                )
        if self.enabled and not self.mediators:
            raise SchemaError("is true but no [[mediation.mediators]] are listed", "enabled")
        low = 200 if self.ci == "bca" else 50
        if 0 < self.boot < low:
            raise SchemaError(
                f"must be 0 (no bootstrap) or at least {low} for {self.ci} intervals; "
                f"got {self.boot}",
                "boot",
            )
        if self.enabled and self.interventional and self.boot == 0:
            raise SchemaError("interventional effects need the bootstrap; set boot > 0", "boot")
        known = set(type(self).model_fields) - {"placeholders", "mediators"}
        for key in self.placeholders:
            if key not in known:
                raise SchemaError(
                    f"{key!r} is not a key of [mediation] ({_listing(sorted(known))})",
                    "placeholders",
                )
        return self


class _PlanFile(Table):
    trial: _TrialTable
    outcomes: list[_OutcomeTable]
    responders: list[_ResponderTable] = Field(default_factory=list)
    analysis: _AnalysisTable = _AnalysisTable()
    effect_modification: _EffectModificationTable = _EffectModificationTable()
    modifiers: list[_ModifierTable] = Field(default_factory=list)
    benefit: _BenefitTable = _BenefitTable()
    mediation: _MediationTable = _MediationTable()

    @model_validator(mode="after")
    def _benefit_refs(self) -> Self:
        names = [o.name for o in self.outcomes]
        followup = _followup(self.trial)
        for o in self.benefit.outcomes or ():
            if o not in names:
                raise SchemaError(
                    f"outcome {o!r} is not one of the plan's outcomes ({_listing(names)})",
                    "benefit",
                    "outcomes",
                )
        for v in self.benefit.visits or ():
            if v not in followup:
                raise SchemaError(
                    f"visit {v!r} is not a follow-up visit of the plan ({_listing(followup)})",
                    "benefit",
                    "visits",
                )
        return self

    @model_validator(mode="after")
    def _cross_table(self) -> Self:
        t = self.trial
        followup = _followup(t)
        design = {t.subject: "subject", t.arm: "arm", t.visit: "visit"}
        if not self.outcomes:
            raise SchemaError("must list at least one outcome", "outcomes")
        names = [o.name for o in self.outcomes]
        outcome_columns = {o.column: o.name for o in self.outcomes}
        for what, items in (
            ("outcome", [(o.name, o.column) for o in self.outcomes]),
            ("modifier", [(m.name, m.column) for m in self.modifiers]),
        ):
            table = f"{what}s"
            for k, (name, column) in enumerate(items):
                first = [n for n, _ in items].index(name)
                if first != k:
                    raise SchemaError(
                        f"{name!r} also names [[{table}]] #{first + 1}; "
                        f"{what} names must be unique",
                        table,
                        k,
                        "name",
                    )
                if column in design:
                    raise SchemaError(
                        f"{column!r} is the [trial] {design[column]} column", table, k, "column"
                    )
                if what == "modifier" and column in outcome_columns:
                    raise SchemaError(
                        f"{column!r} is the column of outcome {outcome_columns[column]!r}; "
                        "a modifier is a baseline value",
                        table,
                        k,
                        "column",
                    )
        for c in self.analysis.covariates:
            if c in design or c in outcome_columns:
                role = design.get(c) or f"outcome {outcome_columns[c]!r}"
                raise SchemaError(f"{c!r} is the {role} column", "analysis", "covariates")
        em = self.effect_modification
        for o in em.outcomes or ():
            if o not in names:
                raise SchemaError(
                    f"outcome {o!r} is not one of the plan's outcomes ({_listing(names)})",
                    "effect_modification",
                    "outcomes",
                )
        for key in ("visits", "family_visits"):
            for v in getattr(em, key) or ():
                if v not in followup:
                    raise SchemaError(
                        f"visit {v!r} is not a follow-up visit of the plan ({_listing(followup)})",
                        "effect_modification",
                        key,
                    )
        analysed = em.visits if em.visits is not None else followup
        for v in em.family_visits or ():
            if v not in analysed:
                raise SchemaError(
                    f"visit {v!r} is not one of the analysed visits ({_listing(analysed)})",
                    "effect_modification",
                    "family_visits",
                )
        seen: list[str] = []
        for k, r in enumerate(self.responders):
            if r.name in seen:
                raise SchemaError(
                    f"{r.name!r} also names [[responders]] #{seen.index(r.name) + 1}; "
                    "responder names must be unique",
                    "responders",
                    k,
                    "name",
                )
            seen.append(r.name)
            if r.outcome not in names:
                raise SchemaError(
                    f"{r.outcome!r} is not one of the plan's outcomes ({_listing(names)})",
                    "responders",
                    k,
                    "outcome",
                )
            for v in r.visits:
                if v not in followup:
                    raise SchemaError(
                        f"visit {v!r} is not a follow-up visit of the plan ({_listing(followup)})",
                        "responders",
                        k,
                        "visits",
                    )
        return self

    @model_validator(mode="after")
    def _mediation_refs(self) -> Self:
        med = self.mediation
        names = [o.name for o in self.outcomes]
        t = self.trial
        for o in med.outcomes or ():
            if o not in names:
                raise SchemaError(
                    f"outcome {o!r} is not one of the plan's outcomes ({_listing(names)})",
                    "mediation",
                    "outcomes",
                )
        followup = _followup(t)
        if med.visit is not None and med.visit not in followup:
            raise SchemaError(
                f"visit {med.visit!r} is not a follow-up visit of the plan ({_listing(followup)})",
                "mediation",
                "visit",
            )
        design = {t.subject: "subject", t.arm: "arm", t.visit: "visit"}
        outcome_columns = {o.column: o.name for o in self.outcomes}
        for c in med.confounders:
            if c in design or c in outcome_columns:
                role = design.get(c) or f"outcome {outcome_columns[c]!r}"
                raise SchemaError(f"{c!r} is the {role} column", "mediation", "confounders")
        for k, m in enumerate(med.mediators):
            for key in ("visit", "baseline_visit"):
                v = getattr(m, key)
                if v is not None and v not in t.visits:
                    raise SchemaError(
                        f"visit {v!r} is not a visit of the plan ({_listing(t.visits)})",
                        "mediation",
                        "mediators",
                        k,
                        key,
                    )
            if m.baseline_visit is not None and m.baseline is None:
                raise SchemaError(
                    "is given without `baseline`", "mediation", "mediators", k, "baseline_visit"
                )
            if m.column in design:
                raise SchemaError(
                    f"{m.column!r} is the [trial] {design[m.column]} column",
                    "mediation",
                    "mediators",
                    k,
                    "column",
                )
            if m.column in outcome_columns and m.visit is None:
                raise SchemaError(
                    f"{m.column!r} is the column of outcome {outcome_columns[m.column]!r}: "
                    "give the `visit` whose value is the mediator",
                    "mediation",
                    "mediators",
                    k,
                    "visit",
                )
        return self


# ----------------------------------------------------------------------------- loading
def _split_source(text: str) -> tuple[str, str]:
    """``"nrs.total"`` -> ``("nrs", "total")`` (already checked by the schema)."""
    inst_id, _, score = text.rpartition(".")
    return inst_id, score


def _build(f: _PlanFile, raw: Mapping[str, Any], source: str) -> Plan:
    """The frozen dataclasses from a validated file."""
    t = f.trial
    trial = TrialSpec(
        name=t.name,
        subject=t.subject,
        arm=t.arm,
        arms=tuple(t.arms),
        reference_arm=t.reference_arm,
        visit=t.visit,
        visits=tuple(t.visits),
        baseline_visit=t.baseline_visit,
        primary_visit=t.primary_visit,
        visit_times=None if t.visit_times is None else tuple(t.visit_times),
        time_label=t.time_label,
        extra_contrasts=tuple((a, b) for a, b in t.extra_contrasts),
    )
    outcomes = tuple(
        OutcomeSpec(
            name=o.name,
            column=o.column,
            label=o.label if o.label is not None else o.name,
            role=o.role,
            higher_is=o.higher_is,
            mcid=o.mcid,
            range=None if o.range is None else (o.range[0], o.range[1]),
            source=None if o.source is None else _split_source(o.source),
        )
        for o in f.outcomes
    )
    a, mi = f.analysis, f.analysis.multiple_imputation
    analysis = AnalysisSettings(
        conf_level=a.conf_level,
        primary=a.primary,
        sensitivity=tuple(a.sensitivity),
        recommended=a.recommended,
        sensitivity_cov=a.sensitivity_cov,
        df=a.df,
        covariates=tuple(a.covariates),
        covariate_levels={k: tuple(v) for k, v in a.covariate_levels.items()},
        describe=tuple(a.describe),
        describe_labels=dict(a.describe_labels),
        mi_m=mi.m,
        mi_seed=mi.seed,
        mi_enabled=mi.enabled,
    )
    e = f.effect_modification
    em = EffectModificationSettings(
        outcomes=tuple(e.outcomes) if e.outcomes is not None else tuple(o.name for o in outcomes),
        visits=tuple(e.visits) if e.visits is not None else trial.followup_visits,
        family_visits=(
            tuple(e.family_visits)
            if e.family_visits is not None
            else tuple(e.visits)
            if e.visits is not None
            else trial.followup_visits
        ),
        adjust_for_baseline=e.adjust_for_baseline,
        multiplicity=tuple(e.multiplicity),
        exploratory_p=e.exploratory_p,
        spline_knots=e.spline_knots,
        standard_errors=e.standard_errors,
        credibility_scope_p=e.credibility_scope_p,
        outcome_data_date=e.outcome_data_date,
    )
    modifiers = tuple(
        ModifierSpec(
            name=m.name,
            column=m.column,
            label=m.label if m.label is not None else m.name,
            type=m.type,
            unit=m.unit,
            direction=m.direction,
            hypothesis_source=m.hypothesis_source,
            hypothesis_date=m.hypothesis_date,
            hypothesis_timing=m.hypothesis_timing,
            prior_evidence=m.prior_evidence,
            prior_evidence_answer=m.prior_evidence_answer,
            source=None if m.source is None else _split_source(m.source),
        )
        for m in f.modifiers
    )
    responders = tuple(
        ResponderSpec(
            name=r.name,
            outcome=r.outcome,
            label=r.label if r.label is not None else r.name,
            percent=r.percent,
            points=r.points,
            visits=tuple(r.visits),
        )
        for r in f.responders
    )
    bf = f.benefit
    benefit = BenefitSettings(
        enabled=bf.enabled,
        outcomes=tuple(bf.outcomes) if bf.outcomes is not None else em.outcomes,
        visits=tuple(bf.visits) if bf.visits is not None else em.family_visits,
        folds=bf.folds,
        seed=bf.seed,
        groups=bf.groups,
        rule=bf.rule,
    )
    md = f.mediation
    mediation = MediationSettings(
        enabled=md.enabled,
        outcomes=tuple(md.outcomes) if md.outcomes is not None else tuple(o.name for o in outcomes),
        visit=md.visit if md.visit is not None else trial.primary_visit,
        confounders=tuple(md.confounders),
        adjust_for_baseline=md.adjust_for_baseline,
        interaction=md.interaction,
        boot=md.boot,
        ci=md.ci,
        seed=md.seed,
        missing=md.missing,
        imputations=md.imputations,
        joint=md.joint,
        interventional=md.interventional,
        sensitivity=md.sensitivity,
        mediators=tuple(
            MediatorSpec(
                name=m.name,
                column=m.column,
                label=m.label if m.label is not None else m.name,
                visit=m.visit,
                baseline=m.baseline,
                baseline_visit=m.baseline_visit,
                type=m.type,
                placeholder=m.placeholder,
            )
            for m in md.mediators
        ),
        placeholders=tuple(md.placeholders),
    )
    return Plan(
        trial, outcomes, analysis, em, modifiers, responders, source, raw, benefit, mediation
    )


def parse_plan(text: str, source: str = "plan") -> Plan:
    """Parse and validate plan TOML ``text``; errors name ``source``, the table and the key.

    Parameters
    ----------
    text : str
        The plan file's content.
    source : str
        Named first in every error message (usually the file name).

    Returns
    -------
    Plan

    Raises
    ------
    DataValidationError
        Not valid TOML; an unknown key (with the nearest valid key), a missing key,
        a value of the wrong type or out of range, or a broken cross-table rule
        (an arm, visit or outcome that the plan does not define...).

    Examples
    --------
    >>> plan = parse_plan('''
    ... [trial]
    ... name = "Pilot"
    ... subject = "id"
    ... arm = "group"
    ... arms = ["control", "active"]
    ... reference_arm = "control"
    ... visit = "visit"
    ... visits = ["baseline", "week 8"]
    ... baseline_visit = "baseline"
    ... primary_visit = "week 8"
    ...
    ... [[outcomes]]
    ... name = "pain"
    ... column = "pain"
    ... role = "primary"
    ... ''', "pilot.toml")
    >>> plan.trial.followup_visits, plan.outcome("pain").label, plan.analysis.conf_level
    (('week 8',), 'pain', 0.95)
    >>> try:
    ...     parse_plan('[trial]\\nname = "x"\\nsubjct = "id"', "pilot.toml")
    ... except DataValidationError as exc:
    ...     print(exc)
    pilot.toml: [trial] unknown key 'subjct' (did you mean 'subject'?)
    """
    raw = parse_toml(text, source)
    return _build(validate(_PlanFile, raw, source), raw, source)


def load_plan(path: str | Path | None = None) -> Plan:
    """Load and validate a plan file (TOML); ``None`` loads the bundled RESOLVE plan.

    Parameters
    ----------
    path : str or Path, optional
        A plan file. ``None`` loads ``plans/resolve.toml`` (see ``resolve plan show``).

    Returns
    -------
    Plan
        The validated plan; ``source`` is the file name (or ``"resolve.toml (bundled)"``)
        and ``raw`` the parsed TOML.

    Raises
    ------
    DataValidationError
        The file cannot be read, or :func:`parse_plan` refuses it.

    Examples
    --------
    >>> plan = load_plan()
    >>> plan.trial.primary_visit, [r.name for r in plan.responders]
    ('week 18', ['pain_30', 'pain_50', 'rmdq_5_or_30'])
    """
    if path is None:
        text = bundled_plan_text()
        source = "resolve.toml (bundled)"
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise DataValidationError(f"{p}: cannot read plan file ({why})") from None
        source = p.name
    return parse_plan(text, source)


def bundled_plan_text() -> str:
    """The bundled RESOLVE plan file, comments included (``resolve plan show`` prints it).

    Examples
    --------
    >>> bundled_plan_text().splitlines()[0].startswith("# Analysis plan of the RESOLVE trial")
    True
    """
    return (
        resources.files("resolve.analysis")
        .joinpath("plans", "resolve.toml")
        .read_text(encoding="utf-8")
    )


def plan_reference() -> str:
    """Markdown reference of every plan table and key (``docs/analysis-plan.md``).

    Generated from the file schema, so the documentation lists exactly the keys the
    reader accepts, with their types, defaults and meaning.

    Examples
    --------
    >>> print(plan_reference().splitlines()[0])
    ### `[trial]`
    """
    return reference_markdown(_PlanFile, intro=_INTROS)


_INTROS = {
    "[trial]": "Columns and design facts of the trial.",
    "[[outcomes]]": "One table per outcome measured at every visit; at least one.",
    "[[responders]]": "Responder definitions (optional): improvement from baseline of at "
    "least `percent` % or `points`, in the direction of benefit.",
    "[analysis]": "Primary, sensitivity and recommended models, covariates, missing data "
    "(optional table; every key has a default).",
    "[analysis.multiple_imputation]": "Usually written inline: "
    "`multiple_imputation = { m = 20, seed = 2022, enabled = false }`.",
    "[effect_modification]": "Which effect-modification analyses to run and how to adjust "
    "them (optional table).",
    "[[modifiers]]": "Candidate baseline effect modifiers (optional), one table each.",
    "[mediation]": "Causal mediation of the treatment effect (optional table; "
    "docs/mediation.md): outcomes and their visit, confounders, interaction, bootstrap, "
    "missing data, joint and interventional effects, sensitivity curve.",
    "[[mediation.mediators]]": "One table per candidate mediator (usually measured at the end "
    "of treatment), with where its baseline value is.",
    "[benefit]": "Who benefits (optional table; exploratory): risk-based groups, a ridge-"
    "penalised effect model tuned by cross-validation, calibration and c-for-benefit "
    "(docs/effect-modification.md).",
}
