"""CONSORT-style flow diagram drawn as plain inline SVG (no matplotlib needed).

The diagram is built from :attr:`TrialAnalysis.consort
<resolve.analysis.result.TrialAnalysis>` (columns stage, arm, n, detail):
stages appear top to bottom in the order of their first row. A stage whose rows
have no arm (empty, ``"all"``, ``"total"`` or ``"overall"``) is one centred box;
any other stage is one box per arm, arms in columns. Arrows join consecutive
stages (splitting below an overall box, joining above one). Side stages
(``excluded``, ``missing``, ``lost``...) below an overall box form a CONSORT
side box to the right of the flow, with an arrow from the flow line (e.g.
"Excluded" with each ``excluded: <category>`` row and its reasons); below an
arm box they are lines inside that box. A row whose stage is
``"<stage>: <what>"`` (e.g. ``follow-up week 26: withdrawn``) is a line
"Withdrawn (n = 3)" beneath the text of that stage's box of the same arm and
visit. The boxes of one stage form a row of equal height. Arm names are shown
exactly as given.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import pandas as pd

__all__ = ["consort_svg"]

_OVERALL = {"", "all", "total", "overall", "none", "nan", "<na>"}
_BOX_W = 210
_GAP = 56
_MARGIN = 12
_LINE = 15
_SMALL = 13
_PAD = 9
_STAGE_GAP = 30
_ASIDE_X = 36  # side box: left edge right of the centre line
_ASIDE_W = 236
_INK = "#222222"
_FILL = "#F7F7F5"


def _is_overall(arm: object) -> bool:
    if arm is None or (isinstance(arm, float) and math.isnan(arm)):
        return True
    return str(arm).strip().lower() in _OVERALL


def _fmt_n(n: object) -> str:
    try:
        return f"n = {round(float(str(n)))}"
    except ValueError:
        return f"n = {n}"


_Line = tuple[str, str, float, float]  # text, font weight, size, line step


def _height(lines: Sequence[_Line]) -> float:
    return 2 * _PAD + sum(step for *_, step in lines) - 3


def _draw(
    x: float,
    y: float,
    w: float,
    lines: Sequence[_Line],
    *,
    anchor: str = "middle",
    height: float = 0.0,
) -> tuple[str, float]:
    """SVG of a box of ``lines`` (at least ``height`` tall) at (x, y); (svg, height)."""
    h = max(_height(lines), height)
    out = [
        f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="3" '
        f'fill="{_FILL}" stroke="{_INK}" stroke-width="1"/>'
    ]
    tx = x + w / 2 if anchor == "middle" else x + _PAD
    ty = y + _PAD + 11
    for text, weight, size, step in lines:
        colour = _INK if size > 12 or weight != "400" else "#555555"
        out.append(
            f'<text x="{tx:g}" y="{ty:g}" text-anchor="{anchor}" font-size="{size:g}" '
            f'font-weight="{weight}" fill="{colour}">{escape(text)}</text>'
        )
        ty += step
    return "\n".join(out), h


def _box_lines(
    w: float,
    title: str,
    n: object,
    detail: str,
    *,
    side: Sequence[str] = (),
    arm: str | None = None,
) -> list[_Line]:
    """Lines of one box: arm, title, n, detail (grey), then the side lines (ink)."""
    wrap = max(int(w / 6.2), 20)
    lines: list[_Line] = [(title, "600", 12.5, _LINE), (_fmt_n(n), "400", 12.5, _LINE)]
    if arm is not None:
        lines.insert(0, (arm, "700", 13.5, _LINE + 2))
    for chunk in textwrap.wrap(detail, width=wrap) if detail else []:
        lines.append((chunk, "400", 11, _SMALL))
    if side:  # a little space between the box's own lines and the lines beneath
        text, weight, size, step = lines[-1]
        lines[-1] = (text, weight, size, step + 3)
    for line in side:
        for chunk in textwrap.wrap(line.replace("n = ", "n\u00a0=\u00a0"), width=wrap):
            lines.append((chunk, "500", 11, _SMALL))
    return lines


def _aside_lines(aside: Sequence[dict[str, Any]], w: float) -> list[_Line]:
    """Lines of a CONSORT side box: its total, then each category and its reasons."""
    wrap = max(int(w / 6.0), 20)

    def keep(text: str) -> str:  # never break inside "n = 12"
        return text.replace("n = ", "n\u00a0=\u00a0")

    lines: list[_Line] = []
    first, rest = aside[0], aside[1:]
    title = keep(f"{_title(first['stage'])} ({_fmt_n(first['n'])})")
    lines.append((title, "600", 12.5, _LINE + 2))
    if first["detail"]:
        lines += [(c, "400", 11, _SMALL) for c in textwrap.wrap(first["detail"], width=wrap)]
    for item in rest:
        stage = str(item["stage"])
        name = stage.split(":", 1)[1].strip() if ":" in stage else stage
        head = keep(f"{name[:1].upper()}{name[1:]} ({_fmt_n(item['n'])})")
        lines += [(c, "600", 11, _SMALL) for c in textwrap.wrap(head, width=wrap)]
        for reason in str(item["detail"]).split("; ") if item["detail"] else []:
            chunks = textwrap.wrap(keep(reason), width=wrap - 2)
            lines += [
                (("\u2022 " if k == 0 else "\u00a0\u00a0\u00a0") + c, "400", 11, _SMALL)
                for k, c in enumerate(chunks)
            ]
    return lines


def _title(stage: str) -> str:
    return stage[:1].upper() + stage[1:]


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{_INK}" '
        'stroke-width="1" marker-end="url(#consort-arrow)"/>'
    )


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{_INK}" stroke-width="1"/>'
    )


_SIDE = ("missing", "lost", "excluded", "discontinued", "withdrawn")


def _side_line(what: str, n: object, detail: str) -> str:
    """``"Withdrawn (n = 3)"``, then ``": <detail>"`` when there is one."""
    return f"{_title(what)} ({_fmt_n(n)})" + (f": {detail}" if detail else "")


@dataclass
class _Level:
    title: str
    overall: bool
    visit: str
    boxes: dict[str, dict[str, Any]] = field(default_factory=dict)  # arm -> n, detail, side
    aside: list[dict[str, Any]] = field(default_factory=list)  # side box: stage, n, detail


def _levels(frame: pd.DataFrame) -> list[_Level]:
    """Group rows into diagram levels; side stages (missing, lost...) join the level above."""
    levels: list[_Level] = []
    index: dict[tuple[str, str], _Level] = {}
    has_visit = "visit" in frame.columns
    for _, r in frame.iterrows():
        stage = str(r["stage"])
        visit = r["visit"] if has_visit and isinstance(r["visit"], str) else ""
        arm = "_" if _is_overall(r["arm"]) else str(r["arm"])
        detail = r["detail"] if isinstance(r["detail"], str) else ""
        parent, _, what = stage.partition(": ")
        if what and (parent, visit) in index:  # "<stage>: <what>" is a line of that box
            box = index[(parent, visit)].boxes.get(arm)
            if box is not None:
                box["side"].append(_side_line(what, r["n"], detail))
                continue
        if stage.lower().startswith(_SIDE) and levels:
            host = next((lv for lv in reversed(levels) if lv.visit == visit), levels[-1])
            if host.overall and arm == "_":  # a CONSORT side box beside the flow
                host.aside.append({"stage": stage, "n": r["n"], "detail": detail})
                continue
            box = host.boxes.get(arm) or host.boxes.get("_")
            if box is not None:
                box["side"].append(_side_line(stage, r["n"], detail))
                continue
        key = (stage, visit)
        if key not in index:
            title = _title(stage)
            if visit and visit.lower() not in stage.lower():
                title += f", {visit}"
            index[key] = _Level(title, arm == "_", visit)
            levels.append(index[key])
        level = index[key]
        if arm in level.boxes:  # several overall rows: add them up
            level.boxes[arm]["n"] = float(level.boxes[arm]["n"]) + float(r["n"])
            level.boxes[arm]["detail"] = "; ".join(
                d for d in (level.boxes[arm]["detail"], detail) if d
            )
        else:
            level.boxes[arm] = {"n": r["n"], "detail": detail, "side": []}
            level.overall = level.overall and arm == "_"
    if levels and not levels[0].overall and levels[0].title.lower().startswith("randomi"):
        total = sum(float(b["n"]) for b in levels[0].boxes.values())
        levels[0].title = "Allocated"
        levels.insert(
            0, _Level("Randomised", True, "", {"_": {"n": total, "detail": "", "side": []}})
        )
    return levels


def consort_svg(
    consort: pd.DataFrame, arms: Sequence[str] | None = None, *, outcome: str | None = None
) -> str:
    """Draw the CONSORT flow of ``consort`` as an SVG string.

    Parameters
    ----------
    consort : pandas.DataFrame
        Columns stage, arm, n, detail; optional outcome and visit. Rows of a
        side stage (``missing``, ``lost``, ``excluded``...) are shown inside the
        box of the stage above them, as in CONSORT's side boxes, and a row of
        stage ``"<stage>: <what>"`` as a line "<What> (n = k): <detail>" in the
        box of ``<stage>`` with the same arm and visit. When the first
        stage is per arm and named "randomised", an overall "Randomised" box
        with the total is drawn above the arms.
    arms : sequence of str, optional
        Column order of the arms (default: order of first appearance).
    outcome : str, optional
        With an ``outcome`` column, draw the rows of this outcome (and rows
        with no outcome) only.

    Returns
    -------
    str
        An ``<svg>`` element with ``<title>`` and ``<desc>`` (the desc lists
        every box with its n and the lines beneath it).

    Examples
    --------
    >>> flow = pd.DataFrame({
    ...     "stage": ["allocated", "allocated", "allocated: randomised in error"],
    ...     "arm": ["A", "B", "B"], "n": [10, 10, 1], "detail": ""})
    >>> svg = consort_svg(flow)
    >>> svg.count("<rect"), "Allocated, B: n = 10 (Randomised in error (n = 1))" in svg
    (2, True)
    """
    frame = consort.reset_index(drop=True)
    if outcome is not None and "outcome" in frame.columns:
        keep = frame["outcome"].isna() | (frame["outcome"].astype(str) == outcome)
        frame = frame[keep]
    levels = _levels(frame)
    seen = list(dict.fromkeys(a for lv in levels for a in lv.boxes if a != "_"))
    order = [a for a in (arms or []) if a in seen] + [a for a in seen if a not in (arms or [])]
    ncol = max(len(order), 1)
    width = float(2 * _MARGIN + ncol * _BOX_W + (ncol - 1) * _GAP)
    centres = {a: _MARGIN + k * (_BOX_W + _GAP) + _BOX_W / 2 for k, a in enumerate(order)}
    mid = width / 2
    if any(lv.aside for lv in levels):
        width = max(width, mid + _ASIDE_X + _ASIDE_W + _MARGIN)
    parts: list[str] = []
    y = float(_MARGIN)
    prev: tuple[bool, dict[str, float]] | None = None  # (overall?, bottom y per column)
    described = []
    headed = False
    for level in levels:
        if prev is not None:
            y += _STAGE_GAP
        if level.overall:
            box = level.boxes["_"]
            w = min(width - 2 * _MARGIN, 1.25 * _BOX_W)
            lines = _box_lines(w, level.title, box["n"], box["detail"], side=box["side"])
            svg, h = _draw(mid - w / 2, y, w, lines)
            parts.append(svg)
            if prev is not None:
                was_overall, bottoms = prev
                if was_overall:
                    parts.append(_arrow(mid, bottoms["_"], mid, y))
                else:  # join the arm columns into one arrow
                    join = y - _STAGE_GAP / 2
                    for a, b in bottoms.items():
                        parts.append(_line(centres[a], b, centres[a], join))
                    xs = [centres[a] for a in bottoms]
                    parts.append(_line(min(xs), join, max(xs), join))
                    parts.append(_arrow(mid, join, mid, y))
            prev = (True, {"_": y + h})
            described.append(f"{level.title}: {_fmt_n(box['n'])}")
            y += h
            if level.aside:  # side box between this stage and the next, arrow to it
                lines = _aside_lines(level.aside, _ASIDE_W)
                top = y + _STAGE_GAP * 0.75
                svg, ah = _draw(mid + _ASIDE_X, top, _ASIDE_W, lines, anchor="start")
                parts.append(svg)
                parts.append(_arrow(mid, top + ah / 2, mid + _ASIDE_X, top + ah / 2))
                y = top + ah + _STAGE_GAP * 0.75 - _STAGE_GAP
                described.append("; ".join(f"{a['stage']}: {_fmt_n(a['n'])}" for a in level.aside))
            continue
        present = [a for a in order if a in level.boxes]
        box_lines = {
            a: _box_lines(
                _BOX_W,
                level.title,
                level.boxes[a]["n"],
                level.boxes[a]["detail"],
                side=level.boxes[a]["side"],
                arm=None if headed else a,
            )
            for a in present
        }
        tallest = max((_height(lines) for lines in box_lines.values()), default=0.0)
        for a in present:  # the boxes of one stage are one row of equal height
            box = level.boxes[a]
            svg, _ = _draw(centres[a] - _BOX_W / 2, y, _BOX_W, box_lines[a], height=tallest)
            parts.append(svg)
            beneath = f" ({'; '.join(box['side'])})" if box["side"] else ""
            described.append(f"{level.title}, {a}: {_fmt_n(box['n'])}{beneath}")
        headed = True
        if prev is not None:
            was_overall, bottoms = prev
            if was_overall:  # split one arrow into the arm columns
                split = y - _STAGE_GAP / 2
                parts.append(_line(mid, bottoms["_"], mid, split))
                xs = [centres[a] for a in present]
                parts.append(_line(min(xs), split, max(xs), split))
                parts.extend(_arrow(centres[a], split, centres[a], y) for a in present)
            else:
                parts.extend(
                    _arrow(centres[a], bottoms[a], centres[a], y) for a in present if a in bottoms
                )
        prev = (False, {a: y + tallest for a in present})
        y += tallest
    height = y + _MARGIN
    desc = "CONSORT flow: " + "; ".join(described) + "."
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="consort" '
        f'viewBox="0 0 {width:g} {height:g}" width="{width:g}" height="{height:g}" '
        'aria-labelledby="consort-title consort-desc" '
        "font-family=\"Helvetica, Arial, 'Liberation Sans', sans-serif\">"
    )
    defs = (
        '<defs><marker id="consort-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{_INK}"/></marker></defs>'
    )
    return "\n".join(
        [
            head,
            '<title id="consort-title">Participant flow (CONSORT)</title>',
            f'<desc id="consort-desc">{escape(desc)}</desc>',
            defs,
            *parts,
            "</svg>",
        ]
    )
