"""File schema of the task tables of a programme template (levels, doses, settings).

Private: part of the template file schema (:mod:`resolve.program._template_schema`),
re-exported by :mod:`resolve.program.template`. Also defines the id rule shared by
every id in a template (:data:`Id`).

Examples
--------
>>> from resolve._schema import validate
>>> validate(TactileLevel, {"level": 1, "label": "2 x 2", "rows": 2, "cols": 2,
...     "spacing_cm": 8, "trials": 24}, "t.toml").spacing_cm
8.0
>>> bad = {"id": "Sit", "label": "x", "unit": "reps"}
>>> validate(Exercise, bad, "t.toml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
resolve.errors.DataValidationError: t.toml: 'id': must be an id: a lower-case letter, then ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import Field, GetCoreSchemaHandler, field_validator, model_validator
from pydantic_core import core_schema

from resolve._schema import SchemaError, Table, Text, Unique, between

__all__ = [
    "Drill",
    "EducationSettings",
    "Exercise",
    "Fraction",
    "GraphLevel",
    "GraphSettings",
    "Id",
    "Ids",
    "ImagerySettings",
    "Level",
    "LevelledTask",
    "LoadingSettings",
    "LrjLevel",
    "LrjSettings",
    "Positive",
    "TactileLevel",
    "TactileSettings",
    "TwoPointSettings",
    "TwoPointSite",
]

_ID = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class _Ident:
    """Annotated metadata for ``str``: an id (``[a-z][a-z0-9_-]{0,63}``)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def check(value: str) -> str:
            if not _ID.fullmatch(value):
                raise SchemaError(
                    "must be an id: a lower-case letter, then lower-case letters, digits, "
                    f"'-' or '_' (64 characters at most); got {value!r}"
                )
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


Id = Annotated[str, _Ident()]
Ids = Annotated[list[Id], Unique()]
Level = Annotated[int, between(1)]
Fraction = Annotated[float, between(0, 1, low_open=True)]
Positive = Annotated[float, between(0, low_open=True)]


