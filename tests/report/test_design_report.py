"""The design report (``resolve design --out``): content, files, determinism, bad input.

Power tables are built by hand in the format of
:func:`resolve.design.power.power_table` (no simulation): power from a smooth
curve rounded to ``k / reps`` rejections, Wilson intervals and MC SEs computed
from it, the mean number screened ``n / eligible``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from resolve._results import jsonable
from resolve.errors import DataValidationError
from resolve.report.design import MAX_ROWS, render_design_html, write_design_report
from resolve.report.design_figures import Answer, choose_panels, series_labels, target_words

Z = 1.959963984540054
TARGET = "treatment:pain:week 52"
META: dict[str, Any] = {
    "scenario": "resolve",
    "scenario_description": "RESOLVE-like trial with FreBAQ x treatment modification",
    "plan": "resolve (bundled)",
    "reps": 400,
    "seed": 20261205,
    "analyses": "primary",
    "alpha": 0.05,
    "engine": "local (2 workers)",
    "resolve_version": "9.9.9-test",
    "command": "resolve design sample-size --target 'treatment:pain:week 52' --out out",
    "eligible": {"parallel": 1.0, "enrichment frebaq<=12": 0.56},
}


def wilson(k: int, reps: int) -> tuple[float, float]:
    p = k / reps
    d = 1 + Z * Z / reps
    centre = (p + Z * Z / (2 * reps)) / d
    half = Z * math.sqrt(p * (1 - p) / reps + Z * Z / (4 * reps * reps)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def power_rows(
    design: str,
    ns: list[int],
    *,
    n50: float,
    target: str = TARGET,
    adjustment: str = "none",
    eligible: float = 1.0,
    reps: int = 400,
    ratio: float = 1.0,
) -> list[dict[str, Any]]:
    """power_table rows of one design and target: power rising with n, 50% at ``n50``."""
    rows = []
    for n in ns:
        k = round(reps / (1 + math.exp(-(n - n50) / (n50 / 4))))
        p = k / reps
        low, high = wilson(k, reps)
        rows.append(
            {
                "design": design, "n": n, "ratio": ratio, "dropout": 1.0, "effect_scale": 1.0,
                "modification": None, "modifier_sd": None, "target": target,
                "estimand": "difference", "adjustment": adjustment,
                "truth": None if target.startswith("global") else -0.3, "power": p,
                "mc_se": math.sqrt(p * (1 - p) / reps), "conf_low": low, "conf_high": high,
                "reps": reps, "n_failed": 0, "n_randomised": n, "n_screened": n / eligible,
            }
        )  # fmt: skip
    return rows


def answer(power: pd.DataFrame, design: str, goal: float = 0.8) -> dict[str, Any]:
    """The sample-size answer as the CLI passes it: the smallest n reaching ``goal``."""
    rows = power[(power["design"] == design) & (power["target"] == TARGET)].sort_values("n")
    hit = rows[rows["power"] >= goal]
    at = hit.iloc[0] if len(hit) else rows.iloc[-1]
    return {
        "design": design, "target": TARGET, "adjustment": "none", "power_target": goal,
        "n": int(at["n"]) if len(hit) else None, "power": float(at["power"]),
        "mc_se": float(at["mc_se"]), "n_screened": float(at["n_screened"]) if len(hit) else None,
        "eligible": META["eligible"].get(design), "reps": 400, "seed": 20261205,
    }  # fmt: skip


@pytest.fixture(scope="module")
def enrichment() -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Sample size of all-comers (not reached) and an enrichment design (n = 196)."""
    rows = power_rows("parallel", [100, 200, 400, 800, 1600], n50=2400)
    rows += power_rows(
        "enrichment frebaq<=12", [100, 200, 150, 176, 188, 196, 194], n50=145, eligible=0.56
    )
    power = pd.DataFrame(rows)
    return power, [answer(power, "parallel"), answer(power, "enrichment frebaq<=12")]


@pytest.fixture(scope="module")
def page(enrichment: tuple[pd.DataFrame, list[dict[str, Any]]]) -> str:
    power, sizes = enrichment
    return render_design_html(power, title="Sample size", sample_sizes=sizes, meta=META)


def section(html: str, sid: str) -> str:
    match = re.search(rf'<section id="{sid}">(.*?)</section>', html, flags=re.DOTALL)
    assert match, f"no section {sid}"
    return match.group(1)


