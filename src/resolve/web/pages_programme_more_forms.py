"""Form parsing and the loading plan's state for the programme pages of
:mod:`resolve.web.pages_programme_more` and :mod:`resolve.web.pages_programme_more_link`.

Form values are checked here so that an error names the field and the value
given; the service layer checks every record again.
"""

from __future__ import annotations

from typing import Any

from resolve.errors import DataValidationError
from resolve.program.template import Template
from resolve.program.twopoint import TpdTrial
from resolve.web.i18n import t

__all__ = [
    "FEEDBACK",
    "drill_data",
    "loading_data",
    "number",
    "parse_trials",
    "week_drills",
]

#: Feedback modes a drill log may name.
FEEDBACK = ("none", "mirror", "video", "touch", "verbal")


def number(
    form: Any,
    name: str,
    errors: dict[str, str],
    *,
    low: float = 0,
    high: float = 10_000,
    whole: bool = False,
    required: bool = True,
) -> float | None:
    """A number from form field ``name`` in [low, high]; an error naming field and value.

    Examples
    --------
    >>> errors = {}
    >>> number({"reps": "12"}, "reps", errors, whole=True), errors
    (12.0, {})
    >>> number({"reps": "1.5"}, "reps", errors, whole=True), errors["reps"]
    (None, "reps: '1.5' is not a whole number from 0 to 10000")
    >>> number({}, "pain", errors, required=False)
    """
    raw = str(form.get(name, "")).strip()
    if not raw:
        if required:
            errors[name] = t("prog.more.err.required", field=name)
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    ok = low <= value <= high and (not whole or value.is_integer())
    if not ok:
        key = "prog.more.err.whole" if whole else "prog.more.err.number"
        errors[name] = t(key, field=name, value=raw[:40], low=f"{low:g}", high=f"{high:g}")
        return None
    return value


def parse_trials(text: str) -> list[TpdTrial]:
    """Staircase trials from the form's ``trials`` field: ``"80:two,80:two,75:one"``.

    Raises
    ------
    DataValidationError
        A trial that is not ``<separation mm>:<one|two>``, naming it and its value.

    Examples
    --------
    >>> [(x.separation_mm, x.response) for x in parse_trials("80:two, 75:one")]
    [(80.0, 'two'), (75.0, 'one')]
    >>> parse_trials("80:maybe")
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: trials: trial 1 is '80:maybe'; expected <mm>:one or <mm>:two
    """
    out = []
    for k, item in enumerate((x.strip() for x in text.split(",") if x.strip()), start=1):
        mm, _, answer = item.partition(":")
        try:
            out.append(TpdTrial(separation_mm=float(mm), response=answer))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            raise DataValidationError(
                f"trials: trial {k} is {item[:40]!r}; expected <mm>:one or <mm>:two"
            ) from None
    return out


def loading_data(form: Any, errors: dict[str, str], *, with_load: bool = True) -> dict[str, Any]:
    """A loading session's data from the form (ops.log_loading's keys)."""
    data: dict[str, Any] = {"exercise": str(form.get("exercise", ""))}
    achieved = number(form, "achieved", errors)
    if achieved is not None:
        data["achieved"] = achieved
    for name, high in (("sets", 100), ("reps", 1000)):
        value = number(form, name, errors, high=high, whole=True, required=False)
        if value is not None:
            data[name] = int(value)
    if with_load:
        load = number(form, "load_kg", errors, high=500, required=False)
        if load is not None:
            data["load_kg"] = load
    pain = number(form, "pain", errors, high=10, whole=True, required=False)
    if pain is not None:
        data["pain"] = int(pain)
    return data


def drill_data(form: Any, errors: dict[str, str], *, rated: bool) -> dict[str, Any]:
    """A drill log's data from the form (ops.log_drill's keys)."""
    data: dict[str, Any] = {"drill_id": str(form.get("drill_id", ""))}
    for name, high in (("sets", 20), ("reps", 100)):
        value = number(form, name, errors, high=high, whole=True)
        if value is not None:
            data[name] = int(value)
    feedback = str(form.get("feedback", "none"))
    if feedback not in FEEDBACK:
        errors["feedback"] = t("prog.more.err.choice", field="feedback", value=feedback[:20])
    data["feedback"] = feedback
    if rated:
        quality = number(form, "quality", errors, high=10, whole=True, required=False)
        if quality is not None:
            data["quality"] = int(quality)
    return data


def week_drills(tpl: Template, arm: str, week: int | None) -> list[str]:
    """The drills of ``week`` (or of the latest earlier week that had some)."""
    for w in range(week or tpl.programme.weeks, 0, -1):
        found = list(tpl.plan(arm, w).movement_precision)
        if found:
            return found
    return []
