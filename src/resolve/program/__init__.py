"""The graded sensorimotor retraining programme: template, tasks, progression, records.

Pure Python (no database, no printing): a store and a web layer sit on top.

- :mod:`~resolve.program.template` -- the programme template (one TOML file; the
  RESOLVE default is a reconstruction, not the trial manual): :func:`load_template`,
  :func:`describe`, :func:`template_text`, :func:`check_protocol`.
- Tasks, each with seeded stimulus sequences and pure scoring:
  :mod:`~resolve.program.lrj` (left/right judgement), :mod:`~resolve.program.tactile`
  (localisation and sharp/blunt on a grid), :mod:`~resolve.program.graphaesthesia`,
  :mod:`~resolve.program.twopoint` (two-point thresholds), :mod:`~resolve.program.imagery`
  (explicit motor imagery scripts and ratings), :mod:`~resolve.program.loading`
  (graded loading by quota, movement-precision drills), :mod:`~resolve.program.education`
  (pain-science modules and misconception checks).
- :mod:`~resolve.program.progression` -- the rule engine (:func:`decide`, :func:`override`).
- :mod:`~resolve.program.sessions` -- session records, fidelity and adherence.
- :mod:`~resolve.program.norms` -- norms with their sources.
- :mod:`~resolve.program.export` -- tidy long tables and the per-participant summary.
- :mod:`~resolve.program.demo` -- a seeded 12-week demo of one active and one sham participant.
- :mod:`resolve.program.images` -- the LRJ image generator (imported on demand).

Examples
--------
>>> from resolve.program import load_template, describe
>>> t = load_template()
>>> t.programme.status
'reconstruction'
>>> "Sham arm" in describe(t)
True
"""

from __future__ import annotations

from resolve.program.blocks import BlockRecord
from resolve.program.describe import describe
from resolve.program.progression import Decision, current_level, decide, override, task_rules
from resolve.program.sessions import HomePractice, SessionRecord, adherence, check_session
from resolve.program.template import (
    Template,
    check_protocol,
    load_template,
    parse_template,
    template_reference,
    template_text,
)

__all__ = [
    "BlockRecord",
    "Decision",
    "HomePractice",
    "SessionRecord",
    "Template",
    "adherence",
    "check_protocol",
    "check_session",
    "current_level",
    "decide",
    "describe",
    "load_template",
    "override",
    "parse_template",
    "task_rules",
    "template_reference",
    "template_text",
]
