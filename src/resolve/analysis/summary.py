"""A plain-language reading of the results, generated from the numbers.

:func:`plain_summary` turns the primary model's table, the responder analysis and
the effect-modifier analysis into short sentences a reader can check against the
tables: for each outcome, follow-up visit and contrast, whether the difference is
statistically significant at the plan's level, the estimate and its confidence
interval in words, and, when the plan gives a minimal clinically important
difference (MCID), where the interval lies relative to it
(:func:`compare_to_mcid`); the responder headline at the primary visit; and a
reminder that effect-modifier findings are exploratory, naming any that met the
credibility rule (:func:`credible_keys`).  Nothing is written about a trial in
particular: every number and name comes from the tables and the plan.

Examples
--------
>>> compare_to_mcid(-1.5, -0.4, 1.0, "worse")
'includes_benefit'
>>> compare_to_mcid(-2.5, -1.2, 1.0, "worse")
'important_benefit'
>>> compare_to_mcid(-0.6, 0.4, 1.0, "worse")
'excludes'
"""

from __future__ import annotations

import math
from typing import Any, Literal

import pandas as pd

from resolve.analysis.descriptive import format_number, format_p
from resolve.analysis.plan import OutcomeSpec, Plan

__all__ = [
    "McidReading",
    "compare_to_mcid",
    "contrast_column",
    "credible_keys",
    "is_credible",
    "plain_summary",
    "summary_sections",
]

McidReading = Literal[
    "important_benefit",
    "includes_benefit",
    "includes_both",
    "excludes",
    "includes_harm",
    "important_harm",
]


def compare_to_mcid(low: float, high: float, mcid: float, higher_is: str) -> McidReading:
    """Where a confidence interval of a difference lies relative to the MCID.

    The interval (arm minus comparator) is turned to the benefit scale (sign
    flipped when higher is worse) and compared with ``+mcid`` (benefit) and
    ``-mcid`` (difference of the same size favouring the comparator); the
    interval is closed, so a limit equal to the MCID *includes* it.

    Parameters
    ----------
    low, high : float
        Confidence limits of the difference, arm minus comparator.
    mcid : float
        Minimal clinically important difference (> 0, outcome units).
    higher_is : {"worse", "better"}
        The outcome's direction.

    Returns
    -------
    str
        ``"important_benefit"`` (the whole interval is beyond the MCID in favour
        of the arm), ``"includes_benefit"`` (contains the MCID in favour of the arm
        but not the opposite one), ``"includes_both"`` (contains both),
        ``"excludes"`` (lies strictly between them), ``"includes_harm"`` and
        ``"important_harm"`` (the same in favour of the comparator).

    Examples
    --------
    >>> compare_to_mcid(-2.0, -1.0, 1.0, "worse")  # limit on the MCID: included
    'includes_benefit'
    >>> compare_to_mcid(0.2, 1.4, 1.0, "better"), compare_to_mcid(1.1, 3.0, 1.0, "worse")
    ('includes_benefit', 'important_harm')
    """
    sign = -1.0 if higher_is == "worse" else 1.0
    b_low, b_high = sorted((sign * low, sign * high))
    benefit = b_low <= mcid <= b_high
    harm = b_low <= -mcid <= b_high
    if benefit and harm:
        return "includes_both"
    if benefit:
        return "includes_benefit"
    if harm:
        return "includes_harm"
    if b_low > mcid:
        return "important_benefit"
    if b_high < -mcid:
        return "important_harm"
    return "excludes"


def is_credible(value: Any) -> bool:
    """The credibility rule: a rating of moderate or high credibility.

    A text rating counts when it contains "moderate", "high" or "intermediate"
    ("low" and "very low" do not); a numeric rating on a 0-1 or 0-100 scale
    counts from the midpoint up.

    Examples
    --------
    >>> is_credible("high"), is_credible("very low"), is_credible(0.7), is_credible(20)
    (True, False, True, False)
    """
    if isinstance(value, str):
        v = value.lower()
        return any(w in v for w in ("moderate", "high", "intermediate"))
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float) and not math.isnan(float(value)):
        return float(value) >= (0.5 if float(value) <= 1 else 50)
    return False


