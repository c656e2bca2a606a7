"""File schema of a trial protocol: one pydantic model per TOML table, and the caps.

Private to :mod:`resolve.trial.protocol`, which re-exports the limit constants
(``MAX_*``, :data:`FACTOR_NAME_PATTERN`, :data:`LEVEL_PATTERN`) and the type aliases
defined here, and turns a validated :class:`_ProtocolFile` into its frozen dataclasses.
Every rule raises :class:`~resolve._schema.SchemaError` naming the table and key;
:func:`resolve._schema.validate` adds the file name and raises
:class:`~resolve.errors.DataValidationError`.

Examples
--------
>>> from importlib import resources
>>> from resolve._schema import validate
>>> from resolve._validation import parse_toml
>>> text = resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text()
>>> f = validate(_ProtocolFile, parse_toml(text, "resolve.toml"), "resolve.toml")
>>> [a.name for a in f.arms], f.randomisation.method, MAX_ARMS
(['sham', 'resolve'], 'blocks', 26)
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Annotated, Any, Literal, Self, TypeAlias

from pydantic import BeforeValidator, Field, field_validator, model_validator

from resolve._schema import SchemaError, Table, Text, Unique, between
from resolve.errors import DataValidationError
from resolve.trial.ids import (
    DEFAULT_ID_PATTERN,
    MAX_ID_LENGTH,
    compile_id_pattern,
    id_problem,
    safe_repr,
)

VisitKind: TypeAlias = Literal["screening", "baseline", "session", "follow-up"]
VISIT_KINDS: tuple[str, ...] = ("screening", "baseline", "session", "follow-up")
RandomisationMethod: TypeAlias = Literal["blocks", "minimisation"]
ImbalanceFunction: TypeAlias = Literal["range", "variance"]

# ----------------------------------------------------------------------------- limits
# Checked by parse_protocol, before the service writes anything: each bounds what one
# file can make the service generate, store or show.

#: Most arms (``[[arms]]`` entries): one letter each, A-Z, is plenty for any trial.
MAX_ARMS = 26
#: Most prognostic factors (keys of ``[factors]``).
MAX_FACTORS = 20
#: Most levels of one factor.
MAX_LEVELS = 100
#: Most strata: the product of the numbers of levels of the ``strata`` factors. One
#: sealed list is generated and stored per stratum at ``resolve trial init``.
MAX_STRATA = 1_000
#: Largest ``list_length_per_stratum`` (entries of one sealed list).
MAX_LIST_LENGTH = 10_000
#: Most sealed entries in all (strata x ``list_length_per_stratum``, blocks method):
#: what ``resolve trial init`` generates and writes in one transaction.
MAX_SEQUENCE_ENTRIES = 100_000
#: Longest factor name, level, arm name, visit name or consent version, in characters
#: (the database columns holding them are 64 wide).
MAX_NAME_LENGTH = MAX_ID_LENGTH
#: Longest trial name (``[trial] name``), in characters.
MAX_TRIAL_NAME_LENGTH = 200
#: Factor names: a letter, then letters, digits, ``_`` or ``-`` (64 at most). They are
#: TOML keys and the ``NAME`` of ``--factor NAME=LEVEL``.
FACTOR_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_-]{0,63}"
#: Factor levels: the participant-id rule (1-64 ASCII letters, digits, ``.``, ``_`` or
#: ``-``). Levels of ``site`` become site codes.
LEVEL_PATTERN = DEFAULT_ID_PATTERN
# Names shown to people (arms, visits, consent versions): any text within the limits of
# the id rule (no control or invisible character, no leading or trailing whitespace).
_ANY_TEXT = r"(?s).+"


# ----------------------------------------------------------------------------- file schema
# One pydantic model per TOML table (see resolve._schema): unknown keys are refused with
# the nearest valid key, types are strict, and every rule names the table and key.
_Names = Annotated[list[Text], Unique()]
_Count = Annotated[int, between(0)]


def _name(value: str, limit: int = MAX_NAME_LENGTH) -> str:
    """Refuse a name longer than ``limit``; names of up to 64 characters (arms, visits,
    consent versions) must also be free of control and invisible characters and of
    leading or trailing whitespace (the id rule, with any pattern)."""
    if len(value) > limit:
        problem: str | None = f"too long ({len(value)} characters; at most {limit})"
    else:
        problem = id_problem(value, _ANY_TEXT) if limit <= MAX_ID_LENGTH else None
    if problem is not None:
        raise SchemaError(f"{problem}; got {safe_repr(value)}")
    return value


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


def _iso_date(value: Any) -> dt.date:
    """A TOML date (``2015-12-10``) or an ISO date string (``"2015-12-10"``); never a time."""
    if isinstance(value, dt.datetime | dt.time):
        raise SchemaError(f"must be a date without a time (YYYY-MM-DD); got {value.isoformat()}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10 and value[4] == value[7] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise SchemaError(f"must be a date (YYYY-MM-DD, e.g. 2015-12-10); got {safe_repr(value)}")


#: A calendar date: a TOML local date or an ISO 8601 date string.
_Date = Annotated[dt.date, BeforeValidator(_iso_date)]


class _TrialTable(Table):
    name: Text
    version: Text
    consent_versions: _Names
    participant_id_pattern: str = DEFAULT_ID_PATTERN
    target_sample_size: Annotated[int, between(1)] | None = None
    recruitment_start: _Date | None = None
    recruitment_end: _Date | None = None

    @model_validator(mode="after")
    def _period(self) -> Self:
        start, end = self.recruitment_start, self.recruitment_end
        if start is not None and end is not None and end <= start:
            raise SchemaError(
                f"must be after 'recruitment_start' ({start.isoformat()}); got {end.isoformat()}",
                "recruitment_end",
            )
        return self

    @field_validator("name")
    @classmethod
    def _trial_name(cls, value: str) -> str:
        return _name(value, MAX_TRIAL_NAME_LENGTH)

    @field_validator("consent_versions")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise SchemaError("must name at least one version")
        for k, v in enumerate(value):
            try:
                _name(v)
            except SchemaError as exc:
                raise SchemaError(exc.message, k) from None
        return value

    @field_validator("participant_id_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            compile_id_pattern(value)
        except DataValidationError as exc:
            raise SchemaError(str(exc)) from None
        return value


class _ArmTable(Table):
    name: Text
    ratio: Annotated[int, between(1)] = 1

    @field_validator("name")
    @classmethod
    def _arm_name(cls, value: str) -> str:
        return _name(value)


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
        length = self.list_length_per_stratum
        if length > MAX_LIST_LENGTH:
            raise SchemaError(
                f"{length} is more than the maximum, {MAX_LIST_LENGTH}", "list_length_per_stratum"
            )
        weights, factors = self.minimisation_weights, self.minimisation_factors
        if weights and len(weights) != len(factors):
            raise SchemaError(
                f"has {len(weights)} values for {len(factors)} minimisation_factors",
                "minimisation_weights",
            )
        if self.method == "blocks":
            if not self.block_sizes:
                raise SchemaError("method 'blocks' needs 'block_sizes'")
            if length < 1:
                raise SchemaError("method 'blocks' needs 'list_length_per_stratum' >= 1")
            large = [s for s in self.block_sizes if s > length]
            if large:
                verb = "is" if len(large) == 1 else "are"
                raise SchemaError(
                    f"{', '.join(map(str, large))} {verb} larger than list_length_per_stratum "
                    f"({length})",
                    "block_sizes",
                )
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

    @field_validator("name")
    @classmethod
    def _visit_name(cls, value: str) -> str:
        return _name(value)

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

    @field_validator("factors")
    @classmethod
    def _factors(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if len(value) > MAX_FACTORS:
            extra = list(value)[MAX_FACTORS]
            raise SchemaError(f"{len(value)} factors defined; at most {MAX_FACTORS}", extra)
        for name, levels in value.items():
            problem = id_problem(name, FACTOR_NAME_PATTERN)
            if problem is not None:
                raise SchemaError(f"factor name {safe_repr(name)}: {problem}", name)
            if len(levels) > MAX_LEVELS:
                raise SchemaError(f"has {len(levels)} levels; at most {MAX_LEVELS}", name)
            for level in levels:
                problem = id_problem(level, LEVEL_PATTERN)
                if problem is not None:
                    raise SchemaError(f"level {safe_repr(level)}: {problem}", name)
        return value

    @model_validator(mode="after")
    def _cross_table(self) -> Self:
        if len(self.arms) < 2:
            raise SchemaError(f"must list at least two arms; got {len(self.arms)}", "arms")
        if len(self.arms) > MAX_ARMS:
            raise SchemaError(f"must list at most {MAX_ARMS} arms; got {len(self.arms)}", "arms")
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
        counts = {n: len(self.factors[n]) for n in r.strata}
        strata = math.prod(counts.values())
        if strata > MAX_STRATA:
            sizes = " x ".join(f"{n} {k}" for n, k in counts.items())
            raise SchemaError(
                f"{strata} strata ({sizes} levels); at most {MAX_STRATA}",
                "randomisation",
                "strata",
            )
        entries = strata * r.list_length_per_stratum
        if r.method == "blocks" and entries > MAX_SEQUENCE_ENTRIES:
            raise SchemaError(
                f"{strata} strata x {r.list_length_per_stratum} entries = {entries} sealed "
                f"entries; at most {MAX_SEQUENCE_ENTRIES}",
                "randomisation",
                "list_length_per_stratum",
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
