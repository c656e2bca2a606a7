"""Report figures drawn with matplotlib and returned as inline SVG text.

matplotlib is optional (``pip install 'resolve[plot]'``) and imported only when
a figure is drawn. Figures are built on :class:`matplotlib.figure.Figure`
directly (no pyplot state) and saved with ``svg.fonttype = "none"`` (text stays
text: searchable, accessible, small) and a fixed ``svg.hashsalt``, so the same
results give byte-identical SVG. Each SVG carries a ``<title>`` and ``<desc>``
for screen readers, and its element ids are prefixed with the figure's key so
several figures can live in one HTML page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from resolve.analysis.plan import Plan
from resolve.errors import ResolveError

__all__ = [
    "ARM_COLOURS",
    "benefit_calibration_figure",
    "benefit_risk_figure",
    "curves_figure",
    "forest_figure",
    "quartiles_figure",
    "select_findings",
    "trajectories_figure",
]

# Okabe-Ito colours: the reference arm neutral grey, treatments vermillion, blue, green...
REFERENCE_COLOUR = "#6E6E6E"
ARM_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00")
EMPHASIS = "#D55E00"
MUTED = "#9A9A9A"
CREDIBLE = "#0072B2"
INK = "#222222"

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "resolve-report",
    "font.family": "sans-serif",
    "font.sans-serif": ["Helvetica", "Arial", "Liberation Sans", "DejaVu Sans"],
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "axes.edgecolor": "#444444",
    "axes.linewidth": 0.7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.major.width": 0.7,
    "ytick.major.width": 0.7,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.4,
    "figure.dpi": 72,
}


# ----------------------------------------------------------------------------- plumbing
def _mpl() -> Any:
    """Import matplotlib or explain how to install it."""
    try:
        import matplotlib
        import matplotlib.figure
        import matplotlib.lines
        import matplotlib.patches
        import matplotlib.transforms
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ResolveError(
            "figures need matplotlib: install the plotting extra with pip install 'resolve[plot]'"
        ) from None
    return matplotlib


def _style() -> AbstractContextManager[Any]:
    rc: AbstractContextManager[Any] = _mpl().rc_context(_RC)
    return rc


def _new_figure(width: float, height: float) -> Any:
    return _mpl().figure.Figure(figsize=(width, height), layout=None)


def _to_svg(fig: Any, *, key: str, title: str, desc: str) -> str:
    """Serialise ``fig`` as inline SVG with a title/desc and ids prefixed by ``key``."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', text)
    head_end = text.index(">") + 1
    opening = text[:head_end].replace(
        "<svg ", f'<svg class="mpl" role="img" aria-labelledby="{key}-title {key}-desc" ', 1
    )
    a11y = (
        f'\n <title id="{key}-title">{escape(title)}</title>'
        f'\n <desc id="{key}-desc">{escape(desc)}</desc>'
    )
    return opening + a11y + text[head_end:].rstrip() + "\n"


def _arm_styles(plan: Plan) -> dict[str, dict[str, Any]]:
    t = plan.trial
    styles: dict[str, dict[str, Any]] = {}
    treat = iter(ARM_COLOURS)
    markers = iter("sD^v")
    for arm in t.arms:
        if arm == t.reference_arm:
            styles[arm] = {"color": REFERENCE_COLOUR, "marker": "o", "linestyle": (0, (4, 2))}
        else:
            styles[arm] = {"color": next(treat), "marker": next(markers), "linestyle": "-"}
    return styles


def _outcome_label(plan: Plan, name: str) -> str:
    try:
        return plan.outcome(name).label
    except ResolveError:
        return name


def _primary_effect(
    primary: pd.DataFrame | None, outcome: str, visit: str, contrast: str = ""
) -> float | None:
    if primary is None or primary.empty:
        return None
    hit = primary[(primary["outcome"] == outcome) & (primary["visit"] == visit)]
    if contrast and "contrast" in hit.columns:
        hit = hit[hit["contrast"].astype(str) == contrast]
    return None if hit.empty else float(hit["estimate"].iloc[0])


def _contrasts(frame: pd.DataFrame) -> pd.Series:
    """The ``contrast`` column as text, ``""`` when absent."""
    if "contrast" not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame["contrast"].astype(str)


def _match(frame: pd.DataFrame, contrast: str) -> pd.Series:
    """Rows of ``contrast`` (every row when ``contrast`` is empty or not a column)."""
    if not contrast or "contrast" not in frame.columns:
        return pd.Series(True, index=frame.index)
    return frame["contrast"].astype(str) == contrast