def credible_keys(credibility: pd.DataFrame | None) -> set[tuple[str, str, str, str]]:
    """``(modifier, outcome, visit, contrast)`` of the findings meeting :func:`is_credible`.

    ``contrast`` is ``""`` when the table has no ``contrast`` column.

    Examples
    --------
    >>> frame = pd.DataFrame({"modifier": ["a", "b"], "outcome": ["pain"] * 2,
    ...                       "visit": ["week 18"] * 2, "credibility": ["high", "low"]})
    >>> credible_keys(frame)
    {('a', 'pain', 'week 18', '')}
    """
    if credibility is None or credibility.empty or "credibility" not in credibility:
        return set()
    out = set()
    has_contrast = "contrast" in credibility.columns
    for _, r in credibility.iterrows():
        if is_credible(r["credibility"]):
            contrast = str(r["contrast"]) if has_contrast else ""
            out.add((str(r["modifier"]), str(r["outcome"]), str(r["visit"]), contrast))
    return out


# ----------------------------------------------------------------------------- wording
def _label(outcome: OutcomeSpec) -> str:
    """The outcome label for use inside a sentence (a leading capital is lowered
    unless the word is an acronym)."""
    text = outcome.label
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _p_words(p: float) -> str:
    text = format_p(p)
    if not text:
        return "P not available"
    return f"P {text[0]} {text[1:]}" if text[0] in "<>" else f"P = {text}"


def _arms_of(contrast: str, plan: Plan) -> tuple[str, str]:
    """``(arm, comparator)`` of a contrast label ``"arm - comparator"``."""
    for a in plan.trial.arms:
        for b in plan.trial.arms:
            if a != b and contrast == f"{a} - {b}":
                return a, b
    left, _, right = contrast.partition(" - ")
    return left, right


def contrast_column(frame: pd.DataFrame, plan: Plan) -> pd.Series:
    """Each row's contrast (``"arm - comparator"``); a table without the column (written
    before contrasts were labelled) is the first non-reference arm minus the reference.

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> contrast_column(pd.DataFrame({"visit": ["week 18"]}), load_plan()).tolist()
    ['resolve - sham']
    """
    if "contrast" in frame.columns:
        return frame["contrast"].astype(str)
    t = plan.trial
    first = next(a for a in t.arms if a != t.reference_arm)
    return pd.Series(f"{first} - {t.reference_arm}", index=frame.index)


_MCID_WORDS: dict[str, str] = {
    "important_benefit": (
        "the whole {ci} lies beyond the minimal clinically important difference (MCID) of "
        "{mcid} in favour of {arm}, so the average benefit is clinically important"
    ),
    "includes_benefit": (
        "the {ci} includes the minimal clinically important difference (MCID) of {mcid}, so a "
        "clinically important average benefit of {arm} is neither shown nor excluded"
    ),
    "includes_both": (
        "the {ci} includes the minimal clinically important difference (MCID) of {mcid} in "
        "both directions, so a clinically important average difference is not excluded "
        "either way"
    ),
    "excludes": (
        "the {ci} excludes the minimal clinically important difference (MCID) of {mcid} in "
        "both directions, so a clinically important average difference is excluded"
    ),
    "includes_harm": (
        "the {ci} includes the minimal clinically important difference (MCID) of {mcid} in "
        "favour of {comparator}, so a clinically important average difference favouring "
        "{comparator} is neither shown nor excluded"
    ),
    "important_harm": (
        "the whole {ci} lies beyond the minimal clinically important difference (MCID) of "
        "{mcid} in favour of {comparator}, so the average difference favouring "
        "{comparator} is clinically important"
    ),
}


