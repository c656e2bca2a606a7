"""Eligibility screening against a protocol's inclusion thresholds and exclusions.

Examples
--------
>>> from resolve.trial.protocol import load_protocol
>>> p = load_protocol()
>>> check_eligibility(p, age=45, duration_weeks=30, pain=6)
EligibilityResult(eligible=True, reasons=())
>>> r = check_eligibility(p, age=17, duration_weeks=8, pain=2, exclusions=["pregnancy"])
>>> r.eligible
False
>>> for reason in r.reasons:
...     print(reason)
age 17 is below 18
pain duration 8 weeks is below 12
past-week pain 2 is below 3
exclusion pregnancy: Pregnancy
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

from resolve.errors import DataValidationError
from resolve.trial.protocol import Protocol

__all__ = ["EligibilityResult", "check_eligibility"]


@dataclass(frozen=True)
class EligibilityResult:
    """Outcome of screening: eligible, or not with one readable reason per failed criterion."""

    eligible: bool
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Plain-data form (for JSON and the web app)."""
        return {"eligible": self.eligible, "reasons": list(self.reasons)}


def _integer(name: str, value: object, low: int, high: int | None = None) -> int:
    """An integer in [low, high]; an integral float (3.0) is accepted, 2.5/bool/text are not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataValidationError(f"{name} must be an integer; got {value!r}")
    f = float(value)
    if not math.isfinite(f) or f != math.floor(f):
        raise DataValidationError(f"{name} must be an integer; got {value!r}")
    v = int(f)
    if v < low or (high is not None and v > high):
        rng = f"{low}-{high}" if high is not None else f">= {low}"
        raise DataValidationError(f"{name} must be an integer in {rng}; got {value!r}")
    return v


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_eligibility(
    protocol: Protocol,
    *,
    age: int,
    duration_weeks: float,
    pain: int,
    exclusions: Iterable[str] = (),
) -> EligibilityResult:
    """Screen one person against ``protocol.eligibility``.

    Parameters
    ----------
    protocol : Protocol
        The trial protocol (:func:`~resolve.trial.protocol.load_protocol`).
    age : int
        Age in whole years, 0-130.
    duration_weeks : float
        Duration of the current episode of low back pain, in weeks (>= 0).
    pain : int
        Mean past-week pain intensity on the 0-10 NRS (an integer, like the NRS item).
    exclusions : iterable of str, optional
        Names of the exclusion criteria that apply (``protocol.eligibility.exclusions``).

    Returns
    -------
    EligibilityResult
        ``eligible`` is True when every threshold is met (bounds inclusive) and no
        exclusion applies; ``reasons`` has one sentence per failed criterion, in the
        order age, duration, pain, then exclusions in the order given.

    Raises
    ------
    DataValidationError
        A value has the wrong type or is out of its possible range (a boolean, text,
        ``2.5`` for pain or age, a negative duration), ``exclusions`` is a single
        string, or an exclusion name is unknown (the message lists the known ones).

    Notes
    -----
    Invalid input is an error, never "ineligible": a typo must not screen someone out.
    Integral floats (``5.0``) are accepted for ``age`` and ``pain``, as the instruments
    accept them for item codes.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> p = load_protocol()
    >>> check_eligibility(p, age=70, duration_weeks=12, pain=3).eligible
    True
    >>> check_eligibility(p, age=71, duration_weeks=11.9, pain=3).reasons
    ('age 71 is above 70', 'pain duration 11.9 weeks is below 12')
    """
    spec = protocol.eligibility
    age_v = _integer("age", age, 0, 130)
    pain_v = _integer("pain", pain, 0, 10)
    if isinstance(duration_weeks, bool) or not isinstance(duration_weeks, numbers.Real):
        raise DataValidationError(f"duration_weeks must be a number; got {duration_weeks!r}")
    dur = float(duration_weeks)
    if not math.isfinite(dur) or dur < 0:
        raise DataValidationError(f"duration_weeks must be a number >= 0; got {duration_weeks!r}")
    if isinstance(exclusions, str):
        raise DataValidationError(
            f"exclusions must be a list of names, not the single string {exclusions!r}"
        )
    names = list(dict.fromkeys(exclusions))
    known = {e.name: e for e in spec.exclusions}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataValidationError(
            f"unknown exclusion(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(known) or '(none)'}"
        )
    reasons: list[str] = []
    if age_v < spec.age_min:
        reasons.append(f"age {age_v} is below {spec.age_min}")
    elif age_v > spec.age_max:
        reasons.append(f"age {age_v} is above {spec.age_max}")
    if dur < spec.duration_weeks_min:
        reasons.append(f"pain duration {_fmt(dur)} weeks is below {_fmt(spec.duration_weeks_min)}")
    if pain_v < spec.pain_min:
        reasons.append(f"past-week pain {pain_v} is below {spec.pain_min}")
    reasons += [f"exclusion {n}: {known[n].label}" for n in names]
    return EligibilityResult(not reasons, tuple(reasons))