def _contrast_words(contrast: str) -> str:
    arm, sep, comparator = contrast.partition(" - ")
    return f"{arm} \u2212 {comparator}" if sep else contrast


def visit_axis(plan: Plan, visits: Sequence[str]) -> tuple[dict[str, float], list[str], str]:
    """x positions, tick labels and axis label of ``visits`` (plan order).

    With ``plan.trial.visit_times`` each visit sits at its time and ticks show the
    times, the axis labelled ``time_label``; without, visits are equally spaced
    categories labelled by their names, the axis labelled "Visit".

    Examples
    --------
    >>> from dataclasses import replace
    >>> from resolve.analysis import load_plan
    >>> plan = load_plan()
    >>> visit_axis(plan, ["baseline", "week 18"])
    ({'baseline': 0.0, 'week 18': 18.0}, ['0', '18'], 'weeks since randomisation')
    >>> plain = replace(plan, trial=replace(plan.trial, visit_times=None))
    >>> visit_axis(plain, ["baseline", "week 18"])
    ({'baseline': 0.0, 'week 18': 1.0}, ['baseline', 'week 18'], 'Visit')
    """
    t = plan.trial
    order = [v for v in t.visits if v in set(visits)] + [v for v in visits if v not in t.visits]
    if t.visit_times is not None:
        times = dict(zip(t.visits, t.visit_times, strict=True))
        if all(v in times for v in order):
            pos = {v: float(times[v]) for v in order}
            return pos, [f"{pos[v]:g}" for v in order], t.time_label
    return {v: float(k) for k, v in enumerate(order)}, list(order), "Visit"


# ----------------------------------------------------------------------------- trajectories
def trajectories_figure(trajectories: pd.DataFrame, plan: Plan) -> str:
    """Observed means with 95% CIs per arm at each visit; one panel per outcome.

    The x axis is the plan's ``visit_times`` (labelled ``time_label``) when it
    gives them, else the visits as equally spaced categories named as in the plan
    (:func:`visit_axis`).

    Parameters
    ----------
    trajectories : pandas.DataFrame
        Columns outcome, arm, visit, n, mean, sd, conf_low, conf_high.
    plan : Plan
        Supplies arm order and colours, outcome labels, visit times and the
        primary visit.

    Returns
    -------
    str
        Inline SVG.
    """
    t = plan.trial
    outcomes = list(dict.fromkeys(trajectories["outcome"]))
    styles = _arm_styles(plan)
    pos, ticklabels, xlabel = visit_axis(plan, list(dict.fromkeys(trajectories["visit"])))
    ticks = list(pos.values())
    span = (max(ticks) - min(ticks)) or 1.0
    dodge = span * 0.012
    with _style():
        fig = _new_figure(3.6 * len(outcomes) + 0.4, 3.1)
        axes = fig.subplots(1, len(outcomes), squeeze=False)[0]
        for ax, outcome in zip(axes, outcomes, strict=True):
            part = trajectories[trajectories["outcome"] == outcome]
            if t.primary_visit in pos:
                ax.axvline(pos[t.primary_visit], color="#E8E8E8", linewidth=6, zorder=0)
            arms = [a for a in t.arms if a in set(part["arm"])]
            for k, arm in enumerate(arms):
                rows = part[part["arm"] == arm].copy()
                rows["x"] = [pos.get(str(v), np.nan) for v in rows["visit"]]
                rows = rows.sort_values("x")
                x = rows["x"].to_numpy() + (k - (len(arms) - 1) / 2) * 2 * dodge
                y = rows["mean"].to_numpy()
                err = np.vstack([y - rows["conf_low"].to_numpy(), rows["conf_high"].to_numpy() - y])
                st = styles.get(arm, {"color": INK, "marker": "o", "linestyle": "-"})
                ax.errorbar(
                    x,
                    y,
                    yerr=err,
                    color=st["color"],
                    marker=st["marker"],
                    markersize=4.5,
                    linestyle=st["linestyle"],
                    capsize=2.5,
                    elinewidth=0.9,
                    label=arm,
                )
            ax.set_title(_outcome_label(plan, outcome), loc="left")
            ax.set_xticks(ticks)
            ax.set_xticklabels(ticklabels)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("Mean (95% CI)")
            ax.margins(x=0.04)
        band = _mpl().patches.Patch(color="#E8E8E8", label=f"primary visit ({t.primary_visit})")
        handles, names = axes[0].get_legend_handles_labels()
        axes[0].legend([*handles, band], [*names, band.get_label()], loc="upper right")
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.86, wspace=0.25)
        desc = (
            "Observed mean and 95% confidence interval per arm at each visit, "
            f"for {', '.join(_outcome_label(plan, o) for o in outcomes)}; x axis: {xlabel}."
        )
        return _to_svg(fig, key="fig-trajectories", title="Mean trajectories by arm", desc=desc)


