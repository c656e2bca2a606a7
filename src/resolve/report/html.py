"""Assemble the self-contained HTML report of a trial analysis.

One file, no external CSS, scripts, fonts or images: figures are inline SVG,
the stylesheet is inline, and nothing depends on the clock, so the same
analysis gives the same bytes. Built with the standard library only
(``html.escape`` and f-strings); Jinja2 is not needed.
"""

from __future__ import annotations

import platform
from html import escape
from importlib import metadata

import pandas as pd

from resolve.analysis.plan import OutcomeSpec, Plan
from resolve.analysis.result import TrialAnalysis
from resolve.analysis.summary import (
    contrast_column,
    credible_keys,
    is_credible,
    summary_sections,
)
from resolve.report import figures
from resolve.report.consort import consort_svg
from resolve.report.tables import (
    contrast_text,
    credibility_table,
    effect_table,
    fmt_ci,
    fmt_num,
    fmt_p,
    frame_table,
    modifier_table,
    responders_table,
    table1,
    table2,
)

__all__ = ["credible_findings", "render_html"]

_CSS = """
:root { --ink: #1f1f1f; --muted: #5c5c5c; --rule: #222; --band: #f3f2ee; --accent: #b34700; }
* { box-sizing: border-box; }
html { font-size: 15px; }
body { margin: 0 auto; max-width: 62rem; padding: 2rem 1.5rem 4rem; color: var(--ink);
  font-family: "Helvetica Neue", Helvetica, Arial, "Liberation Sans", sans-serif;
  line-height: 1.45; }
header { border-bottom: 3px solid var(--rule); margin-bottom: 1.2rem; }
h1 { font-size: 1.75rem; margin: 0 0 .2rem; letter-spacing: -.01em; }
.subtitle { color: var(--muted); margin: 0 0 .8rem; }
h2 { font-size: 1.2rem; margin: 2.4rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 1px solid #ccc; }
h3 { font-size: 1rem; margin: 1.4rem 0 .4rem; }
p, li { max-width: 46rem; }
nav ol { columns: 2; padding-left: 1.3rem; margin: .3rem 0 0; }
nav a { color: var(--ink); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1.2rem; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.key { background: var(--band); border-left: 4px solid var(--accent); padding: .6rem .9rem;
  margin: 1rem 0; max-width: 46rem; }
.key p, .key ul { margin: .2rem 0; }
table { border-collapse: collapse; margin: .8rem 0 1.4rem; font-size: .85rem; width: 100%;
  font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 700; padding-bottom: .35rem; }
table thead tr.spans th { border-bottom: 1px solid #999; text-align: center; }
table thead tr.spans td { border-top: 2px solid var(--rule); }
table thead tr.spans + tr th { border-top: 0; }
thead th { border-top: 2px solid var(--rule); border-bottom: 1px solid var(--rule);
  text-align: left; vertical-align: bottom; padding: .3rem .45rem; font-weight: 700;
  white-space: normal; }
tbody th, tbody td { padding: .18rem .45rem; vertical-align: top; text-align: left; }
tbody th { font-weight: 400; }
table.num td { text-align: right; white-space: nowrap; }
table.num thead th { text-align: right; }
table.num thead th.l, table.num td.l { text-align: left; }
table.num tfoot td { text-align: left; white-space: normal; }
span.unit { color: var(--muted); font-size: .9em; }
tr.group th { background: var(--band); font-weight: 700; padding-top: .35rem; }
tbody:last-of-type tr:last-child th, tbody:last-of-type tr:last-child td {
  border-bottom: 2px solid var(--rule); }
table.iceman td { font-size: .78rem; }
tr.why td { color: var(--muted); font-size: .74rem; padding: 0 .45rem .4rem;
  border-bottom: 1px solid #ddd; }
tfoot td { font-size: .78rem; color: var(--muted); padding-top: .4rem; text-align: left;
  white-space: normal; }
abbr.flag { display: inline-block; min-width: 1.1em; margin-left: .15em; padding: 0 .2em;
  font-size: .72rem; font-weight: 700; text-align: center; text-decoration: none;
  border: 1px solid #999; border-radius: 2px; color: #555; }
abbr.expl { border-color: #d55e00; color: #b34700; }
abbr.cred { border-color: #0072b2; color: #0072b2; }
figure { margin: 1.2rem 0 1.8rem; break-inside: avoid; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figure svg.mpl { width: 100%; }
figcaption { font-size: .85rem; color: var(--muted); margin-top: .4rem; max-width: 46rem; }
figcaption b { color: var(--ink); }
code, pre { font-family: "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: .82rem; }
pre { background: var(--band); padding: .6rem .8rem; overflow-x: auto; }
ul.plain { padding-left: 1.2rem; margin: .2rem 0 .6rem; }
h3.topic { font-size: .95rem; margin: 1rem 0 .2rem; }
ul.plain li { margin: .3rem 0; }
p.aside { font-size: .85rem; color: var(--muted); }
span.ind { padding-left: 1.1rem; display: inline-block; }
.tablewrap { overflow-x: auto; }
footer { margin-top: 3rem; font-size: .8rem; color: var(--muted); border-top: 1px solid #ccc; }
@media (max-width: 40rem) {
  body { padding: 1rem .8rem 3rem; }
  nav ol { columns: 1; }
  dl.facts { grid-template-columns: 1fr; gap: 0 0; }
  dl.facts dd { margin-bottom: .4rem; overflow-wrap: anywhere; }
  figure svg.mpl { min-width: 34rem; }
  figure svg.consort { max-width: none; }  /* natural size, scrolls sideways */
}
.figscroll { overflow-x: auto; }
@media print {
  html { font-size: 10.5pt; } body { max-width: none; padding: 0; }
  nav { display: none; } h2 { break-after: avoid; } table, figure { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
@page { margin: 16mm 14mm; }
"""