def _difference_sentence(
    row: pd.Series, outcome: OutcomeSpec, plan: Plan, contrast: str, *, compact: bool = False
) -> str:
    """One visit's difference in words; ``compact`` leaves out what the topic says."""
    t = plan.trial
    level = plan.analysis.conf_level
    pct = f"{100 * level:g}%"
    alpha = f"{100 * (1 - level):g}%"
    arm, comparator = _arms_of(contrast, plan)
    est, low, high, p = (float(row[c]) for c in ("estimate", "conf_low", "conf_high", "p_value"))
    visit = str(row["visit"])
    where = f"At {visit}" + (
        " (the primary visit)" if visit == t.primary_visit and outcome.role == "primary" else ""
    )
    if not all(math.isfinite(v) for v in (est, low, high)):
        return f"{where}, no difference in {_label(outcome)} could be estimated for {contrast}."
    ci = f"{format_number(low)} to {format_number(high)}"
    if compact:
        text = f"{where}: {format_number(est)} ({pct} CI {ci}), "
        significant, not_significant = "statistically significant", "not statistically significant"
    else:
        text = (
            f"{where}, the difference in {_label(outcome)}, {arm} minus {comparator}, "
            f"{format_number(est)} ({pct} CI {ci}), "
        )
        significant = f"was statistically significant at the {alpha} level"
        not_significant = f"was not statistically significant at the {alpha} level"
    if math.isfinite(p) and p < 1 - level:
        benefit = est < 0 if outcome.higher_is == "worse" else est > 0
        text += f"{significant} ({_p_words(p)}), favouring {arm if benefit else comparator}"
    else:
        text += f"{not_significant} ({_p_words(p)})"
    if outcome.mcid is not None and outcome.mcid > 0:
        reading = compare_to_mcid(low, high, outcome.mcid, outcome.higher_is)
        words = _MCID_WORDS[reading].format(
            ci="CI", mcid=f"{outcome.mcid:g}", arm=arm, comparator=comparator
        )
        if compact:
            words = words.replace(
                f"the minimal clinically important difference (MCID) of {outcome.mcid:g}",
                "the MCID",
            )
        text += "; " + words
    return text + "."


def _percent(x: float) -> str:
    return f"{format_number(100 * x)}%"


def _responder_sentences(responders: pd.DataFrame | None, plan: Plan) -> list[tuple[str, str, str]]:
    """(visit, full sentence, compact sentence) per definition and contrast."""
    out: list[tuple[str, str, str]] = []
    if responders is None or responders.empty:
        return out
    level = plan.analysis.conf_level
    pct = f"{100 * level:g}%"
    for name in dict.fromkeys(responders["responder"].astype(str)):
        part = responders[responders["responder"].astype(str) == name]
        visits = list(dict.fromkeys(part["visit"].astype(str)))
        visit = plan.trial.primary_visit if plan.trial.primary_visit in visits else visits[-1]
        for _, r in part[part["visit"].astype(str) == visit].iterrows():
            arm, comp = str(r["arm"]), str(r["comparator"])
            rd, lo, hi = (float(r[c]) for c in ("risk_difference", "conf_low", "conf_high"))
            if not all(math.isfinite(v) for v in (rd, lo, hi)):
                continue
            shares = (
                f"{_percent(float(r['proportion_arm']))} of {arm} "
                f"({int(r['responders_arm'])}/{int(r['n_arm'])}) and "
                f"{_percent(float(r['proportion_comparator']))} of {comp} "
                f"({int(r['responders_comparator'])}/{int(r['n_comparator'])})"
            )
            diff = (
                f"risk difference {format_number(100 * rd)} percentage points ({pct} CI "
                f"{format_number(100 * lo)} to {format_number(100 * hi)}"
            )
            method = str(r["ci_method"]).replace(" (", " ").replace(")", "")
            if str(r.get("nnt_type", "")) in ("NNTB", "NNTH"):
                kind = "benefit" if r["nnt_type"] == "NNTB" else "harm"
                numbers = (
                    f"{format_number(float(r['nnt']))} ({pct} CI "
                    f"{format_number(float(r['nnt_low']))} to "
                    f"{format_number(float(r['nnt_high']))})"
                )
                nnt_full = f"; number needed to treat to {kind} ({r['nnt_type']}) {numbers}"
                nnt_short = f"; {r['nnt_type']} {numbers}"
            else:
                nnt_full = "; the CI includes 0, so a number needed to treat is not meaningful"
                nnt_short = "; CI includes 0, NNT not meaningful"
            full = (
                f"Responders ({r['label']}) at {visit}, observed cases: {shares}; "
                f"{diff}; {method}){nnt_full}."
            )
            compact = f"{r['label']}: {shares}; {diff}){nnt_short}."
            out.append((visit, full, compact))
    return out