def _group_headers(fig: Any, ax: Any, headers: list[tuple[float, str]]) -> None:
    """Bold group labels at the figure's left edge, on their own rows of ``ax``."""
    where = _mpl().transforms.blended_transform_factory(fig.transFigure, ax.transData)
    for y, text in headers:
        ax.text(0.012, y, text, transform=where, ha="left", va="center", fontweight="bold")


# ----------------------------------------------------------------------------- forest
def _scale(row: pd.Series) -> tuple[float, float, float]:
    """Estimate and CI per SD for continuous modifiers, per category for binary."""
    if str(row["type"]) == "continuous":
        return (
            float(row["estimate_per_sd"]),
            float(row["conf_low_per_sd"]),
            float(row["conf_high_per_sd"]),
        )
    return float(row["estimate"]), float(row["conf_low"]), float(row["conf_high"])


def _row_label(row: pd.Series) -> str:
    scale = "per SD" if str(row["type"]) == "continuous" else str(row["unit"])
    return f"{row['label']}, {scale}"


def forest_figure(
    table: pd.DataFrame,
    plan: Plan,
    *,
    credible: set[tuple[str, ...]] | None = None,
) -> str:
    """Forest plot of every treatment-by-modifier interaction.

    One panel per outcome; rows grouped by visit (plan order) and, with several
    contrasts, by contrast (named in the group header), one row per
    modifier.  ``credible`` holds ``(modifier, outcome, visit)`` or
    ``(modifier, outcome, visit, contrast)`` keys. Continuous modifiers are
    shown per SD, binary ones per category contrast. Rows with
    ``p_value < exploratory_p`` are filled in the emphasis colour, the rest
    hollow grey; credible findings get a blue diamond. Every
    row's marker is an SVG group with id ``fig-forest-forest-row-<i>`` (``i``
    the row number in ``table``), so each plotted row can be found in the SVG.

    Returns
    -------
    str
        Inline SVG.
    """
    credible = credible or set()
    thr = plan.effect_modification.exploratory_p
    table = table.assign(_contrast=_contrasts(table))
    several = table["_contrast"].nunique() > 1
    outcomes = list(dict.fromkeys(table["outcome"]))
    plan_visits = list(plan.trial.visits)
    visits = sorted(
        dict.fromkeys(table["visit"]),
        key=lambda v: plan_visits.index(v) if v in plan_visits else len(plan_visits),
    )
    contrasts = list(dict.fromkeys(table["_contrast"]))
    modifiers = list(dict.fromkeys(table["modifier"]))
    labels = {m: _row_label(table[table["modifier"] == m].iloc[0]) for m in modifiers}
    family = set(plan.effect_modification.family_visits)
    # y positions: a header line per visit (and contrast), then its modifiers
    ypos: dict[tuple[str, str, str], float] = {}
    ticks: list[float] = []
    ticklabels: list[str] = []
    headers: list[tuple[float, str]] = []
    y = 0.0
    for v in visits:
        for c in contrasts:
            at = (table["visit"] == v) & (table["_contrast"] == c)
            present = [m for m in modifiers if (at & (table["modifier"] == m)).any()]
            if not present:
                continue
            head = str(v) + (" (pre-specified family)" if v in family else "")
            if several:
                head += f": {_contrast_words(c)}"
            headers.append((y, head))
            y += 1
            for m in present:
                ypos[(v, c, m)] = y
                ticks.append(y)
                ticklabels.append(labels[m])
                y += 1
            y += 0.4
    n_rows = y
    with _style():
        width = 2.9 + 2.6 * len(outcomes)
        height = 0.9 + 0.165 * n_rows
        fig = _new_figure(width, height)
        axes = fig.subplots(1, len(outcomes), squeeze=False, sharey=True)[0]
        for ax, outcome in zip(axes, outcomes, strict=True):
            part = table[table["outcome"] == outcome]
            lo_all, hi_all = [], []
            for i, row in part.iterrows():
                est, lo, hi = _scale(row)
                lo_all.append(lo)
                hi_all.append(hi)
                yy = ypos[(str(row["visit"]), str(row["_contrast"]), str(row["modifier"]))]
                p = float(row["p_value"])
                strong = p < thr
                key = (str(row["modifier"]), outcome, str(row["visit"]), str(row["_contrast"]))
                is_cred = key in credible or key[:3] in credible
                colour = CREDIBLE if is_cred else (EMPHASIS if strong else MUTED)
                ax.plot([lo, hi], [yy, yy], color=colour, linewidth=1.1, solid_capstyle="butt")
                (mark,) = ax.plot(
                    [est],
                    [yy],
                    marker="D" if is_cred else "o",
                    markersize=5.2 if is_cred else 4.2,
                    markerfacecolor=colour if (strong or is_cred) else "white",
                    markeredgecolor=colour,
                    markeredgewidth=1.0,
                    linestyle="none",
                )
                mark.set_gid(f"forest-row-{i}")
            ax.axvline(0, color="#555555", linewidth=0.8, zorder=0)
            for yh, _ in headers[1:]:
                ax.axhline(yh - 0.7, color="#DDDDDD", linewidth=0.6, zorder=0)
            lim = max(abs(min(lo_all, default=-1)), abs(max(hi_all, default=1))) * 1.08
            ax.set_xlim(-lim, lim)
            ax.set_title(_outcome_label(plan, outcome), loc="center")
            spec_higher = _higher_is(plan, outcome)
            left, right = (
                ("more benefit", "less benefit")
                if spec_higher == "worse"
                else ("less benefit", "more benefit")
            )
            ax.set_xlabel(
                f"Interaction (difference in treatment effect)\n"
                f"\u2190 {left}\u2003\u2003{right} \u2192",
                fontsize=8,
            )
            ax.tick_params(axis="y", length=0)
            ax.spines["left"].set_visible(False)
        ax0 = axes[0]
        ax0.set_yticks(ticks)
        ax0.set_yticklabels(ticklabels)
        _group_headers(fig, ax0, headers)
        ax0.set_ylim(n_rows - 0.6, -0.8)
        _forest_legend(fig, thr)
        left_in = 2.75
        fig.subplots_adjust(
            left=left_in / width,
            right=0.98,
            top=1 - 0.55 / height,
            bottom=0.62 / height,
            wspace=0.12,
        )
        desc = (
            f"Forest plot of {len(table)} treatment-by-modifier interaction estimates with "
            f"95% confidence intervals, grouped by outcome and visit; filled markers have "
            f"P < {thr:g}, blue diamonds are rated moderate or high by the ICEMAN-based "
            "overall rating (resolve rule)."
        )
        return _to_svg(fig, key="fig-forest", title="Forest plot of effect modification", desc=desc)


