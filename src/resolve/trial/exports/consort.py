"""CONSORT 2010/2025 participant flow counts from live trial data (``consort.csv``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from resolve.trial.exports._contract import (
    RandomisedInError,
    check_in_error_option,
    check_participants,
    is_empty,
    plan_or_default,
    reasons_of,
)
from resolve.trial.exports.analysis import analysis_table, analysis_visits
from resolve.trial.protocol import Protocol

if TYPE_CHECKING:
    from resolve.analysis.plan import Plan

__all__ = ["consort_counts"]


def consort_counts(
    participants: pd.DataFrame,
    responses: pd.DataFrame,
    protocol: Protocol,
    *,
    plan: Plan | None = None,
    visit_map: Mapping[str, str] | None = None,
    randomised_in_error: RandomisedInError = "include",
) -> pd.DataFrame:
    """CONSORT 2010/2025 flow counts from live data.

    Parameters
    ----------
    participants, responses, protocol, plan, visit_map, randomised_in_error
        As :func:`~resolve.trial.exports.analysis_table` (the plan's outcomes need
        their ``source``: the follow-up counts use the primary outcome).

    Returns
    -------
    pandas.DataFrame
        Columns ``stage, arm, visit, measure, reason, n`` (``arm`` is ``"all"``
        on enrolment rows; ``visit`` and ``reason`` are empty strings when they do
        not apply). Rows in flow order:

        - ``enrolment``: ``assessed for eligibility`` (every participant row);
          ``excluded`` (assessed minus randomised), split into the mutually
          exclusive ``not meeting inclusion criteria`` (eligible is false), then
          one row per reason (``reason`` set; a person may have several),
          ``eligibility not determined`` (eligible empty), ``declined to
          participate`` (eligible, not consented), ``other reasons`` (consented,
          not randomised); ``randomised``.
        - ``allocation`` (per arm): ``allocated``; ``randomised in error``.
        - ``follow-up`` (per arm x follow-up analysis visit): mutually exclusive
          ``assessed`` (primary outcome present at the visit), ``withdrawn``
          (no outcome; withdrawn on or before the visit's target date =
          randomisation + week x 7 days, or status ``withdrawn`` without a date),
          ``lost to follow-up`` (likewise with ``lost_at`` / status ``lost``) and
          ``missed visit`` (no outcome otherwise); they sum to ``allocated``.
        - ``analysis`` (per arm, primary visit): ``analysed`` (primary outcome
          present at the primary visit, and not excluded as randomised in error),
          ``excluded from analysis`` with reason ``no primary outcome at <visit>``
          and (when ``randomised_in_error="exclude"``) ``randomised in error``.

    Examples
    --------
    >>> from resolve.trial.exports._contract import example_frames
    >>> c = consort_counts(*example_frames())
    >>> c[c.stage == "enrolment"][["measure", "reason", "n"]].values.tolist()[1:4]
    [['excluded', '', 1], ['not meeting inclusion criteria', '', 1], \
['not meeting inclusion criteria', 'age 72 is above 70', 1]]
    >>> c[(c.arm == "sham") & (c.visit == "week 18")][["measure", "n"]].values.tolist()[:2]
    [['assessed', 1], ['withdrawn', 0]]
    """
    check_in_error_option(randomised_in_error)
    pl = plan_or_default(plan)
    parts = check_participants(participants)
    table = analysis_table(
        participants,
        responses,
        protocol,
        plan=pl,
        visit_map=visit_map,
        randomised_in_error="include",
    )
    primary = next((o for o in pl.outcomes if o.role == "primary"), pl.outcomes[0]).column
    t = pl.trial
    rows: list[tuple[str, str, str, str, str, int]] = []

    def add(stage: str, arm: str, visit: str, measure: str, reason: str, n: Any) -> None:
        rows.append((stage, arm, visit, measure, reason, int(n)))

    rand = parts["_randomised"]
    elig = parts["eligible"]
    elig_known = ~elig.map(is_empty)
    elig_true = elig_known & elig.map(lambda v: bool(v) if not is_empty(v) else False)
    consented = parts["consented_at"].notna()
    not_rand = ~rand
    ineligible = not_rand & elig_known & ~elig_true
    add("enrolment", "all", "", "assessed for eligibility", "", len(parts))
    add("enrolment", "all", "", "excluded", "", not_rand.sum())
    add("enrolment", "all", "", "not meeting inclusion criteria", "", ineligible.sum())
    counts: dict[str, int] = {}
    for value in parts.loc[ineligible, "ineligible_reasons"]:
        for reason in dict.fromkeys(reasons_of(value)):
            counts[reason] = counts.get(reason, 0) + 1
    for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        add("enrolment", "all", "", "not meeting inclusion criteria", reason, n)
    add("enrolment", "all", "", "eligibility not determined", "", (not_rand & ~elig_known).sum())
    add(
        "enrolment",
        "all",
        "",
        "declined to participate",
        "",
        (not_rand & elig_true & ~consented).sum(),
    )
    add("enrolment", "all", "", "other reasons", "", (not_rand & elig_true & consented).sum())
    add("enrolment", "all", "", "randomised", "", rand.sum())

    seen_arms = sorted(set(parts.loc[rand, "_arm"]) - set(pl.trial.arms))
    arms = [a for a in pl.trial.arms] + seen_arms
    randp = parts[rand]
    for arm in arms:
        at = randp[randp["_arm"] == arm]
        add("allocation", arm, "", "allocated", "", len(at))
        add("allocation", arm, "", "randomised in error", "", at["_in_error"].sum())

    vmap = analysis_visits(protocol, pl, visit_map)
    weeks = {v.name: float(v.week) for v in protocol.visits}
    label_week = {lab: weeks[name] for name, lab in vmap.items()}
    has = table.assign(_has=table[primary].notna()).set_index([t.subject, t.visit])["_has"]
    follow = [
        lab for lab in pl.trial.visits if lab in label_week and lab != pl.trial.baseline_visit
    ]
    for arm in arms:
        at = randp[randp["_arm"] == arm]
        for lab in follow:
            target = at["randomised_at"] + pd.to_timedelta(label_week[lab] * 7, unit="D")
            got = np.array(
                [bool(has.get((pid, lab), False)) for pid in at["participant_id"]], dtype=bool
            )
            withdrawn = (
                (at["withdrawn_at"].notna() & (at["withdrawn_at"] <= target))
                | (at["withdrawn_at"].notna() & at["randomised_at"].isna())
                | (at["withdrawn_at"].isna() & (at["_status"] == "withdrawn"))
            )
            lost = (
                (at["lost_at"].notna() & (at["lost_at"] <= target))
                | (at["lost_at"].notna() & at["randomised_at"].isna())
                | (at["lost_at"].isna() & (at["_status"] == "lost"))
            )
            w = ~got & withdrawn.to_numpy()
            lo = ~got & ~w & lost.to_numpy()
            add("follow-up", arm, lab, "assessed", "", got.sum())
            add("follow-up", arm, lab, "withdrawn", "", w.sum())
            add("follow-up", arm, lab, "lost to follow-up", "", lo.sum())
            add("follow-up", arm, lab, "missed visit", "", (~got & ~w & ~lo).sum())

    pv = pl.trial.primary_visit
    for arm in arms:
        at = randp[randp["_arm"] == arm]
        got = np.array(
            [bool(has.get((pid, pv), False)) for pid in at["participant_id"]], dtype=bool
        )
        err = (
            at["_in_error"].to_numpy()
            if randomised_in_error == "exclude"
            else np.zeros(len(at), bool)
        )
        add("analysis", arm, pv, "analysed", "", (got & ~err).sum())
        add(
            "analysis",
            arm,
            pv,
            "excluded from analysis",
            f"no primary outcome at {pv}",
            (~got & ~err).sum(),
        )
        if randomised_in_error == "exclude":
            add("analysis", arm, pv, "excluded from analysis", "randomised in error", err.sum())
    out = pd.DataFrame(rows, columns=["stage", "arm", "visit", "measure", "reason", "n"])
    out["n"] = out["n"].astype("int64")
    return out
