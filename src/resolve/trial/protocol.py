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
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeAlias

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


# ----------------------------------------------------------------------------- parsing
def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise DataValidationError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(allowed)}"
        )


def _table(raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Any:
    if key not in raw:
        if required:
            raise DataValidationError(f"{where}: missing table [{key}]")
        return {}
    value = raw[key]
    if not isinstance(value, dict):
        raise DataValidationError(f"{where}: [{key}] must be a table; got {value!r}")
    return value


def _str(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    if key not in table:
        if default is None:
            raise DataValidationError(f"{where}: missing key {key!r}")
        return default
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise DataValidationError(f"{where}: {key!r} must be a non-empty string; got {value!r}")
    return value


def _int(
    table: Mapping[str, Any], key: str, where: str, default: int | None = None, *, low: int = 0
) -> int:
    if key not in table:
        if default is None:
            raise DataValidationError(f"{where}: missing key {key!r}")
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataValidationError(f"{where}: {key!r} must be an integer; got {value!r}")
    if value < low:
        raise DataValidationError(f"{where}: {key!r} must be >= {low}; got {value!r}")
    return value


def _float(table: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    if key not in table:
        if default is None:
            raise DataValidationError(f"{where}: missing key {key!r}")
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataValidationError(f"{where}: {key!r} must be a finite number; got {value!r}")
    return float(value)


def _str_list(
    table: Mapping[str, Any], key: str, where: str, default: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    if key not in table:
        if default is None:
            raise DataValidationError(f"{where}: missing key {key!r}")
        return default
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DataValidationError(
            f"{where}: {key!r} must be a list of non-empty strings; got {value!r}"
        )
    dup = sorted({v for v in value if value.count(v) > 1})
    if dup:
        raise DataValidationError(f"{where}: {key!r} lists {', '.join(map(repr, dup))} twice")
    return tuple(value)


def _choice(value: str, allowed: tuple[str, ...], where: str, key: str) -> str:
    if value not in allowed:
        raise DataValidationError(
            f"{where}: {key!r} must be one of {', '.join(allowed)}; got {value!r}"
        )
    return value


def _array_of_tables(raw: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    if key not in raw:
        raise DataValidationError(f"{where}: missing [[{key}]] entries")
    value = raw[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise DataValidationError(f"{where}: [[{key}]] must be one or more tables; got {value!r}")
    return value


def _parse_arms(raw: Mapping[str, Any], source: str) -> tuple[Arm, ...]:
    arms = []
    for k, a in enumerate(_array_of_tables(raw, "arms", source)):
        w = f"{source} [[arms]] #{k + 1}"
        _check_keys(a, ("name", "ratio"), w)
        arms.append(Arm(_str(a, "name", w), _int(a, "ratio", w, 1, low=1)))
    names = [a.name for a in arms]
    if len(arms) < 2:
        raise DataValidationError(f"{source} [[arms]]: a trial needs at least two arms")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataValidationError(f"{source} [[arms]]: arm name(s) {', '.join(dup)} repeated")
    return tuple(arms)


def _parse_factors(raw: Mapping[str, Any], source: str) -> tuple[Factor, ...]:
    table = _table(raw, "factors", source, required=False)
    w = f"{source} [factors]"
    return tuple(Factor(name, _str_list(table, name, w)) for name in table) if table else ()


def _check_levels(factors: tuple[Factor, ...], where: str) -> None:
    for f in factors:
        if not f.levels:
            raise DataValidationError(f"{where}: factor {f.name!r} needs at least one level")


_RANDOMISATION_KEYS = (
    "method",
    "strata",
    "block_sizes",
    "list_length_per_stratum",
    "minimisation_factors",
    "minimisation_weights",
    "minimisation_p",
    "initial_random",
    "imbalance",
)


def _parse_randomisation(
    raw: Mapping[str, Any], source: str, arms: tuple[Arm, ...], factors: tuple[Factor, ...]
) -> tuple[tuple[str, ...], RandomisationSpec]:
    r = _table(raw, "randomisation", source)
    w = f"{source} [randomisation]"
    _check_keys(r, _RANDOMISATION_KEYS, w)
    method = _choice(_str(r, "method", w), ("blocks", "minimisation"), w, "method")
    known = tuple(f.name for f in factors)
    strata = _str_list(r, "strata", w, ())
    min_factors = _str_list(r, "minimisation_factors", w, ())
    for key, names in (("strata", strata), ("minimisation_factors", min_factors)):
        for n in names:
            if n not in known:
                raise DataValidationError(
                    f"{w}: {key!r} names factor {n!r}, which [factors] does not define "
                    f"(defined: {', '.join(known) or 'none'})"
                )
    total = sum(a.ratio for a in arms)
    sizes_raw = r.get("block_sizes", [])
    if not isinstance(sizes_raw, list) or any(
        isinstance(s, bool) or not isinstance(s, int) for s in sizes_raw
    ):
        raise DataValidationError(
            f"{w}: 'block_sizes' must be a list of integers; got {sizes_raw!r}"
        )
    sizes = tuple(sizes_raw)
    bad = [s for s in sizes if s <= 0 or s % total]
    if bad:
        raise DataValidationError(
            f"{w}: 'block_sizes' {', '.join(map(str, bad))} not a positive multiple of the sum "
            f"of arm ratios ({total})"
        )
    if len(set(sizes)) != len(sizes):
        raise DataValidationError(f"{w}: 'block_sizes' repeats a size ({list(sizes)})")
    length = _int(r, "list_length_per_stratum", w, 0, low=0)
    weights_raw = r.get("minimisation_weights", [])
    if not isinstance(weights_raw, list) or any(
        isinstance(x, bool) or not isinstance(x, int | float) or not x > 0 for x in weights_raw
    ):
        raise DataValidationError(
            f"{w}: 'minimisation_weights' must be a list of positive numbers; got {weights_raw!r}"
        )
    weights = tuple(float(x) for x in weights_raw)
    if weights and len(weights) != len(min_factors):
        raise DataValidationError(
            f"{w}: 'minimisation_weights' has {len(weights)} values for "
            f"{len(min_factors)} minimisation_factors"
        )
    p = _float(r, "minimisation_p", w, 0.8)
    if not 0.5 <= p <= 1.0:
        raise DataValidationError(f"{w}: 'minimisation_p' must be in [0.5, 1]; got {p!r}")
    spec = RandomisationSpec(
        method=method,  # type: ignore[arg-type]
        block_sizes=sizes,
        list_length_per_stratum=length,
        minimisation_factors=min_factors,
        minimisation_p=p,
        initial_random=_int(r, "initial_random", w, 0, low=0),
        imbalance=_choice(_str(r, "imbalance", w, "range"), ("range", "variance"), w, "imbalance"),  # type: ignore[arg-type]
        minimisation_weights=weights,
    )
    if method == "blocks":
        if not sizes:
            raise DataValidationError(f"{w}: method 'blocks' needs 'block_sizes'")
        if length < 1:
            raise DataValidationError(f"{w}: method 'blocks' needs 'list_length_per_stratum' >= 1")
    elif not min_factors:
        raise DataValidationError(f"{w}: method 'minimisation' needs 'minimisation_factors'")
    return strata, spec


_VISIT_KEYS = ("name", "week", "window_before_days", "window_after_days", "instruments", "kind")


def _parse_visits(raw: Mapping[str, Any], source: str) -> tuple[VisitSpec, ...]:
    from resolve.instruments import available

    known = tuple(i.id for i in available())
    visits: list[VisitSpec] = []
    for k, v in enumerate(_array_of_tables(raw, "visits", source)):
        w = f"{source} [[visits]] #{k + 1}"
        _check_keys(v, _VISIT_KEYS, w)
        name = _str(v, "name", w)
        w = f"{w} ({name})"
        instruments = _str_list(v, "instruments", w, ())
        for i in instruments:
            if i not in known:
                raise DataValidationError(
                    f"{w}: unknown instrument {i!r} in 'instruments'; known: {', '.join(known)}"
                )
        visits.append(
            VisitSpec(
                name=name,
                week=_float(v, "week", w),
                window_before_days=_int(v, "window_before_days", w, 0),
                window_after_days=_int(v, "window_after_days", w, 0),
                instruments=instruments,
                kind=_choice(_str(v, "kind", w), VISIT_KINDS, w, "kind"),  # type: ignore[arg-type]
            )
        )
    names = [v.name for v in visits]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataValidationError(f"{source} [[visits]]: visit name(s) {', '.join(dup)} repeated")
    for before, after in itertools.pairwise(visits):
        if after.week < before.week:
            raise DataValidationError(
                f"{source} [[visits]] ({after.name}): visits must be in time order; week "
                f"{after.week:g} comes after {before.name!r} at week {before.week:g}"
            )
    kinds = [v.kind for v in visits]
    if kinds.count("baseline") != 1:
        raise DataValidationError(
            f"{source} [[visits]]: exactly one visit must have kind 'baseline'; "
            f"found {kinds.count('baseline')}"
        )
    if kinds.count("screening") > 1:
        raise DataValidationError(f"{source} [[visits]]: at most one 'screening' visit")
    return tuple(visits)


def _parse_eligibility(raw: Mapping[str, Any], source: str) -> EligibilitySpec:
    e = _table(raw, "eligibility", source)
    w = f"{source} [eligibility]"
    _check_keys(e, ("age_min", "age_max", "duration_weeks_min", "pain_min", "exclusions"), w)
    age_min = _int(e, "age_min", w, 18)
    age_max = _int(e, "age_max", w, 70)
    if age_max < age_min:
        raise DataValidationError(f"{w}: 'age_max' {age_max} is below 'age_min' {age_min}")
    duration = _float(e, "duration_weeks_min", w, 12.0)
    if duration < 0:
        raise DataValidationError(f"{w}: 'duration_weeks_min' must be >= 0; got {duration:g}")
    pain_min = _int(e, "pain_min", w, 3)
    if pain_min > 10:
        raise DataValidationError(f"{w}: 'pain_min' must be in 0-10; got {pain_min}")
    exclusions = []
    raw_excl = e.get("exclusions", [])
    if not isinstance(raw_excl, list) or not all(isinstance(x, dict) for x in raw_excl):
        raise DataValidationError(f"{w}: 'exclusions' must be [[eligibility.exclusions]] tables")
    for k, x in enumerate(raw_excl):
        wx = f"{source} [[eligibility.exclusions]] #{k + 1}"
        _check_keys(x, ("name", "label"), wx)
        name = _str(x, "name", wx)
        if not name.replace("_", "").replace("-", "").isalnum() or name != name.lower():
            raise DataValidationError(
                f"{wx}: 'name' must be lower-case letters, digits, '_' or '-'; got {name!r}"
            )
        exclusions.append(Exclusion(name, _str(x, "label", wx)))
    names = [x.name for x in exclusions]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataValidationError(f"{w}: exclusion name(s) {', '.join(dup)} repeated")
    return EligibilitySpec(age_min, age_max, duration, pain_min, tuple(exclusions))


def _parse(raw: Mapping[str, Any], source: str) -> Protocol:
    _check_keys(raw, ("trial", "arms", "factors", "randomisation", "visits", "eligibility"), source)
    t = _table(raw, "trial", source)
    wt = f"{source} [trial]"
    _check_keys(t, ("name", "version", "consent_versions"), wt)
    consent = _str_list(t, "consent_versions", wt)
    if not consent:
        raise DataValidationError(f"{wt}: 'consent_versions' must name at least one version")
    arms = _parse_arms(raw, source)
    factors = _parse_factors(raw, source)
    _check_levels(factors, f"{source} [factors]")
    strata, randomisation = _parse_randomisation(raw, source, arms, factors)
    return Protocol(
        name=_str(t, "name", wt),
        version=_str(t, "version", wt),
        arms=arms,
        strata=strata,
        randomisation=randomisation,
        visits=_parse_visits(raw, source),
        eligibility=_parse_eligibility(raw, source),
        consent_versions=consent,
        source=source,
        factors=factors,
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
    """Parse and validate protocol TOML ``text``; errors name ``source`` and the key."""
    return _parse(parse_toml(text, source), source)
