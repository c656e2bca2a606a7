"""Simulation scenarios: frozen, validated parameter sets read from one TOML file.

A scenario holds every number the trial simulator uses. Each value may carry
its provenance in the ``provenance`` sub-table of its own table::

    [rmdq.sham]
    mean = [7.00, 6.30, 6.20, 6.00]
    provenance.mean = { class = ["placeholder", "derived", "derived", "derived"], source = "..." }

``class`` is ``"published"``, ``"derived"`` (computed from published numbers)
or ``"placeholder"`` (unknown: a general value, never to be reported as a
RESOLVE value), one for the whole key or one per element. The default
scenario (``scenarios/resolve.toml``) states the provenance of every value;
:func:`provenance_markdown` renders it (``docs/simulation.md``). A bad file
raises :class:`~resolve.errors.DataValidationError` naming the key (e.g.
``pain.sham.sd[2]``) and the offending value.

Named scenarios (:func:`named_scenario`) derive the scenarios of the
operating-characteristics study from any scenario: ``"null"``,
``"no_modification"`` and ``"frebaq_modification"``. An optional
``[mediation]`` part adds end-of-treatment mediators
(:mod:`resolve.simulate.mediators`; ``scenarios/mediation.toml``).

Examples
--------
>>> from resolve.simulate import default_scenario, named_scenario
>>> s = default_scenario()
>>> s.design.arms, s.design.n_per_arm, s.design.weeks
(('sham', 'resolve'), (138, 138), (0, 12, 18, 26, 52))
>>> s.rmdq.effect  # weeks 12, 18, 26, 52
(-2.6, -2.6, -2.1, -1.8)
>>> [(e.modifier, e.outcome, e.week, e.per_point) for e in s.effect_modification]
[('frebaq', 'pain', 52, 0.18)]
>>> named_scenario("no_modification").effect_modification
()
>>> named_scenario("null").pain.effect
(0.0, 0.0, 0.0, 0.0)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from resolve._schema import SchemaError, Table, Text, between, validate
from resolve._validation import parse_toml
from resolve.errors import DataValidationError

__all__ = [
    "FREBAQ_MODIFICATION",
    "MEDIATORS",
    "MODIFIERS",
    "NAMED_SCENARIOS",
    "PROVENANCE_CLASSES",
    "SCALE_RANGES",
    "Correlation",
    "Demographics",
    "Design",
    "EffectModification",
    "FollowUp",
    "Mediation",
    "Mediator",
    "Medication",
    "Missingness",
    "Outcome",
    "ParameterSource",
    "Scale",
    "Scenario",
    "default_scenario",
    "load_scenario",
    "named_scenario",
    "provenance_markdown",
    "resize",
    "scenario_from_dict",
]

#: Questionnaire modifiers generated from the scenario: name -> (instrument id, low, high).
SCALE_RANGES: dict[str, tuple[str, int, int]] = {
    "pseq": ("pseq", 0, 60),
    "pcs": ("pcs", 0, 52),
    "tsk": ("tsk17", 17, 68),
    "frebaq": ("frebaq", 0, 36),
    "bbq": ("bbq", 9, 45),
}

#: The eight candidate effect modifiers (Venter et al. 2026), as output columns.
MODIFIERS = (
    "pseq",
    "pcs",
    "pain_baseline",
    "psychoactive",
    "frebaq",
    "tsk",
    "rmdq_baseline",
    "bbq",
)

OUTCOMES = ("pain", "rmdq")

#: End-of-treatment mediators ([mediation] tables), in output-column order. The
#: questionnaires' baselines are the [modifiers]; tactile acuity (two-point discrimination
#: threshold, mm) and movement coordination (placeholder 0-100 score) have their own.
MEDIATORS = ("bbq", "pcs", "pseq", "tsk", "frebaq", "tpd", "coordination")

#: Scales of the mediators without a baseline modifier: name -> (low, high), integers.
MEDIATOR_RANGES: dict[str, tuple[int, int]] = {"tpd": (0, 200), "coordination": (0, 100)}

#: Outcome scales: name -> (low, high).
OUTCOME_RANGES: dict[str, tuple[int, int]] = {"pain": (0, 10), "rmdq": (0, 24)}

#: Provenance classes of a scenario value.
PROVENANCE_CLASSES = ("published", "derived", "placeholder")


@dataclass(frozen=True)
class Design:
    """Arms (reference first), participants per arm and visit weeks (first is 0)."""

    arms: tuple[str, str]
    n_per_arm: tuple[int, int]
    weeks: tuple[int, ...]

    @property
    def visits(self) -> tuple[str, ...]:
        """Visit labels: ``"baseline"``, then ``"week <n>"``."""
        return tuple("baseline" if w == 0 else f"week {w}" for w in self.weeks)

    @property
    def followup_weeks(self) -> tuple[int, ...]:
        """The follow-up weeks (all but the baseline visit)."""
        return self.weeks[1:]


@dataclass(frozen=True)
class Demographics:
    """Age (truncated to the eligibility range, whole years) and the share of women."""

    age_mean: float
    age_sd: float
    age_min: int
    age_max: int
    women: float


@dataclass(frozen=True)
class Outcome:
    """One outcome (pain NRS or RMDQ): baseline, control outcome and treatment effect.

    Per-visit tuples follow the follow-up weeks (``design.weeks[1:]``).
    ``control_mean``/``control_sd`` describe the reference arm's participants
    observed at a visit; ``effect`` is the average treatment effect (all
    randomised) added to the control potential outcome; ``treated_sd`` the SD
    of the treated arm's observed participants; ``headroom`` the smallest
    distance of any participant's expected control outcome from the scale's
    ends.
    """

    name: str
    low: int
    high: int
    baseline_mean: float
    baseline_sd: float
    control_mean: tuple[float, ...]
    control_sd: tuple[float, ...]
    effect: tuple[float, ...]
    treated_sd: tuple[float, ...]
    headroom: float
    eligibility_min: float | None = None


@dataclass(frozen=True)
class Scale:
    """A baseline questionnaire total: mean, SD and loading on the common factor."""

    name: str
    mean: float
    sd: float
    loading: float

    @property
    def instrument(self) -> str:
        return SCALE_RANGES[self.name][0]

    @property
    def low(self) -> int:
        return SCALE_RANGES[self.name][1]

    @property
    def high(self) -> int:
        return SCALE_RANGES[self.name][2]


@dataclass(frozen=True)
class Medication:
    """Psychoactive medication use: prevalence and loading on the common factor."""

    prevalence: float
    loading: float


@dataclass(frozen=True)
class Correlation:
    """Dependence structure (see ``docs/simulation.md``, "Generative model")."""

    pain_loading: float
    rmdq_loading: float
    pain_reliability: float
    rmdq_reliability: float
    pain_baseline_followup: float
    rmdq_baseline_followup: float
    baseline_followup_week: int
    pain_persistence: float
    rmdq_persistence: float
    pain_rmdq_person: float
    pain_rmdq_visit: float

    def of(self, outcome: str, what: str) -> float:
        """``of("rmdq", "loading")`` is ``rmdq_loading``."""
        return float(getattr(self, f"{outcome}_{what}"))


@dataclass(frozen=True)
class FollowUp:
    """Participants with each outcome at each follow-up visit, per arm."""

    pain: tuple[tuple[int, ...], tuple[int, ...]]
    rmdq: tuple[tuple[int, ...], tuple[int, ...]]

    def counts(self, outcome: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return self.pain if outcome == "pain" else self.rmdq


@dataclass(frozen=True)
class Missingness:
    """Log-odds of a missing visit per SD of baseline pain, baseline RMDQ and age."""

    pain_baseline: float
    rmdq_baseline: float
    age: float


@dataclass(frozen=True)
class EffectModification:
    """Change of the treatment effect on ``outcome`` at ``week`` per unit of ``modifier``.

    The modifier is centred at its population mean, so the average effect is
    the outcome's ``effect`` whatever ``per_point``.
    """

    modifier: str
    outcome: str
    week: int
    per_point: float


#: Venter et al. 2026 (S11): FreBAQ x treatment on 52-week pain, +0.18 per point.
FREBAQ_MODIFICATION = EffectModification("frebaq", "pain", 52, 0.18)


@dataclass(frozen=True)
class Mediator:
    """One end-of-treatment mediator (``[mediation.<name>]``; see :mod:`.mediators`).

    The control value at the mediator week is continuous with mean ``mean``,
    SD ``sd`` and correlation ``stability`` with the baseline score; its
    residual loads ``change_loading`` on a change factor shared by the
    mediators. ``effect`` is the treatment->mediator path ``a`` (mediator
    units); ``pain`` and ``rmdq`` the mediator->outcome paths ``b`` per
    mediator unit at each follow-up visit. ``baseline_*`` and
    ``prognosis_loading`` only for ``tpd`` and ``coordination``.
    """

    name: str
    low: int
    high: int
    mean: float
    sd: float
    stability: float
    change_loading: float
    effect: float
    pain: tuple[float, ...]
    rmdq: tuple[float, ...]
    baseline_mean: float | None = None
    baseline_sd: float | None = None
    prognosis_loading: float | None = None

    def per_point(self, outcome: str) -> tuple[float, ...]:
        """The paths ``b`` to ``outcome`` per follow-up visit."""
        return self.pain if outcome == "pain" else self.rmdq


@dataclass(frozen=True)
class Mediation:
    """Mediators measured at follow-up ``week``; ``zero``: every path ``b`` taken as 0."""

    week: int
    zero: bool
    mediators: tuple[Mediator, ...]


@dataclass(frozen=True)
class ParameterSource:
    """Provenance of one scenario value: dotted key, value, class(es) and source."""

    key: str
    value: str
    classes: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Scenario:
    """Every parameter of a simulated trial; build with :func:`load_scenario`."""

    name: str
    description: str
    design: Design
    demographics: Demographics
    pain: Outcome
    rmdq: Outcome
    scales: tuple[Scale, ...]
    psychoactive: Medication
    correlation: Correlation
    followup: FollowUp
    missingness: Missingness
    effect_modification: tuple[EffectModification, ...]
    mediation: Mediation | None = None
    source: str = field(default="scenario", compare=False)
    provenance: tuple[ParameterSource, ...] = field(default=(), compare=False, repr=False)

    def outcome(self, name: str) -> Outcome:
        """The :class:`Outcome` called ``name`` (``"pain"`` or ``"rmdq"``)."""
        return self.pain if name == "pain" else self.rmdq

    def scale(self, name: str) -> Scale:
        """The questionnaire modifier called ``name``."""
        for s in self.scales:
            if s.name == name:
                return s
        raise KeyError(name)


# --------------------------------------------------------------------------- file schema
# One pydantic model per TOML table (see resolve._schema), messages in the dotted style
# (``key 'pain.sham.sd[2]' ...``). Tables named after the arms (``[pain.sham]``) are
# fields created for the arms of ``design.arms``, so the design is read first.
_Finite = Annotated[float, between()]
_Positive = Annotated[float, between(0.0, low_open=True)]
_Loading = Annotated[float, between(-0.99, 0.99)]
_Share = Annotated[float, between(0.0, 0.99)]
_Reliability = Annotated[float, between(0.01, 0.99)]
_Correlation = Annotated[float, between(-1.0, 1.0)]
_LogOdds = Annotated[float, between(-5.0, 5.0)]


def _check(value: float, low: float | None, high: float | None, *loc: str | int, **kw: Any) -> None:
    """Refuse ``value`` outside the bounds, located at ``loc``."""
    try:
        between(low, high, **kw).check(value, integer=isinstance(value, int))
    except SchemaError as exc:
        raise SchemaError(exc.message, *loc) from None


def _per_visit(value: list[Any], info: ValidationInfo) -> list[Any]:
    n = (info.context or {}).get("n_followup")
    if n is not None and len(value) != n:
        raise SchemaError(f"must have {n} values (one per follow-up visit); got {len(value)}")
    return value


class _Source(Table):
    """``{ class = ..., source = ... }``: provenance of one key."""

    kind: str | list[str] = Field(alias="class")
    source: Text

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str | list[str]) -> str | list[str]:
        for v in [value] if isinstance(value, str) else value:
            if v not in PROVENANCE_CLASSES:
                raise SchemaError(f"must be one of {', '.join(PROVENANCE_CLASSES)}; got {v!r}")
        if isinstance(value, list) and not value:
            raise SchemaError("must name at least one class; got []")
        return value


class _Sourced(Table):
    """A table whose values may carry ``provenance.<key> = { class, source }``."""

    provenance: dict[str, _Source] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _provenance_keys(self) -> Self:
        fields = {
            (f.alias or name): name
            for name, f in type(self).model_fields.items()
            if name != "provenance"
        }
        for key in self.provenance:
            name = fields.get(key)
            if name is None or not _is_values(getattr(self, name)):
                values = [k for k, n in fields.items() if _is_values(getattr(self, n))]
                raise SchemaError(
                    f"names no value of this table; got {key!r} (values: {', '.join(values)})",
                    "provenance",
                    key,
                )
        return self


def _class_counts(model: BaseModel, loc: tuple[str | int, ...]) -> None:
    """Each per-element class list has one class per value (checked after the values)."""
    if isinstance(model, _Sourced):
        for key, src in model.provenance.items():
            name = next(n for n, f in type(model).model_fields.items() if (f.alias or n) == key)
            value = getattr(model, name)
            n = len(value) if isinstance(value, list) else 1
            if isinstance(src.kind, list) and len(src.kind) not in (1, n):
                raise SchemaError(
                    f"must have 1 or {n} classes (one per value of {key!r}); got {len(src.kind)}",
                    *loc,
                    "provenance",
                    key,
                    "class",
                )
    for name, f in type(model).model_fields.items():
        value = getattr(model, name)
        key = f.alias or name
        if isinstance(value, BaseModel):
            _class_counts(value, (*loc, key))
        elif isinstance(value, list):
            for k, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _class_counts(item, (*loc, key, k))


def _is_values(value: Any) -> bool:
    """A plain value or list of values (not a table or a list of tables)."""
    if value is None or isinstance(value, BaseModel):
        return False
    return not (isinstance(value, list) and value and isinstance(value[0], BaseModel))


class _MetaTable(Table):
    name: Text
    description: Text


class _DesignTable(_Sourced):
    arms: list[Text]
    n_per_arm: list[Annotated[int, between(2, 100_000)]]
    weeks: list[Annotated[int, between(0, 10_000)]]

    @field_validator("arms", "n_per_arm")
    @classmethod
    def _two(cls, value: list[Any]) -> list[Any]:
        if len(value) != 2:
            raise SchemaError(f"must have 2 values (one per arm); got {len(value)}")
        return value

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.arms[0] == self.arms[1]:
            raise SchemaError(f"must name two different arms; got {self.arms!r}", "arms")
        weeks = self.weeks
        if not weeks or weeks[0] != 0:
            raise SchemaError(f"must start with 0 (baseline); got {weeks!r}", "weeks")
        if any(b <= a for a, b in pairwise(weeks)):
            raise SchemaError(f"must increase strictly; got {weeks!r}", "weeks")
        if len(weeks) < 2:
            raise SchemaError(f"needs at least one follow-up visit; got {weeks!r}", "weeks")
        return self


class _DesignFirst(Table):
    """Only ``[design]``: read first, as it names the arm tables of the rest."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    design: _DesignTable