#: What "credible" means, wherever the summary says it.
_CRED_WORDS = (
    "moderate or high credibility: ICEMAN (Schandelmaier et al., CMAJ 2020) core items; "
    "overall rating by this project's documented rule"
)


def _modifier_sentence(modifiers: Any, plan: Plan) -> str | None:
    if modifiers is None or modifiers.table is None or modifiers.table.empty:
        return None
    table = modifiers.table
    thr = plan.effect_modification.exploratory_p
    n_rows = len(table)
    n_expl = int((pd.to_numeric(table["p_value"]) < thr).sum())
    n_mod = table["modifier"].nunique()
    several = "contrast" in table.columns and table["contrast"].nunique() > 1
    mods = f"{n_mod} candidate modifier{'s' if n_mod != 1 else ''}"
    text = (
        f"The effect-modification analyses are exploratory: of {n_rows} treatment-by-modifier "
        f"interactions ({mods}), {n_expl} had P < {thr:g}, the plan's "
        "threshold for exploratory evidence"
    )
    keys = credible_keys(getattr(modifiers, "credibility", None))
    if not keys:
        return text + f"; none met the credibility rule ({_CRED_WORDS})."
    labels = dict(zip(table["modifier"].astype(str), table["label"].astype(str), strict=False))
    outcomes = {o.name: _label(o) for o in plan.outcomes}
    visit_order = {v: k for k, v in enumerate(plan.trial.visits)}
    found = []
    for mod, outcome, visit, contrast in sorted(
        keys, key=lambda k: (k[1], visit_order.get(k[2], 99), k[0], k[3])
    ):
        hit = table[
            (table["modifier"].astype(str) == mod)
            & (table["outcome"].astype(str) == outcome)
            & (table["visit"].astype(str) == visit)
        ]
        if several and contrast:
            hit = hit[hit["contrast"].astype(str) == contrast]
        p = _p_words(float(hit["p_value"].iloc[0])) if not hit.empty else ""
        where = f"{outcomes.get(outcome, outcome)} at {visit}" + (
            f" ({contrast.replace(' - ', ' minus ')})" if several and contrast else ""
        )
        found.append(f"{labels.get(mod, mod)} on {where}" + (f", interaction {p}" if p else ""))
    return (
        text
        + f"; {len(found)} met the credibility rule ({_CRED_WORDS}): "
        + "; ".join(found)
        + ". Such findings need confirmation in an independent trial before they guide "
        "treatment."
    )