_MODEL_NAMES = {
    "lmm_random_intercept": "Linear mixed model, random intercept",
    "mmrm_baseline_adjusted": "MMRM, baseline-adjusted",
}


# ----------------------------------------------------------------------------- helpers
def credible_findings(credibility: pd.DataFrame | None) -> set[tuple[str, str, str]]:
    """(modifier, outcome, visit) rows rated credible in the ICEMAN table.

    The rule is :func:`resolve.analysis.summary.is_credible`: a text rating
    counts when it contains "moderate", "high" or "intermediate" ("low" and
    "very low" do not); a numeric rating on a 0-1 or 0-100 scale counts from the
    midpoint up.  :func:`resolve.analysis.summary.credible_keys` gives the same
    with the contrast.
    """
    if credibility is None or credibility.empty or "credibility" not in credibility:
        return set()
    return {
        (str(r["modifier"]), str(r["outcome"]), str(r["visit"]))
        for _, r in credibility.iterrows()
        if is_credible(r["credibility"])
    }


def _global_note(frame: pd.DataFrame) -> str:
    if "model" not in frame.columns or frame.empty:
        return ""
    models = list(dict.fromkeys(frame["model"].astype(str)))
    return "Model: " + "; ".join(f"<code>{escape(m)}</code>" for m in models) + "."


def _versions() -> list[tuple[str, str]]:
    out = [("Python", platform.python_version())]
    for name in ("resolve", "numpy", "scipy", "pandas", "matplotlib"):
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


def _labels(plan: Plan) -> dict[str, str]:
    return {o.name: o.label for o in plan.outcomes}


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


def _figure(svg: str, number: int, title: str, caption: str) -> str:
    return (
        f'<figure>\n<div class="figscroll">{svg}</div>'
        f"<figcaption><b>Figure {number}. {escape(title)}.</b> "
        f"{caption}</figcaption>\n</figure>"
    )


def _n_randomised(analysis: TrialAnalysis) -> int | None:
    c = analysis.consort
    if c.empty:
        return None
    hit = c[c["stage"].astype(str).str.lower().str.startswith("randomi")]
    return int(hit["n"].sum()) if not hit.empty else None


# ----------------------------------------------------------------------------- sections
def _primary_outcome(plan: Plan) -> OutcomeSpec:
    return next((o for o in plan.outcomes if o.role == "primary"), plan.outcomes[0])