def _higher_is(plan: Plan, outcome: str) -> str:
    try:
        return plan.outcome(outcome).higher_is
    except ResolveError:
        return "worse"


def _forest_legend(fig: Any, thr: float) -> None:
    lines = _mpl().lines
    handles = [
        lines.Line2D([], [], marker="o", color=MUTED, markerfacecolor="white", linestyle="-"),
        lines.Line2D([], [], marker="o", color=EMPHASIS, linestyle="-"),
        lines.Line2D([], [], marker="D", color=CREDIBLE, linestyle="-"),
    ]
    fig.legend(
        handles,
        [
            f"P \u2265 {thr:g}",
            f"P < {thr:g} (exploratory)",
            "moderate/high credibility (ICEMAN-based)",
        ],
        loc="upper center",
        ncol=3,
        bbox_to_anchor=(0.5, 1.0),
        handlelength=1.8,
    )


# ----------------------------------------------------------------------------- curves
def select_findings(
    table: pd.DataFrame,
    *,
    exploratory_p: float,
    credible: set[tuple[str, ...]] | None = None,
    limit: int = 6,
    curves: pd.DataFrame | None = None,
) -> list[tuple[str, str, str, str]]:
    """The (modifier, outcome, visit, contrast) findings worth a curve, best first.

    Credible findings first, then exploratory ones (``p_value <
    exploratory_p``) by P value; if there are none, the ``limit`` smallest P
    values. At most ``limit`` findings; with ``curves``, only findings that
    have a curve.  ``contrast`` is ``""`` when the table has no contrast
    column; ``credible`` may hold 3-tuples (any contrast) or 4-tuples.
    """
    credible = credible or set()
    keys: list[Any] = list(
        zip(table["modifier"], table["outcome"], table["visit"], _contrasts(table), strict=True)
    )
    keys = [tuple(map(str, k)) for k in keys]
    t = table.assign(_key=keys)
    if curves is not None:
        by_contrast = "contrast" in curves.columns
        drawn = {
            tuple(map(str, k))[: 4 if by_contrast else 3]
            for k in zip(
                curves["modifier"],
                curves["outcome"],
                curves["visit"],
                _contrasts(curves),
                strict=True,
            )
        }
        t = t[[k[: 4 if by_contrast else 3] in drawn for k in t["_key"]]]
    t["_cred"] = [k in credible or k[:3] in credible for k in t["_key"]]
    chosen = t[t["_cred"] | (t["p_value"] < exploratory_p)]
    if chosen.empty:
        chosen = t
    chosen = chosen.sort_values(["_cred", "p_value"], ascending=[False, True], kind="stable")
    return [k for k in chosen["_key"].head(limit)]


