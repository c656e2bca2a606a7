"""Running a trial: protocol, eligibility, schedule of assessments and randomisation.

Everything here is pure Python (no database). The store (``resolve.store``) and the
service layer (``resolve.ops``) build on it.

Examples
--------
>>> from resolve import trial
>>> p = trial.load_protocol()
>>> trial.check_eligibility(p, age=72, duration_weeks=20, pain=5).reasons
('age 72 is above 70',)
"""

from __future__ import annotations

from resolve.trial.eligibility import EligibilityResult, check_eligibility
from resolve.trial.protocol import (
    Arm,
    EligibilitySpec,
    Exclusion,
    Factor,
    Protocol,
    RandomisationSpec,
    VisitSpec,
    load_protocol,
)
from resolve.trial.schedule import overdue, schedule_of_assessments, visit_calendar

__all__ = [
    "Arm",
    "EligibilityResult",
    "EligibilitySpec",
    "Exclusion",
    "Factor",
    "Protocol",
    "RandomisationSpec",
    "VisitSpec",
    "check_eligibility",
    "load_protocol",
    "overdue",
    "schedule_of_assessments",
    "visit_calendar",
]
