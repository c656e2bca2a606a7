"""Figures of the mediation section: path diagrams, indirect effects, sensitivity curves.

Same look as :mod:`resolve.report.figures` (its style, colours and inline-SVG
serialisation with a title and description for screen readers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resolve.report.figures import (
    EMPHASIS,
    INK,
    MUTED,
    _new_figure,
    _style,
    _to_svg,
)

__all__ = [
    "BOOTSTRAP_FIRST",
    "best_rows",
    "indirect_forest_figure",
    "path_diagram_figure",
    "sensitivity_figure",
    "sensitivity_pairs",
]

#: Preference of interval methods when one row per effect is shown.
BOOTSTRAP_FIRST = ("bca", "percentile", "mi-bca", "mi-percentile", "mi-delta", "delta")
_IV = "interventional:"
#: The sensitivity panels show |rho| <= ZOOM (the curve runs off to +-infinity near +-1,
#: hiding where it crosses 0); the whole curve is in mediation_sensitivity.csv.
ZOOM = 0.5


def _num(x: float, digits: int = 2) -> str:
    if not np.isfinite(x):
        return "\u2014"
    return f"{x:.{digits}f}".replace("-", "\u2212")


def best_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per outcome, mediator and effect: the bootstrap interval where there is one."""
    rank = {m: i for i, m in enumerate(BOOTSTRAP_FIRST)}
    order = frame.assign(_r=frame["ci_method"].map(rank).fillna(len(rank)))
    order = order.sort_values("_r", kind="stable")
    kept = order.drop_duplicates(["outcome", "mediator", "effect"], keep="first")
    return kept.drop(columns="_r").sort_index()


# ----------------------------------------------------------------------------- paths
def _box(ax: Any, x: float, y: float, text: str, *, width: float = 0.3) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - 0.09),
            width,
            0.18,
            boxstyle="round,pad=0.01,rounding_size=0.03",
            facecolor="#F4F4F4",
            edgecolor="#444444",
            linewidth=0.8,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=7.2, color=INK, wrap=True)


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float], colour: str) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.1, "shrinkA": 0,
                    "shrinkB": 0, "mutation_scale": 9},
    )  # fmt: skip


def _path_text(paths: pd.DataFrame, name: str) -> tuple[str, bool]:
    row = paths[paths["path"] == name]
    if row.empty:
        return "", False
    r = row.iloc[0]
    low, high = float(r["conf_low"]), float(r["conf_high"])
    excludes = bool(np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0))
    return f"{_num(float(r['estimate']))} ({_num(low)} to {_num(high)})", excludes


def path_diagram_figure(
    paths: pd.DataFrame,
    outcome: str,
    outcome_label: str,
    labels: Mapping[str, str],
    conf_level: float,
) -> str:
    """One small path diagram per mediator of ``outcome``: a, b, c' (and the interaction).

    Paths whose interval excludes 0 are drawn in the emphasis colour.

    Returns
    -------
    str
        Inline SVG.
    """
    part = paths[paths["outcome"] == outcome]
    mediators = list(dict.fromkeys(part["mediator"]))
    ncol = 2 if len(mediators) > 1 else 1
    nrow = int(np.ceil(len(mediators) / ncol))
    pct = round(100 * conf_level)
    with _style():
        width, height = 3.35 * ncol, 1.85 * nrow + 0.15
        fig = _new_figure(width, height)
        axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
        for ax in axes:
            ax.set_axis_off()
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
        for ax, m in zip(axes, mediators, strict=False):
            rows = part[part["mediator"] == m]
            label = labels.get(m, m)
            ax.set_title(label, fontsize=8, loc="left", color=INK)
            _box(ax, 0.15, 0.2, "Treatment", width=0.26)
            _box(ax, 0.5, 0.74, m, width=0.3)
            _box(ax, 0.85, 0.2, outcome_label if len(outcome_label) < 14 else outcome, width=0.26)
            for name, start, end, xy, ha in (
                ("a", (0.2, 0.29), (0.42, 0.65), (0.03, 0.56), "left"),
                ("b", (0.58, 0.65), (0.8, 0.29), (0.97, 0.56), "right"),
                ("c_prime", (0.28, 0.2), (0.72, 0.2), (0.5, 0.03), "center"),
            ):
                text, strong = _path_text(rows, name)
                colour = EMPHASIS if strong else MUTED
                _arrow(ax, start, end, colour)
                symbol = {"a": "a", "b": "b", "c_prime": "c\u2032"}[name]
                if name != "c_prime" and " (" in text:
                    value, interval = text.split(" (", 1)
                    text = f"{value}\n({interval}"
                ax.text(*xy, f"{symbol} = {text}", ha=ha, va="center", fontsize=6.6,
                        color=INK, linespacing=1.15)  # fmt: skip
            inter, _ = _path_text(rows, "interaction")
            if inter:
                ax.text(0.5, 0.95, f"treatment \u00d7 mediator = {inter}", ha="center",
                        va="center", fontsize=6.3, color="#555555")  # fmt: skip
        fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.2 / height, bottom=0.02,
                            hspace=0.45, wspace=0.12)  # fmt: skip
        desc = (
            f"Path diagrams for {outcome_label}: for each mediator, the effect of treatment on "
            "the mediator (a), of the mediator on the outcome given treatment (b) and of "
            f"treatment on the outcome given the mediator (c prime), with {pct}% confidence "
            "intervals; paths whose interval excludes zero are orange. "
            + "; ".join(
                f"{labels.get(m, m)}: a {_path_text(part[part.mediator == m], 'a')[0]}, "
                f"b {_path_text(part[part.mediator == m], 'b')[0]}"
                for m in mediators
            )
        )
        return _to_svg(
            fig, key=f"fig-mediation-paths-{outcome}", title=f"Path diagrams, {outcome_label}",
            desc=desc,
        )  # fmt: skip