class _DemographicsTable(_Sourced):
    age_mean: _Finite
    age_sd: _Positive
    age_min: Annotated[int, between(0, 120)]
    age_max: Annotated[int, between(0, 120)]
    women: Annotated[float, between(0.0, 1.0)]

    @model_validator(mode="after")
    def _ages(self) -> Self:
        lo, hi = self.age_min, self.age_max
        _check(hi, lo + 1, 120, "age_max")
        _check(self.age_mean, lo, hi, "age_mean", low_open=True)
        # a distribution confined to [min, max] has SD below half the range
        _check(self.age_sd, 0.0, (hi - lo) / 2, "age_sd", low_open=True)
        return self


class _ControlTable(_Sourced):
    """``[<outcome>.<reference arm>]``: the control outcome at each follow-up visit."""

    mean: list[_Finite]
    sd: list[_Positive]

    @field_validator("mean", "sd")
    @classmethod
    def _lengths(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        return _per_visit(value, info)


class _TreatedTable(_Sourced):
    """``[<outcome>.<treated arm>]``: average effect and observed SD per follow-up visit."""

    effect: list[_Finite]
    sd: list[_Positive]

    @field_validator("effect", "sd")
    @classmethod
    def _lengths(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        return _per_visit(value, info)


class _OutcomeTable(_Sourced):
    """Base of ``[pain]`` / ``[rmdq]``: fields ``arm0``, ``arm1`` are added per design."""

    outcome: ClassVar[str] = "pain"
    baseline_mean: _Finite
    baseline_sd: _Positive
    headroom: _Positive
    arm0: _ControlTable
    arm1: _TreatedTable

    @property
    def floor(self) -> float | None:
        return None

    @model_validator(mode="after")
    def _inside(self) -> Self:
        low, high = OUTCOME_RANGES[self.outcome]
        floor = self.floor if self.floor is not None else low
        _check(self.baseline_mean, floor, high, "baseline_mean", low_open=True, high_open=True)
        _check(self.headroom, 0.0, (high - low) / 2, "headroom", low_open=True, high_open=True)
        room = self.headroom
        names = [type(self).model_fields[f].alias or f for f in ("arm0", "arm1")]
        for k, m in enumerate(self.arm0.mean):
            if not low + room < m < high - room:
                raise SchemaError(
                    f"must lie strictly inside ({low + room:g}, {high - room:g}) (the scale "
                    f"{low}-{high} less headroom {room:g}); got {m!r}",
                    names[0],
                    "mean",
                    k,
                )
        for k, e in enumerate(self.arm1.effect):
            if abs(e) > room:
                raise SchemaError(
                    f"must lie within +-headroom ({room:g}): a larger additive effect would push "
                    f"some participants' expected outcome off the scale; got {e!r}",
                    names[1],
                    "effect",
                    k,
                )
        return self


class _PainTable(_OutcomeTable):
    outcome: ClassVar[str] = "pain"
    eligibility_min: Annotated[float, between(0.0, 10.0)]

    @property
    def floor(self) -> float | None:
        return self.eligibility_min


class _RmdqTable(_OutcomeTable):
    outcome: ClassVar[str] = "rmdq"


class _ScaleTable(_Sourced):
    mean: _Finite
    sd: _Positive
    loading: _Loading


class _PsychoactiveTable(_Sourced):
    prevalence: Annotated[float, between(0.0, 1.0, low_open=True, high_open=True)]
    loading: _Loading


class _ModifiersTable(Table):
    pseq: _ScaleTable
    pcs: _ScaleTable
    tsk: _ScaleTable
    frebaq: _ScaleTable
    bbq: _ScaleTable
    psychoactive: _PsychoactiveTable

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        for name, (_, low, high) in SCALE_RANGES.items():
            s: _ScaleTable = getattr(self, name)
            _check(s.mean, low, high, name, "mean", low_open=True, high_open=True)
            _check(s.sd, 0.0, (high - low) / 2, name, "sd", low_open=True)
        return self


class _CorrelationTable(_Sourced):
    pain_loading: _Loading
    rmdq_loading: _Loading
    pain_reliability: _Reliability
    rmdq_reliability: _Reliability
    pain_baseline_followup: Annotated[float, between(0.0, 0.95)]
    rmdq_baseline_followup: Annotated[float, between(0.0, 0.95)]
    baseline_followup_week: int
    pain_persistence: _Share
    rmdq_persistence: _Share
    pain_rmdq_person: _Correlation
    pain_rmdq_visit: _Correlation


class _CountsTable(_Sourced):
    pain: list[int]
    rmdq: list[int]

    @field_validator("pain", "rmdq")
    @classmethod
    def _lengths(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        return _per_visit(value, info)


class _FollowupTable(Table):
    """``[followup]``: fields ``arm0``, ``arm1`` are added per design."""

    arm0: _CountsTable
    arm1: _CountsTable

    @model_validator(mode="after")
    def _counts(self, info: ValidationInfo) -> Self:
        sizes = (info.context or {}).get("n_per_arm", (None, None))
        for field_name, n in zip(("arm0", "arm1"), sizes, strict=True):
            arm: _CountsTable = getattr(self, field_name)
            alias = type(self).model_fields[field_name].alias or field_name
            for outcome in ("pain", "rmdq"):
                for k, v in enumerate(getattr(arm, outcome)):
                    _check(v, 0, n, alias, outcome, k)
            for k, (p, r) in enumerate(zip(arm.pain, arm.rmdq, strict=True)):
                if p < r:
                    raise SchemaError(
                        f"must be at least rmdq[{k}] = {r} (RMDQ is missing whenever pain is); "
                        f"got {p!r}",
                        alias,
                        "pain",
                        k,
                    )
        return self


class _MissingnessTable(_Sourced):
    pain_baseline: _LogOdds
    rmdq_baseline: _LogOdds
    age: _LogOdds


class _EffectTable(_Sourced):
    modifier: Text
    outcome: Text
    week: int
    per_point: _Finite

    @field_validator("modifier", "outcome")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        allowed = MODIFIERS if info.field_name == "modifier" else OUTCOMES
        if value not in allowed:
            raise SchemaError(f"must be one of {', '.join(allowed)}; got {value!r}")
        return value


class _MediatorTable(_Sourced):
    """``[mediation.<questionnaire>]``: the baseline is the modifier of that name."""

    mean: _Finite
    sd: _Positive
    stability: _Loading
    change_loading: _Loading
    effect: _Finite
    pain_per_point: list[_Finite]
    rmdq_per_point: list[_Finite]

    @field_validator("pain_per_point", "rmdq_per_point")
    @classmethod
    def _lengths(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        return _per_visit(value, info)


class _NewMediatorTable(_MediatorTable):
    """``[mediation.tpd]``, ``[mediation.coordination]``: with their own baseline."""

    baseline_mean: _Finite
    baseline_sd: _Positive
    prognosis_loading: _Loading


class _MediationTable(_Sourced):
    week: int
    zero: bool = False
    bbq: _MediatorTable | None = None
    pcs: _MediatorTable | None = None
    pseq: _MediatorTable | None = None
    tsk: _MediatorTable | None = None
    frebaq: _MediatorTable | None = None
    tpd: _NewMediatorTable | None = None
    coordination: _NewMediatorTable | None = None

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        named = [m for m in MEDIATORS if getattr(self, m) is not None]
        if not named:
            raise SchemaError(f"must configure at least one mediator ({', '.join(MEDIATORS)})")
        for name in named:
            t: _MediatorTable = getattr(self, name)
            low, high = MEDIATOR_RANGES.get(name) or SCALE_RANGES[name][1:]
            _check(t.mean, low, high, name, "mean", low_open=True, high_open=True)
            _check(t.sd, 0.0, (high - low) / 2, name, "sd", low_open=True)
            _check(t.effect, low - high, high - low, name, "effect", low_open=True, high_open=True)
            if isinstance(t, _NewMediatorTable):
                b_mean, b_sd = t.baseline_mean, t.baseline_sd
                _check(b_mean, low, high, name, "baseline_mean", low_open=True, high_open=True)
                _check(b_sd, 0.0, (high - low) / 2, name, "baseline_sd", low_open=True)
        return self


class _ScenarioFile(Table):
    """Base of the whole file: ``pain``, ``rmdq`` and ``followup`` are set per design."""

    scenario: _MetaTable
    design: _DesignTable
    demographics: _DemographicsTable
    pain: _PainTable
    rmdq: _RmdqTable
    modifiers: _ModifiersTable
    correlation: _CorrelationTable
    followup: _FollowupTable
    missingness: _MissingnessTable
    effect_modification: list[_EffectTable] = Field(default_factory=list)
    mediation: _MediationTable | None = None

    @model_validator(mode="after")
    def _mediation_weeks(self) -> Self:
        """The mediator week is a follow-up visit; no path ``b`` at or before it."""
        med = self.mediation
        if med is None:
            return self
        followup = self.design.weeks[1:]
        if med.week not in followup:
            raise SchemaError(
                f"must be a follow-up week {followup}; got {med.week!r}", "mediation", "week"
            )
        for name in MEDIATORS:
            t: _MediatorTable | None = getattr(med, name)
            for key in ("pain_per_point", "rmdq_per_point"):
                for k, b in enumerate(getattr(t, key) if t is not None else []):
                    if followup[k] <= med.week and b != 0:
                        raise SchemaError(
                            f"must be 0: week {followup[k]} is not after the mediator week "
                            f"{med.week}; got {b!r}",
                            "mediation",
                            name,
                            key,
                            k,
                        )
        return self

    @model_validator(mode="after")
    def _effects(self) -> Self:
        _class_counts(self, ())
        followup = self.design.weeks[1:]
        week = self.correlation.baseline_followup_week
        if week not in followup:
            raise SchemaError(
                f"must be a follow-up week {followup}; got {week!r}",
                "correlation",
                "baseline_followup_week",
            )
        seen: set[tuple[str, str, int]] = set()
        for k, e in enumerate(self.effect_modification):
            if e.week not in followup:
                raise SchemaError(
                    f"must be a follow-up week {followup}; got {e.week!r}",
                    "effect_modification",
                    k,
                    "week",
                )
            if (e.modifier, e.outcome, e.week) in seen:
                raise SchemaError(
                    f"repeats {e.modifier} x {e.outcome} at week {e.week}",
                    "effect_modification",
                    k,
                    "week",
                )
            seen.add((e.modifier, e.outcome, e.week))
        return self


@functools.cache
def _file_model(arms: tuple[str, str]) -> type[_ScenarioFile]:
    """The file schema with the per-arm tables named after ``arms``."""

    def per_arm(base: type[Table], sub0: type[Table], sub1: type[Table]) -> Any:
        fields: Any = {
            f"arm{k}": (sub, Field(alias=a))
            for k, (a, sub) in enumerate(zip(arms, (sub0, sub1), strict=True))
        }
        return create_model(base.__name__, __base__=base, **fields)

    return create_model(
        "_ScenarioFile",
        __base__=_ScenarioFile,
        pain=(per_arm(_PainTable, _ControlTable, _TreatedTable), ...),
        rmdq=(per_arm(_RmdqTable, _ControlTable, _TreatedTable), ...),
        followup=(per_arm(_FollowupTable, _CountsTable, _CountsTable), ...),
    )


def _outcome(name: str, t: _OutcomeTable, eligibility_min: float | None) -> Outcome:
    low, high = OUTCOME_RANGES[name]
    return Outcome(
        name=name,
        low=low,
        high=high,
        baseline_mean=t.baseline_mean,
        baseline_sd=t.baseline_sd,
        control_mean=tuple(t.arm0.mean),
        control_sd=tuple(t.arm0.sd),
        effect=tuple(t.arm1.effect),
        treated_sd=tuple(t.arm1.sd),
        headroom=t.headroom,
        eligibility_min=eligibility_min,
    )


def _sources(model: BaseModel, prefix: str = "") -> list[ParameterSource]:
    """Every value of a validated file with its provenance (classes () when not stated)."""
    out: list[ParameterSource] = []
    stated = model.provenance if isinstance(model, _Sourced) else {}
    for name, f in type(model).model_fields.items():
        if name == "provenance":
            continue
        key = f.alias or name
        path = f"{prefix}.{key}" if prefix else key
        value = getattr(model, name)
        if value is None:  # an optional table left out
            continue
        if isinstance(value, BaseModel):
            out += _sources(value, path)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            for k, item in enumerate(value):
                out += _sources(item, f"{path}[{k}]")
        elif isinstance(model, _Sourced):
            src = stated.get(key)
            classes: tuple[str, ...] = ()
            text = ""
            if src is not None:
                classes = (src.kind,) if isinstance(src.kind, str) else tuple(src.kind)
                text = src.source
            shown = (
                ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
                if (isinstance(value, list))
                else (f"{value:g}" if isinstance(value, float) else str(value))
            )
            out.append(ParameterSource(path, shown, classes, text))
    return out


def _mediation(t: _MediationTable | None) -> Mediation | None:
    if t is None:
        return None
    out = []
    for name in MEDIATORS:
        m: _MediatorTable | None = getattr(t, name)
        if m is None:
            continue
        low, high = MEDIATOR_RANGES.get(name) or SCALE_RANGES[name][1:]
        own: dict[str, float] = {}
        if isinstance(m, _NewMediatorTable):
            own = {
                "baseline_mean": m.baseline_mean,
                "baseline_sd": m.baseline_sd,
                "prognosis_loading": m.prognosis_loading,
            }
        out.append(
            Mediator(
                name,
                int(low),
                int(high),
                m.mean,
                m.sd,
                m.stability,
                m.change_loading,
                m.effect,
                tuple(m.pain_per_point),
                tuple(m.rmdq_per_point),
                **own,
            )
        )
    return Mediation(t.week, t.zero, tuple(out))


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
    """Validate a parsed scenario (the TOML structure as nested dicts).

    Parameters
    ----------
    data : mapping
        Tables ``scenario``, ``design``, ``demographics``, ``pain``, ``rmdq``,
        ``modifiers``, ``correlation``, ``followup``, ``missingness``, an
        optional array ``effect_modification`` and an optional ``mediation``
        table (:mod:`resolve.simulate.mediators`).
    source : str
        Named in error messages (usually the file name).

    Raises
    ------
    DataValidationError
        A key is missing, unknown, of the wrong type or out of range; the
        message names the key and the value, e.g. ``bad.toml: key
        'pain.sham.sd[2]' must be a number > 0; got -2.0``.

    Examples
    --------
    >>> import tomllib
    >>> from resolve.errors import DataValidationError
    >>> from resolve.simulate.scenario import DEFAULT_PATH
    >>> with open(DEFAULT_PATH, "rb") as fh:
    ...     data = tomllib.load(fh)
    >>> scenario_from_dict(data).design.visits
    ('baseline', 'week 12', 'week 18', 'week 26', 'week 52')
    >>> data["correlation"]["pain_persistense"] = data["correlation"].pop("pain_persistence")
    >>> try:
    ...     scenario_from_dict(data, source="my.toml")
    ... except DataValidationError as exc:
    ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
    my.toml: unknown key 'correlation.pain_persistense'
    (value 0.35; did you mean 'correlation.pain_persistence'?)
    """
    first = validate(_DesignFirst, data, source, style="dotted").design
    arms = (first.arms[0], first.arms[1])
    context = {"n_followup": len(first.weeks) - 1, "n_per_arm": tuple(first.n_per_arm)}
    f = validate(_file_model(arms), data, source, context=context, style="dotted")
    d = f.design
    design = Design(arms, (d.n_per_arm[0], d.n_per_arm[1]), tuple(d.weeks))
    g = f.demographics
    m = f.modifiers
    c = f.correlation
    pain_counts = (tuple(f.followup.arm0.pain), tuple(f.followup.arm1.pain))
    rmdq_counts = (tuple(f.followup.arm0.rmdq), tuple(f.followup.arm1.rmdq))
    return Scenario(
        name=f.scenario.name,
        description=f.scenario.description,
        design=design,
        demographics=Demographics(g.age_mean, g.age_sd, g.age_min, g.age_max, g.women),
        pain=_outcome("pain", f.pain, f.pain.eligibility_min),
        rmdq=_outcome("rmdq", f.rmdq, None),
        scales=tuple(
            Scale(name, s.mean, s.sd, s.loading)
            for name in SCALE_RANGES
            for s in [getattr(m, name)]
        ),
        psychoactive=Medication(m.psychoactive.prevalence, m.psychoactive.loading),
        correlation=Correlation(
            pain_loading=c.pain_loading,
            rmdq_loading=c.rmdq_loading,
            pain_reliability=c.pain_reliability,
            rmdq_reliability=c.rmdq_reliability,
            pain_baseline_followup=c.pain_baseline_followup,
            rmdq_baseline_followup=c.rmdq_baseline_followup,
            baseline_followup_week=c.baseline_followup_week,
            pain_persistence=c.pain_persistence,
            rmdq_persistence=c.rmdq_persistence,
            pain_rmdq_person=c.pain_rmdq_person,
            pain_rmdq_visit=c.pain_rmdq_visit,
        ),
        followup=FollowUp(pain_counts, rmdq_counts),
        missingness=Missingness(
            f.missingness.pain_baseline, f.missingness.rmdq_baseline, f.missingness.age
        ),
        effect_modification=tuple(
            EffectModification(e.modifier, e.outcome, e.week, e.per_point)
            for e in f.effect_modification
        ),
        mediation=_mediation(f.mediation),
        source=source,
        provenance=tuple(_sources(f)),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path : str or Path
        The file; see ``src/resolve/simulate/scenarios/resolve.toml`` for the
        layout and ``docs/simulation.md`` for the meaning of every key.

    Returns
    -------
    Scenario

    Raises
    ------
    DataValidationError
        The file is not valid TOML or a parameter is missing, unknown or out
        of range (the message names the key and the value).
    OSError
        The file cannot be read.

    Examples
    --------
    >>> from resolve.simulate import load_scenario
    >>> from resolve.simulate.scenario import DEFAULT_PATH
    >>> load_scenario(DEFAULT_PATH).name
    'resolve'
    """
    p = Path(path)
    return scenario_from_dict(parse_toml(p.read_text(encoding="utf-8"), p.name), source=p.name)


DEFAULT_PATH = str(resources.files("resolve.simulate").joinpath("scenarios", "resolve.toml"))


def default_scenario() -> Scenario:
    """The RESOLVE scenario shipped as ``scenarios/resolve.toml``.

    Published average effects with FreBAQ x treatment on 52-week pain (the
    same as ``named_scenario("frebaq_modification")``).
    """
    return load_scenario(DEFAULT_PATH)


#: The named scenarios of :func:`named_scenario`, with what each changes.
NAMED_SCENARIOS: dict[str, str] = {
    "null": (
        "no treatment effect: effect 0 at every visit, no effect modification, and the treated "
        "arm's SDs set to the control arm's, so both arms' outcomes have one distribution"
    ),
    "no_modification": (
        "the scenario's (published) average effects and SDs, no effect modification"
    ),
    "frebaq_modification": (
        "the scenario's (published) average effects and SDs with FreBAQ x treatment on 52-week "
        "pain, +0.18 per FreBAQ point (Venter et al. 2026) as the only effect modification"
    ),
}


def named_scenario(name: str, scenario: Scenario | None = None) -> Scenario:
    """A scenario of the operating-characteristics study, derived from ``scenario``.

    Parameters
    ----------
    name : {"null", "no_modification", "frebaq_modification"}
        See :data:`NAMED_SCENARIOS`. Everything not named there (baseline,
        control outcomes, dependence, dropout) is kept.
    scenario : Scenario, optional
        The base; the RESOLVE default if omitted.

    Returns
    -------
    Scenario
        Named ``"<base name>/<name>"``.

    Raises
    ------
    DataValidationError
        ``name`` is unknown, or ``"frebaq_modification"`` is asked of a design
        without a week-52 visit.

    Examples
    --------
    >>> from resolve.simulate import named_scenario
    >>> s = named_scenario("frebaq_modification")
    >>> s.name, [(e.modifier, e.per_point) for e in s.effect_modification]
    ('resolve/frebaq_modification', [('frebaq', 0.18)])
    >>> null = named_scenario("null")
    >>> null.rmdq.treated_sd == null.rmdq.control_sd
    True
    """
    base = default_scenario() if scenario is None else scenario
    if name not in NAMED_SCENARIOS:
        raise DataValidationError(
            f"unknown named scenario {name!r}; choose one of {', '.join(NAMED_SCENARIOS)}"
        )
    label = f"{base.name}/{name}"
    if name == "null":

        def null(o: Outcome) -> Outcome:
            return dataclasses.replace(
                o, effect=tuple(0.0 for _ in o.effect), treated_sd=o.control_sd
            )

        return dataclasses.replace(
            base, name=label, pain=null(base.pain), rmdq=null(base.rmdq), effect_modification=()
        )
    if name == "no_modification":
        return dataclasses.replace(base, name=label, effect_modification=())
    if FREBAQ_MODIFICATION.week not in base.design.followup_weeks:
        raise DataValidationError(
            f"named scenario 'frebaq_modification' needs a week-{FREBAQ_MODIFICATION.week} "
            f"visit; the design has weeks {base.design.weeks}"
        )
    return dataclasses.replace(base, name=label, effect_modification=(FREBAQ_MODIFICATION,))


def resize(scenario: Scenario, n_per_arm: int, *, dropout: bool = True) -> Scenario:
    """``scenario`` with ``n_per_arm`` participants per arm.

    Follow-up counts are scaled in proportion (rounded); with
    ``dropout=False`` every participant is observed at every visit.

    Examples
    --------
    >>> from resolve.simulate import default_scenario, resize
    >>> big = resize(default_scenario(), 1380)
    >>> big.design.n_per_arm, big.followup.pain[1]
    ((1380, 1380), (1310, 1280, 1260, 1220))
    >>> resize(default_scenario(), 50, dropout=False).followup.rmdq[0]
    (50, 50, 50, 50)
    """
    if isinstance(n_per_arm, bool) or not isinstance(n_per_arm, int) or n_per_arm < 2:
        raise DataValidationError(f"n_per_arm must be an integer >= 2; got {n_per_arm!r}")
    d = scenario.design

    def scale(counts: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple[Any, Any]:
        out = []
        for a in (0, 1):
            if dropout:
                out.append(tuple(round(c * n_per_arm / d.n_per_arm[a]) for c in counts[a]))
            else:
                out.append(tuple(n_per_arm for _ in counts[a]))
        return out[0], out[1]

    pain, rmdq_raw = scale(scenario.followup.pain), scale(scenario.followup.rmdq)
    # RMDQ is missing whenever pain is
    rmdq = tuple(
        tuple(min(p, r) for p, r in zip(pain[a], rmdq_raw[a], strict=True)) for a in (0, 1)
    )
    return dataclasses.replace(
        scenario,
        design=dataclasses.replace(d, n_per_arm=(n_per_arm, n_per_arm)),
        followup=FollowUp(pain, (rmdq[0], rmdq[1])),
    )


def provenance_markdown(scenario: Scenario) -> str:
    """Markdown table of every scenario value with its provenance class and source.

    Per-element classes are listed in the order of the values.

    Examples
    --------
    >>> from resolve.simulate import default_scenario
    >>> from resolve.simulate.scenario import provenance_markdown
    >>> row = provenance_markdown(default_scenario()).splitlines()[4]
    >>> row.split(" | ")[:2]
    ['| `design.weeks`', '0, 12, 18, 26, 52']
    >>> row.split(" | ")[2]
    'published, placeholder, published, published, published'
    """
    lines = ["| key | value | class | source |", "|---|---|---|---|"]
    for p in scenario.provenance:
        classes = p.classes
        shown = classes[0] if len(set(classes)) == 1 else ", ".join(classes)
        source = p.source.replace("|", "\\|")
        lines.append(f"| `{p.key}` | {p.value} | {shown or 'not stated'} | {source} |")
    return "\n".join(lines)
