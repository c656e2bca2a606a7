"""The analysis table: the long table ``resolve analyze`` reads, from live trial data.

Which instrument score fills which analysis column is declared by the analysis
plan, not here: each ``[[outcomes]]`` and ``[[modifiers]]`` table of the plan
names its ``source`` (``"<instrument id>.<score>"``; docs/analysis-plan.md).
Outcomes are read at every analysis visit, modifiers at the baseline visit. The
bundled RESOLVE plan declares ``pain`` = ``nrs.total``, ``rmdq`` =
``rmdq24.total`` and its eight modifiers (:func:`analysis_sources`).

Visit mapping (protocol visit -> analysis plan visit label)
    A plan visit label (``baseline``, ``week 12``, ``week 18``, ``week 26``,
    ``week 52``) is taken by the protocol visit whose name, normalised (lower case,
    ``_`` and ``-`` as spaces, ``wk`` as ``week``, a space between ``week`` and its
    number), equals it. A label that no name matches falls back to the one protocol
    visit with the label's week (``baseline`` = week 0) that collects the primary
    outcome's instrument (its ``source``, ``nrs`` in RESOLVE) and is not a screening
    or session visit; with zero or several candidates the label is left out.
    ``visit_map`` overrides the rule. Other protocol visits (screening, the weekly
    sessions) are not analysis visits; their data appear in the item-level and
    REDCap files only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from resolve._validation import show_values
from resolve.errors import DataValidationError
from resolve.trial.exports._contract import (
    RandomisedInError,
    check_in_error_option,
    check_participants,
    check_responses,
    is_empty,
    number,
    plan_or_default,
    scores_of,
)
from resolve.trial.protocol import Protocol

if TYPE_CHECKING:
    from resolve.analysis.plan import Plan

__all__ = ["PARTICIPANT_VALUES", "analysis_sources", "analysis_table", "analysis_visits"]

#: Columns of ``analysis.csv`` taken from ``participants`` (after the plan's columns).
#: A modifier with one of these columns needs no ``source``.
PARTICIPANT_VALUES = ("age", "sex", "site", "stratum")


@dataclass(frozen=True)
class _Read:
    """One analysis column read from an instrument score."""

    where: str  # "[[outcomes]] 'pain'": how messages name the plan entry
    column: str
    instrument: str
    score: str
    baseline: bool  # a modifier: read at the baseline visit only
    binary: bool  # a binary modifier: a yes/no category becomes 1/0


def _reads(pl: Plan) -> list[_Read]:
    """The plan's declared sources, outcomes first; refuses a needed one missing."""
    reads: list[_Read] = []
    missing: list[str] = []
    for o in pl.outcomes:
        where = f"[[outcomes]] {o.name!r}"
        if o.source is None:
            missing.append(where)
        else:
            reads.append(_Read(where, o.column, *o.source, baseline=False, binary=False))
    for m in pl.modifiers:
        where = f"[[modifiers]] {m.name!r}"
        if m.source is None:
            if m.column not in PARTICIPANT_VALUES:
                missing.append(where)
        else:
            reads.append(_Read(where, m.column, *m.source, True, m.type == "binary"))
    if missing:
        raise DataValidationError(
            f"{pl.source}: no key 'source' in {', '.join(missing)}; the trial export reads "
            'each analysis column from its "<instrument id>.<score>" (docs/analysis-plan.md)'
        )
    return reads


def _columns(pl: Plan, reads: list[_Read]) -> list[str]:
    t = pl.trial
    named = [
        (t.subject, "[trial] subject"),
        (t.arm, "[trial] arm"),
        (t.visit, "[trial] visit"),
        ("week", "the export's visit week"),
        *((r.column, r.where) for r in reads),
        *((c, "a participant value of the export") for c in PARTICIPANT_VALUES),
    ]
    seen: dict[str, str] = {}
    for column, what in named:
        if column in seen:
            raise DataValidationError(
                f"{pl.source}: column {column!r} of {what} is also {seen[column]}; "
                "the trial export cannot fill it twice"
            )
        seen[column] = what
    return list(seen)


def analysis_sources(plan: Plan | None = None) -> dict[str, tuple[str, str]]:
    """Analysis column -> (instrument id, score name), as the plan declares them.

    Parameters
    ----------
    plan : Plan, optional
        Default: the bundled RESOLVE analysis plan.

    Returns
    -------
    dict
        Outcome columns (read at every analysis visit), then modifier columns (read
        at baseline), for those whose plan entry has a ``source``.

    Examples
    --------
    >>> s = analysis_sources()
    >>> s["pain"], s["tsk"], s["psychoactive"]
    (('nrs', 'total'), ('tsk17', 'total'), ('psychoactive_medication', 'psychoactive'))
    """
    pl = plan_or_default(plan)
    out: dict[str, tuple[str, str]] = {}
    for column, source in [
        *((o.column, o.source) for o in pl.outcomes),
        *((m.column, m.source) for m in pl.modifiers),
    ]:
        if source is not None:
            out.setdefault(column, source)
    return out


