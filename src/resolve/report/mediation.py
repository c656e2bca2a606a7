"""The report's "Mechanisms: causal mediation" section (plan ``[mediation]``)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import numpy as np
import pandas as pd

from resolve.analysis.result import TrialAnalysis
from resolve.report import mediation_figures as mf
from resolve.report.html import _figure
from resolve.report.tables import _table, fmt_ci, fmt_num

__all__ = ["mediation_section"]

_METHOD_WORDS = {
    "percentile": "percentile bootstrap",
    "bca": "BCa bootstrap",
    "delta": "delta method",
    "mi-percentile": "Rubin's rules over imputations, bootstrap variance",
    "mi-bca": "Rubin's rules over imputations, bootstrap variance",
    "mi-delta": "Rubin's rules over imputations, delta-method variance",
}


def _cell(r: pd.Series | None, digits: int = 2) -> str:
    if r is None:
        return "\u2014"
    return fmt_ci(r["estimate"], r["conf_low"], r["conf_high"], digits)


def _pm(r: pd.Series | None) -> str:
    if r is None or not np.isfinite(float(r["estimate"])):
        return "\u2014"
    return f"{fmt_num(100 * float(r['estimate']), 0)}%"


def mediation_section(
    analysis: TrialAnalysis,
    outcome_labels: dict[str, str],
    fig: Callable[[], int],
    tab: Callable[[], int],
) -> str:
    """HTML of the mediation section: caveats, effects table, figures, sensitivity, notes."""
    pm = analysis.mediation
    assert pm is not None
    res = pm.result
    plan = analysis.plan
    s = plan.mediation
    t = plan.trial
    level = float(res.settings.get("conf_level", plan.analysis.conf_level))
    pct = round(100 * level)
    treated = next(a for a in t.arms if a != t.reference_arm)
    rows = mf.best_rows(res.effects)
    method = next(iter(rows["ci_method"]), "delta")
    labels = dict(pm.labels)
    thresholds = {
        (str(x["outcome"]), str(x["mediator"])): x for x in res.settings.get("rho_thresholds", [])
    }
    confounders = ", ".join(res.settings.get("covariates", [])) or "none"
    extra = []
    if s.adjust_for_baseline:
        extra.append("the outcome's baseline value")
    if any(m.baseline for m in s.mediators):
        extra.append("each mediator's baseline value (in its own models)")
    body = '<div class="key">'
    if pm.data_label:
        body += (
            f"<p><b>Data.</b> {escape(pm.data_label)}. The other sections of this report "
            "analyse the trial named at the top.</p>"
        )
    outcomes_text = ", ".join(outcome_labels.get(o, o) for o in s.outcomes)
    interaction = " with a treatment \u00d7 mediator interaction" if s.interaction else ""
    adjusted = f", plus {' and '.join(extra)}" if extra else ""
    resamples = ""
    if method in ("percentile", "bca", "mi-percentile", "mi-bca"):
        resamples = f" ({res.settings.get('boot', s.boot)} resamples of participants)"
    if pm.imputations:
        resamples += f"; missing values: {pm.imputations} imputations"
    how = _METHOD_WORDS.get(method, method)
    body += (
        f"<p><b>Question.</b> Does {escape(treated)} change {escape(outcomes_text)} at "
        f"{escape(s.visit)} <i>through</i> the mechanisms it targets? For each mediator: the "
        "<b>natural indirect effect</b> (NIE: the change in the outcome caused by the "
        "treatment's change in the mediator), the <b>natural direct effect</b> (NDE: the "
        "rest), their sum the <b>total effect</b>, and the proportion mediated (NIE / total). "
        f"Regression-based estimates (VanderWeele 2015){interaction}; confounders: "
        f"{escape(confounders + adjusted)}; {pct}% intervals by {escape(how + resamples)}.</p>"
        "<p><b>Read with care.</b> Randomisation protects the treatment comparisons, not the "
        "mediator-outcome relation: an NIE is causal only if no unmeasured factor affects both "
        "the mediator and the outcome (the sensitivity analysis below asks how strong such a "
        "factor would have to be) and, for natural effects, if no mediator-outcome confounder "
        "is itself changed by the treatment. Mediators that move together (beliefs, "
        "catastrophising, self-efficacy) violate the latter for each other; the "
        "<b>interventional</b> effects (Vansteelandt &amp; Daniel 2017) do not need it. "
        "Single-mediator NIEs each carry the effects of the mediators correlated with them, so "
        "they overlap and need not add up to the joint one.</p>"
    )
    if pm.placeholders:
        body += (
            "<p><b>Placeholders.</b> Not from the trial's mediation protocol (details not "
            "retrievable here; this project's reconstruction): "
            + escape(", ".join(pm.placeholders))
            + ".</p>"
        )
    body += "</div>"

    groups = []
    for o in s.outcomes:
        part = rows[rows["outcome"] == o]

        def get(m: str, effect: str, part: pd.DataFrame = part) -> pd.Series | None:
            hit = part[(part["mediator"] == m) & (part["effect"] == effect)]
            return None if hit.empty else hit.iloc[0]

        cells = []
        for m in [x.name for x in s.mediators] + ["joint"]:
            if get(m, "nie") is None:
                continue
            th = thresholds.get((o, m))
            rho = "\u2014" if th is None else fmt_num(th.get("ci_zero"), 2)
            name = "All mediators jointly" if m == "joint" else labels.get(m, m)
            iv = get(f"interventional:{m}", "nie")
            cells.append(
                [
                    escape(name),
                    _cell(get(m, "nie")),
                    _cell(get(m, "nde")),
                    _pm(get(m, "pm")),
                    _cell(iv),
                    rho,
                ]
            )
        total = get("joint", "te")
        if total is None:
            first = s.mediators[0].name
            total = get(first, "te")
        n = int(part["n"].max()) if not part.empty else 0
        title = f"{outcome_labels.get(o, o)} at {s.visit}: total effect {_cell(total)}; n = {n}"
        groups.append((escape(title), cells))
    body += _table(
        f"Table {tab()}. Causal mediation: indirect and direct effects of {escape(treated)} "
        f"vs {escape(t.reference_arm)}",
        [
            "Mediator",
            f"Indirect effect (NIE, {pct}% CI)",
            f"Direct effect (NDE, {pct}% CI)",
            "Proportion mediated",
            f"Interventional indirect effect ({pct}% CI)",
            "\u03c1 at which the NIE interval includes 0",
        ],
        groups,
        css="num",
        note="Effects in outcome points, treatment minus reference, confounders at their "
        "means. Proportion mediated is unstable when the total effect is small. "
        "\u03c1: correlation of the mediator- and outcome-model errors that an unmeasured "
        "confounder would have to induce for the interval to include 0 (0.00: it already "
        "does); computed "
        + escape(str(res.settings.get("sensitivity_model", "from the analysis models")))
        + ".",
    )
    body += _figure(
        mf.indirect_forest_figure(res.effects, outcome_labels, labels, level),
        fig(),
        "Indirect effects",
        f"Natural indirect effect of each mediator alone, all jointly (diamond) and the "
        f"interventional indirect effects (squares), with {pct}% CIs; filled: the interval "
        "excludes 0. Dashed: no effect; dotted: the total effect.",
    )
    for o in s.outcomes:
        body += _figure(
            mf.path_diagram_figure(res.paths, o, outcome_labels.get(o, o), labels, level),
            fig(),
            f"Paths, {outcome_labels.get(o, o)}",
            "a: treatment \u2192 mediator (mean difference); b: mediator \u2192 outcome per "
            "mediator unit; c\u2032: treatment \u2192 outcome given the mediator"
            + (" (at mediator 0, with the interaction shown above it)" if s.interaction else "")
            + f"; {pct}% CIs (model-based); orange: the interval excludes 0.",
        )
    pairs = mf.sensitivity_pairs(res.sensitivity)
    if pairs:
        body += _figure(
            mf.sensitivity_figure(
                res.sensitivity,
                list(thresholds.values()),
                pairs,
                outcome_labels,
                labels,
                level,
            ),
            fig(),
            "Sensitivity to unmeasured mediator-outcome confounding",
            "Indirect effect against \u03c1, the correlation between the errors of the "
            "mediator and outcome models (Imai, Keele &amp; Yamamoto 2010), with pointwise "
            f"{pct}% intervals (delta method), for the indirect effects whose interval at "
            "\u03c1 = 0 excludes 0 (if none, the largest), computed "
            + escape(str(res.settings.get("sensitivity_model", "from the analysis models")))
            + f"; shown for |\u03c1| \u2264 {mf.ZOOM}. The orange line: where the interval "
            "first includes 0; the closer to 0, the more fragile the finding. Every curve, "
            "over \u22120.9 to 0.9, is in mediation_sensitivity.csv.",
        )
    if res.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in res.warnings)
        body += (
            f"<details><summary>Notes on the mediation models ({len(res.warnings)})</summary>"
            f'<ul class="plain">{items}</ul></details>'
        )
    return body