def _primary_result(analysis: TrialAnalysis) -> str:
    """The key box: the primary outcome at the primary visit, one number per contrast."""
    plan = analysis.plan
    t = plan.trial
    outcome = _primary_outcome(plan)
    prim = analysis.primary
    hit = prim[(prim["outcome"] == outcome.name) & (prim["visit"] == t.primary_visit)]
    if hit.empty:
        return ""
    pct = round(100 * plan.analysis.conf_level)
    labels = contrast_column(hit, plan)
    parts = []
    for (_, r), contrast in zip(hit.iterrows(), labels, strict=True):
        arm, _, comparator = contrast.partition(" - ")
        p = fmt_p(r["p_value"])
        rel = "=" if p[0] not in "<>" else escape(p[0])
        parts.append(
            f"{escape(arm)} minus {escape(comparator)}: "
            f"{fmt_ci(r['estimate'], r['conf_low'], r['conf_high'], 2)}, "
            f"<i>P</i>&nbsp;{rel}&nbsp;{escape(p.lstrip('<>'))}"
        )
    mcid = (
        f" The pre-specified minimal clinically important difference is {outcome.mcid:g}."
        if outcome.mcid is not None
        else ""
    )
    head = (
        f"<b>Primary result.</b> {escape(outcome.label)} at {escape(t.primary_visit)}, "
        f"difference ({pct}% CI)"
    )
    if len(parts) == 1:
        return f'<div class="key"><p>{head}, {parts[0]}.{mcid}</p></div>'
    items = "".join(f"<li>{x}</li>" for x in parts)
    return f'<div class="key"><p>{head}:</p><ul>{items}</ul><p>{mcid.strip()}</p></div>'


def _covariates(analysis: TrialAnalysis) -> str:
    """Covariates of every model, factors with their reference level (``levels`` table)."""
    covs = list(analysis.plan.analysis.covariates)
    if not covs:
        return "none"
    refs: dict[str, str] = {}
    levels = analysis.levels
    if levels is not None and len(levels):
        for _, r in levels[levels["factor"] == "covariate"].iterrows():
            refs[str(r["column"])] = f"{r['reference']} ({r['how']})"
    return ", ".join(
        escape(c) + (f"; factor, reference level {escape(refs[c])}" if c in refs else "")
        for c in covs
    )


def _summary(analysis: TrialAnalysis, *, data_label: str, seed: int | None) -> str:
    plan = analysis.plan
    t = plan.trial
    n = _n_randomised(analysis)
    outcomes = ", ".join(f"{escape(o.label)} ({o.role})" for o in plan.outcomes)
    treat = [a for a in t.arms if a != t.reference_arm]
    contrasts = list(dict.fromkeys(contrast_column(analysis.primary, plan)))
    facts = [
        ("Data", escape(data_label) + (f" (seed {seed})" if seed is not None else "")),
        ("Analysis plan", escape(plan.source)),
        ("Participants randomised", str(n) if n is not None else "\u2014"),
        ("Arms", f"{escape(', '.join(treat))}; reference: {escape(t.reference_arm)}"),
        ("Contrasts", ", ".join(contrast_text(c) for c in contrasts) if contrasts else "\u2014"),
        ("Visits", escape(", ".join(t.visits)) + f"; primary: {escape(t.primary_visit)}"),
        ("Outcomes", outcomes),
        ("Covariates", _covariates(analysis)),
        (
            "Primary model",
            escape(_MODEL_NAMES.get(plan.analysis.primary, plan.analysis.primary)),
        ),
        ("Candidate effect modifiers", str(len(plan.modifiers))),
        ("Confidence level", f"{round(100 * plan.analysis.conf_level)}%"),
    ]
    body = '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    return body + _primary_result(analysis)


def _plain(analysis: TrialAnalysis) -> str:
    """The plain-language summary, grouped by topic (:func:`summary_sections`)."""
    sections = summary_sections(
        analysis.plan,
        analysis.primary,
        responders=analysis.responders,
        modifiers=analysis.modifiers,
    )
    if not sections:
        return ""
    level = f"{100 * (1 - analysis.plan.analysis.conf_level):g}%"
    body = "".join(
        f'<h3 class="topic">{escape(topic)}</h3><ul class="plain">'
        + "".join(f"<li>{escape(x)}</li>" for x in items)
        + "</ul>"
        for topic, items in sections
    )
    return body + (
        '<p class="aside">Written automatically from the tables below (also in '
        "<code>summary.txt</code>): differences are from the primary model, first-named arm "
        f"minus comparator; <i>statistically significant</i> means <i>P</i> &lt; {level}. "
        "A difference compared with the minimal clinically important difference (MCID) is an "
        "average over participants, not a statement about any one person.</p>"
    )


