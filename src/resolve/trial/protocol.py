"""Trial protocols: one declarative file drives arms, randomisation, visits and eligibility.

A protocol (TOML) names the trial's arms and allocation ratio, the prognostic factors
and which of them stratify or minimise, the randomisation method, every visit with its
target week, window and instruments, the eligibility rules and the consent versions in
use. The RESOLVE protocol ships as the default (``protocols/resolve.toml``); another
trial runs with its own file of the same shape (see ``docs/trial-protocol.md``).

Every problem in a file raises :class:`~resolve.errors.DataValidationError` naming the
file, the table and the key. Sizes are capped (:data:`MAX_ARMS`, :data:`MAX_FACTORS`,
:data:`MAX_LEVELS`, :data:`MAX_STRATA`, :data:`MAX_LIST_LENGTH`,
:data:`MAX_SEQUENCE_ENTRIES`, :data:`MAX_NAME_LENGTH`) and checked here, when the file is
read, so that a protocol the service cannot run is refused before anything is written.
The file schema that does the checking (one pydantic model per TOML table, and the
caps) lives in the private ``resolve.trial._protocol_schema``; this module re-exports
its constants and builds the frozen dataclasses below from a validated file.

Examples
--------
>>> p = load_protocol()
>>> p.name, [a.name for a in p.arms], p.randomisation.method, p.randomisation.block_sizes
('RESOLVE', ['sham', 'resolve'], 'blocks', (2, 4, 6))
>>> p.visit("week 18").week, p.strata_levels
(18.0, {'site': ('sydney',)})
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from resolve._schema import validate
from resolve._validation import parse_toml
from resolve.errors import DataValidationError
from resolve.trial._protocol_schema import (
    FACTOR_NAME_PATTERN,
    LEVEL_PATTERN,
    MAX_ARMS,
    MAX_FACTORS,
    MAX_LEVELS,
    MAX_LIST_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SEQUENCE_ENTRIES,
    MAX_STRATA,
    MAX_TRIAL_NAME_LENGTH,
    VISIT_KINDS,
    ImbalanceFunction,
    RandomisationMethod,
    VisitKind,
    _ProtocolFile,
)
from resolve.trial.ids import DEFAULT_ID_PATTERN, validate_participant_id

__all__ = [
    "FACTOR_NAME_PATTERN",
    "LEVEL_PATTERN",
    "MAX_ARMS",
    "MAX_FACTORS",
    "MAX_LEVELS",
    "MAX_LIST_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_SEQUENCE_ENTRIES",
    "MAX_STRATA",
    "MAX_TRIAL_NAME_LENGTH",
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
    its levels. ``participant_id_pattern`` is the rule participant ids must match
    (``[trial] participant_id_pattern``; see :meth:`check_participant_id`).
    ``target_sample_size`` is the number of participants to randomise, and
    ``recruitment_start`` / ``recruitment_end`` the planned recruitment period
    (all optional; the trial dashboard measures recruitment against them).
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
    participant_id_pattern: str = DEFAULT_ID_PATTERN
    target_sample_size: int | None = None
    recruitment_start: date | None = None
    recruitment_end: date | None = None

    def check_participant_id(self, value: object) -> str:
        """``value`` checked against this protocol's participant-id rule, in NFC.

        See :func:`resolve.trial.ids.validate_participant_id`.

        Examples
        --------
        >>> load_protocol().check_participant_id("P001")
        'P001'
        """
        return validate_participant_id(value, pattern=self.participant_id_pattern)

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
        participant_id_pattern=f.trial.participant_id_pattern,
        target_sample_size=f.trial.target_sample_size,
        recruitment_start=f.trial.recruitment_start,
        recruitment_end=f.trial.recruitment_end,
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
        multiple of the sum of ratios or is larger than ``list_length_per_stratum``,
        a negative window, a ``participant_id_pattern`` that is not a regular
        expression, a factor name or level outside :data:`FACTOR_NAME_PATTERN` /
        :data:`LEVEL_PATTERN`, a name longer than :data:`MAX_NAME_LENGTH`, a
        ``recruitment_end`` not after ``recruitment_start``, or a size
        above a cap (:data:`MAX_ARMS`, :data:`MAX_FACTORS`, :data:`MAX_LEVELS`,
        :data:`MAX_STRATA`, :data:`MAX_LIST_LENGTH`, :data:`MAX_SEQUENCE_ENTRIES`).

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

    Every rule and cap of :func:`load_protocol` is checked here, so a caller that
    parses first (the service, before ``resolve trial init`` writes anything) never
    starts on a protocol it cannot run.

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
    >>> big = text.replace("block_sizes = [2, 4, 6]", "block_sizes = [2, 600]")
    >>> try:
    ...     parse_protocol(big, "mine.toml")
    ... except DataValidationError as exc:
    ...     print(exc)
    mine.toml: [randomisation] 'block_sizes': 600 is larger than list_length_per_stratum (400)
    """
    return _build(validate(_ProtocolFile, parse_toml(text, source), source), source)
