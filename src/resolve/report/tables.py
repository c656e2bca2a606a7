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
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import Any

import pandas as pd

from resolve.analysis.descriptive import format_p

__all__ = [
    "credibility_table",
    "effect_table",
    "fmt_ci",
    "fmt_num",
    "fmt_p",
    "frame_table",
    "modifier_table",
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
def _table(
    caption: str,
    head: Sequence[str],
    groups: Iterable[tuple[str | None, list[list[str]]]],
    *,
    css: str = "",
    note: str = "",
    text_cols: int = 1,
) -> str:
    """Assemble an HTML table; ``groups`` yields (group label or None, rows of cell HTML).

    The first ``text_cols`` columns are left-aligned text; in a ``num`` table the
    others are right-aligned numbers.
    """
    ncol = len(head)
    out = [f'<table class="{escape(css)}">' if css else "<table>"]
    out.append(f"<caption>{caption}</caption>")
    out.append("<thead><tr>")
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
    out.append("</table>")
    return "\n".join(out)


def _by(frame: pd.DataFrame, key: str) -> list[tuple[Any, pd.DataFrame]]:
    """Split rows by ``key`` keeping the order of first appearance."""
    order = list(dict.fromkeys(frame[key].tolist()))
    return [(k, frame[frame[key] == k]) for k in order]


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
        :attr:`TrialAnalysis.table2 <resolve.analysis.result.TrialAnalysis>`.
    arms : sequence of str
        Arms in display order (reference first).
    labels : dict
        Outcome name to display label.
    reference_arm : str
        The comparator, named in the difference header.
    conf_level : float
        Confidence level shown in the header.
    caption : str
        Table caption (HTML).
    """
    treat = [a for a in arms if a != reference_arm]
    contrast = " vs ".join([*treat, reference_arm]) if len(treat) == 1 else "vs " + reference_arm
    head = ["Outcome and visit"]
    for a in arms:
        head += [f"{escape(a.capitalize())}, mean (SD)", f"{escape(a.capitalize())}, No."]
    head += [f"Difference ({round(100 * conf_level)}% CI)", "<i>P</i> value"]
    groups = []
    for outcome, part in _by(frame, "outcome"):
        rows = []
        for _, r in part.iterrows():
            cells = [escape(str(r["visit"]).capitalize())]
            for a in arms:
                mean, sd = r.get(f"{a}_mean"), r.get(f"{a}_sd")
                cells.append(f"{fmt_num(mean)} ({fmt_num(sd)})")
                cells.append(_cell(r.get(f"{a}_n")))
            diff = r.get("difference")
            cells.append("\u2014" if _missing(diff) or not str(diff) else escape(str(diff)))
            cells.append(fmt_p(r.get("p_value")))
            rows.append(cells)
        groups.append((escape(labels.get(str(outcome), str(outcome))), rows))
    return _table(
        caption,
        head,
        groups,
        css="jama num",
        note="Means and SDs are of the observed values at each visit. Differences "
        f"({escape(contrast)}) are model-based (primary model); negative values favour "
        "the treatment arm when higher scores are worse.",
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
    groups = []
    for outcome, part in _by(frame, "outcome"):
        rows = [
            [
                escape(str(r["visit"]).capitalize()),
                escape(models.get(str(r["model"]), str(r["model"]))),
                fmt_ci(r["estimate"], r["conf_low"], r["conf_high"], 2),
                fmt_num(r["std_error"], 2),
                fmt_num(r["df"], 1),
                fmt_p(r["p_value"]),
            ]
            for _, r in part.iterrows()
        ]
        groups.append((escape(labels.get(str(outcome), str(outcome))), rows))
    return _table(caption, head, groups, css="jama num", note=note, text_cols=2)


def modifier_table(
    frame: pd.DataFrame,
    *,
    labels: dict[str, str],
    exploratory_p: float,
    conf_level: float = 0.95,
    credible: set[tuple[str, str, str]] | None = None,
    caption: str = "Effect modification: treatment-by-modifier interactions",
) -> str:
    """Interaction estimates per outcome and visit, per unit and per SD."""
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
    frame = frame.assign(_key=frame["outcome"].astype(str) + "\x00" + frame["visit"].astype(str))
    for _, part in _by(frame, "_key"):
        first = part.iloc[0]
        outcome, visit = str(first["outcome"]), str(first["visit"])
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
            if (str(r["modifier"]), outcome, visit) in credible:
                flags.append('<abbr class="flag cred" title="credible (ICEMAN)">C</abbr>')
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
        groups.append((label, rows))
    return _table(
        caption,
        head,
        groups,
        css="jama num",
        note="Interaction = change in the between-arm difference per unit (per SD) of the "
        "modifier; binary modifiers per category contrast. Models adjust for the baseline "
        "value of the outcome. F, pre-specified family; E, exploratory evidence "
        f"(<i>P</i> &lt; {exploratory_p:g}); C, credible by the ICEMAN assessment. "
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


_ITEM_HEADERS = {
    "direction_prespecified": "Direction pre-specified",
    "baseline_modifier": "Baseline modifier",
    "interaction_test": "Chance unlikely",
    "multiplicity": "Multiplicity handled",
    "continuous_modifier": "Continuous, no cut-points",
    "consistency": "Consistent across related results",
    "prior_evidence": "Prior evidence",
}
_NOT_ITEMS = {
    "modifier",
    "outcome",
    "visit",
    "contrast",
    "label",
    "credibility",
    "rationale",
}


def credibility_table(
    frame: pd.DataFrame,
    *,
    modifiers: dict[str, str],
    labels: dict[str, str],
    caption: str,
) -> str:
    """ICEMAN credibility table: one row per finding, its items, rating and rationale.

    Item columns are the text columns other than modifier, outcome, visit,
    contrast, credibility and rationale (numeric columns other than
    ``p_value`` are left to the CSV). The rationale, when present, is shown
    in a full-width row under its finding.
    """
    items = [
        c
        for c in frame.columns
        if c not in _NOT_ITEMS and not pd.api.types.is_numeric_dtype(frame[c])
    ]
    has_p = "p_value" in frame.columns
    head = ["Modifier", "Outcome, visit", *(["<i>P</i> value"] if has_p else [])]
    head += [escape(_ITEM_HEADERS.get(c, _header(c))) for c in items] + ["Credibility"]
    ncol = len(head)
    out = ['<table class="jama iceman">', f"<caption>{caption}</caption>", "<thead><tr>"]
    out += [f'<th scope="col">{h}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for _, r in frame.iterrows():
        rating = str(r.get("credibility", ""))
        cells = [
            escape(labels.get(str(r["outcome"]), str(r["outcome"])))
            + ", "
            + escape(str(r["visit"]))
        ]
        if has_p:
            cells.append(fmt_p(r["p_value"]))
        cells += [escape(str(r[c])[:1].upper() + str(r[c])[1:]) for c in items]
        cells.append(f"<b>{escape(rating[:1].upper() + rating[1:])}</b>")
        name = escape(modifiers.get(str(r["modifier"]), str(r["modifier"])))
        out.append(
            f'<tr><th scope="row">{name}</th>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
        why = r.get("rationale")
        if isinstance(why, str) and why:
            out.append(f'<tr class="why"><td colspan="{ncol}">{escape(why)}</td></tr>')
    out.append("</tbody>")
    out.append(
        f'<tfoot><tr><td colspan="{ncol}">Instrument for the Credibility of Effect '
        "Modification Analyses (ICEMAN; Schandelmaier et al., CMAJ 2020) as applied by "
        "resolve.analysis.credibility: one row per finding considered, each item answered "
        "definitely/probably yes/no, and an overall rating.</td></tr></tfoot>"
    )
    out.append("</table>")
    return "\n".join(out)
