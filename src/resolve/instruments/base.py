"""Declarative, frozen definitions of questionnaire instruments.

An :class:`Instrument` says everything the scoring engine needs and nothing it
computes: items and their codes, reverse keying and recoding, scales (total and
subscales), the missing-item rule of each scale, and cut-off classifications
with explicit inclusive/exclusive bounds and a source note. One engine
(:mod:`resolve.instruments.scoring`) scores every instrument.

Licensed item wording is never part of a definition: items carry neutral short
labels only; a site can attach its licensed wording at run time with
:meth:`Instrument.with_wording`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from resolve.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from resolve.instruments.result import ScoreResult

__all__ = [
    "Band",
    "Classification",
    "Condition",
    "Instrument",
    "Item",
    "MissingRule",
    "Scale",
]

Op = Literal["<", "<=", ">", ">="]
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Item:
    """One questionnaire item.

    Parameters
    ----------
    number : int
        Item number as published (1-based); the data column is ``<instrument>_<number>``.
    label : str
        Neutral short label (never licensed wording).
    low, high : int
        Lowest and highest canonical response code (inclusive).
    reverse : bool
        Reverse-keyed: scored as ``(low + high) - code``.
    recode : tuple of int, optional
        Score contributed by each code ``low..high`` (e.g. STarT Back item 9:
        ``(0, 0, 0, 1, 1)``). Applied instead of the raw code.
    scored : bool
        ``False`` for distractor items that are validated but never scored.
    anchors : mapping of int to str
        Neutral anchor labels for some codes (used in FHIR export).
    """

    number: int
    label: str
    low: int
    high: int
    reverse: bool = False
    recode: tuple[int, ...] | None = None
    scored: bool = True
    anchors: Mapping[int, str] = field(default_factory=dict)
    text: str | None = None

    def __post_init__(self) -> None:
        if self.high < self.low:
            raise ValueError(f"item {self.number}: high < low")
        if self.recode is not None and len(self.recode) != self.high - self.low + 1:
            raise ValueError(f"item {self.number}: recode needs one value per code")

    @property
    def codes(self) -> range:
        """The admissible canonical codes."""
        return range(self.low, self.high + 1)

    def value(self, code: int) -> int:
        """Score contributed by canonical ``code`` (after recoding and reversal)."""
        if self.recode is not None:
            return self.recode[code - self.low]
        return self.low + self.high - code if self.reverse else code

    @property
    def value_range(self) -> tuple[int, int]:
        """Smallest and largest scored value of this item."""
        values = [self.value(c) for c in self.codes]
        return min(values), max(values)


@dataclass(frozen=True)
class MissingRule:
    """How a scale handles unanswered items.

    Parameters
    ----------
    max_missing : int
        Largest number of unanswered items for which the scale is still scored;
        with more, the scale score is missing.
    prorate : bool
        For a sum scale: score ``sum(answered) * n_items / n_answered`` when
        items are missing. For a mean scale: whether a mean over fewer items
        counts as prorated (``True``) or is the instrument's own definition
        (``False``, e.g. PSFS activity slots).
    source : str
        Where the rule comes from (a citation, or "project rule" with reason).
    """

    max_missing: int = 0
    prorate: bool = False
    source: str = "all items required"


COMPLETE = MissingRule(0, False, "all items required")


@dataclass(frozen=True)
class Scale:
    """A score computed from items (or from other scales).

    Parameters
    ----------
    name : str
        Output column name (``"total"`` for the total score).
    items : tuple of int
        Item numbers summed or averaged. Empty when ``from_scales`` is used.
    method : {"sum", "mean"}
        Sum or mean of the scored item values.
    missing : MissingRule
        Missing-item rule for this scale.
    multiplier : float
        Applied after summing (DASS-21 x 2 to the DASS-42 metric).
    from_scales : tuple of str
        When given, the scale is the sum of these other scales and is missing
        when any of them is missing.
    """

    name: str
    items: tuple[int, ...] = ()
    method: Literal["sum", "mean"] = "sum"
    missing: MissingRule = COMPLETE
    multiplier: float = 1.0
    from_scales: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Condition:
    """``score op value``, e.g. ``Condition("total", ">", 37)``."""

    score: str
    op: Op
    value: float

    def holds(self, x: Any) -> Any:
        """Evaluate on a scalar or a numpy array (NaN never satisfies)."""
        return _OPS[self.op](x, self.value)

    def __str__(self) -> str:
        return f"{self.score} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Band:
    """A category: its label and the conditions that must all hold."""

    label: str
    conditions: tuple[Condition, ...]

    def __str__(self) -> str:
        return f"{self.label}: " + " and ".join(str(c) for c in self.conditions)


@dataclass(frozen=True)
class Classification:
    """A named cut-off classification: bands tried in order, first match wins.

    Every attainable score must fall in exactly one band (checked by the
    conformance suite); a missing score gives a missing category.
    """

    name: str
    bands: tuple[Band, ...]
    source: str

    def scores_used(self) -> set[str]:
        return {c.score for b in self.bands for c in b.conditions}


@dataclass(frozen=True)
class Instrument:
    """A questionnaire definition scored by the one engine.

    Attributes
    ----------
    id : str
        Identifier with the version in it (``"tsk17"``); data columns are
        ``<id>_<item number>``.
    version : str
        Human-readable version (``"TSK-17"``).
    title : str
        Full name.
    items : tuple of Item
    scales : tuple of Scale
        The first scale is ``total``; the rest are subscales.
    classifications : tuple of Classification
    higher_is : {"worse", "better"}
        Direction of the total score.
    source, licence : str
        Citations and the wording licence status.
    allow_absent_items : bool
        Whether a data frame may omit item columns (PSFS activity slots).
    """

    id: str
    version: str
    title: str
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    classifications: tuple[Classification, ...] = ()
    higher_is: Literal["worse", "better"] = "worse"
    recall: str = ""
    source: str = ""
    licence: str = ""
    allow_absent_items: bool = False
    notes: str = ""

    def __post_init__(self) -> None:
        numbers = [i.number for i in self.items]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"{self.id}: duplicate item numbers")
        if not self.scales or self.scales[0].name != "total":
            raise ValueError(f"{self.id}: the first scale must be 'total'")
        known = set(numbers)
        names = {s.name for s in self.scales}
        item_scales = {s.name for s in self.scales if not s.from_scales}
        for s in self.scales:
            if not set(s.items) <= known:
                raise ValueError(f"{self.id}: scale {s.name} uses unknown items")
            if bool(s.items) == bool(s.from_scales):
                raise ValueError(f"{self.id}: scale {s.name} needs items or from_scales")
            if not set(s.from_scales) <= item_scales:
                raise ValueError(f"{self.id}: scale {s.name} sums unknown item scales")
        for c in self.classifications:
            if not c.scores_used() <= names:
                raise ValueError(f"{self.id}: classification {c.name} uses unknown scores")

    # ------------------------------------------------------------------ facts
    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def code_base(self) -> int:
        """Lowest canonical code of the first item (the instrument's code base)."""
        return self.items[0].low

    def item(self, number: int) -> Item:
        for it in self.items:
            if it.number == number:
                return it
        raise KeyError(number)

    def column(self, number: int) -> str:
        """Data column name of item ``number``."""
        return f"{self.id}_{number}"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.column(i.number) for i in self.items)

    @property
    def scoring_order(self) -> tuple[Scale, ...]:
        """Item-based scales first, then scales summed from them."""
        return tuple(sorted(self.scales, key=lambda s: bool(s.from_scales)))

    @property
    def subscales(self) -> tuple[Scale, ...]:
        return self.scales[1:]

    @property
    def output_columns(self) -> tuple[str, ...]:
        """Columns of a scored table, in order."""
        return (
            *(s.name for s in self.scales),
            "n_missing",
            "prorated",
            *(c.name for c in self.classifications),
        )

    def scale_range(self, scale: Scale | str) -> tuple[float, float]:
        """Attainable range of a scale (ignoring proration)."""
        if isinstance(scale, str):
            scale = next(s for s in self.scales if s.name == scale)
        if scale.from_scales:
            parts = [self.scale_range(n) for n in scale.from_scales]
            return sum(p[0] for p in parts), sum(p[1] for p in parts)
        ranges = [self.item(n).value_range for n in scale.items]
        if scale.method == "mean":
            lo, hi = float(min(r[0] for r in ranges)), float(max(r[1] for r in ranges))
        else:
            lo, hi = float(sum(r[0] for r in ranges)), float(sum(r[1] for r in ranges))
        return lo * scale.multiplier, hi * scale.multiplier

    # ------------------------------------------------------------------ variants
    def with_missing_rule(self, scale: str, rule: MissingRule) -> Instrument:
        """Return a copy whose ``scale`` uses ``rule`` (a statistician's choice)."""
        if scale not in {s.name for s in self.scales}:
            raise DataValidationError(f"{self.id} has no scale {scale!r}")
        scales = tuple(replace(s, missing=rule) if s.name == scale else s for s in self.scales)
        return replace(self, scales=scales)

    def with_wording(self, texts: Mapping[int, str]) -> Instrument:
        """Return a copy whose items carry site-supplied (licensed) wording."""
        unknown = sorted(set(texts) - {i.number for i in self.items})
        if unknown:
            raise DataValidationError(f"{self.id}: wording given for unknown item(s) {unknown}")
        items = tuple(replace(i, text=texts.get(i.number, i.text)) for i in self.items)
        return replace(self, items=items)

    # ------------------------------------------------------------------ scoring
    def score(
        self,
        responses: Any,
        *,
        respondent: object = None,
        code_base: int | None = None,
    ) -> ScoreResult:
        """Score one respondent; see :func:`resolve.instruments.score`."""
        from resolve.instruments.scoring import score_one

        return score_one(self, responses, respondent=respondent, code_base=code_base)

    def score_frame(
        self,
        data: pd.DataFrame,
        *,
        id_column: str | None = None,
        code_base: int | None = None,
        source: str | None = None,
    ) -> pd.DataFrame:
        """Score every row of ``data``; see :func:`resolve.instruments.score_frame`."""
        from resolve.instruments.scoring import score_frame

        return score_frame(self, data, id_column=id_column, code_base=code_base, source=source)

    def to_fhir(self) -> dict[str, Any]:
        """FHIR R4 ``Questionnaire`` resource; see :mod:`resolve.instruments.fhir`."""
        from resolve.instruments.fhir import questionnaire

        return questionnaire(self)
