"""The design report of ``resolve design``: one self-contained HTML file and its tables.

Same look as the analysis report (:mod:`resolve.report.html`): inline CSS and SVG,
no scripts, no external references, no clock, so the same tables give the same
bytes. :func:`write_design_report` writes it beside every table as CSV and JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from resolve._results import jsonable
from resolve._validation import require_columns
from resolve.analysis.run import atomic_directory
from resolve.errors import DataValidationError
from resolve.report import design_figures as figs
from resolve.report.design_figures import Answer, series_labels, target_words
from resolve.report.html import _CSS
from resolve.report.tables import _table, fmt_num, scroll_box

__all__ = ["render_design_html", "write_design_report"]
_p3 = partial(fmt_num, digits=3)

#: Columns the power table must have (:func:`resolve.design.power.power_table`).
POWER_COLUMNS = ("design", "n", "target", "adjustment", "power", "mc_se", "conf_low", "conf_high",
                 "reps", "n_screened")  # fmt: skip
#: Columns the operating-characteristics table must have (:func:`resolve.design.power.oc_table`).
OC_COLUMNS = ("design", "n", "target", "adjustment", "metric", "value", "mc_se")
OC_METRICS = ("bias", "empirical_se", "mean_se", "rmse", "coverage", "rejection")
#: Rows of a table shown in the page (the CSV and JSON files have all).
MAX_ROWS = 60
DASH = "\u2014"
_ADJ = {"none": "none", "holm": "Holm", "bh": "Benjamini\u2013Hochberg"}
#: One-panel figures at most 48rem wide; on phones, many-panel ones scroll rather than shrink.
_DESIGN_CSS = ("figure svg.mpl:not(.wide) { max-width: 48rem; }\n@media (max-width: 40rem) "
               "{ figure svg.mpl.wide { min-width: 46rem; } }\n")  # fmt: skip


# ----------------------------------------------------------------------------- checks
def _check(frame: Any, columns: Sequence[str], numeric: Sequence[str], what: str) -> None:
    """Columns present, at least one row, numbers numeric, ``n`` never missing, power in [0, 1]."""
    require_columns(frame, columns, what=what)
    if frame.empty:
        raise DataValidationError(f"{what} has no rows: nothing to report")
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = (values.isna() & frame[col].notna()).to_numpy()
        if col in ("n", "power"):
            bad = bad | values.isna().to_numpy()
        if col == "power":
            bad = bad | ((values < 0) | (values > 1)).to_numpy()
        if bad.any():
            i = int(bad.nonzero()[0][0])
            rule = "a number in [0, 1]" if col == "power" else "a number"
            got = jsonable(frame[col].iloc[i])
            raise DataValidationError(f"{what} column {col!r} must be {rule}; row {i} has {got!r}")


# ----------------------------------------------------------------------------- formatting
def _value(meta: Mapping[str, Any], key: str) -> str:
    value = meta.get(key)
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return "not recorded" if value is None or value == "" else escape(text)


def _int(x: Any) -> str:
    return DASH if x is None or pd.isna(x) else f"{round(float(x)):,}"


def _pct(x: Any, digits: int = 0) -> str:
    return DASH if x is None or pd.isna(x) else f"{100 * float(x):.{digits}f}%"


def _largest(power: pd.DataFrame, series: pd.Series, a: Answer) -> str:
    rows = power[(series == a.series) & (power["target"] == a.target)]
    return _int(None if rows.empty else rows["n"].max())


def _answer_text(power: pd.DataFrame, series: pd.Series, a: Answer) -> str:
    if a.n is None:
        return (
            f"<b>not reached</b> by n = {_largest(power, series, a)}, the largest size "
            f"evaluated (power {_p3(a.power)} there)"
        )
    screened = a.n_screened is not None and abs(a.n_screened - a.n) >= 0.5
    return (
        f"<b>n = {_int(a.n)} randomised</b>"
        + (f" (about {_int(a.n_screened)} screened)" if screened else "")
        + f", simulated power {_p3(a.power)} (MC SE {_p3(a.mc_se)})"
    )


# ----------------------------------------------------------------------------- sections
def _answer_box(power: pd.DataFrame, series: pd.Series, answers: Sequence[Answer],
                panel: tuple[str, str], meta: Mapping[str, Any]) -> str:  # fmt: skip
    """The key box (sample-size answers, else the first panel's power) and its basis."""
    groups: dict[tuple[str, str, float], list[str]] = {}
    for a in answers:
        text = f"{escape(a.series)}: {_answer_text(power, series, a)}"
        groups.setdefault((a.target, a.adjustment, a.power_target), []).append(text)
    paras = []
    for (target, adj, goal), parts in groups.items():
        head = f"<b>Sample size.</b> For {_pct(goal)} power on {escape(target_words(target, adj))}"
        items = "".join(f"<li>{x}</li>" for x in parts)
        paras.append(f"<p>{head}, {parts[0]}.</p>" if len(parts) == 1 else
                     f"<p>{head}:</p><ul>{items}</ul>")  # fmt: skip
    if not answers:
        target, adj = panel
        hit = (power["target"] == target) & (power["adjustment"] == adj)
        items = ""
        for s in dict.fromkeys(series[hit]):
            rows = power[hit & (series == s)].sort_values("n", kind="stable")
            lo, hi = rows.iloc[0], rows.iloc[-1]
            text = f"{_p3(lo['power'])} at n = {_int(lo['n'])}"
            text += f" to {_p3(hi['power'])} at n = {_int(hi['n'])}" if len(rows) > 1 else ""
            items += f"<li>{escape(str(s))}: {text}</li>"
        paras.append(
            f"<p><b>Power</b> of {escape(target_words(target, adj))} (simulated; MC SE in the "
            f"tables below):</p><ul>{items}</ul>"
        )
    return (
        f'<div class="key">{"".join(paras)}</div><p>Power is estimated by simulation: '
        f"{_int(meta.get('reps'))} trials per design point simulated from the scenario "
        f"<i>{_value(meta, 'scenario')}</i>, each analysed with the analysis "
        f"plan's test at level {_value(meta, 'alpha')}. The answer is only as "
        "good as the scenario: values the scenario file marks as placeholders are assumptions, "
        "not estimates from data. Monte-Carlo uncertainty is shown as a standard error (MC SE) "
        "and a 95% Wilson interval.</p>"
    )


def _sample_size_table(power: pd.DataFrame, series: pd.Series, answers: Sequence[Answer]) -> str:
    rows = [
        [escape(a.series), f"<code>{escape(a.target)}</code>",
         escape(_ADJ.get(a.adjustment, a.adjustment)), _pct(a.power_target),
         _int(a.n) if a.n is not None else f"not reached (largest {_largest(power, series, a)})",
         f"{_p3(a.power)} ({_p3(a.mc_se)})", _int(a.n_screened) if a.n is not None else DASH,
         _pct(a.eligible, 1)]
        for a in answers
    ]  # fmt: skip
    head = ["Design", "Target", "Adjustment", "Target power", "n randomised", "Power (MC SE)",
            "Mean n screened", "Eligible share"]  # fmt: skip
    note = (
        "n randomised: both arms; the smallest evaluated n whose simulated power reaches the "
        "target. Mean n screened: people screened to randomise n, mean over simulated trials. "
        "Eligible share: proportion of the scenario's population meeting the design's "
        "condition. Also in <code>sample_size.csv</code> and <code>sample_size.json</code>."
    )
    caption = "Sample size: n randomised reaching the target power"
    return _boxed(1, caption, head, [(None, rows)], text_cols=3, note=note)


def _capped(frame: pd.DataFrame, series: pd.Series, make_rows: Callable[[pd.DataFrame], Any],
            stem: str) -> tuple[list[tuple[str | None, Any]], str]:  # fmt: skip
    """Rows grouped by (target, adjustment), at most :data:`MAX_ROWS`, and where all are."""
    f = frame.assign(_series=series.to_numpy())
    keys = dict.fromkeys(zip(f["target"].astype(str), f["adjustment"].astype(str), strict=True))
    groups: list[tuple[str | None, Any]] = []
    shown = total = 0
    for target, adj in keys:
        rows = make_rows(f[(f["target"] == target) & (f["adjustment"] == adj)])
        total += len(rows)
        if shown < MAX_ROWS and rows:
            label = f"<code>{escape(target)}</code>, adjustment: {escape(_ADJ.get(adj, adj))}"
            groups.append((label, rows[: MAX_ROWS - shown]))
            shown += len(groups[-1][1])
    files = f"<code>{stem}.csv</code> and <code>{stem}.json</code>"
    more = f" The first {MAX_ROWS} of {total} rows are shown; {files} have all."
    return groups, more if total > MAX_ROWS else f" Also in {files}."


def _power_table(power: pd.DataFrame, series: pd.Series, number: int) -> str:
    truth, failed = "truth" in power.columns, "n_failed" in power.columns

    def rows(part: pd.DataFrame) -> list[list[str]]:
        return [
            [escape(str(r["_series"])), _int(r["n"]), *([fmt_num(r["truth"], 3)] if truth else []),
             _p3(r["power"]), _p3(r["mc_se"]), f"{_p3(r['conf_low'])} to {_p3(r['conf_high'])}",
             _int(r["reps"]), *([_int(r["n_failed"])] if failed else []), _int(r["n_screened"])]
            for _, r in part.iterrows()
        ]  # fmt: skip

    groups, more = _capped(power, series, rows, "power")
    head = ["Design", "n randomised", *(["Truth"] if truth else []), "Power", "MC SE",
            "95% MC interval", "Trials", *(["Failed fits"] if failed else []),
            "Mean n screened"]  # fmt: skip
    note = (
        "Power: share of simulated trials whose test rejects (failed fits count as not "
        "rejecting). MC SE = \u221a(p(1 \u2212 p)/R); 95% MC interval: Wilson interval of the "
        "Monte-Carlo estimate. Truth: the effect the scenario implies." + more
    )
    return _boxed(
        number, "Simulated power by design, n randomised and test", head, groups, note=note
    )


def _oc_table(oc: pd.DataFrame, number: int) -> str:
    def rows(part: pd.DataFrame) -> list[list[str]]:
        points: dict[tuple[str, int], dict[str, Any]] = {}
        for _, r in part.iterrows():
            point = points.setdefault((str(r["_series"]), int(r["n"])), {"truth": r.get("truth")})
            point[str(r["metric"])] = f"{fmt_num(r['value'], 3)} ({fmt_num(r['mc_se'], 3)})"
        return [
            [escape(s), _int(n), fmt_num(got["truth"], 3), *(got.get(m, DASH) for m in OC_METRICS)]
            for (s, n), got in points.items()
        ]

    groups, more = _capped(oc, series_labels(oc), rows, "oc")
    head = ["Design", "n randomised", "Truth", "Bias", "Empirical SE", "Mean model SE", "RMSE",
            "Coverage", "Rejection rate"]  # fmt: skip
    note = (
        "Over the simulated trials whose model converged. Coverage: share of confidence "
        "intervals containing the truth. Rejection rate: type-I error where the truth is 0, "
        "power otherwise." + more
    )
    caption = "Operating characteristics (value and Monte-Carlo SE)"
    return _boxed(number, caption, head, groups, note=note)


def _provenance(meta: Mapping[str, Any], answers: Sequence[Answer]) -> str:
    get = partial(_value, meta)
    shares = dict(meta.get("eligible") or {})
    shares.update({a.design: a.eligible for a in answers if a.eligible is not None})
    described = f" \u2014 {get('scenario_description')}" if meta.get("scenario_description") else ""
    facts = [
        ("Scenario", get("scenario") + described), ("Analysis plan", get("plan")),
        ("Simulated trials per design point", get("reps")), ("Seed", get("seed")),
        ("Analyses", get("analyses")), ("Significance level (two-sided)", get("alpha")),
        ("Engine", get("engine")), ("resolve version", get("resolve_version")),
        ("Command", f"<code>{get('command')}</code>"),
        ("Eligible share", "; ".join(f"{escape(str(k))}: {_pct(v, 1)}"
                                     for k, v in shares.items()) or DASH),
    ]  # fmt: skip
    items = [
        "Each design point (design, n randomised) is simulated <i>R</i> times from the scenario "
        "and analysed with the plan's model. Power: share of trials whose test rejects at the "
        "plan's level (a model that cannot be fitted counts as not rejecting).",
        "Monte-Carlo SE of a power <i>p</i>: \u221a(<i>p</i>(1 \u2212 <i>p</i>)/<i>R</i>). "
        "Bands and intervals: 95% Wilson intervals of the Monte-Carlo estimate, not confidence "
        "intervals of the treatment effect.",
        "One seed for every design point (common random numbers). Sample size: a grid, then "
        "bisection; the answer is the smallest evaluated n whose simulated power reaches the "
        "target (sizes whose power differs by less than about one MC SE cannot be told apart).",
        "Enrichment designs randomise only people meeting their condition; screening is "
        "simulated person by person and the mean number screened is shown. The scenario file "
        "gives the provenance of every value: placeholders are assumptions, power depends on them.",
    ]
    return (
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
        "<h3>Method</h3><ul>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>"
    )


def _boxed(number: int, caption: str, *args: Any, **kwargs: Any) -> str:
    return _table(f"Table {number}. {caption}", *args, css="num", **kwargs)


def _figure(svg: str, number: int, title: str, caption: str) -> str:
    return (
        f'<figure>\n<div class="figscroll" {scroll_box(f"Figure {number}")}>{svg}</div>'
        f"<figcaption><b>Figure {number}. {escape(title)}.</b> {caption}</figcaption>\n</figure>"
    )


# ----------------------------------------------------------------------------- public
def render_design_html(
    power: pd.DataFrame, *, title: str, sample_sizes: Sequence[Mapping[str, Any]] = (),
    meta: Mapping[str, Any], focus: Sequence[str] = (), oc: pd.DataFrame | None = None,
) -> str:  # fmt: skip
    """Render the design report as one self-contained HTML document.

    Parameters
    ----------
    power : pandas.DataFrame
        :func:`resolve.design.power.power_table` rows (any designs, sizes,
        targets, adjustments); needs the columns :data:`POWER_COLUMNS`.
    title : str
        Page title.
    sample_sizes : sequence of mapping
        One answer per design searched: ``design``, ``target``,
        ``adjustment``, ``power_target``, ``n`` (None: not reached), ``power``,
        ``mc_se``; optional ``n_screened``, ``eligible``.
    meta : mapping
        ``scenario``, ``scenario_description``, ``plan``, ``reps``, ``seed``,
        ``analyses``, ``alpha``, ``engine``, ``resolve_version``, ``command``,
        ``eligible`` ({design: share}); absent keys show as "not recorded".
    focus : sequence of str
        Targets to draw power curves for; default: the sample-size targets,
        then the treatment targets, then the other unadjusted ones; at most 8.
    oc : pandas.DataFrame, optional
        :func:`resolve.design.power.oc_table` rows: adds a table of operating
        characteristics.

    Returns
    -------
    str
        The HTML text.

    Raises
    ------
    resolve.errors.DataValidationError
        A table lacks a column or has a bad value (both named), a sample-size
        answer lacks a key, or a focus target is not in the power table.

    Examples
    --------
    >>> import pandas as pd
    >>> power = pd.DataFrame({
    ...     "design": "parallel", "n": [100, 200], "target": "treatment:pain:week 18",
    ...     "adjustment": "none", "power": [0.55, 0.85], "mc_se": [0.035, 0.025],
    ...     "conf_low": [0.48, 0.79], "conf_high": [0.62, 0.89], "reps": 200,
    ...     "n_screened": [100.0, 200.0]})
    >>> answer = {"design": "parallel", "target": "treatment:pain:week 18",
    ...           "adjustment": "none", "power_target": 0.8, "n": 200, "power": 0.85,
    ...           "mc_se": 0.025}
    >>> page = render_design_html(power, title="Sample size", sample_sizes=[answer],
    ...                           meta={"scenario": "resolve", "reps": 200})
    >>> "<b>n = 200 randomised</b>" in page
    True
    """
    _check(power, POWER_COLUMNS, (*POWER_COLUMNS[4:], "n"), "power table")
    power = power.reset_index(drop=True)
    if oc is not None:
        _check(oc, OC_COLUMNS, ("n", "value", "mc_se"), "operating-characteristics table")
    series = series_labels(power)
    answers = figs.answers_from(sample_sizes, power, series, meta.get("eligible"))
    panels, n_candidates = figs.choose_panels(power, answers, focus)
    goals = ", ".join(_pct(t) for t in sorted({a.power_target for a in answers}))
    caption = (
        "Simulated power (markers: evaluated sizes) with a shaded 95% Wilson interval of the "
        "Monte-Carlo estimate, one line per design"
        + (f"; dashed: target power ({goals}); rings and dotted lines: the sample-size answers"
           if answers else "")
        + "."
        + (f" Curves of {n_candidates - len(panels)} more tests: <code>power.csv</code>."
           if n_candidates > len(panels) else "")
    )  # fmt: skip
    sections = [
        ("answer", "Answer", _answer_box(power, series, answers, panels[0], meta)),
        ("power-curves", "Power curves", _figure(
            figs.power_curves_figure(power, panels, series=series, answers=answers), 1,
            "Power against the number randomised", caption)),
    ]  # fmt: skip
    if answers:
        sections.append(("sample-size", "Sample size", _sample_size_table(power, series, answers)))
    if bool(((power["n_screened"] - power["n"]).abs() > 0.5).any()):
        sections.append(("tradeoff", "Enrichment trade-off", _figure(
            figs.tradeoff_figure(power, series=series, answers=answers), 2,
            "Enrichment trade-off: people screened against people randomised",
            "Mean number screened (over simulated trials) to randomise n. On the dashed diagonal "
            "everyone screened is randomised (all-comers); restricting entry raises the effect "
            "in those randomised but costs screening. Large markers: the sample-size answers.",
        )))  # fmt: skip
    tab = 1 + bool(answers)
    sections.append(("power-table", "Power table", _power_table(power, series, tab)))
    if oc is not None:
        oc_html = _oc_table(oc.reset_index(drop=True), tab + 1)
        sections.append(("oc", "Operating characteristics", oc_html))
    sections.append(("methods", "Method and provenance", _provenance(meta, answers)))
    nav = "".join(f'<li><a href="#{sid}">{escape(name)}</a></li>' for sid, name, _ in sections)
    body = "\n".join(
        f'<section id="{sid}">\n<h2>{escape(name)}</h2>\n{content}\n</section>'
        for sid, name, content in sections
    )
    low, high, designs = int(power["n"].min()), int(power["n"].max()), len(set(series))
    subtitle = (
        f"Scenario {escape(str(meta.get('scenario', 'not recorded')))}; {designs} design"
        f"{'s' * (designs > 1)}; n = {_int(low)}{f' to {_int(high)}' * (high > low)} randomised; "
        f"{_int(meta.get('reps'))} simulated trials per design point"
    )
    files = ["power"] + ["sample_size"] * bool(answers) + ["oc"] * (oc is not None)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}{_DESIGN_CSS}</style>\n</head>\n<body>\n"
        f'<header>\n<h1>{escape(title)}</h1>\n<p class="subtitle">{subtitle}</p>\n'
        f'<nav aria-label="Contents"><ol>{nav}</ol></nav>\n</header>\n<main>\n{body}\n</main>\n'
        f"<footer><p>Generated by resolve {escape(str(meta.get('resolve_version', '')))}. "
        "Every table is also written as CSV and JSON beside this file: "
        + ", ".join(f"<code>{f}.csv</code>" for f in files)
        + ".</p></footer>\n</body>\n</html>\n"
    )


