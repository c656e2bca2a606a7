"""Trial export: CONSORT flow counts from live data (resolve.trial.exports.consort)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from resolve.analysis.run import analyze
from resolve.trial.exports import consort_counts
from tests.trial.test_export import PLAN_VISITS, _table, trial

__all__ = ["trial"]  # the fixture, shared with the export tests


def test_consort_counts_equal_direct_pandas_counts(trial: dict[str, Any]) -> None:
    p, r, proto = trial["participants"], trial["responses"], trial["protocol"]
    c = consort_counts(p, r, proto)
    assert list(c.columns) == ["stage", "arm", "visit", "measure", "reason", "n"]

    def n(stage: str, measure: str, arm: str = "all", visit: str = "", reason: str = "") -> int:
        hit = c[
            (c.stage == stage)
            & (c.measure == measure)
            & (c.arm == arm)
            & (c.visit == visit)
            & (c.reason == reason)
        ]
        assert len(hit) == 1, (stage, measure, arm, visit, reason)
        return int(hit["n"].item())

    randomised = p["arm"].notna()
    assert n("enrolment", "assessed for eligibility") == len(p)
    assert n("enrolment", "randomised") == randomised.sum() == 276
    assert n("enrolment", "excluded") == (~randomised).sum()
    inel = p[~randomised & (p["eligible"] == False)]  # noqa: E712
    assert n("enrolment", "not meeting inclusion criteria") == len(inel)
    per_reason = inel["ineligible_reasons"].str.split("; ").explode().value_counts()
    for reason, count in per_reason.items():
        assert n("enrolment", "not meeting inclusion criteria", reason=str(reason)) == count
    assert (
        n("enrolment", "eligibility not determined") == (~randomised & p["eligible"].isna()).sum()
    )
    declined = ~randomised & (p["eligible"] == True) & p["consented_at"].isna()  # noqa: E712
    assert n("enrolment", "declined to participate") == declined.sum()
    other = ~randomised & (p["eligible"] == True) & p["consented_at"].notna()  # noqa: E712
    assert n("enrolment", "other reasons") == other.sum()
    excl = c[(c.stage == "enrolment") & (c.reason == "")]
    parts = ["not meeting inclusion criteria", "eligibility not determined"]
    parts += ["declined to participate", "other reasons"]
    assert excl[excl.measure.isin(parts)]["n"].sum() == n("enrolment", "excluded")

    data = trial["data"]
    for arm, count in p.loc[randomised, "arm"].value_counts().items():
        assert n("allocation", "allocated", str(arm)) == count
        in_err = (p["arm"] == arm) & (p["status"] == "randomised_in_error")
        assert n("allocation", "randomised in error", str(arm)) == in_err.sum()
        for visit in PLAN_VISITS[1:]:
            at = data[(data["arm"] == arm) & (data["visit"] == visit)]
            assessed = n("follow-up", "assessed", str(arm), visit)
            assert assessed == at["pain"].notna().sum()
            parts_n = sum(
                n("follow-up", m, str(arm), visit)
                for m in ("assessed", "withdrawn", "lost to follow-up", "missed visit")
            )
            assert parts_n == count
            week = int(visit.split()[1])
            pp = p.set_index("participant_id").loc[at["id"]]
            target = pd.to_datetime(pp["randomised_at"], utc=True) + pd.Timedelta(weeks=week)
            lost = pd.to_datetime(pp["lost_at"], utc=True) <= target
            missing = at.set_index("id")["pain"].isna()
            assert (
                n("follow-up", "lost to follow-up", str(arm), visit)
                == (lost.to_numpy() & missing.to_numpy()).sum()
            )
        at18 = data[(data["arm"] == arm) & (data["visit"] == "week 18")]
        assert n("analysis", "analysed", str(arm), "week 18") == at18["pain"].notna().sum()
        assert (
            n(
                "analysis",
                "excluded from analysis",
                str(arm),
                "week 18",
                "no primary outcome at week 18",
            )
            == at18["pain"].isna().sum()
        )
    # the analysis module's own CONSORT agrees on the analysed counts
    flow = analyze(_table(trial)).consort
    assert flow.loc[flow.stage == "randomised", "n"].item() == 276


def test_consort_counts_with_an_arm_not_yet_randomised(trial: dict[str, Any]) -> None:
    """Early in a trial one arm may have nobody yet: counts are zero, not an error."""
    p, r, proto = trial["participants"], trial["responses"], trial["protocol"]
    first = p[p["arm"].notna()].iloc[:1]  # a single randomised participant
    c = consort_counts(first, r[r["participant_id"].isin(first["participant_id"])], proto)
    other = next(a.name for a in proto.arms if a.name != first["arm"].iloc[0])
    allocated = c[(c.stage == "allocation") & (c.arm == other) & (c.measure == "allocated")]
    assert int(allocated["n"].item()) == 0
    followed = c[(c.stage == "follow-up") & (c.arm == other)]
    assert len(followed) > 0 and (followed["n"] == 0).all()