# ----------------------------------------------------------------------------- content
def test_the_answer_comes_first(
    page: str, enrichment: tuple[pd.DataFrame, list[dict[str, Any]]]
) -> None:
    enriched = enrichment[1][1]
    assert enriched["n"] == 196  # the smallest evaluated size whose power reaches 80%
    key = section(page, "answer")
    assert "For 80% power on the treatment effect on pain at week 52" in key
    assert "enrichment frebaq&lt;=12: <b>n = 196 randomised</b>" in key
    assert f"about {round(196 / 0.56)} screened" in key
    assert f"simulated power {enriched['power']:.3f} (MC SE {enriched['mc_se']:.3f})" in key
    assert "parallel: <b>not reached</b> by n = 1,600" in key
    assert "placeholders are assumptions" in key
    assert page.index('id="answer"') < page.index('id="power-curves"')


def test_every_design_label_in_tables_and_figures(page: str) -> None:
    for label in ("parallel", "enrichment frebaq&lt;=12"):
        assert f'<th scope="row">{label}</th>' in section(page, "sample-size")
        assert f'<th scope="row">{label}</th>' in section(page, "power-table")
        assert re.search(rf"<text[^>]*>{re.escape(label)}", section(page, "power-curves"))


def test_sample_size_table(
    page: str, enrichment: tuple[pd.DataFrame, list[dict[str, Any]]]
) -> None:
    enrichment_answer = enrichment[1][1]
    table = section(page, "sample-size")
    assert "<caption>Table 1. Sample size" in table
    assert "not reached (largest 1,600)" in table
    # enrichment row: n 196, mean screened 350, eligible 56.0%
    row = re.search(r"<tr><th scope=\"row\">enrichment frebaq&lt;=12</th>(.*?)</tr>", table)
    assert row
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    power = f"{enrichment_answer['power']:.3f} ({enrichment_answer['mc_se']:.3f})"
    assert cells[1:] == ["none", "80%", "196", power, "350", "56.0%"]


def test_power_curves_mark_target_and_answer(page: str) -> None:
    curves = section(page, "power-curves")
    assert curves.count("<svg") == 1
    assert re.search(r"<text[^>]*>80%</text>", curves)  # the target power line's label
    assert re.search(r"<text[^>]*>Treatment effect, pain, week 52</text>", curves)
    assert "95% Monte-Carlo interval (Wilson)" in curves
    assert "sample-size answer" in curves


def test_tradeoff_only_when_screening_differs(
    page: str, enrichment: tuple[pd.DataFrame, list[dict[str, Any]]]
) -> None:
    trade = section(page, "tradeoff")
    assert "n = 196, about 350 screened" in trade
    assert "parallel" not in re.sub(r"<desc.*?</desc>", "", trade)  # on the diagonal: not drawn
    power, _ = enrichment
    allcomers = power[power["design"] == "parallel"]
    html = render_design_html(allcomers, title="Power", meta=META)
    assert 'id="tradeoff"' not in html
    assert 'id="sample-size"' not in html


def test_power_table_rows(page: str, enrichment: tuple[pd.DataFrame, Any]) -> None:
    power, _ = enrichment
    table = section(page, "power-table")
    assert table.count('<tr><th scope="row">') == len(power)
    first = power.iloc[0]
    lo, hi = f"{first['conf_low']:.3f}", f"{first['conf_high']:.3f}"
    assert f"{lo} to {hi}" in table
    assert "<code>treatment:pain:week 52</code>, adjustment: none" in table
    assert "first" not in table  # everything shown


def test_long_power_table_is_capped_with_a_note() -> None:
    targets = [f"treatment:pain:week {w}" for w in (12, 18, 26, 52)]
    rows = [r for t in targets for r in power_rows("parallel", list(range(50, 900, 50)), n50=300,
                                                     target=t)]  # fmt: skip
    power = pd.DataFrame(rows)
    assert len(power) > MAX_ROWS
    html = render_design_html(power, title="Power", meta=META)
    table = section(html, "power-table")
    assert table.count('<tr><th scope="row">') == MAX_ROWS
    assert f"The first {MAX_ROWS} of {len(power)} rows are shown" in table
    answer_box = section(html, "answer")
    assert "<b>Power</b> of the treatment effect on pain at week 12" in answer_box


def test_operating_characteristics_table() -> None:
    power = pd.DataFrame(power_rows("parallel", [276], n50=200))
    oc = pd.DataFrame(
        [
            {"design": "parallel", "n": 276, "ratio": 1.0, "target": TARGET,
             "adjustment": "none", "truth": -0.3, "reps": 400, "n_failed": 0, "metric": m,
             "value": v, "mc_se": se}
            for m, v, se in [("bias", 0.0123, 0.0101), ("coverage", 0.948, 0.0111),
                             ("rejection", 0.62, 0.0243)]
        ]
    )  # fmt: skip
    html = render_design_html(power, title="OC", meta=META, oc=oc)
    table = section(html, "oc")
    assert "0.012 (0.010)" in table
    assert "0.948 (0.011)" in table
    assert "0.620 (0.024)" in table
    assert "\u22120.300" in table  # the truth, with a true minus sign
    assert "<code>oc.csv</code>" in html