def _formulas(plan: Plan) -> str:
    t = plan.trial
    a = plan.analysis
    cov = " + ".join(a.covariates)
    extra = f" + {cov}" if cov else ""
    y = "y"
    lines = []
    models = [a.primary, *a.sensitivity]
    for model in dict.fromkeys(models):
        role = "primary" if model == a.primary else "sensitivity"
        if model == "lmm_random_intercept":
            text = (
                f"{y} ~ {t.arm} * {t.visit}{extra} + (1 | {t.subject})   "
                f"# all visits incl. {t.baseline_visit}; REML; {a.df} df"
            )
        elif model == "mmrm_baseline_adjusted":
            text = (
                f"{y} ~ {t.arm} * {t.visit} + {y}_{t.baseline_visit} * {t.visit}{extra}   "
                f"# follow-up visits; {a.sensitivity_cov} covariance within {t.subject}; "
                f"REML; {a.df} df"
            )
        else:
            text = model
        lines.append(f"[{role}] {text}")
    em = plan.effect_modification
    adj = f" + {y}_{t.baseline_visit}" if em.adjust_for_baseline else ""
    lines.append(
        f"[effect modification] {y}_visit ~ {t.arm} * modifier{adj}{extra}   "
        f"# one model per modifier, outcome and visit; {em.spline_knots}-knot spline check"
    )
    return "<pre>" + escape("\n".join(lines)) + "</pre>"


def _methods(analysis: TrialAnalysis, *, seed: int | None) -> str:
    plan = analysis.plan
    em = plan.effect_modification
    a = plan.analysis
    items = [
        "Analyses follow the intention-to-treat principle with each participant in the arm "
        "allocated. Differences are treatment minus reference; for outcomes where higher "
        "is worse, negative differences favour the treatment.",
        "Missing outcomes are handled by likelihood-based estimation under missing at random"
        + (
            f"; multiple imputation (m = {a.mi_m}, seed {a.mi_seed}) is a sensitivity analysis."
            if a.mi_enabled
            else "; multiple imputation was not requested in this plan."
        ),
        "Effect modifiers are analysed one at a time as continuous variables (no "
        "cut-points); interactions are reported per unit and per SD (binary modifiers per "
        f"category contrast). Multiplicity within the pre-specified family "
        f"({escape(', '.join(em.family_visits))}): {escape(', '.join(em.multiplicity))}. "
        f"<i>P</i> &lt; {em.exploratory_p:g} is reported as exploratory evidence, not as a "
        "finding. Credibility is judged with ICEMAN (Schandelmaier et al., CMAJ 2020).",
    ]
    if plan.responders:
        items.insert(
            2,
            "Responder analyses are observed-case (complete-case) analyses: participants "
            "with the outcome at baseline and at the visit; risk differences have Newcombe's "
            "hybrid score interval (method 10, Newcombe 1998) and numbers needed to treat "
            "are given only when that interval excludes 0 (Altman 1998).",
        )
    if seed is not None:
        items.append(
            f"Data simulated with <code>resolve.simulate.simulate_trial(seed={seed})</code>."
        )
    items += [escape(n) for n in analysis.notes]
    body = "<h3>Models</h3>" + _formulas(plan)
    body += "<h3>Methods and notes</h3><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    body += (
        "<h3>Software</h3><p>"
        + ", ".join(f"{escape(k)} {escape(v)}" for k, v in _versions())
        + ".</p>"
    )
    return body


# ----------------------------------------------------------------------------- document
def _flow(analysis: TrialAnalysis, number: int) -> str:
    plan = analysis.plan
    t = plan.trial
    outcome = _primary_outcome(plan)
    stages = analysis.consort["stage"].astype(str).str.lower()
    screened = bool(stages.str.startswith("assessed for eligibility").any())
    if screened:
        start = (
            "The flow starts at the assessment for eligibility, with the exclusions and "
            "their reasons as the screening log gives them (a person may have more than "
            "one reason)."
        )
    else:
        start = (
            "No screening data were supplied, so the flow starts at randomisation: "
            "the numbers assessed for eligibility and excluded are not shown."
        )
    return _figure(
        consort_svg(analysis.consort, t.arms, outcome=outcome.name),
        number,
        "Participant flow",
        f"CONSORT-style diagram. {start} Allocation and follow-up are derived from the "
        f"analysed data set; follow-up counts are participants with an observed "
        f"{escape(outcome.label)} at each visit.",
    )


