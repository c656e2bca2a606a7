"""The HTML report: structure, self-containment, determinism, figures and tables."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resolve.analysis.result import TrialAnalysis
from resolve.errors import ResolveError
from resolve.report import write_html, write_report
from resolve.report.html import render_html

SECTIONS = (
    "key-results",
    "summary",
    "flow",
    "baseline",
    "outcomes",
    "responders",
    "primary",
    "modifiers",
    "curves",
    "credibility",
    "methods",
)
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class Checker(HTMLParser):
    """Collect tags and ids, and fail on any mis-nested or unclosed element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.ids: list[str] = []
        self.errors: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []

    def _note(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        for k, v in attrs:
            self.attrs.append((tag, k, v))
            if k == "id" and v is not None:
                self.ids.append(v)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._note(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._note(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()


def parse(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    return checker


def test_html_is_well_formed_with_every_section(report_html: str) -> None:
    doc = parse(report_html)
    assert doc.errors == [] and doc.stack == []
    assert report_html.startswith("<!DOCTYPE html>")
    for sid in SECTIONS:
        assert sid in doc.ids, sid
    # CONSORT + trajectories + forest + curves + quartiles
    assert doc.counts["svg"] == 5
    assert doc.counts["figure"] == 5 and doc.counts["figcaption"] == 5
    for caption in (
        "Figure 1.",
        "Figure 5.",
        "Table 1.",
        "Table 2.",
        "Outcomes by randomised group",
    ):
        assert caption in report_html


def test_ids_are_unique_across_inline_figures(report_html: str) -> None:
    ids = parse(report_html).ids
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert dupes == []
    for ref in re.findall(r'(?:url\(#|href="#)([^)"]+)', report_html):
        assert ref in ids, ref


def test_every_svg_has_title_and_description(report_html: str) -> None:
    svgs = re.findall(r"<svg\b.*?</svg>", report_html, flags=re.DOTALL)
    assert len(svgs) == 5
    for svg in svgs:
        head = svg[: svg.index(">") + 1]
        assert 'role="img"' in head and "aria-labelledby" in head
        assert "<title" in svg and "<desc" in svg


def test_tables_have_headers_and_captions(report_html: str) -> None:
    doc = parse(report_html)
    assert doc.counts["table"] >= 6
    assert doc.counts["caption"] == doc.counts["table"]
    scopes = {v for tag, k, v in doc.attrs if tag == "th" and k == "scope"}
    assert {"col", "row", "rowgroup"} <= scopes


def test_no_external_references(report_html: str) -> None:
    doc = parse(report_html)
    for tag, key, value in doc.attrs:
        if key in ("src", "href", "xlink:href") and value:
            assert value.startswith("#"), (tag, key, value)
    assert doc.counts.get("script", 0) == 0 and doc.counts.get("link", 0) == 0
    assert doc.counts.get("img", 0) == 0
    assert not re.search(r"@import|url\((?!#)", report_html)
    # text as text, not glyph paths; no matplotlib metadata block
    assert "<metadata>" not in report_html and "DejaVuSans-" not in report_html


def test_output_is_deterministic(analysis: TrialAnalysis, tmp_path: Path) -> None:
    a = write_report(analysis, tmp_path / "a").read_bytes()
    b = write_report(analysis, tmp_path / "b").read_bytes()
    assert a == b
    assert render_html(analysis) == render_html(analysis)


def test_forest_plot_draws_every_modifier_row(analysis: TrialAnalysis, report_html: str) -> None:
    assert analysis.modifiers is not None
    table = analysis.modifiers.table
    forest = re.search(r"<svg[^>]*fig-forest-title.*?</svg>", report_html, flags=re.DOTALL)
    assert forest is not None
    rows = re.findall(r'id="fig-forest-forest-row-(\d+)"', forest.group(0))
    assert sorted(map(int, rows)) == list(range(len(table)))
    for label in table["label"].unique():
        assert label in forest.group(0)


def test_report_states_primary_result_plan_and_software(
    analysis: TrialAnalysis, report_html: str
) -> None:
    r = analysis.primary.query("outcome == 'pain' and visit == 'week 18'").iloc[0]
    assert f"{abs(r['estimate']):.2f}" in report_html
    assert "(1 | id)" in report_html  # the primary model formula from the plan
    assert "numpy" in report_html and "matplotlib" in report_html
    for note in analysis.notes:
        assert note in report_html


def test_tables_round_trip_as_csv_and_json(analysis: TrialAnalysis, report_dir: Path) -> None:
    assert analysis.modifiers is not None
    assert analysis.table1 is not None and analysis.responders is not None
    for stem, frame in (
        ("primary", analysis.primary),
        ("modifiers", analysis.modifiers.table),
        ("table1", analysis.table1),
        ("responders", analysis.responders),
    ):
        csv = pd.read_csv(report_dir / f"{stem}.csv")
        pd.testing.assert_frame_equal(csv, frame.reset_index(drop=True), check_dtype=False)
        records = json.loads((report_dir / f"{stem}.json").read_text())
        back = pd.DataFrame(records).fillna(np.nan)
        pd.testing.assert_frame_equal(
            back, frame.reset_index(drop=True), check_dtype=False, rtol=1e-12
        )
    assert (report_dir / "report.html").is_file()


def test_without_modifiers_or_sensitivity(analysis: TrialAnalysis, tmp_path: Path) -> None:
    slim = replace(analysis, modifiers=None, sensitivity=analysis.sensitivity.iloc[0:0], notes=())
    text = write_html(slim, tmp_path).read_text()
    doc = parse(text)
    assert doc.errors == [] and doc.counts["svg"] == 2
    assert "modifiers" not in doc.ids and "Sensitivity analyses" not in text


def test_imputation_table_is_shown(analysis: TrialAnalysis) -> None:
    imp = pd.DataFrame({"outcome": ["pain"], "visit": ["week 18"], "estimate": [-0.8]})
    text = render_html(replace(analysis, imputation=imp))
    assert "Multiple imputation" in text and "\u22120.8" in text


def test_missing_matplotlib_is_a_clear_error(
    analysis: TrialAnalysis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ResolveError, match=r"resolve\[plot\]"):
        render_html(analysis)


def test_credibility_section_shows_iceman_items_with_evidence(
    analysis: TrialAnalysis, report_html: str
) -> None:
    assert analysis.modifiers is not None
    cred = analysis.modifiers.credibility
    assert not cred.empty
    section = re.search(r'<section id="credibility".*?</section>', report_html, re.DOTALL)
    assert section is not None
    text = section.group(0)
    assert "judged with ICEMAN" not in report_html
    assert "ICEMAN (Schandelmaier et al., CMAJ 2020) core items" in text
    assert "overall rating by this project&#x27;s documented rule" in text
    assert "ICEMAN-based overall rating (resolve rule)" in text
    assert "Additional consideration (not an ICEMAN core item)" not in text  # fake has none
    for k in range(1, 6):
        assert f"{k}. " in text  # every core item in the evidence table
    first = cred.iloc[0]
    assert escape(str(first["item3_chance_evidence"])) in text
    # one summary row and one group of the evidence table per finding
    assert text.count('<tr class="group">') == len(cred)
    # the methods name the scope and the rule's status
    assert "ICEMAN-based overall rating, resolve rule), which is not part of ICEMAN" in report_html


def test_credibility_section_when_nothing_is_in_scope(analysis: TrialAnalysis) -> None:
    assert analysis.modifiers is not None
    empty = replace(analysis.modifiers, credibility=analysis.modifiers.credibility.iloc[0:0])
    text = render_html(replace(analysis, modifiers=empty))
    doc = parse(text)
    assert doc.errors == [] and "credibility" in doc.ids
    assert "No interaction had <i>P</i> &lt; 0.1: nothing to assess." in text
