"""Trial protocols: one declarative file drives arms, randomisation, visits and eligibility.

A protocol (TOML) names the trial's arms and allocation ratio, the prognostic factors
and which of them stratify or minimise, the randomisation method, every visit with its
target week, window and instruments, the eligibility rules and the consent versions in
use. The RESOLVE protocol ships as the default (``protocols/resolve.toml``); another
trial runs with its own file of the same shape (see ``docs/trial-protocol.md``).

Every problem in a file raises :class:`~resolve.errors.DataValidationError` naming the
file, the table and the key.

Examples
--------
>>> p = load_protocol()
>>> p.name, [a.name for a in p.arms], p.randomisation.method, p.randomisation.block_sizes
('RESOLVE', ['sham', 'resolve'], 'blocks', (2, 4, 6))
>>> p.visit("week 18").week, p.strata_levels
(18.0, {'site': ('sydney',)})
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self, TypeAlias

from pydantic import Field, field_validator, model_validator

from resolve._schema import SchemaError, Table, Text, Unique, between, validate
from resolve._validation import parse_toml
from resolve.errors import DataValidationError

__all__ = [
    "VISIT_KINDS",
    "Arm",
    "EligibilitySpec",
    "Exclusion",
    "Factor",
    "Protocol",
    "RandomisationSpec",
    "VisitKind",
    "VisitSpec",
    "load_protocol",
    "parse_protocol",
]

VisitKind: TypeAlias = Literal["screening", "baseline", "session", "follow-up"]
VISIT_KINDS: tuple[str, ...] = ("screening", "baseline", "session", "follow-up")
RandomisationMethod: TypeAlias = Literal["blocks", "minimisation"]
ImbalanceFunction: TypeAlias = Literal["range", "variance"]


@dataclass(frozen=True)
class Arm:
    """A trial arm and its integer allocation ratio (1:1 -> both ratios 1)."""

    name: str
    ratio: int = 1


@dataclass(frozen=True)
class Factor:
    """A prognostic factor (site or a protocol factor) and its allowed levels."""

    name: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class RandomisationSpec:
    """How allocations are made.

    Attributes
    ----------
    method : {"blocks", "minimisation"}
        Permuted blocks of random sizes within strata, or Pocock-Simon minimisation.
    block_sizes : tuple of int
        Sizes drawn at random per block; each a multiple of the sum of arm ratios.
    list_length_per_stratum : int
        Length of the sealed list generated for each stratum (blocks method).
    minimisation_factors : tuple of str
        Factors whose marginal balance minimisation keeps (minimisation method).
    minimisation_p : float
        Probability of allocating the minimising arm, in [0.5, 1].
    initial_random : int
        Number of first allocations made by simple (ratio-weighted) randomisation
        before minimisation starts.
    imbalance : {"range", "variance"}
        Imbalance function of ratio-adjusted counts across arms.
    minimisation_weights : tuple of float
        One weight per minimisation factor (all 1.0 by default).
    """

    method: RandomisationMethod
    block_sizes: tuple[int, ...] = ()
    list_length_per_stratum: int = 0
    minimisation_factors: tuple[str, ...] = ()
    minimisation_p: float = 0.8
    initial_random: int = 0
    imbalance: ImbalanceFunction = "range"
    minimisation_weights: tuple[float, ...] = ()

    @property
    def weights(self) -> tuple[float, ...]:
        """Weight of each minimisation factor (equal weights when none were given)."""
        return self.minimisation_weights or (1.0,) * len(self.minimisation_factors)


@dataclass(frozen=True)
class VisitSpec:
    """One visit: target week after randomisation, window in days, instruments."""

    name: str
    week: float
    window_before_days: int
    window_after_days: int
    instruments: tuple[str, ...]
    kind: VisitKind


@dataclass(frozen=True)
class Exclusion:
    """A named exclusion criterion (``name`` is what ``--exclusion`` takes)."""

    name: str
    label: str


@dataclass(frozen=True)
class EligibilitySpec:
    """Inclusion thresholds (all bounds inclusive) and the exclusion criteria."""

    age_min: int = 18
    age_max: int = 70
    duration_weeks_min: float = 12.0
    pain_min: int = 3
    exclusions: tuple[Exclusion, ...] = ()

    def exclusion(self, name: str) -> Exclusion:
        """The exclusion called ``name``."""
        for e in self.exclusions:
            if e.name == name:
                return e
        known = ", ".join(e.name for e in self.exclusions) or "(none)"
        raise DataValidationError(f"unknown exclusion {name!r}; known: {known}")


@dataclass(frozen=True)
class Protocol:
    """A validated trial protocol (see :func:`load_protocol`).

    ``factors`` lists every prognostic factor with its levels; ``strata`` names the
    factors that stratify the block lists. :attr:`strata_levels` maps each factor to
    its levels.
    """

    name: str
    version: str
    arms: tuple[Arm, ...]
    strata: tuple[str, ...]
    randomisation: RandomisationSpec
    visits: tuple[VisitSpec, ...]
    eligibility: EligibilitySpec
    consent_versions: tuple[str, ...]
    source: str = "<default>"
    factors: tuple[Factor, ...] = ()

    @property
    def strata_levels(self) -> dict[str, tuple[str, ...]]:
        """Every factor (strata and minimisation factors) mapped to its allowed levels."""
        return {f.name: f.levels for f in self.factors}

    @property
    def arm_names(self) -> tuple[str, ...]:
        """Arm names in file order."""
        return tuple(a.name for a in self.arms)

    @property
    def allocation_factors(self) -> tuple[str, ...]:
        """Factors a participant needs a level of to be randomised (strata first)."""
        return tuple(dict.fromkeys((*self.strata, *self.randomisation.minimisation_factors)))

    @property
    def instruments(self) -> tuple[str, ...]:
        """Every instrument id used at any visit, in order of first use."""
        return tuple(dict.fromkeys(i for v in self.visits for i in v.instruments))

    def visit(self, name: str) -> VisitSpec:
        """The visit called ``name``."""
        for v in self.visits:
            if v.name == name:
                return v
        raise DataValidationError(
            f"protocol {self.source}: unknown visit {name!r}; "
            f"known: {', '.join(v.name for v in self.visits)}"
        )


# ----------------------------------------------------------------------------- file schema
# One pydantic model per TOML table (see resolve._schema): unknown keys are refused with
# the nearest valid key, types are strict, and every rule names the table and key.
_Names = Annotated[list[Text], Unique()]
_Count = Annotated[int, between(0)]


def _repeated(names: list[str], table: str, what: str) -> None:
    """Refuse a name used twice in an array of tables (located at the second use)."""
    for k, name in enumerate(names):
        first = names.index(name)
        if first != k:
            raise SchemaError(
                f"{name!r} also names [[{table}]] #{first + 1}; {what} names must be unique",
                k,
                "name",
            )


class _TrialTable(Table):
    name: Text
    version: Text
    consent_versions: _Names

    @field_validator("consent_versions")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise SchemaError("must name at least one version")
        return value


class _ArmTable(Table):
    name: Text
    ratio: Annotated[int, between(1)] = 1


class _RandomisationTable(Table):
    method: RandomisationMethod
    strata: _Names = Field(default_factory=list)
    block_sizes: list[int] = Field(default_factory=list)
    list_length_per_stratum: _Count = 0
    minimisation_factors: _Names = Field(default_factory=list)
    minimisation_weights: list[Annotated[float, between(0, low_open=True)]] = Field(
        default_factory=list
    )
    minimisation_p: Annotated[float, between(0.5, 1)] = 0.8
    initial_random: _Count = 0
    imbalance: ImbalanceFunction = "range"

    @model_validator(mode="after")
    def _method(self) -> Self:
        if len(set(self.block_sizes)) != len(self.block_sizes):
            raise SchemaError(f"repeats a size ({self.block_sizes})", "block_sizes")
        weights, factors = self.minimisation_weights, self.minimisation_factors
        if weights and len(weights) != len(factors):
            raise SchemaError(
                f"has {len(weights)} values for {len(factors)} minimisation_factors",
                "minimisation_weights",
            )
        if self.method == "blocks":
            if not self.block_sizes:
                raise SchemaError("method 'blocks' needs 'block_sizes'")
            if self.list_length_per_stratum < 1:
                raise SchemaError("method 'blocks' needs 'list_length_per_stratum' >= 1")
        elif not factors:
            raise SchemaError("method 'minimisation' needs 'minimisation_factors'")
        return self


class _VisitTable(Table):
    name: Text
    week: Annotated[float, between()]
    window_before_days: _Count = 0
    window_after_days: _Count = 0
    instruments: _Names = Field(default_factory=list)
    kind: VisitKind

    @field_validator("instruments")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from resolve.instruments import available

        known = tuple(i.id for i in available())
        for i in value:
            if i not in known:
                raise SchemaError(f"unknown instrument {i!r}; known: {', '.join(known)}")
        return value


class _ExclusionTable(Table):
    name: Text
    label: Text

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum() or value != value.lower():
            raise SchemaError(f"must be lower-case letters, digits, '_' or '-'; got {value!r}")
        return value


class _EligibilityTable(Table):
    age_min: _Count = 18
    age_max: _Count = 70
    duration_weeks_min: Annotated[float, between(0)] = 12.0
    pain_min: Annotated[int, between(0, 10)] = 3
    exclusions: list[_ExclusionTable] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.age_max < self.age_min:
            raise SchemaError(
                f"must be at least 'age_min' ({self.age_min}); got {self.age_max}", "age_max"
            )
        try:
            _repeated([x.name for x in self.exclusions], "eligibility.exclusions", "exclusion")
        except SchemaError as exc:
            raise SchemaError(exc.message, "exclusions", *exc.loc) from None
        return self


class _ProtocolFile(Table):
    trial: _TrialTable
    arms: list[_ArmTable]
    factors: dict[str, _Names] = Field(default_factory=dict)
    randomisation: _RandomisationTable
    visits: list[_VisitTable]
    eligibility: _EligibilityTable

    @model_validator(mode="after")
    def _cross_table(self) -> Self:
        if len(self.arms) < 2:
            raise SchemaError(f"must list at least two arms; got {len(self.arms)}", "arms")
        try:
            _repeated([a.name for a in self.arms], "arms", "arm")
        except SchemaError as exc:
            raise SchemaError(exc.message, "arms", *exc.loc) from None
        for name, levels in self.factors.items():
            if not levels:
                raise SchemaError("needs at least one level", "factors", name)
        r = self.randomisation
        defined = ", ".join(self.factors) or "none"
        for key in ("strata", "minimisation_factors"):
            for n in getattr(r, key):
                if n not in self.factors:
                    raise SchemaError(
                        f"names factor {n!r}, which [factors] does not define (defined: {defined})",
                        "randomisation",
                        key,
                    )
        total = sum(a.ratio for a in self.arms)
        bad = [s for s in r.block_sizes if s <= 0 or s % total]
        if bad:
            raise SchemaError(
                f"{', '.join(map(str, bad))} not a positive multiple of the sum of arm ratios "
                f"({total})",
                "randomisation",
                "block_sizes",
            )
        try:
            _repeated([v.name for v in self.visits], "visits", "visit")
        except SchemaError as exc:
            raise SchemaError(exc.message, "visits", *exc.loc) from None
        for k, (before, after) in enumerate(itertools.pairwise(self.visits)):
            if after.week < before.week:
                raise SchemaError(
                    f"visits must be in time order; got week {after.week:g}, before "
                    f"{before.name!r} (week {before.week:g})",
                    "visits",
                    k + 1,
                    "week",
                )
        kinds = [v.kind for v in self.visits]
        if kinds.count("baseline") != 1:
            raise SchemaError(
                f"exactly one visit must have kind 'baseline'; found {kinds.count('baseline')}",
                "visits",
            )
        if kinds.count("screening") > 1:
            raise SchemaError("at most one 'screening' visit", "visits")
        return self


def _build(f: _ProtocolFile, source: str) -> Protocol:
    """The frozen dataclasses from a validated file."""
    r = f.randomisation
    e = f.eligibility
    return Protocol(
        name=f.trial.name,
        version=f.trial.version,
        arms=tuple(Arm(a.name, a.ratio) for a in f.arms),
        strata=tuple(r.strata),
        randomisation=RandomisationSpec(
            method=r.method,
            block_sizes=tuple(r.block_sizes),
            list_length_per_stratum=r.list_length_per_stratum,
            minimisation_factors=tuple(r.minimisation_factors),
            minimisation_p=r.minimisation_p,
            initial_random=r.initial_random,
            imbalance=r.imbalance,
            minimisation_weights=tuple(r.minimisation_weights),
        ),
        visits=tuple(
            VisitSpec(
                name=v.name,
                week=v.week,
                window_before_days=v.window_before_days,
                window_after_days=v.window_after_days,
                instruments=tuple(v.instruments),
                kind=v.kind,
            )
            for v in f.visits
        ),
        eligibility=EligibilitySpec(
            age_min=e.age_min,
            age_max=e.age_max,
            duration_weeks_min=e.duration_weeks_min,
            pain_min=e.pain_min,
            exclusions=tuple(Exclusion(x.name, x.label) for x in e.exclusions),
        ),
        consent_versions=tuple(f.trial.consent_versions),
        source=source,
        factors=tuple(Factor(name, tuple(levels)) for name, levels in f.factors.items()),
    )


def load_protocol(path: str | Path | None = None) -> Protocol:
    """Load and validate a protocol file (TOML).

    Parameters
    ----------
    path : str or Path, optional
        A protocol file. ``None`` loads the bundled RESOLVE protocol.

    Returns
    -------
    Protocol
        The validated protocol; ``source`` is the file name (or
        ``"resolve.toml (bundled)"``).

    Raises
    ------
    DataValidationError
        The file is not valid TOML, or a table or key is missing, unknown, of the
        wrong type or out of range (message names the file, table and key). Also
        raised, with the same kind of message, for an unknown instrument id, a
        repeated visit or arm name, a ratio below 1, a block size that is not a
        multiple of the sum of ratios, or a negative window.

    Examples
    --------
    >>> p = load_protocol()
    >>> [v.name for v in p.visits if v.kind == "follow-up"]
    ['week 12', 'week 18', 'week 26', 'week 52']
    >>> p.eligibility.age_min, p.eligibility.age_max, p.consent_versions
    (18, 70, ('1.0',))
    """
    if path is None:
        text = (
            resources.files("resolve.trial")
            .joinpath("protocols", "resolve.toml")
            .read_text(encoding="utf-8")
        )
        source = "resolve.toml (bundled)"
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataValidationError(f"{p}: cannot read protocol file ({exc.strerror})") from None
        source = p.name
    return parse_protocol(text, source)


def parse_protocol(text: str, source: str) -> Protocol:
    """Parse and validate protocol TOML ``text``; errors name ``source``, the table and key.

    Examples
    --------
    >>> text = resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text()
    >>> parse_protocol(text, "mine.toml").source
    'mine.toml'
    >>> try:
    ...     parse_protocol(text.replace("[eligibility]", "[eligibilty]"), "mine.toml")
    ... except DataValidationError as exc:
    ...     print(exc)
    mine.toml: unknown key 'eligibilty' (did you mean 'eligibility'?)
    """
    return _build(validate(_ProtocolFile, parse_toml(text, source), source), source)