def _label(name: str) -> str:
    text = re.sub(r"[_\-\s]+", " ", name.strip().lower())
    text = re.sub(r"\bwk\b", "week", text)
    return re.sub(r"\bweek\s*(\d+)", r"week \1", text)


def _label_week(label: str) -> float | None:
    if label == "baseline":
        return 0.0
    m = re.fullmatch(r"week (\d+(?:\.\d+)?)", label)
    return float(m.group(1)) if m else None


def _primary_instrument(pl: Plan, label: str) -> str:
    primary = next((o for o in pl.outcomes if o.role == "primary"), pl.outcomes[0])
    if primary.source is None:
        raise DataValidationError(
            f"{pl.source}: no key 'source' in [[outcomes]] {primary.name!r}; the trial export "
            f"needs its instrument to find the protocol visit of plan visit {label!r} by week "
            "(or pass visit_map)"
        )
    return primary.source[0]


def analysis_visits(
    protocol: Protocol, plan: Plan | None = None, visit_map: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map protocol visit names to the plan's visit labels (see the module notes).

    Parameters
    ----------
    protocol : Protocol
    plan : Plan, optional
        Default: the bundled RESOLVE analysis plan.
    visit_map : mapping of protocol visit name to plan visit label, optional
        Explicit mapping; replaces the rule.

    Returns
    -------
    dict
        Protocol visit name -> plan visit label, in plan visit order.

    Raises
    ------
    DataValidationError
        An unknown name in ``visit_map``, two visits mapped to one label, or a label
        to map by week when the primary outcome declares no ``source``.

    Examples
    --------
    >>> from resolve.trial.protocol import load_protocol
    >>> analysis_visits(load_protocol())
    {'baseline': 'baseline', 'week 12': 'week 12', 'week 18': 'week 18', \
'week 26': 'week 26', 'week 52': 'week 52'}
    """
    pl = plan_or_default(plan)
    labels = pl.trial.visits
    names = [v.name for v in protocol.visits]
    if visit_map is not None:
        bad_names = sorted(set(visit_map) - set(names))
        bad_labels = sorted(set(visit_map.values()) - set(labels))
        if bad_names or bad_labels:
            raise DataValidationError(
                "visit_map: "
                + "; ".join(
                    s
                    for s in (
                        f"unknown protocol visit(s) {show_values(bad_names)}" if bad_names else "",
                        f"unknown plan visit(s) {show_values(bad_labels)}" if bad_labels else "",
                    )
                    if s
                )
            )
        if len(set(visit_map.values())) != len(visit_map):
            raise DataValidationError("visit_map: two protocol visits map to one plan visit")
        order = {lab: k for k, lab in enumerate(labels)}
        return dict(sorted(visit_map.items(), key=lambda kv: order[kv[1]]))
    out: dict[str, str] = {}
    taken: set[str] = set()
    for label in labels:
        hit = [v.name for v in protocol.visits if _label(v.name) == label and v.name not in taken]
        if not hit:
            week = _label_week(label)
            instrument = _primary_instrument(pl, label)
            hit = [
                v.name
                for v in protocol.visits
                if week is not None
                and float(v.week) == week
                and instrument in v.instruments
                and getattr(v, "kind", "") not in ("screening", "session")
                and v.name not in taken
            ]
        if len(hit) == 1:
            out[hit[0]] = label
            taken.add(hit[0])
    return out


def _binary(raw: Any, what: str) -> float:
    """A binary modifier's value: a yes/no category (``"yes"``/``"1"`` = 1) or a number."""
    if is_empty(raw):
        return math.nan
    if isinstance(raw, str):
        return float(raw.strip().lower() in ("yes", "1"))
    return number(raw, what)


def analysis_table(
    participants: pd.DataFrame,
    responses: pd.DataFrame,
    protocol: Protocol,
    *,
    plan: Plan | None = None,
    visit_map: Mapping[str, str] | None = None,
    randomised_in_error: RandomisedInError = "include",
) -> pd.DataFrame:
    """The long table ``resolve analyze`` reads, from live trial data.

    Parameters
    ----------
    participants, responses : pandas.DataFrame
        See :mod:`resolve.trial.exports` for their columns.
    protocol : Protocol
    plan : Plan, optional
        Analysis plan (default: the RESOLVE plan): its visit labels, its design
        columns and the ``source`` of each outcome and modifier.
    visit_map : mapping, optional
        Protocol visit name -> plan visit label (default: :func:`analysis_visits`).
    randomised_in_error : {"include", "exclude"}
        ``"include"`` (default, strict intention to treat): participants with status
        ``randomised in error`` stay in the table under their allocated arm.
        ``"exclude"`` drops them (defensible only when the decision was made blind
        to allocation and outcome, Fergusson et al., BMJ 2002).

    Returns
    -------
    pandas.DataFrame
        One row per randomised participant x analysis visit (every visit the
        mapping yields, in plan order, even when nothing was recorded), sorted by
        participant (in ``participants`` order) then visit. Columns: the plan's
        subject, arm (allocated arm) and visit (plan label) columns, ``week``,
        each outcome column (its source score at that visit), each modifier
        column (its source score at baseline, repeated on every row; a binary
        modifier's yes/no category as 1/0), then ``age``, ``sex``, ``site``,
        ``stratum``. With the RESOLVE plan: ``id, arm, visit, week, pain, rmdq,
        pseq, pcs, pain_baseline, psychoactive, frebaq, tsk, rmdq_baseline, bbq,
        age, sex, site, stratum``. Missing values stay missing (NaN), never 0;
        withdrawn and lost participants keep their rows.

    Raises
    ------
    DataValidationError
        A missing column, duplicate participant or response, an unknown visit or
        participant in ``responses``, a randomised participant without an arm, or
        a plan outcome or modifier without a ``source``.
    UnknownNameError
        An unknown instrument id.

    Examples
    --------
    >>> from resolve.trial.exports._contract import example_frames
    >>> participants, responses, protocol = example_frames()
    >>> t = analysis_table(participants, responses, protocol)
    >>> t[["id", "visit", "pain", "pain_baseline", "psychoactive"]].head(2).values.tolist()
    [['P01', 'baseline', 6.0, 6.0, 1.0], ['P01', 'week 12', nan, 6.0, 1.0]]
    """
    check_in_error_option(randomised_in_error)
    pl = plan_or_default(plan)
    reads = _reads(pl)
    columns = _columns(pl, reads)
    parts = check_participants(participants)
    resp = check_responses(responses, protocol, parts["participant_id"])
    vmap = analysis_visits(protocol, pl, visit_map)
    weeks = {v.name: float(v.week) for v in protocol.visits}
    chosen = parts[parts["_randomised"]]
    if randomised_in_error == "exclude":
        chosen = chosen[~chosen["_in_error"]]
    needed = sorted({r.instrument for r in reads})
    resp = resp[resp["visit"].isin(list(vmap)) & resp["instrument"].isin(needed)]
    resp = resp[resp["participant_id"].isin(set(chosen["participant_id"]))]
    value: dict[tuple[str, str, str], Any] = {}
    for rec in resp.to_dict("records"):
        what = f"responses: {rec['participant_id']} {rec['visit']} {rec['instrument']}"
        scores = scores_of(rec, what)
        for r in reads:
            if r.instrument == rec["instrument"]:
                value[(rec["participant_id"], rec["visit"], r.column)] = scores.get(r.score)
    baseline_names = [n for n, lab in vmap.items() if lab == pl.trial.baseline_visit]
    base = baseline_names[0] if baseline_names else None
    outcomes = [r for r in reads if not r.baseline]
    modifiers = [r for r in reads if r.baseline]
    t = pl.trial
    rows: list[dict[str, Any]] = []
    for p in chosen.to_dict("records"):
        pid = p["participant_id"]
        mods: dict[str, float] = {}
        for r in modifiers:
            raw = value.get((pid, base, r.column)) if base is not None else None
            what = f"responses: {pid} {base} {r.instrument} score {r.score!r}"
            mods[r.column] = _binary(raw, what) if r.binary else number(raw, what)
        for name, label in vmap.items():
            row: dict[str, Any] = {t.subject: pid, t.arm: p["_arm"], t.visit: label}
            row["week"] = weeks[name]
            for r in outcomes:
                what = f"responses: {pid} {name} {r.instrument} score {r.score!r}"
                row[r.column] = number(value.get((pid, name, r.column)), what)
            row.update(mods)
            row["age"] = number(p["age"], f"participants: {pid} age")
            for col in ("sex", "site", "stratum"):
                row[col] = None if is_empty(p[col]) else str(p[col])
            rows.append(row)
    table = pd.DataFrame(rows, columns=columns)
    for col in ("week", *(r.column for r in reads), "age"):
        table[col] = table[col].astype(float)
    for col in (t.subject, t.arm, t.visit, "sex", "site", "stratum"):
        table[col] = table[col].astype(object)
    return table