# ----------------------------------------------------------------------------- forest
def _forest_rows(
    part: pd.DataFrame, labels: Mapping[str, str]
) -> list[tuple[str, pd.Series | None, str]]:
    """(label, row or None for a header, kind) in display order."""
    nie = part[part["effect"] == "nie"]
    singles = [m for m in dict.fromkeys(nie["mediator"]) if ":" not in m and m != "joint"]
    out: list[tuple[str, pd.Series | None, str]] = [("Each mediator alone", None, "header")]
    out += [(labels.get(m, m), nie[nie["mediator"] == m].iloc[0], "single") for m in singles]
    if (nie["mediator"] == "joint").any():
        out.append(("All jointly", nie[nie["mediator"] == "joint"].iloc[0], "joint"))
    ivs = [m for m in singles if (nie["mediator"] == _IV + m).any()]
    if ivs:
        out.append(("Interventional (correlated mediators)", None, "header"))
        out += [
            (labels.get(m, m), nie[nie["mediator"] == _IV + m].iloc[0], "interventional")
            for m in ivs
        ]
        if (nie["mediator"] == _IV + "joint").any():
            out.append(("All jointly", nie[nie["mediator"] == _IV + "joint"].iloc[0], "joint"))
    return out


def indirect_forest_figure(
    effects: pd.DataFrame,
    outcome_labels: Mapping[str, str],
    labels: Mapping[str, str],
    conf_level: float,
) -> str:
    """Forest plot of the indirect effects, one panel per outcome.

    Rows: each mediator's natural indirect effect alone, all jointly, then the
    interventional indirect effects; the dotted line is the total effect. Filled
    markers: interval excludes 0.

    Returns
    -------
    str
        Inline SVG.
    """
    rows = best_rows(effects)
    outcomes = list(dict.fromkeys(rows["outcome"]))
    pct = round(100 * conf_level)
    with _style():
        layouts = {o: _forest_rows(rows[rows["outcome"] == o], labels) for o in outcomes}
        sizes = [len(layouts[o]) + 1.8 for o in outcomes]
        width, row_in, gap_in, top_in, bottom_in = 6.6, 0.2, 0.75, 0.25, 0.5
        height = row_in * sum(sizes) + gap_in * (len(outcomes) - 1) + top_in + bottom_in
        fig = _new_figure(width, height)
        axes_in = row_in * sum(sizes) / len(outcomes)
        axes = fig.subplots(
            len(outcomes),
            1,
            squeeze=False,
            gridspec_kw={"height_ratios": sizes, "hspace": gap_in / axes_in},
        ).ravel()
        desc_parts = []
        for ax, o in zip(axes, outcomes, strict=True):
            layout = layouts[o]
            ys = np.arange(len(layout))[::-1].astype(float)
            ticks, ticklabels = [], []
            for y, (label, r, kind) in zip(ys, layout, strict=True):
                ticks.append(y)
                ticklabels.append(label)
                if r is None:
                    continue
                est, low, high = (float(r[c]) for c in ("estimate", "conf_low", "conf_high"))
                strong = np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0)
                colour = EMPHASIS if strong else MUTED
                marker = "D" if kind == "joint" else ("s" if kind == "interventional" else "o")
                ax.plot([low, high], [y, y], color=colour, linewidth=1.2)
                ax.plot(
                    [est], [y], marker=marker, markersize=5, color=colour,
                    markerfacecolor=colour if strong else "white",
                )  # fmt: skip
                desc_parts.append(f"{o}, {label}: {_num(est)} ({_num(low)} to {_num(high)})")
            ax.set_yticks(ticks)
            ax.set_yticklabels(ticklabels, fontsize=7.5)
            for tick, (_, r, _) in zip(ax.get_yticklabels(), layout, strict=True):
                if r is None:
                    tick.set_fontweight("bold")
            ax.axvline(0, color="#555555", linewidth=0.7, linestyle=(0, (4, 2)))
            te = rows[(rows["outcome"] == o) & (rows["effect"] == "te")]
            if (te["mediator"] == "joint").any():  # the joint model's total, as in the table
                te = te[te["mediator"] == "joint"]
            if not te.empty:
                total = float(te.iloc[0]["estimate"])
                ax.axvline(total, color=INK, linewidth=0.7, linestyle=":")
                ax.text(total, ys.max() + 0.6, f"total {_num(total)}", ha="center",
                        va="bottom", fontsize=6.8, color=INK)  # fmt: skip
            ax.set_ylim(-0.7, ys.max() + 1.2)
            ax.set_xlabel(f"Indirect effect on {outcome_labels.get(o, o)} ({pct}% CI)")
        fig.subplots_adjust(left=0.43, right=0.97, top=1 - top_in / height,
                            bottom=bottom_in / height)  # fmt: skip
        desc = (
            "Indirect effects of treatment through each mediator alone, all jointly and as "
            f"interventional effects, with {pct}% confidence intervals; the dotted line is the "
            "total effect. " + "; ".join(desc_parts)
        )
        return _to_svg(fig, key="fig-mediation-forest", title="Indirect effects", desc=desc)


