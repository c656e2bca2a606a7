"""Explicit motor imagery: scripts in our own words, vividness and pain ratings.

Each script is a Markdown file in ``imagery/`` whose TOML front matter gives its id,
title, movement, stage and dose. Stages follow the graded motor imagery order:
``imagined`` (picture the movement), ``observed`` (watch it and imagine being the
mover), ``mirrored`` (do it while watching the back in a mirror or on video). After a
script the person rates vividness (0 = none, 10 = as clear as real movement) and pain
while imagining (0 = none, 10 = worst imaginable), both integers.

Examples
--------
>>> [s.id for s in scripts()]
['forward-bend-watching', 'lift-mirrored', 'rotation-seated', 'side-bend-standing']
>>> r = rate("rotation-seated", vividness=6, pain=2, week=4)
>>> summarise([r, rate("rotation-seated", vividness=8, pain=1, week=5)]).mean_vividness
7.0
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Annotated, Literal

from resolve._schema import Table, Text, between, validate
from resolve.errors import DataValidationError, UnknownNameError
from resolve.program._markdown import bundled_texts, split_front_matter
from resolve.program._records import Record
from resolve.program._task_schema import Id

__all__ = [
    "ImageryRating",
    "ImageryScript",
    "ImagerySummary",
    "load_script",
    "rate",
    "script_ids",
    "scripts",
    "summarise",
]

_Rating = Annotated[int, between(0, 10)]


class ImageryScript(Table):
    """A script: metadata and the Markdown ``body`` read to (or by) the person."""

    id: Id
    title: Text
    movement: Literal["rotation", "side_bend", "flexion", "extension", "lift"]
    stage: Literal["imagined", "observed", "mirrored"]
    minutes: Annotated[int, between(1, 60)]
    repetitions: Annotated[int, between(1, 50)]
    body: str = ""


@cache
def _bundled() -> dict[str, ImageryScript]:
    found = {}
    for stem, text in bundled_texts("imagery").items():
        meta, body = split_front_matter(text, f"imagery/{stem}.md")
        s = validate(ImageryScript, {**meta, "body": body}, f"imagery/{stem}.md")
        if s.id != stem:
            raise DataValidationError(f"imagery/{stem}.md: 'id' must be {stem!r}; got {s.id!r}")
        found[s.id] = s
    return found


def script_ids() -> list[str]:
    """Ids of the bundled scripts (alphabetical)."""
    return list(_bundled())


def scripts() -> list[ImageryScript]:
    """The bundled scripts (alphabetical by id)."""
    return list(_bundled().values())


def load_script(script_id: str) -> ImageryScript:
    """The bundled script ``script_id``."""
    found = _bundled()
    if script_id not in found:
        raise UnknownNameError(f"unknown imagery script {script_id!r}; bundled: {', '.join(found)}")
    return found[script_id]


class ImageryRating(Record):
    """One imagery session: script, week, vividness and pain (0-10 integers)."""

    script_id: str
    week: Annotated[int, between(1, 52)]
    vividness: _Rating
    pain: _Rating
    setting: Literal["clinic", "home"] = "clinic"


def rate(
    script_id: str,
    *,
    vividness: int,
    pain: int,
    week: int,
    setting: Literal["clinic", "home"] = "clinic",
) -> ImageryRating:
    """A checked rating of a bundled script.

    Raises
    ------
    UnknownNameError
        ``script_id`` is not a bundled script.
    DataValidationError
        A rating is not an integer from 0 to 10, or ``week`` is not 1 to 52.

    Examples
    --------
    >>> rate("lift-mirrored", vividness=11, pain=0, week=5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: imagery rating: 'vividness': must be an integer in ...
    """
    load_script(script_id)
    data = {
        "script_id": script_id,
        "week": week,
        "vividness": vividness,
        "pain": pain,
        "setting": setting,
    }
    return ImageryRating.from_dict(data, source="imagery rating")


class ImagerySummary(Record):
    """Mean vividness and pain over ratings (None when there are none)."""

    n: int
    mean_vividness: float | None
    mean_pain: float | None


def summarise(ratings: Sequence[ImageryRating]) -> ImagerySummary:
    """Mean vividness and pain of ``ratings``.

    Examples
    --------
    >>> summarise([]).mean_pain is None
    True
    """
    n = len(ratings)
    if not n:
        return ImagerySummary(n=0, mean_vividness=None, mean_pain=None)
    return ImagerySummary(
        n=n,
        mean_vividness=sum(r.vividness for r in ratings) / n,
        mean_pain=sum(r.pain for r in ratings) / n,
    )
