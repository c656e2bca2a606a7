"""Figures of the design report: power curves with Monte-Carlo bands, the enrichment trade-off.

Drawn with the plumbing of :mod:`resolve.report.figures` (matplotlib without
pyplot, text kept as text, a fixed hash salt: the same tables give the same SVG
bytes; a ``<title>`` and ``<desc>`` for screen readers). matplotlib is imported
only when a figure is drawn (``pip install 'resolve[plot]'``).

A *series* is one line of a figure: a design label, extended by the design
settings that vary in the table (``parallel, ratio 2``), see
:func:`series_labels`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from resolve._validation import show_values
from resolve.errors import DataValidationError
from resolve.report.figures import _mpl, _new_figure, _style, _to_svg

__all__ = ["Answer", "answers_from", "choose_panels", "power_curves_figure", "series_labels",
           "target_words", "tradeoff_figure"]  # fmt: skip

#: Okabe-Ito colours, then black; one per series, with a marker each (not colour alone).
SERIES_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8A6A00", "#56B4E9", "#6E6E6E",
                  "#000000")  # fmt: skip
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")
REFERENCE = "#555555"
#: Design settings that make a series of their own when they vary, with their wording.
VARYING = (("ratio", "ratio {}"), ("dropout", "dropout \u00d7{}"),
           ("effect_scale", "effect \u00d7{}"), ("modification", "modification {}"),
           ("modifier_sd", "modifier SD {}"))  # fmt: skip
#: Text a little larger than the analysis report's figures: few figures, read on phones too.
_RC = {"font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "xtick.labelsize": 9.5,
       "ytick.labelsize": 9.5, "legend.fontsize": 9.5}  # fmt: skip
#: Keys every sample-size answer must have.
SAMPLE_SIZE_KEYS = ("design", "target", "adjustment", "power_target", "n", "power", "mc_se")
MAX_PANELS = 8
_ADJUSTMENTS = {"none": "", "holm": "Holm-adjusted", "bh": "Benjamini-Hochberg-adjusted"}


@dataclass(frozen=True)
class Answer:
    """One sample-size answer, as drawn and tabulated.

    ``n`` is None when no evaluated size reached ``power_target``; ``power`` and
    ``mc_se`` are then those of the largest size evaluated.
    """

    series: str
    design: str
    target: str
    adjustment: str
    power_target: float
    n: int | None
    power: float
    mc_se: float
    n_screened: float | None = None
    eligible: float | None = None


def _setting(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "as scenario"
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def series_labels(frame: pd.DataFrame) -> pd.Series:
    """The series label of every row: the design, plus the design settings that vary.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"design": ["parallel", "parallel"], "ratio": [1.0, 2.0],
    ...                   "dropout": [1.0, 1.0]})
    >>> series_labels(t).tolist()
    ['parallel, ratio 1', 'parallel, ratio 2']
    """
    labels = frame["design"].astype(str)
    for column, words in VARYING:
        if column in frame.columns and frame[column].astype(str).nunique() > 1:
            labels = labels + [", " + words.format(_setting(v)) for v in frame[column]]
    return labels


def _number(item: Mapping[str, Any], key: str, k: int) -> float | None:
    value = item.get(key)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        raise DataValidationError(
            f"sample_sizes[{k}] key {key!r} must be a number; got {value!r}"
        ) from None


def answers_from(
    sample_sizes: Sequence[Mapping[str, Any]],
    power: pd.DataFrame,
    series: pd.Series,
    eligible: Mapping[str, float] | None = None,
) -> list[Answer]:
    """Check the sample-size answers and tie each to its series of ``power``.

    Each mapping needs :data:`SAMPLE_SIZE_KEYS` (``n`` an integer or None);
    ``n_screened`` and ``eligible`` are optional (``eligible`` falls back to
    ``eligible[design]``). Among series of the same design label, the one
    whose power at ``n`` matches the answer's is chosen.
    """
    out = []
    for k, item in enumerate(sample_sizes):
        if not isinstance(item, Mapping):
            raise DataValidationError(f"sample_sizes[{k}] must be a mapping; got {item!r}")
        missing = [key for key in SAMPLE_SIZE_KEYS if key not in item]
        if missing:
            raise DataValidationError(
                f"sample_sizes[{k}] lacks key(s) {show_values(missing)}; "
                f"has {show_values(list(item), limit=12)}"
            )
        n = item["n"]
        if n is not None and (isinstance(n, bool) or not float(n).is_integer()):
            raise DataValidationError(f"sample_sizes[{k}] key 'n' must be an integer; got {n!r}")
        goal = _number(item, "power_target", k)
        if goal is None or not 0 < goal < 1:
            raise DataValidationError(
                f"sample_sizes[{k}] key 'power_target' must be in (0, 1); got {goal!r}"
            )
        design, target, adj = str(item["design"]), str(item["target"]), str(item["adjustment"])
        p = _number(item, "power", k)
        p = math.nan if p is None else p
        hit = (power["design"] == design) & (power["target"] == target)
        hit &= power["adjustment"] == adj
        if n is not None:
            hit &= power["n"] == int(n)
        gap = (power["power"][hit] - p).abs().sort_values(kind="stable")
        share = item.get("eligible", (eligible or {}).get(design))
        out.append(
            Answer(
                series=design if gap.empty else str(series[gap.index[0]]),
                design=design, target=target, adjustment=adj, power_target=goal,
                n=None if n is None else int(n), power=p, mc_se=_number(item, "mc_se", k) or 0.0,
                n_screened=_number(item, "n_screened", k),
                eligible=None if share is None else float(share),
            )
        )  # fmt: skip
    return out


def choose_panels(
    power: pd.DataFrame, answers: Sequence[Answer], focus: Sequence[str] = ()
) -> tuple[list[tuple[str, str]], int]:
    """The (target, adjustment) panels of the power curves, at most 8, and how many qualified.

    ``focus`` targets in order (each with its sample-size adjustment, else
    ``none`` when tested so); by default the sample-size targets, then every
    unadjusted treatment target, then the other unadjusted targets.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"target": ["global:pain:week 52", "treatment:pain:week 52"],
    ...                   "adjustment": ["none", "none"]})
    >>> choose_panels(t, [])
    ([('treatment:pain:week 52', 'none'), ('global:pain:week 52', 'none')], 2)
    """
    pairs = list(
        dict.fromkeys(
            zip(power["target"].astype(str), power["adjustment"].astype(str), strict=True)
        )
    )
    chosen: list[tuple[str, str]] = []
    for target in focus:
        adj = next((a.adjustment for a in answers if a.target == target), "none")
        options = [a for t, a in pairs if t == target]
        if not options:
            raise DataValidationError(
                f"focus target {target!r} is not in the power table; targets: "
                f"{show_values(list(dict.fromkeys(t for t, _ in pairs)), limit=8)}"
            )
        chosen.append((target, adj if adj in options else options[0]))
    if not focus:
        plain = [p for p in pairs if p[1] == "none"]
        chosen = [(a.target, a.adjustment) for a in answers if (a.target, a.adjustment) in pairs]
        chosen += [p for p in plain if p[0].startswith("treatment:")]
        chosen += [p for p in plain if not p[0].startswith("treatment:")]
        chosen = chosen or pairs  # only adjusted tests in the table
    chosen = list(dict.fromkeys(chosen))
    return chosen[:MAX_PANELS], len(chosen)


def target_words(target: str, adjustment: str = "none", *, title: bool = False) -> str:
    """A target code in words: the sentence form, or a short panel title.

    Examples
    --------
    >>> target_words("treatment:pain:week 52|frebaq>=14")
    'the treatment effect on pain at week 52 among frebaq>=14'
    >>> target_words("modifier:frebaq:pain:week 52", "holm", title=True)
    'frebaq \u00d7 treatment, pain, week 52 (Holm-adjusted)'
    """
    head, _, stratum = target.partition("|")
    kind, *parts = head.split(":")
    adj = _ADJUSTMENTS.get(adjustment, f"{adjustment}-adjusted")
    names = {  # kind: (number of parts, title words, sentence words)
        "treatment": (2, "Treatment effect", "the treatment effect"),
        "modifier": (3, "{} \u00d7 treatment", "the {} \u00d7 treatment interaction"),
        "global": (2, "All interactions (global test)", "the global test of all interactions"),
    }
    if kind not in names or len(parts) != names[kind][0]:
        text = target
    else:
        *mod, outcome, visit = parts
        short, long = (x.format(*mod) for x in names[kind][1:])
        among = f"{',' * title} among {stratum}" if stratum else ""
        text = f"{short}, {outcome}, {visit}" if title else f"{long} on {outcome} at {visit}"
        text += among
    return f"{text} ({adj})" if adj else text


@contextmanager
def _design_style() -> Iterator[None]:
    with _style(), _mpl().rc_context(_RC):
        yield


def _mpl_text(text: str) -> str:
    """Text for matplotlib: a ``$`` must not start mathtext."""
    return text.replace("$", r"\$")


def _styles(series: Sequence[str]) -> dict[str, tuple[str, str]]:
    return {
        s: (SERIES_COLOURS[k % len(SERIES_COLOURS)], MARKERS[k % len(MARKERS)])
        for k, s in enumerate(series)
    }


def _legend_shape(labels: Sequence[str], width: float) -> tuple[int, int]:
    """(columns, rows) of a top legend whose columns fit ``width`` inches."""
    entry = 0.8 + 0.08 * max((len(x) for x in labels), default=1)
    ncol = max(1, min(len(labels), int((width - 0.2) // entry)))
    return ncol, -(-len(labels) // ncol)


def _legend(fig: Any, handles: list[Any], labels: list[str], width: float) -> float:
    """A figure legend across the top; returns the height it takes (inches)."""
    ncol, rows = _legend_shape(labels, width)
    fig.legend(
        handles,
        [_mpl_text(x) for x in labels],
        loc="upper left",
        bbox_to_anchor=(0.01, 0.995),
        ncol=ncol,
        handlelength=2.2,
        columnspacing=1.4,
        borderaxespad=0.2,
    )
    return 0.1 + 0.21 * rows


def power_curves_figure(
    power: pd.DataFrame,
    panels: Sequence[tuple[str, str]],
    *,
    series: pd.Series,
    answers: Sequence[Answer] = (),
) -> str:
    """Power against n randomised, one panel per (target, adjustment), a line per series.

    Parameters
    ----------
    power : pandas.DataFrame
        :func:`resolve.design.power.power_table` rows (``n``, ``target``,
        ``adjustment``, ``power``, ``conf_low``, ``conf_high``).
    panels : sequence of (target, adjustment)
        The panels, in order.
    series : pandas.Series
        The series label of every row of ``power`` (:func:`series_labels`).
    answers : sequence of Answer
        Sample-size answers: a dashed line at each target power of a panel
        and a ring at each answer.

    Returns
    -------
    str
        Inline SVG: the shaded band of each line is the 95% Wilson interval of
        the Monte-Carlo estimate, markers the evaluated sizes.
    """
    mpl = _mpl()
    order = list(dict.fromkeys(series.tolist()))
    styles = _styles(order)
    n_panels = max(len(panels), 1)
    ncol = 1 if n_panels == 1 else 2 if n_panels in (2, 4) else 3
    nrow = -(-n_panels // ncol)
    width = {1: 7.2, 2: 9.2, 3: 10.4}[ncol]
    panel_h = {1: 3.3, 2: 2.9, 3: 2.6}[ncol]
    with _design_style():
        handles = [
            mpl.lines.Line2D([], [], color=styles[s][0], marker=styles[s][1], markersize=5)
            for s in order
        ]
        labels = list(order)
        handles.append(mpl.patches.Patch(color="#888888", alpha=0.3, linewidth=0))
        labels.append("95% Monte-Carlo interval (Wilson)")
        if answers:
            handles += [
                mpl.lines.Line2D([], [], color=REFERENCE, linestyle=(0, (4, 3)), linewidth=0.9),
                mpl.lines.Line2D(
                    [], [], marker="o", markersize=9, markerfacecolor="none",
                    markeredgecolor=REFERENCE, linestyle="none",
                ),
            ]  # fmt: skip
            labels += ["target power", "sample-size answer"]
        top_in = 0.1 + 0.21 * _legend_shape(labels, width)[1] + 0.35
        height = top_in + panel_h * nrow + 0.15
        fig = _new_figure(width, height)
        axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        for ax, (target, adjustment) in zip(axes, panels, strict=False):
            hit = (power["target"] == target) & (power["adjustment"] == adjustment)
            part = power[hit].assign(_series=series[hit])
            for s in order:
                rows = part[part["_series"] == s].sort_values("n", kind="stable")
                rows = rows[rows["power"].notna()]
                if rows.empty:
                    continue
                colour, marker = styles[s]
                x = rows["n"].to_numpy(float)
                y = rows["power"].to_numpy(float)
                lo = rows["conf_low"].to_numpy(float)
                hi = rows["conf_high"].to_numpy(float)
                if len(x) > 1:
                    ax.fill_between(x, lo, hi, color=colour, alpha=0.16, linewidth=0)
                    ax.plot(x, y, color=colour, marker=marker, markersize=4, linewidth=1.4)
                else:
                    err = np.vstack([y - lo, hi - y])
                    ax.errorbar(
                        x, y, yerr=err, color=colour, marker=marker, markersize=4,
                        capsize=3, elinewidth=1.0, linestyle="none",
                    )  # fmt: skip
            mine = [a for a in answers if (a.target, a.adjustment) == (target, adjustment)]
            where = mpl.transforms.blended_transform_factory(ax.transAxes, ax.transData)
            for goal in sorted({a.power_target for a in mine}):
                ax.axhline(goal, color=REFERENCE, linestyle=(0, (4, 3)), linewidth=0.9, zorder=0)
                ax.text(
                    0.995, goal + 0.015, f"{100 * goal:g}%", transform=where, ha="right",
                    va="bottom", fontsize=8.5, color=REFERENCE,
                )  # fmt: skip
            for a in mine:
                if a.n is None or a.series not in styles:
                    continue
                colour = styles[a.series][0]
                ax.vlines(a.n, 0, a.power, colors=colour, linestyles=":", linewidth=1.0)
                ax.plot(
                    [a.n], [a.power], marker="o", markersize=10, markerfacecolor="none",
                    markeredgecolor=colour, markeredgewidth=1.5, linestyle="none",
                )  # fmt: skip
            ax.set_title(
                _mpl_text(textwrap.fill(target_words(target, adjustment, title=True), 46)),
                loc="left",
            )
            ax.set_ylim(-0.02, 1.02)
            ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
            ax.grid(axis="y", color="#E6E6E6", linewidth=0.6)
            ax.set_axisbelow(True)
            ax.margins(x=0.05)
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=6, integer=True))
            ax.set_xlabel("n randomised (both arms)")
            ax.set_ylabel("Power")
        _legend(fig, handles, labels, width)
        fig.subplots_adjust(
            left=0.75 / width,
            right=1 - 0.2 / width,
            top=1 - top_in / height,
            bottom=0.55 / height if nrow == 1 else 0.5 / height,
            wspace=0.28,
            hspace=0.55 + 0.1 * (nrow > 1),
        )
        desc = (
            f"Simulated power against the number randomised for {len(panels)} tests "
            f"({'; '.join(target_words(t, a) for t, a in panels)}), one line per design "
            f"({', '.join(order)}), shaded: 95% Wilson interval of the Monte-Carlo estimate."
        )
        svg = _to_svg(fig, key="fig-power", title="Power curves", desc=desc)
        return svg if ncol == 1 else svg.replace('class="mpl"', 'class="mpl wide"', 1)


def tradeoff_figure(
    power: pd.DataFrame, *, series: pd.Series, answers: Sequence[Answer] = ()
) -> str:
    """Mean number screened against number randomised, a line per series.

    Parameters
    ----------
    power : pandas.DataFrame
        Power-table rows with ``n`` and ``n_screened`` (mean over replicates).
    series : pandas.Series
        The series label of every row (:func:`series_labels`).
    answers : sequence of Answer
        Sample-size answers, drawn as large markers with their numbers.

    Returns
    -------
    str
        Inline SVG; the diagonal is an all-comers trial (everyone screened is
        randomised).
    """
    frame = power.assign(_series=series.to_numpy())
    frame = frame[frame["n_screened"].notna()].drop_duplicates(["_series", "n"])
    gap = (frame["n_screened"] - frame["n"]).abs() > 0.5
    frame = frame[frame["_series"].isin(set(frame["_series"][gap]))]  # all-comers: the diagonal
    order = list(dict.fromkeys(frame["_series"].tolist()))
    styles = _styles(list(dict.fromkeys(series.tolist())))
    marked = [a for a in answers if a.series in styles and a.n is not None and a.n_screened]
    labels = ["screened = randomised (all-comers)"]
    for s in order:
        mine = [a for a in marked if a.series == s]
        labels.append(
            s + "".join(f" (answer: n = {a.n}, about {a.n_screened:,.0f} screened)" for a in mine)
        )
    if marked:
        labels.append("large marker: the sample-size answer")
    width = 7.2
    top_in = 0.25 + 0.21 * _legend_shape(labels, width)[1]
    height = top_in + 3.4
    top_n = max([float(frame["n"].max()), *(float(a.n or 0) for a in marked)])
    top_s = max([float(frame["n_screened"].max()), *(a.n_screened or 0.0 for a in marked)])
    with _design_style():
        mpl = _mpl()
        fig = _new_figure(width, height)
        ax = fig.subplots()
        lim = max(top_n, 1.0) * 1.06
        dash = (0, (4, 3))
        ax.plot([0, lim], [0, lim], color=REFERENCE, linestyle=dash, linewidth=0.9)
        handles = [mpl.lines.Line2D([], [], color=REFERENCE, linestyle=dash)]
        for s in order:
            rows = frame[frame["_series"] == s].sort_values("n", kind="stable")
            colour, marker = styles[s]
            ax.plot(
                rows["n"].to_numpy(float), rows["n_screened"].to_numpy(float), color=colour,
                marker=marker, markersize=3.5, linewidth=1.3,
            )  # fmt: skip
            handles.append(mpl.lines.Line2D([], [], color=colour, marker=marker, markersize=5))
        for a in marked:
            colour, marker = styles[a.series]
            ax.plot(
                [a.n], [a.n_screened], marker=marker, markersize=10, color=colour,
                markeredgecolor="white", markeredgewidth=1.0, linestyle="none", zorder=5,
            )  # fmt: skip
        if marked:
            handles.append(
                mpl.lines.Line2D(
                    [], [], marker="o", markersize=9, color=REFERENCE, linestyle="none"
                )
            )
        ax.set_xlim(0, lim)
        ax.set_ylim(0, max(top_s, 1.0) * 1.08)
        ax.grid(color="#E6E6E6", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_xlabel("n randomised (both arms)")
        ax.set_ylabel("n screened (mean over simulated trials)")
        _legend(fig, handles, labels, width)
        fig.subplots_adjust(
            left=0.8 / width, right=1 - 0.25 / width, top=1 - top_in / height, bottom=0.55 / height
        )
        desc = (
            "Mean number of people screened against the number randomised for "
            f"{', '.join(order)}; the dashed diagonal is an all-comers trial. "
            + " ".join(f"{x}." for x in labels[1 : 1 + len(order)])
        )
        return _to_svg(fig, key="fig-tradeoff", title="Enrichment trade-off", desc=desc)
