"""Simulation scenarios: frozen, validated parameter sets read from one TOML file.

A scenario holds every number the trial simulator uses. The RESOLVE default
(``scenarios/resolve.toml``) states, beside each value, its class (HARD,
SEMI-HARD or PLACEHOLDER, as in ``specs/resolve-trial.md`` section 9) and its
source. A bad file raises :class:`~resolve.errors.DataValidationError` naming
the key (e.g. ``pain.sham.sd[2]``) and the offending value.

Examples
--------
>>> from resolve.simulate import default_scenario
>>> s = default_scenario()
>>> s.design.arms, s.design.n_per_arm, s.design.weeks
(('sham', 'resolve'), (138, 138), (0, 12, 18, 26, 52))
>>> s.pain.arm("resolve").mean[2]
3.06
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from resolve._schema import SchemaError, Table, Text, between, validate
from resolve._validation import parse_toml

__all__ = [
    "MODIFIERS",
    "SCALE_RANGES",
    "ArmTrajectory",
    "Correlation",
    "Demographics",
    "Design",
    "EffectModification",
    "FollowUp",
    "Medication",
    "Missingness",
    "Outcome",
    "Scale",
    "Scenario",
    "default_scenario",
    "load_scenario",
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


@dataclass(frozen=True)
class Demographics:
    """Age (truncated to the eligibility range, whole years) and the share of women."""

    age_mean: float
    age_sd: float
    age_min: int
    age_max: int
    women: float


@dataclass(frozen=True)
class ArmTrajectory:
    """Target mean and SD of an outcome at each visit, for one arm."""

    mean: tuple[float, ...]
    sd: tuple[float, ...]


@dataclass(frozen=True)
class Outcome:
    """Per-arm trajectories of one outcome (pain NRS or RMDQ)."""

    name: str
    arms: tuple[ArmTrajectory, ArmTrajectory]
    arm_names: tuple[str, str]
    eligibility_min: float | None = None

    def arm(self, name: str) -> ArmTrajectory:
        """Trajectory of arm ``name``."""
        return self.arms[self.arm_names.index(name)]


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
    """Latent dependence of pain and RMDQ (see ``docs/simulation.md``)."""

    pain_loading: float
    pain_within: float
    rmdq_loading: float
    rmdq_within: float
    pain_rmdq_person: float
    pain_rmdq_visit: float


@dataclass(frozen=True)
class FollowUp:
    """Number of participants with each outcome at each visit, per arm."""

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
    """Change of the treatment effect per unit of ``modifier`` at ``week``."""

    modifier: str
    outcome: str
    week: int
    per_point: float


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
    source: str = field(default="scenario", compare=False)

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
_Loading = Annotated[float, between(-0.99, 0.99)]
_Within = Annotated[float, between(0.0, 0.99)]
_Correlation = Annotated[float, between(-1.0, 1.0)]
_LogOdds = Annotated[float, between(-5.0, 5.0)]


def _check(value: float, low: float | None, high: float | None, *loc: str | int, **kw: Any) -> None:
    """Refuse ``value`` outside the bounds, located at ``loc``."""
    try:
        between(low, high, **kw).check(value, integer=isinstance(value, int))
    except SchemaError as exc:
        raise SchemaError(exc.message, *loc) from None


def _per_visit(value: list[Any], info: ValidationInfo) -> list[Any]:
    n = (info.context or {}).get("n_visits")
    if n is not None and len(value) != n:
        raise SchemaError(f"must have {n} values (one per visit); got {len(value)}")
    return value


class _MetaTable(Table):
    name: Text
    description: Text


class _DesignTable(Table):
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


class _DemographicsTable(Table):
    age_mean: _Finite
    age_sd: Annotated[float, between(0.0, low_open=True)]
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


class _TrajectoryTable(Table):
    mean: list[_Finite]
    sd: list[Annotated[float, between(0.0, low_open=True)]]

    @field_validator("mean", "sd")
    @classmethod
    def _lengths(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        return _per_visit(value, info)


class _OutcomeTable(Table):
    """Base of ``[pain]`` / ``[rmdq]``: fields ``arm0``, ``arm1`` are added per design."""

    low: ClassVar[float] = 0.0
    high: ClassVar[float] = 10.0
    arm0: _TrajectoryTable
    arm1: _TrajectoryTable

    @property
    def floor(self) -> float | None:
        return None

    @model_validator(mode="after")
    def _inside(self) -> Self:
        for field_name in ("arm0", "arm1"):
            arm: _TrajectoryTable = getattr(self, field_name)
            alias = type(self).model_fields[field_name].alias or field_name
            for k, m in enumerate(arm.mean):
                floor = self.floor if (k == 0 and self.floor is not None) else self.low
                if not floor < m < self.high:
                    raise SchemaError(
                        f"must lie strictly inside ({floor:g}, {self.high:g}); got {m!r}",
                        alias,
                        "mean",
                        k,
                    )
        return self


class _PainTable(_OutcomeTable):
    eligibility_min: Annotated[float, between(0.0, 10.0)]

    @property
    def floor(self) -> float | None:
        return self.eligibility_min


class _RmdqTable(_OutcomeTable):
    high: ClassVar[float] = 24.0


class _ScaleTable(Table):
    mean: _Finite
    sd: Annotated[float, between(0.0, low_open=True)]
    loading: _Loading


class _PsychoactiveTable(Table):
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


class _CorrelationTable(Table):
    pain_loading: _Loading
    pain_within: _Within
    rmdq_loading: _Loading
    rmdq_within: _Within
    pain_rmdq_person: _Correlation
    pain_rmdq_visit: _Correlation

    @model_validator(mode="after")
    def _factor(self) -> Self:
        for k in ("pain", "rmdq"):
            loading, within = getattr(self, f"{k}_loading"), getattr(self, f"{k}_within")
            if loading**2 > within:
                raise SchemaError(
                    f"must be at least {k}_loading^2 = {loading**2:.4g} (the common factor alone "
                    f"correlates visits that much); got {within!r}",
                    f"{k}_within",
                )
        return self


class _CountsTable(Table):
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
                values = getattr(arm, outcome)
                for k, v in enumerate(values):
                    _check(v, 0, n, alias, outcome, k)
                if values[0] != n:
                    raise SchemaError(
                        f"must equal the arm size {n} (no missing baseline); got {values[0]!r}",
                        alias,
                        outcome,
                        0,
                    )
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


class _MissingnessTable(Table):
    pain_baseline: _LogOdds
    rmdq_baseline: _LogOdds
    age: _LogOdds


class _EffectTable(Table):
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

    @model_validator(mode="after")
    def _effects(self) -> Self:
        followup = self.design.weeks[1:]
        seen: set[tuple[str, int]] = set()
        for k, e in enumerate(self.effect_modification):
            if e.week not in followup:
                raise SchemaError(
                    f"must be a follow-up week {followup}; got {e.week!r}",
                    "effect_modification",
                    k,
                    "week",
                )
            if (e.outcome, e.week) in seen:
                raise SchemaError(
                    f"repeats {e.outcome} at week {e.week}; one modifier per outcome and week",
                    "effect_modification",
                    k,
                    "week",
                )
            seen.add((e.outcome, e.week))
        return self


@functools.cache
def _file_model(arms: tuple[str, str]) -> type[_ScenarioFile]:
    """The file schema with the per-arm tables named after ``arms``."""

    def per_arm(base: type[Table], sub: type[Table]) -> Any:
        fields: Any = {f"arm{k}": (sub, Field(alias=a)) for k, a in enumerate(arms)}
        return create_model(base.__name__, __base__=base, **fields)

    return create_model(
        "_ScenarioFile",
        __base__=_ScenarioFile,
        pain=(per_arm(_PainTable, _TrajectoryTable), ...),
        rmdq=(per_arm(_RmdqTable, _TrajectoryTable), ...),
        followup=(per_arm(_FollowupTable, _CountsTable), ...),
    )


def _trajectories(t: _OutcomeTable) -> tuple[ArmTrajectory, ArmTrajectory]:
    a, b = t.arm0, t.arm1
    return ArmTrajectory(tuple(a.mean), tuple(a.sd)), ArmTrajectory(tuple(b.mean), tuple(b.sd))


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
    """Validate a parsed scenario (the TOML structure as nested dicts).

    Parameters
    ----------
    data : mapping
        Tables ``scenario``, ``design``, ``demographics``, ``pain``, ``rmdq``,
        ``modifiers``, ``correlation``, ``followup``, ``missingness`` and an
        optional array ``effect_modification``.
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
    >>> data["correlation"]["pain_witin"] = data["correlation"].pop("pain_within")
    >>> try:
    ...     scenario_from_dict(data, source="my.toml")
    ... except DataValidationError as exc:
    ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
    my.toml: unknown key 'correlation.pain_witin'
    (value 0.45; did you mean 'correlation.pain_within'?)
    """
    first = validate(_DesignFirst, data, source, style="dotted").design
    arms = (first.arms[0], first.arms[1])
    context = {"n_visits": len(first.weeks), "n_per_arm": tuple(first.n_per_arm)}
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
        pain=Outcome("pain", _trajectories(f.pain), arms, f.pain.eligibility_min),
        rmdq=Outcome("rmdq", _trajectories(f.rmdq), arms, None),
        scales=tuple(
            Scale(name, s.mean, s.sd, s.loading)
            for name in SCALE_RANGES
            for s in [getattr(m, name)]
        ),
        psychoactive=Medication(m.psychoactive.prevalence, m.psychoactive.loading),
        correlation=Correlation(
            pain_loading=c.pain_loading,
            pain_within=c.pain_within,
            rmdq_loading=c.rmdq_loading,
            rmdq_within=c.rmdq_within,
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
        source=source,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path : str or Path
        The file; see ``src/resolve/simulate/scenarios/resolve.toml`` for the
        layout and the meaning of every key.

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
    """The RESOLVE scenario shipped as ``scenarios/resolve.toml``."""
    return load_scenario(DEFAULT_PATH)