def test_method_and_provenance(page: str) -> None:
    methods = section(page, "methods")
    for text in (
        "resolve (bundled)", "20261205", "local (2 workers)", "9.9.9-test",
        "RESOLVE-like trial with FreBAQ x treatment modification",
        "resolve design sample-size --target &#x27;treatment:pain:week 52&#x27; --out out",
        "\u221a(<i>p</i>(1 \u2212 <i>p</i>)/<i>R</i>)", "Wilson", "placeholders are assumptions",
        "enrichment frebaq&lt;=12: 56.0%",
    ):  # fmt: skip
        assert text in methods, text


def test_meta_numbers_are_rounded_for_reading(enrichment: tuple[pd.DataFrame, Any]) -> None:
    power, _ = enrichment
    html = render_design_html(power, title="T", meta={**META, "alpha": 1 - 0.95, "seed": None})
    assert "at level 0.05." in html and "0.0500000" not in html
    assert "<dt>Seed</dt><dd>not recorded</dd>" in html  # missing, never shown as 0


def test_series_split_by_varying_settings() -> None:
    rows = power_rows("parallel", [100, 200], n50=150, ratio=1.0)
    rows += power_rows("parallel", [100, 200], n50=170, ratio=2.0)
    power = pd.DataFrame(rows)
    assert series_labels(power).unique().tolist() == ["parallel, ratio 1", "parallel, ratio 2"]
    html = render_design_html(power, title="Ratios", meta=META)
    assert '<th scope="row">parallel, ratio 2</th>' in html


def test_default_panels_most_relevant_first() -> None:
    targets = [
        "global:pain:week 52", "modifier:frebaq:pain:week 52", "treatment:rmdq:week 52",
        *[f"modifier:m{k}:pain:week 52" for k in range(8)], TARGET,
    ]  # fmt: skip
    rows = [r for t in targets for r in power_rows("parallel", [100, 200], n50=150, target=t)]
    rows += power_rows("parallel", [100, 200], n50=150, target=targets[1], adjustment="holm")
    power = pd.DataFrame(rows)
    ss = Answer("parallel", "parallel", targets[1], "holm", 0.8, 200, 0.9, 0.01)
    panels, qualified = choose_panels(power, [ss])
    # the sample-size test, then treatment targets (table order), then the others (table order)
    assert panels[:4] == [
        (targets[1], "holm"),
        ("treatment:rmdq:week 52", "none"),
        (TARGET, "none"),
        ("global:pain:week 52", "none"),
    ]
    assert len(panels) == 8
    assert qualified == 1 + len(targets)
    html = render_design_html(power, title="Power", meta=META)
    assert "Curves of 4 more tests: <code>power.csv</code>" in html


def test_target_words() -> None:
    assert (
        target_words("global:pain:week 52")
        == "the global test of all interactions on pain at week 52"
    )
    assert target_words("modifier:frebaq:pain:week 52", "bh").endswith(
        "(Benjamini-Hochberg-adjusted)"
    )
    assert target_words("odd target") == "odd target"


# ----------------------------------------------------------------------------- files
def test_files_written_equal_the_tables(
    tmp_path: Path, enrichment: tuple[pd.DataFrame, list[dict[str, Any]]]
) -> None:
    power, sizes = enrichment
    oc = pd.DataFrame(
        {"design": "parallel", "n": [100], "target": TARGET, "adjustment": "none",
         "truth": [-0.3], "metric": ["bias"], "value": [0.01], "mc_se": [0.005]}
    )  # fmt: skip
    out = tmp_path / "new" / "report"
    path = write_design_report(out, power, sample_sizes=sizes, meta=META, title="T", oc=oc)
    assert path == out / "index.html"
    assert sorted(p.name for p in out.iterdir()) == [
        "index.html", "oc.csv", "oc.json", "power.csv", "power.json", "sample_size.csv",
        "sample_size.json",
    ]  # fmt: skip
    expected = power.astype({"modification": float, "modifier_sd": float})  # None: empty cell
    pd.testing.assert_frame_equal(pd.read_csv(out / "power.csv"), expected, check_dtype=False)
    assert json.loads((out / "power.json").read_text("utf-8")) == jsonable(power)
    sample = pd.DataFrame(sizes)
    pd.testing.assert_frame_equal(pd.read_csv(out / "sample_size.csv"), sample, check_dtype=False)
    assert json.loads((out / "sample_size.json").read_text("utf-8")) == jsonable(sample)
    assert json.loads((out / "sample_size.json").read_text("utf-8"))[0]["n"] is None  # not 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "oc.csv"), oc, check_dtype=False)
    assert path.read_text("utf-8") == render_design_html(
        power, title="T", sample_sizes=sizes, meta=META, oc=oc
    )


