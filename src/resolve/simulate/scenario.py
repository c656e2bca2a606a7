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

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from resolve._validation import Interval, parse_toml
from resolve.errors import DataValidationError

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


# --------------------------------------------------------------------------- parsing
class _Table:
    """A TOML table that remembers its key path and refuses unknown keys."""

    def __init__(self, data: Any, path: str, where: str) -> None:
        if not isinstance(data, Mapping):
            raise DataValidationError(
                f"{where}: {path or 'scenario'} must be a table; got {data!r}"
            )
        self.data = dict(data)
        self.path = path
        self.where = where
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, key: str, message: str) -> DataValidationError:
        return DataValidationError(f"{self.where}: key {key!r} {message}")

    def raw(self, name: str) -> Any:
        if name not in self.data:
            raise self.error(self.key(name), "is missing")
        self.used.add(name)
        return self.data[name]

    def table(self, name: str) -> _Table:
        return _Table(self.raw(name), self.key(name), self.where)

    def number(
        self,
        name: str,
        low: float | None = None,
        high: float | None = None,
        *,
        low_inclusive: bool = True,
    ) -> float:
        return self._check(self.raw(name), self.key(name), low, high, low_inclusive)

    def _check(
        self,
        value: Any,
        key: str,
        low: float | None,
        high: float | None,
        low_inclusive: bool = True,
    ) -> float:
        try:
            return Interval(key, low, high, low_inclusive=low_inclusive)(value)
        except DataValidationError as exc:
            raise DataValidationError(f"{self.where}: {exc}") from None

    def integer(self, name: str, low: int | None = None, high: int | None = None) -> int:
        value = self.raw(name)
        return self._int(value, self.key(name), low, high)

    def _int(self, value: Any, key: str, low: int | None, high: int | None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer; got {value!r}")
        self._check(value, key, low, high)
        return value

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or not value.strip():
            raise self.error(self.key(name), f"must be a non-empty string; got {value!r}")
        return value

    def array(self, name: str, length: int | None = None) -> list[Any]:
        value = self.raw(name)
        if not isinstance(value, list):
            raise self.error(self.key(name), f"must be an array; got {value!r}")
        if length is not None and len(value) != length:
            raise self.error(
                self.key(name), f"must have {length} values (one per visit); got {len(value)}"
            )
        return value

    def numbers(
        self, name: str, length: int, low: float | None = None, *, low_inclusive: bool = True
    ) -> tuple[float, ...]:
        return tuple(
            self._check(v, f"{self.key(name)}[{k}]", low, None, low_inclusive)
            for k, v in enumerate(self.array(name, length))
        )

    def integers(self, name: str, length: int, low: int, high: int) -> tuple[int, ...]:
        return tuple(
            self._int(v, f"{self.key(name)}[{k}]", low, high)
            for k, v in enumerate(self.array(name, length))
        )

    def finish(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise self.error(
                self.key(extra[0]), f"is not a known parameter (value {self.data[extra[0]]!r})"
            )


def _design(t: _Table) -> Design:
    arms = t.array("arms", 2)
    for k, a in enumerate(arms):
        if not isinstance(a, str) or not a.strip():
            raise t.error(f"{t.key('arms')}[{k}]", f"must be a non-empty string; got {a!r}")
    if arms[0] == arms[1]:
        raise t.error(t.key("arms"), f"must name two different arms; got {arms!r}")
    n = t.integers("n_per_arm", 2, 2, 100_000)
    weeks = t.integers("weeks", len(t.array("weeks")), 0, 10_000)
    if not weeks or weeks[0] != 0:
        raise t.error(t.key("weeks"), f"must start with 0 (baseline); got {list(weeks)!r}")
    if any(b <= a for a, b in pairwise(weeks)):
        raise t.error(t.key("weeks"), f"must increase strictly; got {list(weeks)!r}")
    if len(weeks) < 2:
        raise t.error(t.key("weeks"), f"needs at least one follow-up visit; got {list(weeks)!r}")
    t.finish()
    return Design((arms[0], arms[1]), (n[0], n[1]), weeks)


def _demographics(t: _Table) -> Demographics:
    age_min = t.integer("age_min", 0, 120)
    age_max = t.integer("age_max", age_min + 1, 120)
    mean = t.number("age_mean", age_min, age_max, low_inclusive=False)
    # a distribution confined to [min, max] has SD below half the range
    sd = t.number("age_sd", 0.0, (age_max - age_min) / 2, low_inclusive=False)
    women = t.number("women", 0.0, 1.0)
    t.finish()
    return Demographics(mean, sd, age_min, age_max, women)


def _outcome(t: _Table, name: str, design: Design, low: float, high: float) -> Outcome:
    n_visits = len(design.weeks)
    eligibility = None
    if name == "pain":
        eligibility = t.number("eligibility_min", low, high)
    trajectories = []
    for arm in design.arms:
        a = t.table(arm)
        means = a.numbers("mean", n_visits)
        sds = a.numbers("sd", n_visits, 0.0, low_inclusive=False)
        for k, m in enumerate(means):
            floor = eligibility if (k == 0 and eligibility is not None) else low
            if not floor < m < high:
                raise a.error(
                    f"{a.key('mean')}[{k}]",
                    f"must lie strictly inside ({floor:g}, {high:g}); got {m!r}",
                )
        a.finish()
        trajectories.append(ArmTrajectory(means, sds))
    t.finish()
    return Outcome(name, (trajectories[0], trajectories[1]), design.arms, eligibility)


def _modifiers(t: _Table) -> tuple[tuple[Scale, ...], Medication]:
    scales = []
    for name, (_, low, high) in SCALE_RANGES.items():
        s = t.table(name)
        mean = s.number("mean", low, high, low_inclusive=False)
        if mean >= high:
            raise s.error(s.key("mean"), f"must be below {high}; got {mean!r}")
        sd = s.number("sd", 0.0, (high - low) / 2, low_inclusive=False)
        loading = s.number("loading", -0.99, 0.99)
        s.finish()
        scales.append(Scale(name, mean, sd, loading))
    m = t.table("psychoactive")
    prevalence = m.number("prevalence", 0.0, 1.0, low_inclusive=False)
    if prevalence >= 1.0:
        raise m.error(m.key("prevalence"), f"must be below 1; got {prevalence!r}")
    medication = Medication(prevalence, m.number("loading", -0.99, 0.99))
    m.finish()
    t.finish()
    return tuple(scales), medication


def _correlation(t: _Table) -> Correlation:
    c = Correlation(
        pain_loading=t.number("pain_loading", -0.99, 0.99),
        pain_within=t.number("pain_within", 0.0, 0.99),
        rmdq_loading=t.number("rmdq_loading", -0.99, 0.99),
        rmdq_within=t.number("rmdq_within", 0.0, 0.99),
        pain_rmdq_person=t.number("pain_rmdq_person", -1.0, 1.0),
        pain_rmdq_visit=t.number("pain_rmdq_visit", -1.0, 1.0),
    )
    for k in ("pain", "rmdq"):
        loading, within = getattr(c, f"{k}_loading"), getattr(c, f"{k}_within")
        if loading**2 > within:
            raise t.error(
                t.key(f"{k}_within"),
                f"must be at least {k}_loading^2 = {loading**2:.4g} (the common factor alone "
                f"correlates visits that much); got {within!r}",
            )
    t.finish()
    return c


def _followup(t: _Table, design: Design) -> FollowUp:
    counts: dict[str, list[tuple[int, ...]]] = {"pain": [], "rmdq": []}
    for arm, n in zip(design.arms, design.n_per_arm, strict=True):
        a = t.table(arm)
        for outcome in counts:
            values = a.integers(outcome, len(design.weeks), 0, n)
            if values[0] != n:
                raise a.error(
                    f"{a.key(outcome)}[0]",
                    f"must equal the arm size {n} (no missing baseline); got {values[0]!r}",
                )
            counts[outcome].append(values)
        for k, (p, r) in enumerate(zip(counts["pain"][-1], counts["rmdq"][-1], strict=True)):
            if p < r:
                raise a.error(
                    f"{a.key('pain')}[{k}]",
                    f"must be at least rmdq[{k}] = {r} (RMDQ is missing whenever pain is); "
                    f"got {p!r}",
                )
        a.finish()
    t.finish()
    pain, rmdq = counts["pain"], counts["rmdq"]
    return FollowUp((pain[0], pain[1]), (rmdq[0], rmdq[1]))


def _missingness(t: _Table) -> Missingness:
    m = Missingness(
        pain_baseline=t.number("pain_baseline", -5.0, 5.0),
        rmdq_baseline=t.number("rmdq_baseline", -5.0, 5.0),
        age=t.number("age", -5.0, 5.0),
    )
    t.finish()
    return m


def _effect_modification(value: Any, design: Design, where: str) -> tuple[EffectModification, ...]:
    if not isinstance(value, list):
        raise DataValidationError(
            f"{where}: key 'effect_modification' must be an array of tables; got {value!r}"
        )
    out: list[EffectModification] = []
    for k, entry in enumerate(value):
        t = _Table(entry, f"effect_modification[{k}]", where)
        modifier = t.text("modifier")
        if modifier not in MODIFIERS:
            raise t.error(
                t.key("modifier"), f"must be one of {', '.join(MODIFIERS)}; got {modifier!r}"
            )
        outcome = t.text("outcome")
        if outcome not in OUTCOMES:
            raise t.error(t.key("outcome"), f"must be one of pain, rmdq; got {outcome!r}")
        week = t.integer("week")
        if week not in design.weeks[1:]:
            raise t.error(
                t.key("week"), f"must be a follow-up week {list(design.weeks[1:])}; got {week!r}"
            )
        if any(e.outcome == outcome and e.week == week for e in out):
            raise t.error(
                t.key("week"),
                f"repeats {outcome} at week {week}; one modifier per outcome and week",
            )
        per_point = t.number("per_point")
        t.finish()
        out.append(EffectModification(modifier, outcome, week, per_point))
    return tuple(out)


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
        message names the key and the value.
    """
    top = _Table(data, "", source)
    meta = top.table("scenario")
    name, description = meta.text("name"), meta.text("description")
    meta.finish()
    design = _design(top.table("design"))
    demographics = _demographics(top.table("demographics"))
    pain = _outcome(top.table("pain"), "pain", design, 0.0, 10.0)
    rmdq = _outcome(top.table("rmdq"), "rmdq", design, 0.0, 24.0)
    scales, medication = _modifiers(top.table("modifiers"))
    correlation = _correlation(top.table("correlation"))
    followup = _followup(top.table("followup"), design)
    missingness = _missingness(top.table("missingness"))
    effects: tuple[EffectModification, ...] = ()
    if "effect_modification" in top.data:
        effects = _effect_modification(top.raw("effect_modification"), design, source)
    top.finish()
    return Scenario(
        name=name,
        description=description,
        design=design,
        demographics=demographics,
        pain=pain,
        rmdq=rmdq,
        scales=scales,
        psychoactive=medication,
        correlation=correlation,
        followup=followup,
        missingness=missingness,
        effect_modification=effects,
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
