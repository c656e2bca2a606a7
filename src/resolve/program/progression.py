"""The progression engine: rules from the template, applied after each block.

:func:`decide` looks at a participant's blocks of one task. The *current level* is
the level of the latest block; the *run* is the trailing sequence of blocks at that
level (a block at another level ends it, so a level change always starts a new
count). Rules of the task are tried in template order; a rule fires when its
``consecutive`` latest blocks of the run all meet every condition (a missing measure
never meets one). The first rule that fires decides: ``advance`` moves one level up,
``step_back`` one level down; at the top or bottom level it holds instead, naming the
rule. When no rule fires the decision is ``hold``. Every decision is a
:class:`Decision` record with the rule's id and text and every number compared
(:class:`Check`), ready for an audit table. :func:`override` records a clinician's
decision, which needs a reason.

Examples
--------
>>> from resolve.program.template import load_template
>>> from resolve.program.blocks import BlockRecord
>>> rules = task_rules(load_template(), "lrj")
>>> def block(n, acc, rt):
...     return BlockRecord(participant_id="P1", task="lrj", block=n, week=1, level=1,
...                        measures={"accuracy": acc, "median_rt_s": rt})
>>> d = decide(rules, [block(1, 0.85, 1.9), block(2, 0.80, 2.0)])
>>> d.action, d.from_level, d.to_level, d.rule_id
('advance', 1, 2, 'lrj-advance')
>>> [(c.block_id, c.measure, c.value, c.op, c.threshold, c.passed) for c in d.checks][:2]
[('P1/lrj/1', 'accuracy', 0.85, '>=', 0.8, True), ('P1/lrj/1', 'median_rt_s', 1.9, '<=', 2.1, True)]
>>> decide(rules, [block(1, 0.85, 1.9), block(2, 0.799, 2.0)]).action
'hold'
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Annotated, Literal

from resolve._schema import Text, between
from resolve.errors import DataValidationError, UnknownNameError
from resolve.program._records import Record
from resolve.program._template_schema import NORM_THRESHOLDS, TASKS, Rule
from resolve.program.blocks import BlockRecord
from resolve.program.template import Template

__all__ = [
    "Check",
    "Decision",
    "TaskRules",
    "current_level",
    "decide",
    "override",
    "task_rules",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Check(Record):
    """One comparison a rule made: a block's measure against a threshold."""

    rule_id: str
    block_id: str | None
    measure: str
    value: float | None
    op: str
    threshold: float
    threshold_from: str | None = None  # the norm's name when the rule names one
    passed: bool


class Decision(Record):
    """A progression decision, engine-made or clinician-made (an audit row).

    Attributes
    ----------
    task : str
        ``lrj``, ``tactile``, ``graphaesthesia`` or ``loading``.
    item : str or None
        The loading exercise (loading decisions only).
    action : {"advance", "step_back", "hold", "override"}
    from_level, to_level : int
        Level before and after (for loading: plan steps).
    rule_id : str or None
        The rule that fired (None for a hold where none fired, and for overrides).
    rule_text : str
        The rule in words, or what happened.
    checks : list of Check
        Every comparison made (of the rule that fired, or of all rules for a hold).
    blocks : list of str
        Ids of the blocks (or loading sessions) looked at.
    decided_by : {"engine", "clinician"}
    clinician : str or None
        Who overrode (overrides only).
    reason : str or None
        The clinician's reason (required for overrides).
    note : str
        Extra context, e.g. "already at the highest level (4)".
    """

    task: Text
    item: str | None = None
    action: Literal["advance", "step_back", "hold", "override"]
    from_level: Annotated[int, between(1)]
    to_level: Annotated[int, between(1)]
    rule_id: str | None
    rule_text: str
    checks: list[Check]
    blocks: list[str]
    decided_by: Literal["engine", "clinician"] = "engine"
    clinician: str | None = None
    reason: str | None = None
    note: str = ""

    @property
    def changes_level(self) -> bool:
        """Whether the level moves."""
        return self.to_level != self.from_level


class TaskRules(Record):
    """The rules of one task, its number of levels and the norm thresholds they use."""

    task: Literal["lrj", "tactile", "graphaesthesia"]
    max_level: Annotated[int, between(1)]
    rules: list[Rule]
    norms: dict[str, float]


def task_rules(template: Template, task: str) -> TaskRules:
    """The progression rules of ``task`` from ``template``, norms resolved.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> r = task_rules(load_template(), "tactile")
    >>> r.max_level, [x.id for x in r.rules]
    (5, ['tactile-step-back', 'tactile-advance'])
    """
    if task not in TASKS:
        raise UnknownNameError(f"unknown task {task!r}; tasks with rules: {', '.join(TASKS)}")
    return TaskRules.from_dict(
        {
            "task": task,
            "max_level": len(template.levels(task)),
            "rules": template.rules_for(task),
            "norms": {n: template.norms.threshold(n) for n in NORM_THRESHOLDS},
        }
    )