# ----------------------------------------------------------------------------- sensitivity
def sensitivity_pairs(sensitivity: pd.DataFrame, limit: int = 6) -> list[tuple[str, str]]:
    """(outcome, mediator) curves worth a panel: those whose interval at rho = 0 excludes 0
    (the findings a sensitivity analysis is about), largest ``|NIE|`` first; if there are
    none, the largest ``|NIE|``; at most ``limit``."""
    if sensitivity.empty:
        return []
    sensitivity = sensitivity.reset_index(drop=True)
    at0 = sensitivity.loc[
        sensitivity.assign(_d=sensitivity["rho"].abs())
        .groupby(["outcome", "mediator"], sort=False)["_d"]
        .idxmin()
    ]
    strong = at0[(at0["conf_low"] > 0) | (at0["conf_high"] < 0)]
    chosen = strong if not strong.empty else at0
    chosen = chosen.reindex(chosen["nie"].abs().sort_values(ascending=False).index)
    return [(str(r.outcome), str(r.mediator)) for r in chosen.head(limit).itertuples()]


def sensitivity_figure(
    sensitivity: pd.DataFrame,
    thresholds: Sequence[Mapping[str, Any]],
    pairs: Sequence[tuple[str, str]],
    outcome_labels: Mapping[str, str],
    labels: Mapping[str, str],
    conf_level: float,
) -> str:
    """NIE as a function of the mediator-outcome error correlation rho, per pair.

    The band is the pointwise interval; the vertical line marks the rho at which
    the interval first includes 0.

    Returns
    -------
    str
        Inline SVG.
    """
    pct = round(100 * conf_level)
    where = {(str(t["outcome"]), str(t["mediator"])): t for t in thresholds}
    ncol = 2 if len(pairs) > 1 else 1
    nrow = int(np.ceil(len(pairs) / ncol))
    with _style():
        width, height = 3.3 * ncol, 2.2 * nrow + 0.3
        fig = _new_figure(width, height)
        axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
        for ax in axes[len(pairs) :]:
            ax.set_visible(False)
        desc_parts = []
        for ax, (o, m) in zip(axes, pairs, strict=False):
            c = sensitivity[(sensitivity["outcome"] == o) & (sensitivity["mediator"] == m)]
            c = c[c["rho"].abs() <= ZOOM + 1e-9].sort_values("rho")
            rho = c["rho"].to_numpy(dtype=float)
            ax.fill_between(rho, c["conf_low"], c["conf_high"], color="#DDDDDD", linewidth=0)
            ax.plot(rho, c["nie"], color=INK, linewidth=1.2)
            ax.axhline(0, color="#555555", linewidth=0.7, linestyle=(0, (4, 2)))
            ax.axvline(0, color=MUTED, linewidth=0.6)
            th = where.get((o, m))
            text = ""
            if th is not None and np.isfinite(float(th["ci_zero"])):
                rz = float(th["ci_zero"])
                ax.axvline(rz, color=EMPHASIS, linewidth=1.0)
                text = f"CI includes 0 from \u03c1 = {_num(rz)}"
                ax.text(rz, ax.get_ylim()[1], " " + _num(rz), color=EMPHASIS, fontsize=6.8,
                        ha="left", va="top")  # fmt: skip
            ax.set_title(f"{labels.get(m, m)}\n{outcome_labels.get(o, o)}", fontsize=7.5)
            ax.set_xlabel("\u03c1 (error correlation)", fontsize=7.5)
            desc_parts.append(f"{labels.get(m, m)} on {outcome_labels.get(o, o)}: {text}")
        axes[0].set_ylabel(f"Indirect effect ({pct}% CI)", fontsize=7.5)
        fig.subplots_adjust(left=0.6 / width, right=0.97, top=1 - 0.5 / height,
                            bottom=0.45 / height, hspace=0.95, wspace=0.35)  # fmt: skip
        desc = (
            "Sensitivity of the indirect effect to unmeasured mediator-outcome confounding "
            "(Imai, Keele and Yamamoto): the indirect effect and its pointwise "
            f"{pct}% interval against the correlation rho between the mediator and outcome "
            "model errors; the orange line marks where the interval first includes zero. "
            + "; ".join(desc_parts)
        )
        return _to_svg(fig, key="fig-mediation-sensitivity", title="Sensitivity to "
                       "unmeasured confounding", desc=desc)  # fmt: skip
