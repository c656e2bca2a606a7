"""Factor level order, decided by a stated rule and never guessed silently.

R's ``factor()`` sorts the distinct values of a character vector with the
collation of the current locale. Sorting Python strings by code point instead
(``sorted()``) puts ``"Beta"`` before ``"alpha"`` and so changes the reference
level, and with it every coefficient. This module reproduces R's order, offers
a natural order for labels that carry numbers (``week 6 < week 10``), and
reports which rule produced a given level order.

What :func:`r_sort_levels` emulates
-----------------------------------
R (4.x, built with ICU as on Debian/Ubuntu/macOS/Windows) sorts character
vectors in a non-C locale such as ``en_US.UTF-8`` with the ICU collator of the
Unicode Collation Algorithm (CLDR root order). The key built here compares, like
the collator, on three levels, each over the whole string before the next:

1. primary: the characters with case and accents removed. Whitespace sorts
   before punctuation and symbols, which sort before digits, which sort before
   letters. Punctuation is *not* ignored (ICU's default "non-ignorable"). The
   order of the ASCII whitespace, punctuation and symbols is ICU's, checked
   against R (``tests/reference/r/levels_sort.R``)::

       TAB LF VT FF CR SPACE _ - , ; : ! ? . ' " ( ) [ ] { } @ * / \\ & # % ` ^ + < = > | ~ $

   Digits compare by value, one digit at a time: R does *not* sort numbers
   naturally, so ``VIS10 < VIS2``. Letters compare case-insensitively
   (Unicode case folding, after canonical decomposition, so ``é`` is ``e`` here);
2. secondary: accents, so ``e < é`` when the strings tie at the first level;
3. tertiary: case, lowercase before uppercase, so ``a < A < b < B``;

and finally, for distinct strings that tie on all three levels, code point
order, so the order is total and deterministic.

Not emulated: the relative order of non-ASCII whitespace (all equal to each
other, after the ASCII ones) and of non-ASCII punctuation and symbols (all
equal to each other, after the ASCII ones, before digits); letters without a
canonical decomposition that ICU files under a Latin letter (``ø``, ``ł``,
``ß`` as ``ss``; these sort after ``z`` by code point of their case fold);
compatibility characters (ligatures, full-width forms); contractions and
tailorings of other locales; ICU's ignoring of control characters is emulated
for ASCII control characters only. For the labels of clinical data (ASCII
letters, digits, spaces and common punctuation) the order equals R's.

A sort of numbers (an integer or float column) is numeric, as R's ``factor()``
of a numeric vector is.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from resolve._validation import show_values
from resolve.errors import DataValidationError

__all__ = [
    "LevelSource",
    "factor_levels",
    "natural_sort_key",
    "natural_sort_levels",
    "numeric_labels",
    "observed_values",
    "r_sort_key",
    "r_sort_levels",
    "sorted_levels",
]

LevelSource = Literal["declared", "categorical", "natural", "R sort"]

# ICU / CLDR root primary order of the ASCII non-alphanumeric characters (checked
# against R 4.2.2 with ICU in en_US.UTF-8, see tests/reference/r/levels_sort.R).
_ASCII_WHITESPACE = "\t\n\x0b\x0c\r "
_ASCII_PUNCT = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"

# Primary weights are encoded as characters whose code point order is the weight
# order, so a key is a plain string and compares at C speed.
_W_OTHER_SPACE = "\x07"
_W_PUNCT0 = 0x10
_W_OTHER_PUNCT = chr(_W_PUNCT0 + len(_ASCII_PUNCT))
_W_DIGIT0 = 0x31  # digits 0..9 -> 0x31..0x3A; letters (case folded) are >= 'a' = 0x61
_LOWER, _UPPER = "\x01", "\x02"
_CACHE_MAX_LABELS = 64  # sorted level sets up to this size are cached
_UPPER_ALNUM = re.compile(r"[0-9A-Z\n]*")
_LOWER_ALNUM = re.compile(r"[0-9a-z\n]*")


def _ascii_tables() -> tuple[dict[int, str | None], dict[int, str | None]]:
    primary: dict[int, str | None] = {}
    tertiary: dict[int, str | None] = {}
    for cp in range(128):
        ch = chr(cp)
        if ch in _ASCII_WHITESPACE:
            w: str | None = chr(1 + _ASCII_WHITESPACE.index(ch))
        elif ch in _ASCII_PUNCT:
            w = chr(_W_PUNCT0 + _ASCII_PUNCT.index(ch))
        elif ch.isdigit():
            w = chr(_W_DIGIT0 + int(ch))
        elif ch.isalpha():
            w = ch.lower()
        else:  # other control characters: ignored, as ICU does
            w = None
        primary[cp] = w
        tertiary[cp] = None if w is None else (_UPPER if ch.isupper() else _LOWER)
    return primary, tertiary


_PRIMARY_ASCII, _TERTIARY_ASCII = _ascii_tables()


def _general_key(s: str) -> tuple[str, str, str, str]:
    primary: list[str] = []
    secondary: list[str] = []
    tertiary: list[str] = []
    for ch in unicodedata.normalize("NFD", s):
        cp = ord(ch)
        if cp < 128:
            w = _PRIMARY_ASCII[cp]
            if w is not None:
                primary.append(w)
                secondary.append(_LOWER)
                tertiary.append(_TERTIARY_ASCII[cp] or _LOWER)
            continue
        cat = unicodedata.category(ch)
        if cat.startswith("M"):  # a combining mark: an accent on the previous character
            secondary.append(chr(0x100 + cp))
            continue
        if cat.startswith("C"):  # control / format characters are ignorable
            continue
        if cat.startswith("Z"):
            ws = [_W_OTHER_SPACE]
        elif cat == "Nd":
            ws = [chr(_W_DIGIT0 + unicodedata.digit(ch))]
        elif cat.startswith("L"):
            ws = list(ch.casefold())
        else:  # other numbers, punctuation, symbols
            ws = [_W_OTHER_PUNCT]
        for w in ws:
            primary.append(w)
            secondary.append(_LOWER)
            tertiary.append(_UPPER if ch.isupper() else _LOWER)
    return "".join(primary), "".join(secondary), "".join(tertiary), s


def r_sort_key(s: str) -> tuple[str, str, str, str]:
    """Sort key giving R's order of character values in an ``en_US.UTF-8`` locale.

    See the module documentation for what is and is not emulated.

    Parameters
    ----------
    s : str
        A label.

    Returns
    -------
    tuple of str
        Primary (base characters), secondary (accents) and tertiary (case)
        weights, then the label itself as the final tie-break.

    Examples
    --------
    >>> sorted(["Beta", "gamma", "alpha"], key=r_sort_key)
    ['alpha', 'Beta', 'gamma']
    """
    if s.isascii():
        p = s.translate(_PRIMARY_ASCII)
        return p, _LOWER * len(p), s.translate(_TERTIARY_ASCII), s
    return _general_key(s)


def r_sort_levels(values: Iterable[str]) -> list[str]:
    """The distinct values sorted as R's ``sort(unique(x))`` / ``factor(x)`` does.

    R in a UTF-8 English locale (``en_US.UTF-8``, R built with ICU) compares
    letters case-insensitively first, puts lowercase before uppercase on a tie,
    whitespace and punctuation before digits before letters, and compares digits
    one at a time (no natural number order). See the module documentation for
    the details and the limits of the emulation.

    Parameters
    ----------
    values : iterable of str
        Labels; duplicates are removed.

    Returns
    -------
    list of str
        The distinct labels in R's order.

    Examples
    --------
    >>> r_sort_levels(["gamma", "Beta", "alpha", "Beta"])
    ['alpha', 'Beta', 'gamma']
    >>> r_sort_levels(["B", "a", "b", "A"])
    ['a', 'A', 'b', 'B']
    >>> r_sort_levels(["VIS2", "VIS10", "VIS1"])
    ['VIS1', 'VIS10', 'VIS2']
    """
    labels = frozenset(values)
    if len(labels) <= _CACHE_MAX_LABELS:  # factor levels: often the same set again
        return list(_r_sorted_cached(labels))
    return _r_sorted(labels)


def _r_sorted(labels: frozenset[str]) -> list[str]:
    # Fast path: for labels made of digits and letters of one case only, R's order is
    # code point order (digits before letters, no case ties).
    joined = "\n".join(labels)
    if _UPPER_ALNUM.fullmatch(joined) or _LOWER_ALNUM.fullmatch(joined):
        return sorted(labels)
    return sorted(labels, key=r_sort_key)


@functools.lru_cache(maxsize=512)
def _r_sorted_cached(labels: frozenset[str]) -> tuple[str, ...]:
    return tuple(_r_sorted(labels))


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_RUN = re.compile(r"(?:(?<=\s)|^)-\d+|\d+")
_NUM_MARK = chr(_W_DIGIT0)  # a number sorts where a digit would, before letters


def _encode_number(text: str) -> str:
    """An order-preserving string for an integer written in decimal digits."""
    negative = text.startswith("-")
    digits = str(int(text.lstrip("-")))  # int() reads any Unicode decimal digits
    if digits == "0":
        negative = False
    if negative:  # more digits = smaller; digits complemented
        return _NUM_MARK + chr(0x1000 - len(digits)) + "".join(chr(0x3A - int(d)) for d in digits)
    return _NUM_MARK + chr(0x1000 + len(digits)) + "".join(chr(0x30 + int(d)) for d in digits)


def natural_sort_key(s: str) -> tuple[str, tuple[str, str, str, str]]:
    """Sort key ordering runs of digits by their value (``week 6 < week 10``).

    The label is read as text and integers: each run of decimal digits counts
    as one number, compared by value (a ``-`` directly before the digits, at the
    start or after whitespace, makes it negative: ``Day -7 < Day -1 < Day 1``);
    a number sorts where a digit would (after whitespace and punctuation, before
    letters); the text between numbers compares as in :func:`r_sort_key`
    (case-insensitively first). Labels that tie (``V01`` and ``V1``) are then
    ordered by :func:`r_sort_key`. A decimal point is text, so ``1.5 < 1.10``
    inside a longer label; labels that are entirely numbers are sorted by value by
    :func:`natural_sort_levels`.

    Parameters
    ----------
    s : str
        A label.

    Returns
    -------
    tuple
        The natural primary key, then :func:`r_sort_key` of the label.

    Examples
    --------
    >>> sorted(["week 26", "week 6", "week 10"], key=natural_sort_key)
    ['week 6', 'week 10', 'week 26']
    """
    parts: list[str] = []
    pos = 0
    for m in _RUN.finditer(s):
        parts.append(r_sort_key(s[pos : m.start()])[0])
        parts.append(_encode_number(m.group()))
        pos = m.end()
    parts.append(r_sort_key(s[pos:])[0])
    return "".join(parts), r_sort_key(s)


def numeric_labels(labels: Iterable[str]) -> bool:
    """True if every label is a plain decimal number (``"2"``, ``"-0.5"``, ``"1e3"``).

    Examples
    --------
    >>> numeric_labels(["1", "2.5"]), numeric_labels(["1", "week 2"])
    (True, False)
    """
    return all(_NUMBER.fullmatch(v.strip()) is not None for v in labels)


def natural_sort_levels(values: Iterable[str]) -> list[str]:
    """The distinct values in natural order: numbers inside labels compare by value.

    If every label is a plain decimal number (``"-1"``, ``"0.5"``, ``"12"``) the
    labels sort by numeric value. Otherwise each run of digits is one number
    (see :func:`natural_sort_key`), so ``week 6 < week 10 < week 26`` and
    ``V2 < V10``; text compares as R does (:func:`r_sort_levels`). The result
    is deterministic, but it is a rule about characters, not about meaning:
    ``Baseline`` sorts before ``Week 1`` only because ``b < w``, and
    ``Screening`` sorts after ``Baseline`` for the same reason. Declare the order
    when it matters.

    Parameters
    ----------
    values : iterable of str
        Labels; duplicates are removed.

    Returns
    -------
    list of str
        The distinct labels in natural order.

    Examples
    --------
    >>> natural_sort_levels(["week 10", "week 26", "week 6"])
    ['week 6', 'week 10', 'week 26']
    >>> natural_sort_levels(["V10", "v2", "V1"])
    ['V1', 'v2', 'V10']
    >>> natural_sort_levels(["10", "-1", "2.5"])
    ['-1', '2.5', '10']
    """
    labels = frozenset(values)
    if len(labels) <= _CACHE_MAX_LABELS:
        return list(_natural_sorted_cached(labels))
    return _natural_sorted(labels)


def _natural_sorted(labels: frozenset[str]) -> list[str]:
    if labels and numeric_labels(labels):
        return sorted(labels, key=lambda v: (float(v), r_sort_key(v)))
    return sorted(labels, key=natural_sort_key)


@functools.lru_cache(maxsize=512)
def _natural_sorted_cached(labels: frozenset[str]) -> tuple[str, ...]:
    return tuple(_natural_sorted(labels))


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


_REALS = (int, float, np.integer, np.floating, numbers.Real)  # concrete types first: fast


def _is_number(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, _REALS)


def observed_values(values: Any) -> tuple[list[str], bool]:
    """Distinct non-missing values as strings, and whether they were all numbers.

    Numbers come back in numeric order, other values in order of appearance.

    Parameters
    ----------
    values : pandas Series, Index or iterable
        The values; missing ones (None, NaN, ``pd.NA``) are dropped.

    Returns
    -------
    labels : list of str
        ``str()`` of each distinct value.
    numeric : bool
        True if every value was a (non-boolean) real number.

    Examples
    --------
    >>> observed_values([10, 2, None, 2])
    (['2', '10'], True)
    >>> observed_values(["b", "a", "b"])
    (['b', 'a'], False)
    """
    if isinstance(values, pd.Series | pd.Index):
        uniq = list(pd.unique(values.dropna()))
    else:
        uniq = [v for v in dict.fromkeys(values) if not _is_missing(v)]
    numeric = bool(uniq) and all(_is_number(v) for v in uniq)
    if numeric:
        uniq.sort()
        return list(dict.fromkeys(str(v) for v in uniq)), True
    return list(dict.fromkeys(str(v) for v in uniq)), False


def sorted_levels(values: Iterable[object]) -> list[str]:
    """R's ``factor()`` level order of distinct values: numeric if all are numbers.

    Missing values (None, NaN, ``pd.NA``) are dropped; other values are labelled
    with ``str()``; text sorts as :func:`r_sort_levels`.

    Parameters
    ----------
    values : iterable
        The values.

    Returns
    -------
    list of str
        The distinct labels in R's order.

    Examples
    --------
    >>> sorted_levels([10, 2, 1])
    ['1', '2', '10']
    >>> sorted_levels(["Beta", "alpha", None])
    ['alpha', 'Beta']
    """
    items = values if isinstance(values, list) else list(values)
    if all(type(v) is str for v in items):  # the common case, text labels: no conversion
        return r_sort_levels(cast(list[str], items))
    labels, numeric = observed_values(items)
    return labels if numeric else r_sort_levels(labels)


def factor_levels(
    values: Any,
    declared: Sequence[str] | None = None,
    *,
    natural: bool = False,
    name: str = "values",
    unused: Literal["drop", "keep", "error"] = "drop",
) -> tuple[list[str], LevelSource]:
    """The level order of a factor, and how it was obtained.

    In order of precedence:

    1. ``declared``: the order given. It must list every observed value, else
       :class:`~resolve.errors.DataValidationError` naming the values it lacks;
       declared values that are not observed are dropped (``unused="drop"``,
       the default), kept (``"keep"``, like R's ``factor(x, levels=)``) or
       rejected (``"error"``, to catch a misspelt label). Source ``"declared"``.
    2. a pandas Categorical (``values`` of categorical dtype, ordered or not): its
       categories in their order, all of them. Source ``"categorical"``.
    3. ``natural=True``: :func:`natural_sort_levels`. Source ``"natural"``.
    4. otherwise R's ``factor()`` order: :func:`r_sort_levels` for text, numeric
       order when every value is a number. Source ``"R sort"``.

    Missing values are never levels. Values are labelled with ``str()``.

    Parameters
    ----------
    values : pandas Series, Categorical, Index or iterable
        The observed values.
    declared : sequence of str, optional
        An explicit level order.
    natural : bool, default False
        Use natural order (numbers inside labels by value) instead of R's order.
    name : str, default "values"
        What the values are (e.g. ``"column 'AVISIT'"``), for error messages.
    unused : {"drop", "keep", "error"}, default "drop"
        What to do with declared levels that are not observed.

    Returns
    -------
    levels : list of str
        The levels in order.
    source : {"declared", "categorical", "natural", "R sort"}
        Which rule gave the order.

    Raises
    ------
    DataValidationError
        If ``declared`` repeats a level, lacks an observed value, or (with
        ``unused="error"``) lists a value that is not observed.

    Examples
    --------
    >>> factor_levels(["week 10", "week 6"], natural=True)
    (['week 6', 'week 10'], 'natural')
    >>> factor_levels(["b", "a"], declared=["b", "a", "c"])
    (['b', 'a'], 'declared')
    >>> import pandas as pd
    >>> factor_levels(pd.Categorical(["lo", "hi"], categories=["lo", "hi"], ordered=True))
    (['lo', 'hi'], 'categorical')
    >>> factor_levels(["Beta", "alpha"])
    (['alpha', 'Beta'], 'R sort')
    """
    if isinstance(values, pd.Categorical):
        values = pd.Series(values)
    if declared is not None:
        if isinstance(declared, str):
            raise DataValidationError(
                f"declared levels of {name} must be a sequence of labels, not a string; "
                f"got {declared!r}"
            )
        order = [str(v) for v in declared]
        dups = [v for v in dict.fromkeys(order) if order.count(v) > 1]
        if dups:
            raise DataValidationError(f"declared levels of {name} repeat {show_values(dups)}")
        observed, _ = observed_values(values)
        known = set(order)
        lacking = [v for v in observed if v not in known]
        if lacking:
            raise DataValidationError(
                f"declared levels of {name} lack observed value(s) {show_values(lacking)}; "
                f"declared: {show_values(order, limit=12)}"
            )
        seen = set(observed)
        extra = [v for v in order if v not in seen]
        if extra and unused == "error":
            raise DataValidationError(
                f"declared levels of {name} include {show_values(extra)}, "
                f"which {'is' if len(extra) == 1 else 'are'} not a value of {name}"
            )
        if unused == "drop":
            order = [v for v in order if v in seen]
        return order, "declared"
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        return [str(c) for c in values.cat.categories], "categorical"
    labels, numeric = observed_values(values)
    if natural:
        return natural_sort_levels(labels), "natural"
    return (labels if numeric else r_sort_levels(labels)), "R sort"