def _disagreement_sentence(
    plan: Plan, primary: pd.DataFrame, recommended: pd.DataFrame
) -> str | None:
    """Where the recommended model disagrees with the primary one, or None."""
    from resolve.analysis.primary import compare_models

    a = plan.analysis
    if primary.empty or recommended.empty:
        return None
    first = primary.assign(contrast=contrast_column(primary, plan))
    other = recommended.assign(contrast=contrast_column(recommended, plan))
    cmp = compare_models(first, other, conf_level=a.conf_level)
    hits = cmp[cmp["disagree"]]
    if hits.empty:
        return None
    pct = f"{100 * a.conf_level:g}%"
    labels = {o.name: _label(o) for o in plan.outcomes}
    several = cmp["contrast"].nunique() > 1

    def numbers(est: float, low: float, high: float, p: float, *, parens: bool = True) -> str:
        ci = f"{pct} CI {format_number(low)} to {format_number(high)}"
        return f"{format_number(est)}" + (f" ({ci})" if parens else f", {ci}") + f", {_p_words(p)}"

    parts = []
    for _, r in hits.iterrows():
        mine, theirs = (
            [float(r[f"{prefix}{c}"]) for c in ("estimate", "conf_low", "conf_high", "p_value")]
            for prefix in ("other_", "")
        )
        where = f"{labels.get(str(r['outcome']), str(r['outcome']))} at {r['visit']}"
        if several:
            where += f" ({str(r['contrast']).replace(' - ', ' minus ')})"
        parts.append(f"{where}: {numbers(*mine)} (primary model: {numbers(*theirs, parens=False)})")
    n = len(cmp)
    return (
        f"The plan's recommended model ({a.recommended}), chosen for its measured type-I error "
        f"and coverage, disagrees with the primary model ({a.primary}) at {len(hits)} of {n} "
        "visit comparison" + ("s" if n != 1 else "") + " (significance, estimate or standard "
        "error); there it gives " + "; ".join(parts) + "."
    )


def plain_summary(
    plan: Plan,
    primary: pd.DataFrame,
    *,
    responders: pd.DataFrame | None = None,
    modifiers: Any = None,
    recommended: pd.DataFrame | None = None,
) -> list[str]:
    """Plain-language sentences reading the results, generated from the tables.

    Parameters
    ----------
    plan : Plan
        Confidence level, outcome labels, directions and MCIDs, primary visit.
    primary : pandas.DataFrame
        The primary model's table (columns outcome, visit, estimate, conf_low,
        conf_high, p_value and, with several arms, contrast).
    responders : pandas.DataFrame, optional
        :func:`resolve.analysis.responders.responder_analysis`.
    modifiers : ModifierAnalysis, optional
        The effect-modifier analysis (``table`` and ``credibility``).
    recommended : pandas.DataFrame, optional
        The plan's recommended model's rows (:func:`resolve.analysis.primary.
        recommended_rows`) when it is not the primary model.

    Returns
    -------
    list of str
        For each outcome (primary outcome first), contrast and follow-up visit
        of ``primary`` (the primary outcome's primary visit first, then visits in
        plan order): the difference, its CI and whether it is statistically
        significant at level ``1 - conf_level``, in whose favour, and (when the
        outcome has an MCID) how the CI lies relative to the MCID
        (:func:`compare_to_mcid`).  Then, per responder definition and contrast at
        the primary visit (or the definition's last visit), the responder
        proportions, risk difference and NNT.  Last, the effect-modifier sentence:
        the number of interactions, how many reached the plan's exploratory
        threshold, and which (if any) met the credibility rule, with the reminder
        that they need confirmation.  With ``recommended``, after the differences: a
        sentence listing where the recommended model disagrees with the primary one
        (:func:`resolve.analysis.primary.compare_models`) and what it gives there.

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> primary = pd.DataFrame({"outcome": ["pain"], "visit": ["week 52"],
    ...     "contrast": ["resolve - sham"], "estimate": [-0.32], "conf_low": [-0.86],
    ...     "conf_high": [0.23], "p_value": [0.25]})
    >>> print(plain_summary(load_plan(), primary)[0])  # doctest: +NORMALIZE_WHITESPACE
    At week 52, the difference in pain intensity (NRS 0-10), resolve minus sham, −0.3
    (95% CI −0.9 to 0.2), was not statistically significant at the 5% level (P = .25);
    the CI excludes the minimal clinically important difference (MCID) of 1 in both
    directions, so a clinically important average difference is excluded.
    """
    topics = _topics(plan, primary, responders, modifiers, recommended)
    return [full for _, items in topics for full, _ in items]


