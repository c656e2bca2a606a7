"""What a trial team publishes from: Table 1, responders, plain summary, flow, contrasts, axes."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from resolve import datasets
from resolve.analysis.descriptive import consort, trajectories
from resolve.analysis.plan import Plan, load_plan
from resolve.analysis.result import TrialAnalysis
from resolve.analysis.run import analyze
from resolve.analysis.summary import credible_keys
from resolve.cli._app import run
from resolve.report import figures
from resolve.report.html import render_html
from tests.report.test_report import parse

THREE_ARMS = ("usual care", "GSR", "GSR+education")


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', html, flags=re.DOTALL)
    assert m is not None, sid
    return m.group(1)


def _figure_svg(html: str, key: str) -> str:
    m = re.search(rf"<svg[^>]*{key}-title.*?</svg>", html, flags=re.DOTALL)
    assert m is not None, key
    return m.group(0)


# ----------------------------------------------------------------------------- layout
def test_sections_in_publication_order(report_html: str) -> None:
    ids = re.findall(r'<section id="([^"]+)">', report_html)
    assert ids[:6] == ["key-results", "summary", "flow", "baseline", "outcomes", "responders"]
    assert ids.index("responders") < ids.index("primary")
    assert "Table 1. Baseline characteristics" in report_html
    assert "Table 3. Responders by randomised group (observed cases)" in report_html


def test_table1_in_the_report(analysis: TrialAnalysis, report_html: str) -> None:
    body = _section(report_html, "baseline")
    assert "No <i>P</i> values" in body and "CONSORT 2010" in body
    assert "<i>P</i> value</th>" not in body  # no P value column
    assert analysis.table1 is not None
    for arm in ("sham", "resolve"):
        n = int((datasets.load("resolve").drop_duplicates("id")["arm"] == arm).sum())
        assert f'{arm} <span class="unit">(n = {n})</span>' in body
    t1 = analysis.table1
    pain = t1[(t1.variable == "pain") & (t1.arm == "sham")]["text"].iloc[0]
    assert f"<td>{pain}</td>" in body
    assert "user</span>" in body and "non-user</span>" in body  # every level of a binary


def test_responders_table_in_the_report(analysis: TrialAnalysis, report_html: str) -> None:
    body = _section(report_html, "responders")
    assert analysis.responders is not None
    r = analysis.responders.iloc[1]
    shown = f"{int(r.responders_arm)}/{int(r.n_arm)} ({100 * r.proportion_arm:.1f})"
    assert shown in body
    assert "Observed cases (complete-case analysis)" in body
    assert "Newcombe hybrid score, method 10" in body
    meaningless = int(analysis.responders["nnt_type"].isna().sum())
    assert body.count("not meaningful") == meaningless + 1  # + the footnote


def test_plain_summary_at_the_top(analysis: TrialAnalysis, report_html: str) -> None:
    body = _section(report_html, "key-results")
    assert "Results in plain language" in report_html.split('<section id="summary">')[0]
    assert "Pain intensity (NRS 0-10), resolve minus sham" in body
    r = analysis.primary.query("outcome == 'pain' and visit == 'week 52'").iloc[0]
    verdict = "not statistically significant" if r.p_value >= 0.05 else "statistically significant"
    week52 = next(li for li in re.findall(r"<li>(.*?)</li>", body) if li.startswith("At week 52"))
    assert verdict in week52 and "MCID" in week52
    assert "Effect modification (exploratory)" in body


def test_arm_names_are_never_recased(report_html: str) -> None:
    for wrong in (">Sham<", ">Resolve<", "Sham,", "Resolve, mean"):
        assert wrong not in report_html
    assert ">sham<" in report_html and ">resolve<" in report_html


# ----------------------------------------------------------------------------- CONSORT
def test_flow_without_screening_says_it_starts_at_randomisation(report_html: str) -> None:
    body = _section(report_html, "flow")
    assert "No screening data were supplied, so the flow starts at randomisation" in body
    assert "Assessed for eligibility" not in body
    assert "reasons for missing data are not shown" in body


def test_flow_with_screening_starts_at_eligibility(analysis: TrialAnalysis) -> None:
    plan = analysis.plan
    data = plan.validate_data(datasets.load("resolve"))
    log = datasets.load("resolve_screening")
    flow = consort(data, plan, screening=log)
    body = _section(render_html(replace(analysis, consort=flow)), "flow")
    assert "The flow starts at the assessment for eligibility" in body
    # an enrolment-only log: boxes from the data, and the caption says there are no reasons
    assert "The numbers in the boxes from randomisation on are from the analysed data set" in body
    assert "The screening log has no follow-up rows" in body
    assert (flow.loc[flow.stage.str.contains(": "), "arm"] == "all").all()  # no lines beneath
    svg = body[body.index("<svg") : body.index("</svg>")]
    assessed = int(log.loc[log.measure == "assessed for eligibility", "n"].iloc[0])
    excluded = int(log.loc[log.measure == "excluded", "n"].iloc[0])
    assert ">Assessed for eligibility<" in svg and f"n = {assessed}" in svg
    assert f"Excluded (n\u00a0=\u00a0{excluded})" in svg
    assert "pain below 3/10" in svg and "Declined to participate" in svg
    drawn = svg[svg.index("</desc>") :]  # boxes in drawing order, top to bottom
    assert drawn.index(">Assessed for") < drawn.index(">Excluded") < drawn.index(">Randomised<")
    assert parse(body).errors == []


# ----------------------------------------------------------------------------- three arms
@pytest.fixture(scope="module")
def three_arm() -> TrialAnalysis:
    """The bundled trial with half of the resolve arm relabelled: three arms, one extra contrast."""
    plan = load_plan()
    trial = replace(
        plan.trial,
        arms=THREE_ARMS,
        reference_arm="usual care",
        extra_contrasts=(("GSR+education", "GSR"),),
    )
    data = datasets.load("resolve")
    data["arm"] = data["arm"].map({"sham": "usual care", "resolve": "GSR"})
    ids = sorted(data.loc[data.arm == "GSR", "id"].unique())[1::2]
    data.loc[data["id"].isin(ids), "arm"] = "GSR+education"
    return analyze(data, replace(plan, trial=trial))


@pytest.fixture(scope="module")
def three_html(three_arm: TrialAnalysis) -> str:
    return render_html(three_arm)


def test_three_arm_primary_result_names_each_contrast(
    three_arm: TrialAnalysis, three_html: str
) -> None:
    key = re.search(r'<div class="key">(.*?)</div>', three_html, flags=re.DOTALL)
    assert key is not None
    rows = three_arm.primary.query("outcome == 'pain' and visit == 'week 18'")
    assert len(rows) == 3
    items = re.findall(r"<li>(.*?)</li>", key.group(1))
    assert len(items) == 3
    for item, (_, r) in zip(items, rows.iterrows(), strict=True):
        arm, comparator = str(r.contrast).split(" - ")
        number = f"{r.estimate:.2f}".replace("-", "\u2212")
        assert item.startswith(f"{arm} minus {comparator}: {number} (")
    assert "GSR, GSR+education minus" not in three_html


def test_three_arm_tables_and_figures_label_contrasts(
    three_arm: TrialAnalysis, three_html: str
) -> None:
    assert parse(three_html).errors == []
    for c in (
        "GSR \u2212 usual care",
        "GSR+education \u2212 usual care",
        "GSR+education \u2212 GSR",
    ):
        assert c in _section(three_html, "outcomes")  # Table 2 rows per contrast
        assert f"Pain intensity (NRS 0-10): {c}" in _section(three_html, "primary")
        assert c in _section(three_html, "responders")
    assert '<th scope="col" class="l">Contrast</th>' in _section(three_html, "responders")
    forest = _figure_svg(three_html, "fig-forest")
    assert "GSR \u2212 usual care" in forest and "GSR+education \u2212 usual care" in forest
    topics = re.findall(r'<h3 class="topic">(.*?)</h3>', three_html)
    assert "Pain intensity (NRS 0-10), GSR+education minus GSR; minimal" in " ".join(topics)
    for wrong in ("Gsr", "Usual care", "Gsr+education"):
        assert wrong not in three_html


def test_factor_covariate_reference_level_in_the_report() -> None:
    plan = load_plan()
    plan = replace(plan, analysis=replace(plan.analysis, covariates=("age", "sex")))
    html = render_html(analyze(datasets.load("resolve"), plan))
    facts = _section(html, "summary")
    # sex is text: a factor with R's first level as reference; age stays numeric
    assert "sex; factor, reference level female (R factor() order of the values)" in facts
    assert "age; factor" not in facts and "age" in facts
    plan2 = replace(
        plan, analysis=replace(plan.analysis, covariate_levels={"sex": ("male", "female")})
    )
    html2 = render_html(analyze(datasets.load("resolve"), plan2))
    assert "sex; factor, reference level male (" in _section(html2, "summary")


# ----------------------------------------------------------------------------- axes
def _svg_texts(svg: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<text\b.*?</text>", svg, re.S)]


def test_trajectories_use_visit_times() -> None:
    plan = load_plan()
    traj = trajectories(plan.validate_data(datasets.load("resolve")), plan)
    texts = _svg_texts(figures.trajectories_figure(traj, plan))
    assert plan.trial.time_label in texts and "52" in texts


def test_visits_without_times_are_named_ticks(plan_t: tuple[Plan, pd.DataFrame]) -> None:
    plan, data = plan_t
    traj = trajectories(plan.validate_data(data), plan)
    texts = _svg_texts(figures.trajectories_figure(traj, plan))
    for name in ("T0", "T1", "T2", "T3"):
        assert name in texts
    assert "Visit" in texts
    assert not any("weeks" in t.lower() for t in texts)


@pytest.fixture(scope="module")
def plan_t() -> tuple[Plan, pd.DataFrame]:
    base = load_plan()
    names = {"baseline": "T0", "week 12": "T1", "week 18": "T2", "week 26": "T3"}
    trial = replace(
        base.trial,
        visits=("T0", "T1", "T2", "T3"),
        baseline_visit="T0",
        primary_visit="T2",
        visit_times=None,
    )
    em = replace(base.effect_modification, visits=("T1", "T2", "T3"), family_visits=("T2",))
    data = datasets.load("resolve")
    data = data[data["visit"] != "week 52"].assign(visit=lambda d: d["visit"].map(names))
    return replace(base, trial=trial, effect_modification=em), data


def test_quartiles_are_shown_at_each_findings_visit(
    analysis: TrialAnalysis, report_html: str
) -> None:
    mod = analysis.modifiers
    assert mod is not None
    # the findings of the report: credible first, then by P; those with quartile estimates
    credible = set(credible_keys(mod.credibility))
    chosen = figures.select_findings(
        mod.table, exploratory_p=0.2, credible=credible, curves=mod.curves
    )
    q = mod.quartiles
    findings = [
        f
        for f in chosen
        if ((q["modifier"] == f[0]) & (q["outcome"] == f[1]) & (q["visit"] == f[2])).any()
    ]
    assert len({f[2] for f in findings}) > 1  # the fixture's findings are at several visits
    svg = _figure_svg(report_html, "fig-quartiles")
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, flags=re.DOTALL)
    assert desc is not None
    for m, o, v, _ in findings:
        assert f"{m} on {o} at {v}" in desc.group(1)


# ----------------------------------------------------------------------------- CLI
def test_analyze_cli_reads_a_screening_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = run(
        [
            "analyze",
            datasets.path("resolve"),
            "--screening",
            datasets.path("resolve_screening"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    flow = pd.read_csv(out / "consort.csv")
    assert flow["stage"].iloc[0] == "assessed for eligibility"
    assert "starts at the assessment for eligibility" in (out / "report.html").read_text()
    assert (out / "screening.csv").is_file()
    bad = tmp_path / "bad.csv"
    bad.write_text("measure,n\nrandomised,276\n")
    assert run(["analyze", datasets.path("resolve"), "--screening", str(bad), "--quiet"]) == 2
    assert "no 'assessed for eligibility' count" in capsys.readouterr().err
