"""Block records: one block of a training task, as the store keeps it and the engine reads it.

A block is a run of trials of one task (``lrj``, ``tactile`` or ``graphaesthesia``)
at one level. The task modules score the trials; a :class:`BlockRecord` keeps the
block's place (participant, week, setting, number), its level, the measures of the
score (the names of :data:`resolve.program.template.MEASURES`) and the trials
themselves as JSON-ready dicts. The progression engine
(:func:`resolve.program.progression.decide`) reads a participant's block records.

Examples
--------
>>> b = BlockRecord(participant_id="P1", task="lrj", block=3, week=2, level=1,
...                 measures={"accuracy": 0.75, "median_rt_s": 1.8})
>>> b.block_id, b.measure("accuracy"), b.measure("timeout_rate") is None
('P1/lrj/3', 0.75, True)
>>> BlockRecord.from_dict(b.to_dict()) == b
True
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from resolve._schema import SchemaError, Text, between
from resolve.program._records import Record
from resolve.program._template_schema import MEASURES

__all__ = ["BlockRecord", "Setting", "Task"]

Task = Literal["lrj", "tactile", "graphaesthesia"]
Setting = Literal["clinic", "home"]


class BlockRecord(Record):
    """One scored block.

    Attributes
    ----------
    participant_id : str
    task : {"lrj", "tactile", "graphaesthesia"}
    block : int
        Number of the block among the participant's blocks of this task (1, 2, ...).
    week : int
        Programme week (1 to 52).
    setting : {"clinic", "home"}
    level : int
        Level the block was done at.
    measures : dict of str to float or None
        The task score's measures, named as in :data:`~resolve.program.template.MEASURES`
        (others are refused; accuracy as a fraction 0-1, times in seconds,
        distances in cm); None where a measure cannot be computed (e.g. no RT
        without a correct answer). Never zero for missing.
    trials : list of dict
        The trials (the task's trial records as dicts), for figures and audits.
    image_set : {"training", "test"} or None
        LRJ only: which image set was shown (outcome tests use ``test``).
    pain : int or None
        Current pain 0-10 when the block was done (LRJ results vary with pain).
    """

    participant_id: Text
    task: Task
    block: Annotated[int, between(1)]
    week: Annotated[int, between(1, 52)]
    setting: Setting = "clinic"
    level: Annotated[int, between(1)]
    measures: dict[str, Annotated[float, between()] | None]
    trials: list[dict[str, Any]] = Field(default_factory=list)
    image_set: Literal["training", "test"] | None = None
    pain: Annotated[int, between(0, 10)] | None = None

    @model_validator(mode="after")
    def _known_measures(self) -> Self:
        known = MEASURES[self.task]
        for name in self.measures:
            if name not in known:
                raise SchemaError(
                    f"unknown {self.task} measure {name!r}; known: {', '.join(known)}", "measures"
                )
        return self

    @property
    def block_id(self) -> str:
        """``"<participant>/<task>/<block>"``: unique within a trial."""
        return f"{self.participant_id}/{self.task}/{self.block}"

    def measure(self, name: str) -> float | None:
        """The value of measure ``name`` (None when missing or not computed)."""
        return self.measures.get(name)