def summary_sections(
    plan: Plan,
    primary: pd.DataFrame,
    *,
    responders: pd.DataFrame | None = None,
    modifiers: Any = None,
    recommended: pd.DataFrame | None = None,
) -> list[tuple[str, list[str]]]:
    """The same reading as :func:`plain_summary`, grouped by topic for a report.

    Returns
    -------
    list of (str, list of str)
        ``(topic, sentences)``: one topic per outcome and contrast (named, with
        the MCID when the plan gives one), then "Responders at <visit> (observed
        cases)", then "Effect modification (exploratory)".  The sentences leave
        out what the topic says (the outcome, the contrast, the MCID's value).

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> primary = pd.DataFrame({"outcome": ["pain"], "visit": ["week 18"],
    ...     "contrast": ["resolve - sham"], "estimate": [-0.95], "conf_low": [-1.49],
    ...     "conf_high": [-0.41], "p_value": [0.0006]})
    >>> topic, items = summary_sections(load_plan(), primary)[0]
    >>> print(topic)
    Pain intensity (NRS 0-10), resolve minus sham; minimal clinically important difference (MCID) 1
    >>> print(items[0])  # doctest: +NORMALIZE_WHITESPACE
    At week 18 (the primary visit): −0.9 (95% CI −1.5 to −0.4), statistically significant
    (P < .001), favouring resolve; the CI includes the MCID, so a clinically important average
    benefit of resolve is neither shown nor excluded.
    """
    return [
        (topic, [short for _, short in items])
        for topic, items in _topics(plan, primary, responders, modifiers, recommended)
    ]


def _topics(
    plan: Plan,
    primary: pd.DataFrame | None,
    responders: pd.DataFrame | None,
    modifiers: Any,
    recommended: pd.DataFrame | None = None,
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Topics with (full, compact) sentences."""
    topics: list[tuple[str, list[tuple[str, str]]]] = []
    order = {v: k for k, v in enumerate(plan.trial.visits)}
    outcomes = sorted(plan.outcomes, key=lambda o: o.role != "primary")
    if primary is not None and not primary.empty:
        frame = primary.assign(_contrast=contrast_column(primary, plan))
        contrast_order = list(dict.fromkeys(frame["_contrast"]))
        for o in outcomes:
            part = frame[frame["outcome"].astype(str) == o.name]
            for contrast in contrast_order:
                rows = part[part["_contrast"] == contrast]
                if rows.empty:
                    continue
                # the primary outcome's primary visit first, then visits in time order
                lead = plan.trial.primary_visit if o.role == "primary" else None
                rank = [-1 if v == lead else order.get(v, 99) for v in rows["visit"].astype(str)]
                rows = rows.assign(_v=rank).sort_values("_v")
                arm, comparator = _arms_of(contrast, plan)
                topic = f"{o.label}, {arm} minus {comparator}"
                if o.mcid is not None and o.mcid > 0:
                    topic += f"; minimal clinically important difference (MCID) {o.mcid:g}"
                items = [
                    (
                        _difference_sentence(r, o, plan, contrast),
                        _difference_sentence(r, o, plan, contrast, compact=True),
                    )
                    for _, r in rows.iterrows()
                ]
                topics.append((topic, items))
    if primary is not None and recommended is not None:
        sentence = _disagreement_sentence(plan, primary, recommended)
        if sentence is not None:
            topics.append(("Recommended analysis", [(sentence, sentence)]))
    by_visit: dict[str, list[tuple[str, str]]] = {}
    for visit, full, short in _responder_sentences(responders, plan):
        by_visit.setdefault(visit, []).append((full, short))
    for visit, items in by_visit.items():
        topics.append((f"Responders at {visit} (observed cases)", items))
    mod = _modifier_sentence(modifiers, plan)
    if mod is not None:
        topics.append(("Effect modification (exploratory)", [(mod, mod)]))
    return topics