# ----------------------------------------------------------------------------- task levels
class LrjLevel(Table):
    """``[[lrj.levels]]``: one left/right judgement difficulty level."""

    level: Level = Field(description="Level number: 1, 2, ... in file order.")
    label: Text = Field(description="Short description shown to clinicians and patients.")
    angles_deg: list[Annotated[float, between(0, 90, low_open=True)]] = Field(
        description="Trunk rotation / side-bend angles of the images, degrees."
    )
    views: Annotated[list[Text], Unique()] = Field(
        description="Camera views of the images (names of the image generator: front, back, "
        "above, front_left, front_right, back_left, back_right)."
    )
    time_limit_s: Annotated[float, between(0, 60, low_open=True)] = Field(
        description="Time allowed per image, seconds; a slower answer is a timeout."
    )
    trials: Annotated[int, between(4, 400)] = Field(
        description="Images per block, a multiple of 4 (balanced side x movement)."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.angles_deg:
            raise SchemaError("must list at least one angle; got []", "angles_deg")
        if not self.views:
            raise SchemaError("must list at least one view; got []", "views")
        if self.trials % 4:
            raise SchemaError(f"must be a multiple of 4; got {self.trials}", "trials")
        return self


class TactileLevel(Table):
    """``[[tactile.levels]]``: one grid of the tactile task."""

    level: Level = Field(description="Level number: 1, 2, ... in file order.")
    label: Text = Field(description="Short description.")
    rows: Annotated[int, between(1, 10)] = Field(description="Grid rows (head to feet).")
    cols: Annotated[int, between(1, 10)] = Field(description="Grid columns (left to right).")
    spacing_cm: Annotated[float, between(0.5, 20)] = Field(
        description="Distance between neighbouring zone centres, cm."
    )
    trials: Annotated[int, between(1, 400)] = Field(description="Stimuli per block.")


class GraphLevel(Table):
    """``[[graphaesthesia.levels]]``: one graphaesthesia level."""

    level: Level = Field(description="Level number: 1, 2, ... in file order.")
    label: Text = Field(description="Short description.")
    set: Literal["numbers", "letters", "words"] = Field(
        description="Stimulus set: `numbers` (0-9), `letters` (A-Z) or `words` (three letters)."
    )
    orientations: Annotated[list[Literal["upright", "inverted", "sideways"]], Unique()] = Field(
        description="Orientations drawn: `upright` (top toward the head), `inverted` (turned "
        "180 degrees), `sideways` (turned 90 degrees)."
    )
    trials: Annotated[int, between(1, 200)] = Field(description="Stimuli per block.")

    @field_validator("orientations")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise SchemaError("must list at least one orientation; got []")
        return value


def _numbered(levels: list[Any]) -> None:
    for k, lv in enumerate(levels):
        if lv.level != k + 1:
            raise SchemaError(
                f"must be {k + 1} (levels are numbered 1, 2, ... in order)", k, "level"
            )


class LevelledTask(Table):
    """``[lrj]`` / ``[graphaesthesia]``: the task's levels."""

    levels: list[Any] = Field(description="Levels, numbered 1, 2, ... in order.")

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise SchemaError("must have at least one level")
        _numbered(value)
        return value


class LrjSettings(LevelledTask):
    """``[lrj]``: left/right judgement levels."""

    levels: list[LrjLevel]


class GraphSettings(LevelledTask):
    """``[graphaesthesia]``: graphaesthesia levels."""

    levels: list[GraphLevel]


class TactileSettings(LevelledTask):
    """``[tactile]``: stimulus types and grid levels."""

    stimuli: Annotated[list[Id], Unique()] = Field(
        ["sharp", "blunt"], description="Stimulus types (probes) to discriminate."
    )
    levels: list[TactileLevel]


class TwoPointSite(Table):
    """``[[twopoint.sites]]``: one body site measured."""

    id: Id = Field(description="Site id, unique.")
    label: Text = Field(description="Where and in which orientation the calliper is placed.")


class TwoPointSettings(Table):
    """``[twopoint]``: how two-point thresholds are measured."""

    method: Literal["staircase", "limits"] = Field(
        description="`staircase` (adaptive up/down) or `limits` (method of limits)."
    )
    start_mm: Positive = Field(description="First separation (staircase; descending series).")
    step_mm: Positive = Field(description="Change in separation per step.")
    min_mm: Positive = Field(description="Smallest separation the calliper is set to.")
    max_mm: Positive = Field(description="Largest separation.")
    down: Annotated[int, between(1, 5)] = Field(
        2, description='Staircase: consecutive "two" answers before the separation goes down.'
    )
    up: Annotated[int, between(1, 5)] = Field(
        1, description='Staircase: consecutive "one" answers before it goes up.'
    )
    reversals: Annotated[int, between(2, 30)] = Field(
        8, description="Staircase: the run stops at this reversal."
    )
    discard_reversals: Annotated[int, between(0)] = Field(
        2,
        description="Staircase: first reversals left out of the threshold (the mean of the rest).",
    )
    series: Annotated[int, between(2, 20)] = Field(
        4, description="Method of limits: series, alternately descending and ascending (even)."
    )
    sites: list[TwoPointSite] = Field(description="Body sites measured.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.min_mm < self.max_mm:
            raise SchemaError(f"must be < max_mm ({self.max_mm:g}); got {self.min_mm:g}", "min_mm")
        if not self.min_mm <= self.start_mm <= self.max_mm:
            raise SchemaError(
                f"must be within [min_mm, max_mm] = [{self.min_mm:g}, {self.max_mm:g}]; "
                f"got {self.start_mm:g}",
                "start_mm",
            )
        if self.discard_reversals >= self.reversals:
            raise SchemaError(
                f"must be < reversals ({self.reversals}); got {self.discard_reversals}",
                "discard_reversals",
            )
        if self.series % 2:
            raise SchemaError(f"must be even; got {self.series}", "series")
        if not self.sites:
            raise SchemaError("must have at least one site", "sites")
        ids = [s.id for s in self.sites]
        for k, i in enumerate(ids):
            if ids.index(i) != k:
                raise SchemaError(f"{i!r} is used twice; site ids must be unique", "sites", k, "id")
        return self


class ImagerySettings(Table):
    """``[imagery]``: explicit motor imagery scripts in use."""

    scripts: Ids = Field(description="Ids of the bundled imagery scripts (`imagery/<id>.md`).")


class EducationSettings(Table):
    """``[education]``: pain-science modules in use."""

    modules: Ids = Field(description="Ids of the bundled education modules (`education/<id>.md`).")


class Drill(Table):
    """``[[drills]]``: one movement-precision drill."""

    id: Id = Field(description="Drill id, unique.")
    label: Text = Field(description="Name.")
    description: Text = Field(description="How the drill is done, in one or two sentences.")
    feedback: Annotated[list[Literal["mirror", "video", "touch", "verbal"]], Unique()] = Field(
        description="Feedback modes: `mirror`, `video`, `touch`, `verbal`."
    )
    sets: Annotated[int, between(1, 20)] = Field(description="Planned sets.")
    reps: Annotated[int, between(1, 100)] = Field(description="Planned repetitions per set.")


class Exercise(Table):
    """``[[loading.exercises]]``: one graded-loading exercise."""

    id: Id = Field(description="Exercise id, unique.")
    label: Text = Field(description="Name.")
    unit: Literal["reps", "kg", "minutes", "seconds", "metres"] = Field(
        description="Unit of the quota and of the tolerance test."
    )


class LoadingSettings(Table):
    """``[loading]``: quota-based, time-contingent graded loading."""

    start_fraction: Fraction = Field(
        0.8, description="First quota as a share of the baseline tolerance (below tolerance)."
    )
    increment: Positive = Field(description="Planned increase per session (see `increment_kind`).")
    increment_kind: Literal["fraction_of_baseline", "fraction_of_previous", "absolute"] = Field(
        "fraction_of_baseline",
        description="`fraction_of_baseline` (increment x baseline per session), "
        "`fraction_of_previous` (x (1 + increment) per session) or `absolute` (in the unit).",
    )
    sessions_per_week: Annotated[int, between(1, 14)] = Field(
        3, description="Loading sessions per week (clinic and home)."
    )
    tolerance_trials: Annotated[int, between(1, 10)] = Field(
        3, description="Trials of the baseline tolerance test; tolerance = their mean."
    )
    hold_if_missed: bool = Field(
        True,
        description="Repeat a quota that was not completed; pain never changes a quota.",
    )
    exercises: list[Exercise] = Field(description="Exercises that can be loaded.")