def _json(frame: pd.DataFrame) -> str:
    return json.dumps(jsonable(frame), ensure_ascii=False, indent=1) + "\n"


def write_design_report(
    directory: str | Path, power: pd.DataFrame, *, sample_sizes: Sequence[Mapping[str, Any]] = (),
    meta: Mapping[str, Any], title: str = "Trial design by simulation", focus: Sequence[str] = (),
    oc: pd.DataFrame | None = None,
) -> Path:  # fmt: skip
    """Write ``index.html`` and the tables as CSV and JSON into ``directory``.

    Files: ``index.html``, ``power.csv``/``.json``, ``sample_size.csv``/``.json``
    (with ``sample_sizes``) and ``oc.csv``/``.json`` (with ``oc``); JSON as
    records, missing values as null. Everything is rendered first, then written
    into a temporary folder beside ``directory`` and moved into place file by
    file with :func:`os.replace` (:func:`resolve.analysis.run.atomic_directory`),
    so nothing is half-written; other files in ``directory`` (such as
    ``replicates/``) are kept. Arguments as :func:`render_design_html`.

    Returns
    -------
    pathlib.Path
        Path of ``index.html``.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> power = pd.DataFrame([dict(design="parallel", n=200, target="treatment:pain:week 18",
    ...     adjustment="none", power=0.85, mc_se=0.025, conf_low=0.79, conf_high=0.89,
    ...     reps=200, n_screened=200.0)])
    >>> path = write_design_report(Path(tempfile.mkdtemp()), power, meta={"reps": 200})
    >>> sorted(p.name for p in path.parent.iterdir())
    ['index.html', 'power.csv', 'power.json']
    """
    text = render_design_html(
        power, title=title, sample_sizes=sample_sizes, meta=meta, focus=focus, oc=oc
    )
    tables = {"power": power}
    if sample_sizes:
        sizes = pd.DataFrame([dict(item) for item in sample_sizes])
        if "n" in sizes.columns:  # a size not reached is empty, never a float like 90.0
            sizes["n"] = sizes["n"].astype("Int64")
        tables["sample_size"] = sizes
    if oc is not None:
        tables["oc"] = oc
    files = {"index.html": text}
    for name, frame in tables.items():
        files.update({f"{name}.csv": frame.to_csv(index=False), f"{name}.json": _json(frame)})
    with atomic_directory(directory) as folder:
        for name, content in files.items():
            (folder / name).write_text(content, encoding="utf-8", newline="")
    return Path(directory) / "index.html"
