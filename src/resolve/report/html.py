"""Assemble the self-contained HTML report of a trial analysis.

One file, no external CSS, scripts, fonts or images: figures are inline SVG,
the stylesheet is inline, and nothing depends on the clock, so the same
analysis gives the same bytes. Built with the standard library only
(``html.escape`` and f-strings); Jinja2 is not needed.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable
from html import escape
from importlib import metadata

import pandas as pd

from resolve.analysis.benefit import C_REPEATS
from resolve.analysis.descriptive import FROM_BOTH, FROM_DATA, FROM_LOG
from resolve.analysis.plan import OutcomeSpec, Plan
from resolve.analysis.primary import (
    DISAGREEMENT_ESTIMATE_SE,
    DISAGREEMENT_SE_RATIO,
    compare_models,
    recommended_rows,
)
from resolve.analysis.result import ModifierAnalysis, TrialAnalysis
from resolve.analysis.summary import (
    contrast_column,
    credible_keys,
    is_credible,
    summary_sections,
)
from resolve.report import figures
from resolve.report.consort import consort_svg
from resolve.report.tables import (
    _table,
    contrast_text,
    credibility_items_table,
    credibility_table,
    effect_table,
    fmt_ci,
    fmt_num,
    fmt_p,
    frame_table,
    modifier_table,
    responders_table,
    scroll_box,
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
table.iceman abbr.ans { text-decoration: none; font-weight: 700; white-space: nowrap; }
table.iceman.items th[scope="row"] { width: 32%; }
table.iceman.items td { overflow-wrap: anywhere; }
table.iceman.items td:nth-child(2) { white-space: nowrap; overflow-wrap: normal; }
@media (max-width: 40rem) {
  table.iceman.items tbody tr:not(.group) { display: grid; grid-template-columns: 1fr auto;
    border-bottom: 1px solid #ddd; padding: .15rem 0; }
  table.iceman.items tbody tr:not(.group) th { width: auto; font-weight: 600; }
  table.iceman.items tbody tr:not(.group) td:last-child { grid-column: 1 / -1; }
  table.iceman.items thead { display: none; }
}
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
    "mmrm_unstructured_all_visits": "MMRM, unstructured, all visits",
    "mmrm_baseline_adjusted": "MMRM, baseline-adjusted",
}


# ----------------------------------------------------------------------------- helpers
def _credibility_section(
    mod: ModifierAnalysis, plan: Plan, labels: dict[str, str], next_tab: Callable[[], int]
) -> str:
    """The ICEMAN section: what was assessed and how, the summary and the evidence tables."""
    scope = plan.effect_modification.credibility_scope_p
    intro = (
        "<p>ICEMAN (Schandelmaier et al., CMAJ 2020) assesses the credibility of a suggested "
        "effect modification: one outcome at one visit, one effect measure, one modifier. "
        "Its five core items for randomised trials are answered below from the analysis "
        "plan and the results, each answer with its evidence; item 2 (prior evidence) "
        "needs a reviewer and stays <i>not answered</i> unless the plan records one. The "
        "overall rating is by this project's documented rule (ICEMAN-based overall rating, "
        "resolve rule), not part of ICEMAN, whose overall rating is the assessor's "
        f"judgement. Assessed: every interaction with <i>P</i> &lt; {scope:g} "
        "(ICEMAN's scope); ICEMAN does not assess the absence of modification.</p>"
    )
    cred = mod.credibility
    if cred is None or cred.empty:
        return intro + f"<p>No interaction had <i>P</i> &lt; {scope:g}: nothing to assess.</p>"
    names = dict(zip(mod.table["modifier"], mod.table["label"], strict=False))
    return (
        intro
        + credibility_table(
            cred,
            modifiers=names,
            labels=labels,
            caption=f"Table {next_tab()}. Credibility of the suggested effect modifications: "
            "ICEMAN core items and ICEMAN-based overall rating (resolve rule)",
            scope_p=scope,
        )
        + credibility_items_table(
            cred,
            modifiers=names,
            labels=labels,
            caption=f"Table {next_tab()}. ICEMAN answers with their evidence",
        )
    )


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
        f'<figure>\n<div class="figscroll" {scroll_box(f"Figure {number}")}>{svg}</div>'
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
        recommended=recommended_rows(analysis.plan, analysis.sensitivity),
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
        if model == a.recommended:
            role += ", recommended"
        if model == "lmm_random_intercept":
            text = (
                f"{y} ~ {t.arm} * {t.visit}{extra} + (1 | {t.subject})   "
                f"# all visits incl. {t.baseline_visit}; REML; {a.df} df"
            )
        elif model == "mmrm_unstructured_all_visits":
            text = (
                f"{y} ~ {t.arm} * {t.visit}{extra}   "
                f"# all visits incl. {t.baseline_visit}; unstructured covariance within "
                f"{t.subject}; REML; {a.df} df"
            )
        elif model == "mmrm_baseline_adjusted":
            text = (
                f"{y} ~ {t.arm} * {t.visit} + {y}_{t.baseline_visit}{extra}   "
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
    return f"<pre {scroll_box('Model formulas')}>" + escape("\n".join(lines)) + "</pre>"


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
        "finding. Credibility: ICEMAN (Schandelmaier et al., CMAJ 2020) core items for "
        f"randomised trials, for each interaction with <i>P</i> &lt; "
        f"{em.credibility_scope_p:g}, each answer with its evidence; overall rating by this "
        "project's documented rule (ICEMAN-based overall rating, resolve rule), which is not "
        "part of ICEMAN.",
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


#: What the operating-characteristics study measured, by (primary, recommended) model pair.
_OC_EVIDENCE = {
    ("lmm_random_intercept", "mmrm_unstructured_all_visits"): (
        "In simulated RESOLVE-like trials (<code>docs/operating-characteristics.md</code>) the "
        "recommended model kept type-I error and confidence-interval coverage at their "
        "nominal levels at every visit; the random-intercept model, with one variance for "
        "every visit, understated the standard error at 52 weeks, where the outcomes vary "
        "most, and its type-I error there exceeded 6%."
    ),
}


def _model_comparison(
    analysis: TrialAnalysis,
    labels: dict[str, str],
    models: dict[str, str],
    next_tab: Callable[[], int],
) -> str:
    """The primary and the recommended model side by side where they disagree.

    Disagreement (:func:`resolve.analysis.primary.compare_models`): significance at
    the plan's level differs, estimates differ by more than
    ``DISAGREEMENT_ESTIMATE_SE`` standard errors, or standard errors by more than
    ``DISAGREEMENT_SE_RATIO``.  Nothing when the plan recommends the primary model.
    """
    plan = analysis.plan
    a = plan.analysis
    rec = recommended_rows(plan, analysis.sensitivity)
    if rec is None or analysis.primary.empty:
        return ""
    primary = analysis.primary.assign(contrast=contrast_column(analysis.primary, plan))
    rec = rec.assign(contrast=contrast_column(rec, plan))
    cmp = compare_models(primary, rec, conf_level=a.conf_level)
    name_p = escape(models.get(a.primary, a.primary))
    name_r = escape(models.get(str(a.recommended), str(a.recommended)))
    roles = (
        f"The primary model ({name_p}) is the plan's pre-specified analysis; the recommended "
        f"model ({name_r}) is the plan's choice for inference."
    )
    evidence = _OC_EVIDENCE.get((a.primary, str(a.recommended)))
    if evidence:
        roles += " " + evidence
    rule = (
        f"The two disagree at a visit when one is statistically significant at the "
        f"{100 * (1 - a.conf_level):g}% level and the other not, when their estimates differ by "
        f"more than {DISAGREEMENT_ESTIMATE_SE:g} standard errors, or when their standard "
        f"errors differ by more than {100 * DISAGREEMENT_SE_RATIO:g}%."
    )
    hits = cmp[cmp["disagree"]]
    if hits.empty:
        return f"<p>{roles} They agree at every visit. {rule}</p>"
    keys = ["outcome", "visit", "contrast"]
    wanted = hits[keys].drop_duplicates()
    both = pd.concat(
        [primary.merge(wanted, on=keys).assign(_m=0), rec.merge(wanted, on=keys).assign(_m=1)],
        ignore_index=True,
    )
    rank = {c: k for k, c in enumerate(dict.fromkeys(primary["contrast"]))}
    both = both.assign(
        _o=both["outcome"].map({o.name: k for k, o in enumerate(plan.outcomes)}),
        _c=both["contrast"].map(rank),
        _v=both["visit"].map({v: k for k, v in enumerate(plan.trial.visits)}),
    ).sort_values(["_o", "_c", "_v", "_m"], kind="stable")
    where = "; ".join(
        f"{escape(labels.get(str(r.outcome), str(r.outcome)))} at {escape(str(r.visit))}"
        + " ("
        + ", ".join(
            w
            for w, flag in (
                ("significance", r.significance_differs),
                ("estimate", r.estimate_differs),
                ("standard error", r.std_error_differs),
            )
            if flag
        )
        + ")"
        for r in hits.itertuples()
    )
    table = effect_table(
        both.drop(columns=["_m", "_o", "_c", "_v"]),
        caption=f"Table {next_tab()}. Where the primary and the recommended model disagree",
        labels=labels,
        models=models,
        conf_level=a.conf_level,
        note=f"{rule} Disagreements: {where}.",
    )
    return f"<p>{roles} Where they disagree, both are shown.</p>{table}"


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
    label = escape(outcome.label)
    flow = analysis.consort
    source = flow["source"].astype(str) if "source" in flow.columns else pd.Series("", flow.index)
    beneath = flow[flow["stage"].astype(str).str.contains(": ") & (flow["arm"] != "all")]
    order = ["randomised in error", "withdrawn", "lost to follow-up", "missed visit"]
    logged = {
        st.split(": ", 1)[1]
        for st, src in zip(beneath["stage"], source[beneath.index], strict=True)
        if src == FROM_LOG
    }
    from_log = [m for m in order if m in logged] + sorted(logged - set(order))
    boxes = (
        "The numbers in the boxes from randomisation on are from the analysed data set"
        + (
            ", plus any participants randomised in error whom the data leave out (from the "
            "screening log)"
            if (source == FROM_BOTH).any()
            else ""
        )
        + f": follow-up counts are participants with an observed {label} at each visit, and "
        f"analysed counts those with {label} at one or more visits (those the primary model "
        "uses)."
    )
    if from_log:
        data_lines = bool((source[beneath.index] == FROM_DATA).any())
        reasons = (
            f"The lines beneath the boxes ({escape(', '.join(from_log))}) are from the "
            "screening log"
            + (
                f", except exclusions for having no {label} at any visit, from the data."
                if data_lines
                else "."
            )
        )
    elif screened:
        reasons = (
            "The screening log has no follow-up rows, so the reasons for missing data "
            "(withdrawn, lost to follow-up, missed visit) are not shown; the boxes give the "
            "numbers missing."
        )
    else:
        reasons = "The boxes give the numbers missing; reasons for missing data are not shown."
    return _figure(
        consort_svg(flow, t.arms, outcome=outcome.name),
        number,
        "Participant flow",
        f"CONSORT-style diagram. {start} {boxes} {reasons}",
    )


# ----------------------------------------------------------------------------- who benefits
def _benefit_section(
    analysis: TrialAnalysis, labels: dict[str, str], fig: Callable[[], int], tab: Callable[[], int]
) -> str:
    """The "Who benefits (exploratory)" section: caveats, risk-based view, calibration."""
    b = analysis.benefit
    assert b is not None
    plan = analysis.plan
    bs = plan.benefit
    pct = round(100 * plan.analysis.conf_level)
    several = b.models["contrast"].nunique() > 1
    rule = (
        "the largest penalty whose cross-validated error is within one standard error of the "
        "fold-wise difference from the minimum"
        if bs.rule == "one_se"
        else "the penalty of least cross-validated error"
    )
    body = (
        '<div class="key"><p><b>Exploratory.</b> Who benefits more or less from treatment is '
        "examined following the PATH statement's recommendations (Kent et al., Ann Intern Med "
        "2020): (1) a <i>risk-based</i> view, the treatment effect across groups of predicted "
        "prognosis from a model developed on the whole trial blinded to treatment, with one "
        "treatment-by-prognosis interaction test; (2) an <i>effect model</i> whose "
        "treatment-by-modifier interactions are shrunk by a ridge penalty chosen by "
        f"{bs.folds}-fold cross-validation ({rule}; an infinite penalty, i.e. the average "
        "effect for everyone, is allowed); (3) that model's calibration and discrimination for "
        "benefit by nested cross-validation.</p>"
        '<ul class="plain">'
        "<li>These are descriptions of this trial, not a validated prediction rule: no external "
        "validation, and the prognosis model's fit is apparent (same data).</li>"
        "<li>No P value is given for any individual; predicted individual effects are in "
        "<code>benefit_individual.csv</code>, each flagged exploratory with the model's "
        "calibration.</li>"
        "<li>A calibration slope below 1 means predicted differences between patients are too "
        "large; above 1, too small. A c-for-benefit near 0.5 means the model cannot rank who "
        "benefits more. With little predicted spread the slope is unstable (wide CI).</li>"
        "<li>The c-for-benefit here is a continuous-outcome analogue of van Klaveren et al. "
        "(2018): 1:1 pairs matched on predicted benefit, observed benefit = difference of "
        "the pair's outcomes.</li></ul></div>"
    )
    body += _figure(
        figures.benefit_risk_figure(b.risk_groups, b.models, plan),
        fig(),
        "Treatment effect by predicted prognosis (exploratory)",
        f"Difference in mean outcome (treatment minus reference) with {pct}% CIs (Welch) in "
        f"{bs.groups} equal-sized groups of predicted prognosis (Q1 = lowest predicted "
        "outcome). Prognosis model: the outcome regressed on the baseline modifiers"
        + (" and the baseline outcome" if plan.effect_modification.adjust_for_baseline else "")
        + ", both arms pooled, no treatment term. Dashed: no effect; dotted: the average "
        "effect.",
    )

    def where(r: pd.Series) -> str:
        text = f"{labels.get(str(r['outcome']), str(r['outcome']))}, {r['visit']}"
        if several:
            text += f", {_contrast_plain(str(r['contrast']))}"
        return escape(text)

    rg = b.risk_groups
    groups: dict[str, list[list[str]]] = {}
    for _, r in rg.iterrows():
        groups.setdefault(where(r), []).append(
            [
                f"Q{int(r['group'])}",
                f"{fmt_num(r['prognosis_low'], 1)} to {fmt_num(r['prognosis_high'], 1)}",
                f"{int(r['n_reference'])} / {int(r['n_treatment'])}",
                f"{fmt_num(r['mean_reference'], 1)} / {fmt_num(r['mean_treatment'], 1)}",
                fmt_ci(r["estimate"], r["conf_low"], r["conf_high"], 2),
            ]
        )
    tests = "; ".join(
        f"{where(r)}: {fmt_ci(r['estimate'], r['conf_low'], r['conf_high'], 2)} "
        f"per point of predicted outcome, <i>P</i> = {fmt_p(r['p_value'])} "
        f"(prognosis model R\u00b2 {fmt_num(r['r_squared'], 2)})"
        for _, r in b.risk_tests.iterrows()
    )
    body += _table(
        f"Table {tab()}. Who benefits, risk-based view: treatment effect by group of "
        "predicted prognosis (exploratory)",
        [
            "Group (Q1 = lowest predicted outcome)",
            "Predicted outcome, range",
            "n, reference / treatment",
            "Mean outcome, reference / treatment",
            f"Difference ({pct}% CI)",
        ],
        list(groups.items()),
        css="num",
        note="Difference = treatment minus reference, Welch t-interval. "
        "Treatment-by-predicted-prognosis interaction (1 df): " + tests + ".",
    )
    body += _figure(
        figures.benefit_calibration_figure(b.calibration, b.models, plan),
        fig(),
        "Calibration for benefit (exploratory)",
        f"Observed treatment effect (difference in means, {pct}% CI) against the mean "
        f"predicted effect in {bs.groups} equal-sized groups of cross-validated predicted "
        "effect (nested cross-validation: the penalty re-chosen in every training fold). "
        "Grey diagonal: perfect calibration. Points stacked at one predicted value mean the "
        "model predicts no heterogeneity there (the groups then differ by chance only).",
    )
    rows = []
    for _, r in b.models.iterrows():
        pen = float(r["penalty"])
        rows.append(
            [
                where(r),
                "\u221e (none)" if not math.isfinite(pen) else f"{pen:.3g}",
                fmt_num(r["df_interactions"], 1),
                fmt_num(r["sd_predicted_effect"], 2),
                fmt_ci(
                    r["calibration_slope"],
                    r["calibration_slope_low"],
                    r["calibration_slope_high"],
                    2,
                ),
                f"{fmt_num(r['c_for_benefit'], 2)} ({int(r['n_pairs'])})",
            ]
        )
    body += _table(
        f"Table {tab()}. Who benefits, effect model with ridge-penalised interactions: "
        "calibration and discrimination for benefit (cross-validated, exploratory)",
        [
            "Outcome, visit",
            "Ridge penalty \u03bb (\u221e = no interaction)",
            "Effective df of interactions",
            "SD of predicted effects",
            f"Calibration slope ({pct}% CI)",
            "c-for-benefit (pairs)",
        ],
        [(None, rows)],
        css="num",
        note=f"Modifiers standardised; penalty on the interactions only, chosen by "
        f"{bs.folds}-fold cross-validation (folds stratified by arm, seed {bs.seed}). Effective "
        "df = \u03a3 s\u00b2/(s\u00b2 + \u03bb) over the singular values s of the interaction "
        "columns after the other terms are projected out. Calibration slope: coefficient of "
        "treatment \u00d7 predicted effect (centred within fold) in a regression of the "
        "outcome on the predicted outcome without treatment, treatment and that product "
        "(1 = well calibrated; \u2014 = no predicted spread). "
        "c-for-benefit: continuous-outcome analogue of van Klaveren et al. (2018), "
        f"averaged over {C_REPEATS} random 1:1 matchings when the arms differ in size.",
    )
    return body


def _contrast_plain(contrast: str) -> str:
    arm, sep, comparator = contrast.partition(" - ")
    return f"{arm} − {comparator}" if sep else contrast


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
    body += _model_comparison(analysis, labels, models, next_tab)
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
            "blue diamonds: credible (moderate or high ICEMAN-based rating, resolve rule); "
            "hollow grey: neither.",
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
        sections.append(("credibility", "Credibility of effect modification (ICEMAN)",
                         _credibility_section(mod, plan, labels, next_tab)))  # fmt: skip
    if analysis.benefit is not None and not analysis.benefit.models.empty:
        sections.append(
            (
                "benefit",
                "Who benefits (exploratory)",
                _benefit_section(analysis, labels, next_fig, next_tab),
            )
        )
    if analysis.mediation is not None:
        from resolve.report.mediation import mediation_section

        sections.append(
            (
                "mediation",
                "Mechanisms: causal mediation",
                mediation_section(analysis, labels, next_fig, next_tab),
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
