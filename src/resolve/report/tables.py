"""Report tables: JAMA-style number formatting and HTML tables.

Numbers follow the JAMA conventions: a true minus sign, "to" inside
confidence intervals, P values without a leading zero (``.03``, ``.004``,
``<.001``). Every HTML table has a caption, a ``<thead>`` with ``scope="col"``
headers and, where rows group by outcome, a spanning group row with
``scope="rowgroup"``. The CSV and JSON files of the same tables are written by
:func:`resolve.analysis.run.write_tables`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import Any

import pandas as pd

from resolve.analysis.descriptive import format_p

__all__ = [
    "contrast_text",
    "credibility_items_table",
    "credibility_table",
    "effect_table",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "frame_table",
    "modifier_table",
    "responders_table",
    "table1",
    "table2",
]

MINUS = "\u2212"


# ----------------------------------------------------------------------------- numbers
def _missing(x: Any) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return bool(math.isnan(float(x)))
    except (TypeError, ValueError):
        return False


def fmt_num(x: Any, digits: int = 1) -> str:
    """Format a number with ``digits`` decimals and a true minus sign ("—" if missing)."""
    if _missing(x):
        return "\u2014"
    text = f"{float(x):.{digits}f}"
    if float(text) == 0:  # no "-0.0"
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def fmt_ci(estimate: Any, low: Any, high: Any, digits: int = 1) -> str:
    """``"−1.2 (−1.8 to −0.6)"``: an estimate and its confidence interval."""
    if _missing(estimate):
        return "\u2014"
    return f"{fmt_num(estimate, digits)} ({fmt_num(low, digits)} to {fmt_num(high, digits)})"


def fmt_p(p: Any) -> str:
    """JAMA P value (:func:`resolve.analysis.descriptive.format_p`); text passes through."""
    if isinstance(p, str):
        return p or "\u2014"
    if _missing(p):
        return "\u2014"
    return format_p(float(p)) or "\u2014"


def _cell(value: Any) -> str:
    """Generic cell text of an arbitrary table value."""
    if _missing(value):
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return fmt_num(value, 0) if value.is_integer() and abs(value) < 1e6 else f"{value:.3g}"
    return str(value).replace("-", MINUS) if _is_number_text(str(value)) else str(value)


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sign(value: Any) -> str:
    return "\u2014" if _missing(value) else escape(str(value)).replace("-", MINUS)


def _header(name: str) -> str:
    return name.replace("_", " ").capitalize()


# ----------------------------------------------------------------------------- HTML
def scroll_box(what: str) -> str:
    """Attributes of a box that may scroll sideways (a wide table or figure on a phone): a
    named region reachable by keyboard, so it can be scrolled without a pointer."""
    return f'tabindex="0" role="region" aria-label="{escape(what)} (may scroll sideways)"'


def _table_name(caption: str) -> str:
    found = re.match(r"\s*(Table \d+)", caption)
    return found.group(1) if found else "Table"


def _table(
    caption: str,
    head: Sequence[str],
    groups: Iterable[tuple[str | None, list[list[str]]]],
    *,
    css: str = "",
    note: str = "",
    text_cols: int = 1,
    spans: Sequence[tuple[str, int]] = (),
) -> str:
    """Assemble an HTML table; ``groups`` yields (group label or None, rows of cell HTML).

    The first ``text_cols`` columns are left-aligned text; in a ``num`` table the
    others are right-aligned numbers.  ``spans`` adds a header row above ``head``
    of (label HTML, number of columns) cells, e.g. an arm over its two columns.
    """
    ncol = len(head)
    out = [f'<div class="tablewrap" {scroll_box(_table_name(caption))}>']
    out.append(f'<table class="{escape(css)}">' if css else "<table>")
    out.append(f"<caption>{caption}</caption>")
    out.append("<thead>")
    if spans:
        out.append('<tr class="spans">')
        out.extend(
            f'<th scope="colgroup" colspan="{k}">{label}</th>'
            if label
            else f'<td colspan="{k}"></td>'
            for label, k in spans
        )
        out.append("</tr>")
    out.append("<tr>")
    out.extend(
        f'<th scope="col" class="l">{h}</th>' if k < text_cols else f'<th scope="col">{h}</th>'
        for k, h in enumerate(head)
    )
    out.append("</tr></thead>")
    for label, rows in groups:
        out.append("<tbody>")
        if label is not None:
            out.append(f'<tr class="group"><th scope="rowgroup" colspan="{ncol}">{label}</th></tr>')
        for cells in rows:
            first, rest = cells[0], cells[1:]
            row = f'<th scope="row">{first}</th>' + "".join(
                f'<td class="l">{c}</td>' if k + 1 < text_cols else f"<td>{c}</td>"
                for k, c in enumerate(rest)
            )
            out.append(f"<tr>{row}</tr>")
        out.append("</tbody>")
    if note:
        out.append(f'<tfoot><tr><td colspan="{ncol}">{note}</td></tr></tfoot>')
    out.append("</table></div>")
    return "\n".join(out)


def _by(frame: pd.DataFrame, key: str) -> list[tuple[Any, pd.DataFrame]]:
    """Split rows by ``key`` keeping the order of first appearance."""
    order = list(dict.fromkeys(frame[key].tolist()))
    return [(k, frame[frame[key] == k]) for k in order]


def _contrast_of(frame: pd.DataFrame) -> pd.Series:
    """The ``contrast`` column as text ("" where absent or missing)."""
    if "contrast" not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame["contrast"].map(lambda c: "" if _missing(c) else str(c))


def contrast_text(contrast: str) -> str:
    """``"GSR - usual care"`` as shown in the report: ``"GSR − usual care"`` (HTML-escaped)."""
    arm, sep, comparator = contrast.partition(" - ")
    if not sep:
        return escape(contrast)
    return f"{escape(arm)} \u2212 {escape(comparator)}"


def _difference_cells(row: pd.Series | None) -> tuple[str, str]:
    """Difference (CI) and P cells of one Table 2 row ("—" when there is none)."""
    if row is None:
        return "\u2014", "\u2014"
    d = row.get("difference")
    empty = d is None or _missing(d) or not str(d)
    return ("\u2014" if empty else escape(str(d))), fmt_p(row.get("p_value"))


def table2(
    frame: pd.DataFrame,
    arms: Sequence[str],
    *,
    labels: dict[str, str],
    reference_arm: str,
    conf_level: float = 0.95,
    caption: str = "Outcomes by randomised group",
) -> str:
    """JAMA Table 2: per-arm mean (SD) and n per visit, difference (CI) and P.

    Parameters
    ----------
    frame : pandas.DataFrame
        :attr:`TrialAnalysis.table2 <resolve.analysis.result.TrialAnalysis>`:
        one row per outcome and visit, or (with a ``contrast`` column) per
        outcome, visit and contrast.  With several contrasts each visit's
        observed means are followed by one row per contrast, named, with its
        difference and P value.
    arms : sequence of str
        Arms in display order (reference first), names exactly as in the plan.
    labels : dict
        Outcome name to display label.
    reference_arm : str
        The comparator, named in the difference header.
    conf_level : float
        Confidence level shown in the header.
    caption : str
        Table caption (HTML).
    """
    pct = round(100 * conf_level)
    frame = frame.assign(_contrast=_contrast_of(frame))
    contrasts = [c for c in dict.fromkeys(frame["_contrast"]) if c]
    treat = [a for a in arms if a != reference_arm]
    if not contrasts:
        contrasts = [f"{treat[0]} - {reference_arm}"] if treat else [""]
        frame = frame.assign(_contrast=contrasts[0])
    several = len(contrasts) > 1
    head = ["Outcome and visit"]
    spans: list[tuple[str, int]] = [("", 1)]
    for a in arms:
        head += ["Mean (SD)", "No."]
        spans.append((escape(a), 2))
    head += [f"Difference ({pct}% CI)", "<i>P</i> value"]
    spans.append(("" if several else contrast_text(contrasts[0]), 2))
    groups = []
    for outcome, part in _by(frame, "outcome"):
        rows = []
        for _, rows_at in _by(part, "visit"):
            first = rows_at.iloc[0]
            cells = [escape(str(first["visit"]))]
            for a in arms:
                mean, sd = first.get(f"{a}_mean"), first.get(f"{a}_sd")
                cells.append(f"{fmt_num(mean)} ({fmt_num(sd)})")
                cells.append(_cell(first.get(f"{a}_n")))
            by_contrast = {str(r["_contrast"]): r for _, r in rows_at.iterrows()}
            diffs = {c: _difference_cells(by_contrast.get(c)) for c in contrasts}
            if not several:
                rows.append([*cells, *diffs[contrasts[0]]])
                continue
            rows.append([*cells, "", ""])
            if all(d[0] == "\u2014" for d in diffs.values()):
                continue  # e.g. baseline: no differences
            for c in contrasts:
                rows.append(
                    [f'<span class="ind">{contrast_text(c)}</span>']
                    + [""] * (2 * len(arms))
                    + list(diffs[c])
                )
        groups.append((escape(labels.get(str(outcome), str(outcome))), rows))
    named = "; ".join(contrast_text(c) for c in contrasts)
    return _table(
        caption,
        head,
        groups,
        css="jama num",
        spans=spans,
        note="Means and SDs are of the observed values at each visit. Differences "
        f"({named}) are model-based (primary model); negative values favour "
        "the first-named arm when higher scores are worse.",
    )


def effect_table(
    frame: pd.DataFrame,
    *,
    caption: str,
    labels: dict[str, str],
    models: dict[str, str] | None = None,
    conf_level: float = 0.95,
    note: str = "",
) -> str:
    """Between-arm differences per outcome and visit (primary or sensitivity)."""
    models = models or {}
    pct = round(100 * conf_level)
    head = ["Visit", "Model", f"Difference ({pct}% CI)", "SE", "df", "<i>P</i> value"]
    frame = frame.assign(_contrast=_contrast_of(frame))
    several = frame["_contrast"].nunique() > 1
    frame = frame.assign(_group=frame["outcome"].astype(str) + "\x00" + frame["_contrast"])
    groups = []
    for _, part in _by(frame, "_group"):
        first = part.iloc[0]
        outcome = str(first["outcome"])
        rows = [
            [
                escape(str(r["visit"])),
                escape(models.get(str(r["model"]), str(r["model"]))),
                fmt_ci(r["estimate"], r["conf_low"], r["conf_high"], 2),
                fmt_num(r["std_error"], 2),
                fmt_num(r["df"], 1),
                fmt_p(r["p_value"]),
            ]
            for _, r in part.iterrows()
        ]
        label = escape(labels.get(outcome, outcome))
        if several:
            label += f": {contrast_text(str(first['_contrast']))}"
        groups.append((label, rows))
    return _table(caption, head, groups, css="jama num", note=note, text_cols=2)


def modifier_table(
    frame: pd.DataFrame,
    *,
    labels: dict[str, str],
    exploratory_p: float,
    conf_level: float = 0.95,
    credible: set[tuple[str, ...]] | None = None,
    caption: str = "Effect modification: treatment-by-modifier interactions",
) -> str:
    """Interaction estimates per outcome and visit (and contrast), per unit and per SD.

    ``credible`` holds ``(modifier, outcome, visit)`` or ``(modifier, outcome,
    visit, contrast)`` keys of the findings rated credible.
    """
    credible = credible or set()
    pct = round(100 * conf_level)
    head = [
        "Modifier (unit)",
        "No.",
        f"Interaction per unit ({pct}% CI)",
        f"Per SD ({pct}% CI)",
        "<i>P</i> value",
        "<i>P</i> (Holm)",
        "<i>P</i> (BH)",
        "Direction (hyp./obs.)",
    ]
    groups = []
    frame = frame.assign(_contrast=_contrast_of(frame))
    several = frame["_contrast"].nunique() > 1
    frame = frame.assign(
        _key=frame["outcome"].astype(str)
        + "\x00"
        + frame["visit"].astype(str)
        + "\x00"
        + frame["_contrast"]
    )
    for _, part in _by(frame, "_key"):
        first = part.iloc[0]
        outcome, visit = str(first["outcome"]), str(first["visit"])
        contrast = str(first["_contrast"])
        rows = []
        for _, r in part.iterrows():
            name = escape(str(r["label"]))
            flags = []
            if bool(r.get("in_family", False)):
                flags.append('<abbr class="flag" title="pre-specified family">F</abbr>')
            if not _missing(r["p_value"]) and float(r["p_value"]) < exploratory_p:
                flags.append(
                    f'<abbr class="flag expl" title="exploratory evidence, P &lt; '
                    f'{exploratory_p:g}">E</abbr>'
                )
            if (str(r["modifier"]), outcome, visit) in credible or (
                str(r["modifier"]),
                outcome,
                visit,
                contrast,
            ) in credible:
                flags.append(
                    '<abbr class="flag cred" title="credible: moderate or high '
                    'ICEMAN-based rating (resolve rule)">C</abbr>'
                )
            per_sd = (
                fmt_ci(r["estimate_per_sd"], r["conf_low_per_sd"], r["conf_high_per_sd"], 2)
                if str(r["type"]) == "continuous"
                else "\u2014"
            )
            rows.append(
                [
                    name
                    + f' <span class="unit">({escape(str(r["unit"]))})</span>'
                    + (" " + "".join(flags) if flags else ""),
                    _cell(r["n"]),
                    fmt_ci(r["estimate"], r["conf_low"], r["conf_high"], 2),
                    per_sd,
                    fmt_p(r["p_value"]),
                    fmt_p(r.get("p_holm")),
                    fmt_p(r.get("p_bh")),
                    f"{_sign(r.get('direction_hypothesised'))} / "
                    f"{_sign(r.get('direction_observed'))}",
                ]
            )
        label = f"{escape(labels.get(outcome, outcome))}, {escape(visit)}"
        if several:
            label += f": {contrast_text(contrast)}"
        groups.append((label, rows))
    return _table(
        caption,
        head,
        groups,
        css="jama num",
        note="Interaction = change in the between-arm difference per unit (per SD) of the "
        "modifier; binary modifiers per category contrast. Models adjust for the baseline "
        "value of the outcome. F, pre-specified family; E, exploratory evidence "
        f"(<i>P</i> &lt; {exploratory_p:g}); C, credible (moderate or high ICEMAN-based "
        "overall rating, resolve rule). "
        "Holm and Benjamini-Hochberg (BH) adjustments within the family.",
    )


def frame_table(
    frame: pd.DataFrame,
    *,
    caption: str,
    columns: Sequence[str] | None = None,
    formatters: dict[str, Callable[[Any], str]] | None = None,
    note: str = "",
) -> str:
    """Any tidy table as HTML (first column as row header).

    ``formatters`` map a column to a function returning the cell's HTML; other
    cells are escaped generic text.
    """
    columns = list(columns) if columns is not None else list(frame.columns)
    formatters = formatters or {}
    rows = [
        [formatters[c](r[c]) if c in formatters else escape(_cell(r[c])) for c in columns]
        for _, r in frame.iterrows()
    ]
    head = [escape(_header(c)) for c in columns]
    return _table(caption, head, [(None, rows)], css="jama", note=note)


#: Short labels of ICEMAN's five core items for RCTs (questions in
#: :data:`resolve.analysis.credibility.ITEMS`).
_ITEM_LABELS = {
    "item1_a_priori": "Direction correctly hypothesised a priori?",
    "item2_prior_evidence": "Supported by prior evidence?",
    "item3_chance": "Test for interaction: chance an unlikely explanation?",
    "item4_multiplicity": "Few modifiers tested, or their number taken into account?",
    "item5_cut_points": "Continuous modifier: arbitrary cut points avoided?",
}
#: Compact answer codes of the summary table (yes always raises credibility).
_ANSWER_CODES = {
    "definitely yes": "++",
    "probably yes": "+",
    "probably no": "\u2212",
    "definitely no": "\u2212\u2212",
    "not applicable": "n/a",
    "not answered": "?",
}
_CRED_SOURCE = (
    "ICEMAN (Schandelmaier et al., CMAJ 2020) core items for randomised trials; overall "
    "rating by this project's documented rule"
)


def _cap(text: Any) -> str:
    t = "" if _missing(text) else str(text)
    return escape(t[:1].upper() + t[1:])


def _finding(r: pd.Series, labels: dict[str, str], several: bool) -> str:
    return (
        escape(labels.get(str(r["outcome"]), str(r["outcome"])))
        + ", "
        + escape(str(r["visit"]))
        + (f" ({contrast_text(str(r['contrast']))})" if several else "")
    )


def _code(answer: Any) -> str:
    a = "" if _missing(answer) else str(answer)
    code = _ANSWER_CODES.get(a, escape(a) or "\u2014")
    return f'<abbr class="ans" title="{escape(a)}">{code}</abbr>'


def credibility_table(
    frame: pd.DataFrame,
    *,
    modifiers: dict[str, str],
    labels: dict[str, str],
    caption: str,
    scope_p: float | None = None,
) -> str:
    """Summary of the ICEMAN assessment: one row per finding, the five answers, the rating.

    ``frame`` is ``ModifierAnalysis.credibility`` (:mod:`resolve.analysis.credibility`).
    Answers are coded ++ definitely yes, + probably yes, \u2212 probably no,
    \u2212\u2212 definitely no, n/a not applicable, ? not answered (a yes always raises
    credibility); :func:`credibility_items_table` gives every answer with its evidence.
    """
    items = [c for c in _ITEM_LABELS if c in frame.columns]
    several = "contrast" in frame.columns and frame["contrast"].nunique() > 1
    head = ["Modifier: outcome, visit", "<i>P</i> value", "Overall rating<sup>a</sup>"]
    head += [
        f'<abbr title="{escape(_ITEM_LABELS[c])}">{k}</abbr>' for k, c in enumerate(items, start=1)
    ]
    rows = [
        [
            escape(modifiers.get(str(r["modifier"]), str(r["modifier"])))
            + f'<br><span class="unit">{_finding(r, labels, several)}</span>',
            fmt_p(r.get("p_value")),
            f"<b>{_cap(r.get('credibility'))}</b>",
            *(_code(r[c]) for c in items),
        ]
        for _, r in frame.iterrows()
    ]
    scope = f" with interaction <i>P</i> &lt; {scope_p:g}" if scope_p is not None else ""
    note = (
        f"One row per suggested effect modification{scope} (ICEMAN's scope). Items: "
        + "; ".join(f"{k}, {escape(_ITEM_LABELS[c])}" for k, c in enumerate(items, start=1))
        + " Answers: ++ definitely yes; + probably yes; \u2212 probably no; \u2212\u2212 "
        "definitely no; n/a, not applicable; ?, not answered (needs a reviewer). "
        f"<sup>a</sup>{escape(_CRED_SOURCE)}: each definitely no counts 2, each probably no "
        "or not answered 1; total 0 high, 1 moderate, 2 to 3 low, 4 or more very low. The "
        "rule is not part of ICEMAN, whose overall rating is the assessor's judgement."
    )
    return _table(caption, head, [(None, rows)], css="jama iceman", note=note, text_cols=3)


def credibility_items_table(
    frame: pd.DataFrame,
    *,
    modifiers: dict[str, str],
    labels: dict[str, str],
    caption: str,
) -> str:
    """Every ICEMAN answer of every finding with the evidence it rests on.

    One group per finding: the preliminary considerations (outcome and time
    point, effect measure, modifier), the five core items, the additional
    consideration (consistency across related outcomes and visits, not an
    ICEMAN core item) and the overall rating with the rule's arithmetic.
    """
    items = [c for c in _ITEM_LABELS if c in frame.columns]
    several = "contrast" in frame.columns and frame["contrast"].nunique() > 1
    groups = []
    for _, r in frame.iterrows():
        name = escape(modifiers.get(str(r["modifier"]), str(r["modifier"])))
        label = (
            f"{name}: {_finding(r, labels, several)}; interaction <i>P</i> "
            f"{fmt_p(r.get('p_value'))}"
        )
        rows = []
        if "preliminary" in frame.columns:
            rows.append(["Preliminary considerations", "", escape(str(r["preliminary"]))])
        for k, c in enumerate(items, start=1):
            ev = r.get(f"{c}_evidence")
            rows.append(
                [
                    f"{k}. {escape(_ITEM_LABELS[c])}",
                    _cap(r[c]),
                    "" if _missing(ev) else escape(str(ev)),
                ]
            )
        if "extra_consistency" in frame.columns:
            ev = r.get("extra_consistency_evidence")
            rows.append(
                [
                    "Additional consideration (not an ICEMAN core item): consistent across "
                    "related outcomes and visits?",
                    _cap(r["extra_consistency"]),
                    "" if _missing(ev) else escape(str(ev)),
                ]
            )
        why = r.get("rationale")
        rows.append(
            [
                "ICEMAN-based overall rating (resolve rule)",
                f"<b>{_cap(r.get('credibility'))}</b>",
                "" if _missing(why) else escape(str(why)),
            ]
        )
        groups.append((label, rows))
    note = (
        f"{escape(_CRED_SOURCE)}. Items are answered from the analysis plan and the results; "
        "item 2 needs a reviewer's reading of other studies, recorded in the plan "
        "(prior_evidence_answer). The additional consideration does not enter the rating."
    )
    return _table(caption, ["Item", "Answer", "Evidence"], groups, css="jama iceman items",
                  note=note, text_cols=3)  # fmt: skip


_TABLE1_GROUPS = {
    "outcome": "Outcomes at baseline",
    "modifier": "Candidate effect modifiers",
    "covariate": "Covariates",
    "extra": "Other characteristics",
}


def table1(
    frame: pd.DataFrame,
    arms: Sequence[str],
    *,
    caption: str = "Baseline characteristics",
    overall: str = "overall",
) -> str:
    """Table 1: baseline characteristics by arm and overall, without P values.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`resolve.analysis.baseline.table1`.
    arms : sequence of str
        Arms in display order (names exactly as in the plan).
    caption : str
        Table caption (HTML).
    overall : str
        The ``arm`` value of the all-participants column.
    """
    present = set(frame["arm"].astype(str))
    cols = [a for a in arms if a in present] + [
        a for a in dict.fromkeys(frame["arm"].astype(str)) if a not in arms and a != overall
    ]
    cols.append(overall)
    size: dict[str, int] = {}
    for a in cols:
        hit = frame[frame["arm"].astype(str) == a]
        size[a] = int(hit["n"].iloc[0] + hit["missing"].iloc[0]) if not hit.empty else 0
    head = ["Characteristic"] + [
        f'{"Overall" if a == overall else escape(a)} <span class="unit">(n = {size[a]})</span>'
        for a in cols
    ]
    groups = []
    for source, part in _by(frame, "source"):
        rows: list[list[str]] = []
        for _, var in _by(part, "variable"):
            first = var.iloc[0]
            name = escape(str(first["characteristic"]))
            level_text = var["level"].map(lambda v: "" if _missing(v) else str(v))
            cells = {
                (lv, str(r["arm"])): r
                for lv, (_, r) in zip(level_text, var.iterrows(), strict=True)
            }
            levels = list(dict.fromkeys(level_text))
            if str(first["type"]) == "continuous":
                rows.append(
                    [f"{name}, mean (SD)"]
                    + [
                        escape(str(cells[("", a)]["text"])) if ("", a) in cells else "\u2014"
                        for a in cols
                    ]
                )
            else:
                rows.append([f"{name}, No. (%)"] + [""] * len(cols))
                for lv in levels:
                    rows.append(
                        [f'<span class="ind">{escape(lv)}</span>']
                        + [
                            escape(str(cells[(lv, a)]["text"])) if (lv, a) in cells else "\u2014"
                            for a in cols
                        ]
                    )
            missing = {a: int(var.loc[var["arm"].astype(str) == a, "missing"].max()) for a in cols}
            if any(missing.values()):
                rows.append(
                    ['<span class="ind">Missing, No.</span>'] + [str(missing[a]) for a in cols]
                )
        groups.append((escape(_TABLE1_GROUPS.get(str(source), str(source))), rows))
    return _table(
        caption,
        head,
        groups,
        css="jama num t1",
        note="Mean (SD) for continuous characteristics; No. (%) for binary and categorical "
        "ones, every level shown, percentages of the participants with a value. Observed "
        "values before randomisation (outcomes at the baseline visit). No <i>P</i> values: "
        "differences between randomised groups at baseline are due to chance, so testing "
        "them is not meaningful (CONSORT 2010 explanation and elaboration, item 15).",
    )


def _share(x: Any, n: Any) -> str:
    if _missing(n) or int(n) == 0:
        return "\u2014"
    return f"{int(x)}/{int(n)} ({fmt_num(100 * int(x) / int(n))})"


def responders_table(
    frame: pd.DataFrame,
    arms: Sequence[str],
    *,
    caption: str,
    conf_level: float = 0.95,
) -> str:
    """Responder analysis: responders per arm, risk difference (CI) and NNT per contrast.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`resolve.analysis.responders.responder_analysis`.
    arms : sequence of str
        Arms in display order.
    caption : str
        Table caption (HTML).
    conf_level : float
        Confidence level shown in the headers.
    """
    pct = round(100 * conf_level)
    seen: dict[tuple[str, str, str], tuple[Any, Any]] = {}
    for _, r in frame.iterrows():
        key = (str(r["responder"]), str(r["visit"]))
        seen[(*key, str(r["arm"]))] = (r["responders_arm"], r["n_arm"])
        seen[(*key, str(r["comparator"]))] = (r["responders_comparator"], r["n_comparator"])
    shown = [a for a in arms if any(k[2] == a for k in seen)]
    several = frame["contrast"].nunique() > 1
    head = ["Visit", *(["Contrast"] if several else [])]
    head += [f"{escape(a)}, No./total (%)" for a in shown]
    head += [f"Risk difference, % points ({pct}% CI)", f"NNT ({pct}% CI)"]
    groups = []
    for _, part in _by(frame, "responder"):
        rows = []
        for visit, at in _by(part, "visit"):
            for k, (_, r) in enumerate(at.iterrows()):
                name = str(r["responder"])
                cells = [escape(str(visit)).replace(" ", "&nbsp;") if k == 0 else ""]
                if several:
                    cells.append(contrast_text(str(r["contrast"])))
                cells += [
                    _share(*seen.get((name, str(visit), a), (0, 0))) if k == 0 else ""
                    for a in shown
                ]
                cells.append(
                    fmt_ci(
                        100 * float(r["risk_difference"]),
                        100 * float(r["conf_low"]),
                        100 * float(r["conf_high"]),
                    )
                )
                kind = "" if _missing(r.get("nnt_type")) else str(r.get("nnt_type"))
                if kind in ("NNTB", "NNTH"):
                    cells.append(
                        f"{kind} {fmt_num(r['nnt'])} ({fmt_num(r['nnt_low'])} to "
                        f"{fmt_num(r['nnt_high'])})"
                    )
                else:
                    cells.append("not meaningful")
                rows.append(cells)
        first = part.iloc[0]
        groups.append((escape(str(first["label"])), rows))
    method = escape(str(frame["ci_method"].iloc[0])).replace(" (", ", ").replace(")", "")
    named = "; ".join(contrast_text(c) for c in dict.fromkeys(frame["contrast"].astype(str)))
    return _table(
        caption,
        head,
        groups,
        css="jama num",
        text_cols=2 if several else 1,
        note="Observed cases (complete-case analysis): participants with the outcome at "
        "baseline and at the visit; missing values are neither imputed nor counted as "
        "non-responders. A responder improved from baseline by at least the threshold "
        "(either threshold when two are given); a percent threshold is relative to the "
        "baseline value, so a participant with a baseline of 0 cannot meet it. Risk "
        f"difference = {named}, in percentage points; CI: {method} (Newcombe 1998). "
        "NNT = 1 / risk difference with its CI from "
        "the inverted limits (Altman 1998): NNTB, number needed to treat for one more "
        "responder; NNTH, for one fewer; not meaningful when the risk difference's CI "
        "includes 0.",
    )