def test_existing_files_kept_and_replaced(
    tmp_path: Path, enrichment: tuple[pd.DataFrame, list[dict[str, Any]]]
) -> None:
    power, _ = enrichment
    (tmp_path / "replicates").mkdir()
    (tmp_path / "replicates" / "part.parquet").write_text("x")
    (tmp_path / "index.html").write_text("old")
    write_design_report(tmp_path, power, meta=META)
    assert (tmp_path / "replicates" / "part.parquet").read_text() == "x"
    assert (tmp_path / "index.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    assert not [p for p in tmp_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_deterministic_bytes(
    tmp_path: Path, enrichment: tuple[pd.DataFrame, list[dict[str, Any]]]
) -> None:
    power, sizes = enrichment
    a = write_design_report(tmp_path / "a", power, sample_sizes=sizes, meta=META).parent
    b = write_design_report(tmp_path / "b", power, sample_sizes=sizes, meta=META).parent
    for name in ("index.html", "power.csv", "power.json", "sample_size.csv", "sample_size.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_self_contained_and_accessible(page: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, flags=re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//|@import", page, flags=re.I)
    assert "<script" not in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "duplicate element ids"
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL):
        key = re.search(r'aria-labelledby="([^ "]+)-title', svg)
        assert key and f'<title id="{key.group(1)}-title">' in svg and "<desc id=" in svg
    tables = re.findall(r"<table.*?</table>", page, flags=re.DOTALL)
    assert len(tables) == 2
    for table in tables:
        assert "<caption>" in table and '<th scope="col"' in table


def test_label_is_escaped() -> None:
    bad = 'enrichment x<3 & "y" <script>'
    power = pd.DataFrame(power_rows(bad, [100, 200], n50=120, eligible=0.5))
    size = {**answer(power, bad), "eligible": 0.5}
    html = render_design_html(power, title="<T>", sample_sizes=[size], meta=META)
    assert bad not in html and "<script" not in html
    assert "enrichment x&lt;3 &amp; &quot;y&quot; &lt;script&gt;" in html
    assert "<title>&lt;T&gt;</title>" in html


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("column", ["conf_low", "n_screened", "target", "power"])
def test_missing_column_is_named(
    column: str, enrichment: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    power, _ = enrichment
    with pytest.raises(DataValidationError, match=f"power table lacks column.*'{column}'"):
        write_design_report(tmp_path / "out", power.drop(columns=column), meta=META)
    assert not (tmp_path / "out").exists()  # nothing written


def test_bad_values_are_named(enrichment: tuple[pd.DataFrame, Any]) -> None:
    power, _ = enrichment
    text = power.astype({"power": object})
    text.loc[3, "power"] = "high"
    with pytest.raises(DataValidationError, match=r"column 'power' must be .*row 3 has 'high'"):
        render_design_html(text, title="T", meta=META)
    over = power.assign(power=power["power"].where(power.index != 2, 1.5))
    with pytest.raises(DataValidationError, match=r"in \[0, 1\]; row 2 has 1.5"):
        render_design_html(over, title="T", meta=META)
    with pytest.raises(DataValidationError, match="has no rows"):
        render_design_html(power.iloc[:0], title="T", meta=META)
    with pytest.raises(DataValidationError, match="focus target 'treatment:rmdq:week 2'"):
        render_design_html(power, title="T", meta=META, focus=["treatment:rmdq:week 2"])
    oc = pd.DataFrame({"design": ["parallel"], "n": [100], "target": [TARGET]})
    with pytest.raises(
        DataValidationError, match=r"operating-characteristics table lacks.*'metric'"
    ):
        render_design_html(power, title="T", meta=META, oc=oc)


def test_bad_sample_size_answer_is_named(enrichment: tuple[pd.DataFrame, Any]) -> None:
    power, sizes = enrichment
    broken = {k: v for k, v in sizes[1].items() if k != "power_target"}
    with pytest.raises(DataValidationError, match=r"sample_sizes\[1\] lacks key.*'power_target'"):
        render_design_html(power, title="T", meta=META, sample_sizes=[sizes[0], broken])
    with pytest.raises(DataValidationError, match=r"sample_sizes\[0\] key 'n' must be an integer"):
        render_design_html(power, title="T", meta=META, sample_sizes=[{**sizes[1], "n": 19.5}])
    with pytest.raises(DataValidationError, match=r"'power_target' must be in \(0, 1\); got 80"):
        render_design_html(
            power, title="T", meta=META, sample_sizes=[{**sizes[1], "power_target": 80}]
        )
