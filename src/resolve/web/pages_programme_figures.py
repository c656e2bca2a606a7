"""Server-rendered SVG figures of a participant's programme (clinician view).

Three kinds of figure, drawn with our own small SVG code (no script, no
``style`` attribute: the Content-Security-Policy forbids inline style; colours
are CSS classes of ``static/programme.css``):

- :func:`trend_chart` -- a task measure over the programme weeks (LRJ accuracy,
  LRJ median reaction time, weekly pain): one dot per block (filled in clinic,
  open at home), the weekly median as a line, the norm as a dashed line;
- :func:`error_map` -- the tactile grid on a back outline, each zone shaded by
  the mean error distance (cm) of the answers to touches there.

Every figure is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>``;
the page shows the same numbers in a table beside it.

Examples
--------
>>> svg = trend_chart([Point(1, 0.7, "clinic"), Point(2, 0.9, "home")], weeks=12,
...                   y_max=1.0, title="LRJ accuracy", desc="Accuracy per block",
...                   percent=True, norm=0.8, norm_label="norm")
>>> svg.startswith("<svg") and "<title" in svg and 'class="norm"' in svg
True
>>> m = error_map(rows=2, cols=2, errors={"A1": 0.0, "B2": 3.5}, title="Errors", desc="cm")
>>> m.count('<rect class="zone') == 4 and "3.5" in m
True
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

__all__ = ["Point", "error_map", "figures", "tactile_errors", "trend_chart", "weekly_medians"]

#: Drawing area of the trend charts (SVG user units; the chart scales to the page).
WIDTH, HEIGHT = 480, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 50, 12, 26, 40
#: Shades of the error map (CSS classes ``shade-0`` light: no error ... ``shade-4`` dark),
#: and whether each needs light text (``programme.css`` keeps text contrast >= 4.5:1).
SHADES: tuple[bool, ...] = (False, False, False, True, True)
_ROWS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class Point:
    """One value of a trend: programme week, value, and where it was done."""

    week: int
    value: float
    setting: str = "clinic"


def weekly_medians(points: Sequence[Point]) -> dict[int, float]:
    """Median value per week (weeks with no value are absent).

    Examples
    --------
    >>> weekly_medians([Point(1, 1.0), Point(1, 3.0), Point(3, 2.0)])
    {1: 2.0, 3: 2.0}
    """
    by_week: dict[int, list[float]] = {}
    for p in points:
        by_week.setdefault(p.week, []).append(p.value)
    return {w: float(statistics.median(v)) for w, v in sorted(by_week.items())}


def _num(x: float) -> str:
    return f"{x:.1f}"


def _tick(value: float, percent: bool) -> str:
    return f"{value * 100:.0f}%" if percent else f"{value:g}"


def trend_chart(
    points: Sequence[Point],
    *,
    weeks: int,
    y_max: float,
    title: str,
    desc: str,
    percent: bool = False,
    norm: float | None = None,
    norm_label: str = "",
    y_ticks: int = 5,
    week_label: str = "week",
    ident: str = "trend",
) -> Markup:
    """A dot-and-line chart of ``points`` over weeks 1 to ``weeks`` (y from 0 to ``y_max``).

    Parameters
    ----------
    points : sequence of Point
        The values; several in one week are spread a little sideways.
    weeks : int
        Weeks on the x axis.
    y_max : float
        Top of the y axis (values above are drawn at the top).
    title, desc : str
        The figure's accessible name and description.
    percent : bool
        Label the y axis in percent (values are fractions).
    norm : float, optional
        A reference value drawn as a dashed line, labelled ``norm_label``.
    y_ticks : int
        Number of y intervals.
    week_label : str
        The x axis title.
    ident : str
        Prefix of the element ids (unique on the page).

    Returns
    -------
    Markup
        The ``<svg>`` element.
    """
    w, h = WIDTH, HEIGHT
    plot_w, plot_h = w - _LEFT - _RIGHT, h - _TOP - _BOTTOM
    weeks = max(1, weeks)

    def x(week: float) -> float:
        return _LEFT + (week - 0.5) / weeks * plot_w

    def y(value: float) -> float:
        v = min(max(value, 0.0), y_max)
        return _TOP + plot_h - v / y_max * plot_h

    out = [
        f'<svg class="trend" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{ident}-t {ident}-d"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>',
        f'<rect class="plot" x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    for k in range(y_ticks + 1):
        value = y_max * k / y_ticks
        yy = _num(y(value))
        out.append(f'<line class="grid" x1="{_LEFT}" x2="{w - _RIGHT}" y1="{yy}" y2="{yy}"/>')
        out.append(
            f'<text class="tick" x="{_LEFT - 6}" y="{yy}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(_tick(value, percent))}</text>'
        )
    step = 1 if weeks <= 16 else max(1, weeks // 12)
    for week in range(1, weeks + 1, step):
        out.append(
            f'<text class="tick" x="{_num(x(week))}" y="{h - _BOTTOM + 18}" '
            f'text-anchor="middle">{week}</text>'
        )
    out.append(
        f'<text class="axis" x="{_LEFT + plot_w / 2:.1f}" y="{h - 4}" '
        f'text-anchor="middle">{escape(week_label)}</text>'
    )
    if norm is not None:
        yy = _num(y(norm))
        out.append(f'<line class="norm" x1="{_LEFT}" x2="{w - _RIGHT}" y1="{yy}" y2="{yy}"/>')
        out.append(  # above the plot, where no data point can hide it
            f'<text class="norm-label" x="{w - _RIGHT}" y="{_TOP - 8}" '
            f'text-anchor="end">{escape(norm_label)}</text>'
        )
    medians = weekly_medians(points)
    if len(medians) > 1:
        line = " ".join(f"{_num(x(wk))},{_num(y(v))}" for wk, v in medians.items())
        out.append(f'<polyline class="median" points="{line}"/>')
    by_week: dict[int, list[Point]] = {}
    for p in points:
        by_week.setdefault(p.week, []).append(p)
    for week, items in sorted(by_week.items()):
        n = len(items)
        spread = min(0.6, 0.12 * (n - 1))
        for k, p in enumerate(items):
            dx = (k / (n - 1) - 0.5) * spread if n > 1 else 0.0
            kind = "home" if p.setting == "home" else "clinic"
            out.append(
                f'<circle class="dot {kind}" cx="{_num(x(week + dx))}" cy="{_num(y(p.value))}" '
                'r="4.5"/>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def _shade(value: float | None, top: float) -> tuple[str, str]:
    """(css class of the zone, css class of its text) for a zone's error."""
    if value is None:
        return "zone none", "ink"
    k = 0 if value <= 0 else min(len(SHADES) - 1, 1 + int(value / top * (len(SHADES) - 2)))
    return f"zone shade-{k}", "ink-light" if SHADES[k] else "ink"