def _binary_ticks(unit: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"\bvs\.?\b", unit) if p.strip()]
    return [parts[1], parts[0]] if len(parts) == 2 else ["0", "1"]


def curves_figure(
    curves: pd.DataFrame,
    table: pd.DataFrame,
    plan: Plan,
    findings: Sequence[tuple[str, ...]],
    *,
    primary: pd.DataFrame | None = None,
) -> str:
    """Treatment effect versus modifier value with a 95% band; small multiples.

    Parameters
    ----------
    curves : pandas.DataFrame
        :attr:`ModifierAnalysis.curves`.
    table : pandas.DataFrame
        :attr:`ModifierAnalysis.table` (labels, units, interaction P).
    plan : Plan
        Outcome labels.
    findings : sequence of (modifier, outcome, visit[, contrast])
        The panels to draw, in order (see :func:`select_findings`); each at
        its own visit (and contrast, named in the panel title when the table
        has several).
    primary : pandas.DataFrame, optional
        Primary results: the overall effect is drawn as a dotted line.

    Returns
    -------
    str
        Inline SVG.
    """
    n = max(len(findings), 1)
    ncol = min(3, n)
    nrow = -(-n // ncol)
    with _style():
        fig = _new_figure(2.65 * ncol + 0.3, 2.35 * nrow + 0.35)
        axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
        for ax in axes[len(findings) :]:
            ax.set_visible(False)
        several = _contrasts(table).nunique() > 1
        for ax, finding in zip(axes, findings, strict=False):
            mod, outcome, visit = finding[:3]
            contrast = finding[3] if len(finding) > 3 else ""
            c = curves[
                (curves["modifier"] == mod)
                & (curves["outcome"] == outcome)
                & (curves["visit"] == visit)
                & _match(curves, contrast)
            ].sort_values("modifier_value")
            info = table[
                (table["modifier"] == mod)
                & (table["outcome"] == outcome)
                & (table["visit"] == visit)
                & _match(table, contrast)
            ]
            row = info.iloc[0] if not info.empty else None
            x = c["modifier_value"].to_numpy(dtype=float)
            binary = row is not None and str(row["type"]) == "binary"
            if len(x) == 0:
                ax.text(0.5, 0.5, "no curve estimated", transform=ax.transAxes, ha="center")
            elif binary or len(x) <= 2:
                yv = c["estimate"].to_numpy()
                err = np.vstack([yv - c["conf_low"].to_numpy(), c["conf_high"].to_numpy() - yv])
                ax.errorbar(
                    x, yv, yerr=err, color=EMPHASIS, marker="o", capsize=3, linestyle="none"
                )
                ax.set_xticks(x)
                ticks = _binary_ticks(str(row["unit"])) if row is not None else []
                if len(ticks) == len(x):
                    ax.set_xticklabels(ticks)
                ax.set_xlim(x.min() - 0.6, x.max() + 0.6)
            else:
                ax.fill_between(
                    x, c["conf_low"], c["conf_high"], color=EMPHASIS, alpha=0.18, linewidth=0
                )
                ax.plot(x, c["estimate"], color=EMPHASIS)
            ax.axhline(0, color="#555555", linewidth=0.8)
            overall = _primary_effect(primary, outcome, visit, contrast)
            if overall is not None:
                ax.axhline(overall, color=INK, linewidth=0.8, linestyle=":")
            label = str(row["label"]) if row is not None else mod
            where = f"{_outcome_label(plan, outcome)}, {visit}"
            if several and contrast:
                where += f"\n{_contrast_words(contrast)}"
            ax.set_title(f"{label}\n{where}", fontsize=8)
            unit = str(row["unit"]) if row is not None and not binary else ""
            ax.set_xlabel(f"{label.split(' (')[0]}" + (f" ({unit}s)" if unit else ""), fontsize=8)
            if row is not None:
                from resolve.report.tables import fmt_p

                p = fmt_p(row["p_value"])
                ax.text(
                    0.03,
                    0.04,
                    f"interaction P {'= ' if p[0] not in '<>' else ''}{p}",
                    transform=ax.transAxes,
                    fontsize=7.5,
                    color="#444444",
                )
        for r in range(nrow):
            axes[r * ncol].set_ylabel("Treatment effect (95% CI)")
        title_h = 0.78 if several else 0.62
        fig.subplots_adjust(
            left=0.1 if ncol > 1 else 0.22,
            right=0.98,
            top=1 - title_h / (2.35 * nrow + 0.35),
            bottom=0.5 / (2.35 * nrow + 0.35),
            wspace=0.32,
            hspace=0.75,
        )
        desc = (
            "Estimated treatment effect (treatment minus reference) as a function of the "
            "modifier's baseline value, with 95% confidence bands, for: "
            + "; ".join(
                f"{f[0]} on {f[1]} at {f[2]}" + (f" ({f[3]})" if len(f) > 3 and f[3] else "")
                for f in findings
            )
            + ". Dashed line: no effect; dotted line: overall effect."
        )
        return _to_svg(fig, key="fig-curves", title="Treatment effect by modifier value", desc=desc)


# ----------------------------------------------------------------------------- quartiles
def _quantile_label(level: str) -> str:
    """``"p25"`` -> ``"25th centile"``; ``"Q1"`` and other labels unchanged."""
    m = re.fullmatch(r"[pP](\d+)", level)
    return f"{m.group(1)}th centile" if m else level


def quartiles_figure(
    quartiles: pd.DataFrame,
    table: pd.DataFrame,
    plan: Plan,
    findings: Sequence[tuple[str, ...]],
    *,
    primary: pd.DataFrame | None = None,
) -> str:
    """Treatment effect at the quartiles of the modifier of each highlighted finding.

    One small panel per finding (see :func:`select_findings`) that has quartile
    estimates, each at the finding's own outcome, visit (and contrast): the
    treatment effect with its 95% CI at each quartile (value in brackets), the
    overall effect at that visit dashed.

    Returns
    -------
    str
        Inline SVG.
    """
    several = _contrasts(table).nunique() > 1
    panels = []
    for finding in findings:
        mod, outcome, visit = finding[:3]
        contrast = finding[3] if len(finding) > 3 else ""
        q = quartiles[
            (quartiles["modifier"] == mod)
            & (quartiles["outcome"] == outcome)
            & (quartiles["visit"] == visit)
            & _match(quartiles, contrast)
        ]
        if not q.empty:
            panels.append((mod, outcome, visit, contrast, q))
    n = max(len(panels), 1)
    ncol = min(3, n)
    nrow = -(-n // ncol)
    levels_max = max((len(p[4]) for p in panels), default=3)
    panel_h = 0.75 + 0.26 * levels_max
    with _style():
        fig = _new_figure(2.75 * ncol + 0.3, panel_h * nrow + 0.3)
        axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        for ax, (mod, outcome, visit, contrast, q) in zip(axes, panels, strict=False):
            info = table[table["modifier"] == mod]
            label = str(info["label"].iloc[0]) if not info.empty else mod
            binary = not info.empty and str(info["type"].iloc[0]) == "binary"
            names = _binary_ticks(str(info["unit"].iloc[0])) if binary else []
            ticklabels = []
            for k, (_, r) in enumerate(q.iterrows()):
                ax.plot([r["conf_low"], r["conf_high"]], [k, k], color=INK, linewidth=1.0)
                ax.plot([r["estimate"]], [k], marker="s", markersize=4, color=INK)
                val = float(r["modifier_value"])
                if binary and len(names) == 2 and val in (0.0, 1.0):
                    ticklabels.append(names[int(val)])
                else:
                    ticklabels.append(f"{_quantile_label(str(r['quartile']))} ({val:.3g})")
            ax.axvline(0, color="#555555", linewidth=0.8)
            overall = _primary_effect(primary, outcome, visit, contrast)
            if overall is not None:
                ax.axvline(overall, color=EMPHASIS, linewidth=0.9, linestyle=(0, (3, 2)))
            ax.set_yticks(range(len(q)))
            ax.set_yticklabels(ticklabels, fontsize=7.5)
            ax.set_ylim(len(q) - 0.5, -0.5)
            where = f"{_outcome_label(plan, outcome)}, {visit}"
            if several and contrast:
                where += f"\n{_contrast_words(contrast)}"
            ax.set_title(f"{label}\n{where}", fontsize=8)
            ax.set_xlabel("Treatment effect (95% CI)", fontsize=8)
            ax.tick_params(axis="y", length=0)
            ax.spines["left"].set_visible(False)
        height = panel_h * nrow + 0.3
        fig.subplots_adjust(
            left=0.27 if ncol > 1 else 0.4,
            right=0.98,
            top=1 - (0.72 if several else 0.55) / height,
            bottom=0.45 / height,
            wspace=1.0,
            hspace=1.25 if several else 1.0,
        )
        desc = (
            "Treatment effect with 95% confidence intervals at the quartiles of the modifier, "
            "for: "
            + "; ".join(f"{p[0]} on {p[1]} at {p[2]}" for p in panels)
            + ". The dashed vertical line is the overall effect at that visit."
        )
        return _to_svg(
            fig, key="fig-quartiles", title="Treatment effect at modifier quartiles", desc=desc
        )


# ----------------------------------------------------------------------------- who benefits
def _benefit_cells(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The (outcome, visit, contrast) cells of a who-benefits table, in table order."""
    keys = zip(frame["outcome"], frame["visit"], _contrasts(frame), strict=True)
    return [(str(o), str(v), str(c)) for o, v, c in dict.fromkeys(keys)]


def _benefit_panels(n: int) -> tuple[int, int]:
    ncol = min(max(n, 1), 4)
    return ncol, -(-max(n, 1) // ncol)


def _cell(frame: pd.DataFrame, outcome: str, visit: str, contrast: str) -> pd.DataFrame:
    """The rows of one (outcome, visit, contrast) cell of a who-benefits table."""
    return frame[
        (frame["outcome"] == outcome) & (frame["visit"] == visit) & _match(frame, contrast)
    ]


def _benefit_title(plan: Plan, outcome: str, visit: str, contrast: str, several: bool) -> str:
    title = f"{_outcome_label(plan, outcome)}\n{visit}"
    return title + (f", {_contrast_words(contrast)}" if several and contrast else "")


def _points_with_ci(ax: Any, x: Any, part: pd.DataFrame, y: str, marker: str) -> None:
    """Points ``part[y]`` at ``x`` with vertical CI bars (``conf_low`` to ``conf_high``)."""
    for xi, (_, r) in zip(x, part.iterrows(), strict=True):
        ax.plot([xi, xi], [r["conf_low"], r["conf_high"]], color=INK, linewidth=1.0)
    ax.plot(x, part[y], marker=marker, markersize=4, color=INK, linestyle="none")


def benefit_risk_figure(risk_groups: pd.DataFrame, models: pd.DataFrame, plan: Plan) -> str:
    """Treatment effect by group of predicted prognosis (who benefits, risk-based view).

    One panel per outcome x visit (x contrast): the difference in mean outcome
    (arm minus reference) with its CI in each group of predicted prognosis (Q1 =
    lowest predicted outcome), the penalised effect model's average effect
    dotted, no effect dashed.

    Returns
    -------
    str
        Inline SVG.
    """
    cells = _benefit_cells(risk_groups)
    several = _contrasts(risk_groups).nunique() > 1
    ncol, nrow = _benefit_panels(len(cells))
    pct = round(100 * plan.analysis.conf_level)
    with _style():
        fig = _new_figure(2.35 * ncol + 0.4, 2.2 * nrow + 0.5)
        axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
        for ax in axes[len(cells) :]:
            ax.set_visible(False)
        for ax, (outcome, visit, contrast) in zip(axes, cells, strict=False):
            part = _cell(risk_groups, outcome, visit, contrast)
            x = part["group"].to_numpy(dtype=float)
            _points_with_ci(ax, x, part, "estimate", "s")
            ax.axhline(0, color="#555555", linewidth=0.8, linestyle=(0, (4, 2)))
            m = _cell(models, outcome, visit, contrast)
            if not m.empty:
                ax.axhline(
                    float(m["average_effect"].iloc[0]),
                    color=EMPHASIS,
                    linewidth=0.9,
                    linestyle=(0, (1, 1.5)),
                )
            ax.set_xticks(x)
            ax.set_xticklabels([f"Q{int(g)}" for g in x])
            ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
            ax.set_title(_benefit_title(plan, outcome, visit, contrast, several), fontsize=8)
            ax.set_xlabel("Group of predicted outcome (Q1 lowest)", fontsize=7.5)
        axes[0].set_ylabel(f"Treatment effect ({pct}% CI)", fontsize=8)
        height = 2.2 * nrow + 0.5
        fig.subplots_adjust(
            left=0.55 / (2.35 * ncol + 0.4),
            right=0.98,
            top=1 - 0.5 / height,
            bottom=0.45 / height,
            wspace=0.45,
            hspace=0.9,
        )
        desc = (
            f"Treatment effect (difference in mean outcome) with {pct}% confidence intervals "
            "in each group of predicted prognosis, for: "
            + "; ".join(f"{c[0]} at {c[1]}" + (f" ({c[2]})" if several else "") for c in cells)
            + ". Dashed: no effect; dotted: the average effect."
        )
        return _to_svg(
            fig, key="fig-benefit-risk", title="Treatment effect by predicted prognosis", desc=desc
        )


def benefit_calibration_figure(calibration: pd.DataFrame, models: pd.DataFrame, plan: Plan) -> str:
    """Calibration for benefit: observed vs predicted treatment effect by group.

    One panel per outcome x visit (x contrast): per group of out-of-fold predicted
    effect, the observed difference in means with its CI against the group's mean
    predicted effect; the diagonal is perfect calibration. The panel title gives
    the calibration slope and c-for-benefit.

    Returns
    -------
    str
        Inline SVG.
    """
    cells = _benefit_cells(calibration)
    several = _contrasts(calibration).nunique() > 1
    ncol, nrow = _benefit_panels(len(cells))
    pct = round(100 * plan.analysis.conf_level)
    with _style():
        width = 2.35 * ncol + 0.4
        height = 2.45 * nrow + 0.5
        fig = _new_figure(width, height)
        axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
        for ax in axes[len(cells) :]:
            ax.set_visible(False)
        for ax, (outcome, visit, contrast) in zip(axes, cells, strict=False):
            part = _cell(calibration, outcome, visit, contrast)
            px = part["predicted"].to_numpy(dtype=float)
            _points_with_ci(ax, px, part, "observed", "o")
            vals = np.concatenate(
                [
                    px,
                    part["conf_low"].to_numpy(dtype=float),
                    part["conf_high"].to_numpy(dtype=float),
                ]
            )
            vals = vals[np.isfinite(vals)]
            lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (-1.0, 1.0)
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color=MUTED, linewidth=0.8)
            ax.axhline(0, color="#555555", linewidth=0.6, linestyle=(0, (4, 2)))
            m = _cell(models, outcome, visit, contrast)
            title = _benefit_title(plan, outcome, visit, contrast, several)
            if not m.empty:
                s = float(m["calibration_slope"].iloc[0])
                c = float(m["c_for_benefit"].iloc[0])
                slope = "\u2014" if not np.isfinite(s) else f"{s:.2f}".replace("-", "\u2212")
                title += f"\nslope {slope}; c-for-benefit {c:.2f}"
            ax.set_title(title, fontsize=7.5)
            ax.set_xlabel("Predicted effect (out of fold)", fontsize=7.5)
        axes[0].set_ylabel(f"Observed effect ({pct}% CI)", fontsize=8)
        fig.subplots_adjust(
            left=0.55 / width,
            right=0.98,
            top=1 - 0.75 / height,
            bottom=0.45 / height,
            wspace=0.45,
            hspace=1.1,
        )
        desc = (
            "Calibration for benefit: observed treatment effect (difference in means, with "
            f"{pct}% confidence intervals) against the mean cross-validated predicted effect "
            "in each group of predicted effect, for: "
            + "; ".join(f"{c[0]} at {c[1]}" + (f" ({c[2]})" if several else "") for c in cells)
            + ". The grey diagonal is perfect calibration."
        )
        return _to_svg(
            fig, key="fig-benefit-calibration", title="Calibration for benefit", desc=desc
        )