def render_html(
    analysis: TrialAnalysis,
    *,
    title: str | None = None,
    data_label: str = "data supplied by the user",
    seed: int | None = None,
) -> str:
    """Render the full report of ``analysis`` as one HTML document.

    Parameters
    ----------
    analysis : TrialAnalysis
        The results to report.
    title : str, optional
        Page title (default "<trial> trial: analysis report").
    data_label : str
        How to describe the data in the summary.
    seed : int, optional
        Seed of simulated data, shown in the summary and the methods.

    Returns
    -------
    str
        The HTML text: the plain-language summary, data and plan, participant
        flow, Table 1 (baseline characteristics), outcomes by group (Table 2 and
        trajectories), responder analysis, primary and sensitivity analyses,
        effect modification, and methods.
    """
    plan = analysis.plan
    t = plan.trial
    labels = _labels(plan)
    pct = round(100 * plan.analysis.conf_level)
    title = title or f"{t.name} trial: analysis report"
    mod = analysis.modifiers
    credible: set[tuple[str, ...]] = set(
        credible_keys(mod.credibility if mod is not None else None)
    )
    sections: list[tuple[str, str, str]] = []
    fig_no = 0
    tab_no = 0

    def next_fig() -> int:
        nonlocal fig_no
        fig_no += 1
        return fig_no

    def next_tab() -> int:
        nonlocal tab_no
        tab_no += 1
        return tab_no

    plain = _plain(analysis)
    if plain:
        sections.append(("key-results", "Results in plain language", plain))
    sections.append(
        ("summary", "Data and plan", _summary(analysis, data_label=data_label, seed=seed))
    )
    sections.append(("flow", "Participant flow", _flow(analysis, next_fig())))
    if analysis.table1 is not None and not analysis.table1.empty:
        sections.append(
            (
                "baseline",
                "Baseline characteristics",
                table1(
                    analysis.table1,
                    t.arms,
                    caption=f"Table {next_tab()}. Baseline characteristics by randomised group",
                ),
            )
        )
    sections.append(
        (
            "outcomes",
            "Outcomes by group",
            table2(
                analysis.table2,
                t.arms,
                labels=labels,
                reference_arm=t.reference_arm,
                conf_level=plan.analysis.conf_level,
                caption=f"Table {next_tab()}. Outcomes by randomised group",
            )
            + _figure(
                figures.trajectories_figure(analysis.trajectories, plan),
                next_fig(),
                "Mean trajectories by arm",
                f"Observed means with {pct}% confidence intervals at each visit; the shaded "
                f"band marks the primary visit ({escape(t.primary_visit)}).",
            ),
        )
    )
    if analysis.responders is not None and not analysis.responders.empty:
        sections.append(
            (
                "responders",
                "Responder analysis",
                responders_table(
                    analysis.responders,
                    t.arms,
                    caption=f"Table {next_tab()}. Responders by randomised group (observed cases)",
                    conf_level=plan.analysis.conf_level,
                ),
            )
        )
    models = dict(_MODEL_NAMES)
    contrasts = list(dict.fromkeys(contrast_column(analysis.primary, plan)))
    body = effect_table(
        analysis.primary,
        caption=f"Table {next_tab()}. Primary analysis: between-arm differences",
        labels=labels,
        models=models,
        conf_level=plan.analysis.conf_level,
        note="Difference = "
        + "; ".join(contrast_text(c) for c in contrasts)
        + f"; SE, standard error; df, {escape(plan.analysis.df)} degrees of freedom.",
    )
    if not analysis.sensitivity.empty:
        body += effect_table(
            analysis.sensitivity,
            caption=f"Table {next_tab()}. Sensitivity analyses",
            labels=labels,
            models=models,
            conf_level=plan.analysis.conf_level,
        )
    if analysis.imputation is not None and not analysis.imputation.empty:
        body += frame_table(analysis.imputation, caption=f"Table {next_tab()}. Multiple imputation")
    sections.append(("primary", "Primary and sensitivity analyses", body))
    if mod is not None:
        thr = plan.effect_modification.exploratory_p
        several = "contrast" in mod.table.columns and mod.table["contrast"].nunique() > 1
        body = _figure(
            figures.forest_figure(mod.table, plan, credible=credible),
            next_fig(),
            "Treatment-by-modifier interactions",
            f"Interaction estimates with {pct}% CIs (continuous modifiers per SD, binary "
            f"per category contrast), by outcome and visit"
            + (" and contrast" if several else "")
            + f". Filled orange markers: <i>P</i> &lt; {thr:g} (exploratory evidence); "
            "blue diamonds: credible by the ICEMAN assessment; hollow grey: neither.",
        )
        body += modifier_table(
            mod.table,
            labels=labels,
            exploratory_p=thr,
            conf_level=plan.analysis.conf_level,
            credible=credible,
            caption=f"Table {next_tab()}. Effect modification: treatment-by-modifier interactions",
        )
        if not mod.global_tests.empty:
            gcols = ["outcome", "visit", "contrast", "statistic", "df_num", "df_den", "p_value"]
            gcols += ["n"]
            if not several:
                gcols.remove("contrast")
            body += frame_table(
                mod.global_tests,
                columns=[c for c in gcols if c in mod.global_tests.columns],
                caption=f"Table {next_tab()}. Global tests of effect modification "
                "(all modifiers jointly)",
                formatters={
                    "outcome": lambda o: escape(labels.get(str(o), str(o))),
                    "contrast": lambda c: contrast_text(str(c)),
                    "statistic": lambda v: fmt_num(v, 2),
                    "p_value": fmt_p,
                },
                note=_global_note(mod.global_tests),
            )
        sections.append(("modifiers", "Effect modification", body))
        findings = figures.select_findings(
            mod.table, exploratory_p=thr, credible=credible, curves=mod.curves
        )
        body = _figure(
            figures.curves_figure(mod.curves, mod.table, plan, findings, primary=analysis.primary),
            next_fig(),
            "Treatment effect by modifier value",
            f"Estimated treatment effect with {pct}% confidence bands across the modifier's "
            "observed range (5th to 95th percentile) for the credible and exploratory "
            "findings (or the smallest interaction <i>P</i> values if there are none), each "
            "at its own outcome and visit. Dashed line: no effect; dotted line: overall "
            "effect at that visit. Exploratory: these need confirmation.",
        )
        q_findings = [
            f
            for f in findings
            if not mod.quartiles.empty
            and (
                (mod.quartiles["modifier"] == f[0])
                & (mod.quartiles["outcome"] == f[1])
                & (mod.quartiles["visit"] == f[2])
            ).any()
        ]
        if q_findings:
            body += _figure(
                figures.quartiles_figure(
                    mod.quartiles, mod.table, plan, q_findings, primary=analysis.primary
                ),
                next_fig(),
                "Treatment effect at modifier quartiles",
                f"Treatment effect with {pct}% CIs at the quartiles of the modifier (value in "
                "brackets) for the same findings, each at its own outcome and visit; the "
                "orange dashed line is the overall effect at that visit.",
            )
        sections.append(("curves", "Effect by modifier value", body))
        if not mod.credibility.empty:
            names = dict(zip(mod.table["modifier"], mod.table["label"], strict=False))
            sections.append(
                (
                    "credibility",
                    "Credibility of effect modification (ICEMAN)",
                    credibility_table(
                        mod.credibility,
                        modifiers=names,
                        labels=labels,
                        caption=f"Table {next_tab()}. ICEMAN credibility assessment of "
                        "the candidate findings",
                    ),
                )
            )
    sections.append(("methods", "Notes and methods", _methods(analysis, seed=seed)))
    nav = (
        '<nav aria-label="Contents"><ol>'
        + "".join(f'<li><a href="#{sid}">{escape(name)}</a></li>' for sid, name, _ in sections)
        + "</ol></nav>"
    )
    subtitle = (
        f"{escape(', '.join(t.arms))}; {len(plan.outcomes)} outcomes; plan {escape(plan.source)}"
    )
    body_html = "\n".join(_section(sid, name, content) for sid, name, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header>\n<h1>{escape(title)}</h1>\n<p class="subtitle">{subtitle}</p>\n'
        f"{nav}\n</header>\n<main>\n{body_html}\n</main>\n"
        "<footer><p>Generated by resolve. Every table is also written as CSV and JSON "
        "beside this file.</p></footer>\n</body>\n</html>\n"
    )