def _blocks(rules: TaskRules, history: Sequence[BlockRecord]) -> list[BlockRecord]:
    blocks = [b for b in history if b.task == rules.task]
    if not blocks:
        raise DataValidationError(f"progression: no {rules.task} block to decide on")
    people = {b.participant_id for b in blocks}
    if len(people) > 1:
        raise DataValidationError(
            f"progression: blocks of several participants ({', '.join(sorted(people))})"
        )
    for a, b in itertools.pairwise(blocks):
        if b.block <= a.block:
            raise DataValidationError(
                f"progression: blocks must be in order; block {b.block} follows block {a.block}"
            )
    top = blocks[-1]
    if top.level > rules.max_level:
        raise DataValidationError(
            f"progression: block {top.block_id} is at level {top.level}; {rules.task} has "
            f"{rules.max_level} levels"
        )
    return blocks


def _checks(rule: Rule, window: Sequence[BlockRecord], norms: dict[str, float]) -> list[Check]:
    out = []
    for b in window:
        for c in rule.when:
            threshold = norms[c.norm] if c.norm is not None else c.value
            assert threshold is not None  # the schema requires a value or a norm
            value = b.measure(c.measure)
            out.append(
                Check(
                    rule_id=rule.id,
                    block_id=b.block_id,
                    measure=c.measure,
                    value=value,
                    op=c.op,
                    threshold=threshold,
                    threshold_from=c.norm,
                    passed=value is not None and _OPS[c.op](value, threshold),
                )
            )
    return out


def decide(rules: TaskRules, history: Sequence[BlockRecord]) -> Decision:
    """Apply the task's rules to a participant's blocks; see the module notes.

    Parameters
    ----------
    rules : TaskRules
        From :func:`task_rules`.
    history : sequence of BlockRecord
        The participant's blocks in block order (blocks of other tasks are ignored);
        the latest block is the one just done.

    Returns
    -------
    Decision

    Raises
    ------
    DataValidationError
        No block of the task, blocks of several participants, blocks out of order,
        or a level above the task's levels.
    """
    blocks = _blocks(rules, history)
    current = blocks[-1].level
    run: list[BlockRecord] = []
    for b in reversed(blocks):
        if b.level != current:
            break
        run.insert(0, b)
    all_checks: list[Check] = []
    notes = []
    for rule in rules.rules:
        if len(run) < rule.consecutive:
            notes.append(
                f"{rule.id}: needs {rule.consecutive} blocks at level {current}, has {len(run)}"
            )
            all_checks.extend(_checks(rule, run, rules.norms))
            continue
        window = run[-rule.consecutive :]
        checks = _checks(rule, window, rules.norms)
        if all(c.passed for c in checks):
            target = current + 1 if rule.action == "advance" else current - 1
            held = not 1 <= target <= rules.max_level
            return Decision(
                task=rules.task,
                action="hold" if held else rule.action,
                from_level=current,
                to_level=current if held else target,
                rule_id=rule.id,
                rule_text=rule.text,
                checks=checks,
                blocks=[b.block_id for b in window],
                note=(
                    f"already at the highest level ({rules.max_level})"
                    if held and rule.action == "advance"
                    else "already at level 1"
                    if held
                    else ""
                ),
            )
        all_checks.extend(checks)
    return Decision(
        task=rules.task,
        action="hold",
        from_level=current,
        to_level=current,
        rule_id=None,
        rule_text="No rule fired; the level is kept.",
        checks=all_checks,
        blocks=[b.block_id for b in run],
        note="; ".join(notes),
    )


def override(
    rules: TaskRules,
    *,
    from_level: int,
    to_level: int,
    reason: str,
    clinician: str,
) -> Decision:
    """A clinician's decision to hold, advance or step back, with the required reason.

    Raises
    ------
    DataValidationError
        ``reason`` or ``clinician`` is empty, or a level is outside 1 to the task's
        number of levels.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> r = task_rules(load_template(), "lrj")
    >>> override(r, from_level=2, to_level=1, reason="Flare this week", clinician="ada").to_level
    1
    >>> override(r, from_level=2, to_level=1, reason=" ", clinician="ada")
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: override of lrj: a reason is required
    """
    if not isinstance(reason, str) or not reason.strip():
        raise DataValidationError(f"override of {rules.task}: a reason is required")
    if not isinstance(clinician, str) or not clinician.strip():
        raise DataValidationError(f"override of {rules.task}: the clinician must be named")
    for name, level in (("from_level", from_level), ("to_level", to_level)):
        if isinstance(level, bool) or not isinstance(level, int):
            raise DataValidationError(f"override of {rules.task}: {name} must be an integer")
        if not 1 <= level <= rules.max_level:
            raise DataValidationError(
                f"override of {rules.task}: {name} must be 1 to {rules.max_level}; got {level}"
            )
    return Decision(
        task=rules.task,
        action="override",
        from_level=from_level,
        to_level=to_level,
        rule_id=None,
        rule_text="Clinician override.",
        checks=[],
        blocks=[],
        decided_by="clinician",
        clinician=clinician.strip(),
        reason=reason.strip(),
    )


def current_level(decisions: Sequence[Decision], *, task: str, default: int) -> int:
    """The level set by the latest decision of ``task`` (any kind), else ``default``.

    Examples
    --------
    >>> current_level([], task="lrj", default=1)
    1
    """
    for d in reversed(decisions):
        if d.task == task:
            return d.to_level
    return default