def error_map(
    *,
    rows: int,
    cols: int,
    errors: Mapping[str, float | None],
    title: str,
    desc: str,
    no_data: str = "-",
    ident: str = "errmap",
) -> Markup:
    """The tactile grid on a back outline, zones shaded by mean error (cm).

    Parameters
    ----------
    rows, cols : int
        The grid (zones ``A1`` ... lettered from the head down, numbered from the
        person's left; the back is seen from behind, so the person's left is on
        the viewer's left).
    errors : mapping of zone to float or None
        Mean error distance per zone (None or absent: no touch there).
    title, desc : str
        The figure's accessible name and description.
    no_data : str
        Text of a zone with no data.
    ident : str
        Prefix of the element ids (unique on the page).

    Returns
    -------
    Markup
        The ``<svg>`` element.
    """
    zone_w, zone_h, pad = 64.0, 52.0, 36.0
    grid_w, grid_h = cols * zone_w, rows * zone_h
    w, h = grid_w + 2 * pad + 40, grid_h + 2 * pad + 56
    gx, gy = (w - grid_w) / 2, pad + 34
    values = [v for v in errors.values() if v is not None]
    top = max(values) if values and max(values) > 0 else 1.0
    # a simple back: shoulders, waist, hips (our own outline)
    left, right, bottom = gx - 22, gx + grid_w + 22, gy + grid_h + 30
    back = (
        f"M{_num(left + 12)},{_num(pad)} Q{_num(w / 2)},{_num(pad - 14)} {_num(right - 12)},"
        f"{_num(pad)} L{_num(right)},{_num(pad + 26)} L{_num(right - 10)},{_num(bottom)} "
        f"L{_num(left + 10)},{_num(bottom)} L{_num(left)},{_num(pad + 26)} Z"
    )
    out = [
        f'<svg class="errmap" viewBox="0 0 {_num(w)} {_num(h)}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>',
        f'<path class="back" d="{back}"/>',
        f'<line class="spine" x1="{_num(w / 2)}" x2="{_num(w / 2)}" y1="{_num(pad + 4)}" '
        f'y2="{_num(bottom - 4)}"/>',
    ]
    for r in range(rows):
        for c in range(cols):
            zone = f"{_ROWS[r]}{c + 1}"
            value = errors.get(zone)
            css, ink = _shade(value, top)
            x0, y0 = gx + c * zone_w, gy + r * zone_h
            text = no_data if value is None else f"{value:.1f}"
            out.append(
                f'<rect class="{css}" x="{_num(x0 + 2)}" y="{_num(y0 + 2)}" '
                f'width="{_num(zone_w - 4)}" height="{_num(zone_h - 4)}" rx="6"/>'
                f'<text class="zone-id {ink}" x="{_num(x0 + 8)}" y="{_num(y0 + 16)}">'
                f"{zone}</text>"
                f'<text class="zone-value {ink}" x="{_num(x0 + zone_w / 2)}" y="{_num(y0 + 36)}" '
                f'text-anchor="middle">{escape(text)}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


# ----------------------------------------------------------------------------- a participant
def tactile_errors(grid: Any, trials: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Mean error distance (cm) per touched zone of ``grid`` (None: no answered touch there).

    Examples
    --------
    >>> from resolve.program.tactile import Grid
    >>> g = Grid(rows=1, cols=3, spacing_cm=4)
    >>> tactile_errors(g, [{"zone": "A1", "response_zone": "A3"},
    ...                    {"zone": "A1", "response_zone": "A1"},
    ...                    {"zone": "A2", "response_zone": None}])
    {'A1': 4.0, 'A2': None, 'A3': None}
    """
    found: dict[str, list[float]] = {}
    for trial in trials:
        zone, answer = trial.get("zone"), trial.get("response_zone")
        if zone in grid.zones and answer in grid.zones:
            found.setdefault(str(zone), []).append(grid.distance(zone, answer))
    return {z: (statistics.fmean(found[z]) if z in found else None) for z in grid.zones}


def figures(v: Any) -> dict[str, Any]:
    """The clinician view's figures of a :class:`resolve.ops.ProgrammeView`, with their data.

    Returns
    -------
    dict
        ``accuracy`` and ``rt`` (LRJ trend charts), ``pain`` (weekly pain),
        ``tactile`` (the error map of the latest tactile level, or None) and
        ``weeks`` (one row per week with blocks or a session: the numbers the
        figures show, for the table beside them).
    """
    from resolve.program.tactile import grid_for
    from resolve.web.i18n import t

    tpl = v.template
    norms = tpl.norms.lrj
    lrj = [b for b in v.blocks if b.task == "lrj"]
    acc = [
        Point(b.week, b.measures["accuracy"], b.setting)
        for b in lrj
        if b.measures.get("accuracy") is not None
    ]
    rt = [
        Point(b.week, b.measures["median_rt_s"], b.setting)
        for b in lrj
        if b.measures.get("median_rt_s") is not None
    ]
    pain = _weekly_pain(v)
    week_label = t("prog.fig.week")
    out: dict[str, Any] = {
        "accuracy": trend_chart(
            acc,
            weeks=v.weeks,
            y_max=1.0,
            percent=True,
            norm=norms.accuracy_min,
            norm_label=t("prog.fig.norm_accuracy", value=f"{norms.accuracy_min:.0%}"),
            title=t("prog.fig.accuracy"),
            desc=t("prog.fig.accuracy_desc"),
            week_label=week_label,
            ident="fig-acc",
        ),
        "rt": trend_chart(
            rt,
            weeks=v.weeks,
            y_max=max(3.0, *(p.value for p in rt)) if rt else 3.0,
            norm=norms.rt_mean_s + norms.rt_sd_s,
            norm_label=t("prog.fig.norm_rt", value=f"{norms.rt_mean_s + norms.rt_sd_s:g}"),
            title=t("prog.fig.rt"),
            desc=t("prog.fig.rt_desc"),
            week_label=week_label,
            ident="fig-rt",
        ),
        "pain": trend_chart(
            pain,
            weeks=v.weeks,
            y_max=10.0,
            y_ticks=5,
            title=t("prog.fig.pain"),
            desc=t("prog.fig.pain_desc"),
            week_label=week_label,
            ident="fig-pain",
        ),
        "tactile": None,
    }
    tactile = [b for b in v.blocks if b.task == "tactile"]
    if tactile:
        level_no = tactile[-1].level
        level = tpl.levels("tactile")[level_no - 1]
        grid = grid_for(level)
        same = [b for b in tactile if b.level == level_no]
        errors = tactile_errors(grid, [trial for b in same for trial in b.trials])
        out["tactile"] = {
            "level": level_no,
            "label": level.label,
            "blocks": len(same),
            "errors": errors,
            "svg": error_map(
                rows=grid.rows,
                cols=grid.cols,
                errors=errors,
                title=t("prog.fig.tactile", level=level_no),
                desc=t("prog.fig.tactile_desc", blocks=len(same), label=level.label),
                no_data=t("prog.fig.no_touch"),
                ident="fig-tac",
            ),
        }
    rows = []
    for week in range(1, v.weeks + 1):
        blocks = [b for b in v.blocks if b.week == week]
        session = next((s for s in v.sessions if s.week == week), None)
        if not blocks and session is None:
            continue
        errs = [
            b.measures["mean_error_cm"]
            for b in blocks
            if b.task == "tactile" and b.measures.get("mean_error_cm") is not None
        ]
        rows.append(
            {
                "week": week,
                "lrj_blocks": sum(b.task == "lrj" for b in blocks),
                "accuracy": weekly_medians([p for p in acc if p.week == week]).get(week),
                "rt": weekly_medians([p for p in rt if p.week == week]).get(week),
                "tactile_blocks": sum(b.task == "tactile" for b in blocks),
                "error_cm": _median(errs),
                "pain": weekly_medians([p for p in pain if p.week == week]).get(week),
            }
        )
    out["weeks"] = rows
    return out


def _weekly_pain(v: Any) -> list[Point]:
    """Pain per week: at the session (else the median of clinic blocks), and the median of
    the home blocks' pain."""
    out = []
    for week in range(1, v.weeks + 1):
        session = [float(s.pain) for s in v.sessions if s.week == week and s.pain is not None]
        for setting in ("clinic", "home"):
            given = [
                float(b.pain)
                for b in v.blocks
                if b.week == week and b.setting == setting and b.pain is not None
            ]
            if setting == "clinic" and session:
                given = session
            if given:
                out.append(Point(week, float(statistics.median(given)), setting))
    return out


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None
